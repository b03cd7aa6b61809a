//! The resource types of the `kubernetes` package. Every type is an [`Object`]: a kind plus the
//! input properties it maps into the object. Create and update use server-side apply with field
//! manager `strake`, so Strake owns exactly the fields it sets and leaves the rest to others.

pub mod deployment;
pub mod namespace;
pub mod service_account;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams};
use serde_json::{Map, Value as Json, json};
use strake::provider::*;
use strake::Value;

use crate::provider::Kubernetes;
use crate::validate::{check_dns1123_label, check_dns1123_subdomain, check_key, check_label_value};

pub const FIELD_MANAGER: &str = "strake";
const DEFAULT_DELETE_TIMEOUT: Duration = Duration::from_secs(300);

/// The type of `type_token`, if the package has it.
pub(crate) fn registry(type_token: &str) -> Option<&'static dyn KubeResource> {
    Some(match type_token {
        namespace::TYPE => &namespace::NAMESPACE,
        service_account::TYPE => &service_account::SERVICE_ACCOUNT,
        deployment::TYPE => &deployment::DEPLOYMENT,
        namespace::LOOKUP_TYPE => &namespace::LOOKUP,
        _ => return None,
    })
}

/// The provider contract for one type, with the configured cluster at hand.
#[async_trait]
pub(crate) trait KubeResource: Send + Sync {
    fn check(&self, kube: &Kubernetes, req: CheckRequest) -> CheckResponse;
    fn diff(&self, req: DiffRequest) -> DiffResponse;
    fn preview(&self, req: PreviewRequest) -> Value;
    async fn create(&self, kube: &Kubernetes, req: CreateRequest) -> Result<CreateResponse, ProviderError>;
    async fn read(&self, kube: &Kubernetes, req: ReadRequest) -> Result<ReadResponse, ProviderError>;
    async fn update(&self, kube: &Kubernetes, req: UpdateRequest) -> Result<UpdateResponse, ProviderError>;
    async fn delete(&self, kube: &Kubernetes, req: DeleteRequest) -> Result<(), ProviderError>;

    /// What RBAC calls the objects of this type (`None` for data sources, which change nothing).
    fn access(&self) -> Option<Access> {
        None
    }

    /// Inputs only the program and the provider use.
    fn internal(&self) -> &'static [&'static str] {
        &[]
    }
}

/// How RBAC names a kind's objects.
pub(crate) struct Access {
    pub group: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
}

/// A Kubernetes object kind and how inputs map into it.
pub(crate) struct Object {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
    /// (input property, top-level field of the object), e.g. ("spec", "spec").
    pub fields: &'static [(&'static str, &'static str)],
    /// Inputs that only the program uses (never sent to the cluster).
    pub local: &'static [&'static str],
    /// Checks specific to the kind.
    pub extra_check: fn(&Value, &mut Vec<CheckFailure>),
}

/// Checks specific to a kind whose findings are warnings: they are shown but do not stop the plan.
/// (Looked up by kind rather than held in [`Object`], so kinds without any keep their declarations.)
fn extra_warnings(object: &Object) -> Option<fn(&Value, &mut Vec<CheckFailure>)> {
    match (object.group, object.kind) {
        ("", "ServiceAccount") => Some(service_account::extra_warnings),
        _ => None,
    }
}

impl Object {
    fn api_resource(&self) -> ApiResource {
        let api_version = if self.group.is_empty() { self.version.to_string() } else { format!("{}/{}", self.group, self.version) };
        ApiResource {
            group: self.group.into(),
            version: self.version.into(),
            api_version,
            kind: self.kind.into(),
            plural: self.plural.into(),
        }
    }

    fn api(&self, kube: &Kubernetes, namespace: Option<&str>) -> Api<DynamicObject> {
        let ar = self.api_resource();
        match (self.namespaced, namespace) {
            (true, Some(ns)) => Api::namespaced_with(kube.client.clone(), ns, &ar),
            _ => Api::all_with(kube.client.clone(), &ar),
        }
    }

    /// `(namespace, name)` from an id (`ns/name` or `name`) or from the inputs.
    fn locate(&self, id: Option<&str>, inputs: &Value) -> Option<(Option<String>, String)> {
        if let Some(id) = id {
            return Some(match id.split_once('/') {
                Some((ns, name)) if self.namespaced => (Some(ns.to_string()), name.to_string()),
                _ => (None, id.to_string()),
            });
        }
        let name = inputs.get("name")?.as_str()?.to_string();
        let ns = inputs.get("namespace").and_then(Value::as_str).map(str::to_string);
        Some((ns, name))
    }

