//! The Kubernetes provider's preflight: at plan time, before anything is applied, the API server
//! must answer to the credentials (a version read), and the credentials must be allowed every
//! change the plan makes (a `SelfSubjectAccessReview` per verb, resource and namespace: asked,
//! never stored). Failures name the server, the context and the cause.

use std::collections::BTreeSet;

use k8s_openapi::api::authorization::v1::{ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec};
use kube::api::{Api, PostParams};
use strake::Value;
use strake::plan::Action;
use strake::provider::{PlannedChange, PreflightRequest, ProviderError};

use crate::provider::Kubernetes;
use crate::resources::manifest;
use crate::resources::{Placement, object_kind};

/// Runs the preflight of `req` against `kube`.
pub(crate) async fn preflight(kube: &Kubernetes, req: &PreflightRequest) -> Result<(), ProviderError> {
    kube.client.apiserver_version().await.map_err(|e| unreachable(kube, &e))?;
    let mut asked = BTreeSet::new();
    let mut refused = Vec::new();
    for change in &req.changes {
        let Some((placement, namespace)) = placement_of(kube, change).await? else { continue };
        let verb = match change.action {
            Action::Delete => "delete",
            Action::Replace(_) => "delete,patch",
            _ => "patch", // server-side apply
        };
        let (group, plural) = (placement.resource.group.as_str(), placement.resource.plural.as_str());
        for verb in verb.split(',') {
            let ask = (verb.to_string(), group.to_string(), plural.to_string(), namespace.clone());
            if !asked.insert(ask) {
                continue;
            }
            if !allowed(kube, verb, group, plural, namespace.as_deref()).await? {
                let place = namespace.as_deref().map(|ns| format!(" in namespace `{ns}`")).unwrap_or_default();
                let resource = if group.is_empty() { plural.to_string() } else { format!("{plural}.{group}") };
                refused.push(format!("{verb} {resource}{place} (for {})", change.urn.name()));
            }
        }
    }
    if refused.is_empty() {
        return Ok(());
    }
    Err(ProviderError::coded(
        "Forbidden",
        format!(
            "the credentials for {} may not {}; grant them (a Role or ClusterRole bound to them) or use a context that has them",
            kube.target_description(),
            refused.join(", nor ")
        ),
    ))
}

/// Where a change's object lives and its namespace: a built-in kind's is known; a manifest's
/// kind is found by discovery. A kind the cluster does not serve yet is left unchecked: the same
/// plan may install its CRD first, and its apply says so if not.
async fn placement_of(kube: &Kubernetes, change: &PlannedChange) -> Result<Option<(Placement, Option<String>)>, ProviderError> {
    let namespace_in = |value: Option<&str>, namespaced: bool| namespaced.then(|| value.unwrap_or(&kube.default_namespace).to_string());
    if let Some(kind) = object_kind(&change.type_token) {
        let namespace = namespace_in(change.inputs.get("namespace").and_then(Value::as_str), kind.namespaced);
        return Ok(Some((kind.placement(), namespace)));
    }
    if change.type_token != manifest::TYPE {
        return Ok(None);
    }
    let Some(object) = change.inputs.get("manifest").and_then(Value::to_plain_json) else { return Ok(None) };
    let (Some(api_version), Some(kind)) = (manifest::text(&object, "/apiVersion"), manifest::text(&object, "/kind")) else { return Ok(None) };
    let placement = match manifest::discover(kube, &api_version, &kind).await {
        Ok(p) => p,
        Err(e) if e.has_code(manifest::KIND_NOT_SERVED) => return Ok(None),
        Err(e) => return Err(e),
    };
    let namespace = namespace_in(manifest::text(&object, "/metadata/namespace").as_deref(), placement.namespaced);
    Ok(Some((placement, namespace)))
}

async fn allowed(kube: &Kubernetes, verb: &str, group: &str, plural: &str, namespace: Option<&str>) -> Result<bool, ProviderError> {
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.to_string()),
                group: Some(group.to_string()),
                resource: Some(plural.to_string()),
                namespace: namespace.map(str::to_string),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let api: Api<SelfSubjectAccessReview> = Api::all(kube.client.clone());
    let answer = api.create(&PostParams::default(), &review).await.map_err(|e| unreachable(kube, &e))?;
    Ok(answer.status.is_some_and(|s| s.allowed))
}

/// The error for an API server that cannot be used, with its cause in words.
fn unreachable(kube: &Kubernetes, e: &kube::Error) -> ProviderError {
    let chain = source_chain(e);
    let lower = chain.to_lowercase();
    let (code, cause) = match e {
        kube::Error::Api(status) if status.code == 401 => (
            "Unauthorized",
            "the server refused the credentials (401 Unauthorized): a wrong or expired token, or a user it does not know".to_string(),
        ),
        kube::Error::Api(status) if status.code == 403 => ("Forbidden", format!("403 Forbidden: {}", status.message)),
        _ if lower.contains("connection refused") => ("ConnectionRefused", "connection refused: nothing listens at that address".to_string()),
        _ if lower.contains("dns") || lower.contains("lookup address") || lower.contains("name or service not known") => {
            ("NameNotResolved", format!("its host name does not resolve (DNS): {chain}"))
        }
        _ if lower.contains("certificate") || lower.contains("tls") || lower.contains("ssl") => {
            ("TlsError", format!("TLS failed: the server's certificate is not the one the kubeconfig trusts ({chain})"))
        }
        _ if lower.contains("timed out") || lower.contains("deadline") => ("Timeout", format!("no answer in time ({chain})")),
        _ => ("Unreachable", chain),
    };
    ProviderError::coded(code, format!("cannot use {}: {cause}", kube.target_description()))
}

fn source_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut next = e.source();
    while let Some(s) = next {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = s.source();
    }
    parts.join(": ")
}
