//! `kubernetes:apps:Deployment`: the full k8s-openapi spec, or a small builder for the common case.
//!
//! A Deployment that runs under a [`ServiceAccount`] with an IRSA role carries a hash of that role
//! in its pod template (`strake.dev/service-account-role`). Pods get AWS credentials only when they
//! start, so a role change must roll them: the changed hash does, and the plan shows it.

use k8s_openapi::api::apps::v1::DeploymentSpec;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use strake::provider::CheckFailure;
use strake::typed::*;
use strake::{Output, ProviderRef, Resource, ResourceHandle, Stack, Value};

use super::namespace::Namespace;
use super::service_account::ServiceAccount;
use super::{Kind, ObjectKind, ObjectOutputs, StringMap};
use crate::provider::Kubernetes;

pub const TYPE: &str = "kubernetes:apps:Deployment";
/// Pod-template annotation that rolls pods when their service account's role changes.
pub const ROLE_HASH_ANNOTATION: &str = "strake.dev/service-account-role";

const OBJECT: ObjectKind = ObjectKind {
    type_token: TYPE,
    group: "apps",
    version: "v1",
    kind: "Deployment",
    plural: "deployments",
    namespaced: true,
    fields: &[(DeploymentInputs::SPEC.name(), "spec")],
};

/// The inputs of a Deployment.
#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
pub struct DeploymentInputs {
    #[strake(replace_on)]
    pub name: String,
    #[strake(replace_on)]
    pub namespace: String,
    pub labels: Option<StringMap>,
    pub annotations: Option<StringMap>,
    /// The Deployment's spec (a k8s-openapi `DeploymentSpec`, as JSON).
    pub spec: Json,
    /// The namespace of the service account the pods run under (program-only).
    #[strake(internal)]
    pub service_account_namespace: Option<String>,
    pub force_conflicts: Option<bool>,
}

pub(crate) struct DeploymentKind;

impl Kind for DeploymentKind {
    const OBJECT: ObjectKind = OBJECT;
    type Inputs = DeploymentInputs;

    fn check(_kube: &Kubernetes, c: &mut Check<DeploymentInputs>) {
        let mut failures = Vec::new();
        extra_check(c.inputs(), &mut failures);
        for f in failures {
            c.fail_at(f.property, f.reason);
        }
    }
}

fn extra_check(inputs: &Partial<DeploymentInputs>, failures: &mut Vec<CheckFailure>) {
    let Some(spec) = inputs.raw(DeploymentInputs::SPEC.name()).filter(|s| s.is_known()).and_then(Value::to_plain_json) else { return };
    let containers = spec["template"]["spec"]["containers"].as_array().cloned().unwrap_or_default();
    if containers.is_empty() {
        failures.push(CheckFailure::new("spec.template.spec.containers", "is empty; a Deployment needs at least one container"));
    }
    for (i, c) in containers.iter().enumerate() {
        match c["image"].as_str() {
            None | Some("") => failures.push(CheckFailure::new(format!("spec.template.spec.containers.{i}.image"), "is required")),
            Some(image) => {
                if let Err(e) = crate::validate::check_image_reference(image) {
                    failures.push(CheckFailure::new(format!("spec.template.spec.containers.{i}.image"), e));
                }
            }
        }
        if let Some(name) = c["name"].as_str()
            && let Err(e) = crate::validate::check_dns1123_label(name)
        {
            failures.push(CheckFailure::new(format!("spec.template.spec.containers.{i}.name"), e));
        }
    }
    if let Some(selector) = spec["selector"]["matchLabels"].as_object() {
        let labels = &spec["template"]["metadata"]["labels"];
        for (k, v) in selector {
            if labels.get(k) != Some(v) {
                failures.push(CheckFailure::new(
                    "spec.selector.matchLabels",
                    format!("selects `{k}={}`, which the pod template's labels lack; the API server would reject it", v.as_str().unwrap_or("")),
                ));
            }
        }
    }
    let sa_ns = inputs.known(DeploymentInputs::SERVICE_ACCOUNT_NAMESPACE);
    let ns = inputs.known(DeploymentInputs::NAMESPACE);
    if let (Some(sa_ns), Some(ns)) = (sa_ns, ns)
        && sa_ns != ns
    {
        failures.push(CheckFailure::new(
            "spec.template.spec.serviceAccountName",
            format!(
                "names a service account declared in namespace `{sa_ns}`, but the Deployment is in `{ns}`; \
                 pods can only use service accounts of their own namespace: declare them in the same namespace"
            ),
        ));
    }
}

