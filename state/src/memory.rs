//! An in-memory [`StateStore`]: nothing survives the process. Used by tests and previews.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::content::Content;
use crate::records::{import_meta, validate_stack_name};
use crate::{LockInfo, Snapshot, StackMeta, StateError, StateStore, Write};

/// A thread-safe in-memory store. Locks are exclusive per stack within this store.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    stacks: HashMap<String, Content>,
    locks: HashMap<String, LockInfo>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The shared state. Every critical section only touches memory and cannot leave it
    /// half-updated, so a poisoned mutex (a panic elsewhere) is safe to recover.
    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl StateStore for MemoryStore {
    fn load(&self, stack: &str) -> Result<Option<Snapshot>, StateError> {
        validate_stack_name(stack)?;
        Ok(self.inner().stacks.get(stack).map(Content::snapshot))
    }

    fn write(&self, stack: &str, batch: Vec<Write>) -> Result<StackMeta, StateError> {
        validate_stack_name(stack)?;
        let bump = batch.iter().any(Write::changes_resources);
        let mut inner = self.inner();
        let entry = inner.stacks.entry(stack.to_string()).or_insert_with(|| Content::new(StackMeta::new(stack)));
        for write in batch {
            entry.apply(write);
        }
        if bump {
            entry.meta.serial += 1;
        }
        Ok(entry.meta.clone())
    }

    fn import(&self, snapshot: Snapshot) -> Result<StackMeta, StateError> {
        let mut inner = self.inner();
        let current = inner.stacks.get(&snapshot.meta.stack).map(|stack| &stack.meta);
        let meta = import_meta(&snapshot.meta, current)?;
        let content = Content::from_snapshot(Snapshot { meta: meta.clone(), ..snapshot });
        inner.stacks.insert(meta.stack.clone(), content);
        Ok(meta)
    }

    fn lock(&self, stack: &str, info: &LockInfo) -> Result<Option<LockInfo>, StateError> {
        validate_stack_name(stack)?;
        let mut inner = self.inner();
        if let Some(holder) = inner.locks.get(stack) {
            return Err(StateError::Locked { stack: stack.to_string(), holder: Box::new(holder.clone()) });
        }
        inner.locks.insert(stack.to_string(), info.clone());
        Ok(None)
    }

    fn unlock(&self, stack: &str, lock_id: &str) -> Result<(), StateError> {
        validate_stack_name(stack)?;
        let mut inner = self.inner();
        match inner.locks.get(stack) {
            None => Err(StateError::NotLocked { stack: stack.to_string() }),
            Some(holder) if holder.id != lock_id => {
                Err(StateError::LockMismatch { stack: stack.to_string(), expected: lock_id.to_string(), holder: Box::new(holder.clone()) })
            }
            Some(_) => {
                inner.locks.remove(stack);
                Ok(())
            }
        }
    }

    fn lock_holder(&self, stack: &str) -> Result<Option<LockInfo>, StateError> {
        validate_stack_name(stack)?;
        Ok(self.inner().locks.get(stack).cloned())
    }
}
