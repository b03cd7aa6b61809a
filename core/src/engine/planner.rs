//! Planning: walks the graph, refreshing recorded resources, reading data sources, checking and
//! diffing inputs, and choosing each action with the pure [`decide`](crate::plan::decide).
//! It never mutates anything.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use strake_state::{RecordKind, ResourceRecord, Snapshot};

use super::plan_checks::{drift_notes, duplicate_claims, pending_notes, planned_providers, preflight, same_destination_warnings, strictly};
use super::prior::{Prior, Refreshed, as_found, record_of};
use super::providers::{ProviderCache, Slot};
use super::retry::with_retries;
use super::shared::{check_inputs, env_value, stack_outputs_urn};
use super::walk::walk;
use crate::error::{Diagnostic, Error, StepError};
use crate::events::{Event, Observer};
use crate::graph::{Graph, NodeKind};
use crate::plan::{Action, Decide, PLAN_FORMAT_VERSION, Plan, PlanMode, PlannedStep, ReplaceOrder, decide, forcing_paths};
use crate::program::Program;
use crate::provider::*;
use crate::{Urn, Value};

/// A plan plus what the executor needs to carry it out.
pub struct Planned {
    /// The plan itself: what is shown, and what `plan --out` saves.
    pub plan: Plan,
    pub(crate) graph: Graph,
    /// Outputs known at plan time (unchanged resources, data sources), keyed by URN.
    pub(crate) known: HashMap<Urn, Value>,
    /// The recorded resources the plan changes, as refresh found them (and upgraded to their
    /// types' schema versions): what the executor updates, replaces and deletes.
    pub(crate) prior: HashMap<Urn, Prior>,
    /// Resources whose refresh differed from state.
    pub(crate) refreshed: HashMap<Urn, Refreshed>,
    /// Resources whose records were upgraded to their type's current schema version on load, as
    /// upgraded.
    pub(crate) upgraded: HashMap<Urn, Prior>,
}

pub(crate) struct PlanRequest<'a> {
    pub program: &'a Program,
    pub snapshot: &'a Snapshot,
    pub existed: bool,
    pub providers: &'a ProviderCache,
    pub mode: PlanMode,
    pub targets: &'a [Urn],
    pub refresh: bool,
    /// Whether to note the pending operations state holds (not when this session has just
    /// resolved them, and said how).
    pub note_pending: bool,
    pub parallelism: usize,
    /// Every warning is an error.
    pub strict: bool,
    /// Reads are retried like apply's calls (throttling, transient errors).
    pub retry: super::RetryPolicy,
    /// Sees retries made while planning.
    pub observer: &'a std::sync::Arc<dyn Observer>,
}

/// Why planning a node stopped the nodes that wait for it.
enum Stop {
    /// A provider call failed.
    Failed(StepError),
    /// A diagnostic (recorded) says what is wrong.
    Diagnosed,
}

struct Walker<'a> {
    req: &'a PlanRequest<'a>,
    graph: &'a Graph,
    included: Vec<bool>,
    /// The priors of the resources the plan changes (the executor works from them).
    changed: Mutex<HashMap<Urn, Prior>>,
    env: Mutex<HashMap<Urn, Value>>,
    steps: Mutex<Vec<PlannedStep>>,
    diags: Mutex<Vec<Diagnostic>>,
    refreshed: Mutex<HashMap<Urn, Refreshed>>,
    /// Records upgraded to their type's current schema version.
    upgraded: Mutex<HashMap<Urn, Prior>>,
    /// Resources planned to be replaced delete-first.
    deleted_first: Mutex<BTreeSet<Urn>>,
    /// What each refresh item read, by node, until the node takes it.
    read_back: Mutex<HashMap<usize, ReadBack>>,
}

/// What a refresh item leaves for its node.
enum ReadBack {
    /// The resource is as recorded: the node reads its record again when it is planned (refresh
    /// items run ahead of their nodes, and a large plan would hold a copy of every prior).
    AsRecorded,
    /// The resource as read (or upgraded), or `None`: nothing recorded, or gone.
    Read(Option<Prior>),
}

