//! `aws:s3:Object`: one object, its content from a string (`content`) or a file (`source`).
//!
//! The diff is by content hash: `check` computes `content_sha256` (reading a `source` file, which
//! stays out of state; only its path and hash are recorded). Uploads carry the SHA-256 checksum,
//! so S3 rejects a body that does not match the planned hash and later reads can compare the
//! stored checksum without downloading; objects written by others are downloaded and hashed.
//! The id is `<bucket>/<key>`. An object uploaded as a version (its bucket is versioned) is
//! deleted with every version and delete marker of its key, not hidden behind a delete marker.

use std::io::Read as _;

use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, ChecksumType};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use strake::provider::{CreatedLookup, ErrorKind, ProviderError};
use strake::typed::*;
use strake::{Output, Resource, ResourceHandle};

use super::shared::{check_key, hex, in_bucket_region};
use crate::context::Aws;
use crate::error::{aws_error, found};
use crate::validate::check_bucket_name;

/// The type token of an S3 object.
pub const TYPE: &str = "aws:s3:Object";

const TEXT: &str = "text/plain";
const BINARY: &str = "application/octet-stream";

/// The inputs of an object.
#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
#[strake(handle = Object, resource = TYPE)]
pub struct ObjectInputs {
    /// The name of the bucket to put the object in (e.g. `bucket.name()`).
    #[strake(new, replace_on)]
    pub bucket: String,
    /// The object's key (its path in the bucket).
    #[strake(new, replace_on)]
    pub key: String,
    /// The content as a string (recorded in state; use [`Object::source`] for large content).
    /// Content type default: `text/plain`.
    #[strake(set)]
    pub content: Option<String>,
    /// The path of a file with the content.
    pub source: Option<String>,
    /// The content's media type.
    #[strake(set)]
    pub content_type: Option<String>,
    /// The content's SHA-256 (computed at plan time).
    pub content_sha256: Option<String>,
}

/// The outputs of an object.
#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
#[strake(handle = Object)]
pub struct ObjectOutputs {
    /// The bucket's name.
    #[strake(get, echo)]
    pub bucket: String,
    /// The object's key.
    #[strake(get, echo)]
    pub key: String,
    /// The object's ETag.
    #[strake(get)]
    pub etag: Option<String>,
    /// The version S3 gave the upload, in a versioned bucket.
    pub version_id: Option<String>,
}

/// An S3 object. Set its content with [`Object::content`] or [`Object::source`].
#[derive(Clone, ResourceHandle)]
pub struct Object(Resource);

impl Object {
    /// The content from a file (path relative to the working directory), read at plan time to
    /// hash it and at apply to upload it. Only the path and hash are recorded. Content type
    /// default: `application/octet-stream`.
    pub fn source(self, path: impl Into<String>) -> Self {
        self.0.set(ObjectInputs::SOURCE, path.into());
        self
    }

    /// The version S3 gave the upload, in a versioned bucket; `None` otherwise.
    pub fn version_id(&self) -> Output<Option<String>> {
        self.0.output(ObjectOutputs::VERSION_ID.name()).typed()
    }
}

pub(crate) struct ObjectType;

fn id(bucket: &str, key: &str) -> String {
    format!("{bucket}/{key}")
}

fn split_id(id: &str) -> Option<(&str, &str)> {
    id.split_once('/').filter(|(b, k)| !b.is_empty() && !k.is_empty())
}

fn outputs(bucket: &str, key: &str, etag: Option<&str>, version_id: Option<&str>) -> ObjectOutputs {
    ObjectOutputs {
        bucket: bucket.to_string(),
        key: key.to_string(),
        etag: etag.map(str::to_string),
        version_id: version_id.filter(|v| !v.is_empty() && *v != "null").map(str::to_string),
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
async fn put(aws: &Aws, i: &ObjectInputs) -> Result<ObjectOutputs, ProviderError> {
    let (bucket, key) = (i.bucket.as_str(), i.key.as_str());
    let sha = i.content_sha256.as_deref().unwrap_or_default();
    if let Some(path) = &i.source {
        let now = file_sha256(path).map_err(|e| ProviderError::permanent(format!("cannot read `{path}` to upload it: {e}")))?;
        if now != sha {
            return Err(ProviderError::permanent(format!("`{path}` changed since it was planned (SHA-256 {now}, planned {sha}); plan again")));
        }
    }
    let checksum = from_hex(sha).map(aws_smithy_types::base64::encode);
    let checksum = checksum.as_deref();
    let (content_type, source, content) = (i.content_type.as_deref(), i.source.as_deref(), i.content.as_deref());
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
        aws_error("s3:PutObject")(e)
            .advise("NoSuchBucket", || format!(" (`{bucket}`: create the bucket first, e.g. pass `bucket.name()` so the object waits for it)"))
    })?;
    Ok(outputs(bucket, key, out.e_tag(), out.version_id()))
}

