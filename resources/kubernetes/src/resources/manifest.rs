//! `kubernetes:core:Manifest`: any Kubernetes object, from a typed k8s-openapi value or from
//! YAML or JSON text, applied server-side like the built-in kinds: the `kubectl apply -f` of a
//! program. Its kind is found by discovery when it is applied, so custom resources work too.
//!
//! The id is `apiVersion=<v>,kind=<k>,namespace=<ns>,name=<n>` (no `namespace=` part for
//! cluster-scoped kinds), as `import` takes it.

use kube::core::GroupVersionKind;
use kube::discovery::Scope;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use strake::provider::{CreatedLookup, ErrorKind, ProviderError};
use strake::typed::*;
use strake::{Output, ProviderRef, Resource, ResourceHandle, Stack, Value};

use super::object::{Placement, is_going, kube_error, project};
use super::{ObjectOutputs, StringMap};
use crate::provider::Kubernetes;
use crate::validate::{check_dns1123_label, check_key, check_label_value};

pub const TYPE: &str = "kubernetes:core:Manifest";

/// The error code of a kind the cluster does not serve.
pub(crate) const KIND_NOT_SERVED: &str = "KindNotServed";

/// The inputs of a manifest.
#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
pub struct ManifestInputs {
    /// The object: `apiVersion`, `kind`, `metadata.name` (and `metadata.namespace` for
    /// namespaced kinds, default: the provider's namespace), and the rest.
    pub manifest: Json,
    /// Take over fields another field manager owns.
    pub force_conflicts: Option<bool>,
}

/// Any object: `Manifest::new(stack, "settings", &cluster, config_map)` with a k8s-openapi value,
/// or `Manifest::from_yaml(stack, "settings", &cluster, text)`.
#[derive(Clone, ResourceHandle)]
pub struct Manifest(Resource);

impl Manifest {
    /// An object from a typed value (a k8s-openapi `ConfigMap`, say, or any value that
    /// serializes to a Kubernetes object with `apiVersion` and `kind`).
    #[track_caller]
    pub fn new(stack: &Stack, name: &str, provider: &ProviderRef, object: impl Serialize) -> Manifest {
        let value = Value::serialize_from(&object).unwrap_or_else(|e| Value::from(format!("<the object does not serialize: {e}>")));
        Manifest::declare(stack, name, provider, value)
    }

    /// An object from YAML or JSON text (one document), parsed when the plan checks it: a
    /// syntax error is a plan error with its line.
    #[track_caller]
    pub fn from_yaml(stack: &Stack, name: &str, provider: &ProviderRef, text: &str) -> Manifest {
        Manifest::declare(stack, name, provider, Value::from(text))
    }

    #[track_caller]
    fn declare(stack: &Stack, name: &str, provider: &ProviderRef, manifest: Value) -> Manifest {
        let r = stack.resource(TYPE, name);
        r.set_value(ManifestInputs::MANIFEST, manifest);
        Manifest(r.provider(provider))
    }

    /// Take over fields another field manager owns.
    pub fn force_conflicts(self) -> Self {
        self.0.set(ManifestInputs::FORCE_CONFLICTS, true);
        self
    }

    /// The object's name (an output, so users depend on the object).
    pub fn name(&self) -> Output<String> {
        self.0.get(ObjectOutputs::NAME)
    }

    /// The object's uid.
    pub fn uid(&self) -> Output<String> {
        self.0.get(ObjectOutputs::UID)
    }
}

pub(crate) struct ManifestType;

/// Where one manifest's object is: its kind's place in the API, namespace and name.
struct Located {
    placement: Placement,
    namespace: Option<String>,
    name: String,
}

impl Located {
    fn id(&self) -> String {
        let r = &self.placement.resource;
        match &self.namespace {
            Some(ns) => format!("apiVersion={},kind={},namespace={ns},name={}", r.api_version, r.kind, self.name),
            None => format!("apiVersion={},kind={},name={}", r.api_version, r.kind, self.name),
        }
    }
}

/// `(apiVersion, kind, namespace, name)` from an id.
fn parse_id(id: &str) -> Result<(String, String, Option<String>, String), ProviderError> {
    let part = |key: &str| id.split(',').find_map(|p| p.strip_prefix(&format!("{key}="))).map(str::to_string);
    match (part("apiVersion"), part("kind"), part("name")) {
        (Some(v), Some(k), Some(n)) => Ok((v, k, part("namespace"), n)),
        _ => Err(ProviderError::permanent(format!(
            "`{id}` is not a manifest id; use `apiVersion=<v>,kind=<k>,namespace=<ns>,name=<n>` (no namespace for cluster-scoped kinds)"
        ))),
    }
}

pub(crate) fn text(object: &Json, pointer: &str) -> Option<String> {
    object.pointer(pointer).and_then(Json::as_str).map(str::to_string)
}

