//! One stack's content in memory, kept sorted by key: what a batch of [`Write`]s applies to.
//! Shared by the in-memory store and the local store's replay.

use std::collections::BTreeMap;

use crate::{PendingOperation, ResourceRecord, Snapshot, StackMeta, Write};

#[derive(Debug, Clone)]
pub(crate) struct Content {
    pub meta: StackMeta,
    pub resources: BTreeMap<String, ResourceRecord>,
    pub pending: BTreeMap<String, PendingOperation>,
}

impl Content {
    pub fn new(meta: StackMeta) -> Self {
        Content { meta, resources: BTreeMap::new(), pending: BTreeMap::new() }
    }

    pub fn from_snapshot(snapshot: Snapshot) -> Self {
        Content {
            meta: snapshot.meta,
            resources: snapshot.resources.into_iter().map(|r| (r.urn.clone(), r)).collect(),
            pending: snapshot.pending.into_iter().map(|p| (p.id.clone(), p)).collect(),
        }
    }

    pub fn apply(&mut self, write: Write) {
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

    /// The snapshot, leaving this content as it is.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot { meta: self.meta.clone(), resources: self.resources.values().cloned().collect(), pending: self.pending.values().cloned().collect() }
    }

    /// The snapshot, made of this content's records without copying them.
    pub fn into_snapshot(self) -> Snapshot {
        Snapshot { meta: self.meta, resources: self.resources.into_values().collect(), pending: self.pending.into_values().collect() }
    }
}