    fn id(&self, namespace: Option<&str>, name: &str) -> String {
        match (self.namespaced, namespace) {
            (true, Some(ns)) => format!("{ns}/{name}"),
            _ => name.to_string(),
        }
    }

    /// The object Strake applies: only the fields the program sets.
    fn body(&self, inputs: &Value) -> Json {
        let i = inputs.reveal().to_json();
        let mut metadata = Map::new();
        metadata.insert("name".into(), i["name"].clone());
        if self.namespaced {
            metadata.insert("namespace".into(), i["namespace"].clone());
        }
        for key in ["labels", "annotations"] {
            if let Some(m) = i.get(key).filter(|m| m.as_object().is_some_and(|m| !m.is_empty())) {
                metadata.insert(key.into(), m.clone());
            }
        }
        let mut body = Map::new();
        body.insert("apiVersion".into(), json!(self.api_resource().api_version));
        body.insert("kind".into(), json!(self.kind));
        body.insert("metadata".into(), Json::Object(metadata));
        for (input, field) in self.fields {
            if let Some(v) = i.get(*input).filter(|v| !v.is_null()) {
                body.insert((*field).into(), v.clone());
            }
        }
        Json::Object(body)
    }

    /// The live object seen through the program's inputs: the fields Strake set, as they are now.
    fn observed_inputs(&self, desired: &Value, live: &Json) -> Value {
        let desired = desired.reveal().to_json();
        let mut inputs = Map::new();
        inputs.insert("name".into(), live["metadata"]["name"].clone());
        if self.namespaced {
            inputs.insert("namespace".into(), live["metadata"]["namespace"].clone());
        }
        for key in ["labels", "annotations"] {
            if let Some(want) = desired.get(key) {
                inputs.insert(key.into(), project(want, live["metadata"].get(key).unwrap_or(&json!({}))));
            }
        }
        for (input, field) in self.fields {
            if let (Some(want), Some(have)) = (desired.get(*input), live.get(*field)) {
                inputs.insert((*input).into(), project(want, have));
            }
        }
        for key in self.local.iter().chain(["force_conflicts"].iter()) {
            if let Some(v) = desired.get(*key) {
                inputs.insert((*key).into(), v.clone());
            }
        }
        Value::from_json(Json::Object(inputs))
    }

    fn outputs(live: &Json) -> Value {
        let m = &live["metadata"];
        let mut out = Map::new();
        for key in ["name", "namespace", "uid"] {
            if let Some(v) = m.get(key) {
                out.insert(key.into(), v.clone());
            }
        }
        Value::from_json(Json::Object(out))
    }

    /// Server-side apply. A conflict with fields that someone changed imperatively (`kubectl edit`,
    /// `annotate`, `label`: operation `Update`) is drift, and Strake takes its fields back; a
    /// conflict with another declarative owner (operation `Apply`) is reported, unless the program
    /// set `force_conflicts`.
    async fn apply(&self, kube: &Kubernetes, inputs: &Value) -> Result<(String, Value), ProviderError> {
        let body = self.body(inputs);
        let (ns, name) = self.locate(None, inputs).ok_or_else(|| ProviderError::permanent("the object has no name"))?;
        let force = inputs.get("force_conflicts").and_then(|v| v.deserialize_into::<bool>().ok()).unwrap_or(false);
        let api = self.api(kube, ns.as_deref());
        let what = format!("apply {} {}", self.kind, self.id(ns.as_deref(), &name));
        let params = |force: bool| {
            let p = PatchParams::apply(FIELD_MANAGER);
            if force { p.force() } else { p }
        };
        let live = match api.patch(&name, &params(force), &Patch::Apply(&body)).await {
            Ok(live) => live,
            Err(kube::Error::Api(status)) if status.code == 409 && !force => {
                let managers = conflicting_managers(&status.message);
                let live = self.get(kube, ns.as_deref(), &name).await?;
                if !managers.is_empty() && live.as_ref().is_some_and(|l| only_imperative(l, &managers)) {
                    api.patch(&name, &params(true), &Patch::Apply(&body)).await.map_err(|e| kube_error(&what, e))?
                } else {
                    return Err(kube_error(&what, kube::Error::Api(status)));
                }
            }
            Err(e) => return Err(kube_error(&what, e)),
        };
        let live = serde_json::to_value(&live).map_err(|e| ProviderError::permanent(e.to_string()))?;
        Ok((self.id(ns.as_deref(), &name), Object::outputs(&live)))
    }

