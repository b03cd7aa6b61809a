//! Retries of provider calls: backoff for throttling and transient errors, a bounded wait for
//! eventual consistency, nothing for permanent errors.

use std::future::Future;
use std::time::Duration;

use crate::provider::{ErrorKind, ProviderError};

/// How long and how often to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all for throttling and transient errors.
    pub max_attempts: u32,
    /// The delay after the first failed attempt; it doubles with each further one (with jitter).
    pub base_delay: Duration,
    /// The longest delay between two attempts.
    pub max_delay: Duration,
    /// How long to keep retrying eventual-consistency errors.
    pub consistency_window: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(20),
            consistency_window: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// Fast retries, for tests.
    pub fn fast() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
            consistency_window: Duration::from_secs(5),
        }
    }

    /// Whether to try again after attempt `attempt` (1-based) failed with `err`, `elapsed` after
    /// the first attempt started; the delay to wait first if so.
    pub fn again(&self, err: &ProviderError, attempt: u32, elapsed: Duration) -> Option<Duration> {
        let delay = self.delay(attempt);
        let again = match err.kind {
            ErrorKind::Permanent => false,
            ErrorKind::Throttling | ErrorKind::Transient => attempt < self.max_attempts,
            ErrorKind::EventualConsistency => elapsed + delay < self.consistency_window,
        };
        again.then_some(delay)
    }

    /// The delay before attempt `attempt + 1` (1-based attempt that just failed), with jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = self.base_delay.saturating_mul(1u32 << attempt.min(16).saturating_sub(1));
        let capped = exp.min(self.max_delay);
        // Full jitter in [capped/2, capped].
        let r = (uuid::Uuid::new_v4().as_u128() % 1000) as u32;
        capped / 2 + capped / 2 * r / 1000
    }
}

/// One retry about to happen, for observers.
#[derive(Debug, Clone)]
pub struct RetryNotice<'a> {
    /// The attempt that failed (1-based).
    pub attempt: u32,
    /// The wait before the next attempt.
    pub delay: Duration,
    /// Why the attempt failed.
    pub error: &'a ProviderError,
}

/// The event announcing a retry of `operation` on `urn`.
pub(crate) fn retry_event(urn: &crate::Urn, operation: &str, notice: &RetryNotice<'_>) -> crate::events::Event {
    crate::events::Event::StepRetrying {
        urn: urn.clone(),
        operation: operation.to_string(),
        attempt: notice.attempt,
        delay_ms: notice.delay.as_millis() as u64,
        reason: notice.error.waiting_for.clone().unwrap_or_else(|| notice.error.to_string()),
    }
}

/// Sends the retries a provider makes of single API calls of `urn`'s `operation` to `observer`,
/// as the engine's own retries are.
pub(crate) fn reporter(observer: &std::sync::Arc<dyn crate::events::Observer>, urn: &crate::Urn, operation: &str) -> crate::provider::RetryReporter {
    let (observer, urn, operation) = (observer.clone(), urn.clone(), operation.to_string());
    std::sync::Arc::new(move |attempt, error| {
        observer.on_event(&retry_event(&urn, &operation, &RetryNotice { attempt, delay: Duration::ZERO, error }));
    })
}

/// Runs `call` until it succeeds, fails permanently, or the policy gives up.
pub async fn with_retries<T, F, Fut>(policy: &RetryPolicy, mut call: F, mut on_retry: impl FnMut(RetryNotice<'_>)) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let started = tokio::time::Instant::now();
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let err = match call().await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let Some(delay) = policy.again(&err, attempt, started.elapsed()) else { return Err(err) };
        on_retry(RetryNotice { attempt, delay, error: &err });
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    fn err(kind: ErrorKind) -> ProviderError {
        ProviderError::with_kind(kind, Some("Code".into()), "msg")
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_are_retried_until_success() {
        let calls = Cell::new(0);
        let retries = Cell::new(0);
        let r = with_retries(
            &RetryPolicy::default(),
            || {
                calls.set(calls.get() + 1);
                let n = calls.get();
                async move { if n < 3 { Err(err(ErrorKind::Throttling)) } else { Ok(n) } }
            },
            |_| retries.set(retries.get() + 1),
        )
        .await;
        assert_eq!(r.unwrap(), 3);
        assert_eq!(retries.get(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_errors_are_not_retried_and_attempts_are_bounded() {
        let calls = Cell::new(0);
        let r: Result<(), _> = with_retries(
            &RetryPolicy::default(),
            || {
                calls.set(calls.get() + 1);
                async { Err(err(ErrorKind::Permanent)) }
            },
            |_| {},
        )
        .await;
        assert_eq!(r.unwrap_err().code.as_deref(), Some("Code"));
        assert_eq!(calls.get(), 1);

        let calls = Cell::new(0);
        let policy = RetryPolicy::default();
        let _: Result<(), _> = with_retries(
            &policy,
            || {
                calls.set(calls.get() + 1);
                async { Err(err(ErrorKind::Transient)) }
            },
            |_| {},
        )
        .await;
        assert_eq!(calls.get(), policy.max_attempts);
    }

    #[tokio::test(start_paused = true)]
    async fn eventual_consistency_is_retried_within_the_window() {
        let policy = RetryPolicy::default();
        let start = tokio::time::Instant::now();
        let _: Result<(), _> = with_retries(&policy, || async { Err(err(ErrorKind::EventualConsistency)) }, |_| {}).await;
        assert!(start.elapsed() <= policy.consistency_window);
        assert!(start.elapsed() >= policy.consistency_window - policy.max_delay);
    }

    #[test]
    fn delays_grow_and_are_capped() {
        let p = RetryPolicy::default();
        assert!(p.delay(1) <= p.base_delay);
        assert!(p.delay(30) <= p.max_delay && p.delay(30) >= p.max_delay / 2);
    }
}