/// The kind's place in the API, by discovery.
pub(crate) async fn discover(kube: &Kubernetes, api_version: &str, kind: &str) -> Result<Placement, ProviderError> {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let gvk = GroupVersionKind::gvk(group, version, kind);
    let not_served = || {
        ProviderError::with_kind(
            ErrorKind::Permanent,
            Some(KIND_NOT_SERVED.into()),
            format!(
                "{} does not serve kind `{kind}` of `{api_version}`: check `apiVersion` and `kind` (`kubectl api-resources` lists what it serves), or install the CRD first",
                kube.target_description()
            ),
        )
    };
    let (resource, caps) = kube::discovery::pinned_kind(&kube.client, &gvk).await.map_err(|e| match e {
        // An unknown kind of a served group, or a group the server does not have (404).
        kube::Error::Discovery(_) => not_served(),
        kube::Error::Api(status) if status.code == 404 => not_served(),
        other => kube_error(&format!("discover {kind} of {api_version}"), other),
    })?;
    Ok(Placement { resource, namespaced: caps.scope == Scope::Namespaced })
}

/// Finds where the manifest's object lives; a namespaced kind without a namespace takes the
/// provider's default namespace.
async fn locate(kube: &Kubernetes, manifest: &Json) -> Result<Located, ProviderError> {
    let (Some(api_version), Some(kind), Some(name)) = (text(manifest, "/apiVersion"), text(manifest, "/kind"), text(manifest, "/metadata/name"))
    else {
        return Err(ProviderError::permanent("the manifest has no apiVersion, kind or metadata.name"));
    };
    let placement = discover(kube, &api_version, &kind).await?;
    let namespace = placement.namespaced.then(|| text(manifest, "/metadata/namespace").unwrap_or_else(|| kube.default_namespace.clone()));
    Ok(Located { placement, namespace, name })
}

/// The manifest with the namespace the object is in filled in.
fn with_namespace(manifest: &Json, at: &Located) -> Json {
    let mut body = manifest.clone();
    if let (Some(ns), Some(metadata)) = (&at.namespace, body.get_mut("metadata").and_then(Json::as_object_mut)) {
        metadata.entry("namespace").or_insert_with(|| Json::String(ns.clone()));
    }
    body
}

/// Checks the object's shape: what every Kubernetes object needs, without asking the cluster.
fn check_object(object: &Json) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let mut need = |pointer: &str, path: &str, example: &str| {
        if text(object, pointer).is_none_or(|t| t.is_empty()) {
            problems.push((path.to_string(), format!("is required (e.g. {example})")));
        }
    };
    need("/apiVersion", "manifest.apiVersion", "`v1` or `apps/v1`");
    need("/kind", "manifest.kind", "`ConfigMap`");
    need("/metadata/name", "manifest.metadata.name", "`settings`");
    if let Some(ns) = text(object, "/metadata/namespace")
        && let Err(e) = check_dns1123_label(&ns)
    {
        problems.push(("manifest.metadata.namespace".into(), e));
    }
    for (key, values_are_labels) in [("labels", true), ("annotations", false)] {
        let map: StringMap = object.pointer(&format!("/metadata/{key}")).cloned().and_then(|m| serde_json::from_value(m).ok()).unwrap_or_default();
        for (k, v) in map {
            let problem = check_key(&k).err().or_else(|| values_are_labels.then(|| check_label_value(&v).err()).flatten());
            if let Some(problem) = problem {
                problems.push((format!("manifest.metadata.{key}.{k}"), problem));
            }
        }
    }
    if object.get("status").is_some() {
        problems.push(("manifest.status".into(), "is the cluster's to write; leave it out of the manifest".into()));
    }
    problems
}

impl ResourceType for ManifestType {
    type Context = Kubernetes;
    type Inputs = ManifestInputs;
    type Outputs = ObjectOutputs;
    // Another kind, name or namespace is another object; the same one cannot exist twice.
    const SPEC: Spec = Spec::new(TYPE, CreatedLookup::FromInputs);

    fn check(&self, _kube: &Kubernetes, c: &mut Check<ManifestInputs>) {
        // Text is parsed here, so a syntax error is a plan error.
        if let Some(Value::String(text)) = c.inputs().raw(ManifestInputs::MANIFEST.name()).map(Value::reveal) {
            match serde_saphyr::from_str::<Json>(&text) {
                Ok(object) => c.set(ManifestInputs::MANIFEST, object),
                Err(e) => return c.fail(ManifestInputs::MANIFEST, format!("is not one YAML or JSON document: {e}")),
            }
        }
        let Some(object) = c.known(ManifestInputs::MANIFEST) else { return };
        if !object.is_object() {
            return c.fail(ManifestInputs::MANIFEST, format!("is {object}, not an object with apiVersion, kind and metadata"));
        }
        for (path, problem) in check_object(&object) {
            c.fail_at(path, problem);
        }
    }

    fn preview(
        &self,
        _kube: &Kubernetes,
        inputs: &Partial<ManifestInputs>,
        prior: Option<&Partial<ObjectOutputs>>,
    ) -> Option<Partial<ObjectOutputs>> {
        let mut out = prior.cloned().unwrap_or_default();
        let object = inputs.known(ManifestInputs::MANIFEST)?;
        out.set(ObjectOutputs::NAME, text(&object, "/metadata/name")?);
        // Whether the kind is namespaced is known once discovered: until then, what the manifest says.
        if let Some(ns) = text(&object, "/metadata/namespace") {
            out.set(ObjectOutputs::NAMESPACE, ns);
        } else if prior.is_none() {
            out.set_unknown(ObjectOutputs::NAMESPACE);
        }
        Some(out)
    }

