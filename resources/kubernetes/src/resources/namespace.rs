//! `kubernetes:core:Namespace`, and `Namespace::existing` for namespaces made outside the program.

use strake::provider::CheckFailure;
use strake::{Output, ProviderRef, Resource, ResourceHandle, Stack, Value};

use super::{Object, no_extra_check, string_map};

pub const TYPE: &str = "kubernetes:core:Namespace";
/// A data source: a namespace that must already exist.
pub const LOOKUP_TYPE: &str = "kubernetes:core:ExistingNamespace";

const BASE: Object = Object {
    group: "",
    version: "v1",
    kind: "Namespace",
    plural: "namespaces",
    namespaced: false,
    fields: &[],
    local: &[],
    extra_check: no_extra_check,
};

pub(crate) static NAMESPACE: Object = BASE;

pub(crate) static LOOKUP: Object = Object { extra_check: lookup_check, ..BASE };

fn lookup_check(inputs: &Value, failures: &mut Vec<CheckFailure>) {
    if inputs.get("labels").is_some() || inputs.get("annotations").is_some() {
        failures.push(CheckFailure::new("labels", "an existing namespace is only looked up; declare it with `Namespace::new` to manage it"));
    }
}

/// A namespace: declared (and managed) with [`Namespace::new`], or looked up with [`Namespace::existing`].
#[derive(Clone)]
pub struct Namespace(Resource);

impl Namespace {
    /// Declares a namespace named `name`.
    #[track_caller]
    pub fn new(stack: &Stack, name: &str, provider: &ProviderRef) -> Namespace {
        let r = stack.resource(TYPE, name).provider(provider);
        r.set_input("name", name);
        Namespace(r)
    }

    /// A namespace that must already exist in the cluster (e.g. `default`); planning fails clearly if it does not.
    #[track_caller]
    pub fn existing(stack: &Stack, name: &str, provider: &ProviderRef) -> Namespace {
        let r = stack.data_source(LOOKUP_TYPE, name).provider(provider);
        r.set_input("name", name);
        Namespace(r)
    }

    pub fn labels<K: Into<String>, V: Into<String>>(self, labels: impl IntoIterator<Item = (K, V)>) -> Self {
        self.0.set_input("labels", string_map(labels));
        self
    }

    pub fn annotations<K: Into<String>, V: Into<String>>(self, annotations: impl IntoIterator<Item = (K, V)>) -> Self {
        self.0.set_input("annotations", string_map(annotations));
        self
    }

    /// The namespace's name (an output, so users depend on the namespace).
    pub fn name(&self) -> Output<String> {
        self.0.output_string("name")
    }
}

impl ResourceHandle for Namespace {
    fn resource(&self) -> &Resource {
        &self.0
    }
}
