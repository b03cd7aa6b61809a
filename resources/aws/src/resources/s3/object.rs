//! `aws:s3:Object`: one object, its content from a string (`content`) or a file (`source`).
//!
//! The diff is by content hash: `check` computes `content_sha256` (reading a `source` file, which
//! stays out of state; only its path and hash are recorded). Uploads carry the SHA-256 checksum,
//! so S3 rejects a body that does not match the planned hash and later reads can compare the
//! stored checksum without downloading; objects written by others are downloaded and hashed.
//! The id is `<bucket>/<key>`.

use std::io::Read;

use async_trait::async_trait;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, ChecksumType};
use sha2::{Digest, Sha256};
use strake::provider::*;
use strake::{Output, ProviderRef, Resource, ResourceHandle, Stack, Value};

use super::shared::{check_key, hex, in_bucket_region};
use crate::error::{AwsFailure, aws_error};
use crate::provider::Aws;
use crate::resources::*;
use crate::validate::check_bucket_name;

pub const TYPE: &str = "aws:s3:Object";

const TEXT: &str = "text/plain";
const BINARY: &str = "application/octet-stream";

/// An S3 object. Set its content with [`Object::content`] or [`Object::source`].
#[derive(Clone)]
pub struct Object(Resource);

impl Object {
    /// `bucket` is the bucket's name (e.g. `bucket.name()`); `key` the object's key.
    #[track_caller]
    pub fn new(stack: &Stack, name: &str, provider: &ProviderRef, bucket: impl Into<Output<String>>, key: impl Into<Output<String>>) -> Object {
        let r = stack.resource(TYPE, name);
        r.set_input("bucket", bucket.into());
        r.set_input("key", key.into());
        Object(r.provider(provider))
    }

    /// The content as a string (recorded in state; use [`Object::source`] for large content).
    /// Content type default: `text/plain`.
    pub fn content(self, content: impl Into<Output<String>>) -> Self {
        self.0.set_input("content", content.into());
        self
    }

    /// The content from a file (path relative to the working directory), read at plan time to
    /// hash it and at apply to upload it. Only the path and hash are recorded. Content type
    /// default: `application/octet-stream`.
    pub fn source(self, path: impl Into<String>) -> Self {
        self.0.set_input("source", Value::from(path.into()));
        self
    }

    pub fn content_type(self, content_type: &str) -> Self {
        self.0.set_input("content_type", content_type);
        self
    }

    pub fn etag(&self) -> Output<String> {
        self.0.output_string("etag")
    }

    /// The version S3 gave the upload, in a versioned bucket; `None` otherwise.
    pub fn version_id(&self) -> Output<Option<String>> {
        self.0.output("version_id").typed()
    }

    pub fn key(&self) -> Output<String> {
        self.0.output_string("key")
    }

    pub fn bucket(&self) -> Output<String> {
        self.0.output_string("bucket")
    }
}

impl ResourceHandle for Object {
    fn resource(&self) -> &Resource {
        &self.0
    }
}

pub(crate) struct ObjectType;

fn id(bucket: &str, key: &str) -> String {
    format!("{bucket}/{key}")
}

fn split_id(id: &str) -> Option<(&str, &str)> {
    id.split_once('/').filter(|(b, k)| !b.is_empty() && !k.is_empty())
}

fn outputs(bucket: &str, key: &str, etag: Option<&str>, version_id: Option<&str>) -> Value {
    Value::from_pairs([
        ("bucket", Value::from(bucket)),
        ("key", Value::from(key)),
        ("etag", etag.map(Value::from).unwrap_or(Value::Unknown)),
        ("version_id", version_id.filter(|v| !v.is_empty() && *v != "null").map(Value::from).unwrap_or(Value::Null)),
    ])
}

/// `value`, marked secret when the recorded `content` is.
fn secret_like(inputs: &Value, value: Value) -> Value {
    match inputs.get("content") {
        Some(c) if c.contains_secret() && value.is_known() && !value.contains_secret() => Value::Secret(Box::new(value)),
        _ => value,
    }
}

