//! [`Session`]: one locked stack, from open to drop: plan, apply, refresh and the state commands.

use std::collections::HashMap;

use strake_state::{JsonText, LockInfo, RecordKind, Snapshot, Write};

use super::calls::Caller;
use super::executor::ApplyReport;
use super::planner::Planned;
use super::providers::ProviderCache;
use super::{Engine, PlanOptions, RefreshReport, executor, pending, planner, state_writer};
use crate::error::Error;
use crate::plan::Plan;
use crate::program::Program;
use crate::{Urn, Value};

/// One locked stack. Dropping it releases the lock.
///
/// A plan and its apply under one lock, so that nothing changes the stack in between:
///
/// ```
/// # use std::sync::Arc;
/// # use strake::prelude::*;
/// # use strake::{Config, Engine, PlanOptions, Program};
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let engine = Engine::new(Arc::new(strake_state::MemoryStore::new()));
/// let program = Program::build("dev", Config::default(), |stack| {
///     Data::new(stack, "settings", value!({ "replicas": 2 }));
///     Ok(())
/// })?;
/// let mut session = engine.session(&program, "apply")?;
/// let planned = session.plan(&PlanOptions::default()).await?;
/// assert_eq!(session.apply(&planned).await?.changed, 1);
/// assert!(session.snapshot()?.resources.iter().any(|r| r.urn.ends_with("::settings")));
/// // A second session waits for none: the first one's lock went with it.
/// drop(session);
/// assert!(engine.session(&program, "plan").is_ok());
/// # Ok::<(), strake::Error>(()) }).unwrap();
/// ```
pub struct Session<'a> {
    engine: &'a Engine,
    program: &'a Program,
    lock_id: String,
    snapshot: Snapshot,
    existed: bool,
    /// Whether an apply wrote since `snapshot` was loaded: it is read again when next needed, so
    /// a run that ends with its apply never reads it.
    stale: bool,
    providers: ProviderCache,
    /// What the session found on opening (a stale lock it broke) and what resolving pending
    /// operations did, added to every plan's notes.
    notes: Vec<String>,
    /// Whether pending operations were resolved in this session.
    resolved: bool,
}

impl<'a> Session<'a> {
    /// Takes the stack's lock (breaking a dead holder's, and saying so) and loads its state.
    pub(super) fn open(engine: &'a Engine, program: &'a Program, operation: &str) -> Result<Session<'a>, Error> {
        let info = LockInfo::for_current_process(operation);
        let broken = lock_waiting(engine, &program.stack, &info)?;
        let notes = broken
            .map(|stale| {
                let why = if stale.lease_left.is_some() { "its lease ran out unrenewed" } else { "its process is gone" };
                format!(
                    "broke the lock of {} on stack `{}`: {why}; what it left unfinished is resolved before anything is applied",
                    stale.describe(),
                    program.stack
                )
            })
            .into_iter()
            .collect();
        let mut session = Session {
            engine,
            program,
            lock_id: info.id,
            snapshot: Snapshot::empty(&program.stack),
            existed: false,
            stale: false,
            providers: ProviderCache::new(program),
            notes,
            resolved: false,
        };
        session.reload()?;
        Ok(session)
    }
}

/// Takes the stack's lock, waiting up to the engine's lock timeout for another run to release it
/// (or for its lease to run out).
fn lock_waiting(engine: &Engine, stack: &str, info: &LockInfo) -> Result<Option<LockInfo>, Error> {
    let deadline = std::time::Instant::now() + engine.options.lock_timeout;
    loop {
        match engine.store.lock(stack, info) {
            Err(strake_state::StateError::Locked { holder, .. }) if std::time::Instant::now() < deadline => {
                // A lease says when it runs out; otherwise look again soon.
                let wait = holder.lease_left.map_or(std::time::Duration::from_millis(500), |s| std::time::Duration::from_secs(s.clamp(1, 5)));
                std::thread::sleep(wait.min(deadline.saturating_duration_since(std::time::Instant::now())));
            }
            other => return Ok(other?),
        }
    }
}

