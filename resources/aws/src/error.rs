//! AWS errors as provider errors: the service's code and message kept, and classified for the
//! engine's retries (throttling and 5xx retried, IAM propagation waited for, the rest final).

use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use strake::provider::{ErrorKind, ProviderError};

const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "ProvisionedThroughputExceededException",
    "PriorRequestNotComplete",
    // Another change to the same entity is under way (IAM 409, S3 409): refused, so nothing
    // happened; retried with backoff like throttling.
    "ConcurrentModification",
    "ConcurrentModificationException",
    "OperationAborted",
];

/// Anything an SDK call can fail with, reduced to what classification needs.
pub(crate) struct AwsFailure {
    pub code: Option<String>,
    pub message: Option<String>,
    pub status: Option<u16>,
    /// No response at all (connection refused, timeout).
    pub no_response: bool,
    /// An answer arrived but was cut short or unreadable: the service most likely acted.
    pub cut_short: bool,
    pub detail: String,
}

impl<E, R> From<SdkError<E, R>> for AwsFailure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + HasStatus,
{
    fn from(err: SdkError<E, R>) -> Self {
        let code = err.code().map(str::to_string);
        let message = err.message().map(str::to_string);
        let (status, no_response, cut_short) = match &err {
            SdkError::ServiceError(ctx) => (ctx.raw().status_code(), false, false),
            SdkError::ResponseError(ctx) => (ctx.raw().status_code(), false, true),
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => (None, true, false),
            _ => (None, false, false),
        };
        let detail = match &err {
            // "service error" / "response error" say nothing; their sources say what went wrong.
            SdkError::ServiceError(_) | SdkError::ResponseError(_) => {
                std::error::Error::source(&err).map(source_chain).unwrap_or_else(|| err.to_string())
            }
            _ => source_chain(&err),
        };
        AwsFailure { code, message, status, no_response, cut_short, detail }
    }
}

/// An error's message and its sources', joined with `: ` (without the debug dump that the SDK's
/// `DisplayErrorContext` appends, which can hold a whole raw HTTP response).
pub(crate) fn source_chain(err: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![err.to_string()];
    let mut next = err.source();
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.retain(|p| !p.is_empty());
    parts.join(": ")
}

/// Access to an HTTP response's status code.
pub(crate) trait HasStatus {
    fn status_code(&self) -> Option<u16>;
}

impl HasStatus for aws_sdk_iam::config::http::HttpResponse {
    fn status_code(&self) -> Option<u16> {
        Some(self.status().as_u16())
    }
}

impl AwsFailure {
    pub fn has_code(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// Not found, in any service's words.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self.code.as_deref(),
            Some("NoSuchEntity" | "NoSuchBucket" | "NoSuchKey" | "NotFound" | "ResourceNotFoundException" | "NoSuchBucketPolicy")
        ) || self.status == Some(404)
    }

    /// The provider error, classified. `operation` names the API call (e.g. `iam:CreateRole`).
    pub fn into_error(self, operation: &str) -> ProviderError {
        let message = match (&self.message, self.status) {
            (Some(m), _) => format!("{operation}: {m}"),
            (None, Some(status)) if self.cut_short => {
                format!("{operation}: the answer (HTTP {status}) was cut short or unreadable, so the call may have succeeded ({})", self.detail)
            }
            (None, Some(status)) if self.code.is_none() => {
                format!("{operation}: the service answered HTTP {status} without an AWS error code or message ({})", self.detail)
            }
            (None, _) => format!("{operation}: {}", self.detail),
        };
        let code = self.code.clone().or_else(|| self.status.map(|s| format!("HTTP {s}")));
        let kind = if self.code.as_deref().is_some_and(|c| THROTTLING.contains(&c)) || self.status == Some(429) {
            ErrorKind::Throttling
        } else if self.no_response || self.cut_short || self.status.is_some_and(|s| s >= 500) {
            ErrorKind::Transient
        } else if self.is_propagation() {
            ErrorKind::EventualConsistency
        } else {
            ErrorKind::Permanent
        };
        let err = ProviderError::with_kind(kind, code, message);
        let err = if self.cut_short { err.ambiguous() } else { err };
        if kind == ErrorKind::EventualConsistency { err.waiting_for("waiting for IAM propagation") } else { err }
    }

    /// IAM has not yet propagated a principal or provider created moments ago.
    fn is_propagation(&self) -> bool {
        let msg = self.message.as_deref().unwrap_or("");
        (self.has_code("MalformedPolicyDocument") && msg.contains("Invalid principal"))
            || (self.has_code("InvalidParameterValue") && msg.contains("cannot be assumed"))
            || (self.has_code("AccessDenied") && msg.contains("AssumeRoleWithWebIdentity") && msg.contains("not authorized"))
    }
}

/// Shorthand: classify an SDK error for `operation`.
pub(crate) fn aws_error<E, R>(operation: &str) -> impl FnOnce(SdkError<E, R>) -> ProviderError + '_
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + HasStatus,
{
    move |e| AwsFailure::from(e).into_error(operation)
}

/// The result of an SDK call where "not found" is an answer rather than an error.
pub(crate) fn found<T, E>(result: Result<T, E>, operation: &str) -> Result<Option<T>, ProviderError>
where
    AwsFailure: From<E>,
{
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) => {
            let f = AwsFailure::from(e);
            if f.is_not_found() { Ok(None) } else { Err(f.into_error(operation)) }
        }
    }
}

