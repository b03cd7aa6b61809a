//! Per-call retries, and what failed attempts say about an operation.
//!
//! Each AWS API call is retried on its own by the SDK's standard mode (throttling, 5xx, lost
//! connections, answers cut short), so one flaky call does not repeat a whole multi-call
//! operation (a bucket read is three calls). The engine's own retries stay for what needs
//! patience across calls: eventual consistency (IAM propagation).
//!
//! An interceptor watches every attempt of the operation in progress (on the caller's task, so
//! a task-local holds the operation's record):
//! - an attempt whose request may have reached AWS without a complete answer (a lost
//!   connection, a timeout, an answer cut short, a 5xx) marks the operation: if it then fails,
//!   its error is [ambiguous](strake::provider::ProviderError::ambiguous), so the engine reads
//!   the object back instead of concluding that nothing happened (a retried `CreateRole` meeting
//!   `EntityAlreadyExists` for the role its first attempt made);
//! - a retry is reported to the engine, which shows it like its own.

use std::cell::RefCell;
use std::future::Future;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_sdk_iam::config::interceptors::{BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef};
use aws_sdk_iam::config::retry::{RetryPartition, TokenBucket};
use aws_sdk_iam::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use strake::provider::ProviderError;

use crate::error::{AwsFailure, source_chain};

/// Attempts per API call (the first and its retries) unless the provider sets another number.
pub(crate) const DEFAULT_MAX_ATTEMPTS: u32 = 5;
/// The first retry's delay bound (it doubles per retry, with jitter, up to 20 s).
pub(crate) const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_millis(500);

/// The SDK retry settings of one configured provider.
pub(crate) fn retry_config(max_attempts: Option<u32>, initial_backoff_ms: Option<u64>) -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS).max(1))
        .with_initial_backoff(initial_backoff_ms.map(Duration::from_millis).unwrap_or(DEFAULT_INITIAL_BACKOFF))
}

/// A retry partition of its own, without the SDK's shared retry quota: the attempts per call are
/// bounded, and a quota shared by every call of a large apply would stop retrying exactly when
/// a storm of errors needs it.
pub(crate) fn retry_partition(name: &str) -> RetryPartition {
    RetryPartition::custom(format!("strake-{name}")).token_bucket(TokenBucket::unlimited()).build()
}

#[derive(Default)]
struct Attempts {
    /// An attempt may have reached AWS without a complete answer.
    may_have_acted: bool,
    /// The failure of the last attempt of the call in progress (retried if the SDK decides so).
    last_failure: Option<ProviderError>,
    /// Retries made of the call in progress.
    retries: u32,
}

tokio::task_local! {
    static ATTEMPTS: RefCell<Attempts>;
}

/// Runs one provider operation, watched: its error is marked ambiguous when an attempt of any
/// of its calls may have acted.
pub(crate) async fn watched<T>(operation: impl Future<Output = Result<T, ProviderError>>) -> Result<T, ProviderError> {
    ATTEMPTS
        .scope(RefCell::new(Attempts::default()), async {
            let result = operation.await;
            let acted = ATTEMPTS.with(|a| a.borrow().may_have_acted);
            match result {
                Err(e) if acted => Err(e.ambiguous()),
                other => other,
            }
        })
        .await
}

/// The interceptor every client of a configured provider carries.
#[derive(Debug)]
pub(crate) struct WatchAttempts;

impl Intercept for WatchAttempts {
    fn name(&self) -> &'static str {
        "strake::WatchAttempts"
    }

    fn read_before_attempt(&self, _: &BeforeTransmitInterceptorContextRef<'_>, _: &RuntimeComponents, _: &mut ConfigBag) -> Result<(), BoxError> {
        let _ = ATTEMPTS.try_with(|a| {
            let mut a = a.borrow_mut();
            if let Some(failure) = a.last_failure.take() {
                a.retries += 1;
                strake::provider::report_retry(a.retries, &failure);
            }
        });
        Ok(())
    }

    fn read_after_attempt(&self, context: &FinalizerInterceptorContextRef<'_>, _: &RuntimeComponents, cfg: &mut ConfigBag) -> Result<(), BoxError> {
        let Some(Err(error)) = context.output_or_error() else { return Ok(()) };
        let status = context.response().map(|r| r.status().as_u16());
        let body = context.response().and_then(|r| r.body().bytes());
        let cut_short = error.is_response_error();
        let no_answer = status.is_none() && (error.is_timeout_error() || error.as_connector_error().is_some());
        let acted = cut_short || no_answer || status.is_some_and(|s| s >= 500);
        let (code, message) = body.map(service_error).unwrap_or_default();
        let operation = cfg.load::<Metadata>().map(|m| format!("{}:{}", m.service().to_ascii_lowercase(), m.name())).unwrap_or_default();
        let failure = AwsFailure { code, message, status, no_response: no_answer, cut_short, detail: source_chain(error) }.into_error(&operation);
        let _ = ATTEMPTS.try_with(|a| {
            let mut a = a.borrow_mut();
            a.may_have_acted |= acted;
            a.last_failure = failure.is_retryable().then_some(failure);
        });
        Ok(())
    }

    fn read_after_execution(&self, _: &FinalizerInterceptorContextRef<'_>, _: &RuntimeComponents, _: &mut ConfigBag) -> Result<(), BoxError> {
        let _ = ATTEMPTS.try_with(|a| {
            let mut a = a.borrow_mut();
            a.last_failure = None;
            a.retries = 0;
        });
        Ok(())
    }
}

/// The AWS error code and message of an error body: XML (`<Code>`, `<Message>`) for IAM, STS and
/// S3, JSON (`__type`, `message`) for EKS.
fn service_error(body: &[u8]) -> (Option<String>, Option<String>) {
    let text = String::from_utf8_lossy(body);
    let tag = |name: &str| -> Option<String> {
        let start = text.find(&format!("<{name}>"))? + name.len() + 2;
        let end = text[start..].find(&format!("</{name}>"))? + start;
        Some(text[start..end].to_string())
    };
    if let (Some(code), message) = (tag("Code"), tag("Message")) {
        return (Some(code), message);
    }
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(v) => {
            let code = v.get("__type").or_else(|| v.get("code")).and_then(|c| c.as_str()).map(|c| c.rsplit('#').next().unwrap_or(c).to_string());
            let message = v.get("message").or_else(|| v.get("Message")).and_then(|m| m.as_str()).map(str::to_string);
            (code, message)
        }
        Err(_) => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_give_code_and_message() {
        let xml = b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>";
        assert_eq!(service_error(xml), (Some("Throttling".into()), Some("Rate exceeded".into())));
        let json = br#"{"__type":"com.amazonaws#ResourceNotFoundException","message":"No cluster found"}"#;
        assert_eq!(service_error(json), (Some("ResourceNotFoundException".into()), Some("No cluster found".into())));
        assert_eq!(service_error(b""), (None, None));
    }
}