/// SHA-256 of a file, read in chunks.
fn file_sha256(path: &str) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    s.len().is_multiple_of(2).then_some(())?;
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// Uploads the object from `content` or `source`, with its SHA-256 so S3 verifies the body.
async fn put(aws: &Aws, inputs: &Value) -> Result<Value, ProviderError> {
    let (bucket, key) = (known_str(inputs, "bucket").unwrap_or_default(), known_str(inputs, "key").unwrap_or_default());
    let sha = known_str(inputs, "content_sha256").unwrap_or_default();
    if let Some(path) = known_str(inputs, "source") {
        let now = file_sha256(path).map_err(|e| ProviderError::permanent(format!("cannot read `{path}` to upload it: {e}")))?;
        if now != sha {
            return Err(ProviderError::permanent(format!("`{path}` changed since it was planned (SHA-256 {now}, planned {sha}); plan again")));
        }
    }
    let checksum = from_hex(sha).map(aws_smithy_types::base64::encode);
    let checksum = checksum.as_deref();
    let content_type = known_str(inputs, "content_type");
    let source = known_str(inputs, "source");
    let content = known_str(inputs, "content");
    let resp = in_bucket_region(aws, |c| async move {
        let body = match (source, content) {
            (Some(path), _) => ByteStream::from_path(path).await.map_err(SdkError::construction_failure)?,
            (None, Some(text)) => ByteStream::from(text.as_bytes().to_vec()),
            (None, None) => ByteStream::from_static(b""),
        };
        let mut call = c.put_object().bucket(bucket).key(key).body(body).set_content_type(content_type.map(str::to_string));
        if let Some(sum) = checksum {
            call = call.checksum_algorithm(ChecksumAlgorithm::Sha256).checksum_sha256(sum);
        }
        call.send().await
    })
    .await;
    let out = resp.map_err(|e| {
        let mut err = aws_error("s3:PutObject")(e);
        if err.code.as_deref() == Some("NoSuchBucket") {
            err.message.push_str(&format!(" (`{bucket}`: create the bucket first, e.g. pass `bucket.name()` so the object waits for it)"));
        }
        err
    })?;
    Ok(outputs(bucket, key, out.e_tag(), out.version_id()))
}

/// The current object's content hash: the stored SHA-256 checksum when S3 has a full one,
/// otherwise the body, downloaded and hashed in chunks.
async fn current_sha256(aws: &Aws, bucket: &str, key: &str, stored: Option<&str>) -> Result<String, ProviderError> {
    if let Some(raw) = stored.and_then(|s| aws_smithy_types::base64::decode(s).ok()).filter(|b| b.len() == 32) {
        return Ok(hex(&raw));
    }
    let out = in_bucket_region(aws, |c| c.get_object().bucket(bucket).key(key).send()).await.map_err(aws_error("s3:GetObject"))?;
    let mut body = out.body;
    let mut hasher = Sha256::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| ProviderError::with_kind(ErrorKind::Transient, None, format!("s3:GetObject: reading `{bucket}/{key}`: {e}")))?;
        hasher.update(&chunk);
    }
    Ok(hex(&hasher.finalize()))
}

#[async_trait]
impl AwsResource for ObjectType {
    fn check(&self, _aws: &Aws, req: CheckRequest) -> CheckResponse {
        let mut inputs = req.inputs;
        let mut failures = Vec::new();
        require(&inputs, "bucket", "the name of the bucket to put the object in", &mut failures);
        check_str(&inputs, "bucket", &mut failures, check_bucket_name);
        require(&inputs, "key", "the object's key (its path in the bucket)", &mut failures);
        check_str(&inputs, "key", &mut failures, check_key);
        check_str(&inputs, "content_type", &mut failures, |t| {
            if t.contains('/') { Ok(()) } else { Err(format!("`{t}` is not a MIME type like \"text/plain\" or \"application/json\"")) }
        });
        let (content, source) = (field(&inputs, "content"), field(&inputs, "source"));
        let (sha, default_type) = match (content, source) {
            (Field::Absent, Field::Absent) => {
                failures.push(CheckFailure::new("content", "is required: set the content (a string) or a source file"));
                (None, None)
            }
            (c, s) if !matches!(c, Field::Absent) && !matches!(s, Field::Absent) => {
                failures.push(CheckFailure::new("source", "and `content` are both set; set one of them"));
                (None, None)
            }
            (Field::Known(v), _) => match v.as_str() {
                Some(s) => (Some(Value::from(hex(&Sha256::digest(s.as_bytes())))), Some(TEXT)),
                None => {
                    failures.push(CheckFailure::new("content", format!("must be a string, not {v}")));
                    (None, None)
                }
            },
            (_, Field::Known(v)) => match v.as_str() {
                Some(path) => match file_sha256(path) {
                    Ok(h) => (Some(Value::from(h)), Some(BINARY)),
                    Err(e) => {
                        failures.push(CheckFailure::new("source", format!("cannot read `{path}`: {e}; give the path of a readable file (relative paths start at the working directory)")));
                        (None, None)
                    }
                },
                None => {
                    failures.push(CheckFailure::new("source", format!("must be a file path, not {v}")));
                    (None, None)
                }
            },
            // Content known only after apply.
            (Field::Unknown, _) => (Some(Value::Unknown), Some(TEXT)),
            (_, _) => (Some(Value::Unknown), Some(BINARY)),
        };
        // The hash of a secret is secret too (a short secret could be guessed from it).
        inputs.set_path("content_sha256", sha.map(|h| secret_like(&inputs, h)));
        if let (Field::Absent, Some(t)) = (field(&inputs, "content_type"), default_type) {
            inputs.set_path("content_type", Some(Value::from(t)));
        }
        CheckResponse { inputs, failures, warnings: Vec::new() }
    }

