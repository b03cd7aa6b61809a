//! A generic concurrent DAG walker, like Terraform's `dag.Walk`: each node starts as soon as all
//! of its dependencies have finished, at most `parallelism` at a time; a failed node's dependents
//! are skipped (its error is in the outcome, once); once cancelled, no new node starts but
//! running ones finish. A node's result is a `Result`, so no failure can go unrecorded.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use futures::stream::FuturesUnordered;

/// Set to stop starting new work (Ctrl-C).
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    /// Stops new work from starting; what is running finishes.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether the flag is set.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// How a [`walk`] ended: every node succeeded, failed, was skipped or was never started.
#[derive(Debug, PartialEq, Eq)]
pub struct WalkOutcome<T, E> {
    /// Nodes that succeeded, with what they returned, in the order they finished.
    pub succeeded: Vec<(usize, T)>,
    /// Failed nodes with their errors, in the order they failed.
    pub failed: Vec<(usize, E)>,
    /// Skipped nodes, each with the failed node that caused it.
    pub skipped: Vec<(usize, usize)>,
    /// Nodes never started because the walk was cancelled.
    pub not_started: Vec<usize>,
}

/// Walks nodes `0..deps.len()`, where `deps[n]` lists the nodes `n` waits for. Ready nodes start
/// in index order, so a walk with parallelism 1 is deterministic.
pub async fn walk<F, Fut, T, E>(deps: &[Vec<usize>], parallelism: usize, cancel: &CancelFlag, mut run: F) -> WalkOutcome<T, E>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let n = deps.len();
    let mut remaining: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (node, ds) in deps.iter().enumerate() {
        for &d in ds {
            dependents[d].push(node);
        }
    }
    let mut ready: BTreeSet<usize> = (0..n).filter(|&i| remaining[i] == 0).collect();
    let mut settled = vec![false; n];
    let mut outcome = WalkOutcome { succeeded: Vec::new(), failed: Vec::new(), skipped: Vec::new(), not_started: Vec::new() };
    let mut running = FuturesUnordered::new();
    let parallelism = parallelism.max(1);

    loop {
        while running.len() < parallelism && !cancel.is_cancelled() {
            let Some(node) = ready.pop_first() else { break };
            let fut = run(node);
            running.push(async move { (node, fut.await) });
        }
        let Some((node, result)) = running.next().await else { break };
        settled[node] = true;
        match result {
            Err(e) => {
                outcome.failed.push((node, e));
                let mut stack = dependents[node].clone();
                while let Some(m) = stack.pop() {
                    if !settled[m] {
                        settled[m] = true;
                        ready.remove(&m);
                        outcome.skipped.push((m, node));
                        stack.extend(dependents[m].iter().copied());
                    }
                }
            }
            Ok(value) => {
                outcome.succeeded.push((node, value));
                for &m in &dependents[node] {
                    remaining[m] -= 1;
                    if remaining[m] == 0 && !settled[m] {
                        ready.insert(m);
                    }
                }
            }
        }
    }
    outcome.not_started = (0..n).filter(|&i| !settled[i]).collect();
    outcome.skipped.sort_unstable();
    outcome
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn dependents_of_a_failure_are_skipped_and_the_rest_runs() {
        // 0 -> 1 -> 2, 0 -> 3, 4 alone; node 1 fails.
        let deps = vec![vec![], vec![0], vec![1], vec![0], vec![]];
        let ran = Mutex::new(Vec::new());
        let out = walk(&deps, 2, &CancelFlag::default(), |n| {
            ran.lock().unwrap().push(n);
            async move { if n == 1 { Err("one fails") } else { Ok(()) } }
        })
        .await;
        assert_eq!(out.failed, vec![(1, "one fails")]);
        assert_eq!(out.skipped, vec![(2, 1)]);
        assert!(out.not_started.is_empty());
        let mut ran = ran.into_inner().unwrap();
        ran.sort_unstable();
        assert_eq!(ran, vec![0, 1, 3, 4]);
    }

    #[tokio::test(start_paused = true)]
    async fn parallelism_is_bounded_and_independent_nodes_overlap() {
        let deps = vec![vec![]; 6];
        let live = Arc::new(Mutex::new((0usize, 0usize)));
        let start = tokio::time::Instant::now();
        let _: WalkOutcome<(), ()> = walk(&deps, 3, &CancelFlag::default(), |_| {
            let live = live.clone();
            async move {
                {
                    let mut l = live.lock().unwrap();
                    l.0 += 1;
                    l.1 = l.1.max(l.0);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                live.lock().unwrap().0 -= 1;
                Ok(())
            }
        })
        .await;
        assert_eq!(live.lock().unwrap().1, 3);
        assert_eq!(start.elapsed(), Duration::from_millis(200));
    }

    #[tokio::test]
    async fn cancel_stops_new_work_but_lets_running_nodes_finish() {
        let deps = vec![vec![], vec![0], vec![1]];
        let cancel = CancelFlag::default();
        let finished = Mutex::new(Vec::new());
        let out: WalkOutcome<(), ()> = walk(&deps, 1, &cancel, |n| {
            let cancel = cancel.clone();
            let finished = &finished;
            async move {
                if n == 0 {
                    cancel.cancel();
                }
                finished.lock().unwrap().push(n);
                Ok(())
            }
        })
        .await;
        assert_eq!(finished.into_inner().unwrap(), vec![0]);
        assert_eq!(out.not_started, vec![1, 2]);
    }
}
