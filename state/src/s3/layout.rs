//! The objects a stack is kept in, and the rule that folds them: pure, no I/O.
//!
//! Under `<stack>/`:
//! - `journal/<seq>.json`: one [`Entry`] per write batch. Never deleted, so a number once written
//!   stays taken (the fence holds forever) and every past state can be rebuilt.
//! - `deltas/<from>-<to>.json`: a [`Delta`], the last change of each record over entries
//!   `from..=to`.
//! - `snapshots/<seq>.json`: a [`StateDoc`], the whole stack after entry `seq`.
//! - `state.json`: the [`Manifest`], the one object ever rewritten: which snapshot and deltas make
//!   the stack, up to which entry.
//! - `history/<seq>.json`: the manifest as it was after each run that changed something.
//!
//! Deltas, snapshots and history are immutable, and each is a function of the journal entries it
//! covers, so a write of one that already exists is the same object written twice.
//!
//! [`fold`] keeps the deltas few and the bytes written proportional to what changed: a new delta
//! is merged with the newer deltas no more than twice its size (so each delta is more than twice
//! the next, and there are O(log) of them), and the snapshot is rewritten only once the deltas
//! add up to half of it (so its cost is paid for by the changes since the last one).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::content::Content;
use crate::{PendingOperation, ResourceRecord, Snapshot, StackMeta, Write};

/// Deltas beyond which all of them are merged into one, whatever their sizes.
pub const MAX_DELTAS: usize = 12;

pub fn manifest_name(stack: &str) -> String {
    format!("{stack}/state.json")
}

pub fn entry_name(stack: &str, seq: u64) -> String {
    format!("{stack}/journal/{seq:020}.json")
}

/// The number of a journal entry from its name (the inverse of [`entry_name`]).
pub fn entry_seq(name: &str) -> Option<u64> {
    name.rsplit('/').next()?.strip_suffix(".json")?.parse().ok()
}

pub fn delta_name(stack: &str, from: u64, to: u64) -> String {
    format!("{stack}/deltas/{from:020}-{to:020}.json")
}

pub fn snapshot_name(stack: &str, seq: u64) -> String {
    format!("{stack}/snapshots/{seq:020}.json")
}

pub fn history_name(stack: &str, seq: u64) -> String {
    format!("{stack}/history/{seq:020}.json")
}

/// One journal entry: a batch, or a whole new content (`import`, `restore`).
#[derive(Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    /// Unique per write, so a write whose answer was lost is recognized as this run's own.
    pub token: String,
    pub writes: Vec<Write>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace: Option<Snapshot>,
    /// The stack's meta after the entry.
    pub meta: StackMeta,
}

/// The last change of each record over a run of entries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Changes {
    /// By URN: the record, or `None` once deleted.
    #[serde(default)]
    pub resources: BTreeMap<String, Option<ResourceRecord>>,
    /// By id: the operation, or `None` once cleared.
    #[serde(default)]
    pub pending: BTreeMap<String, Option<PendingOperation>>,
}

impl Changes {
    pub fn record(&mut self, write: &Write) {
        match write {
            Write::PutResource(record) => {
                self.resources.insert(record.urn.clone(), Some(record.clone()));
            }
            Write::DeleteResource { urn } => {
                self.resources.insert(urn.clone(), None);
            }
            Write::PutPending(op) => {
                self.pending.insert(op.id.clone(), Some(op.clone()));
            }
            Write::ClearPending { id } => {
                self.pending.insert(id.clone(), None);
            }
        }
    }

    /// These changes followed by `later`'s.
    pub fn then(&mut self, later: &Changes) {
        self.resources.extend(later.resources.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.pending.extend(later.pending.iter().map(|(k, v)| (k.clone(), v.clone())));
    }

    pub fn apply_to(&self, content: &mut Content) {
        for (urn, record) in &self.resources {
            match record {
                Some(record) => content.resources.insert(urn.clone(), record.clone()),
                None => content.resources.remove(urn),
            };
        }
        for (id, op) in &self.pending {
            match op {
                Some(op) => content.pending.insert(id.clone(), op.clone()),
                None => content.pending.remove(id),
            };
        }
    }

    pub fn is_empty(&self) -> bool {
        self.resources.is_empty() && self.pending.is_empty()
    }

    /// These changes over a state whose pending operations are `present`: without the clearing
    /// of operations it does not have (each run starts and clears its own, so a run's changes
    /// would otherwise carry one dead clear per operation, forever).
    pub fn over(mut self, present: &BTreeSet<String>) -> Changes {
        self.pending.retain(|id, op| op.is_some() || present.contains(id));
        self
    }
}

/// What the journal entries after the manifest add to it.
#[derive(Default)]
pub struct Unfolded {
    /// A whole new content, when one of the entries replaced it.
    pub replace: Option<Snapshot>,
    /// The changes after it.
    pub changes: Changes,
}

impl Unfolded {
    pub fn record(&mut self, entry: &Entry) {
        if let Some(replace) = &entry.replace {
            *self = Unfolded { replace: Some(replace.clone()), changes: Changes::default() };
        }
        for write in &entry.writes {
            self.changes.record(write);
        }
    }
}

/// A delta object: the changes of entries `from..=to`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delta {
    pub from: u64,
    pub to: u64,
    pub changes: Changes,
    /// The stack's meta after entry `to`.
    pub meta: StackMeta,
}

/// A snapshot object: the whole stack after entry `seq`.
#[derive(Serialize, Deserialize)]
pub struct StateDoc {
    pub seq: u64,
    pub snapshot: Snapshot,
}

