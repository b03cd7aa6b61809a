//! The provider contract: what a cloud plugin implements.
//!
//! A provider handles a set of type tokens (`aws:iam:Role`, ...). `check` and `diff` are pure
//! (no I/O) so planning stays cheap; `create`, `read`, `update` and `delete` do the I/O. Requests
//! and responses are structs so fields can be added without breaking providers.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::{Urn, Value, diff};

/// The physical identity a provider gives an object (an ARN, a name, a uid).
pub type ResourceId = String;

/// Validate and normalize a resource's inputs. Inputs may contain unknowns at plan time.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CheckRequest {
    /// The resource's URN.
    pub urn: Urn,
    /// The resource's type token, e.g. `aws:iam:Role`.
    pub type_token: String,
    /// The inputs as the program gives them.
    pub inputs: Value,
    /// The inputs recorded in state, when the resource exists (e.g. to keep a generated name).
    pub prior_inputs: Option<Value>,
}

/// One problem with one input property. `reason` says the rule and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckFailure {
    /// Dotted property path, e.g. `name` or `tags.env`.
    pub property: String,
    /// What is wrong and how to fix it.
    pub reason: String,
}

impl CheckFailure {
    /// A problem with the input at `property` (a dotted path).
    pub fn new(property: impl Into<String>, reason: impl Into<String>) -> Self {
        CheckFailure { property: property.into(), reason: reason.into() }
    }
}

/// The checked inputs and what is wrong with them. Build it with [`CheckResponse::new`]: fields
/// may be added, so providers outside core never spell it out.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CheckResponse {
    /// The normalized inputs (defaults applied, generated names filled in).
    pub inputs: Value,
    /// Problems that stop the plan.
    pub failures: Vec<CheckFailure>,
    /// Problems worth knowing that do not stop the plan (shown as warnings).
    pub warnings: Vec<CheckFailure>,
}

impl CheckResponse {
    /// These inputs, with nothing wrong.
    pub fn new(inputs: Value) -> Self {
        CheckResponse { inputs, failures: Vec::new(), warnings: Vec::new() }
    }

    /// Adds problems that stop the plan.
    pub fn with_failures(mut self, failures: impl IntoIterator<Item = CheckFailure>) -> Self {
        self.failures.extend(failures);
        self
    }

    /// Adds problems shown as warnings.
    pub fn with_warnings(mut self, warnings: impl IntoIterator<Item = CheckFailure>) -> Self {
        self.warnings.extend(warnings);
        self
    }
}

/// Compare a resource's recorded inputs with its new ones: what changes, and what of that forces a
/// replacement.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DiffRequest {
    /// The resource's URN.
    pub urn: Urn,
    /// The resource's type token, e.g. `aws:iam:Role`.
    pub type_token: String,
    /// The object's physical id.
    pub id: ResourceId,
    /// The inputs recorded in state.
    pub old_inputs: Value,
    /// The outputs recorded in state.
    pub old_outputs: Value,
    /// Checked inputs; may contain unknowns.
    pub new_inputs: Value,
}

impl DiffRequest {
    /// The comparison of recorded object `id` (its recorded inputs and outputs) with new inputs.
    pub fn new(urn: Urn, id: impl Into<ResourceId>, old_inputs: Value, old_outputs: Value, new_inputs: Value) -> Self {
        DiffRequest { type_token: urn.type_token().to_string(), urn, id: id.into(), old_inputs, old_outputs, new_inputs }
    }
}

/// What changed and what of that forces a replacement. Build it with [`DiffResponse::new`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DiffResponse {
    /// Dotted property paths whose value changes (empty: no changes).
    pub changes: Vec<String>,
    /// The subset of changes the provider cannot update in place.
    pub replaces: Vec<String>,
    /// The provider cannot have the old and new object at once (e.g. a fixed unique name).
    pub delete_before_replace: bool,
}

/// What the outputs of a resource about to be created or updated will be, as far as known at plan time.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PreviewRequest {
    /// The resource's URN.
    pub urn: Urn,
    /// The resource's type token, e.g. `aws:iam:Role`.
    pub type_token: String,
    /// The checked inputs; may contain unknowns.
    pub inputs: Value,
    /// Outputs recorded in state (for updates).
    pub prior_outputs: Option<Value>,
}