pub(crate) async fn plan(req: &PlanRequest<'_>) -> Result<Planned, Error> {
    let graph = Graph::build(req.program, Some(req.snapshot)).map_err(Error::Diagnostics)?;
    let mut diags = Vec::new();
    for target in req.targets {
        if graph.node_index(target).is_none() {
            diags.push(Diagnostic::error(Some(target), None, "`--target` names a resource that is neither declared nor in state"));
        }
    }
    for (urn, problem) in req.providers.configure_recorded(req.program, req.snapshot).await {
        diags.push(Diagnostic::error(Some(&urn), None, problem));
    }
    let diags = without_errors(diags)?;

    let included = included_nodes(&graph, req.targets, req.mode);
    let w = Walker {
        req,
        graph: &graph,
        included,
        changed: Mutex::new(HashMap::new()),
        env: Mutex::new(HashMap::with_capacity(graph.nodes.len())),
        steps: Mutex::new(Vec::with_capacity(graph.nodes.len())),
        diags: Mutex::new(diags),
        refreshed: Mutex::new(HashMap::new()),
        upgraded: Mutex::new(HashMap::new()),
        deleted_first: Mutex::new(BTreeSet::new()),
        read_back: Mutex::new(HashMap::new()),
    };
    let (deps, refresh_of) = with_refresh_items(&graph, &w.included, |urn| record_of(req.snapshot, urn).is_some());
    let nodes = graph.nodes.len();
    let (walker, refresh_of) = (&w, &refresh_of);
    let outcome = walk(&deps, req.parallelism, &Default::default(), |i| async move {
        if i < nodes { walker.plan_node(i).await } else { walker.refresh_node(refresh_of[i - nodes]).await }
    })
    .await;
    debug_assert!(outcome.not_started.is_empty());

    let Walker { env, steps, diags, refreshed, upgraded, changed, .. } = w;
    let (env, mut steps, mut diags) = (take(env), take(steps), take(diags));
    let item_urn = |item: usize| graph.nodes[if item < nodes { item } else { refresh_of[item - nodes] }].urn.clone();
    let failures = stopped(outcome.failed, &mut diags, item_urn);
    strictly(req.strict, &mut diags);
    if !failures.is_empty() {
        return Err(Error::StepsFailed(failures));
    }
    let mut diags = without_errors(diags)?;
    // One step per URN, so an unstable sort gives the same order, without a scratch copy.
    steps.sort_unstable_by(|a, b| a.urn.cmp(&b.urn));
    diags.extend(duplicate_claims(req.providers, &steps));
    let mut diags = without_errors(diags)?;
    diags.extend(preflight(req.providers, &steps).await);
    let mut diags = without_errors(diags)?;
    let (outputs, outputs_changed) = plan_outputs(req, &env)?;
    let (refreshed, upgraded, prior) = (take(refreshed), take(upgraded), take(changed));
    let providers = planned_providers(req.providers, &steps);
    diags.extend(same_destination_warnings(&providers, req.providers));
    strictly(req.strict, &mut diags);
    let diags = without_errors(diags)?;
    let reviews = super::reviews::review(req.program, req.snapshot, &steps, || as_found(req.snapshot, &upgraded, &refreshed), &env, req.providers);
    let mut notes = if req.note_pending { pending_notes(req.snapshot) } else { Vec::new() };
    notes.extend(drift_notes(&refreshed));
    let plan = Plan {
        format_version: PLAN_FORMAT_VERSION,
        stack: req.program.stack.clone(),
        mode: req.mode,
        lineage: req.existed.then(|| req.snapshot.meta.lineage.clone()),
        serial: req.snapshot.meta.serial,
        steps,
        outputs,
        outputs_changed,
        diagnostics: diags,
        notes,
        targets: req.targets.to_vec(),
        providers,
        reviews,
    };
    Ok(Planned { plan, graph, known: env, prior, refreshed, upgraded })
}

/// The diagnostics, when none of them is an error; else the error that stops the plan with them.
fn without_errors(diags: Vec<Diagnostic>) -> Result<Vec<Diagnostic>, Error> {
    if diags.iter().any(Diagnostic::is_error) { Err(Error::Diagnostics(diags)) } else { Ok(diags) }
}

