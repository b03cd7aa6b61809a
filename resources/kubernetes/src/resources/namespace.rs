//! `kubernetes:core:Namespace`, and `Namespace::existing` for namespaces made outside the program.

use serde::{Deserialize, Serialize};
use strake::provider::ProviderError;
use strake::typed::*;
use strake::{Output, ProviderRef, Resource, ResourceHandle, Stack};

use super::{Kind, ObjectKind, ObjectOutputs, StringMap};
use crate::provider::Kubernetes;

pub const TYPE: &str = "kubernetes:core:Namespace";
/// A data source: a namespace that must already exist.
pub const LOOKUP_TYPE: &str = "kubernetes:core:ExistingNamespace";

const OBJECT: ObjectKind =
    ObjectKind { type_token: TYPE, group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false, fields: &[] };

/// The inputs of a namespace.
#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
#[strake(handle = Namespace)]
pub struct NamespaceInputs {
    /// The namespace's name.
    #[strake(replace_on)]
    pub name: String,
    /// The namespace's labels.
    #[strake(set, pairs)]
    pub labels: Option<StringMap>,
    /// The namespace's annotations.
    #[strake(set, pairs)]
    pub annotations: Option<StringMap>,
}

pub(crate) struct NamespaceKind;

impl Kind for NamespaceKind {
    const OBJECT: ObjectKind = OBJECT;
    type Inputs = NamespaceInputs;
}

/// A namespace looked up, not managed: `labels` and `annotations` are refused with what to do.
pub(crate) struct ExistingNamespaceType;

impl DataSourceType for ExistingNamespaceType {
    type Context = Kubernetes;
    type Inputs = NamespaceInputs;
    type Outputs = ObjectOutputs;
    const TYPE: &'static str = LOOKUP_TYPE;

    fn check(&self, _kube: &Kubernetes, c: &mut Check<NamespaceInputs>) {
        if c.inputs().is_set(NamespaceInputs::LABELS) || c.inputs().is_set(NamespaceInputs::ANNOTATIONS) {
            c.fail(NamespaceInputs::LABELS, "an existing namespace is only looked up; declare it with `Namespace::new` to manage it");
        }
    }

    async fn read(&self, kube: &Kubernetes, query: &NamespaceInputs) -> Result<Option<Found<ObjectOutputs>>, ProviderError> {
        let live = OBJECT.get(kube, None, &query.name).await?.filter(|l| !super::object::is_going(l));
        Ok(live.map(|live| Found::new(query.name.clone(), ObjectOutputs::of(&live))))
    }
}

/// A namespace: declared (and managed) with [`Namespace::new`], or looked up with [`Namespace::existing`].
#[derive(Clone, ResourceHandle)]
pub struct Namespace(Resource);

impl Namespace {
    /// Declares a namespace named `name`.
    #[track_caller]
    pub fn new(stack: &Stack, name: &str, provider: &ProviderRef) -> Namespace {
        let r = stack.resource(TYPE, name).provider(provider);
        r.set(NamespaceInputs::NAME, name);
        Namespace(r)
    }

    /// A namespace that must already exist in the cluster (e.g. `default`); planning fails clearly if it does not.
    #[track_caller]
    pub fn existing(stack: &Stack, name: &str, provider: &ProviderRef) -> Namespace {
        let r = stack.data_source(LOOKUP_TYPE, name).provider(provider);
        r.set(NamespaceInputs::NAME, name);
        Namespace(r)
    }

    /// The namespace's name (an output, so users depend on the namespace).
    pub fn name(&self) -> Output<String> {
        self.0.get(ObjectOutputs::NAME)
    }
}
