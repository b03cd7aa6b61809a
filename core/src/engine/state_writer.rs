//! The single writer of state during an operation. Steps send their writes here and wait for
//! them to be durable; writes that arrive together are committed in one batch (one flush), so crash
//! safety costs one flush per group of concurrently finishing steps, not one per resource.

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
                while let Some(first) = rx.blocking_recv() {
                    let mut batch = first.0;
                    let mut acks = vec![first.1];
                    while let Ok((more, ack)) = rx.try_recv() {
                        batch.extend(more);
                        acks.push(ack);
                    }
                    let result = store.write(&stack, batch).map_err(|e| e.to_string());
                    commits += 1;
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
        let (ack, done) = oneshot::channel();
        self.tx.send((writes, ack)).map_err(|_| "the state writer has stopped".to_string())?;
        done.await.map_err(|_| "the state writer has stopped".to_string())?
    }
}

#[cfg(test)]
mod tests {
    use strake_state::{MemoryStore, PendingKind, PendingOperation};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_are_grouped_and_all_land() {
        let store = Arc::new(MemoryStore::new());
        let (writer, thread) = StateWriter::start(store.clone(), "s".into());
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let w = writer.clone();
                tokio::spawn(async move {
                    w.write(vec![Write::PutPending(PendingOperation {
                        id: format!("{i:04}"),
                        urn: format!("u{i}"),
                        kind: PendingKind::Create,
                        type_token: "t".into(),
                        provider: None,
                        inputs: serde_json::Value::Null,
                        outputs: serde_json::Value::Null,
                        resource_id: None,
                        started_at: 0,
                    })])
                    .await
                })
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
