//! An in-memory [`StateStore`]: nothing survives the process. Used by tests and previews.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::records::{import_meta, validate_stack_name};
use crate::{LockInfo, PendingOperation, ResourceRecord, Snapshot, StackMeta, StateError, StateStore, Write};

/// A thread-safe in-memory store. Locks are exclusive per stack within this store.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    stacks: HashMap<String, Stack>,
    locks: HashMap<String, LockInfo>,
}

/// One stack's content, kept sorted by key.
#[derive(Debug)]
struct Stack {
    meta: StackMeta,
    resources: BTreeMap<String, ResourceRecord>,
    pending: BTreeMap<String, PendingOperation>,
}

impl Stack {
    fn new(stack: &str) -> Self {
        Stack { meta: StackMeta::new(stack), resources: BTreeMap::new(), pending: BTreeMap::new() }
    }

    fn apply(&mut self, write: Write) {
        match write {
            Write::PutResource(record) => {
                self.resources.insert(record.urn.clone(), record);
            }
            Write::DeleteResource { urn } => {
                self.resources.remove(&urn);
            }
            Write::PutPending(op) => {
                self.pending.insert(op.id.clone(), op);
            }
            Write::ClearPending { id } => {
                self.pending.remove(&id);
            }
        }
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            meta: self.meta.clone(),
            resources: self.resources.values().cloned().collect(),
            pending: self.pending.values().cloned().collect(),
        }
    }
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
        Ok(self.inner().stacks.get(stack).map(Stack::snapshot))
    }

    fn write(&self, stack: &str, batch: Vec<Write>) -> Result<StackMeta, StateError> {
        validate_stack_name(stack)?;
        let bump = batch.iter().any(Write::changes_resources);
        let mut inner = self.inner();
        let entry = inner.stacks.entry(stack.to_string()).or_insert_with(|| Stack::new(stack));
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
        let mut stack = Stack::new(&meta.stack);
        stack.meta = meta.clone();
        stack.resources = snapshot.resources.into_iter().map(|r| (r.urn.clone(), r)).collect();
        stack.pending = snapshot.pending.into_iter().map(|p| (p.id.clone(), p)).collect();
        inner.stacks.insert(meta.stack.clone(), stack);
        Ok(meta)
    }

    fn lock(&self, stack: &str, info: &LockInfo) -> Result<(), StateError> {
        validate_stack_name(stack)?;
        let mut inner = self.inner();
        if let Some(holder) = inner.locks.get(stack) {
            return Err(StateError::Locked { stack: stack.to_string(), holder: Box::new(holder.clone()) });
        }
        inner.locks.insert(stack.to_string(), info.clone());
        Ok(())
    }

    fn unlock(&self, stack: &str, lock_id: &str) -> Result<(), StateError> {
        validate_stack_name(stack)?;
        let mut inner = self.inner();
        match inner.locks.get(stack) {
            None => Err(StateError::NotLocked { stack: stack.to_string() }),
            Some(holder) if holder.id != lock_id => Err(StateError::LockMismatch {
                stack: stack.to_string(),
                expected: lock_id.to_string(),
                holder: Box::new(holder.clone()),
            }),
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