/// A Deployment.
#[derive(Clone, ResourceHandle)]
pub struct Deployment {
    resource: Resource,
    spec: Output<Value>,
}

impl Deployment {
    /// A Deployment with a full spec.
    #[track_caller]
    pub fn new(stack: &Stack, name: &str, provider: &ProviderRef, namespace: &Namespace, spec: DeploymentSpec) -> Deployment {
        let spec = Value::serialize_from(&spec).unwrap_or_default();
        Deployment::declare(stack, name, provider, namespace, spec)
    }

    /// The common case: one container running `image`, pods labelled `app=<name>`, one replica.
    #[track_caller]
    pub fn simple(stack: &Stack, name: &str, provider: &ProviderRef, namespace: &Namespace, image: &str) -> Deployment {
        let spec = strake::value!({
            "replicas": 1,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name } },
                "spec": { "containers": [ { "name": "main", "image": image } ] }
            }
        });
        Deployment::declare(stack, name, provider, namespace, spec)
    }

    #[track_caller]
    fn declare(stack: &Stack, name: &str, provider: &ProviderRef, namespace: &Namespace, spec: Value) -> Deployment {
        let resource = stack.resource(TYPE, name).provider(provider);
        resource.set(DeploymentInputs::NAME, name);
        resource.set(DeploymentInputs::NAMESPACE, namespace.name());
        resource.set(DeploymentInputs::LABELS, StringMap::from([("app".to_string(), name.to_string())]));
        let d = Deployment { resource, spec: Output::new(spec) };
        d.resource.set_value(DeploymentInputs::SPEC, d.spec.clone());
        d
    }

    fn edit(mut self, f: impl Fn(&mut Value) + Send + Sync + 'static) -> Self {
        self.spec = self.spec.map(move |mut s| {
            f(&mut s);
            s
        });
        self.resource.set_value(DeploymentInputs::SPEC, self.spec.clone());
        self
    }

    fn edit_with<T: Clone + Send + Sync + 'static>(mut self, value: &Output<T>, f: impl Fn(&mut Value, T) + Send + Sync + 'static) -> Self {
        self.spec = self.spec.zip(value).map(move |(mut s, v)| {
            f(&mut s, v);
            s
        });
        self.resource.set_value(DeploymentInputs::SPEC, self.spec.clone());
        self
    }

    /// The number of pods (`spec.replicas`).
    pub fn replicas(self, replicas: i64) -> Self {
        self.edit(move |s| s.set_path("replicas", Some(Value::from(replicas))))
    }

    /// The first container's command.
    pub fn command<S: Into<String>>(self, command: impl IntoIterator<Item = S>) -> Self {
        let command = Value::List(command.into_iter().map(|c| Value::from(c.into())).collect());
        self.edit(move |s| s.set_path("template.spec.containers.0.command", Some(command.clone())))
    }

    /// The first container's name (default `main`).
    pub fn container_name(self, name: &str) -> Self {
        let name = Value::from(name);
        self.edit(move |s| s.set_path("template.spec.containers.0.name", Some(name.clone())))
    }

    /// Runs the pods under `service_account`; if it has an IRSA role, a change of that role rolls the pods.
    pub fn service_account(self, service_account: &ServiceAccount) -> Self {
        self.resource.set(DeploymentInputs::SERVICE_ACCOUNT_NAMESPACE, service_account.namespace());
        let mut d = self.edit_with(&service_account.name(), |s, name| {
            s.set_path("template.spec.serviceAccountName", Some(Value::from(name)));
        });
        if let Some(role) = service_account.role_arn() {
            d = d.edit_with(&role, |s, arn| {
                let digest = Sha256::digest(arn.as_bytes());
                let hash: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
                // The key holds dots, so it is inserted into the map, not set as a path.
                let mut annotations = match s.get_path("template.metadata.annotations") {
                    Some(Value::Map(m)) => m.clone(),
                    _ => Default::default(),
                };
                annotations.insert(ROLE_HASH_ANNOTATION.to_string(), Value::from(hash));
                s.set_path("template.metadata.annotations", Some(Value::Map(annotations)));
            });
        }
        d
    }

    /// Take over fields another field manager owns.
    pub fn force_conflicts(self) -> Self {
        self.resource.set(DeploymentInputs::FORCE_CONFLICTS, true);
        self
    }

    /// The deployment's name (an output, so users depend on the deployment).
    pub fn name(&self) -> Output<String> {
        self.resource.get(ObjectOutputs::NAME)
    }
}
