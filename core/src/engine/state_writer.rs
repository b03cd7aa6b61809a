//! The single writer of state during an operation. Steps send their writes here; writes that
//! arrive together are committed in one batch (one flush), so crash safety costs one flush per
//! group of concurrently finishing steps, not one per resource.
//!
//! Batches commit in the order they were sent, and after one fails no later one commits (each
//! gets an error that names the first failure): so a batch that is durable vouches for every
//! batch sent before it. A step may therefore send its result and go on without waiting when
//! whatever depends on it waits for a later batch of its own.
//!
//! A batch sent with [`Commit::Later`] (the result of an object that lives only in state, which
//! nothing waits for) is not committed on its own: it joins the next batch that is, or commits
//! once [`MAX_DEFERRED`] writes have gathered, or at [`StateWriter::flush`], or when the writer
//! stops. So a stack of such objects takes a few commits, not one per group. A crash before
//! they commit loses nothing the next run cannot compute again.

use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;

use strake_state::{StateStore, Write};
use tokio::sync::oneshot;

type Ack = oneshot::Sender<Result<(), String>>;

/// Writes sent with [`Commit::Later`] are committed once this many have gathered.
pub(crate) const MAX_DEFERRED: usize = 1024;

/// When a batch sent to the writer must be committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Commit {
    /// As soon as the writer can: a step waits for it, or for a batch sent after it.
    Now,
    /// With the next batch committed now, or once enough has gathered (see the module doc).
    Later,
}

struct Message {
    writes: Vec<Write>,
    ack: Ack,
    commit: Commit,
}

/// Handle to the writer thread. Dropping every handle stops the thread, once it has committed
/// what it was sent.
#[derive(Clone)]
pub(crate) struct StateWriter {
    tx: mpsc::Sender<Message>,
}

pub(crate) struct WriterThread(Option<JoinHandle<u64>>);

impl WriterThread {
    /// Waits for the thread to finish; returns how many batches it committed.
    pub(crate) fn join(mut self) -> u64 {
        self.0.take().and_then(|h| h.join().ok()).unwrap_or(0)
    }
}

/// What has been sent and not committed yet.
#[derive(Default)]
struct Gathered {
    writes: Vec<Write>,
    acks: Vec<Ack>,
    /// Whether a batch in it must be committed now.
    now: bool,
}

impl Gathered {
    fn add(&mut self, message: Message) {
        self.writes.extend(message.writes);
        self.acks.push(message.ack);
        self.now |= message.commit == Commit::Now;
    }

    fn due(&self, max_deferred: usize) -> bool {
        self.now || self.writes.len() >= max_deferred
    }
}

/// The writer thread: commits what it is sent, in order, until every handle is dropped.
fn run(store: Arc<dyn StateStore>, stack: String, rx: mpsc::Receiver<Message>, max_deferred: usize, prepare: bool) -> u64 {
    if prepare {
        // Beside the operation's first steps. A failure here is the first write's to report: it
        // does the same work again.
        let _ = store.prepare(&stack);
    }
    let mut commits = 0u64;
    let mut failed: Option<String> = None;
    let mut gathered = Gathered::default();
    loop {
        let open = match rx.recv() {
            Ok(message) => {
                gathered.add(message);
                while let Ok(more) = rx.try_recv() {
                    gathered.add(more);
                }
                true
            }
            Err(mpsc::RecvError) => false,
        };
        if !gathered.acks.is_empty() && (gathered.due(max_deferred) || !open) {
            let Gathered { writes, acks, .. } = std::mem::take(&mut gathered);
            let result = match &failed {
                Some(e) => Err(format!("not recorded, since an earlier write failed: {e}")),
                None if writes.is_empty() => Ok(()),
                None => {
                    commits += 1;
                    store.write(&stack, writes).map(drop).map_err(|e| e.to_string())
                }
            };
            if let (Err(e), None) = (&result, &failed) {
                failed = Some(e.clone());
            }
            for ack in acks {
                let _ = ack.send(result.clone());
            }
        }
        if !open {
            return commits;
        }
    }
}

impl StateWriter {
    /// Starts the writer of `stack`; deferred writes commit once `max_deferred` have gathered.
    /// With `prepare`, the writer first gets the stack ready for writes ([`StateStore::prepare`]).
    pub(crate) fn start(store: Arc<dyn StateStore>, stack: String, max_deferred: usize, prepare: bool) -> (StateWriter, WriterThread) {
        let (tx, rx) = mpsc::channel::<Message>();
        let handle = std::thread::Builder::new()
            .name("strake-state-writer".into())
            .spawn(move || run(store, stack, rx, max_deferred, prepare))
            .expect("spawning the state writer thread");
        (StateWriter { tx }, WriterThread(Some(handle)))
    }