/// Create an object.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CreateRequest {
    /// The resource's URN.
    pub urn: Urn,
    /// The resource's type token, e.g. `aws:iam:Role`.
    pub type_token: String,
    /// Known inputs; secrets still carry [`Value::Secret`] markers (`deserialize_into` reveals them).
    pub inputs: Value,
    /// The resource's create timeout, if it sets one; the engine stops the call (retries included)
    /// when it runs out.
    pub timeout: Option<Duration>,
}

/// What a create made. Build it with [`CreateResponse::new`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CreateResponse {
    /// The physical id of the object made.
    pub id: ResourceId,
    /// The object's outputs, recorded in state.
    pub outputs: Value,
}

impl CreateResponse {
    /// The object made: its physical id and its outputs.
    pub fn new(id: impl Into<ResourceId>, outputs: Value) -> Self {
        CreateResponse { id: id.into(), outputs }
    }
}

/// Read an object back. With an `id`, read that object; without one (data sources, resolving an
/// interrupted create), find it from `inputs` if the provider can.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ReadRequest {
    /// The resource's URN.
    pub urn: Urn,
    /// The resource's type token, e.g. `aws:iam:Role`.
    pub type_token: String,
    /// The object's physical id, when known.
    pub id: Option<ResourceId>,
    /// The recorded inputs, or the checked inputs when there is no record.
    pub inputs: Value,
    /// The recorded outputs (`Null` when there are none).
    pub outputs: Value,
}

/// What a read found. Build a found object with [`ReadResponse::found`].
#[derive(Debug, Clone)]
pub enum ReadResponse {
    /// The object exists; `inputs` is how its configurable properties look now (for drift).
    #[non_exhaustive]
    Found {
        /// The object's physical id.
        id: ResourceId,
        /// Its configurable properties, as the program would give them.
        inputs: Value,
        /// Its outputs.
        outputs: Value,
    },
    /// The object does not exist (deleted outside Strake, or never created).
    Gone,
}

/// Update an object in place: what the diff compared (the recorded object and its new inputs,
/// all known, secrets still marked) and the changes it found.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UpdateRequest {
    /// The recorded object and its new inputs, as the diff compared them.
    pub compared: DiffRequest,
    /// The changed paths from `diff`.
    pub changes: Vec<String>,
    /// The resource's update timeout, if it sets one; the engine stops the call (retries included)
    /// when it runs out.
    pub timeout: Option<Duration>,
}

impl UpdateRequest {
    /// The update in place of what `diff` compared, to its new inputs: `changes` are the changed
    /// paths the diff found, `timeout` the resource's update timeout.
    pub fn new(compared: DiffRequest, changes: Vec<String>, timeout: Option<Duration>) -> Self {
        UpdateRequest { compared, changes, timeout }
    }
}

/// What an update left. Build it with [`UpdateResponse::new`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UpdateResponse {
    /// The object's outputs after the update, recorded in state.
    pub outputs: Value,
}

impl UpdateResponse {
    /// The object's outputs after the update.
    pub fn new(outputs: Value) -> Self {
        UpdateResponse { outputs }
    }
}

impl ReadResponse {
    /// The object exists, with these properties (`inputs` as the program would give them).
    pub fn found(id: impl Into<ResourceId>, inputs: Value, outputs: Value) -> Self {
        ReadResponse::Found { id: id.into(), inputs, outputs }
    }
}

/// Delete an object.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DeleteRequest {
    /// The resource's URN.
    pub urn: Urn,
    /// The resource's type token, e.g. `aws:iam:Role`.
    pub type_token: String,
    /// The object's physical id.
    pub id: ResourceId,
    /// The inputs recorded in state.
    pub inputs: Value,
    /// The outputs recorded in state.
    pub outputs: Value,
    /// The resource's delete timeout, if it sets one; the engine stops the call (retries included)
    /// when it runs out.
    pub timeout: Option<Duration>,
}

impl DeleteRequest {
    /// Deletes object `id` of `urn`, as recorded with `inputs` and `outputs`; no time limit of its own.
    pub fn new(urn: Urn, id: impl Into<ResourceId>, inputs: Value, outputs: Value) -> Self {
        DeleteRequest { type_token: urn.type_token().to_string(), urn, id: id.into(), inputs, outputs, timeout: None }
    }

    /// With the resource's delete timeout.
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }
}

/// A record written by an older version of its type's schema.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UpgradeRequest {
    /// The resource's URN.
    pub urn: Urn,
    /// The resource's type token, e.g. `aws:iam:Role`.
    pub type_token: String,
    /// The version the record is in.
    pub from_version: u32,
    /// The recorded inputs, in the old shape.
    pub inputs: Value,
    /// The recorded outputs, in the old shape.
    pub outputs: Value,
}

