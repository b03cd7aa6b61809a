//! Apply: carries out a [`Planned`] plan. Each step starts as soon as the steps it waits for
//! finish ([`schedule`]), and at most `--parallelism` provider calls run at once. Before every
//! provider mutation a pending-operation record is made durable; the result replaces it in one
//! batch. A failed step skips the steps waiting for it; what succeeded stays recorded.
//!
//! Steps waiting for the state writer hold no provider-call slot, so the writer's batches (one
//! sync each) grow with the number of steps under way, not with `--parallelism`.

mod schedule;
mod steps;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use strake_state::{PendingKind, PendingOperation, RecordKind, ResourceRecord, Write};

use self::schedule::{Work, schedule};
use super::EngineOptions;
use super::calls::{Caller, INTERRUPTED};
use super::planner::Planned;
use super::prior::{Prior, Refreshed};
use super::providers::{ProviderCache, Slot};
use super::shared::{env_value, resource_record, stack_outputs_urn};
use super::state_writer::{Acknowledgement, Commit, StateWriter};
use super::walk::{CancelFlag, walk};
use crate::error::{Error, StepError};
use crate::events::{Event, Observer, Outcome};
use crate::plan::{Action, PlanMode, PlannedStep};
use crate::program::{Declaration, Program};
use crate::provider::Provider;
use crate::{Urn, Value};
use steps::Guard;

/// What an apply did.
#[derive(Debug, Clone, Default)]
pub struct ApplyReport {
    /// Steps that changed something.
    pub changed: usize,
    /// Stack outputs after the apply.
    pub outputs: BTreeMap<String, Value>,
    /// How long the apply took.
    pub elapsed: Duration,
    /// How many state batches were committed (each one durable write).
    pub state_commits: u64,
}

/// How many steps may be under way per provider-call slot: a step under way has written (or is
/// writing) its pending record, or waits for its result to be recorded.
const STEPS_PER_CALL_SLOT: usize = 8;

pub(crate) struct ApplyRequest<'a> {
    pub program: &'a Program,
    pub planned: &'a Planned,
    pub providers: &'a ProviderCache,
    /// The pending operations state holds (resolved as far as possible before planning).
    pub pending: &'a [PendingOperation],
    /// The records state holds, as loaded: read, never copied.
    pub records: HashMap<Urn, &'a ResourceRecord>,
    pub writer: StateWriter,
    pub options: &'a EngineOptions,
    pub observer: &'a std::sync::Arc<dyn Observer>,
    pub cancel: &'a CancelFlag,
}

struct Exec<'a> {
    req: &'a ApplyRequest<'a>,
    steps: HashMap<&'a Urn, &'a PlannedStep>,
    work: Vec<Work>,
    env: Mutex<HashMap<Urn, Value>>,
    /// Old objects of create-then-delete replacements, by node, once the new object is recorded.
    deposed: Mutex<HashMap<usize, PendingOperation>>,
    /// Old objects earlier runs left to delete, with their nodes (see [`left_over_deletes`]).
    left_over: Vec<(usize, PendingOperation)>,
    providers_written: Mutex<HashSet<Urn>>,
    changed: Mutex<usize>,
    /// Results sent without waiting for them to be durable (objects that live only in state),
    /// awaited when the walk ends.
    unacknowledged: Mutex<Vec<(Urn, Acknowledgement)>>,
    /// Provider calls (at most `--parallelism` in flight).
    caller: Caller<'a>,
}

