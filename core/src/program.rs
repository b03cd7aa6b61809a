//! The declared program: what the user's closure registered on the [`Stack`].
//!
//! Declarations are plain data plus lazy [`Output`]s; building a [`Program`] does no I/O.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::panic::Location;
use std::rc::Rc;
use std::sync::Arc;

use crate::options::{ResourceOptions, Timeouts};
use crate::output::{Env, OutputError};
use crate::provider::{ProviderConfig, ProviderFactory};
use crate::{Config, Error, Output, Urn, Value};

/// Whether a declaration is managed or only read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclKind {
    /// A managed resource: created, updated and deleted.
    Resource,
    /// A data source: only read.
    DataSource,
}

/// One resource or data source as declared.
#[derive(Clone)]
pub struct Declaration {
    /// Its URN.
    pub urn: Urn,
    /// Managed or only read.
    pub kind: DeclKind,
    /// Its input properties, sorted by name, each possibly waiting on other resources' outputs.
    /// A list rather than a map: most resources set a handful, and a large stack keeps every
    /// declaration for the whole run.
    pub inputs: Vec<(String, Output<Value>)>,
    /// Its lifecycle options.
    pub options: ResourceOptions,
    /// Where the program declared it (for duplicate-name errors).
    pub location: &'static Location<'static>,
}

impl Declaration {
    /// Everything this declaration waits for: output dependencies, `depends_on` and its provider.
    pub fn dependencies(&self) -> BTreeSet<Urn> {
        let mut deps: BTreeSet<Urn> = self.inputs.iter().flat_map(|(_, o)| o.dependencies().iter().cloned()).collect();
        deps.extend(self.options.depends_on.iter().cloned());
        deps.extend(self.options.provider.iter().cloned());
        deps
    }

    /// The inputs as one map value (unknown parts as [`Value::Unknown`]).
    pub fn resolve_inputs(&self, env: &dyn Env) -> Result<Value, OutputError> {
        let entries: Result<crate::value::Map, OutputError> = self.inputs.iter().map(|(k, o)| Ok((k.clone(), o.resolve_value(env)?))).collect();
        entries.map(Value::Map)
    }

    /// Sets the input `key`.
    fn set_input(&mut self, key: &str, value: Output<Value>) {
        match self.inputs.binary_search_by(|(k, _)| k.as_str().cmp(key)) {
            Ok(i) => self.inputs[i].1 = value,
            Err(i) => {
                self.inputs.reserve_exact(1);
                self.inputs.insert(i, (key.to_string(), value));
            }
        }
    }
}

/// A provider configuration as declared.
#[derive(Clone)]
pub struct ProviderDeclaration {
    /// Its URN: `urn:strake:<stack>::strake:provider:<package>::<name>`.
    pub urn: Urn,
    /// The package whose types it serves, e.g. `aws`.
    pub package: String,
    /// Its configuration (may depend on other resources' outputs).
    pub config: Output<Value>,
    /// Builds the configured provider once the configuration is known.
    pub factory: Arc<dyn ProviderFactory>,
    /// Where the program declared it (for duplicate-name errors).
    pub location: &'static Location<'static>,
}

/// A reference to a declared provider configuration, passed to resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRef {
    urn: Urn,
    package: String,
}

impl ProviderRef {
    /// The provider configuration's URN.
    pub fn urn(&self) -> &Urn {
        &self.urn
    }

    /// The package whose types it serves, e.g. `aws`.
    pub fn package(&self) -> &str {
        &self.package
    }
}

/// The whole declared program.
#[derive(Clone, Default)]
pub struct Program {
    /// The stack's name.
    pub stack: String,
    /// The stack's configuration.
    pub config: Config,
    /// Resources and data sources, in declaration order.
    pub resources: Vec<Declaration>,
    /// Provider configurations, in declaration order.
    pub providers: Vec<ProviderDeclaration>,
    /// The stack outputs, by name.
    pub exports: BTreeMap<String, Output<Value>>,
}