impl Session<'_> {
    /// The stack's state as last committed.
    pub fn snapshot(&mut self) -> Result<&Snapshot, Error> {
        self.fresh()?;
        Ok(&self.snapshot)
    }

    /// Whether the stack has any state yet.
    pub fn exists(&mut self) -> Result<bool, Error> {
        self.fresh()?;
        Ok(self.existed)
    }

    /// Reads the state again if an apply wrote since it was loaded.
    fn fresh(&mut self) -> Result<(), Error> {
        if self.stale { self.reload() } else { Ok(()) }
    }

    fn reload(&mut self) -> Result<(), Error> {
        self.stale = false;
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
        self.fresh()?;
        let mut notes = Vec::new();
        let mut last = pending::Resolution::default();
        for _ in 0..MAX_ROUNDS {
            if self.snapshot.pending.is_empty() {
                break;
            }
            let before: Vec<String> = self.snapshot.pending.iter().map(|p| p.id.clone()).collect();
            let caller = Caller::new(&self.engine.options, &self.engine.observer, &self.engine.cancel, self.engine.options.parallelism);
            last = pending::resolve(self.program, &self.snapshot, &self.providers, self.engine.store.as_ref(), &caller).await;
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
        self.fresh()?;
        if !self.snapshot.pending.iter().any(|p| p.id == id) {
            return Err(Error::NoSuchPending { stack: self.program.stack.clone(), id: id.to_string() });
        }
        self.engine.store.write(&self.program.stack, vec![Write::ClearPending { id: id.to_string() }])?;
        self.reload()
    }

    /// Plans the program against the current state. Mutates nothing.
    pub async fn plan(&mut self, options: &PlanOptions) -> Result<Planned, Error> {
        self.fresh()?;
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
        let records: HashMap<Urn, &strake_state::ResourceRecord> =
            self.snapshot.resources.iter().filter_map(|r| Urn::parse(&r.urn).ok().map(|u| (u, r))).collect();
        // Provider records are written only for resources with an explicit provider; only then
        // can the apply leave one that nothing refers to.
        let providers_recorded =
            planned.graph.nodes.iter().any(|n| n.provider.is_some()) || self.snapshot.resources.iter().any(|r| r.kind == RecordKind::Provider);
        let prepare = planned.plan.has_changes();
        let (writer, thread) =
            state_writer::StateWriter::start(self.engine.store.clone(), self.program.stack.clone(), state_writer::MAX_DEFERRED, prepare);
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
        self.snapshot = Snapshot::empty(&self.program.stack);
        self.stale = true;
        if providers_recorded {
            self.forget_idle_providers()?;
        }
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

    /// Refuses a saved plan made for another stack, state history or serial, or in another format.
    pub(crate) fn check_fresh(&mut self, plan: &Plan) -> Result<(), Error> {
        self.fresh()?;
        if plan.format_version != crate::plan::PLAN_FORMAT_VERSION {
            return Err(Error::StalePlan(format!(
                "it was saved in plan format {} and this version of Strake reads format {}; make the plan again",
                plan.format_version,
                crate::plan::PLAN_FORMAT_VERSION
            )));
        }
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
        self.fresh()?;
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
                super::prior::Refreshed::Found(_) => report.changed.push(urn.clone()),
                super::prior::Refreshed::Gone => report.gone.push(urn.clone()),
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
        self.fresh()?;
        pending::import(self.program, &self.snapshot, &self.providers, &self.engine.options, self.engine.store.as_ref(), urn, id).await?;
        self.reload()
    }

    /// Forgets a resource without touching the cloud (`state rm`).
    pub fn forget(&mut self, urn: &str) -> Result<(), Error> {
        self.fresh()?;
        if !self.snapshot.resources.iter().any(|r| r.urn == urn) {
            return Err(Error::NotInState { stack: self.program.stack.clone(), urn: urn.to_string() });
        }
        self.engine.store.write(&self.program.stack, vec![Write::DeleteResource { urn: urn.to_string() }])?;
        self.reload()
    }

    /// Replaces the stack's state (`state import`).
    pub fn replace_state(&mut self, snapshot: Snapshot) -> Result<(), Error> {
        if snapshot.meta.stack != self.program.stack {
            return Err(Error::StateFile(format!("the file holds stack `{}`, not `{}`", snapshot.meta.stack, self.program.stack)));
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
            return Err(Error::StateFile(format!(
                "the file holds records whose URN is not a Strake URN (`urn:strake:<stack>::<type>::<name>`): {}; nothing was imported",
                bad.join(", ")
            )));
        }
        let values = |owner: &str, inputs: &JsonText, outputs: &JsonText| {
            [("inputs", inputs), ("outputs", outputs)]
                .into_iter()
                .filter_map(|(which, text)| Value::from_recorded(text).err().map(|e| format!("the {which} of `{owner}` ({e})")))
                .collect::<Vec<_>>()
        };
        let unreadable: Vec<String> = snapshot
            .resources
            .iter()
            .flat_map(|r| values(&r.urn, &r.inputs, &r.outputs))
            .chain(snapshot.pending.iter().flat_map(|p| values(&format!("pending operation {}", p.id), &p.inputs, &p.outputs)))
            .collect();
        if !unreadable.is_empty() {
            return Err(Error::StateFile(format!(
                "the file holds values Strake cannot read, such as a number beyond the range of a 64-bit float: {}; nothing was imported",
                unreadable.join(", ")
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