/// The record's inputs and outputs in the current schema version.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UpgradeResponse {
    /// The inputs in the current shape.
    pub inputs: Value,
    /// The outputs in the current shape.
    pub outputs: Value,
}

impl UpgradeResponse {
    /// The record's inputs and outputs rewritten into the current shape.
    pub fn new(inputs: Value, outputs: Value) -> Self {
        UpgradeResponse { inputs, outputs }
    }
}

impl DiffResponse {
    /// `changes` (dotted paths) of which `replaces` cannot be updated in place.
    pub fn new(changes: Vec<String>, replaces: Vec<String>, delete_before_replace: bool) -> Self {
        DiffResponse { changes, replaces, delete_before_replace }
    }
}

/// How the executor should treat a failed provider call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Not retried.
    Permanent,
    /// The service asked us to slow down; retried with backoff.
    Throttling,
    /// A 5xx or connection error; retried with backoff.
    Transient,
    /// The service has not caught up with an earlier change (e.g. IAM propagation); retried for a
    /// bounded time and shown as waiting.
    EventualConsistency,
}

/// A failed provider call. `code` and `message` are the service's own (e.g. `AccessDenied`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", code.as_deref().map(|c| format!("{c}: ")).unwrap_or_default())]
#[non_exhaustive]
pub struct ProviderError {
    /// Whether and how the call is retried.
    pub kind: ErrorKind,
    /// The service's error code, e.g. `AccessDenied`.
    pub code: Option<String>,
    /// The service's message.
    pub message: String,
    /// Shown while retrying, e.g. "waiting for IAM propagation".
    pub waiting_for: Option<String>,
    /// The call failed, but the service may have acted on it first: a request was sent and its
    /// answer was lost, cut short or a 5xx. The engine then reads the object back before
    /// concluding that nothing changed (a [`ErrorKind::Transient`] error is treated the same way).
    pub ambiguous: bool,
}

impl ProviderError {
    /// An error that is not retried, with no service code.
    pub fn permanent(message: impl Into<String>) -> Self {
        ProviderError::with_kind(ErrorKind::Permanent, None, message)
    }

    /// An error of this kind, with the service's code if it gave one.
    pub fn with_kind(kind: ErrorKind, code: Option<String>, message: impl Into<String>) -> Self {
        ProviderError { kind, code, message: message.into(), waiting_for: None, ambiguous: false }
    }

    /// A permanent error with a code of its own (`BucketAlreadyExists`), for a refusal the
    /// provider decides before the service would.
    pub fn coded(code: &str, message: impl Into<String>) -> Self {
        ProviderError::with_kind(ErrorKind::Permanent, Some(code.to_string()), message)
    }

    /// Whether the error has this code.
    pub fn has_code(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// Adds `advice` (what to do about it) to the message when the error has `code`.
    pub fn advise(mut self, code: &str, advice: impl FnOnce() -> String) -> Self {
        if self.has_code(code) {
            self.message.push_str(&advice());
        }
        self
    }

    /// Says what a retry waits for, shown while retrying (e.g. "waiting for IAM propagation").
    pub fn waiting_for(mut self, what: impl Into<String>) -> Self {
        self.waiting_for = Some(what.into());
        self
    }

    /// Marks the error as one after which the service may have acted (see [`Self::ambiguous`]).
    pub fn ambiguous(mut self) -> Self {
        self.ambiguous = true;
        self
    }

    /// Whether the failed call may have changed something: marked so, or a transient failure (a
    /// 5xx or a lost connection, which may come after the service acted).
    pub fn may_have_acted(&self) -> bool {
        self.ambiguous || self.kind == ErrorKind::Transient
    }

    /// Whether the engine retries the call: every kind but [`ErrorKind::Permanent`].
    pub fn is_retryable(&self) -> bool {
        self.kind != ErrorKind::Permanent
    }
}

/// Receives the retries a provider makes of single API calls inside one operation.
pub type RetryReporter = std::sync::Arc<dyn Fn(u32, &ProviderError) + Send + Sync>;

tokio::task_local! {
    static RETRY_REPORTER: RetryReporter;
}

/// Reports that the provider is retrying one API call of the operation in progress (its
/// `attempt`-th attempt failed with `error`): shown like the engine's own retries. Outside an
/// operation the engine runs, it does nothing.
pub fn report_retry(attempt: u32, error: &ProviderError) {
    let _ = RETRY_REPORTER.try_with(|report| report(attempt, error));
}

/// Runs a provider operation with `reporter` receiving its [`report_retry`] calls.
pub(crate) async fn reporting_retries<F: std::future::Future>(reporter: RetryReporter, operation: F) -> F::Output {
    RETRY_REPORTER.scope(reporter, operation).await
}

/// What a plan will ask of one provider: its [`Provider::preflight`] checks it can be done.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PreflightRequest {
    /// The planned changes that go through the provider.
    pub changes: Vec<PlannedChange>,
}

