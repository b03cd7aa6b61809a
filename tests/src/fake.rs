//! The `fake` provider package: an in-memory "cloud" for lifecycle tests.
//!
//! [`FakeCloud`] holds objects keyed by generated ids, records every provider call ([`Call`]),
//! and can be told to fail, slow down or hang calls per resource name and operation.
//! [`FakeProvider`] is the provider configuration a program declares (`stack.provider("main",
//! FakeProvider::new(&cloud))`) and [`Thing`] (`fake:index:Thing`) the one resource type.
//!
//! `Thing` inputs: `name` (string, required; changing it forces a replacement), `value` (any
//! value, updated in place), `unique` (bool; when true a replacement deletes first) and
//! `parent` (another thing's `arn`; changing it forces a replacement). A `value` of
//! `"deprecated"` draws a warning. Like IAM with a role and
//! its attachments, the cloud refuses to delete a thing that is another thing's parent
//! (`DeleteConflict`). Outputs: `name`, `value` and `arn` (derived from the id).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use strake::provider::*;
use strake::{Output, Resource, ResourceHandle, Stack, Value};

/// The package of this provider.
pub const PACKAGE: &str = "fake";
/// The type token of [`Thing`].
pub const THING: &str = "fake:index:Thing";

/// A provider operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    Create,
    Read,
    Update,
    Delete,
}

impl Op {
    /// Whether the operation changes the cloud.
    pub fn is_mutation(self) -> bool {
        self != Op::Read
    }
}

/// One provider call as the cloud saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub op: Op,
    /// The resource's name in the program (the URN's last part).
    pub name: String,
    /// The object's id: the one asked for (read/update/delete), or the one made (a successful create).
    pub id: Option<String>,
    /// The `account` of the provider configuration that made the call.
    pub account: String,
}

/// One object in the cloud.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub id: String,
    /// The inputs it was created or last updated with (or changed to directly, for drift).
    pub inputs: Value,
}

impl Object {
    /// Its `name` input.
    pub fn name(&self) -> Option<&str> {
        self.inputs.get("name").and_then(Value::as_str)
    }

    /// Its `value` input.
    pub fn value(&self) -> Value {
        self.inputs.get("value").cloned().unwrap_or(Value::Null)
    }

    /// Its outputs, as `create`, `update` and `read` return them.
    pub fn outputs(&self) -> Value {
        Value::from_pairs([
            ("name", self.inputs.get("name").cloned().unwrap_or(Value::Null)),
            ("value", self.value()),
            ("arn", Value::from(arn_of(&self.id))),
        ])
    }
}

/// The `arn` output of the object with `id`.
pub fn arn_of(id: &str) -> String {
    format!("arn:fake:thing/{id}")
}

/// What an injected fault does to a call.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Every call fails with this error until the fault is cleared.
    Always(ProviderError),
    /// The next `n` calls fail with this error; later ones succeed.
    Times(u32, ProviderError),
    /// The call never answers, and nothing reaches the cloud (a crash or lost connection before the request).
    Hang,
    /// A create stores the object, then never answers (a crash after the cloud acted, before the
    /// engine heard back). Only meaningful for [`Op::Create`].
    CrashAfterCreate,
    /// The next `n` creates store the object, then fail with this error (an answer lost after the
    /// cloud acted). Only meaningful for [`Op::Create`].
    ActThenFail(u32, ProviderError),
}

impl Fault {
    /// A permanent `AccessDenied` error.
    pub fn access_denied(message: &str) -> Fault {
        Fault::Always(ProviderError::coded("AccessDenied", message))
    }

    /// `n` throttling errors, then success.
    pub fn throttled(n: u32) -> Fault {
        Fault::Times(n, ProviderError::with_kind(ErrorKind::Throttling, Some("Throttling".into()), "Rate exceeded"))
    }

    /// `n` transient (5xx-like) errors, then success.
    pub fn transient(n: u32) -> Fault {
        Fault::Times(n, transient_error())
    }

    /// Every call fails with a transient error (an outage), until cleared.
    pub fn outage() -> Fault {
        Fault::Always(transient_error())
    }

