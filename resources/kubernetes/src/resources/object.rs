//! The mechanics every kind shares: where its objects live in the API, the object Strake applies
//! (server-side, as field manager `strake`), the live object seen through the program's inputs,
//! and deleting with a wait for finalizers.

use std::time::Duration;

use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams};
use serde_json::{Map, Value as Json, json};
use strake::provider::{ErrorKind, ProviderError};

use crate::provider::Kubernetes;

/// The field manager Strake applies objects as, server-side.
pub const FIELD_MANAGER: &str = "strake";
const DEFAULT_DELETE_TIMEOUT: Duration = Duration::from_secs(300);

/// A built-in object kind and how a type's inputs map into its objects. Every kind's inputs
/// have `name`, `labels` and `annotations`, `namespace` when the kind is namespaced, and may
/// have `force_conflicts`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ObjectKind {
    pub type_token: &'static str,
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
    /// (input property, top-level field of the object), e.g. ("spec", "spec").
    pub fields: &'static [(&'static str, &'static str)],
}

/// The input properties of the object's metadata.
pub(crate) const NAME: &str = "name";
pub(crate) const NAMESPACE: &str = "namespace";
const METADATA_MAPS: [&str; 2] = ["labels", "annotations"];
/// Strake's own setting: take over fields another manager owns.
pub(crate) const FORCE_CONFLICTS: &str = "force_conflicts";

/// Where objects of one kind live in the API: known for the built-in kinds, found by discovery
/// for any other (a [`super::manifest::Manifest`]).
#[derive(Debug, Clone)]
pub(crate) struct Placement {
    pub resource: ApiResource,
    pub namespaced: bool,
}

impl Placement {
    fn api(&self, kube: &Kubernetes, namespace: Option<&str>) -> Api<DynamicObject> {
        match (self.namespaced, namespace) {
            (true, Some(ns)) => Api::namespaced_with(kube.client.clone(), ns, &self.resource),
            _ => Api::all_with(kube.client.clone(), &self.resource),
        }
    }

    /// `<namespace>/<name>`, or `<name>` for cluster-scoped objects: for messages.
    pub(crate) fn path(&self, namespace: Option<&str>, name: &str) -> String {
        match (self.namespaced, namespace) {
            (true, Some(ns)) => format!("{ns}/{name}"),
            _ => name.to_string(),
        }
    }

    /// Server-side apply of `body`. A conflict with fields that someone changed imperatively
    /// (`kubectl edit`, `annotate`, `label`: operation `Update`) is drift, and Strake takes its
    /// fields back; a conflict with another declarative owner (operation `Apply`) is reported,
    /// unless `force`.
    pub(crate) async fn apply(
        &self,
        kube: &Kubernetes,
        body: &Json,
        namespace: Option<&str>,
        name: &str,
        force: bool,
    ) -> Result<Json, ProviderError> {
        let api = self.api(kube, namespace);
        let what = format!("apply {} {}", self.resource.kind, self.path(namespace, name));
        let params = |force: bool| {
            let p = PatchParams::apply(FIELD_MANAGER);
            if force { p.force() } else { p }
        };
        let live = match api.patch(name, &params(force), &Patch::Apply(body)).await {
            Ok(live) => live,
            Err(kube::Error::Api(status)) if status.code == 409 && !force => {
                let managers = conflicting_managers(&status.message);
                let live = self.get(kube, namespace, name).await?;
                if !managers.is_empty() && live.as_ref().is_some_and(|l| only_imperative(l, &managers)) {
                    api.patch(name, &params(true), &Patch::Apply(body)).await.map_err(|e| kube_error(&what, e))?
                } else {
                    return Err(kube_error(&what, kube::Error::Api(status)));
                }
            }
            Err(e) => return Err(kube_error(&what, e)),
        };
        serde_json::to_value(&live).map_err(|e| ProviderError::permanent(e.to_string()))
    }

    /// The live object, if there is one.
    pub(crate) async fn get(&self, kube: &Kubernetes, namespace: Option<&str>, name: &str) -> Result<Option<Json>, ProviderError> {
        let found = self
            .api(kube, namespace)
            .get_opt(name)
            .await
            .map_err(|e| kube_error(&format!("get {} {}", self.resource.kind, self.path(namespace, name)), e))?;
        found.map(|o| serde_json::to_value(&o).map_err(|e| ProviderError::permanent(e.to_string()))).transpose()
    }