/// One planned change, as a preflight sees it.
#[derive(Debug, Clone)]
pub struct PlannedChange {
    /// The resource's URN.
    pub urn: Urn,
    /// The resource's type token, e.g. `aws:iam:Role`.
    pub type_token: String,
    /// What the plan does to it.
    pub action: crate::plan::Action,
    /// The planned inputs (the recorded ones for a delete); unknowns possible.
    pub inputs: Value,
}

/// Where a configured provider's changes land, shown in plans so a reviewer sees the account or
/// cluster of every change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Target {
    /// For people: `account 222222222222 as arn:aws:sts::...:assumed-role/deployer/strake, region us-east-1`.
    pub description: String,
    /// What two providers landing in the same place share (`aws account 222222222222`): two
    /// providers configured differently that land in one destination get a warning.
    pub destination: Option<String>,
}

/// Whether a create whose answer was lost can be found again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CreatedLookup {
    /// The object can be found from the create's inputs alone (a name the inputs fix, or an
    /// idempotency token in them): [`Provider::read`] without an id finds it. An interrupted
    /// create is then read back and adopted, or cleared when nothing was made.
    FromInputs,
    /// The cloud assigns the id, so an object whose create answer was lost cannot be told apart
    /// from others. The engine never clears such a create's pending record on its own: it keeps
    /// it, warns, and waits for the user to import the object or drop the record.
    Unfindable,
    /// The object lives only in Strake's state (as a [`crate::Data`] does): its calls act nowhere
    /// else, so a lost answer leaves nothing to find. The engine writes no pending record around
    /// them, and each step is one commit instead of two.
    StateOnly,
}

/// A configured provider: one per provider configuration in the program (e.g. one per account).
///
/// Most providers implement it once for many types through [`crate::typed`]. Written by hand, a
/// provider of notes kept in memory, whose id is the resource's name:
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
///
/// use async_trait::async_trait;
/// use strake::Value;
/// use strake::provider::*;
///
/// #[derive(Default)]
/// struct Notes(Mutex<HashMap<String, Value>>);
///
/// #[async_trait]
/// impl Provider for Notes {
///     fn created_lookup(&self, _type_token: &str) -> CreatedLookup {
///         // The id comes from the inputs' name, so a create whose answer was lost is found again.
///         CreatedLookup::FromInputs
///     }
///
///     async fn create(&self, req: CreateRequest) -> Result<CreateResponse, ProviderError> {
///         let id = req.urn.name().to_string();
///         self.0.lock().unwrap().insert(id.clone(), req.inputs);
///         Ok(CreateResponse::new(id, Value::map()))
///     }
///
///     async fn read(&self, req: ReadRequest) -> Result<ReadResponse, ProviderError> {
///         let id = req.id.unwrap_or_else(|| req.urn.name().to_string());
///         Ok(match self.0.lock().unwrap().get(&id) {
///             Some(inputs) => ReadResponse::found(id, inputs.clone(), Value::map()),
///             None => ReadResponse::Gone,
///         })
///     }
///
///     async fn update(&self, req: UpdateRequest) -> Result<UpdateResponse, ProviderError> {
///         self.0.lock().unwrap().insert(req.compared.id, req.compared.new_inputs);
///         Ok(UpdateResponse::new(Value::map()))
///     }
///
///     async fn delete(&self, req: DeleteRequest) -> Result<(), ProviderError> {
///         self.0.lock().unwrap().remove(&req.id);
///         Ok(())
///     }
/// }
///
/// let provider: std::sync::Arc<dyn Provider> = std::sync::Arc::new(Notes::default());
/// assert_eq!(provider.created_lookup("notes:index:Note"), CreatedLookup::FromInputs);
/// ```
#[async_trait]
pub trait Provider: Send + Sync {
    /// Whether an interrupted create of `type_token` can be found again from its inputs. Part of
    /// the contract on purpose (no default): a type that cannot must say so, or a crash at the
    /// wrong moment would leak one object silently.
    fn created_lookup(&self, type_token: &str) -> CreatedLookup;

