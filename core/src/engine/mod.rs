//! The engine: plans and applies programs against a state store. All I/O lives here and in
//! providers; the model, graph, diff and plan it uses are pure.
//!
//! [`Engine`] is the embedding API (the CLI is one client of it). Work happens in a [`Session`],
//! which holds the stack's lock from open to drop.

mod calls;
mod executor;
mod pending;
mod plan_checks;
mod planner;
mod prior;
mod providers;
pub mod retry;
mod reviews;
mod session;
mod shared;
mod state_writer;
pub mod walk;

use std::sync::Arc;
use std::time::Duration;

use strake_state::{LockInfo, StateStore};

pub use executor::ApplyReport;
pub use planner::Planned;
pub use retry::RetryPolicy;
pub use session::Session;
pub use walk::CancelFlag;

use crate::Urn;
use crate::error::Error;
use crate::events::{NullObserver, Observer};
use crate::plan::{Plan, PlanMode};
use crate::program::Program;

/// Engine-wide settings.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Steps in flight at once (`--parallelism`).
    pub parallelism: usize,
    /// How failed provider calls are retried.
    pub retry: RetryPolicy,
    /// Time limit of one provider operation when the resource sets none.
    pub default_timeout: Duration,
    /// Every warning of a plan is an error (`--strict`).
    pub strict: bool,
    /// How long to wait for a stack that another run holds (`--lock-timeout`); zero fails at once.
    pub lock_timeout: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            parallelism: 10,
            retry: RetryPolicy::default(),
            default_timeout: Duration::from_secs(30 * 60),
            strict: false,
            lock_timeout: Duration::ZERO,
        }
    }
}

/// What one plan covers.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// A normal plan or a destroy plan.
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
    /// A plan that deletes every resource of the stack, refreshing first.
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
///
/// ```
/// use std::sync::Arc;
///
/// use strake::prelude::*;
/// use strake::{Config, Engine, PlanOptions, Program};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let engine = Engine::new(Arc::new(strake_state::MemoryStore::new()));
/// let program = Program::build("dev", Config::default(), |stack| {
///     let settings = Data::new(stack, "settings", value!({ "replicas": 2 }));
///     stack.export("settings", settings.output());
///     Ok(())
/// })?;
/// assert!(engine.plan(&program, &PlanOptions::default()).await?.has_changes());
/// let report = engine.up(&program, &PlanOptions::default()).await?;
/// assert_eq!((report.changed, report.outputs["settings"].get("replicas")), (1, Some(&Value::from(2))));
/// // Applied: a re-plan has nothing to do.
/// assert!(!engine.plan(&program, &PlanOptions::default()).await?.has_changes());
/// # Ok::<(), strake::Error>(()) }).unwrap();
/// ```
pub struct Engine {
    store: Arc<dyn StateStore>,
    options: EngineOptions,
    observer: Arc<dyn Observer>,
    cancel: CancelFlag,
}

impl Engine {
    /// An engine on this state store, with default options and no observer.
    pub fn new(store: Arc<dyn StateStore>) -> Engine {
        Engine { store, options: EngineOptions::default(), observer: Arc::new(NullObserver), cancel: CancelFlag::default() }
    }

    /// Uses these settings instead of the defaults.
    pub fn with_options(mut self, options: EngineOptions) -> Engine {
        self.options = options;
        self
    }

    /// Sends every event of its plans and applies to `observer` (progress display, JSON lines).
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Engine {
        self.observer = observer;
        self
    }

    /// The engine's settings.
    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// The state store it plans and applies against.
    pub fn store(&self) -> &Arc<dyn StateStore> {
        &self.store
    }

    /// Setting this flag stops an apply from starting new steps (running ones finish and are recorded).
    pub fn cancel_flag(&self) -> CancelFlag {
        self.cancel.clone()
    }

    /// Takes the stack's lock and loads its state. The lock is released when the session drops.
    pub fn session<'a>(&'a self, program: &'a Program, operation: &str) -> Result<Session<'a>, Error> {
        Session::open(self, program, operation)
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