/// Every version and delete marker of exactly `key` (none when the bucket is gone).
async fn versions_of(aws: &Aws, bucket: &str, key: &str) -> Result<Vec<String>, ProviderError> {
    let (mut versions, mut next) = (Vec::new(), None::<(String, String)>);
    loop {
        let (key_marker, version_marker) = next.clone().unzip();
        let listed = in_bucket_region(aws, |c| {
            c.list_object_versions()
                .bucket(bucket)
                .prefix(key)
                .set_key_marker(key_marker.clone())
                .set_version_id_marker(version_marker.clone())
                .send()
        })
        .await;
        let Some(page) = found(listed, "s3:ListObjectVersions")? else { return Ok(versions) };
        let of_key = |k: Option<&str>, v: Option<&str>| (k == Some(key)).then(|| v.map(str::to_string)).flatten();
        versions.extend(page.versions().iter().filter_map(|v| of_key(v.key(), v.version_id())));
        versions.extend(page.delete_markers().iter().filter_map(|m| of_key(m.key(), m.version_id())));
        match (page.is_truncated(), page.next_key_marker(), page.next_version_id_marker()) {
            (Some(true), Some(k), Some(v)) => next = Some((k.to_string(), v.to_string())),
            _ => return Ok(versions),
        }
    }
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
        let chunk =
            chunk.map_err(|e| ProviderError::with_kind(ErrorKind::Transient, None, format!("s3:GetObject: reading `{bucket}/{key}`: {e}")))?;
        hasher.update(&chunk);
    }
    Ok(hex(&hasher.finalize()))
}

impl ResourceType for ObjectType {
    type Context = Aws;
    type Inputs = ObjectInputs;
    type Outputs = ObjectOutputs;
    const SPEC: Spec = Spec::new(TYPE, CreatedLookup::FromInputs);

    fn check(&self, _aws: &Aws, c: &mut Check<ObjectInputs>) {
        c.validate(ObjectInputs::BUCKET, |b| check_bucket_name(b));
        c.validate(ObjectInputs::KEY, |k| check_key(k));
        c.validate(ObjectInputs::CONTENT_TYPE, |t| {
            if t.contains('/') { Ok(()) } else { Err(format!("`{t}` is not a MIME type like \"text/plain\" or \"application/json\"")) }
        });
        let (content, source) = (c.get(ObjectInputs::CONTENT), c.get(ObjectInputs::SOURCE));
        let (sha, default_type) = match (content, source) {
            (Known::Absent, Known::Absent) => {
                c.fail(ObjectInputs::CONTENT, "is required: set the content (a string) or a source file");
                (Known::Absent, None)
            }
            (content, source) if !content.is_absent() && !source.is_absent() => {
                c.fail(ObjectInputs::SOURCE, "and `content` are both set; set one of them");
                (Known::Absent, None)
            }
            (Known::Known(text), _) => (Known::Known(hex(&Sha256::digest(text.as_bytes()))), Some(TEXT)),
            (_, Known::Known(path)) => match file_sha256(&path) {
                Ok(h) => (Known::Known(h), Some(BINARY)),
                Err(e) => {
                    c.fail(
                        ObjectInputs::SOURCE,
                        format!("cannot read `{path}`: {e}; give the path of a readable file (relative paths start at the working directory)"),
                    );
                    (Known::Absent, None)
                }
            },
            // Content known only after apply.
            (Known::Unknown, _) => (Known::Unknown, Some(TEXT)),
            (_, _) => (Known::Unknown, Some(BINARY)),
        };
        match sha {
            // The hash of a secret is secret too (a short secret could be guessed from it).
            Known::Known(h) => {
                let secret = c.is_secret(ObjectInputs::CONTENT);
                c.set_secret_if(ObjectInputs::CONTENT_SHA256, h, secret);
            }
            Known::Unknown => c.set_unknown(ObjectInputs::CONTENT_SHA256),
            Known::Absent => c.remove(ObjectInputs::CONTENT_SHA256),
        }
        if let (false, Some(t)) = (c.inputs().is_set(ObjectInputs::CONTENT_TYPE), default_type) {
            c.set(ObjectInputs::CONTENT_TYPE, t.to_string());
        }
    }

