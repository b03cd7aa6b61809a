//! Apply: carries out a [`Planned`] plan. Each step starts as soon as the steps it depends on
//! finish (deletes wait for their dependents instead), with bounded parallelism. Before every
//! provider mutation a pending-operation record is made durable; the result replaces it in one
//! batch. A failed step skips its dependents; what succeeded stays recorded.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use strake_state::{PendingKind, PendingOperation, RecordKind, ResourceRecord, Write};

use super::planner::{Planned, Prior};
use super::providers::{ProviderCache, Slot};
use super::retry::with_retries;
use super::state_writer::StateWriter;
use super::walk::{CancelFlag, walk};
use super::{EngineOptions, env_value, now_secs};
use crate::error::{Error, StepError};
use crate::events::{Event, Observer, Outcome};
use crate::graph::NodeKind;
use crate::plan::{Action, PlanMode, PlannedStep, ReplaceOrder, apply_ignore_changes};
use crate::program::{Declaration, Program};
use crate::provider::*;
use crate::{Urn, Value};

/// What an apply did.
#[derive(Debug, Clone, Default)]
pub struct ApplyReport {
    /// Steps that changed something.
    pub changed: usize,
    /// Stack outputs after the apply.
    pub outputs: BTreeMap<String, Value>,
    pub elapsed: Duration,
    /// How many state batches were committed (each one flush).
    pub state_commits: u64,
}

#[derive(Debug, Clone, Copy)]
enum Work {
    Node(usize),
    /// The old object of a create-then-delete replacement.
    DeleteDeposed(usize),
}

pub(crate) struct ApplyRequest<'a> {
    pub program: &'a Program,
    pub planned: &'a Planned,
    pub providers: &'a ProviderCache,
    pub records: HashMap<Urn, ResourceRecord>,
    pub writer: StateWriter,
    pub options: &'a EngineOptions,
    pub observer: &'a dyn Observer,
    pub cancel: &'a CancelFlag,
}

struct Exec<'a> {
    req: &'a ApplyRequest<'a>,
    steps: HashMap<&'a Urn, &'a PlannedStep>,
    work: Vec<Work>,
    env: Mutex<HashMap<Urn, Value>>,
    errors: Mutex<Vec<StepError>>,
    deposed: Mutex<HashMap<usize, PendingOperation>>,
    providers_written: Mutex<std::collections::HashSet<Urn>>,
    changed: Mutex<usize>,
}

/// Runs the plan. Returns the report, or the failures (after recording everything that succeeded).
pub(crate) async fn apply(req: ApplyRequest<'_>) -> Result<ApplyReport, Error> {
    let started = Instant::now();
    let planned = req.planned;
    let steps: HashMap<&Urn, &PlannedStep> = planned.plan.steps.iter().map(|s| (&s.urn, s)).collect();
    let mut env = planned.known.clone();
    for s in planned.plan.steps.iter().filter(|s| s.action != Action::NoOp) {
        env.remove(&s.urn);
    }
    let (work, deps) = schedule(planned, &steps);
    let exec = Exec {
        req: &req,
        steps,
        work,
        env: Mutex::new(env),
        errors: Mutex::new(Vec::new()),
        deposed: Mutex::new(HashMap::new()),
        providers_written: Mutex::new(Default::default()),
        changed: Mutex::new(0),
    };
    exec.record_refreshed().await?;
    let total = planned.plan.steps.iter().filter(|s| s.action.is_change() || s.action == Action::Read).count();
    req.observer.on_event(&Event::ApplyStarted { stack: req.program.stack.clone(), total });

    let outcome = walk(&deps, req.options.parallelism, req.cancel, |i| exec.run(i)).await;

    for &(item, cause) in &outcome.skipped {
        if let (Work::Node(n), Work::Node(c)) = (exec.work[item], exec.work[cause]) {
            let urn = &planned.graph.nodes[n].urn;
            if exec.steps.get(urn).is_some_and(|s| s.action != Action::NoOp) {
                let why = format!("skipped because {} failed", planned.graph.nodes[c].urn);
                exec.finished(urn, Action::NoOp, Outcome::Skipped, Duration::ZERO, Some(why));
            }
        }
    }
    let outputs = exec.write_outputs().await?;
    let Exec { errors, changed, .. } = exec;
    let errors = errors.into_inner().unwrap_or_default();
    let changed = changed.into_inner().unwrap_or_default();
    req.observer.on_event(&Event::ApplyFinished {
        stack: req.program.stack.clone(),
        succeeded: changed,
        failed: errors.len(),
        skipped: outcome.skipped.len(),
        elapsed_ms: started.elapsed().as_millis() as u64,
    });
    if !errors.is_empty() {
        return Err(Error::StepsFailed(errors));
    }
    if !outcome.not_started.is_empty() {
        return Err(Error::Interrupted { remaining: outcome.not_started.len() });
    }
    Ok(ApplyReport { changed, outputs, elapsed: started.elapsed(), state_commits: 0 })
}

