//! The Kubernetes provider's preflight: at plan time, before anything is applied, the API server
//! must answer to the credentials (a version read), and the credentials must be allowed every
//! change the plan makes (a `SelfSubjectAccessReview` per verb, resource and namespace: asked,
//! never stored). Failures name the server, the context and the cause.

use std::collections::BTreeSet;

use k8s_openapi::api::authorization::v1::{ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec};
use kube::api::{Api, PostParams};
use strake::Value;
use strake::plan::Action;
use strake::provider::{ErrorKind, PreflightRequest, ProviderError};

use crate::provider::Kubernetes;
use crate::resources::object_kind;

/// Runs the preflight of `req` against `kube`.
pub(crate) async fn preflight(kube: &Kubernetes, req: &PreflightRequest) -> Result<(), ProviderError> {
    kube.client.apiserver_version().await.map_err(|e| unreachable(kube, &e))?;
    let mut asked = BTreeSet::new();
    let mut refused = Vec::new();
    for change in &req.changes {
        let Some(access) = object_kind(&change.type_token) else { continue };
        let verb = match change.action {
            Action::Delete => "delete",
            Action::Replace(_) => "delete,patch",
            _ => "patch", // server-side apply
        };
        let namespace = access.namespaced.then(|| change.inputs.get("namespace").and_then(Value::as_str).unwrap_or(&kube.default_namespace).to_string());
        for verb in verb.split(',') {
            let ask = (verb.to_string(), access.group, access.plural, namespace.clone());
            if !asked.insert(ask) {
                continue;
            }
            if !allowed(kube, verb, access.group, access.plural, namespace.as_deref()).await? {
                let place = namespace.as_deref().map(|ns| format!(" in namespace `{ns}`")).unwrap_or_default();
                let resource = if access.group.is_empty() { access.plural.to_string() } else { format!("{}.{}", access.plural, access.group) };
                refused.push(format!("{verb} {resource}{place} (for {})", change.urn.name()));
            }
        }
    }
    if refused.is_empty() {
        return Ok(());
    }
    Err(ProviderError::with_kind(
        ErrorKind::Permanent,
        Some("Forbidden".into()),
        format!(
            "the credentials for {} may not {}; grant them (a Role or ClusterRole bound to them) or use a context that has them",
            kube.target_description(),
            refused.join(", nor ")
        ),
    ))
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
        kube::Error::Api(status) if status.code == 401 => {
            ("Unauthorized", "the server refused the credentials (401 Unauthorized): a wrong or expired token, or a user it does not know".to_string())
        }
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
    ProviderError::with_kind(ErrorKind::Permanent, Some(code.into()), format!("cannot use {}: {cause}", kube.target_description()))
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