impl Program {
    /// Runs the program closure and collects what it declared. A configuration key that is set
    /// but that the program never read (a typo, another program's setting) is an error.
    pub fn build(stack: &str, config: Config, program: impl FnOnce(&Stack) -> Result<(), Error>) -> Result<Program, Error> {
        let handle = Stack { inner: Rc::new(RefCell::new(Program { stack: stack.to_string(), config, ..Default::default() })), parent: None };
        program(&handle)?;
        handle.inner.borrow().config.check_all_read()?;
        let mut inner = Rc::try_unwrap(handle.inner).map(RefCell::into_inner).unwrap_or_else(|rc| rc.borrow().clone());
        // The declarations are kept for the whole run: without the room left by their growth.
        inner.resources.shrink_to_fit();
        Ok(inner)
    }

    /// The resource or data source declared with this URN.
    pub fn declaration(&self, urn: &Urn) -> Option<&Declaration> {
        self.resources.iter().find(|d| &d.urn == urn)
    }
}

/// What a program declares resources on. Cheap to clone; handles keep a clone to set their
/// arguments after declaration.
#[derive(Clone)]
pub struct Stack {
    inner: Rc<RefCell<Program>>,
    /// Set on the view a component's children are declared on.
    parent: Option<Urn>,
}

impl Stack {
    /// The stack's name.
    pub fn name(&self) -> String {
        self.inner.borrow().stack.clone()
    }

    /// The stack's configuration (`Strake.toml` and `--config`).
    pub fn config(&self) -> Config {
        self.inner.borrow().config.clone()
    }

    /// A component: a named group of resources (e.g. everything IRSA needs). Resources declared
    /// on the returned stack are its children; plans show them grouped under it.
    pub fn component(&self, type_token: &str, name: &str) -> Stack {
        let urn = Urn::new(&self.inner.borrow().stack, type_token, name);
        Stack { inner: self.inner.clone(), parent: Some(urn) }
    }

    /// The component this stack view declares children of, if any.
    pub fn parent(&self) -> Option<&Urn> {
        self.parent.as_ref()
    }

    /// Declares a provider configuration, e.g. one per cloud account.
    #[track_caller]
    pub fn provider(&self, name: &str, config: impl ProviderConfig) -> ProviderRef {
        let factory = config.factory();
        let package = factory.package().to_string();
        let mut inner = self.inner.borrow_mut();
        let urn = Urn::new(&inner.stack, &format!("strake:provider:{package}"), name);
        inner.providers.push(ProviderDeclaration {
            urn: urn.clone(),
            package: package.clone(),
            config: config.config(),
            factory,
            location: Location::caller(),
        });
        ProviderRef { urn, package }
    }

    /// Declares a managed resource of `type_token` (the building block of typed resources).
    #[track_caller]
    pub fn resource(&self, type_token: &str, name: &str) -> Resource {
        self.declare(type_token, name, DeclKind::Resource, Location::caller())
    }

    /// Declares a data source: read at plan time when its inputs are known.
    #[track_caller]
    pub fn data_source(&self, type_token: &str, name: &str) -> Resource {
        self.declare(type_token, name, DeclKind::DataSource, Location::caller())
    }

    fn declare(&self, type_token: &str, name: &str, kind: DeclKind, location: &'static Location<'static>) -> Resource {
        let mut inner = self.inner.borrow_mut();
        let urn = Urn::new(&inner.stack, type_token, name);
        inner.resources.push(Declaration {
            urn: urn.clone(),
            kind,
            inputs: Vec::new(),
            options: ResourceOptions { parent: self.parent.clone(), ..Default::default() },
            location,
        });
        Resource { stack: self.clone(), index: inner.resources.len() - 1, urn }
    }

    /// Exports a stack output (shown by `outputs` and after apply).
    pub fn export(&self, name: &str, value: impl Into<Output<Value>>) {
        self.inner.borrow_mut().exports.insert(name.to_string(), value.into());
    }
}

