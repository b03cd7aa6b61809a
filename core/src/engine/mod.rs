//! The engine: plans and applies programs against a state store. All I/O lives here and in
//! providers; the model, graph, diff and plan it uses are pure.
//!
//! [`Engine`] is the embedding API (the CLI is one client of it). Work happens in a [`Session`],
//! which holds the stack's lock from open to drop.

mod executor;
mod pending;
mod planner;
mod providers;
pub mod retry;
mod state_writer;
pub mod walk;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use strake_state::{LockInfo, RecordKind, Snapshot, StateStore, Write};

pub use executor::ApplyReport;
pub use planner::Planned;
use providers::ProviderCache;
pub use retry::RetryPolicy;
pub use walk::CancelFlag;

use crate::error::Error;
use crate::events::{NullObserver, Observer};
use crate::plan::{Plan, PlanMode};
use crate::program::Program;
use crate::{Urn, Value};

/// Engine-wide settings.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Steps in flight at once (`--parallelism`).
    pub parallelism: usize,
    pub retry: RetryPolicy,
    /// Time limit of one provider operation when the resource sets none.
    pub default_timeout: Duration,
    /// Every warning of a plan is an error (`--strict`).
    pub strict: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions { parallelism: 10, retry: RetryPolicy::default(), default_timeout: Duration::from_secs(30 * 60), strict: false }
    }
}

/// What one plan covers.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    pub mode: PlanMode,
    /// Only these resources (and their dependencies; for destroy, their dependents).
    pub targets: Vec<Urn>,
    /// Read every recorded resource back first, so drift shows (default on).
    pub refresh: bool,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions { mode: PlanMode::Normal, targets: Vec::new(), refresh: true }
    }
}

impl PlanOptions {
    pub fn destroy() -> Self {
        PlanOptions { mode: PlanMode::Destroy, ..Default::default() }
    }
}

/// What `refresh` changed in state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefreshReport {
    /// Recorded resources whose values changed outside Strake.
    pub changed: Vec<Urn>,
    /// Recorded resources deleted outside Strake (now forgotten).
    pub gone: Vec<Urn>,
}

/// Plans and applies programs against a state store. Embed it to drive Strake without the CLI.
pub struct Engine {
    store: Arc<dyn StateStore>,
    options: EngineOptions,
    observer: Arc<dyn Observer>,
    cancel: CancelFlag,
}

impl Engine {
    pub fn new(store: Arc<dyn StateStore>) -> Engine {
        Engine { store, options: EngineOptions::default(), observer: Arc::new(NullObserver), cancel: CancelFlag::default() }
    }

    pub fn with_options(mut self, options: EngineOptions) -> Engine {
        self.options = options;
        self
    }

    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Engine {
        self.observer = observer;
        self
    }

    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    pub fn store(&self) -> &Arc<dyn StateStore> {
        &self.store
    }

    /// Setting this flag stops an apply from starting new steps (running ones finish and are recorded).
    pub fn cancel_flag(&self) -> CancelFlag {
        self.cancel.clone()
    }

    /// Takes the stack's lock and loads its state. The lock is released when the session drops.
    pub fn session<'a>(&'a self, program: &'a Program, operation: &str) -> Result<Session<'a>, Error> {
        let info = LockInfo::for_current_process(operation);
        let broken = self.store.lock(&program.stack, &info)?;
        let notes = broken
            .map(|stale| {
                format!(
                    "broke the lock of {} on stack `{}`: its process is gone; what it left unfinished is resolved before anything is applied",
                    stale.describe(),
                    program.stack
                )
            })
            .into_iter()
            .collect();
        let mut session = Session {
            engine: self,
            program,
            lock_id: info.id,
            snapshot: Snapshot::empty(&program.stack),
            existed: false,
            providers: ProviderCache::new(program),
            notes,
            resolved: false,
        };
        session.reload()?;
        Ok(session)
    }

    /// Plans the program (read-only).
    pub async fn plan(&self, program: &Program, options: &PlanOptions) -> Result<Plan, Error> {
        Ok(self.session(program, "plan")?.plan(options).await?.plan)
    }

