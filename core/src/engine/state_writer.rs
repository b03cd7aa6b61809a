//! The single writer of state during an operation. Steps send their writes here and wait for
//! them to be durable; writes that arrive together are committed in one batch (one flush), so crash
//! safety costs one flush per group of concurrently finishing steps, not one per resource.
//!
//! Batches commit in the order they were sent, and after one fails no later one commits (each
//! gets an error that names the first failure): so a batch that is durable vouches for every
//! batch sent before it. A
//! step may therefore send its result and go on without waiting (see [`StateWriter::send`]) when
//! whatever depends on it waits for a later batch of its own.

use std::sync::Arc;
use std::thread::JoinHandle;

use strake_state::{StackMeta, StateStore, Write};
use tokio::sync::{mpsc, oneshot};

type Ack = oneshot::Sender<Result<StackMeta, String>>;

/// Handle to the writer thread. Dropping every handle stops the thread.
#[derive(Clone)]
pub(crate) struct StateWriter {
    tx: mpsc::UnboundedSender<(Vec<Write>, Ack)>,
}

pub(crate) struct WriterThread(Option<JoinHandle<u64>>);

impl WriterThread {
    /// Waits for the thread to finish; returns how many batches it committed.
    pub(crate) fn join(mut self) -> u64 {
        self.0.take().and_then(|h| h.join().ok()).unwrap_or(0)
    }
}

impl StateWriter {
    pub(crate) fn start(store: Arc<dyn StateStore>, stack: String) -> (StateWriter, WriterThread) {
        let (tx, mut rx) = mpsc::unbounded_channel::<(Vec<Write>, Ack)>();
        let handle = std::thread::Builder::new()
            .name("strake-state-writer".into())
            .spawn(move || {
                let mut commits = 0u64;
                let mut failed: Option<String> = None;
                while let Some(first) = rx.blocking_recv() {
                    let mut batch = first.0;
                    let mut acks = vec![first.1];
                    while let Ok((more, ack)) = rx.try_recv() {
                        batch.extend(more);
                        acks.push(ack);
                    }
                    let result = match &failed {
                        Some(e) => Err(format!("not recorded, since an earlier write failed: {e}")),
                        None => {
                            commits += 1;
                            store.write(&stack, batch).map_err(|e| e.to_string())
                        }
                    };
                    if let (Err(e), None) = (&result, &failed) {
                        failed = Some(e.clone());
                    }
                    for ack in acks {
                        let _ = ack.send(result.clone());
                    }
                }
                commits
            })
            .expect("spawning the state writer thread");
        (StateWriter { tx }, WriterThread(Some(handle)))
    }

    /// Sends writes and waits until they are durable.
    pub(crate) async fn write(&self, writes: Vec<Write>) -> Result<StackMeta, String> {
        self.send(writes)?.durable().await
    }

    /// Sends writes, in order after everything sent before; the returned acknowledgement says
    /// when they are durable, or why they are not.
    pub(crate) fn send(&self, writes: Vec<Write>) -> Result<Acknowledgement, String> {
        let (ack, done) = oneshot::channel();
        self.tx.send((writes, ack)).map_err(|_| "the state writer has stopped".to_string())?;
        Ok(Acknowledgement(done))
    }
}

/// The answer to writes sent to the [`StateWriter`]: awaited, it says when they are durable.
pub(crate) struct Acknowledgement(oneshot::Receiver<Result<StackMeta, String>>);

impl Acknowledgement {
    /// Waits until the writes are durable.
    pub(crate) async fn durable(self) -> Result<StackMeta, String> {
        self.0.await.map_err(|_| "the state writer has stopped".to_string())?
    }
}

#[cfg(test)]
mod tests {
    use strake_state::{MemoryStore, PendingKind, PendingOperation};

    use super::*;

    fn pending(id: &str) -> Write {
        Write::PutPending(PendingOperation {
            id: id.into(),
            urn: format!("u{id}"),
            kind: PendingKind::Create,
            type_token: "t".into(),
            provider: None,
            inputs: serde_json::Value::Null,
            outputs: serde_json::Value::Null,
            resource_id: None,
            started_at: 0,
        })
    }

    /// A memory store whose write of the batch holding pending record `fail` fails.
    struct FailsOnce {
        inner: MemoryStore,
        fail: &'static str,
    }

    impl StateStore for FailsOnce {
        fn load(&self, stack: &str) -> Result<Option<strake_state::Snapshot>, strake_state::StateError> {
            self.inner.load(stack)
        }
        fn write(&self, stack: &str, batch: Vec<Write>) -> Result<StackMeta, strake_state::StateError> {
            if batch.iter().any(|w| matches!(w, Write::PutPending(p) if p.id == self.fail)) {
                return Err(strake_state::StateError::Backend("disk full".into()));
            }
            self.inner.write(stack, batch)
        }
        fn import(&self, snapshot: strake_state::Snapshot) -> Result<StackMeta, strake_state::StateError> {
            self.inner.import(snapshot)
        }
        fn lock(&self, stack: &str, info: &strake_state::LockInfo) -> Result<Option<strake_state::LockInfo>, strake_state::StateError> {
            self.inner.lock(stack, info)
        }
        fn unlock(&self, stack: &str, lock_id: &str) -> Result<(), strake_state::StateError> {
            self.inner.unlock(stack, lock_id)
        }
        fn lock_holder(&self, stack: &str) -> Result<Option<strake_state::LockInfo>, strake_state::StateError> {
            self.inner.lock_holder(stack)
        }
    }

    /// A batch that is durable vouches for every batch sent before it: after a failed commit,
    /// nothing later commits, even what the store would have taken.
    #[tokio::test]
    async fn after_a_failed_commit_no_later_batch_commits() {
        let store = Arc::new(FailsOnce { inner: MemoryStore::new(), fail: "b" });
        let (writer, thread) = StateWriter::start(store.clone(), "s".into());
        writer.write(vec![pending("a")]).await.unwrap();
        let (b, c) = (writer.send(vec![pending("b")]).unwrap(), writer.send(vec![pending("c")]).unwrap());
        assert!(b.durable().await.unwrap_err().contains("disk full"));
        // `c` was committed with `b` (and failed with it) or after it (and was refused).
        assert!(c.durable().await.unwrap_err().contains("disk full"));
        let later = writer.write(vec![pending("d")]).await.unwrap_err();
        assert_eq!(later, "not recorded, since an earlier write failed: state backend error: disk full", "the writer stays stopped");
        drop(writer);
        thread.join();
        let ids: Vec<String> = store.load("s").unwrap().unwrap().pending.into_iter().map(|p| p.id).collect();
        assert_eq!(ids, ["a"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_are_grouped_and_all_land() {
        let store = Arc::new(MemoryStore::new());
        let (writer, thread) = StateWriter::start(store.clone(), "s".into());
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let w = writer.clone();
                tokio::spawn(async move { w.write(vec![pending(&format!("{i:04}"))]).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        drop(writer);
        let commits = thread.join();
        assert!((1..=200).contains(&commits));
        assert_eq!(store.load("s").unwrap().unwrap().pending.len(), 200);
    }
}
