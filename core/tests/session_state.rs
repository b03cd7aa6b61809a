//! A session reads the stack's state when it opens, and again after an apply only when something
//! asks for it: a run that ends with its apply never reads back what it wrote.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use strake::prelude::*;
use strake::{Config, Engine, PlanOptions, Program};
use strake_state::{LockInfo, MemoryStore, Snapshot, StackMeta, StateError, StateStore, Write};

/// A memory store that counts its loads.
#[derive(Default)]
struct CountingLoads {
    inner: MemoryStore,
    loads: AtomicUsize,
}

impl StateStore for CountingLoads {
    fn load(&self, stack: &str) -> Result<Option<Snapshot>, StateError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load(stack)
    }
    fn write(&self, stack: &str, batch: Vec<Write>) -> Result<StackMeta, StateError> {
        self.inner.write(stack, batch)
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

#[tokio::test]
async fn what_an_apply_wrote_is_read_back_when_asked_for_and_then_planned_against() {
    let store = Arc::new(CountingLoads::default());
    let engine = Engine::new(store.clone());
    let program = Program::build("dev", Config::default(), |stack| {
        Data::new(stack, "settings", value!({ "replicas": 2 }));
        Ok(())
    })
    .unwrap();
    let mut session = engine.session(&program, "apply").unwrap();
    assert!(!session.exists().unwrap());
    let planned = session.plan(&PlanOptions::default()).await.unwrap();
    assert_eq!(session.apply(&planned).await.unwrap().changed, 1);
    assert_eq!(store.loads.load(Ordering::SeqCst), 1, "only the session's opening read the state");

    assert!(session.exists().unwrap());
    let snapshot = session.snapshot().unwrap();
    assert!(snapshot.resources.iter().any(|r| r.urn.ends_with("::settings")), "{snapshot:?}");
    assert_eq!(snapshot.meta.serial, 1);
    assert_eq!(store.loads.load(Ordering::SeqCst), 2, "read back once, when asked for");

    let again = session.plan(&PlanOptions::default()).await.unwrap();
    assert!(!again.plan.has_changes(), "the second plan sees what the apply committed");
    assert_eq!(store.loads.load(Ordering::SeqCst), 2);
}
