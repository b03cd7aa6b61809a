//! Provider calls that change things or read them back, for an apply and for resolving what an
//! earlier run left pending: bounded by `--parallelism`, retried, timed, reported, and judged. A
//! failed mutation either certainly did nothing (its pending record is cleared) or may have acted
//! (its pending record stays, so the next run reads the object back). A create that may have
//! acted is read back at once; only a read that answers decides.

use std::future::Future;
use std::time::Duration;

use crate::error::StepError;
use crate::events::Event;
use crate::provider::*;
use crate::{Urn, Value};

use tokio::sync::Semaphore;

use super::EngineOptions;
use super::retry::{RetryNotice, reporter, retry_event, with_retries};
use super::walk::CancelFlag;
use crate::events::Observer;

/// The code of the error a call gets when the apply is interrupted before it starts.
pub(crate) const INTERRUPTED: &str = "Interrupted";

/// Makes provider calls: at most as many at once as it has slots, none once cancelled.
pub(crate) struct Caller<'a> {
    options: &'a EngineOptions,
    observer: &'a std::sync::Arc<dyn Observer>,
    cancel: &'a CancelFlag,
    slots: Semaphore,
}

/// How a provider mutation ended when it did not succeed.
pub(crate) enum CallError {
    /// Nothing changed: the pending record can go.
    Failed(StepError),
    /// It may have changed something, and what could not be found out: the pending record stays
    /// and the next run reads the object back.
    Uncertain(StepError),
}

impl CallError {
    pub(crate) fn into_step(self) -> StepError {
        match self {
            CallError::Failed(e) | CallError::Uncertain(e) => e,
        }
    }
}

/// What is left to say when a call runs out of time.
fn timed_out(urn: &Urn, operation: &str, limit: Duration) -> CallError {
    CallError::Uncertain(StepError::other(
        urn,
        operation,
        format!(
            "timed out after {}s; it may still complete in the cloud, so it stays recorded as an \
             interrupted operation and the next run looks it up",
            limit.as_secs()
        ),
    ))
}

impl<'a> Caller<'a> {
    /// A caller with `parallelism` call slots.
    pub(crate) fn new(options: &'a EngineOptions, observer: &'a std::sync::Arc<dyn Observer>, cancel: &'a CancelFlag, parallelism: usize) -> Self {
        Caller { options, observer, cancel, slots: Semaphore::new(parallelism.max(1)) }
    }