/// An untyped handle to a declared resource. Typed resources wrap one.
#[derive(Clone)]
pub struct Resource {
    stack: Stack,
    index: usize,
    urn: Urn,
}

impl Resource {
    /// The resource's URN.
    pub fn urn(&self) -> &Urn {
        &self.urn
    }

    /// Sets an input property.
    pub fn set_input(&self, key: &str, value: impl Into<Output<Value>>) {
        self.stack.inner.borrow_mut().resources[self.index].set_input(key, value.into());
    }

    /// Sets an input field through its typed key: `r.set(RoleInputs::PATH, "/app/")`.
    pub fn set<S, T: serde::Serialize + Clone + Send + Sync + 'static>(&self, field: crate::typed::Field<S, T>, value: impl Into<Output<T>>) {
        self.set_input(field.name(), value.into().into_value());
    }

    /// Sets an input field to a dynamic value (a policy document, a list of outputs).
    pub fn set_value<S, T>(&self, field: crate::typed::Field<S, T>, value: impl Into<Output<Value>>) {
        self.set_input(field.name(), value);
    }

    /// An output field through its typed key: `r.get(RoleOutputs::ARN)`.
    pub fn get<S, T: serde::de::DeserializeOwned + Send + Sync + 'static>(&self, field: crate::typed::Field<S, T>) -> Output<T> {
        self.output(field.name()).typed()
    }

    /// An output property (dotted path) of this resource; `"id"` is the physical id.
    pub fn output(&self, path: &str) -> Output<Value> {
        Output::property(&self.urn, path)
    }

    /// A string output property.
    pub fn output_string(&self, path: &str) -> Output<String> {
        self.output(path).typed()
    }

    /// Changes this resource's options.
    pub fn update_options(&self, f: impl FnOnce(&mut ResourceOptions)) {
        f(&mut self.stack.inner.borrow_mut().resources[self.index].options);
    }
}

/// Options every resource handle supports. Implement `resource()`; the rest is provided.
pub trait ResourceHandle: Sized {
    /// The untyped resource this handle wraps.
    fn resource(&self) -> &Resource;

    /// The resource's URN.
    fn urn(&self) -> Urn {
        self.resource().urn().clone()
    }

    /// The physical id, known after create.
    fn id(&self) -> Output<String> {
        self.resource().output_string("id")
    }

    /// Waits for `other` even though no output flows from it.
    fn depends_on(self, other: &impl ResourceHandle) -> Self {
        let urn = other.urn();
        self.resource().update_options(|o| o.depends_on.push(urn));
        self
    }

    /// Refuses to delete or replace the resource.
    fn protect(self) -> Self {
        self.resource().update_options(|o| o.protect = true);
        self
    }

    /// Ignores later changes of these input paths.
    fn ignore_changes(self, paths: &[&str]) -> Self {
        self.resource().update_options(|o| o.ignore_changes.extend(paths.iter().map(|p| p.to_string())));
        self
    }

    /// Replaces the resource when these input paths change.
    fn replace_on_changes(self, paths: &[&str]) -> Self {
        self.resource().update_options(|o| o.replace_on_changes.extend(paths.iter().map(|p| p.to_string())));
        self
    }

    /// Replaces by deleting first.
    fn delete_before_replace(self) -> Self {
        self.resource().update_options(|o| o.delete_before_replace = true);
        self
    }

    /// Leaves the cloud object in place when the resource is deleted.
    fn retain_on_delete(self) -> Self {
        self.resource().update_options(|o| o.retain_on_delete = true);
        self
    }

    /// Sets the time limits of its create, update and delete.
    fn timeouts(self, timeouts: Timeouts) -> Self {
        self.resource().update_options(|o| o.timeouts = timeouts);
        self
    }

    /// Uses this provider configuration instead of the package default.
    fn provider(self, provider: &ProviderRef) -> Self {
        let urn = provider.urn().clone();
        self.resource().update_options(|o| o.provider = Some(urn));
        self
    }
}

impl ResourceHandle for Resource {
    fn resource(&self) -> &Resource {
        self
    }
}