/// The errors of the walk's failed items; an item that stopped for a diagnostic but left none
/// fails the plan too, named, so no failure is silent.
fn stopped(failed: Vec<(usize, Stop)>, diags: &mut Vec<Diagnostic>, urn_of: impl Fn(usize) -> Urn) -> Vec<StepError> {
    let mut failures = Vec::new();
    for (item, stop) in failed {
        match stop {
            Stop::Failed(e) => failures.push(e),
            Stop::Diagnosed if !diags.iter().any(Diagnostic::is_error) => {
                let message = "planning it stopped without saying why; this is a bug in Strake, please report it";
                diags.push(Diagnostic::error(Some(&urn_of(item)), None, message));
            }
            Stop::Diagnosed => {}
        }
    }
    failures
}

/// The walk's items: every graph node, plus one refresh read per recorded resource the plan
/// covers. A read needs only the recorded id and its provider, so it waits for the provider
/// alone, not for the resource's dependencies: all reads of a plan run at full parallelism. The
/// resource's own node waits for its read. Returns the items' dependencies and, for each
/// refresh item (numbered after the nodes), its node.
fn with_refresh_items(graph: &Graph, included: &[bool], recorded: impl Fn(&Urn) -> bool) -> (Vec<Vec<usize>>, Vec<usize>) {
    let refresh_of: Vec<usize> =
        (0..graph.nodes.len()).filter(|&n| graph.nodes[n].kind == NodeKind::Resource && included[n] && recorded(&graph.nodes[n].urn)).collect();
    // Each list is made at its size: a large plan has one per node and one per refresh item.
    let mut read_item = vec![None; graph.nodes.len()];
    for (k, &n) in refresh_of.iter().enumerate() {
        read_item[n] = Some(graph.nodes.len() + k);
    }
    let node_deps = graph.deps.iter().zip(&read_item).map(|(ds, read)| ds.iter().copied().chain(*read).collect());
    let read_deps = refresh_of.iter().map(|&n| graph.nodes[n].provider.as_ref().and_then(|p| graph.node_index(p)).into_iter().collect());
    (node_deps.chain(read_deps).collect(), refresh_of)
}

fn take<T: Default>(m: Mutex<T>) -> T {
    m.into_inner().unwrap_or_default()
}

/// Which nodes the plan covers: all, or the targets with their dependencies (a destroy: with
/// their dependents).
fn included_nodes(graph: &Graph, targets: &[Urn], mode: PlanMode) -> Vec<bool> {
    if targets.is_empty() {
        return vec![true; graph.nodes.len()];
    }
    let roots = targets.iter().filter_map(|t| graph.node_index(t));
    let set: BTreeSet<usize> = match mode {
        PlanMode::Normal => graph.with_dependencies(roots),
        PlanMode::Destroy => {
            let mut out = BTreeSet::new();
            let mut stack: Vec<usize> = roots.collect();
            while let Some(n) = stack.pop() {
                if out.insert(n) {
                    stack.extend(graph.dependents[n].iter().copied());
                }
            }
            out
        }
    };
    (0..graph.nodes.len()).map(|n| set.contains(&n)).collect()
}

fn plan_outputs(req: &PlanRequest<'_>, env: &HashMap<Urn, Value>) -> Result<(std::collections::BTreeMap<String, Value>, bool), Error> {
    let recorded = req
        .snapshot
        .resources
        .iter()
        .find(|r| r.kind == RecordKind::StackOutputs && r.urn == stack_outputs_urn(&req.program.stack).as_str())
        .map(|r| Value::from(&r.outputs))
        .unwrap_or_else(Value::map);
    if req.mode == PlanMode::Destroy {
        let changed = recorded != Value::map();
        return Ok((Default::default(), changed));
    }
    let mut outputs = std::collections::BTreeMap::new();
    for (name, o) in &req.program.exports {
        let v = o.resolve_value(env).map_err(|e| Error::Diagnostics(vec![Diagnostic::error(None, Some(name), format!("stack output: {e}"))]))?;
        outputs.insert(name.clone(), v);
    }
    let changed = Value::Map(outputs.clone().into()) != recorded;
    Ok((outputs, changed))
}

