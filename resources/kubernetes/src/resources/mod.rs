//! The resource types of the `kubernetes` package. Every managed type is a [`Kind`]: an object
//! kind plus the typed inputs it maps into the object. Create and update use server-side apply
//! with field manager `strake`, so Strake owns exactly the fields it sets and leaves the rest to
//! others. Adding a type means one file plus one line in [`types!`].

pub mod deployment;
pub mod manifest;
pub mod namespace;
mod object;
pub mod service_account;

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::{Arc, LazyLock};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use strake::provider::{CreatedLookup, ProviderError};
use strake::typed::*;
use strake::{Output, Value};

pub use object::FIELD_MANAGER;
pub(crate) use object::{ObjectKind, Placement};

use crate::provider::Kubernetes;
use crate::validate::{check_dns1123_label, check_dns1123_subdomain, check_key, check_label_value};

/// Labels or annotations.
pub type StringMap = BTreeMap<String, String>;

/// The built-in kinds the package manages, its other resource types and its data sources.
macro_rules! types {
    (kinds: $($kind:ty),* ; resources: $($resource:expr),* ; data_sources: $($source:expr),*) => {
        /// Every type of the package.
        pub(crate) fn registry() -> Arc<Registry<Kubernetes>> {
            static TYPES: LazyLock<Arc<Registry<Kubernetes>>> = LazyLock::new(|| {
                let types = Registry::new("kubernetes")$(.resource(Managed::<$kind>::new()))*;
                Arc::new(types$(.resource($resource))*$(.data_source($source))*)
            });
            TYPES.clone()
        }

        /// The object kind a managed type applies, for RBAC checks.
        pub(crate) fn object_kind(type_token: &str) -> Option<&'static ObjectKind> {
            $(if type_token == <$kind as Kind>::OBJECT.type_token {
                return Some(&<$kind as Kind>::OBJECT);
            })*
            None
        }
    };
}

types! {
    kinds: namespace::NamespaceKind, service_account::ServiceAccountKind, deployment::DeploymentKind;
    resources: manifest::ManifestType;
    data_sources: namespace::ExistingNamespaceType
}

/// A kind of object the package manages: where its objects live and its typed inputs.
///
/// The inputs have the metadata's fields: `name`, `labels` and `annotations`, and `namespace`
/// when the kind is namespaced, with `name` and `namespace` marked `replace_on` (a new name or
/// namespace is another object). Fields only the program uses are marked `internal`.
pub(crate) trait Kind: Send + Sync + 'static {
    const OBJECT: ObjectKind;
    type Inputs: Schema;

    /// Checks specific to the kind, after the metadata's.
    fn check(_kube: &Kubernetes, _c: &mut Check<Self::Inputs>) {}
}

/// The keys of the metadata's fields in a kind's inputs (see [`Kind`]).
struct Metadata<K>(PhantomData<K>);

impl<K: Kind> Metadata<K> {
    const NAME: Field<K::Inputs, String> = Field::new(object::NAME);
    /// Namespaced kinds only.
    const NAMESPACE: Option<Field<K::Inputs, String>> = if K::OBJECT.namespaced { Some(Field::new(object::NAMESPACE)) } else { None };
    const LABELS: Field<K::Inputs, StringMap> = Field::new("labels");
    const ANNOTATIONS: Field<K::Inputs, StringMap> = Field::new("annotations");
}

/// The outputs of every object.
#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
pub struct ObjectOutputs {
    pub name: String,
    pub namespace: Option<String>,
    pub uid: String,
}

impl ObjectOutputs {
    fn of(live: &Json) -> ObjectOutputs {
        let m = &live["metadata"];
        let text = |key: &str| m.get(key).and_then(Json::as_str).map(str::to_string);
        ObjectOutputs { name: text("name").unwrap_or_default(), namespace: text("namespace"), uid: text("uid").unwrap_or_default() }
    }
}

/// A kind as a managed resource type.
pub(crate) struct Managed<K>(PhantomData<K>);

impl<K> Managed<K> {
    fn new() -> Self {
        Managed(PhantomData)
    }
}

fn json_of<T: Serialize>(inputs: &T) -> Json {
    serde_json::to_value(inputs).unwrap_or(Json::Null)
}

fn typed_inputs<K: Kind>(observed: Json) -> Result<K::Inputs, ProviderError> {
    serde_json::from_value(observed).map_err(|e| ProviderError::permanent(format!("the live {} does not fit its inputs: {e}", K::OBJECT.kind)))
}