    /// Where this configured provider's changes land (an account, a cluster), resolved when it
    /// was configured. `None` for providers that change nothing outside state.
    fn target(&self) -> Option<Target> {
        None
    }

    /// The physical thing an object of `type_token` with these (checked) inputs takes, unique in
    /// the cloud (`IAM role \`s3\` in account 123456789012`): two declarations that claim the same
    /// one are refused at plan time, before one of them fails at apply. `None` when the inputs
    /// that decide it are unknown, or the cloud assigns it.
    fn claim(&self, _type_token: &str, _inputs: &Value) -> Option<String> {
        None
    }

    /// Inputs of `type_token` that only the program and the provider use, never sent to the
    /// cloud (a copy of a role's trust for a check, say): plans do not show them as the object's
    /// properties.
    fn internal_inputs(&self, _type_token: &str) -> &'static [&'static str] {
        &[]
    }

    /// Proves, before anything is applied, that the plan's changes can be made: the endpoint
    /// answers to these credentials, and, where the service can say, they may make these
    /// changes. Called once per provider at the end of a plan without errors; reads only. The
    /// error names the endpoint and the cause (unreachable, TLS, unauthorized, forbidden).
    async fn preflight(&self, _req: PreflightRequest) -> Result<(), ProviderError> {
        Ok(())
    }

    /// The version of `type_token`'s schema that records written now are in (0: never changed).
    fn schema_version(&self, _type_token: &str) -> u32 {
        0
    }

    /// Rewrites a record of an older schema version of its type into the current shape. Pure;
    /// called on load for every record whose version is below [`Self::schema_version`].
    fn upgrade(&self, req: UpgradeRequest) -> Result<UpgradeResponse, ProviderError> {
        Ok(UpgradeResponse { inputs: req.inputs, outputs: req.outputs })
    }

    /// Validates and normalizes inputs. Pure; runs at plan time before any API call.
    fn check(&self, req: CheckRequest) -> CheckResponse {
        CheckResponse { inputs: req.inputs, failures: Vec::new(), warnings: Vec::new() }
    }

    /// Compares recorded inputs with new ones. Pure. The default reports every changed top-level
    /// property and replaces nothing.
    fn diff(&self, req: DiffRequest) -> DiffResponse {
        DiffResponse { changes: diff::changed_properties(&req.old_inputs, &req.new_inputs), ..Default::default() }
    }

    /// The outputs a create or update will produce, as far as known at plan time. Pure.
    /// The default: unknown until apply.
    fn preview(&self, _req: PreviewRequest) -> Value {
        Value::Unknown
    }

    /// Creates the object and returns its physical id and outputs.
    async fn create(&self, req: CreateRequest) -> Result<CreateResponse, ProviderError>;

    /// Reads the object as it is now (refresh, import, data sources, resolving an interrupted
    /// operation); [`ReadResponse::Gone`] when it does not exist.
    async fn read(&self, req: ReadRequest) -> Result<ReadResponse, ProviderError>;

    /// Updates the object in place with the new inputs and returns its outputs.
    async fn update(&self, req: UpdateRequest) -> Result<UpdateResponse, ProviderError>;

    /// Deletes the object. Deleting an object that is already gone succeeds.
    async fn delete(&self, req: DeleteRequest) -> Result<(), ProviderError>;
}

/// Builds configured providers of one package from a resolved configuration value.
#[async_trait]
pub trait ProviderFactory: Send + Sync {
    /// The package whose type tokens it serves: `aws` for `aws:iam:Role`.
    fn package(&self) -> &str;

    /// Validates a configuration (pure), returning failures as for resources.
    fn check_config(&self, _config: &Value) -> Vec<CheckFailure> {
        Vec::new()
    }

    /// Builds a provider from a known configuration (secrets still marked).
    async fn configure(&self, config: Value) -> Result<Arc<dyn Provider>, ProviderError>;

    /// The reviews its package adds to every plan of a program that uses it (none by default).
    fn reviews(&self) -> Vec<Arc<dyn crate::review::PlanReview>> {
        Vec::new()
    }
}

/// A provider configuration as a program declares it: `stack.provider("account-b", AwsProvider::new()...)`.
pub trait ProviderConfig {
    /// The configuration value (may depend on other resources' outputs).
    fn config(&self) -> crate::Output<Value>;
    /// The factory that builds the configured provider from the resolved configuration.
    fn factory(&self) -> Arc<dyn ProviderFactory>;
}