/// An id that must not be an ARN (a name, say): an ARN is refused, naming what the id is
/// (`what`) and the part of the ARN that would be it.
pub(crate) fn not_an_arn(id: &str, type_token: &str, what: &str) -> Result<String, ProviderError> {
    if !id.starts_with("arn:") {
        return Ok(id.to_string());
    }
    let last = id.rsplit(['/', ':']).next().unwrap_or(id);
    Err(ProviderError::permanent(format!("`{id}` is an ARN, but the id of an `{type_token}` is {what}: `{last}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: Option<&str>, message: &str, status: Option<u16>) -> AwsFailure {
        AwsFailure {
            code: code.map(str::to_string),
            message: Some(message.into()),
            status,
            no_response: false,
            cut_short: false,
            detail: String::new(),
        }
    }

    #[test]
    fn classification_keeps_code_and_message() {
        let e = failure(Some("Throttling"), "Rate exceeded", Some(400)).into_error("iam:CreateRole");
        assert_eq!((e.kind, e.code.as_deref()), (ErrorKind::Throttling, Some("Throttling")));
        assert_eq!(e.to_string(), "Throttling: iam:CreateRole: Rate exceeded");
        assert_eq!(failure(None, "boom", Some(503)).into_error("x").kind, ErrorKind::Transient);
        assert_eq!(failure(Some("InternalFailure"), "boom", Some(500)).into_error("x").kind, ErrorKind::Transient);
        let p = failure(Some("MalformedPolicyDocument"), "Invalid principal in policy: \"Federated\"", Some(400)).into_error("iam:CreateRole");
        assert_eq!(p.kind, ErrorKind::EventualConsistency);
        assert_eq!(p.waiting_for.as_deref(), Some("waiting for IAM propagation"));
        let busy = failure(Some("ConcurrentModification"), "Rate of change exceeded", Some(409)).into_error("iam:AttachRolePolicy");
        assert_eq!((busy.kind, busy.ambiguous), (ErrorKind::Throttling, false));
        let denied = failure(Some("AccessDenied"), "not allowed", Some(403)).into_error("s3:GetObject");
        assert_eq!(denied.kind, ErrorKind::Permanent);
        assert!(failure(Some("NoSuchEntity"), "gone", Some(404)).is_not_found());
    }

    #[test]
    fn an_arn_where_a_name_is_the_id_is_refused_with_the_name() {
        assert_eq!(not_an_arn("app", "aws:iam:Role", "the role's name").unwrap(), "app");
        let role = not_an_arn("arn:aws:iam::111111111111:role/teams/app", "aws:iam:Role", "the role's name").unwrap_err();
        assert_eq!(role.message, "`arn:aws:iam::111111111111:role/teams/app` is an ARN, but the id of an `aws:iam:Role` is the role's name: `app`");
        let bucket = not_an_arn("arn:aws:s3:::data", "aws:s3:Bucket", "the bucket's name").unwrap_err();
        assert!(bucket.message.ends_with("is the bucket's name: `data`"), "{}", bucket.message);
    }

    #[test]
    fn advice_is_added_for_its_code_only() {
        let conflict = failure(Some("DeleteConflict"), "Cannot delete entity", Some(409)).into_error("iam:DeleteRole");
        let advised = conflict.advise("DeleteConflict", || "; detach its policies first".into());
        assert_eq!(advised.to_string(), "DeleteConflict: iam:DeleteRole: Cannot delete entity; detach its policies first");
        let other = failure(Some("AccessDenied"), "no", Some(403)).into_error("iam:DeleteRole");
        assert_eq!(other.clone().advise("DeleteConflict", || unreachable!()), other);
    }

    #[test]
    fn answers_without_an_aws_error_still_say_what_happened() {
        let bare = AwsFailure {
            code: None,
            message: None,
            status: Some(503),
            no_response: false,
            cut_short: false,
            detail: "error parsing XML: no root element".into(),
        };
        let e = bare.into_error("iam:CreateRole");
        assert_eq!((e.kind, e.code.as_deref()), (ErrorKind::Transient, Some("HTTP 503")));
        assert_eq!(
            e.message,
            "iam:CreateRole: the service answered HTTP 503 without an AWS error code or message (error parsing XML: no root element)"
        );
        let dropped = AwsFailure {
            code: None,
            message: None,
            status: None,
            no_response: true,
            cut_short: false,
            detail: "dispatch failure: connection closed before message completed".into(),
        };
        let e = dropped.into_error("iam:CreateRole");
        assert_eq!((e.kind, e.code), (ErrorKind::Transient, None));
        assert_eq!(e.message, "iam:CreateRole: dispatch failure: connection closed before message completed");
    }

    #[test]
    fn an_answer_cut_short_may_have_acted() {
        let cut = AwsFailure {
            code: None,
            message: None,
            status: Some(200),
            no_response: false,
            cut_short: true,
            detail: "response error: error reading a body from connection".into(),
        };
        let e = cut.into_error("iam:CreateRole");
        assert_eq!((e.kind, e.ambiguous, e.code.as_deref()), (ErrorKind::Transient, true, Some("HTTP 200")));
        assert!(e.message.contains("cut short") && e.message.contains("may have succeeded"), "{}", e.message);
    }
}