    /// Sends writes and waits until they are durable.
    pub(crate) async fn write(&self, writes: Vec<Write>) -> Result<(), String> {
        self.send(writes, Commit::Now)?.durable().await
    }

    /// Sends writes, in order after everything sent before; the returned acknowledgement says
    /// when they are durable, or why they are not.
    pub(crate) fn send(&self, writes: Vec<Write>, commit: Commit) -> Result<Acknowledgement, String> {
        let (ack, done) = oneshot::channel();
        self.tx.send(Message { writes, ack, commit }).map_err(|_| "the state writer has stopped".to_string())?;
        Ok(Acknowledgement(done))
    }

    /// Commits whatever was sent before, deferred or not; the acknowledgement says when.
    pub(crate) fn flush(&self) -> Result<Acknowledgement, String> {
        self.send(Vec::new(), Commit::Now)
    }
}

/// The answer to writes sent to the [`StateWriter`]: awaited, it says when they are durable.
pub(crate) struct Acknowledgement(oneshot::Receiver<Result<(), String>>);

impl Acknowledgement {
    /// Waits until the writes are durable.
    pub(crate) async fn durable(self) -> Result<(), String> {
        self.0.await.map_err(|_| "the state writer has stopped".to_string())?
    }
}

#[cfg(test)]
mod tests {
    use strake_state::{MemoryStore, PendingKind, PendingOperation, StackMeta};

    use super::*;

    fn pending(id: &str) -> Write {
        Write::PutPending(PendingOperation {
            id: id.into(),
            urn: format!("u{id}"),
            kind: PendingKind::Create,
            type_token: "t".into(),
            provider: None,
            inputs: strake_state::JsonText::null(),
            outputs: strake_state::JsonText::null(),
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
        let (writer, thread) = StateWriter::start(store.clone(), "s".into(), MAX_DEFERRED, false);
        writer.write(vec![pending("a")]).await.unwrap();
        let (b, c) = (writer.send(vec![pending("b")], Commit::Now).unwrap(), writer.send(vec![pending("c")], Commit::Now).unwrap());
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
        let (writer, thread) = StateWriter::start(store.clone(), "s".into(), MAX_DEFERRED, false);
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

    fn pending_ids(store: &MemoryStore) -> Vec<String> {
        store.load("s").unwrap().map(|s| s.pending.into_iter().map(|p| p.id).collect()).unwrap_or_default()
    }

    #[tokio::test]
    async fn deferred_writes_join_the_next_commit_and_a_flush() {
        let store = Arc::new(MemoryStore::new());
        let (writer, thread) = StateWriter::start(store.clone(), "s".into(), usize::MAX, false);
        let deferred: Vec<Acknowledgement> = ["a", "b", "c"].iter().map(|id| writer.send(vec![pending(id)], Commit::Later).unwrap()).collect();
        writer.write(vec![pending("d")]).await.unwrap();
        for ack in deferred {
            ack.durable().await.unwrap();
        }
        assert_eq!(pending_ids(&store), ["a", "b", "c", "d"], "one commit took the deferred writes with the one sent after them");
        let e = writer.send(vec![pending("e")], Commit::Later).unwrap();
        writer.flush().unwrap().durable().await.unwrap();
        e.durable().await.unwrap();
        assert_eq!(pending_ids(&store).len(), 5);
        // A flush with nothing gathered commits nothing.
        writer.flush().unwrap().durable().await.unwrap();
        drop(writer);
        assert_eq!(thread.join(), 2);
    }

    #[tokio::test]
    async fn deferred_writes_commit_once_enough_gathered_or_the_writer_stops() {
        let store = Arc::new(MemoryStore::new());
        let (writer, thread) = StateWriter::start(store.clone(), "s".into(), 2, false);
        let (a, b) = (writer.send(vec![pending("a")], Commit::Later).unwrap(), writer.send(vec![pending("b")], Commit::Later).unwrap());
        a.durable().await.unwrap();
        b.durable().await.unwrap();
        drop(writer);
        assert_eq!((thread.join(), pending_ids(&store)), (1, vec!["a".to_string(), "b".to_string()]));

        let (writer, thread) = StateWriter::start(store.clone(), "s".into(), usize::MAX, false);
        let c = writer.send(vec![pending("c")], Commit::Later).unwrap();
        drop(writer);
        assert_eq!(thread.join(), 1, "what was deferred is committed when the writer stops");
        c.durable().await.unwrap();
        assert_eq!(pending_ids(&store), ["a", "b", "c"]);
    }
}