    /// The next `n` creates act, then their answers are lost (a transient error).
    pub fn answer_lost(n: u32) -> Fault {
        Fault::ActThenFail(n, ProviderError::with_kind(ErrorKind::Transient, None, "connection closed before the answer"))
    }
}

fn transient_error() -> ProviderError {
    ProviderError::with_kind(ErrorKind::Transient, Some("InternalError".into()), "try again")
}

#[derive(Default)]
struct Inner {
    objects: BTreeMap<String, Object>,
    next_id: u64,
    calls: Vec<Call>,
    faults: HashMap<(String, Op), Fault>,
    latency: Duration,
    /// Things get ids the engine cannot find from inputs (see [`FakeCloud::make_unfindable`]).
    unfindable: bool,
    /// The schema version of `Thing` records, and how older records are rewritten (see
    /// [`FakeCloud::set_schema`]).
    schema: (u32, Option<Upgrade>),
}

/// How older `Thing` records' inputs are rewritten.
type Upgrade = fn(Value) -> Value;

/// The in-memory cloud. Share it with `Arc`; every provider configured from a [`FakeProvider`]
/// talks to the same cloud.
#[derive(Default)]
pub struct FakeCloud {
    inner: Mutex<Inner>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    configured: AtomicUsize,
}

impl FakeCloud {
    pub fn new() -> Arc<FakeCloud> {
        Arc::new(FakeCloud::default())
    }

    /// A panic in one test thread must not hide the cloud from the assertions that follow.
    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes `Thing` records of schema version `version`; older records' inputs are rewritten
    /// with `upgrade` on load.
    pub fn set_schema(&self, version: u32, upgrade: fn(Value) -> Value) {
        self.inner().schema = (version, Some(upgrade));
    }

    /// Every call so far, in the order they started.
    pub fn calls(&self) -> Vec<Call> {
        self.inner().calls.clone()
    }

    /// The calls that change the cloud (creates, updates, deletes), as `(op, name)`.
    pub fn mutations(&self) -> Vec<(Op, String)> {
        self.calls().into_iter().filter(|c| c.op.is_mutation()).map(|c| (c.op, c.name)).collect()
    }

    /// How many calls of `op` were made for the resource `name`.
    pub fn count(&self, op: Op, name: &str) -> usize {
        self.calls().iter().filter(|c| c.op == op && c.name == name).count()
    }

    /// Forgets the recorded calls (objects and faults stay).
    pub fn clear_calls(&self) {
        self.inner().calls.clear();
    }

    /// Every object, by id.
    pub fn objects(&self) -> Vec<Object> {
        self.inner().objects.values().cloned().collect()
    }

    pub fn object(&self, id: &str) -> Option<Object> {
        self.inner().objects.get(id).cloned()
    }

    /// The objects whose `name` input is `name`.
    pub fn named(&self, name: &str) -> Vec<Object> {
        self.inner().objects.values().filter(|o| o.name() == Some(name)).cloned().collect()
    }

    /// Creates an object behind the engine's back (an object Strake does not manage).
    pub fn insert_object(&self, inputs: Value) -> Object {
        let mut inner = self.inner();
        inner.next_id += 1;
        let object = Object { id: format!("thing-{:04}", inner.next_id), inputs };
        inner.objects.insert(object.id.clone(), object.clone());
        object
    }

    /// From now on the provider declares that things cannot be found from their inputs (like a
    /// cloud that assigns ids), so interrupted creates cannot be resolved by reading.
    pub fn make_unfindable(&self) {
        self.inner().unfindable = true;
    }

    /// Deletes an object behind the engine's back.
    pub fn remove_object(&self, id: &str) -> Option<Object> {
        self.inner().objects.remove(id)
    }

    /// Changes an object's input behind the engine's back.
    pub fn set_object_input(&self, id: &str, key: &str, value: Value) {
        if let Some(o) = self.inner().objects.get_mut(id) {
            o.inputs.set_path(key, Some(value));
        }
    }

