//! Typed resource types: what a provider crate implements for each type, and the one generic
//! [`Provider`](crate::provider::Provider) built from a list of them.
//!
//! A type has a [`Schema`] for its inputs and one for its outputs (serde structs with
//! `#[derive(Schema)]`) with the [`Rules`] declared on their fields, a [`Spec`] saying what the
//! type is, and the operations of
//! [`ResourceType`] (or of [`DataSourceType`], which only reads). Core does the rest: it checks
//! properties against the schema (unknown ones, types, required ones, defaults, generated
//! names), diffs with the spec's replacement rules, converts between the engine's [`Value`]s
//! and the typed structs, marks secret outputs, and dispatches by type token
//! ([`Registry`], [`TypedProvider`]).
//!
//! A resource type written in a program itself (a "dynamic provider"):
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use strake::provider::{CreatedLookup, ProviderError};
//! use strake::ResourceHandle as _;
//! use strake::typed::*;
//!
//! /// A file on the local disk.
//! #[derive(Serialize, Deserialize, Schema)]
//! struct FileInputs {
//!     /// The file's path: another path is another file.
//!     #[strake(replace_on)]
//!     path: String,
//!     #[strake(default = "")]
//!     content: String,
//! }
//!
//! #[derive(Serialize, Deserialize, Schema)]
//! struct FileOutputs {
//!     size: u64,
//! }
//!
//! struct File;
//!
//! impl ResourceType for File {
//!     type Context = ();
//!     type Inputs = FileInputs;
//!     type Outputs = FileOutputs;
//!     const SPEC: Spec = Spec::new("local:fs:File", CreatedLookup::FromInputs);
//!
//!     async fn create(&self, _: &(), req: Create<'_, FileInputs>) -> Result<Created<FileOutputs>, ProviderError> {
//!         let i = req.inputs;
//!         std::fs::write(&i.path, &i.content).map_err(|e| ProviderError::permanent(e.to_string()))?;
//!         Ok(Created::new(i.path.clone(), FileOutputs { size: i.content.len() as u64 }))
//!     }
//!
//!     async fn read(&self, _: &(), req: Read<'_, FileInputs, FileOutputs>) -> Result<Option<Observed<FileInputs, FileOutputs>>, ProviderError> {
//!         let Some(path) = req.locate(|id| Ok(id.to_string()), |i| i.path.clone())? else { return Ok(None) };
//!         Ok(std::fs::read_to_string(&path).ok().map(|content| {
//!             let size = content.len() as u64;
//!             Observed::new(path.clone(), FileInputs { path, content }, FileOutputs { size })
//!         }))
//!     }
//!
//!     async fn update(&self, ctx: &(), req: Update<'_, FileInputs, FileOutputs>) -> Result<FileOutputs, ProviderError> {
//!         std::fs::write(&req.new.path, &req.new.content).map_err(|e| ProviderError::permanent(e.to_string()))?;
//!         Ok(FileOutputs { size: req.new.content.len() as u64 })
//!     }
//!
//!     async fn delete(&self, _: &(), req: Delete<'_, FileInputs, FileOutputs>) -> Result<(), ProviderError> {
//!         match std::fs::remove_file(req.id) {
//!             Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(ProviderError::permanent(e.to_string())),
//!             _ => Ok(()),
//!         }
//!     }
//! }
//!
//! // The program declares the provider with its types, then resources of them.
//! strake::Program::build("files", strake::Config::default(), |stack| {
//!     let local = stack.provider("local", ProgramProvider::new(Registry::new("local").resource(File), ()));
//!     let file = stack.resource("local:fs:File", "motd").provider(&local);
//!     file.set(FileInputs::PATH, "/tmp/motd");
//!     file.set(FileInputs::CONTENT, "hello");
//!     stack.export("size", file.get(FileOutputs::SIZE).into_value());
//!     Ok(())
//! })
//! .unwrap();
//! ```

mod check;
mod program_provider;
mod registry;
mod schema;
mod spec;
#[cfg(test)]
mod tests;

use futures::future::BoxFuture;

pub use check::{Check, generated_name};
pub use program_provider::ProgramProvider;
pub use registry::{Registry, TypedProvider};
pub use schema::{Field, FieldInfo, Known, Partial, Rules, Schema, check_type, inputs_value, to_value};
pub use spec::Spec;
pub use strake_derive::Schema;

use crate::provider::{PreflightRequest, ProviderError, ResourceId, Target};
use crate::{Urn, Value};