    /// The engine's options (retries, time limits).
    pub(crate) fn options(&self) -> &'a EngineOptions {
        self.options
    }

    /// Runs provider operation `f` (`operation` of `urn`) in a provider-call slot, with the
    /// provider's own per-call retries reported; unless the apply was interrupted meanwhile: no
    /// provider call starts after Ctrl-C (the caller then settles its step as never started).
    pub(crate) async fn limited<T>(&self, urn: &Urn, operation: &str, f: impl Future<Output = Result<T, ProviderError>>) -> Result<T, ProviderError> {
        // The semaphore is never closed, so a permit always comes.
        let _permit = self.slots.acquire().await;
        if self.cancel.is_cancelled() {
            return Err(ProviderError::coded(INTERRUPTED, "interrupted before its provider call started"));
        }
        reporting_retries(reporter(self.observer, urn, operation), f).await
    }

    /// Reads an object (back) with retries and events; reads are never uncertain.
    pub(crate) async fn read(
        &self,
        provider: &dyn Provider,
        urn: &Urn,
        operation: &str,
        request: ReadRequest,
    ) -> Result<ReadResponse, ProviderError> {
        with_retries(
            &self.options.retry,
            || self.limited(urn, operation, provider.read(request.clone())),
            |notice| self.on_retry(urn, operation, &notice),
        )
        .await
    }

    fn on_retry(&self, urn: &Urn, operation: &str, notice: &RetryNotice<'_>) {
        self.observer.on_event(&retry_event(urn, operation, notice));
    }

    /// Calls the provider with retries, events and the operation's time limit. A failure is
    /// uncertain when any attempt may have acted.
    pub(crate) async fn call<T, F, Fut>(&self, urn: &Urn, operation: &str, timeout: Option<Duration>, mut f: F) -> Result<T, CallError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let policy = &self.options.retry;
        let attempts = async {
            let started = tokio::time::Instant::now();
            let mut acted = false;
            let mut attempt = 0;
            loop {
                attempt += 1;
                let err = match self.limited(urn, operation, f()).await {
                    Ok(v) => return Ok(v),
                    Err(e) => e,
                };
                acted |= err.may_have_acted();
                let Some(delay) = policy.again(&err, attempt, started.elapsed()) else {
                    let step = StepError::from_provider(urn, operation, &err);
                    return Err(if acted { CallError::Uncertain(step) } else { CallError::Failed(step) });
                };
                self.on_retry(urn, operation, &RetryNotice { attempt, delay, error: &err });
                tokio::time::sleep(delay).await;
            }
        };
        let limit = timeout.unwrap_or(self.options.default_timeout);
        tokio::time::timeout(limit, attempts).await.unwrap_or_else(|_| Err(timed_out(urn, operation, limit)))
    }

    /// Deletes an object, as `call` does: `operation` names it in events and errors.
    pub(crate) async fn delete(&self, provider: &dyn Provider, operation: &str, request: DeleteRequest) -> Result<(), CallError> {
        let urn = request.urn.clone();
        self.call(&urn, operation, request.timeout, || provider.delete(request.clone())).await
    }

    /// Creates an object. When an attempt may have acted (its answer was lost), the object is
    /// looked up from the inputs before anything else: found, it is adopted; not found, the
    /// create is retried or fails cleanly; not readable, the outcome stays uncertain.
    pub(crate) async fn create_call(
        &self,
        provider: &dyn Provider,
        urn: &Urn,
        inputs: &Value,
        timeout: Option<Duration>,
    ) -> Result<CreateResponse, CallError> {
        let policy = &self.options.retry;
        let request = CreateRequest { urn: urn.clone(), type_token: urn.type_token().to_string(), inputs: inputs.clone(), timeout };
        let attempts = async {
            let started = tokio::time::Instant::now();
            let mut attempt = 0;
            loop {
                attempt += 1;
                let err = match self.limited(urn, "create", provider.create(request.clone())).await {
                    Ok(v) => return Ok(v),
                    Err(e) => e,
                };
                if err.may_have_acted() {
                    match self.find_created(provider, urn, inputs, &err).await {
                        Ok(Some(found)) => return Ok(found),
                        Ok(None) => {} // nothing was made: as if the service had refused
                        Err(uncertain) => return Err(uncertain),
                    }
                }
                let Some(delay) = policy.again(&err, attempt, started.elapsed()) else {
                    return Err(CallError::Failed(StepError::from_provider(urn, "create", &err)));
                };
                self.on_retry(urn, "create", &RetryNotice { attempt, delay, error: &err });
                tokio::time::sleep(delay).await;
            }
        };
        let limit = timeout.unwrap_or(self.options.default_timeout);
        tokio::time::timeout(limit, attempts).await.unwrap_or_else(|_| Err(timed_out(urn, "create", limit)))
    }

    /// Looks for the object a create may have made before `failure` (its answer lost). `Ok(None)`:
    /// the provider says nothing exists. An error: it cannot be known now.
    async fn find_created(
        &self,
        provider: &dyn Provider,
        urn: &Urn,
        inputs: &Value,
        failure: &ProviderError,
    ) -> Result<Option<CreateResponse>, CallError> {
        let uncertain = |why: String| {
            CallError::Uncertain(StepError {
                message: format!(
                    "{}; the create may have succeeded before it failed, and {why}, so it stays recorded as an \
                     interrupted create and the next run looks it up again",
                    failure.message
                ),
                ..StepError::from_provider(urn, "create", failure)
            })
        };
        match provider.created_lookup(urn.type_token()) {
            CreatedLookup::FromInputs => {}
            CreatedLookup::StateOnly => return Ok(None),
            CreatedLookup::Unfindable => {
                return Err(uncertain(format!(
                    "`{}` objects cannot be found from their inputs (the cloud assigns their ids); check the cloud \
                     and `import` the object or drop the record with `state pending rm`",
                    urn.type_token()
                )));
            }
        }
        let request =
            ReadRequest { urn: urn.clone(), type_token: urn.type_token().to_string(), id: None, inputs: inputs.clone(), outputs: Value::Null };
        match self.read(provider, urn, "read back", request).await {
            Ok(ReadResponse::Found { id, outputs, .. }) => {
                self.observer
                    .on_event(&Event::Note { message: format!("{urn}: the create succeeded although its answer was lost; adopted object `{id}`") });
                Ok(Some(CreateResponse { id, outputs }))
            }
            Ok(ReadResponse::Gone) => Ok(None),
            Err(e) => Err(uncertain(format!("reading it back failed too ({e})"))),
        }
    }
}