    /// Plans and applies in one session (`apply --yes`).
    pub async fn up(&self, program: &Program, options: &PlanOptions) -> Result<ApplyReport, Error> {
        let mut session = self.session(program, "apply")?;
        session.resolve_pending().await?;
        let planned = session.plan(options).await?;
        session.apply(&planned).await
    }

    /// Destroys every resource of the stack.
    pub async fn destroy(&self, program: &Program) -> Result<ApplyReport, Error> {
        self.up(program, &PlanOptions::destroy()).await
    }

    /// Reads every recorded resource back and records what it finds.
    pub async fn refresh(&self, program: &Program) -> Result<RefreshReport, Error> {
        self.session(program, "refresh")?.refresh().await
    }

    /// The states the stack can be restored to (`state history`). Needs no readable current state.
    pub fn history(&self, stack: &str) -> Result<Vec<strake_state::RestorePoint>, Error> {
        Ok(self.store.history(stack)?)
    }

    /// Makes restore point `generation` the stack's current state (`state restore`), under the
    /// stack's lock. Works when the current state is damaged.
    pub fn restore(&self, stack: &str, generation: u64) -> Result<strake_state::StackMeta, Error> {
        let info = LockInfo::for_current_process("state restore");
        self.store.lock(stack, &info)?;
        let restored = self.store.restore(stack, generation);
        let unlocked = self.store.unlock(stack, &info.id);
        let meta = restored?;
        unlocked?;
        Ok(meta)
    }
}

/// One locked stack. Dropping it releases the lock.
pub struct Session<'a> {
    engine: &'a Engine,
    program: &'a Program,
    lock_id: String,
    snapshot: Snapshot,
    existed: bool,
    providers: ProviderCache,
    /// What the session found on opening (a stale lock it broke) and what resolving pending
    /// operations did, added to every plan's notes.
    notes: Vec<String>,
    /// Whether pending operations were resolved in this session.
    resolved: bool,
}

