//! State backends for Strake.
//!
//! A [`StateStore`] keeps, per stack, the records of the resources Strake manages, the
//! operations in flight ([`PendingOperation`]) and a lock. Every backend runs the same
//! conformance suite (`conformance` feature). The records are our own versioned types
//! ([`records`]), so state can always be exported as JSON and imported elsewhere.

#![warn(missing_docs)]

#[cfg(any(feature = "s3", feature = "kms"))]
mod blocking;
mod content;
mod error;
mod json_text;
mod local;
mod lock;
mod memory;
pub mod records;
#[cfg(feature = "s3")]
pub mod s3;
pub mod secrets;
mod write_de;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

pub use error::StateError;
pub use local::{KEEP_SEGMENTS, LocalStore};
pub use lock::{LockInfo, holder_is_alive};
pub use memory::MemoryStore;
pub use records::{
    FORMAT_VERSION, JsonText, PendingKind, PendingOperation, RecordKind, ResourceRecord, RestorePoint, Snapshot, StackMeta, Write,
    validate_stack_name,
};
#[cfg(feature = "s3")]
pub use s3::{S3Options, S3Store};

/// The contract every state backend implements.
///
/// Invariants (checked by the conformance suite):
/// - `write` applies a whole batch or nothing, and the batch is durable when it returns `Ok`.
/// - A batch that contains a resource change (put or delete) increments `meta.serial` by one.
/// - `load` of a stack never written returns `Ok(None)`; the first `write` creates its meta with a
///   fresh lineage unless `import` set one.
/// - `lock` is exclusive per stack across threads and processes; a second `lock` fails with
///   [`StateError::Locked`] carrying the holder's [`LockInfo`].
/// - `load` returns resources sorted by URN and pending operations sorted by id; stacks are
///   independent of each other.
/// - Stack names failing [`validate_stack_name`] are refused with [`StateError::InvalidStackName`].
pub trait StateStore: Send + Sync {
    /// Reads a whole stack. `None` when the stack has never been written.
    fn load(&self, stack: &str) -> Result<Option<Snapshot>, StateError>;

    /// Applies a batch atomically and durably. Several concurrent operations' writes should be
    /// grouped into one call by the caller, so crash safety costs one flush per batch.
    fn write(&self, stack: &str, batch: Vec<Write>) -> Result<StackMeta, StateError>;

    /// Gets a stack this process holds the lock of ready for the writes of an operation about to
    /// start (creating it, opening files), so that its first `write` does not wait for that. The
    /// engine calls it as an apply starts, beside the apply's own work. A backend need not do
    /// anything, and `write` must work without it.
    fn prepare(&self, _stack: &str) -> Result<(), StateError> {
        Ok(())
    }

    /// Replaces a stack's whole content (used by `state import`). Keeps the given meta's lineage and
    /// sets its serial to one more than the current serial (or the given one, if larger).
    fn import(&self, snapshot: Snapshot) -> Result<StackMeta, StateError>;

    /// Takes the stack's lock or fails with [`StateError::Locked`] naming a live holder. A lock
    /// left by a holder that is certainly gone (or whose lease ran out: `lease_left` is then
    /// `Some(0)`) is broken and returned, so the caller can say so.
    fn lock(&self, stack: &str, info: &LockInfo) -> Result<Option<LockInfo>, StateError>;

    /// Releases a lock this process holds (matching `lock_id`). Unknown ids are an error.
    fn unlock(&self, stack: &str, lock_id: &str) -> Result<(), StateError>;

    /// The current holder, if any.
    fn lock_holder(&self, stack: &str) -> Result<Option<LockInfo>, StateError>;

    /// Breaks a lock whatever its holder, provided `lock_id` matches the current lock.
    fn force_unlock(&self, stack: &str, lock_id: &str) -> Result<(), StateError> {
        match self.lock_holder(stack)? {
            Some(holder) if holder.id == lock_id => self.unlock(stack, lock_id),
            Some(holder) => Err(StateError::LockMismatch { stack: stack.into(), expected: lock_id.into(), holder: Box::new(holder) }),
            None => Err(StateError::NotLocked { stack: stack.into() }),
        }
    }

    /// The states the stack can be restored to, oldest first (none if the backend keeps none).
    fn history(&self, _stack: &str) -> Result<Vec<RestorePoint>, StateError> {
        Ok(Vec::new())
    }

    /// Makes the state at restore point `generation` the current state (lineage kept, serial
    /// bumped past everything recorded). Works when the current state is damaged.
    fn restore(&self, stack: &str, generation: u64) -> Result<StackMeta, StateError> {
        Err(StateError::Backend(format!("this state backend keeps no earlier states of stack `{stack}` (asked for generation {generation})")))
    }
}