/// What a data source that found nothing looked for, and where.
pub(crate) fn nothing_found(inputs: &Value, provider: &dyn Provider) -> String {
    let looked_for = match crate::plan::redact(inputs) {
        Value::Map(m) if !m.is_empty() => m.iter().map(|(k, v)| format!("{k} = {v}")).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    };
    let place = provider.target().map(|t| format!(" in {}", t.description)).unwrap_or_default();
    format!("found nothing matching {looked_for}{place}; check the names, and that this is the right account and region")
}

impl Walker<'_> {
    fn retried(&self, urn: &Urn, operation: &str, notice: &super::retry::RetryNotice<'_>) {
        self.req.observer.on_event(&super::retry::retry_event(urn, operation, notice));
    }

    fn diag(&self, d: Diagnostic) {
        if let Ok(mut diags) = self.diags.lock() {
            diags.push(d);
        }
    }

    fn set_env(&self, urn: &Urn, value: Value) {
        if let Ok(mut env) = self.env.lock() {
            env.insert(urn.clone(), value);
        }
    }

    fn push(&self, step: PlannedStep) {
        if let Ok(mut steps) = self.steps.lock() {
            steps.push(step);
        }
    }

    fn resolve_inputs(&self, decl: &crate::program::Declaration) -> Option<Value> {
        let env = self.env.lock().ok()?;
        match decl.resolve_inputs(&*env) {
            Ok(v) => Some(v),
            Err(e) => {
                drop(env);
                self.diag(Diagnostic::error(Some(&decl.urn), None, e.0));
                None
            }
        }
    }

    async fn plan_node(&self, n: usize) -> Result<(), Stop> {
        let node = &self.graph.nodes[n];
        match node.kind {
            NodeKind::Provider => self.plan_provider(n).await,
            NodeKind::DataSource => self.plan_data_source(n).await,
            NodeKind::Resource => self.plan_resource(n).await,
            NodeKind::Removed => self.plan_removed(n),
        }
    }

    async fn plan_provider(&self, n: usize) -> Result<(), Stop> {
        let Some(decl) = self.graph.nodes[n].decl.map(|i| &self.req.program.providers[i]) else { return Ok(()) };
        let config = {
            let Ok(env) = self.env.lock() else { return Err(Stop::Diagnosed) };
            decl.config.resolve_value(&*env)
        };
        let config = match config {
            Ok(c) => c,
            Err(e) => {
                self.diag(Diagnostic::error(Some(&decl.urn), None, e.0));
                return Err(Stop::Diagnosed);
            }
        };
        if config.is_known() {
            let failures = decl.factory.check_config(&config);
            if !failures.is_empty() {
                for f in failures {
                    self.diag(Diagnostic::error(Some(&decl.urn), Some(&f.property), f.reason));
                }
                return Err(Stop::Diagnosed);
            }
        }
        let configured = with_retries(
            &self.req.retry,
            || self.req.providers.configure(&decl.urn, &decl.factory, config.clone()),
            |n| self.retried(&decl.urn, "configure", &n),
        )
        .await;
        match configured {
            Ok(_) => Ok(()),
            Err(e) => Err(Stop::Failed(StepError::from_provider(&decl.urn, "configure", &e))),
        }
    }

    fn provider_of(&self, n: usize) -> Slot {
        self.req.providers.get(self.graph.nodes[n].provider.as_ref()).unwrap_or(Slot::Unknown)
    }

    async fn plan_data_source(&self, n: usize) -> Result<(), Stop> {
        let decl = &self.req.program.resources[self.graph.nodes[n].decl.unwrap_or_default()];
        let Some(inputs) = self.resolve_inputs(decl) else { return Ok(()) };
        let type_token = decl.urn.type_token().to_string();
        let provider = match self.provider_of(n) {
            Slot::Ready(p) if inputs.is_known() => p,
            _ => {
                // Read during apply, once its inputs are known.
                let provider = self.graph.nodes[n].provider.as_ref();
                let mut s = step(&decl.urn, provider, Action::Read, None, Some(inputs), "inputs known only after apply");
                s.parent = decl.options.parent.clone();
                self.push(s);
                return Ok(());
            }
        };
        let check = provider.check(CheckRequest { urn: decl.urn.clone(), type_token: type_token.clone(), inputs, prior_inputs: None });
        if !check.failures.is_empty() {
            for f in check.failures {
                self.diag(Diagnostic::error(Some(&decl.urn), Some(&f.property), f.reason));
            }
            return Ok(());
        }
        let request = ReadRequest { urn: decl.urn.clone(), type_token, id: None, inputs: check.inputs, outputs: Value::Null };
        let reports = super::retry::reporter(self.req.observer, &decl.urn, "read");
        let read = with_retries(
            &self.req.retry,
            || reporting_retries(reports.clone(), provider.read(request.clone())),
            |n| self.retried(&decl.urn, "read", &n),
        )
        .await;
        match read {
            Ok(ReadResponse::Found { id, outputs, .. }) => {
                self.set_env(&decl.urn, env_value(Some(&id), &outputs));
                Ok(())
            }
            Ok(ReadResponse::Gone) => {
                self.diag(Diagnostic::error(Some(&decl.urn), None, nothing_found(&request.inputs, provider.as_ref())));
                Err(Stop::Diagnosed)
            }
            Err(e) => Err(Stop::Failed(StepError::from_provider(&decl.urn, "read", &e))),
        }
    }

    /// The refresh item of node `n`: reads the recorded resource back, for its node to plan with.
    async fn refresh_node(&self, n: usize) -> Result<(), Stop> {
        let urn = &self.graph.nodes[n].urn;
        let read = self.refresh(urn, &self.provider_of(n)).await?;
        if let Ok(mut r) = self.read_back.lock() {
            r.insert(n, read);
        }
        Ok(())
    }

    /// Resource `urn` as `record` holds it, in its type's current schema version: a record of an
    /// older version is upgraded by its provider (and remembered, so the apply writes it back);
    /// one of a newer version than the provider knows stops the plan, since nothing could read it
    /// right.
    fn current(&self, urn: &Urn, record: &ResourceRecord, provider: &Slot, declared: Option<&Value>) -> Result<Prior, Stop> {
        let prior = Prior::from_record(record, declared);
        let Slot::Ready(provider) = provider else { return Ok(prior) };
        let current = provider.schema_version(urn.type_token());
        if prior.version == current {
            return Ok(prior);
        }
        if prior.version > current {
            self.diag(Diagnostic::error(
                Some(urn),
                None,
                format!(
                    "was recorded by a newer version of its provider (schema version {} of `{}`; this one knows version {current}): \
                     run it with that newer provider, or restore an earlier state (`state history`)",
                    prior.version,
                    urn.type_token()
                ),
            ));
            return Err(Stop::Diagnosed);
        }
        let Prior { id, inputs, outputs, version } = prior;
        let req = UpgradeRequest { urn: urn.clone(), type_token: urn.type_token().to_string(), from_version: version, inputs, outputs };
        match provider.upgrade(req) {
            Ok(up) => {
                let p = Prior { id, inputs: up.inputs, outputs: up.outputs, version: current };
                if let Ok(mut upgraded) = self.upgraded.lock() {
                    upgraded.insert(urn.clone(), p.clone());
                }
                Ok(p)
            }
            Err(e) => {
                self.diag(Diagnostic::error(Some(urn), None, e.message));
                Err(Stop::Diagnosed)
            }
        }
    }

    /// Reads a recorded resource back from the cloud (when refresh is on).
    async fn refresh(&self, urn: &Urn, slot: &Slot) -> Result<ReadBack, Stop> {
        let Some(record) = record_of(self.req.snapshot, urn) else { return Ok(ReadBack::Read(None)) };
        // Nothing to read back (refresh off, or the provider unknown until apply) and nothing to
        // upgrade: the node reads the record itself, so it is not parsed here for nothing.
        let version = match slot {
            Slot::Ready(provider) => Some(provider.schema_version(urn.type_token())),
            _ => None,
        };
        if (!self.req.refresh || version.is_none()) && version.is_none_or(|v| v == record.schema_version) {
            return Ok(ReadBack::AsRecorded);
        }
        let prior = self.current(urn, record, slot, None)?;
        // An upgraded prior goes to the node as it is; one as recorded, the node reads again.
        let as_recorded = |prior: Prior| if prior.version == record.schema_version { ReadBack::AsRecorded } else { ReadBack::Read(Some(prior)) };
        let Slot::Ready(provider) = slot else { return Ok(as_recorded(prior)) };
        if !self.req.refresh {
            return Ok(as_recorded(prior));
        }
        // Each attempt's request is made from the prior in place: one copy of its values each.
        let request = || ReadRequest {
            urn: urn.clone(),
            type_token: urn.type_token().to_string(),
            id: Some(prior.id.clone()),
            inputs: prior.inputs.clone(),
            outputs: prior.outputs.clone(),
        };
        let reports = super::retry::reporter(self.req.observer, urn, "read");
        let read = with_retries(&self.req.retry, || reporting_retries(reports.clone(), provider.read(request())), |n| self.retried(urn, "read", &n))
            .await
            .map_err(|e| Stop::Failed(StepError::from_provider(urn, "read", &e)))?;
        let (result, refreshed) = match read {
            ReadResponse::Found { id, inputs, outputs } => {
                let now = Prior { id, inputs, outputs, version: provider.schema_version(urn.type_token()) };
                if now.id == prior.id && now.inputs == prior.inputs && now.outputs == prior.outputs {
                    (as_recorded(prior), None)
                } else {
                    let refreshed = Refreshed::Found(now.clone());
                    (ReadBack::Read(Some(now)), Some(refreshed))
                }
            }
            ReadResponse::Gone => (ReadBack::Read(None), Some(Refreshed::Gone)),
        };
        if let (Some(r), Ok(mut map)) = (refreshed, self.refreshed.lock()) {
            map.insert(urn.clone(), r);
        }
        Ok(result)
    }

    /// Remembers the prior of a resource the plan changes, for the executor.
    fn keep(&self, urn: &Urn, prior: Prior) {
        if let Ok(mut changed) = self.changed.lock() {
            changed.insert(urn.clone(), prior);
        }
    }

    async fn plan_resource(&self, n: usize) -> Result<(), Stop> {
        let node = &self.graph.nodes[n];
        let decl = &self.req.program.resources[node.decl.unwrap_or_default()];
        let urn = &decl.urn;
        let recorded = record_of(self.req.snapshot, urn);
        if !self.included[n] {
            if let Some(r) = recorded {
                self.set_env(urn, env_value(Some(&r.id), &Value::from(&r.outputs)));
            }
            return Ok(());
        }
        // Read by this node's refresh item, which ran first (or nothing recorded).
        let read_back = self.read_back.lock().ok().and_then(|mut r| r.remove(&n));
        let prior_sharing = |declared: Option<&Value>| match read_back {
            Some(ReadBack::AsRecorded) => recorded.map(|r| Prior::from_record(r, declared)),
            Some(ReadBack::Read(read)) => read,
            None => None,
        };
        if self.req.mode == PlanMode::Destroy {
            return self.plan_delete(urn, node.provider.as_ref(), prior_sharing(None), decl.options.protect, decl.options.retain_on_delete);
        }
        let Some(inputs) = self.resolve_inputs(decl) else { return Ok(()) };
        let prior = prior_sharing(Some(&inputs));
        let gone = prior.is_none() && recorded.is_some();
        let Slot::Ready(provider) = self.provider_of(n) else {
            self.plan_with_unknown_provider(n, decl, prior, inputs);
            return Ok(());
        };
        let check = check_inputs(provider.as_ref(), decl, inputs, prior.as_ref().map(|p| &p.inputs));
        for f in &check.failures {
            self.diag(Diagnostic::error(Some(urn), Some(&f.property), f.reason.clone()));
        }
        for w in &check.warnings {
            self.diag(Diagnostic::warning(Some(urn), Some(&w.property), w.reason.clone()));
        }
        let mut inputs = check.inputs;
        // The provider's check may give fresh values: where they repeat what is recorded (all
        // of them, for an unchanged resource), the step keeps the recorded copy.
        if let Some(p) = &prior {
            inputs.share_parts_of(&p.inputs);
        }
        let Some((action, reason, diff)) = self.choose(decl, provider.as_ref(), prior.as_ref(), &inputs, gone) else { return Ok(()) };
        self.set_env(urn, self.planned_outputs(provider.as_ref(), urn, action, prior.as_ref(), &inputs));
        let replace_paths = if matches!(action, Action::Replace(_)) { forcing_paths(&diff, &decl.options) } else { Vec::new() };
        let before = prior.as_ref().map(|p| p.inputs.clone());
        if let (Some(p), true) = (prior, action.is_change()) {
            self.keep(urn, p);
        }
        self.push(PlannedStep {
            urn: urn.clone(),
            action,
            reason,
            before,
            after: Some(inputs),
            changes: diff.changes,
            replace_paths,
            retain: false,
            parent: decl.options.parent.clone(),
            provider: node.provider.clone(),
            internal: provider.internal_inputs(urn.type_token()).iter().map(|s| s.to_string()).collect(),
        });
        Ok(())
    }

    /// A resource whose provider's configuration is unknown until apply: planned with what is
    /// known (a create, or an update of everything that may have changed).
    fn plan_with_unknown_provider(&self, n: usize, decl: &crate::program::Declaration, prior: Option<Prior>, inputs: Value) {
        let node = &self.graph.nodes[n];
        let action = if prior.is_some() { Action::Update } else { Action::Create };
        let before = prior.as_ref().map(|p| p.inputs.clone());
        if let Some(p) = prior {
            self.keep(&decl.urn, p);
        }
        let mut s = step(&decl.urn, node.provider.as_ref(), action, before.clone(), Some(inputs), "provider configuration known only after apply");
        s.parent = decl.options.parent.clone();
        if let Some(before) = &before {
            s.changes = crate::diff::changed_properties(before, s.after.as_ref().unwrap_or(&Value::Null));
        }
        self.push(s);
    }

    /// The resource's action, its reason and the diff behind it; `None` when a diagnostic says
    /// why it has none (a protected resource that would be replaced).
    fn choose(
        &self,
        decl: &crate::program::Declaration,
        provider: &dyn Provider,
        prior: Option<&Prior>,
        inputs: &Value,
        gone: bool,
    ) -> Option<(Action, Option<String>, DiffResponse)> {
        let urn = &decl.urn;
        let diff = prior.map(|p| provider.diff(DiffRequest::new(urn.clone(), p.id.clone(), p.inputs.clone(), p.outputs.clone(), inputs.clone())));
        let decided = decide(Decide { urn, prior_inputs: prior.map(|p| &p.inputs), diff: diff.as_ref(), options: &decl.options, gone });
        let (mut action, mut reason) = decided.map_err(|d| self.diag(d)).ok()?;
        let mut diff = diff;
        if let (Some(p), Some(forced)) = (prior, self.replaced_with_dependency(decl, provider, prior, action)) {
            let decided = decide(Decide { urn, prior_inputs: Some(&p.inputs), diff: Some(&forced.diff), options: &decl.options, gone });
            (action, _) = decided.map_err(|d| self.diag(d)).ok()?;
            reason = Some(forced.reason);
            diff = Some(forced.diff);
        }
        if action == Action::Replace(ReplaceOrder::DeleteThenCreate)
            && let Ok(mut set) = self.deleted_first.lock()
        {
            set.insert(urn.clone());
        }
        Some((action, reason, diff.unwrap_or_default()))
    }

    /// The outputs dependents see at plan time: the recorded ones when nothing changes, else the
    /// provider's preview (an update keeps the object's id; a replacement's is a new one).
    fn planned_outputs(&self, provider: &dyn Provider, urn: &Urn, action: Action, prior: Option<&Prior>, inputs: &Value) -> Value {
        match (action, prior) {
            (Action::NoOp, Some(p)) => env_value(Some(&p.id), &p.outputs),
            _ => {
                let preview = provider.preview(PreviewRequest {
                    urn: urn.clone(),
                    type_token: urn.type_token().to_string(),
                    inputs: inputs.clone(),
                    prior_outputs: prior.filter(|_| action == Action::Update).map(|p| p.outputs.clone()),
                });
                let id = prior.filter(|_| action == Action::Update).map(|p| p.id.as_str());
                env_value(id, &preview)
            }
        }
    }

    /// Whether a dependency's delete-first replacement forces this existing resource to be
    /// replaced delete-first too: the dependency's old object can only be deleted after this
    /// one let go of it, so when the values this resource takes from it would force a
    /// replacement (as the provider's diff says, with those values unknown), this resource is
    /// deleted before it and created after it (Pulumi's dependent replacement).
    fn replaced_with_dependency(
        &self,
        decl: &crate::program::Declaration,
        provider: &dyn Provider,
        prior: Option<&Prior>,
        action: Action,
    ) -> Option<Forced> {
        let prior = prior?;
        if matches!(action, Action::Replace(ReplaceOrder::DeleteThenCreate) | Action::Delete) {
            return None;
        }
        let hidden: BTreeSet<Urn> = {
            let set = self.deleted_first.lock().ok()?;
            decl.dependencies().into_iter().filter(|d| set.contains(d)).collect()
        };
        if hidden.is_empty() {
            return None;
        }
        let inputs = {
            let env = self.env.lock().ok()?;
            decl.resolve_inputs(&Without { env: &env, hidden: &hidden }).ok()?
        };
        let urn = &decl.urn;
        let inputs = check_inputs(provider, decl, inputs, Some(&prior.inputs)).inputs;
        let mut diff = provider.diff(DiffRequest::new(urn.clone(), prior.id.clone(), prior.inputs.clone(), prior.outputs.clone(), inputs));
        let forced = !diff.replaces.is_empty() || matches!(action, Action::Replace(_));
        if !forced {
            return None;
        }
        diff.delete_before_replace = true;
        let names: Vec<String> = hidden.iter().map(|u| u.to_string()).collect();
        let reason = format!("replaced first because {} is replaced delete-first and this depends on it", names.join(", "));
        Some(Forced { diff, reason })
    }

    fn plan_removed(&self, n: usize) -> Result<(), Stop> {
        if !self.included[n] {
            return Ok(());
        }
        let urn = &self.graph.nodes[n].urn;
        let Some(record) = record_of(self.req.snapshot, urn) else { return Ok(()) };
        let prior = self.current(urn, record, &self.provider_of(n), None)?;
        self.plan_delete(urn, self.graph.nodes[n].provider.as_ref(), Some(prior), record.protect, record.retain_on_delete)
    }

    fn plan_delete(&self, urn: &Urn, provider: Option<&Urn>, prior: Option<Prior>, protect: bool, retain: bool) -> Result<(), Stop> {
        let Some(prior) = prior else { return Ok(()) };
        if protect {
            self.diag(Diagnostic::error(
                Some(urn),
                None,
                "is protected and would be destroyed; remove `protect` from it (and apply) before destroying it",
            ));
            return Ok(());
        }
        let reason = match self.req.mode {
            PlanMode::Destroy => None,
            PlanMode::Normal => Some("no longer in the program".to_string()),
        };
        self.push(PlannedStep {
            urn: urn.clone(),
            action: Action::Delete,
            reason,
            before: Some(prior.inputs.clone()),
            after: None,
            changes: Vec::new(),
            replace_paths: Vec::new(),
            retain,
            parent: None,
            provider: provider.cloned(),
            internal: Vec::new(),
        });
        self.keep(urn, prior);
        Ok(())
    }
}