/// The metadata's rules: the default namespace, names, labels and annotations.
fn check_metadata<K: Kind>(kube: &Kubernetes, c: &mut Check<K::Inputs>) {
    if let Some(namespace) = Metadata::<K>::NAMESPACE {
        if !c.inputs().is_set(namespace) {
            c.set(namespace, kube.default_namespace.clone());
        }
        c.validate(namespace, |ns| check_dns1123_label(ns));
    }
    let name_rule: fn(&str) -> Result<(), String> = if K::OBJECT.namespaced { check_dns1123_subdomain } else { check_dns1123_label };
    c.validate(Metadata::<K>::NAME, |n| name_rule(n));
    for (field, values_are_labels) in [(Metadata::<K>::LABELS, true), (Metadata::<K>::ANNOTATIONS, false)] {
        for (k, v) in c.known(field).unwrap_or_default() {
            let problem = check_key(&k).err().or_else(|| values_are_labels.then(|| check_label_value(&v).err()).flatten());
            if let Some(problem) = problem {
                c.fail_at(format!("{}.{k}", field.name()), problem);
            }
        }
    }
}

impl<K: Kind> ResourceType for Managed<K> {
    type Context = Kubernetes;
    type Inputs = K::Inputs;
    type Outputs = ObjectOutputs;
    // Kubernetes objects are named by their inputs (namespace and name), so an interrupted
    // create is found by them.
    const SPEC: Spec = Spec::new(K::OBJECT.type_token, CreatedLookup::FromInputs);

    fn check(&self, kube: &Kubernetes, c: &mut Check<K::Inputs>) {
        check_metadata::<K>(kube, c);
        K::check(kube, c);
    }

    fn preview(&self, _kube: &Kubernetes, inputs: &Partial<K::Inputs>, prior: Option<&Partial<ObjectOutputs>>) -> Option<Partial<ObjectOutputs>> {
        let mut out = prior.cloned().unwrap_or_default();
        out.set_value(ObjectOutputs::NAME, inputs.raw(object::NAME).cloned());
        if let Some(namespace) = Metadata::<K>::NAMESPACE {
            out.set_value(ObjectOutputs::NAMESPACE, inputs.raw(namespace.name()).cloned());
        }
        Some(out)
    }

    fn claim(&self, kube: &Kubernetes, inputs: &Partial<K::Inputs>) -> Option<String> {
        let name = inputs.known(Metadata::<K>::NAME)?;
        let (kind, server) = (K::OBJECT.kind, kube.target_destination());
        Some(match Metadata::<K>::NAMESPACE {
            Some(ns) => format!("{kind} `{}/{name}` in {server}", inputs.known(ns).unwrap_or_else(|| kube.default_namespace.clone())),
            None => format!("{kind} `{name}` in {server}"),
        })
    }

    async fn create(&self, kube: &Kubernetes, req: Create<'_, K::Inputs>) -> Result<Created<ObjectOutputs>, ProviderError> {
        let (id, live) = K::OBJECT.apply(kube, &json_of(req.inputs)).await?;
        Ok(Created::new(id, ObjectOutputs::of(&live)))
    }

    async fn read(
        &self,
        kube: &Kubernetes,
        req: Read<'_, K::Inputs, ObjectOutputs>,
    ) -> Result<Option<Observed<K::Inputs, ObjectOutputs>>, ProviderError> {
        let desired = req.inputs.map(json_of);
        let Some((ns, name)) = K::OBJECT.locate(req.id, desired.as_ref()) else { return Ok(None) };
        let Some(live) = K::OBJECT.get(kube, ns.as_deref(), &name).await?.filter(|l| !object::is_going(l)) else { return Ok(None) };
        let inputs = typed_inputs::<K>(K::OBJECT.observed_inputs(desired.as_ref(), &live, K::Inputs::RULES.internal))?;
        Ok(Some(Observed::new(K::OBJECT.id(ns.as_deref(), &name), inputs, ObjectOutputs::of(&live))))
    }

    async fn update(&self, kube: &Kubernetes, req: Update<'_, K::Inputs, ObjectOutputs>) -> Result<ObjectOutputs, ProviderError> {
        let (_, live) = K::OBJECT.apply(kube, &json_of(req.new)).await?;
        Ok(ObjectOutputs::of(&live))
    }

    async fn delete(&self, kube: &Kubernetes, req: Delete<'_, K::Inputs, ObjectOutputs>) -> Result<(), ProviderError> {
        K::OBJECT.delete(kube, req.id, req.timeout).await
    }
}

/// A map input built from outputs (annotations whose values are outputs).
pub(crate) fn output_map(pairs: &[(String, Output<String>)]) -> Output<Value> {
    let pairs: Vec<Output<(String, String)>> = pairs
        .iter()
        .map(|(k, v)| {
            let k = k.clone();
            v.map(move |v| (k.clone(), v))
        })
        .collect();
    Output::all(pairs).map(|p| Value::Map(p.into_iter().map(|(k, v)| (k, Value::from(v))).collect()))
}

#[cfg(test)]
mod tests;