/// The manifest's reference to a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRef {
    pub seq: u64,
    pub bytes: u64,
}

/// The manifest's reference to a delta.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeltaRef {
    pub from: u64,
    pub to: u64,
    pub bytes: u64,
}

/// `state.json`: what makes the stack, up to entry `seq`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// The last journal entry it covers (entries after its last delta hold no changes).
    pub seq: u64,
    pub snapshot: Option<SnapshotRef>,
    /// Oldest first, contiguous from the snapshot on.
    pub deltas: Vec<DeltaRef>,
    /// The stack's meta after entry `seq`.
    pub meta: StackMeta,
    pub resources: usize,
    pub pending: usize,
    /// What wrote it: a run's end, a long run's checkpoint, an import.
    pub made_by: String,
}

/// How a checkpoint folds a new delta in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fold {
    /// Write the new delta as it is.
    Keep,
    /// Merge the last `n` deltas (the new one included) into one.
    Merge(usize),
    /// Write a whole snapshot; no deltas are left.
    Snapshot,
}

/// How to fold a new delta into a stack whose snapshot has `snapshot` bytes (`None`: it has none)
/// and whose deltas, the new one last, have `deltas` bytes.
pub fn fold(snapshot: Option<u64>, deltas: &[u64]) -> Fold {
    let Some(snapshot) = snapshot else { return Fold::Snapshot };
    if 2 * deltas.iter().sum::<u64>() >= snapshot {
        return Fold::Snapshot;
    }
    if deltas.len() > MAX_DELTAS {
        return Fold::Merge(deltas.len());
    }
    let Some((&last, older)) = deltas.split_last() else { return Fold::Keep };
    let (mut merged, mut n) = (last, 1);
    for &older in older.iter().rev() {
        if older > 2 * merged {
            break;
        }
        merged += older;
        n += 1;
    }
    if n > 1 { Fold::Merge(n) } else { Fold::Keep }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Folds `runs` deltas of `each` bytes (each about different records) into a snapshot of
    /// `snapshot` bytes: the most deltas there ever were, and the bytes written per byte changed.
    fn simulate(snapshot: u64, each: u64, runs: usize) -> (usize, f64) {
        let (mut snapshot, mut deltas, mut most, mut written) = (Some(snapshot), Vec::<u64>::new(), 0, 0u64);
        for _ in 0..runs {
            deltas.push(each);
            match fold(snapshot, &deltas) {
                Fold::Keep => written += each,
                Fold::Merge(n) => {
                    let merged: u64 = deltas.drain(deltas.len() - n..).sum();
                    written += merged;
                    deltas.push(merged);
                }
                Fold::Snapshot => {
                    let whole = snapshot.unwrap_or(0) + deltas.drain(..).sum::<u64>();
                    written += whole;
                    snapshot = Some(whole);
                }
            }
            most = most.max(deltas.len());
        }
        (most, written as f64 / (each as f64 * runs as f64))
    }

    #[test]
    fn a_stack_without_a_snapshot_gets_one() {
        assert_eq!(fold(None, &[10]), Fold::Snapshot);
    }

    #[test]
    fn deltas_reaching_half_the_snapshot_are_folded_into_it() {
        assert_eq!(fold(Some(1000), &[300, 200]), Fold::Snapshot);
        assert_eq!(fold(Some(1000), &[300, 100]), Fold::Keep);
    }

    #[test]
    fn a_delta_merges_with_the_newer_ones_near_its_size() {
        assert_eq!(fold(Some(100_000), &[800, 100]), Fold::Keep);
        assert_eq!(fold(Some(100_000), &[800, 100, 100]), Fold::Merge(2));
        assert_eq!(fold(Some(100_000), &[400, 200, 100, 100]), Fold::Merge(4));
    }

    #[test]
    fn small_changes_cost_their_size_times_a_log_and_keep_few_deltas() {
        // A 1 MB stack changed by 1 KB per run, for a thousand runs.
        let (most, amplification) = simulate(1_000_000, 1_000, 1_000);
        assert!(most <= 10, "{most} deltas at once");
        assert!(amplification < 12.0, "{amplification} bytes written per byte changed");
        // A tiny change (a pending operation) against a large stack.
        let (most, _) = simulate(10_000_000, 200, 5_000);
        assert!(most <= MAX_DELTAS, "{most} deltas at once");
    }

    #[test]
    fn changes_keep_the_last_write_of_each_record() {
        let op = |id: &str| crate::conformance::sample_pending(id, "urn:strake:dev::t::x");
        let mut changes = Changes::default();
        changes.record(&Write::PutPending(op("1")));
        changes.record(&Write::ClearPending { id: "1".into() });
        changes.record(&Write::PutPending(op("2")));
        assert_eq!(changes.pending.get("1"), Some(&None));
        assert!(changes.pending["2"].is_some());
        let mut content = Content::new(StackMeta::new("dev"));
        content.pending.insert("1".into(), op("1"));
        changes.apply_to(&mut content);
        assert_eq!(content.pending.keys().collect::<Vec<_>>(), ["2"]);

        // Over a state without operation 1, its clearing is dropped; over one with it, kept.
        let absent = changes.clone().over(&BTreeSet::new());
        assert_eq!(absent.pending.keys().collect::<Vec<_>>(), ["2"]);
        let present = changes.clone().over(&BTreeSet::from(["1".to_string()]));
        assert_eq!(present, changes);
    }
}
