//! Async AWS clients called from the synchronous [`StateStore`](crate::StateStore) contract.

use std::future::Future;

/// Runs `f` to completion on `runtime` from synchronous code, whether or not the caller is itself
/// on a runtime (the engine calls the store from its own).
pub(crate) fn block_on<F: Future + Send>(runtime: &tokio::runtime::Runtime, f: F) -> F::Output
where
    F::Output: Send,
{
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| s.spawn(|| runtime.block_on(f)).join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
    } else {
        runtime.block_on(f)
    }
}
