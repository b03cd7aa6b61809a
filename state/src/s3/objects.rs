//! The few S3 operations the backend needs, each conditional where it must be, with S3's
//! answers sorted into what the store acts on: done, precondition failed, not found, or an error
//! that keeps the service's code and message.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;

use crate::StateError;

/// What a write is conditional on.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Condition<'a> {
    /// The object must not exist (`If-None-Match: *`).
    Absent,
    /// The object must have this ETag (`If-Match`).
    Is(&'a str),
}

/// Why a conditional operation did not happen.
#[derive(Debug)]
pub(crate) enum Refused {
    /// The condition did not hold (412), or the object to match is gone (404).
    Precondition,
    /// Anything else, as a state error.
    Failed(StateError),
}

impl From<StateError> for Refused {
    fn from(e: StateError) -> Self {
        Refused::Failed(e)
    }
}

/// An object read back.
pub(crate) struct Got {
    pub body: Vec<u8>,
    pub etag: String,
    /// By the server's clock.
    pub last_modified: Option<SystemTime>,
}

/// S3's `409 ConditionalRequestConflict` (a conflicting conditional write in flight) is retried
/// this many times, as S3 asks; the SDK retries throttling, 5xx and lost connections itself.
const CONFLICT_ATTEMPTS: u32 = 5;

/// The objects under one bucket and prefix.
#[derive(Clone)]
pub(crate) struct Objects {
    pub client: Client,
    pub bucket: String,
    pub prefix: String,
}

fn code_of<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> Option<String> {
    match e {
        SdkError::ServiceError(s) => s.err().code().map(str::to_string),
        _ => None,
    }
}

fn status_of<E, R: HasStatus>(e: &SdkError<E, R>) -> Option<u16> {
    e.raw_response().map(HasStatus::status)
}

/// The HTTP status of a raw response.
pub(crate) trait HasStatus {
    fn status(&self) -> u16;
}

impl HasStatus for aws_sdk_s3::config::http::HttpResponse {
    fn status(&self) -> u16 {
        self.status().as_u16()
    }
}

impl Objects {
    /// The full key of `name` under the prefix.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn failed<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(
        &self,
        what: &str,
        key: &str,
        e: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    ) -> StateError {
        let detail = match &e {
            SdkError::ServiceError(s) => {
                format!("{}: {}", s.err().code().unwrap_or("error"), s.err().message().unwrap_or("(no message)"))
            }
            other => aws_sdk_s3::error::DisplayErrorContext(other).to_string(),
        };
        StateError::Backend(format!("S3 {what} of s3://{}/{key} failed: {detail}", self.bucket))
    }

    /// Reads an object; `None` when it does not exist.
    pub async fn get(&self, name: &str) -> Result<Option<Got>, StateError> {
        let key = self.key(name);
        match self.client.get_object().bucket(&self.bucket).key(&key).send().await {
            Ok(out) => {
                let etag = out.e_tag().unwrap_or_default().to_string();
                let last_modified = out.last_modified().and_then(|t| SystemTime::try_from(*t).ok());
                let body = out.body.collect().await.map_err(|e| StateError::Backend(format!("reading s3://{}/{key}: {e}", self.bucket)))?;
                Ok(Some(Got { body: body.into_bytes().to_vec(), etag, last_modified }))
            }
            Err(e) if code_of(&e).as_deref() == Some("NoSuchKey") || status_of(&e) == Some(404) => Ok(None),
            Err(e) => Err(self.failed("GetObject", &key, e)),
        }
    }

    /// Writes an object under `condition` (or unconditionally) and returns its new ETag.
    pub async fn put(&self, name: &str, body: &[u8], condition: Option<Condition<'_>>) -> Result<String, Refused> {
        let key = self.key(name);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut req = self.client.put_object().bucket(&self.bucket).key(&key).body(ByteStream::from(body.to_vec()));
            req = match condition {
                Some(Condition::Absent) => req.if_none_match("*"),
                Some(Condition::Is(etag)) => req.if_match(etag),
                None => req,
            };
            match req.send().await {
                Ok(out) => return Ok(out.e_tag().unwrap_or_default().to_string()),
                Err(e) if status_of(&e) == Some(412) || (condition.is_some() && status_of(&e) == Some(404)) => return Err(Refused::Precondition),
                Err(e) if status_of(&e) == Some(409) && attempt < CONFLICT_ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
                }
                Err(e) => return Err(Refused::Failed(self.failed("PutObject", &key, e))),
            }
        }
    }

    /// Deletes an object, only if it still has `etag` when given. A missing object is deleted.
    pub async fn delete(&self, name: &str, etag: Option<&str>) -> Result<(), Refused> {
        let key = self.key(name);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut req = self.client.delete_object().bucket(&self.bucket).key(&key);
            if let Some(etag) = etag {
                req = req.if_match(etag);
            }
            match req.send().await {
                Ok(_) => return Ok(()),
                Err(e) if status_of(&e) == Some(412) => return Err(Refused::Precondition),
                Err(e) if status_of(&e) == Some(404) => return Ok(()),
                Err(e) if status_of(&e) == Some(409) && attempt < CONFLICT_ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
                }
                Err(e) => return Err(Refused::Failed(self.failed("DeleteObject", &key, e))),
            }
        }
    }

    /// The names (after the prefix) of the objects whose names start with `under`, in order;
    /// only those after name `after` when given.
    pub async fn list(&self, under: &str, after: Option<&str>) -> Result<Vec<String>, StateError> {
        let key = self.key(under);
        let after = after.map(|a| self.key(a));
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&key)
                .set_start_after(after.clone())
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| self.failed("ListObjectsV2", &key, e))?;
            names.extend(out.contents().iter().filter_map(|o| o.key()).filter_map(|k| k.strip_prefix(&self.prefix)).map(str::to_string));
            match out.next_continuation_token() {
                Some(next) if out.is_truncated() == Some(true) => token = Some(next.to_string()),
                _ => break,
            }
        }
        names.sort();
        Ok(names)
    }

    /// The server's clock now: the modification time of an object written for the purpose.
    pub async fn server_now(&self, name: &str) -> Result<SystemTime, StateError> {
        self.put(name, b"", None).await.map_err(|r| match r {
            Refused::Failed(e) => e,
            Refused::Precondition => StateError::Backend("an unconditional write was refused".into()),
        })?;
        let got = self.get(name).await?;
        got.and_then(|g| g.last_modified)
            .ok_or_else(|| StateError::Backend(format!("s3://{}/{} has no modification time", self.bucket, self.key(name))))
    }
}