    fn claim(&self, _aws: &Aws, inputs: &Partial<ObjectInputs>) -> Option<String> {
        Some(format!("S3 object `{}/{}`", inputs.known(ObjectInputs::BUCKET)?, inputs.known(ObjectInputs::KEY)?))
    }

    async fn create(&self, aws: &Aws, req: Create<'_, ObjectInputs>) -> Result<Created<ObjectOutputs>, ProviderError> {
        let outputs = put(aws, req.inputs).await?;
        Ok(Created::new(id(&req.inputs.bucket, &req.inputs.key), outputs))
    }

    async fn read(
        &self,
        aws: &Aws,
        req: Read<'_, ObjectInputs, ObjectOutputs>,
    ) -> Result<Option<Observed<ObjectInputs, ObjectOutputs>>, ProviderError> {
        let by_id = |id| split_id(id).ok_or_else(|| ProviderError::permanent(format!("`{id}` is not an object id; use `<bucket>/<key>`")));
        let Some((bucket, key)) = req.locate(by_id, |i| (i.bucket.as_str(), i.key.as_str()))? else { return Ok(None) };
        let head = in_bucket_region(aws, |c| c.head_object().bucket(bucket).key(key).checksum_mode(ChecksumMode::Enabled).send()).await;
        let Some(head) = found(head, "s3:HeadObject")? else { return Ok(None) };
        // A composite checksum (multipart upload) is not the content's hash.
        let full = head.checksum_type().is_none_or(|t| *t == ChecksumType::FullObject) && head.checksum_sha256().is_some_and(|s| !s.contains('-'));
        let sha = current_sha256(aws, bucket, key, head.checksum_sha256().filter(|_| full)).await?;
        let inputs = ObjectInputs {
            bucket: bucket.to_string(),
            key: key.to_string(),
            // How the program gives the content is not S3's to say: kept as recorded.
            content: req.inputs.and_then(|i| i.content.clone()),
            source: req.inputs.and_then(|i| i.source.clone()),
            content_type: head.content_type().map(str::to_string),
            content_sha256: Some(sha),
        };
        Ok(Some(Observed::new(id(bucket, key), inputs, outputs(bucket, key, head.e_tag(), head.version_id()))))
    }

    async fn update(&self, aws: &Aws, req: Update<'_, ObjectInputs, ObjectOutputs>) -> Result<ObjectOutputs, ProviderError> {
        put(aws, req.new).await
    }

    async fn delete(&self, aws: &Aws, req: Delete<'_, ObjectInputs, ObjectOutputs>) -> Result<(), ProviderError> {
        let Some((bucket, key)) = split_id(req.id) else { return Ok(()) };
        // In a versioned bucket a plain delete only hides the object behind a delete marker:
        // an object uploaded as a version goes with every version of its key.
        if req.outputs.is_some_and(|o| o.version_id.is_some()) {
            for version in versions_of(aws, bucket, key).await? {
                let deleted = in_bucket_region(aws, |c| c.delete_object().bucket(bucket).key(key).version_id(&version).send()).await;
                let need = || " (deleting a version of an object takes `s3:DeleteObjectVersion`)".to_string();
                found(deleted, "s3:DeleteObject").map_err(|e| e.advise("AccessDenied", need))?;
            }
            return Ok(());
        }
        // A bucket that is gone has no objects.
        found(in_bucket_region(aws, |c| c.delete_object().bucket(bucket).key(key).send()).await, "s3:DeleteObject").map(drop)
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
