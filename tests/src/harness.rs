//! Helpers shared by the lifecycle suites: a rig (cloud + state store + engine), program
//! builders, state inspection, and a state store that fails chosen writes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use strake::events::{Event, RecordingObserver};
use strake::{ApplyReport, Config, Engine, EngineOptions, Error, Plan, PlanOptions, Program, ProviderRef, RetryPolicy, Stack, Urn};
use strake_state::{LocalStore, LockInfo, MemoryStore, RecordKind, ResourceRecord, Snapshot, StackMeta, StateError, StateStore, Write};

use crate::events::Observed;
use crate::fake::{FakeCloud, FakeProvider, THING, Thing};

/// The stack every lifecycle test uses.
pub const STACK: &str = "lifecycle";

/// `x` as a `String` (names to compare with what the cloud and state hold).
pub fn s(x: &str) -> String {
    x.to_string()
}

/// The URN of the `fake:index:Thing` named `name`.
pub fn urn(name: &str) -> Urn {
    Urn::new(STACK, THING, name)
}

/// The URN of the fake provider configuration named `name`.
pub fn provider_urn(name: &str) -> Urn {
    Urn::new(STACK, "strake:provider:fake", name)
}

/// A fake cloud, a state store and an engine over them.
pub struct Rig {
    pub cloud: Arc<FakeCloud>,
    pub store: Arc<dyn StateStore>,
    pub engine: Engine,
    pub observer: Arc<RecordingObserver>,
    _dir: Option<tempfile::TempDir>,
}

/// Fast retries and the default parallelism.
pub fn test_options() -> EngineOptions {
    EngineOptions { retry: RetryPolicy::fast(), ..Default::default() }
}

impl Rig {
    /// Over a [`MemoryStore`].
    pub fn memory() -> Rig {
        Rig::over(Arc::new(MemoryStore::new()), None)
    }

    /// Over a [`LocalStore`] in a fresh temporary directory.
    pub fn local() -> Rig {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = LocalStore::new(dir.path().join("state")).expect("local store");
        Rig::over(Arc::new(store), Some(dir))
    }

    fn over(store: Arc<dyn StateStore>, dir: Option<tempfile::TempDir>) -> Rig {
        let observer = Arc::new(RecordingObserver::default());
        let engine = Engine::new(store.clone()).with_options(test_options()).with_observer(observer.clone());
        Rig { cloud: FakeCloud::new(), store, engine, observer, _dir: dir }
    }

    /// Replaces the engine's options (the observer stays).
    pub fn with_options(mut self, options: EngineOptions) -> Rig {
        self.engine = Engine::new(self.store.clone()).with_options(options).with_observer(self.observer.clone());
        self
    }

    /// Builds a program with one fake provider `main` (account `main`), then `f`.
    pub fn program(&self, f: impl FnOnce(&Stack, &ProviderRef)) -> Program {
        let cloud = self.cloud.clone();
        build(move |stack| {
            let provider = stack.provider("main", FakeProvider::new(&cloud));
            f(stack, &provider);
        })
    }

    /// Plans (with refresh) in its own session.
    pub async fn plan(&self, program: &Program) -> Result<Plan, Error> {
        self.engine.plan(program, &PlanOptions::default()).await
    }

    /// Plans and applies in one session.
    pub async fn up(&self, program: &Program) -> Result<ApplyReport, Error> {
        self.engine.up(program, &PlanOptions::default()).await
    }

    /// The stack's state (panics if it was never written).
    pub fn snapshot(&self) -> Snapshot {
        self.store.load(STACK).expect("loading state").expect("the stack has state")
    }

    /// A [`FailingStore`] over this rig's store, with an engine that writes through it: a run
    /// that crashes at a chosen write.
    pub fn crashing(&self) -> (Arc<FailingStore>, Engine) {
        let failing = Arc::new(FailingStore::new(self.store.clone()));
        let engine = Engine::new(failing.clone()).with_options(test_options());
        (failing, engine)
    }

    /// The managed-resource records of the stack.
    pub fn resources(&self) -> Vec<ResourceRecord> {
        self.snapshot().resources.into_iter().filter(|r| r.kind == RecordKind::Resource).collect()
    }

    /// The record of the Thing `name`, if state has one.
    pub fn record(&self, name: &str) -> Option<ResourceRecord> {
        let urn = urn(name);
        self.snapshot().resources.into_iter().find(|r| r.urn == urn.as_str())
    }

    /// Names (URN last parts) of the managed resources in state, sorted.
    pub fn names_in_state(&self) -> Vec<String> {
        let mut names: Vec<String> = self.resources().iter().filter_map(|r| Urn::parse(&r.urn).ok()).map(|u| u.name().to_string()).collect();
        names.sort();
        names
    }

    /// The events observed so far.
    pub fn events(&self) -> Vec<Event> {
        self.observer.events()
    }

    /// Thing `a` named `name`, and Thing `b` holding `a`'s ARN: renaming `a` replaces it and
    /// repoints `b`.
    pub fn pair(&self, name: &'static str) -> Program {
        self.program(move |stack, _| {
            let a = Thing::new(stack, "a").name(name);
            Thing::new(stack, "b").value(a.arn());
        })
    }

    /// Applies `program` (which must succeed), then forgets the cloud's calls, so that what the
    /// test does next is all the cloud has seen.
    pub async fn apply_then_forget_calls(&self, program: &Program) {
        self.up(program).await.unwrap_or_else(|e| panic!("applying the starting point: {e}"));
        self.cloud.clear_calls();
    }