/// A managed resource type: created, read, updated and deleted through a provider's
/// [`Self::Context`] (its configured clients). An implementation writes the four operations as
/// plain `async fn`s; what they hold across an `.await` must be `Send`.
pub trait ResourceType: Send + Sync + 'static {
    /// What the configured provider hands every operation (its clients, account, cluster).
    type Context: Send + Sync + 'static;
    /// What a program sets: the properties the object is created and updated from.
    type Inputs: Schema;
    /// What the provider reports back once the object exists.
    type Outputs: Schema;
    /// What the type is (its token, how an interrupted create is found, its schema version).
    const SPEC: Spec;

    /// Checks what only this type knows, after core applied the schema and its rules. Pure (no
    /// I/O); values may be unknown until apply.
    fn check(&self, _ctx: &Self::Context, _inputs: &mut Check<Self::Inputs>) {}

    /// The outputs a create or update will have, as far as known at plan time (fields left out
    /// are unknown until apply). `prior` holds the recorded outputs for an update. Pure.
    fn preview(
        &self,
        _ctx: &Self::Context,
        _inputs: &Partial<Self::Inputs>,
        _prior: Option<&Partial<Self::Outputs>>,
    ) -> Option<Partial<Self::Outputs>> {
        None
    }

    /// The physical thing the object takes, unique in the cloud (`IAM role \`s3\` in account
    /// 123456789012`), so two declarations claiming it are refused at plan time. `None` when
    /// unknown or assigned by the cloud.
    fn claim(&self, _ctx: &Self::Context, _inputs: &Partial<Self::Inputs>) -> Option<String> {
        None
    }

    /// Creates the object and returns its physical id and outputs.
    fn create(
        &self,
        ctx: &Self::Context,
        req: Create<'_, Self::Inputs>,
    ) -> impl Future<Output = Result<Created<Self::Outputs>, ProviderError>> + Send;

    /// Reads the object back: by `id`, or without one (an interrupted create, a lookup) from the
    /// inputs. `None`: it does not exist. The returned inputs are how its configurable
    /// properties look now, for drift: only those the program manages.
    #[allow(clippy::type_complexity)]
    fn read(
        &self,
        ctx: &Self::Context,
        req: Read<'_, Self::Inputs, Self::Outputs>,
    ) -> impl Future<Output = Result<Option<Observed<Self::Inputs, Self::Outputs>>, ProviderError>> + Send;

    /// Updates the object in place to the new inputs and returns its outputs.
    fn update(
        &self,
        ctx: &Self::Context,
        req: Update<'_, Self::Inputs, Self::Outputs>,
    ) -> impl Future<Output = Result<Self::Outputs, ProviderError>> + Send;

    /// Deletes the object. Deleting an object that is already gone succeeds.
    fn delete(&self, ctx: &Self::Context, req: Delete<'_, Self::Inputs, Self::Outputs>) -> impl Future<Output = Result<(), ProviderError>> + Send;

    /// Rewrites a record of an older schema version (`from`, below [`Spec::version`]) into the
    /// current shape: inputs and outputs as recorded. Called once per record on load.
    fn upgrade(&self, from: u32, _recorded: Recorded) -> Result<Recorded, String> {
        Err(format!("`{}` records of schema version {from} cannot be upgraded to version {}", Self::SPEC.type_token, Self::SPEC.version))
    }
}

/// A data source: read at plan time from its inputs, never created, updated or deleted.
pub trait DataSourceType: Send + Sync + 'static {
    /// What the configured provider hands every read (its clients, account, cluster).
    type Context: Send + Sync + 'static;
    /// What the lookup is by.
    type Inputs: Schema;
    /// What it found.
    type Outputs: Schema;
    /// The type token.
    const TYPE: &'static str;

    /// Checks what only this type knows (pure; values may be unknown).
    fn check(&self, _ctx: &Self::Context, _inputs: &mut Check<Self::Inputs>) {}

    /// Looks the object up. `None`: nothing matches (the engine says what was looked for, where).
    fn read(&self, ctx: &Self::Context, inputs: &Self::Inputs) -> impl Future<Output = Result<Option<Found<Self::Outputs>>, ProviderError>> + Send;
}

/// What a configured provider is, beyond its types: where its changes land and how it proves,
/// before an apply, that it can make them.
pub trait ProviderContext: Send + Sync + 'static {
    /// Where this provider's changes land (see [`crate::provider::Provider::target`]).
    fn target(&self) -> Option<Target> {
        None
    }

    /// See [`crate::provider::Provider::preflight`].
    fn preflight(&self, _req: PreflightRequest) -> impl Future<Output = Result<(), ProviderError>> + Send {
        async { Ok(()) }
    }

    /// Runs one operation of a type (a create, read, update or delete), so the provider can
    /// wrap them all in one place (to watch the API calls they make, say).
    fn scope<'a, T: Send + 'a>(&'a self, operation: BoxFuture<'a, Result<T, ProviderError>>) -> BoxFuture<'a, Result<T, ProviderError>> {
        operation
    }
}

impl ProviderContext for () {}