    fn diff(&self, req: DiffRequest) -> DiffResponse {
        let changes = strake::diff::changed_properties(&req.old_inputs, &req.new_inputs);
        let replaces = changes.iter().filter(|c| matches!(c.as_str(), "bucket" | "key")).cloned().collect();
        DiffResponse { changes, replaces, delete_before_replace: false }
    }

    fn preview(&self, _aws: &Aws, req: PreviewRequest) -> Value {
        let known = |k: &str| known_str(&req.inputs, k).map(Value::from).unwrap_or(Value::Unknown);
        Value::from_pairs([("bucket", known("bucket")), ("key", known("key")), ("etag", Value::Unknown), ("version_id", Value::Unknown)])
    }

    async fn create(&self, aws: &Aws, req: CreateRequest) -> Result<CreateResponse, ProviderError> {
        let outputs = put(aws, &req.inputs).await?;
        let (bucket, key) = (known_str(&req.inputs, "bucket").unwrap_or_default(), known_str(&req.inputs, "key").unwrap_or_default());
        Ok(CreateResponse { id: id(bucket, key), outputs })
    }

    async fn read(&self, aws: &Aws, req: ReadRequest) -> Result<ReadResponse, ProviderError> {
        let (bucket, key) = match &req.id {
            Some(id) => split_id(id).ok_or_else(|| ProviderError::permanent(format!("`{id}` is not an object id; use `<bucket>/<key>`")))?,
            None => match (known_str(&req.inputs, "bucket"), known_str(&req.inputs, "key")) {
                (Some(b), Some(k)) => (b, k),
                _ => return Ok(ReadResponse::Gone),
            },
        };
        let head = in_bucket_region(aws, |c| c.head_object().bucket(bucket).key(key).checksum_mode(ChecksumMode::Enabled).send()).await;
        let head = match head {
            Ok(h) => h,
            Err(e) => {
                let f = AwsFailure::from(e);
                if f.is_not_found() {
                    return Ok(ReadResponse::Gone);
                }
                return Err(f.into_error("s3:HeadObject"));
            }
        };
        // A composite checksum (multipart upload) is not the content's hash.
        let full = head.checksum_type().is_none_or(|t| *t == ChecksumType::FullObject) && head.checksum_sha256().is_some_and(|s| !s.contains('-'));
        let sha = current_sha256(aws, bucket, key, head.checksum_sha256().filter(|_| full)).await?;
        let mut inputs = Value::from_pairs([
            ("bucket", Value::from(bucket)),
            ("key", Value::from(key)),
            ("content_sha256", secret_like(&req.inputs, Value::from(sha))),
            ("content_type", head.content_type().map(Value::from).unwrap_or(Value::Null)),
        ]);
        // How the program gives the content is not S3's to say: kept as recorded.
        for k in ["content", "source"] {
            if let Some(v) = req.inputs.get(k).filter(|v| !matches!(v, Value::Null)) {
                inputs.set_path(k, Some(v.clone()));
            }
        }
        Ok(ReadResponse::Found { id: id(bucket, key), inputs, outputs: outputs(bucket, key, head.e_tag(), head.version_id()) })
    }

    async fn update(&self, aws: &Aws, req: UpdateRequest) -> Result<UpdateResponse, ProviderError> {
        Ok(UpdateResponse { outputs: put(aws, &req.new_inputs).await? })
    }

    async fn delete(&self, aws: &Aws, req: DeleteRequest) -> Result<(), ProviderError> {
        let Some((bucket, key)) = split_id(&req.id) else { return Ok(()) };
        match in_bucket_region(aws, |c| c.delete_object().bucket(bucket).key(key).send()).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let f = AwsFailure::from(e);
                // A bucket that is gone has no objects.
                if f.is_not_found() { Ok(()) } else { Err(f.into_error("s3:DeleteObject")) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_hex() {
        assert_eq!(split_id("b/a/c.txt"), Some(("b", "a/c.txt")));
        assert_eq!(split_id("b/"), None);
        assert_eq!(from_hex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(from_hex("0"), None);
        assert_eq!(hex(&[1, 171]), "01ab");
    }
}