    /// Makes calls of `op` for the resource `name` (its name in the program) fail as `fault` says.
    pub fn fail(&self, name: &str, op: Op, fault: Fault) {
        self.inner().faults.insert((name.to_string(), op), fault);
    }

    /// The create of `name` stores the object, then never answers (see [`Fault::CrashAfterCreate`]).
    pub fn crash_after_create(&self, name: &str) {
        self.fail(name, Op::Create, Fault::CrashAfterCreate);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.inner().faults.clear();
    }

    /// Every call waits this long before it acts.
    pub fn set_latency(&self, latency: Duration) {
        self.inner().latency = latency;
    }

    /// The most calls that were running at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    /// How many providers were configured against this cloud.
    pub fn configured(&self) -> usize {
        self.configured.load(Ordering::SeqCst)
    }

    /// Records the call, waits the latency, and applies any fault. Returns the call's index.
    async fn begin(&self, op: Op, name: &str, id: Option<String>, account: &str) -> Result<usize, ProviderError> {
        let (index, latency) = {
            let mut inner = self.inner();
            inner.calls.push(Call { op, name: name.to_string(), id, account: account.to_string() });
            (inner.calls.len() - 1, inner.latency)
        };
        if !latency.is_zero() {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(latency).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
        let fault = {
            let mut inner = self.inner();
            let key = (name.to_string(), op);
            match inner.faults.get_mut(&key) {
                Some(Fault::Always(e)) => Some(Err(e.clone())),
                Some(Fault::Times(n, e)) if *n > 0 => {
                    *n -= 1;
                    Some(Err(e.clone()))
                }
                Some(Fault::Hang) => None,
                _ => Some(Ok(index)),
            }
        };
        match fault {
            Some(result) => result,
            None => std::future::pending().await,
        }
    }

    fn crashes_after_create(&self, name: &str) -> bool {
        matches!(self.inner().faults.get(&(name.to_string(), Op::Create)), Some(Fault::CrashAfterCreate))
    }

    /// The error to answer a create that acted with, if its answer is to be lost.
    fn loses_answer(&self, name: &str) -> Option<ProviderError> {
        match self.inner().faults.get_mut(&(name.to_string(), Op::Create)) {
            Some(Fault::ActThenFail(n, e)) if *n > 0 => {
                *n -= 1;
                Some(e.clone())
            }
            _ => None,
        }
    }
}

/// A configured `fake` provider: one account of the cloud.
struct ThingProvider {
    cloud: Arc<FakeCloud>,
    account: String,
}

fn name_failure(inputs: &Value) -> Option<CheckFailure> {
    let reason = match inputs.get("name") {
        None | Some(Value::Null) => "is required: set it to a name such as `my-thing`",
        Some(Value::Unknown) => return None,
        Some(Value::String(s)) if s.is_empty() => "must not be empty: set it to a name such as `my-thing`",
        Some(Value::String(s)) if s.contains(' ') => "must not contain spaces: use dashes instead, e.g. `my-thing`",
        Some(Value::String(_)) => return None,
        Some(_) => "must be a string: set it to a name such as `my-thing`",
    };
    Some(CheckFailure::new("name", reason))
}

#[async_trait]
impl Provider for ThingProvider {
    /// A thing's name is unique in its account (that is how an interrupted create is found).
    fn claim(&self, _type_token: &str, inputs: &Value) -> Option<String> {
        Some(format!("thing `{}` in fake account {}", inputs.get("name")?.as_str()?, self.account))
    }

    /// Things are found by their `name` input (see `read`), unless the cloud says otherwise.
    fn created_lookup(&self, _type_token: &str) -> CreatedLookup {
        if self.cloud.inner().unfindable { CreatedLookup::Unfindable } else { CreatedLookup::FromInputs }
    }

    fn schema_version(&self, _type_token: &str) -> u32 {
        self.cloud.inner().schema.0
    }

    fn upgrade(&self, req: UpgradeRequest) -> Result<UpgradeResponse, ProviderError> {
        let upgrade = self.cloud.inner().schema.1;
        let inputs = upgrade.map(|f| f(req.inputs.clone())).unwrap_or(req.inputs);
        Ok(UpgradeResponse::new(inputs, req.outputs))
    }