    /// Applies [`Rig::pair`] with `a` named `name`, then forgets the cloud's calls; the id of `a`.
    pub async fn apply_pair(&self, name: &'static str) -> String {
        self.apply_then_forget_calls(&self.pair(name)).await;
        self.record("a").expect("a is recorded").id
    }

    /// Just the Thing `name`.
    pub fn thing(&self, name: &str) -> Program {
        self.program(|stack, _| drop(Thing::new(stack, name)))
    }

    /// `n` independent Things, `t0` to `t<n-1>`.
    pub fn things(&self, n: usize) -> Program {
        self.program(|stack, _| {
            for i in 0..n {
                Thing::new(stack, &format!("t{i}"));
            }
        })
    }
}

/// Declares the Things `names` as a chain: each after the first holds the ARN of the one before
/// as its value, so depends on it. The Things, in order.
pub fn chain(stack: &Stack, names: &[&str]) -> Vec<Thing> {
    let mut things: Vec<Thing> = Vec::with_capacity(names.len());
    for name in names {
        let thing = Thing::new(stack, name);
        let thing = match things.last() {
            Some(before) => thing.value(before.arn()),
            None => thing,
        };
        things.push(thing);
    }
    things
}

/// Builds a program of the test stack from `f` (which declares everything itself).
// `Program::build` fixes the closure's error type to `strake::Error`, which is large by design.
#[allow(clippy::result_large_err)]
pub fn build(f: impl FnOnce(&Stack)) -> Program {
    Program::build(STACK, Config::default(), move |stack| {
        f(stack);
        Ok(())
    })
    .expect("building the program")
}

/// Names of the steps of `plan` with their actions, in URN order.
pub fn actions(plan: &Plan) -> Vec<(String, strake::Action)> {
    plan.steps.iter().map(|s| (s.urn.name().to_string(), s.action)).collect()
}

/// The position of the first element equal to `item` (panics with the whole list otherwise).
pub fn position<T: PartialEq + std::fmt::Debug>(list: &[T], item: &T) -> usize {
    list.iter().position(|x| x == item).unwrap_or_else(|| panic!("{item:?} not found in {list:?}"))
}

/// A [`StateStore`] that fails chosen writes, standing in for a crash: the write batch that would
/// record a resource (a `PutResource` of a given URN) fails, so state keeps only what was durable
/// before it, as if the process had died at that moment. It keeps the batches it passed on.
pub struct FailingStore {
    inner: Arc<dyn StateStore>,
    fail_put_of: Mutex<Option<String>>,
    failed: AtomicBool,
    committed: Mutex<Vec<Vec<Write>>>,
}

impl FailingStore {
    pub fn new(inner: Arc<dyn StateStore>) -> FailingStore {
        FailingStore { inner, fail_put_of: Mutex::new(None), failed: AtomicBool::new(false), committed: Mutex::new(Vec::new()) }
    }

    /// The write batches committed through this store, in order.
    pub fn committed(&self) -> Vec<Vec<Write>> {
        self.committed.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Fails the next write batch that puts the record of `urn` (once).
    pub fn fail_put_of(&self, urn: &Urn) {
        *self.fail_put_of.lock().unwrap_or_else(PoisonError::into_inner) = Some(urn.to_string());
    }

    /// Whether the armed failure happened.
    pub fn has_failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }
}

impl StateStore for FailingStore {
    fn load(&self, stack: &str) -> Result<Option<Snapshot>, StateError> {
        self.inner.load(stack)
    }

    fn write(&self, stack: &str, batch: Vec<Write>) -> Result<StackMeta, StateError> {
        let mut armed = self.fail_put_of.lock().unwrap_or_else(PoisonError::into_inner);
        let hit = armed.as_deref().is_some_and(|target| batch.iter().any(|w| matches!(w, Write::PutResource(r) if r.urn == target)));
        if hit {
            *armed = None;
            self.failed.store(true, Ordering::SeqCst);
            return Err(StateError::Backend("simulated crash: this write never happened".into()));
        }
        drop(armed);
        let meta = self.inner.write(stack, batch.clone())?;
        self.committed.lock().unwrap_or_else(PoisonError::into_inner).push(batch);
        Ok(meta)
    }

    fn prepare(&self, stack: &str) -> Result<(), StateError> {
        self.inner.prepare(stack)
    }

    fn import(&self, snapshot: Snapshot) -> Result<StackMeta, StateError> {
        self.inner.import(snapshot)
    }

    fn lock(&self, stack: &str, info: &LockInfo) -> Result<Option<LockInfo>, StateError> {
        self.inner.lock(stack, info)
    }

    fn unlock(&self, stack: &str, lock_id: &str) -> Result<(), StateError> {
        self.inner.unlock(stack, lock_id)
    }

    fn lock_holder(&self, stack: &str) -> Result<Option<LockInfo>, StateError> {
        self.inner.lock_holder(stack)
    }
}

/// A binary of the workspace's examples, built beside the test binaries (`cargo build
/// --workspace`, which the test command runs first).
pub fn example_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir = exe.parent().and_then(std::path::Path::parent).expect("target/<profile>");
    let bin = dir.join(name);
    assert!(bin.exists(), "{} is missing: run `cargo build --workspace` first (tests/run.sh does)", bin.display());
    bin
}