    async fn get(&self, kube: &Kubernetes, ns: Option<&str>, name: &str) -> Result<Option<Json>, ProviderError> {
        let found = self
            .api(kube, ns)
            .get_opt(name)
            .await
            .map_err(|e| kube_error(&format!("get {} {}", self.kind, self.id(ns, name)), e))?;
        found.map(|o| serde_json::to_value(&o).map_err(|e| ProviderError::permanent(e.to_string()))).transpose()
    }
}

/// `live` restricted to the shape of `desired`: maps keep only the keys Strake set, lists are
/// compared element by element. Fields the server or other managers added are left out.
pub(crate) fn project(desired: &Json, live: &Json) -> Json {
    match (desired, live) {
        (Json::Object(want), Json::Object(have)) => Json::Object(
            want.iter().filter_map(|(k, w)| have.get(k).map(|h| (k.clone(), project(w, h)))).collect(),
        ),
        (Json::Array(want), Json::Array(have)) => Json::Array(
            have.iter().enumerate().map(|(i, h)| want.get(i).map(|w| project(w, h)).unwrap_or_else(|| h.clone())).collect(),
        ),
        _ => live.clone(),
    }
}

/// The managers named in a server-side apply conflict message (`conflict with "kubectl-edit" ...`).
fn conflicting_managers(message: &str) -> Vec<String> {
    message.split("conflict with \"").skip(1).filter_map(|rest| rest.split('"').next()).map(str::to_string).collect()
}

/// Whether every one of `managers` changed the object imperatively (operation `Update`).
fn only_imperative(live: &Json, managers: &[String]) -> bool {
    let entries = live["metadata"]["managedFields"].as_array().cloned().unwrap_or_default();
    managers.iter().all(|m| {
        let ops: Vec<&str> = entries.iter().filter(|e| e["manager"] == m.as_str()).filter_map(|e| e["operation"].as_str()).collect();
        !ops.is_empty() && ops.iter().all(|op| *op == "Update")
    })
}

/// A Kubernetes API error, classified, with the status reason as the code.
pub(crate) fn kube_error(operation: &str, e: kube::Error) -> ProviderError {
    match e {
        kube::Error::Api(status) => {
            let code = Some(if status.reason.is_empty() { format!("HTTP {}", status.code) } else { status.reason.clone() });
            let kind = match status.code {
                429 => ErrorKind::Throttling,
                500..=599 => ErrorKind::Transient,
                _ => ErrorKind::Permanent,
            };
            let mut message = format!("{operation}: {}", status.message);
            if status.code == 409 && status.message.contains("conflict") {
                message.push_str(
                    "; another field manager owns these fields: stop setting them in the program, or call \
                     `.force_conflicts()` on the resource to take them over",
                );
            }
            ProviderError::with_kind(kind, code, message)
        }
        other => ProviderError::with_kind(ErrorKind::Transient, None, format!("{operation}: {other}")),
    }
}

fn check_map(inputs: &Value, key: &str, failures: &mut Vec<CheckFailure>, values_are_labels: bool) {
    if let Some(Value::Map(m)) = inputs.get(key) {
        for (k, v) in m {
            if let Err(e) = check_key(k) {
                failures.push(CheckFailure::new(format!("{key}.{k}"), e));
            }
            if values_are_labels
                && let Some(s) = v.as_str()
                && let Err(e) = check_label_value(s)
            {
                failures.push(CheckFailure::new(format!("{key}.{k}"), e));
            }
        }
    }
}

#[async_trait]
impl KubeResource for Object {
    fn access(&self) -> Option<Access> {
        Some(Access { group: self.group, plural: self.plural, namespaced: self.namespaced })
    }