    fn check(&self, req: CheckRequest) -> CheckResponse {
        let mut failures = Vec::new();
        if req.type_token != THING {
            failures.push(CheckFailure::new("", format!("the fake package has no type `{}`", req.type_token)));
        }
        failures.extend(name_failure(&req.inputs));
        if let Value::Map(m) = &req.inputs {
            for key in m.keys().filter(|k| !matches!(k.as_str(), "name" | "value" | "unique" | "parent")) {
                failures.push(CheckFailure::new(key.clone(), "unknown property; Thing takes `name`, `value`, `unique` and `parent`"));
            }
        }
        let mut warnings = Vec::new();
        if req.inputs.get("value").and_then(Value::as_str) == Some("deprecated") {
            warnings.push(CheckFailure::new("value", "`deprecated` is a value to move away from"));
        }
        CheckResponse::new(req.inputs).with_failures(failures).with_warnings(warnings)
    }

    fn diff(&self, req: DiffRequest) -> DiffResponse {
        let changes = strake::diff::changed_properties(&req.old_inputs, &req.new_inputs);
        let replaces: Vec<String> = changes.iter().filter(|c| *c == "name" || *c == "parent").cloned().collect();
        let unique = req.new_inputs.get("unique") == Some(&Value::Bool(true));
        DiffResponse::new(changes, replaces, unique)
    }

    fn preview(&self, req: PreviewRequest) -> Value {
        // The arn follows the id: kept by an update, unknown for a new object.
        let arn = req.prior_outputs.as_ref().and_then(|o| o.get("arn")).cloned().unwrap_or(Value::Unknown);
        Value::from_pairs([
            ("name", req.inputs.get("name").cloned().unwrap_or(Value::Null)),
            ("value", req.inputs.get("value").cloned().unwrap_or(Value::Null)),
            ("arn", arn),
        ])
    }

    async fn create(&self, req: CreateRequest) -> Result<CreateResponse, ProviderError> {
        let name = req.urn.name();
        let index = self.cloud.begin(Op::Create, name, None, &self.account).await?;
        let object = {
            let mut inner = self.cloud.inner();
            inner.next_id += 1;
            let id = format!("thing-{:04}", inner.next_id);
            let object = Object { id: id.clone(), inputs: req.inputs };
            inner.objects.insert(id.clone(), object.clone());
            inner.calls[index].id = Some(id);
            object
        };
        if self.cloud.crashes_after_create(name) {
            std::future::pending::<()>().await;
        }
        if let Some(lost) = self.cloud.loses_answer(name) {
            return Err(lost);
        }
        Ok(CreateResponse::new(object.id.clone(), object.outputs()))
    }

    async fn read(&self, req: ReadRequest) -> Result<ReadResponse, ProviderError> {
        self.cloud.begin(Op::Read, req.urn.name(), req.id.clone(), &self.account).await?;
        let inner = self.cloud.inner();
        let found = match &req.id {
            Some(id) => inner.objects.get(id),
            // Find it by its name (adopting an interrupted create).
            None => {
                let name = req.inputs.get("name").and_then(Value::as_str);
                inner.objects.values().find(|o| name.is_some() && o.name() == name)
            }
        };
        Ok(match found {
            Some(o) => ReadResponse::found(o.id.clone(), o.inputs.clone(), o.outputs()),
            None => ReadResponse::Gone,
        })
    }

    async fn update(&self, req: UpdateRequest) -> Result<UpdateResponse, ProviderError> {
        let req = req.compared;
        self.cloud.begin(Op::Update, req.urn.name(), Some(req.id.clone()), &self.account).await?;
        let mut inner = self.cloud.inner();
        let Some(object) = inner.objects.get_mut(&req.id) else {
            return Err(ProviderError::coded("NotFound", format!("no thing `{}`", req.id)));
        };
        object.inputs = req.new_inputs;
        Ok(UpdateResponse::new(object.outputs()))
    }