impl Session<'_> {
    /// The state as last loaded.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// Whether the stack has any state yet.
    pub fn exists(&self) -> bool {
        self.existed
    }

    fn reload(&mut self) -> Result<(), Error> {
        match self.engine.store.load(&self.program.stack)? {
            Some(s) => {
                self.snapshot = s;
                self.existed = true;
            }
            None => {
                self.snapshot = Snapshot::empty(&self.program.stack);
                self.existed = false;
            }
        }
        Ok(())
    }

    /// Resolves operations an earlier run left unfinished (read back and adopted, cleared, or
    /// finished), each on its own. Returns one note per operation. Resolving can leave new work
    /// (adopting the new object of an interrupted replacement leaves its old object to delete) and
    /// can unblock what failed (an old role can go once its old attachments went), so it goes
    /// round again while a round makes progress. Fails, after resolving what it could, when an
    /// interrupted create's outcome is still unknown: planning then could create its object a
    /// second time.
    pub async fn resolve_pending(&mut self) -> Result<Vec<String>, Error> {
        const MAX_ROUNDS: usize = 5;
        let mut notes = Vec::new();
        let mut last = pending::Resolution::default();
        for _ in 0..MAX_ROUNDS {
            if self.snapshot.pending.is_empty() {
                break;
            }
            let before: Vec<String> = self.snapshot.pending.iter().map(|p| p.id.clone()).collect();
            last = pending::resolve(self.program, &self.snapshot, &self.providers, self.engine.store.as_ref(), &self.engine.options).await;
            notes.append(&mut last.resolved);
            self.reload()?;
            let after: Vec<String> = self.snapshot.pending.iter().map(|p| p.id.clone()).collect();
            if after.is_empty() || after == before {
                break;
            }
        }
        notes.extend(last.unresolved);
        // Reported with the plan that follows, where the reader looks.
        self.notes.extend(notes.iter().cloned());
        self.resolved = true;
        if !last.unresolved_creates.is_empty() {
            return Err(Error::UnresolvedCreates(last.unresolved_creates));
        }
        Ok(notes)
    }

    /// Drops a pending-operation record without touching the cloud (`state pending rm`), for an
    /// interrupted create the user has checked by hand.
    pub fn drop_pending(&mut self, id: &str) -> Result<(), Error> {
        if !self.snapshot.pending.iter().any(|p| p.id == id) {
            return Err(Error::Usage(format!("no pending operation `{id}` in stack `{}`; see `state pending`", self.program.stack)));
        }
        self.engine.store.write(&self.program.stack, vec![Write::ClearPending { id: id.to_string() }])?;
        self.reload()
    }

    /// Plans the program against the current state. Mutates nothing.
    pub async fn plan(&mut self, options: &PlanOptions) -> Result<Planned, Error> {
        let engine_options = &self.engine.options;
        let req = planner::PlanRequest {
            program: self.program,
            snapshot: &self.snapshot,
            existed: self.existed,
            providers: &self.providers,
            mode: options.mode,
            targets: &options.targets,
            refresh: options.refresh,
            note_pending: !self.resolved,
            parallelism: engine_options.parallelism,
            strict: engine_options.strict,
            retry: engine_options.retry,
            observer: &self.engine.observer,
        };
        let mut planned = planner::plan(&req).await?;
        planned.plan.notes.splice(0..0, self.notes.iter().cloned());
        planner::announce(&planned.plan, self.engine.observer.as_ref());
        Ok(planned)
    }

    /// Applies a plan made in this session.
    pub async fn apply(&mut self, planned: &Planned) -> Result<ApplyReport, Error> {
        self.check_fresh(&planned.plan)?;
        let records: HashMap<Urn, strake_state::ResourceRecord> = self
            .snapshot
            .resources
            .iter()
            .filter_map(|r| Urn::parse(&r.urn).ok().map(|u| (u, r.clone())))
            .collect();
        let (writer, thread) = state_writer::StateWriter::start(self.engine.store.clone(), self.program.stack.clone());
        let result = executor::apply(executor::ApplyRequest {
            program: self.program,
            planned,
            providers: &self.providers,
            pending: &self.snapshot.pending,
            records,
            writer,
            options: &self.engine.options,
            observer: &self.engine.observer,
            cancel: &self.engine.cancel,
        })
        .await;
        let commits = thread.join();
        self.reload()?;
        self.forget_idle_providers()?;
        result.map(|r| ApplyReport { state_commits: commits, ..r })
    }

    /// Applies a saved plan exactly: refused if state moved or the program now plans differently.
    pub async fn apply_saved(&mut self, saved: &Plan) -> Result<ApplyReport, Error> {
        self.check_fresh(saved)?;
        if !self.snapshot.pending.is_empty() {
            return Err(Error::StalePlan(
                "an earlier run left interrupted operations, which must be resolved first (run `apply` without a saved plan, or `refresh`)".into(),
            ));
        }
        let options = PlanOptions { mode: saved.mode, targets: saved.targets.clone(), refresh: true };
        let planned = self.plan(&options).await?;
        if planned.plan.fingerprint() != saved.fingerprint() {
            return Err(Error::StalePlan("the program or the cloud changed since the plan was made".into()));
        }
        self.apply(&planned).await
    }

    fn check_fresh(&self, plan: &Plan) -> Result<(), Error> {
        if plan.stack != self.program.stack {
            return Err(Error::StalePlan(format!("the plan is for stack `{}`, not `{}`", plan.stack, self.program.stack)));
        }
        let lineage = self.existed.then(|| self.snapshot.meta.lineage.clone());
        if plan.lineage.is_some() && plan.lineage != lineage {
            return Err(Error::StalePlan("it was made against another state history (lineage)".into()));
        }
        if plan.serial != self.snapshot.meta.serial || (plan.lineage.is_none() && self.existed && self.snapshot.meta.serial > 0) {
            return Err(Error::StalePlan(format!(
                "state changed since the plan was made (serial {} then, {} now)",
                plan.serial, self.snapshot.meta.serial
            )));
        }
        Ok(())
    }

    /// Drops provider records that no resource and no pending operation refers to any more.
    fn forget_idle_providers(&mut self) -> Result<(), Error> {
        let resources = self.snapshot.resources.iter().filter_map(|r| r.provider.as_deref());
        let pending = self.snapshot.pending.iter().filter_map(|p| p.provider.as_deref());
        let used: std::collections::HashSet<&str> = resources.chain(pending).collect();
        let idle: Vec<Write> = self
            .snapshot
            .resources
            .iter()
            .filter(|r| r.kind == RecordKind::Provider && !used.contains(r.urn.as_str()))
            .map(|r| Write::DeleteResource { urn: r.urn.clone() })
            .collect();
        if !idle.is_empty() {
            self.engine.store.write(&self.program.stack, idle)?;
            self.reload()?;
        }
        Ok(())
    }

    /// Reads every recorded resource back and records the result (`refresh`).
    pub async fn refresh(&mut self) -> Result<RefreshReport, Error> {
        self.resolve_pending().await?;
        let planned = self.plan(&PlanOptions::default()).await?;
        let mut report = RefreshReport::default();
        let mut writes = Vec::new();
        for (urn, r) in &planned.refreshed {
            let Some(rec) = self.snapshot.resources.iter().find(|rec| rec.urn == urn.as_str()) else { continue };
            match r {
                planner::Refreshed::Found(_) => report.changed.push(urn.clone()),
                planner::Refreshed::Gone => report.gone.push(urn.clone()),
            }
            writes.push(r.to_write(rec));
        }
        report.changed.sort();
        report.gone.sort();
        if !writes.is_empty() {
            self.engine.store.write(&self.program.stack, writes)?;
            self.reload()?;
        }
        Ok(report)
    }

    /// Adopts an existing cloud object as the declared resource `urn` by reading it by `id`.
    pub async fn import(&mut self, urn: &Urn, id: &str) -> Result<(), Error> {
        pending::import(self.program, &self.snapshot, &self.providers, &self.engine.options, self.engine.store.as_ref(), urn, id).await?;
        self.reload()
    }

    /// Forgets a resource without touching the cloud (`state rm`).
    pub fn forget(&mut self, urn: &str) -> Result<(), Error> {
        if !self.snapshot.resources.iter().any(|r| r.urn == urn) {
            return Err(Error::Usage(format!("`{urn}` is not in the state of stack `{}`; see `state list`", self.program.stack)));
        }
        self.engine.store.write(&self.program.stack, vec![Write::DeleteResource { urn: urn.to_string() }])?;
        self.reload()
    }

    /// Replaces the stack's state (`state import`).
    pub fn replace_state(&mut self, snapshot: Snapshot) -> Result<(), Error> {
        if snapshot.meta.stack != self.program.stack {
            return Err(Error::Usage(format!(
                "the file holds stack `{}`, not `{}`",
                snapshot.meta.stack, self.program.stack
            )));
        }
        let bad: Vec<String> = snapshot
            .resources
            .iter()
            .map(|r| &r.urn)
            .chain(snapshot.pending.iter().map(|p| &p.urn))
            .filter(|u| Urn::parse(u).is_err())
            .map(|u| format!("`{u}`"))
            .collect();
        if !bad.is_empty() {
            return Err(Error::Usage(format!(
                "the file holds records whose URN is not a Strake URN (`urn:strake:<stack>::<type>::<name>`): {}; nothing was imported",
                bad.join(", ")
            )));
        }
        self.engine.store.import(snapshot)?;
        self.reload()
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let _ = self.engine.store.unlock(&self.program.stack, &self.lock_id);
    }
}

/// A resource's outputs as other resources see them: its outputs plus `id`.
pub(crate) fn env_value(id: Option<&str>, outputs: &Value) -> Value {
    let mut v = match outputs {
        Value::Map(_) => outputs.clone(),
        _ => Value::map(),
    };
    if v.get("id").is_none() {
        v.set_path("id", Some(id.map(Value::from).unwrap_or(Value::Unknown)));
    }
    v
}

/// The URN under which a stack's outputs are recorded.
pub(crate) fn stack_outputs_urn(stack: &str) -> Urn {
    Urn::new(stack, "strake:index:Stack", "outputs")
}

/// The outputs of every recorded resource, as an environment for evaluating outputs.
pub(crate) fn state_env(snapshot: &Snapshot) -> HashMap<Urn, Value> {
    snapshot
        .resources
        .iter()
        .filter(|r| r.kind == RecordKind::Resource)
        .filter_map(|r| {
            let urn = Urn::parse(&r.urn).ok()?;
            Some((urn, env_value(Some(&r.id), &Value::from_json(r.outputs.clone()))))
        })
        .collect()
}

pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