/// The pending deletes of old objects (not the recorded one) of resources in the graph: old
/// objects of replacements that an earlier run could not delete, usually because something still
/// depended on them. This apply deletes them once their dependents have moved.
fn left_over_deletes(req: &ApplyRequest<'_>) -> Vec<(usize, PendingOperation)> {
    req.pending
        .iter()
        .filter(|op| op.kind == PendingKind::Delete)
        .filter_map(|op| {
            let urn = Urn::parse(&op.urn).ok()?;
            let current = req.records.get(&urn).map(|r| &r.id);
            if op.resource_id.is_none() || op.resource_id.as_ref() == current {
                return None;
            }
            Some((req.planned.graph.node_index(&urn)?, op.clone()))
        })
        .collect()
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
    let action = |i: usize| steps.get(&planned.graph.nodes[i].urn).map(|s| s.action).unwrap_or(Action::NoOp);
    let left_over = left_over_deletes(&req);
    let left_over_nodes: Vec<usize> = left_over.iter().map(|(n, _)| *n).collect();
    let (work, deps) = schedule(&planned.graph, planned.plan.mode, action, &left_over_nodes);
    let parallelism = req.options.parallelism.max(1);
    let exec = Exec {
        req: &req,
        steps,
        work,
        env: Mutex::new(env),
        deposed: Mutex::new(HashMap::new()),
        left_over,
        providers_written: Mutex::new(HashSet::new()),
        changed: Mutex::new(0),
        unacknowledged: Mutex::new(Vec::new()),
        caller: Caller::new(req.options, req.observer, req.cancel, parallelism),
    };
    exec.record_refreshed().await?;
    let total = planned.plan.steps.iter().filter(|s| s.action.is_change() || s.action == Action::Read).count();
    req.observer.on_event(&Event::ApplyStarted { stack: req.program.stack.clone(), total });

    let width = parallelism.saturating_mul(STEPS_PER_CALL_SLOT);
    let outcome = walk(&deps, width, req.cancel, |i| exec.run(i)).await;

    // Items stopped by an interruption before their provider call are not errors.
    let (stopped, mut errors): (Vec<StepError>, Vec<StepError>) =
        outcome.failed.into_iter().map(|(_, e)| e).partition(|e| e.code.as_deref() == Some(INTERRUPTED));
    // The outputs' batch is sent before the results nothing waited for are awaited, so it
    // commits with them: batches commit in order and none after a failed one, so outputs never
    // land without the results before them (a destroy's deleted outputs included).
    let incomplete = !errors.is_empty() || !stopped.is_empty() || !outcome.not_started.is_empty() || !outcome.skipped.is_empty();
    let written = exec.write_outputs(incomplete).await;
    errors.extend(exec.acknowledged().await);
    let outputs = match written {
        Ok(outputs) => outputs,
        // After a failed commit nothing more is recorded; the steps' errors say why.
        Err(_) if !errors.is_empty() => BTreeMap::new(),
        Err(e) => return Err(e),
    };
    let interrupted = stopped.len();
    for &(item, cause) in &outcome.skipped {
        let Work::Node(n) = exec.work[item] else { continue };
        if exec.work[cause] == Work::DeleteReplaced(n) || interrupted > 0 {
            continue; // the step's own delete half failed and said so, or nothing failed: interrupted
        }
        let urn = &planned.graph.nodes[n].urn;
        if exec.steps.get(urn).is_some_and(|s| s.action != Action::NoOp) {
            let why = format!("skipped because {} failed", exec.describe(exec.work[cause]));
            exec.finished(urn, Action::NoOp, Outcome::Skipped, Duration::ZERO, Some(why));
        }
    }
    let changed = exec.changed.into_inner().unwrap_or_default();
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
    if !outcome.not_started.is_empty() || interrupted > 0 {
        return Err(Error::Interrupted { remaining: outcome.not_started.len() + interrupted + outcome.skipped.len() });
    }
    Ok(ApplyReport { changed, outputs, elapsed: started.elapsed(), state_commits: 0 })
}