    fn internal(&self) -> &'static [&'static str] {
        self.local
    }

    fn check(&self, kube: &Kubernetes, req: CheckRequest) -> CheckResponse {
        let mut inputs = req.inputs;
        let mut failures = Vec::new();
        if self.namespaced && inputs.get("namespace").is_none_or(|v| matches!(v, Value::Null)) {
            inputs.set_path("namespace", Some(Value::from(kube.default_namespace.clone())));
        }
        let name_rule: fn(&str) -> Result<(), String> = if self.namespaced { check_dns1123_subdomain } else { check_dns1123_label };
        match inputs.get("name") {
            Some(Value::String(name)) => {
                if let Err(e) = name_rule(name) {
                    failures.push(CheckFailure::new("name", e));
                }
            }
            None | Some(Value::Null) => failures.push(CheckFailure::new("name", "is required")),
            _ => {}
        }
        if let Some(Value::String(ns)) = inputs.get("namespace")
            && let Err(e) = check_dns1123_label(ns)
        {
            failures.push(CheckFailure::new("namespace", e));
        }
        check_map(&inputs, "labels", &mut failures, true);
        check_map(&inputs, "annotations", &mut failures, false);
        (self.extra_check)(&inputs, &mut failures);
        let mut warnings = Vec::new();
        if let Some(warn) = extra_warnings(self) {
            warn(&inputs, &mut warnings);
        }
        CheckResponse { inputs, failures, warnings }
    }

    fn diff(&self, req: DiffRequest) -> DiffResponse {
        let changes = strake::diff::changed_properties(&req.old_inputs, &req.new_inputs);
        let replaces = changes.iter().filter(|c| matches!(c.as_str(), "name" | "namespace")).cloned().collect();
        DiffResponse { changes, replaces, delete_before_replace: false }
    }

    fn preview(&self, req: PreviewRequest) -> Value {
        let mut out = Value::from_pairs([("uid", Value::Unknown)]);
        if let Some(prior) = req.prior_outputs {
            out = prior;
        }
        for key in ["name", "namespace"] {
            if let Some(v) = req.inputs.get(key).filter(|_| key == "name" || self.namespaced) {
                out.set_path(key, Some(v.clone()));
            }
        }
        out
    }

    async fn create(&self, kube: &Kubernetes, req: CreateRequest) -> Result<CreateResponse, ProviderError> {
        let (id, outputs) = self.apply(kube, &req.inputs).await?;
        Ok(CreateResponse { id, outputs })
    }

    async fn read(&self, kube: &Kubernetes, req: ReadRequest) -> Result<ReadResponse, ProviderError> {
        let Some((ns, name)) = self.locate(req.id.as_deref(), &req.inputs) else { return Ok(ReadResponse::Gone) };
        Ok(match self.get(kube, ns.as_deref(), &name).await? {
            Some(live) if live["metadata"].get("deletionTimestamp").is_none() => ReadResponse::Found {
                id: self.id(ns.as_deref(), &name),
                inputs: self.observed_inputs(&req.inputs, &live),
                outputs: Object::outputs(&live),
            },
            _ => ReadResponse::Gone,
        })
    }

    async fn update(&self, kube: &Kubernetes, req: UpdateRequest) -> Result<UpdateResponse, ProviderError> {
        let (_, outputs) = self.apply(kube, &req.new_inputs).await?;
        Ok(UpdateResponse { outputs })
    }

    async fn delete(&self, kube: &Kubernetes, req: DeleteRequest) -> Result<(), ProviderError> {
        let Some((ns, name)) = self.locate(Some(&req.id), &req.inputs) else { return Ok(()) };
        let api = self.api(kube, ns.as_deref());
        let what = format!("delete {} {}", self.kind, req.id);
        match api.delete(&name, &DeleteParams::background()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
            Err(e) => return Err(kube_error(&what, e)),
        }
        let limit = req.timeout.unwrap_or(DEFAULT_DELETE_TIMEOUT);
        let started = tokio::time::Instant::now();
        while self.get(kube, ns.as_deref(), &name).await?.is_some() {
            if started.elapsed() > limit {
                return Err(ProviderError::with_kind(
                    ErrorKind::Permanent,
                    Some("Timeout".into()),
                    format!("{what}: still present after {}s (finalizers pending?)", limit.as_secs()),
                ));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Ok(())
    }
}

/// Labels or annotations as a map value.
pub(crate) fn string_map<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Value {
    Value::Map(pairs.into_iter().map(|(k, v)| (k.into(), Value::String(v.into()))).collect::<BTreeMap<_, _>>())
}

/// No extra checks.
pub(crate) fn no_extra_check(_: &Value, _: &mut Vec<CheckFailure>) {}