    /// Deletes the object and waits until it is gone (finalizers run), at most `timeout`.
    pub(crate) async fn delete(
        &self,
        kube: &Kubernetes,
        namespace: Option<&str>,
        name: &str,
        timeout: Option<Duration>,
    ) -> Result<(), ProviderError> {
        let api = self.api(kube, namespace);
        let what = format!("delete {} {}", self.resource.kind, self.path(namespace, name));
        match api.delete(name, &DeleteParams::background()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
            Err(e) => return Err(kube_error(&what, e)),
        }
        let limit = timeout.unwrap_or(DEFAULT_DELETE_TIMEOUT);
        let started = tokio::time::Instant::now();
        while self.get(kube, namespace, name).await?.is_some() {
            if started.elapsed() > limit {
                return Err(ProviderError::coded("Timeout", format!("{what}: still present after {}s (finalizers pending?)", limit.as_secs())));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Ok(())
    }
}

impl ObjectKind {
    pub(crate) fn placement(&self) -> Placement {
        let api_version = if self.group.is_empty() { self.version.to_string() } else { format!("{}/{}", self.group, self.version) };
        let resource =
            ApiResource { group: self.group.into(), version: self.version.into(), api_version, kind: self.kind.into(), plural: self.plural.into() };
        Placement { resource, namespaced: self.namespaced }
    }

    /// `(namespace, name)` from an id (`ns/name` or `name`) or from the inputs.
    pub(crate) fn locate(&self, id: Option<&str>, inputs: Option<&Json>) -> Option<(Option<String>, String)> {
        if let Some(id) = id {
            return Some(match id.split_once('/') {
                Some((ns, name)) if self.namespaced => (Some(ns.to_string()), name.to_string()),
                _ => (None, id.to_string()),
            });
        }
        let inputs = inputs?;
        let name = inputs.get(NAME)?.as_str()?.to_string();
        let ns = inputs.get(NAMESPACE).and_then(Json::as_str).map(str::to_string);
        Some((ns, name))
    }

    pub(crate) fn id(&self, namespace: Option<&str>, name: &str) -> String {
        self.placement().path(namespace, name)
    }

    /// The object Strake applies: only the fields the program sets.
    pub(crate) fn body(&self, inputs: &Json) -> Json {
        let mut metadata = Map::new();
        metadata.insert(NAME.into(), inputs[NAME].clone());
        if self.namespaced {
            metadata.insert(NAMESPACE.into(), inputs[NAMESPACE].clone());
        }
        for key in METADATA_MAPS {
            if let Some(m) = inputs.get(key).filter(|m| m.as_object().is_some_and(|m| !m.is_empty())) {
                metadata.insert(key.into(), m.clone());
            }
        }
        let mut body = Map::new();
        body.insert("apiVersion".into(), json!(self.placement().resource.api_version));
        body.insert("kind".into(), json!(self.kind));
        body.insert("metadata".into(), Json::Object(metadata));
        for (input, field) in self.fields {
            if let Some(v) = inputs.get(*input).filter(|v| !v.is_null()) {
                body.insert((*field).into(), v.clone());
            }
        }
        Json::Object(body)
    }

    /// The live object seen through the program's inputs: the fields Strake set, as they are
    /// now. Without inputs (an import), every field the kind maps, as it is. The `internal`
    /// inputs, which the cluster never sees, are kept as the program gave them.
    pub(crate) fn observed_inputs(&self, desired: Option<&Json>, live: &Json, internal: &[&str]) -> Json {
        let mut inputs = Map::new();
        inputs.insert(NAME.into(), live["metadata"][NAME].clone());
        if self.namespaced {
            inputs.insert(NAMESPACE.into(), live["metadata"][NAMESPACE].clone());
        }
        let seen = |want: Option<&Json>, have: &Json| match want {
            Some(want) => Some(project(want, have)),
            None => desired.is_none().then(|| have.clone()),
        };
        for key in METADATA_MAPS {
            let want = desired.and_then(|d| d.get(key)).filter(|v| !v.is_null());
            if let Some(v) = want.and_then(|w| seen(Some(w), live["metadata"].get(key).unwrap_or(&json!({})))) {
                inputs.insert(key.into(), v);
            }
        }
        for (input, field) in self.fields {
            if let Some(have) = live.get(*field)
                && let Some(v) = seen(desired.and_then(|d| d.get(*input)).filter(|v| !v.is_null()), have)
            {
                inputs.insert((*input).into(), v);
            }
        }
        for key in internal.iter().chain([FORCE_CONFLICTS].iter()) {
            if let Some(v) = desired.and_then(|d| d.get(*key)).filter(|v| !v.is_null()) {
                inputs.insert((*key).into(), v.clone());
            }
        }
        Json::Object(inputs)
    }

    /// Applies the object the inputs describe: its id and the live object.
    pub(crate) async fn apply(&self, kube: &Kubernetes, inputs: &Json) -> Result<(String, Json), ProviderError> {
        let (ns, name) = self.locate(None, Some(inputs)).ok_or_else(|| ProviderError::permanent("the object has no name"))?;
        let force = inputs.get(FORCE_CONFLICTS).and_then(Json::as_bool).unwrap_or(false);
        let live = self.placement().apply(kube, &self.body(inputs), ns.as_deref(), &name, force).await?;
        Ok((self.id(ns.as_deref(), &name), live))
    }

    pub(crate) async fn get(&self, kube: &Kubernetes, ns: Option<&str>, name: &str) -> Result<Option<Json>, ProviderError> {
        self.placement().get(kube, ns, name).await
    }

    pub(crate) async fn delete(&self, kube: &Kubernetes, id: &str, timeout: Option<Duration>) -> Result<(), ProviderError> {
        let Some((ns, name)) = self.locate(Some(id), None) else { return Ok(()) };
        self.placement().delete(kube, ns.as_deref(), &name, timeout).await
    }
}

/// Whether a live object is being deleted.
pub(crate) fn is_going(live: &Json) -> bool {
    live["metadata"].get("deletionTimestamp").is_some_and(|t| !t.is_null())
}

/// `live` restricted to the shape of `desired`: maps keep only the keys Strake set, lists are
/// compared element by element. Fields the server or other managers added are left out.
pub(crate) fn project(desired: &Json, live: &Json) -> Json {
    match (desired, live) {
        (Json::Object(want), Json::Object(have)) => {
            Json::Object(want.iter().filter_map(|(k, w)| have.get(k).map(|h| (k.clone(), project(w, h)))).collect())
        }
        (Json::Array(want), Json::Array(have)) => {
            Json::Array(have.iter().enumerate().map(|(i, h)| want.get(i).map(|w| project(w, h)).unwrap_or_else(|| h.clone())).collect())
        }
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