/// Builds the work items and what each waits for.
fn schedule(planned: &Planned, steps: &HashMap<&Urn, &PlannedStep>) -> (Vec<Work>, Vec<Vec<usize>>) {
    let graph = &planned.graph;
    let n = graph.nodes.len();
    let action = |i: usize| steps.get(&graph.nodes[i].urn).map(|s| s.action).unwrap_or(Action::NoOp);
    let destroy = planned.plan.mode == PlanMode::Destroy;
    let reverse: Vec<bool> = (0..n)
        .map(|i| action(i) == Action::Delete || (destroy && graph.nodes[i].kind == NodeKind::Provider))
        .collect();
    let mut work: Vec<Work> = (0..n).map(Work::Node).collect();
    let mut deps: Vec<Vec<usize>> = (0..n)
        .map(|i| {
            if reverse[i] {
                graph.dependents[i].clone()
            } else {
                graph.deps[i].iter().copied().filter(|&d| !reverse[d]).collect()
            }
        })
        .collect();
    for i in 0..n {
        if action(i) == Action::Replace(ReplaceOrder::CreateThenDelete) {
            let mut d = vec![i];
            d.extend(graph.dependents[i].iter().copied());
            work.push(Work::DeleteDeposed(i));
            deps.push(d);
        }
    }
    (work, deps)
}