impl Exec<'_> {
    fn node_urn(&self, n: usize) -> &Urn {
        &self.req.planned.graph.nodes[n].urn
    }

    /// A work item in words, for "skipped because ... failed".
    fn describe(&self, w: Work) -> String {
        match w {
            Work::Node(n) => self.node_urn(n).to_string(),
            Work::DeleteReplaced(n) => format!("the delete of {} (replaced, delete first)", self.node_urn(n)),
            Work::DeleteDeposed(n) => format!("the delete of the replaced object of {}", self.node_urn(n)),
            Work::DeleteLeftOver(k) => format!("the delete of an old object of {}", self.node_urn(self.left_over[k].0)),
        }
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
        self.req.observer.on_event(&Event::StepFinished { urn: urn.clone(), action, outcome, elapsed_ms: elapsed.as_millis() as u64, error });
    }

    /// Ends a step's item: success, or its error reported as the step's event, and returned.
    fn settle(&self, urn: &Urn, action: Action, t: Instant, result: Result<(), StepError>) -> Result<(), StepError> {
        match result {
            Ok(()) => {
                self.finished(urn, action, Outcome::Succeeded, t.elapsed(), None);
                Ok(())
            }
            Err(e) => Err(self.step_failed(urn, action, t, e)),
        }
    }

    /// Reports a step's failure (an interruption as a step that did not run).
    fn step_failed(&self, urn: &Urn, action: Action, t: Instant, e: StepError) -> StepError {
        if e.code.as_deref() == Some(INTERRUPTED) {
            self.finished(urn, action, Outcome::Skipped, t.elapsed(), Some("interrupted before its provider call".into()));
        } else {
            self.finished(urn, action, Outcome::Failed, t.elapsed(), Some(e.to_string()));
        }
        e
    }

    /// Writes refreshed records of resources the plan leaves alone, so state matches the cloud,
    /// and the records of them upgraded to their type's current schema version.
    async fn record_refreshed(&self) -> Result<(), Error> {
        let planned = self.req.planned;
        let left_alone = |urn: &Urn| self.steps.get(urn).is_some_and(|s| s.action == Action::NoOp);
        let mut writes = Vec::new();
        for (urn, r) in &planned.refreshed {
            let Some(rec) = self.req.records.get(urn).filter(|_| left_alone(urn)) else { continue };
            writes.push(r.to_write(rec));
        }
        for (urn, p) in planned.upgraded.iter().filter(|(u, _)| !planned.refreshed.contains_key(*u)) {
            let Some(rec) = self.req.records.get(urn).filter(|_| left_alone(urn)) else { continue };
            writes.push(Refreshed::Found(p.clone()).to_write(rec));
        }
        if !writes.is_empty() {
            self.req.writer.write(writes).await.map_err(|e| Error::Internal(format!("recording refreshed state failed: {e}")))?;
        }
        Ok(())
    }

    async fn run(&self, item: usize) -> Result<(), StepError> {
        match self.work[item] {
            Work::Node(n) => self.run_node(n).await,
            Work::DeleteReplaced(n) => self.delete_replaced(n).await,
            Work::DeleteDeposed(n) => match self.deposed.lock().ok().and_then(|mut d| d.remove(&n)) {
                Some(op) => self.delete_old(n, &op).await,
                None => Ok(()),
            },
            Work::DeleteLeftOver(k) => {
                let (n, op) = &self.left_over[k];
                self.delete_old(*n, op).await
            }
        }
    }

    fn provider(&self, n: usize) -> Result<std::sync::Arc<dyn Provider>, StepError> {
        let node = &self.req.planned.graph.nodes[n];
        match self.req.providers.get(node.provider.as_ref()) {
            Some(Slot::Ready(p)) => Ok(p),
            _ => Err(StepError::other(&node.urn, "configure", "its provider's configuration is still unknown")),
        }
    }

    /// The provider that recorded pending operation `op` (an old object is deleted through the
    /// configuration that made it), else node `n`'s.
    fn provider_of_op(&self, n: usize, op: &PendingOperation) -> Result<std::sync::Arc<dyn Provider>, StepError> {
        let recorded = op.provider.as_deref().and_then(|p| Urn::parse(p).ok());
        match recorded.and_then(|p| self.req.providers.get(Some(&p))) {
            Some(Slot::Ready(p)) => Ok(p),
            _ => self.provider(n),
        }
    }

    fn decl(&self, n: usize) -> Option<&Declaration> {
        self.req.planned.graph.nodes[n].decl.map(|i| &self.req.program.resources[i])
    }

    fn prior(&self, n: usize) -> Option<&Prior> {
        self.req.planned.prior.get(self.node_urn(n))
    }

    fn record(&self, n: usize, decl: &Declaration, id: &str, inputs: &Value, outputs: &Value) -> ResourceRecord {
        let provider = self.req.planned.graph.nodes[n].provider.as_ref();
        let schema_version = self.provider(n).map(|p| p.schema_version(decl.urn.type_token())).unwrap_or(0);
        resource_record(decl, provider, schema_version, id, inputs, outputs)
    }

    /// The provider's record, until one batch holding it has been sent in this apply (`written`).
    fn provider_record(&self, n: usize, written: &HashSet<Urn>) -> Option<Write> {
        let urn = self.req.planned.graph.nodes[n].provider.clone()?;
        if written.contains(&urn) {
            return None;
        }
        let config = self.req.providers.config_of(&urn)?;
        Some(Write::PutResource(ResourceRecord {
            urn: urn.to_string(),
            kind: RecordKind::Provider,
            type_token: urn.type_token().to_string(),
            id: String::new(),
            inputs: config.to_recorded(),
            outputs: strake_state::JsonText::null(),
            dependencies: Vec::new(),
            provider: None,
            protect: false,
            retain_on_delete: false,
            schema_version: 0,
        }))
    }

    /// Stores a batch about node `n` (a pending record or a result) together with its provider's
    /// record, the first time: whatever is recorded can then always be read and deleted again.
    async fn write_for(&self, n: usize, writes: Vec<Write>) -> Result<(), StepError> {
        let ack = self.send_for(n, writes, Commit::Now)?;
        self.durable(self.node_urn(n), ack).await
    }

    /// Sends a batch about node `n` with its provider's record, the first time. Batches commit in
    /// the order sent, and none after a failed one, so once sent the provider's record counts as
    /// written: the check, the send and the mark happen under one lock, so no batch about the
    /// provider's resources is sent before the one that records it.
    fn send_for(&self, n: usize, mut writes: Vec<Write>, commit: Commit) -> Result<Acknowledgement, StepError> {
        let urn = self.node_urn(n);
        let mut written = self.providers_written.lock().map_err(|_| StepError::other(urn, "record state", "poisoned lock"))?;
        let provider_record = self.provider_record(n, &written);
        let has_provider_record = provider_record.is_some();
        writes.extend(provider_record);
        let ack = self.send(urn, writes, commit)?;
        if has_provider_record && let Some(p) = self.req.planned.graph.nodes[n].provider.clone() {
            written.insert(p);
        }
        Ok(ack)
    }

    async fn write(&self, urn: &Urn, writes: Vec<Write>) -> Result<(), StepError> {
        let ack = self.send(urn, writes, Commit::Now)?;
        self.durable(urn, ack).await
    }

    fn send(&self, urn: &Urn, writes: Vec<Write>, commit: Commit) -> Result<Acknowledgement, StepError> {
        self.req.writer.send(writes, commit).map_err(|e| StepError::other(urn, "record state", e))
    }

    async fn durable(&self, urn: &Urn, ack: Acknowledgement) -> Result<(), StepError> {
        ack.durable().await.map(drop).map_err(|e| StepError::other(urn, "record state", e))
    }

    /// Records a step's result `writes`, with the removal of the pending record it ran under.
    /// Under a pending record, the step waits until the result is durable. An object that lives
    /// only in state goes on at once: whatever depends on it waits for a later batch of its own
    /// (a pending record), which cannot be durable before this one. Nothing waits for its
    /// commit, so it joins a later one ([`Commit::Later`]); its acknowledgement is awaited when
    /// the walk ends.
    ///
    /// `node`: the node whose provider's record joins the batch the first time (none for a
    /// delete, whose provider is recorded already).
    async fn record_result(&self, urn: &Urn, guard: Guard, mut writes: Vec<Write>, node: Option<usize>) -> Result<(), StepError> {
        let guarded = guard.is_pending();
        writes.extend(guard.clear());
        let commit = if guarded { Commit::Now } else { Commit::Later };
        let ack = match node {
            Some(n) => self.send_for(n, writes, commit)?,
            None => self.send(urn, writes, commit)?,
        };
        if guarded {
            return self.durable(urn, ack).await;
        }
        match self.unacknowledged.lock() {
            Ok(mut waiting) => {
                waiting.push((urn.clone(), ack));
                Ok(())
            }
            Err(_) => Err(StepError::other(urn, "record state", "poisoned lock")),
        }
    }

    /// Waits for the results sent without waiting; the failures, one per resource.
    async fn acknowledged(&self) -> Vec<StepError> {
        let waiting = self.unacknowledged.lock().map(|mut w| std::mem::take(&mut *w)).unwrap_or_default();
        let mut failures = Vec::new();
        if !waiting.is_empty() {
            // Commits what was deferred; had the writer stopped, each acknowledgement says so.
            let _ = self.req.writer.flush();
        }
        for (urn, ack) in waiting {
            failures.extend(self.durable(&urn, ack).await.err());
        }
        failures
    }

    fn set_env(&self, urn: &Urn, value: Value) {
        if let Ok(mut env) = self.env.lock() {
            env.insert(urn.clone(), value);
        }
    }

    /// Records the stack outputs (when all are known). A full destroy deletes them, unless it is
    /// `incomplete` (a step failed, was skipped or was interrupted): they go with the last resource.
    async fn write_outputs(&self, incomplete: bool) -> Result<BTreeMap<String, Value>, Error> {
        let program = self.req.program;
        let urn = stack_outputs_urn(&program.stack);
        let mut outputs = BTreeMap::new();
        let destroy = self.req.planned.plan.mode == PlanMode::Destroy;
        if !destroy {
            let env = self.env.lock().map_err(|_| Error::Internal("poisoned lock".into()))?;
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
        if destroy && self.req.planned.plan.targets.is_empty() {
            // Outputs go with the last resource: a destroy that failed part-way keeps them.
            if !incomplete {
                writes.push(Write::DeleteResource { urn: urn.to_string() });
            }
        } else if self.req.records.get(&urn).map(|r| Value::from(&r.outputs)) != Some(Value::Map(outputs.clone().into())) {
            writes.push(Write::PutResource(ResourceRecord {
                urn: urn.to_string(),
                kind: RecordKind::StackOutputs,
                type_token: "strake:index:Stack".into(),
                id: String::new(),
                inputs: strake_state::JsonText::null(),
                outputs: Value::Map(outputs.clone().into()).to_recorded(),
                dependencies: Vec::new(),
                provider: None,
                protect: false,
                retain_on_delete: false,
                schema_version: 0,
            }));
        }
        if !writes.is_empty() {
            self.req.writer.write(writes).await.map_err(|e| Error::Internal(format!("recording stack outputs failed: {e}")))?;
        }
        Ok(outputs)
    }
}

/// A resource's outputs as dependents see them, after a step.
fn applied(id: &str, outputs: &Value) -> Value {
    env_value(Some(id), outputs)
}