/// A create: the checked inputs, all known.
#[derive(Debug)]
#[non_exhaustive]
pub struct Create<'a, I> {
    /// The resource's URN.
    pub urn: &'a Urn,
    /// The checked inputs, secrets revealed.
    pub inputs: &'a I,
    /// The resource's create timeout, if it sets one (the engine enforces it).
    pub timeout: Option<std::time::Duration>,
}

/// What a create made.
#[derive(Debug)]
#[non_exhaustive]
pub struct Created<O> {
    /// The physical id of the object made.
    pub id: ResourceId,
    /// Its outputs.
    pub outputs: O,
}

impl<O> Created<O> {
    /// The object made: its physical id and its outputs.
    pub fn new(id: impl Into<ResourceId>, outputs: O) -> Self {
        Created { id: id.into(), outputs }
    }
}

/// A read: by id, or (without one) from the inputs. `inputs` and `outputs` are the recorded
/// ones when the resource has a record (`None` for an import).
#[derive(Debug)]
#[non_exhaustive]
pub struct Read<'a, I, O> {
    /// The resource's URN.
    pub urn: &'a Urn,
    /// The object's physical id, when known.
    pub id: Option<&'a str>,
    /// The recorded inputs, or the checked ones when there is no record (`None` when they do not
    /// have the schema's shape).
    pub inputs: Option<&'a I>,
    /// The recorded outputs (`None` when there are none, or they do not have the schema's shape).
    pub outputs: Option<&'a O>,
}

impl<'a, I, O> Read<'a, I, O> {
    /// What the object is found by: its id, read by `by_id` (which says what is wrong with an id
    /// of the wrong form), or, for a read without one (an interrupted create, a lookup), what the
    /// inputs say. `None` with neither.
    pub fn locate<K>(
        &self,
        by_id: impl FnOnce(&'a str) -> Result<K, ProviderError>,
        by_inputs: impl FnOnce(&'a I) -> K,
    ) -> Result<Option<K>, ProviderError> {
        match (self.id, self.inputs) {
            (Some(id), _) => by_id(id).map(Some),
            (None, Some(inputs)) => Ok(Some(by_inputs(inputs))),
            (None, None) => Ok(None),
        }
    }
}

/// An object as it is now.
#[derive(Debug)]
#[non_exhaustive]
pub struct Observed<I, O> {
    /// The object's physical id.
    pub id: ResourceId,
    /// Its configurable properties now, as the program would give them (compared for drift).
    pub inputs: I,
    /// Its outputs now.
    pub outputs: O,
}

impl<I, O> Observed<I, O> {
    /// The object found: its physical id, its configurable properties and its outputs.
    pub fn new(id: impl Into<ResourceId>, inputs: I, outputs: O) -> Self {
        Observed { id: id.into(), inputs, outputs }
    }
}

/// What a data source found.
#[derive(Debug)]
#[non_exhaustive]
pub struct Found<O> {
    /// The physical id of the object found.
    pub id: ResourceId,
    /// What was read from it.
    pub outputs: O,
}

impl<O> Found<O> {
    /// The object found: its physical id and what was read from it.
    pub fn new(id: impl Into<ResourceId>, outputs: O) -> Self {
        Found { id: id.into(), outputs }
    }
}

/// An update in place: the recorded and the new inputs, and which properties changed.
#[derive(Debug)]
#[non_exhaustive]
pub struct Update<'a, I, O> {
    /// The resource's URN.
    pub urn: &'a Urn,
    /// The object's physical id.
    pub id: &'a str,
    /// The recorded inputs.
    pub old: &'a I,
    /// The new inputs, all known, secrets revealed.
    pub new: &'a I,
    /// The recorded outputs (`None` when they do not have the schema's shape).
    pub old_outputs: Option<&'a O>,
    /// The changed properties, as dotted paths (see [`Update::changed`]).
    pub changes: &'a [String],
    /// The resource's update timeout, if it sets one (the engine enforces it).
    pub timeout: Option<std::time::Duration>,
}

impl<I: Schema, O> Update<'_, I, O> {
    /// Whether the field is among the changed properties.
    pub fn changed<T>(&self, field: Field<I, T>) -> bool {
        self.changes.iter().any(|c| c == field.name())
    }
}

/// A delete of a recorded object.
#[derive(Debug)]
#[non_exhaustive]
pub struct Delete<'a, I, O> {
    /// The resource's URN.
    pub urn: &'a Urn,
    /// The object's physical id.
    pub id: &'a str,
    /// The recorded inputs.
    pub inputs: &'a I,
    /// The recorded outputs (`None` when they do not have the schema's shape).
    pub outputs: Option<&'a O>,
    /// The resource's delete timeout, if it sets one (the engine enforces it).
    pub timeout: Option<std::time::Duration>,
}

/// A record's inputs and outputs as stored, for [`ResourceType::upgrade`].
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// The recorded inputs.
    pub inputs: Value,
    /// The recorded outputs.
    pub outputs: Value,
}