    async fn delete(&self, req: DeleteRequest) -> Result<(), ProviderError> {
        self.cloud.begin(Op::Delete, req.urn.name(), Some(req.id.clone()), &self.account).await?;
        let mut inner = self.cloud.inner();
        let arn = arn_of(&req.id);
        if let Some(child) = inner.objects.values().find(|o| o.inputs.get("parent").and_then(Value::as_str) == Some(arn.as_str())) {
            return Err(ProviderError::coded("DeleteConflict", format!("thing `{}` is the parent of `{}`; delete that first", req.id, child.id)));
        }
        inner.objects.remove(&req.id);
        Ok(())
    }
}

/// Builds the providers of [`Thing`]s from a configuration `{"account": "..."}`.
pub struct FakeFactory {
    cloud: Arc<FakeCloud>,
}

impl FakeFactory {
    pub fn new(cloud: &Arc<FakeCloud>) -> FakeFactory {
        FakeFactory { cloud: cloud.clone() }
    }
}

#[async_trait]
impl ProviderFactory for FakeFactory {
    fn package(&self) -> &str {
        PACKAGE
    }

    fn check_config(&self, config: &Value) -> Vec<CheckFailure> {
        match config.get("account") {
            Some(Value::String(s)) if !s.is_empty() => Vec::new(),
            _ => vec![CheckFailure::new("account", "is required: set it with `FakeProvider::account(\"...\")`")],
        }
    }

    async fn configure(&self, config: Value) -> Result<Arc<dyn Provider>, ProviderError> {
        let account = config.get("account").and_then(Value::as_str).unwrap_or_default().to_string();
        self.cloud.configured.fetch_add(1, Ordering::SeqCst);
        Ok(Arc::new(ThingProvider { cloud: self.cloud.clone(), account }))
    }
}

/// The `fake` provider configuration a program declares.
pub struct FakeProvider {
    cloud: Arc<FakeCloud>,
    account: String,
}

impl FakeProvider {
    /// A configuration for the account `main` of `cloud`.
    pub fn new(cloud: &Arc<FakeCloud>) -> FakeProvider {
        FakeProvider { cloud: cloud.clone(), account: "main".into() }
    }

    pub fn account(mut self, account: &str) -> FakeProvider {
        self.account = account.to_string();
        self
    }
}

impl ProviderConfig for FakeProvider {
    fn config(&self) -> Output<Value> {
        Output::new(Value::from_pairs([("account", Value::from(self.account.as_str()))]))
    }

    fn factory(&self) -> Arc<dyn ProviderFactory> {
        Arc::new(FakeFactory::new(&self.cloud))
    }
}

/// A `fake:index:Thing`. Its `name` input defaults to the resource's name in the program.
#[derive(Clone, ResourceHandle)]
pub struct Thing(Resource);

impl Thing {
    #[track_caller]
    pub fn new(stack: &Stack, name: &str) -> Thing {
        let resource = stack.resource(THING, name);
        resource.set_input("name", name);
        Thing(resource)
    }

    /// Sets the `name` input (a change forces a replacement).
    pub fn name(self, name: impl Into<Output<Value>>) -> Self {
        self.0.set_input("name", name);
        self
    }

    /// Sets the `value` input (updated in place).
    pub fn value(self, value: impl Into<Output<Value>>) -> Self {
        self.0.set_input("value", value);
        self
    }

    /// Sets the `parent` input (another thing's `arn`; a change forces a replacement).
    pub fn parent(self, arn: impl Into<Output<Value>>) -> Self {
        self.0.set_input("parent", arn);
        self
    }

    /// Sets the `unique` input: replacements then delete the old object first.
    pub fn unique(self, unique: bool) -> Self {
        self.0.set_input("unique", Output::new(Value::Bool(unique)));
        self
    }

    /// Changes `value` on a handle already declared (e.g. to refer to a resource declared later).
    pub fn set_value(&self, value: impl Into<Output<Value>>) {
        self.0.set_input("value", value);
    }

    pub fn arn(&self) -> Output<Value> {
        self.0.output("arn")
    }

    pub fn output_value(&self) -> Output<Value> {
        self.0.output("value")
    }
}