/// A replacement a dependency forces: the diff as if the dependency's values were unknown.
struct Forced {
    diff: DiffResponse,
    reason: String,
}

/// An environment in which some resources' outputs are not known.
struct Without<'a> {
    env: &'a HashMap<Urn, Value>,
    hidden: &'a BTreeSet<Urn>,
}

impl crate::output::Env for Without<'_> {
    fn resource_outputs(&self, urn: &Urn) -> Option<&Value> {
        if self.hidden.contains(urn) { None } else { self.env.get(urn) }
    }
}

fn step(urn: &Urn, provider: Option<&Urn>, action: Action, before: Option<Value>, after: Option<Value>, reason: &str) -> PlannedStep {
    PlannedStep {
        provider: provider.cloned(),
        internal: Vec::new(),
        urn: urn.clone(),
        action,
        reason: Some(reason.to_string()),
        before,
        after,
        changes: Vec::new(),
        replace_paths: Vec::new(),
        retain: false,
        parent: None,
    }
}

/// Emits the plan's diagnostics to an observer.
pub(crate) fn announce(plan: &Plan, observer: &dyn Observer) {
    for d in &plan.diagnostics {
        observer.on_event(&Event::Diagnostic { diagnostic: d.clone() });
    }
    for n in &plan.notes {
        observer.on_event(&Event::Note { message: n.clone() });
    }
}

#[cfg(test)]
mod tests;