impl Exec<'_> {
    fn fail(&self, e: StepError) -> bool {
        if let Ok(mut errors) = self.errors.lock() {
            errors.push(e);
        }
        false
    }

    fn started(&self, urn: &Urn, action: Action) -> Instant {
        self.req.observer.on_event(&Event::StepStarted { urn: urn.clone(), action });
        Instant::now()
    }

    fn finished(&self, urn: &Urn, action: Action, outcome: Outcome, elapsed: Duration, error: Option<String>) {
        if outcome == Outcome::Succeeded
            && let Ok(mut c) = self.changed.lock()
        {
            *c += 1;
        }
        self.req.observer.on_event(&Event::StepFinished {
            urn: urn.clone(),
            action,
            outcome,
            elapsed_ms: elapsed.as_millis() as u64,
            error,
        });
    }

    /// Writes refreshed records of resources the plan leaves alone, so state matches the cloud.
    async fn record_refreshed(&self) -> Result<(), Error> {
        let mut writes = Vec::new();
        for (urn, r) in &self.req.planned.refreshed {
            let Some(step) = self.steps.get(urn) else { continue };
            if step.action != Action::NoOp {
                continue;
            }
            let Some(rec) = self.req.records.get(urn) else { continue };
            writes.push(r.to_write(rec));
        }
        if !writes.is_empty() {
            self.req.writer.write(writes).await.map_err(|e| Error::Usage(format!("recording refreshed state failed: {e}")))?;
        }
        Ok(())
    }

    async fn run(&self, item: usize) -> bool {
        match self.work[item] {
            Work::Node(n) => self.run_node(n).await,
            Work::DeleteDeposed(n) => self.delete_deposed(n).await,
        }
    }

    async fn run_node(&self, n: usize) -> bool {
        let node = &self.req.planned.graph.nodes[n];
        if node.kind == NodeKind::Provider {
            return self.configure_provider(n).await;
        }
        let Some(step) = self.steps.get(&node.urn).copied() else { return true };
        let decl = node.decl.map(|i| &self.req.program.resources[i]);
        let t = self.started_if_change(step);
        let result = match (step.action, decl) {
            (Action::NoOp, _) => return true,
            (Action::Read, Some(d)) => self.read_data_source(n, d).await,
            (Action::Create, Some(d)) => self.create(n, d, None).await.map(|_| ()),
            (Action::Update, Some(d)) => self.update(n, d).await,
            (Action::Replace(ReplaceOrder::CreateThenDelete), Some(d)) => self.replace_create_first(n, d).await,
            (Action::Replace(ReplaceOrder::DeleteThenCreate), Some(d)) => self.replace_delete_first(n, d).await,
            (Action::Delete, _) => self.delete(n, step.retain).await,
            (_, None) => Err(StepError::other(&node.urn, "apply", "the plan and the program disagree; plan again")),
        };
        match result {
            Ok(()) => {
                self.finished(&node.urn, step.action, Outcome::Succeeded, t.elapsed(), None);
                true
            }
            Err(e) => {
                self.finished(&node.urn, step.action, Outcome::Failed, t.elapsed(), Some(e.to_string()));
                self.fail(e)
            }
        }
    }

    fn started_if_change(&self, step: &PlannedStep) -> Instant {
        if step.action == Action::NoOp { Instant::now() } else { self.started(&step.urn, step.action) }
    }

    async fn configure_provider(&self, n: usize) -> bool {
        let node = &self.req.planned.graph.nodes[n];
        let Some(decl) = node.decl.map(|i| &self.req.program.providers[i]) else { return true };
        let config = match self.env.lock().map(|env| decl.config.resolve_value(&*env)) {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return self.fail(StepError::other(&decl.urn, "configure", e.0)),
            Err(_) => return false,
        };
        let observer = self.req.observer;
        let configured = with_retries(
            &self.req.options.retry,
            || self.req.providers.configure(&decl.urn, &decl.factory, config.clone()),
            |notice| observer.on_event(&super::retry::retry_event(&decl.urn, "configure", &notice)),
        )
        .await;
        match configured {
            Ok(_) => true,
            Err(e) => self.fail(StepError::from_provider(&decl.urn, "configure", &e)),
        }
    }

    fn provider(&self, n: usize) -> Result<std::sync::Arc<dyn Provider>, StepError> {
        let node = &self.req.planned.graph.nodes[n];
        match self.req.providers.get(node.provider.as_ref()) {
            Some(Slot::Ready(p)) => Ok(p),
            _ => Err(StepError::other(&node.urn, "configure", "its provider's configuration is still unknown")),
        }
    }

    /// Resolves and checks a declaration's inputs against what has been applied so far.
    fn inputs(&self, decl: &Declaration, provider: &dyn Provider, prior: Option<&Prior>) -> Result<Value, StepError> {
        let urn = &decl.urn;
        let inputs = {
            let env = self.env.lock().map_err(|_| StepError::other(urn, "apply", "poisoned lock"))?;
            decl.resolve_inputs(&*env).map_err(|e| StepError::other(urn, "apply", e.0))?
        };
        if !inputs.is_known() {
            return Err(StepError::other(urn, "apply", "some inputs are still unknown after their dependencies were applied"));
        }
        let check = provider.check(CheckRequest {
            urn: urn.clone(),
            type_token: urn.type_token().to_string(),
            inputs,
            prior_inputs: prior.map(|p| p.inputs.clone()),
        });
        if let Some(f) = check.failures.first() {
            return Err(StepError::other(urn, "check", format!("`{}`: {}", f.property, f.reason)));
        }
        let mut inputs = check.inputs;
        if let Some(p) = prior {
            apply_ignore_changes(&decl.options, &p.inputs, &mut inputs);
        }
        Ok(inputs)
    }

    fn record(&self, n: usize, decl: &Declaration, id: &str, inputs: &Value, outputs: &Value) -> ResourceRecord {
        let node = &self.req.planned.graph.nodes[n];
        ResourceRecord {
            urn: decl.urn.to_string(),
            kind: RecordKind::Resource,
            type_token: decl.urn.type_token().to_string(),
            id: id.to_string(),
            inputs: inputs.to_json(),
            outputs: outputs.to_json(),
            dependencies: decl.dependencies().iter().map(Urn::to_string).collect(),
            provider: node.provider.as_ref().map(Urn::to_string),
            protect: decl.options.protect,
            retain_on_delete: decl.options.retain_on_delete,
        }
    }

    /// The provider's record, until one batch holding it has been stored in this apply.
    fn provider_record(&self, n: usize) -> Option<Write> {
        let urn = self.req.planned.graph.nodes[n].provider.clone()?;
        if self.providers_written.lock().ok()?.contains(&urn) {
            return None;
        }
        let config = self.req.providers.config_of(&urn)?;
        Some(Write::PutResource(ResourceRecord {
            urn: urn.to_string(),
            kind: RecordKind::Provider,
            type_token: urn.type_token().to_string(),
            id: String::new(),
            inputs: config.to_json(),
            outputs: serde_json::Value::Null,
            dependencies: Vec::new(),
            provider: None,
            protect: false,
            retain_on_delete: false,
        }))
    }

    /// Stores a resource's result batch; once stored, its provider's record is known to be there.
    async fn write_result(&self, n: usize, mut writes: Vec<Write>) -> Result<(), StepError> {
        let urn = &self.req.planned.graph.nodes[n].urn;
        let provider_record = self.provider_record(n);
        let has_provider_record = provider_record.is_some();
        writes.extend(provider_record);
        self.write(urn, writes).await?;
        if has_provider_record
            && let (Some(p), Ok(mut written)) = (self.req.planned.graph.nodes[n].provider.clone(), self.providers_written.lock())
        {
            written.insert(p);
        }
        Ok(())
    }

    fn pending(&self, n: usize, kind: PendingKind, inputs: &Value, prior: Option<&Prior>) -> PendingOperation {
        let node = &self.req.planned.graph.nodes[n];
        PendingOperation {
            id: uuid::Uuid::new_v4().to_string(),
            urn: node.urn.to_string(),
            kind,
            type_token: node.urn.type_token().to_string(),
            provider: node.provider.as_ref().map(Urn::to_string),
            inputs: inputs.to_json(),
            outputs: prior.map(|p| p.outputs.to_json()).unwrap_or_default(),
            resource_id: prior.map(|p| p.id.clone()),
            started_at: now_secs(),
        }
    }

    /// Settles a failed mutation's pending record: a definite failure clears it (nothing changed);
    /// an uncertain one (a lost answer, a time-out) keeps it, so the next run reads the object back.
    async fn give_up(&self, urn: &Urn, pending_id: &str, failure: CallError) -> StepError {
        match failure {
            CallError::Failed(e) => match self.write(urn, vec![Write::ClearPending { id: pending_id.to_string() }]).await {
                Ok(()) => e,
                Err(write_error) => write_error,
            },
            CallError::Ambiguous(e) | CallError::TimedOut(e) => e,
        }
    }

    async fn write(&self, urn: &Urn, writes: Vec<Write>) -> Result<(), StepError> {
        self.req.writer.write(writes).await.map(|_| ()).map_err(|e| StepError::other(urn, "record state", e))
    }

    /// Calls the provider with retries, events and the operation's time limit.
    async fn call<T, F, Fut>(&self, urn: &Urn, operation: &str, timeout: Option<Duration>, f: F) -> Result<T, CallError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ProviderError>>,
    {
        let observer = self.req.observer;
        // A transient failure (5xx, lost connection) may have happened after the service acted.
        let ambiguous = std::sync::atomic::AtomicBool::new(false);
        let retried = with_retries(&self.req.options.retry, f, |notice| {
            if notice.error.kind == crate::provider::ErrorKind::Transient {
                ambiguous.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            observer.on_event(&super::retry::retry_event(urn, operation, &notice));
        });
        let limit = timeout.unwrap_or(self.req.options.default_timeout);
        match tokio::time::timeout(limit, retried).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) if ambiguous.load(std::sync::atomic::Ordering::SeqCst) => {
                Err(CallError::Ambiguous(StepError::from_provider(urn, operation, &e)))
            }
            Ok(Err(e)) => Err(CallError::Failed(StepError::from_provider(urn, operation, &e))),
            Err(_) => Err(CallError::TimedOut(StepError::other(
                urn,
                operation,
                format!(
                    "timed out after {}s; it may still complete in the cloud, so it stays recorded as an \
                     interrupted operation and the next run looks it up",
                    limit.as_secs()
                ),
            ))),
        }
    }

    async fn create(&self, n: usize, decl: &Declaration, extra: Option<Write>) -> Result<(), StepError> {
        let urn = &decl.urn;
        let provider = self.provider(n)?;
        let prior = self.req.planned.prior.get(urn);
        let inputs = self.inputs(decl, provider.as_ref(), prior)?;
        let pending = self.pending(n, PendingKind::Create, &inputs, None);
        self.write(urn, vec![Write::PutPending(pending.clone())]).await?;
        let resp = self
            .call(urn, "create", decl.options.timeouts.create, || {
                provider.create(CreateRequest {
                    urn: urn.clone(),
                    type_token: urn.type_token().to_string(),
                    inputs: inputs.clone(),
                    timeout: decl.options.timeouts.create,
                })
            })
            .await;
        let resp = match resp {
            Ok(r) => r,
            Err(CallError::Ambiguous(e)) => match self.find_created(provider.as_ref(), urn, &inputs).await {
                // An earlier attempt created it and only its answer was lost: adopt it.
                Some(found) => found,
                None => return Err(self.give_up(urn, &pending.id, CallError::Failed(e)).await),
            },
            Err(e) => return Err(self.give_up(urn, &pending.id, e).await),
        };
        let mut writes = vec![Write::PutResource(self.record(n, decl, &resp.id, &inputs, &resp.outputs)), Write::ClearPending { id: pending.id }];
        writes.extend(extra);
        self.write_result(n, writes).await?;
        self.set_env(urn, env_value(Some(&resp.id), &resp.outputs));
        Ok(())
    }

    /// Looks for the object a create may have made before its answer was lost.
    async fn find_created(&self, provider: &dyn Provider, urn: &Urn, inputs: &Value) -> Option<CreateResponse> {
        let request = ReadRequest {
            urn: urn.clone(),
            type_token: urn.type_token().to_string(),
            id: None,
            inputs: inputs.clone(),
            outputs: Value::Null,
        };
        match with_retries(&self.req.options.retry, || provider.read(request.clone()), |_| {}).await {
            Ok(ReadResponse::Found { id, outputs, .. }) => {
                self.req.observer.on_event(&Event::Note {
                    message: format!("{urn}: the create succeeded although its answer was lost; adopted object `{id}`"),
                });
                Some(CreateResponse { id, outputs })
            }
            _ => None,
        }
    }

    fn set_env(&self, urn: &Urn, value: Value) {
        if let Ok(mut env) = self.env.lock() {
            env.insert(urn.clone(), value);
        }
    }

    async fn update(&self, n: usize, decl: &Declaration) -> Result<(), StepError> {
        let urn = &decl.urn;
        let provider = self.provider(n)?;
        let prior = self.req.planned.prior.get(urn).ok_or_else(|| StepError::other(urn, "update", "no recorded object to update; plan again"))?;
        let inputs = self.inputs(decl, provider.as_ref(), Some(prior))?;
        let diff = provider.diff(DiffRequest {
            urn: urn.clone(),
            type_token: urn.type_token().to_string(),
            id: prior.id.clone(),
            old_inputs: prior.inputs.clone(),
            old_outputs: prior.outputs.clone(),
            new_inputs: inputs.clone(),
        });
        if diff.changes.is_empty() {
            // The unknowns of the plan resolved to the recorded values: nothing to do.
            self.set_env(urn, env_value(Some(&prior.id), &prior.outputs));
            return Ok(());
        }
        if !diff.replaces.is_empty() {
            return Err(StepError::other(
                urn,
                "update",
                format!("values known only at apply now require replacing it ({}); run plan and apply again", diff.replaces.join(", ")),
            ));
        }
        let pending = self.pending(n, PendingKind::Update, &inputs, Some(prior));
        self.write(urn, vec![Write::PutPending(pending.clone())]).await?;
        let resp = self
            .call(urn, "update", decl.options.timeouts.update, || {
                provider.update(UpdateRequest {
                    urn: urn.clone(),
                    type_token: urn.type_token().to_string(),
                    id: prior.id.clone(),
                    old_inputs: prior.inputs.clone(),
                    old_outputs: prior.outputs.clone(),
                    new_inputs: inputs.clone(),
                    changes: diff.changes.clone(),
                    timeout: decl.options.timeouts.update,
                })
            })
            .await;
        let resp = match resp {
            Ok(r) => r,
            Err(e) => return Err(self.give_up(urn, &pending.id, e).await),
        };
        let writes = vec![Write::PutResource(self.record(n, decl, &prior.id, &inputs, &resp.outputs)), Write::ClearPending { id: pending.id }];
        self.write_result(n, writes).await?;
        self.set_env(urn, env_value(Some(&prior.id), &resp.outputs));
        Ok(())
    }

    async fn replace_create_first(&self, n: usize, decl: &Declaration) -> Result<(), StepError> {
        let urn = &decl.urn;
        let prior = self.req.planned.prior.get(urn).ok_or_else(|| StepError::other(urn, "replace", "no recorded object; plan again"))?;
        // The old object becomes "deposed": recorded as a pending delete in the same batch that
        // records the new one, so a crash before it is deleted does not lose it.
        let deposed = self.pending(n, PendingKind::Delete, &prior.inputs, Some(prior));
        self.create(n, decl, Some(Write::PutPending(deposed.clone()))).await?;
        if let Ok(mut d) = self.deposed.lock() {
            d.insert(n, deposed);
        }
        Ok(())
    }

    async fn delete_deposed(&self, n: usize) -> bool {
        let Some(op) = self.deposed.lock().ok().and_then(|mut d| d.remove(&n)) else { return true };
        let urn = &self.req.planned.graph.nodes[n].urn;
        let retain = self.req.program.resources.get(self.req.planned.graph.nodes[n].decl.unwrap_or_default()).is_some_and(|d| d.options.retain_on_delete);
        let timeout = self.req.planned.graph.nodes[n].decl.map(|i| self.req.program.resources[i].options.timeouts.delete).unwrap_or_default();
        let result = async {
            if !retain {
                let provider = self.provider(n)?;
                let (id, inputs, outputs) = (op.resource_id.clone().unwrap_or_default(), Value::from_json(op.inputs.clone()), Value::from_json(op.outputs.clone()));
                self.call(urn, "delete replaced object", timeout, || {
                    provider.delete(DeleteRequest {
                        urn: urn.clone(),
                        type_token: urn.type_token().to_string(),
                        id: id.clone(),
                        inputs: inputs.clone(),
                        outputs: outputs.clone(),
                        timeout,
                    })
                })
                .await
                .map_err(CallError::into_step)?;
            }
            self.write(urn, vec![Write::ClearPending { id: op.id.clone() }]).await
        }
        .await;
        match result {
            Ok(()) => true,
            Err(e) => self.fail(e),
        }
    }

    async fn replace_delete_first(&self, n: usize, decl: &Declaration) -> Result<(), StepError> {
        self.delete(n, decl.options.retain_on_delete).await?;
        self.create(n, decl, None).await
    }

    async fn delete(&self, n: usize, retain: bool) -> Result<(), StepError> {
        let urn = &self.req.planned.graph.nodes[n].urn;
        let Some(prior) = self.req.planned.prior.get(urn) else { return Ok(()) };
        if retain {
            return self.write(urn, vec![Write::DeleteResource { urn: urn.to_string() }]).await;
        }
        let provider = self.provider(n)?;
        let timeout = self.req.planned.graph.nodes[n].decl.and_then(|i| self.req.program.resources[i].options.timeouts.delete);
        let pending = self.pending(n, PendingKind::Delete, &prior.inputs, Some(prior));
        self.write(urn, vec![Write::PutPending(pending.clone())]).await?;
        let result = self
            .call(urn, "delete", timeout, || {
                provider.delete(DeleteRequest {
                    urn: urn.clone(),
                    type_token: urn.type_token().to_string(),
                    id: prior.id.clone(),
                    inputs: prior.inputs.clone(),
                    outputs: prior.outputs.clone(),
                    timeout,
                })
            })
            .await;
        match result {
            Ok(()) => self.write(urn, vec![Write::DeleteResource { urn: urn.to_string() }, Write::ClearPending { id: pending.id }]).await,
            Err(e) => Err(self.give_up(urn, &pending.id, e).await),
        }
    }

    async fn read_data_source(&self, n: usize, decl: &Declaration) -> Result<(), StepError> {
        let urn = &decl.urn;
        let provider = self.provider(n)?;
        let inputs = self.inputs(decl, provider.as_ref(), None)?;
        let read = self
            .call(urn, "read", None, || {
                provider.read(ReadRequest {
                    urn: urn.clone(),
                    type_token: urn.type_token().to_string(),
                    id: None,
                    inputs: inputs.clone(),
                    outputs: Value::Null,
                })
            })
            .await
            .map_err(CallError::into_step)?;
        match read {
            ReadResponse::Found { id, outputs, .. } => {
                self.set_env(urn, env_value(Some(&id), &outputs));
                Ok(())
            }
            ReadResponse::Gone => Err(StepError::other(urn, "read", "the data source found nothing matching its inputs")),
        }
    }

    /// Records the stack outputs (when all are known) and drops records of providers that manage nothing.
    async fn write_outputs(&self) -> Result<BTreeMap<String, Value>, Error> {
        let program = self.req.program;
        let urn = super::stack_outputs_urn(&program.stack);
        let mut outputs = BTreeMap::new();
        let destroy = self.req.planned.plan.mode == PlanMode::Destroy;
        if !destroy {
            let env = self.env.lock().map_err(|_| Error::Usage("poisoned lock".into()))?;
            for (name, o) in &program.exports {
                match o.resolve_value(&*env) {
                    Ok(v) if v.is_known() => {
                        outputs.insert(name.clone(), v);
                    }
                    _ => {}
                }
            }
        }
        let mut writes = Vec::new();
        let failed = self.errors.lock().map(|e| !e.is_empty()).unwrap_or(true);
        if destroy && self.req.planned.plan.targets.is_empty() {
            // Outputs go with the last resource: a destroy that failed part-way keeps them.
            if !failed {
                writes.push(Write::DeleteResource { urn: urn.to_string() });
            }
        } else if self.req.records.get(&urn).map(|r| Value::from_json(r.outputs.clone())) != Some(Value::Map(outputs.clone())) {
            writes.push(Write::PutResource(ResourceRecord {
                urn: urn.to_string(),
                kind: RecordKind::StackOutputs,
                type_token: "strake:index:Stack".into(),
                id: String::new(),
                inputs: serde_json::Value::Null,
                outputs: Value::Map(outputs.clone()).to_json(),
                dependencies: Vec::new(),
                provider: None,
                protect: false,
                retain_on_delete: false,
            }));
        }
        if !writes.is_empty() {
            self.req.writer.write(writes).await.map_err(|e| Error::Usage(format!("recording stack outputs failed: {e}")))?;
        }
        Ok(outputs)
    }
}

enum CallError {
    /// The provider answered with an error: nothing changed.
    Failed(StepError),
    /// It failed for good, but an earlier attempt failed in a way that may have acted (5xx, lost
    /// connection): the object may exist.
    Ambiguous(StepError),
    /// No answer in time: the outcome is unknown.
    TimedOut(StepError),
}

impl CallError {
    fn into_step(self) -> StepError {
        match self {
            CallError::Failed(e) | CallError::Ambiguous(e) | CallError::TimedOut(e) => e,
        }
    }
}