    fn claim(&self, kube: &Kubernetes, inputs: &Partial<ManifestInputs>) -> Option<String> {
        let object = inputs.known(ManifestInputs::MANIFEST)?;
        let (api_version, kind, name) = (text(&object, "/apiVersion")?, text(&object, "/kind")?, text(&object, "/metadata/name")?);
        let ns = text(&object, "/metadata/namespace").unwrap_or_else(|| kube.default_namespace.clone());
        Some(format!("{kind} ({api_version}) `{ns}/{name}` in {}", kube.target_destination()))
    }

    async fn create(&self, kube: &Kubernetes, req: Create<'_, ManifestInputs>) -> Result<Created<ObjectOutputs>, ProviderError> {
        let at = locate(kube, &req.inputs.manifest).await?;
        let force = req.inputs.force_conflicts.unwrap_or(false);
        let live = at.placement.apply(kube, &with_namespace(&req.inputs.manifest, &at), at.namespace.as_deref(), &at.name, force).await?;
        Ok(Created::new(at.id(), ObjectOutputs::of(&live)))
    }

    async fn read(
        &self,
        kube: &Kubernetes,
        req: Read<'_, ManifestInputs, ObjectOutputs>,
    ) -> Result<Option<Observed<ManifestInputs, ObjectOutputs>>, ProviderError> {
        let at = match (req.id, req.inputs) {
            (Some(id), _) => {
                let (api_version, kind, namespace, name) = parse_id(id)?;
                let placement = discover(kube, &api_version, &kind).await?;
                Located { placement, namespace, name }
            }
            (None, Some(i)) => locate(kube, &i.manifest).await?,
            (None, None) => return Ok(None),
        };
        let Some(live) = at.placement.get(kube, at.namespace.as_deref(), &at.name).await?.filter(|l| !is_going(l)) else { return Ok(None) };
        // The object seen through the manifest: the fields the program sets, as they are now.
        let manifest = match req.inputs {
            Some(i) => project(&i.manifest, &live),
            None => imported(&live),
        };
        let inputs = ManifestInputs { manifest, force_conflicts: req.inputs.and_then(|i| i.force_conflicts) };
        Ok(Some(Observed::new(at.id(), inputs, ObjectOutputs::of(&live))))
    }

    async fn update(&self, kube: &Kubernetes, req: Update<'_, ManifestInputs, ObjectOutputs>) -> Result<ObjectOutputs, ProviderError> {
        let at = locate(kube, &req.new.manifest).await?;
        let force = req.new.force_conflicts.unwrap_or(false);
        let live = at.placement.apply(kube, &with_namespace(&req.new.manifest, &at), at.namespace.as_deref(), &at.name, force).await?;
        Ok(ObjectOutputs::of(&live))
    }

    async fn delete(&self, kube: &Kubernetes, req: Delete<'_, ManifestInputs, ObjectOutputs>) -> Result<(), ProviderError> {
        let (api_version, kind, namespace, name) = parse_id(req.id)?;
        let placement = match discover(kube, &api_version, &kind).await {
            Ok(p) => p,
            // A kind the cluster no longer serves has no objects left.
            Err(e) if e.has_code(KIND_NOT_SERVED) => return Ok(()),
            Err(e) => return Err(e),
        };
        placement.delete(kube, namespace.as_deref(), &name, req.timeout).await
    }
}

/// An imported object as a manifest: what a program would declare, without what the cluster adds.
fn imported(live: &Json) -> Json {
    let mut object = live.clone();
    if let Some(m) = object.as_object_mut() {
        m.remove("status");
    }
    if let Some(metadata) = object.get_mut("metadata").and_then(Json::as_object_mut) {
        for key in ["uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink"] {
            metadata.remove(key);
        }
    }
    object
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn ids_round_trip_and_objects_are_checked() {
        assert_eq!(
            parse_id("apiVersion=v1,kind=ConfigMap,namespace=apps,name=settings").unwrap(),
            ("v1".into(), "ConfigMap".into(), Some("apps".into()), "settings".into())
        );
        assert_eq!(parse_id("apiVersion=rbac.authorization.k8s.io/v1,kind=ClusterRole,name=reader").unwrap().2, None);
        assert!(parse_id("v1/ConfigMap/apps/settings").unwrap_err().message.contains("not a manifest id"));
        let problems =
            check_object(&json!({"kind": "ConfigMap", "metadata": {"name": "x", "namespace": "Bad_NS", "labels": {"a": "not ok!"}}, "status": {}}));
        let paths: Vec<&str> = problems.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["manifest.apiVersion", "manifest.metadata.namespace", "manifest.metadata.labels.a", "manifest.status"]);
    }
}
