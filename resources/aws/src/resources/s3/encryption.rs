//! `aws:s3:BucketServerSideEncryption`: the default encryption of new objects in a bucket. Its
//! id is the bucket's name. Deleting it returns the bucket to S3's default (SSE-S3, `AES256`).

use aws_sdk_s3::types::{ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule};
use serde::{Deserialize, Serialize};
use strake::provider::ProviderError;
use strake::typed::*;
use strake::{Resource, ResourceHandle};

use super::setting::BucketSetting;
use super::shared::in_bucket_region;
use crate::context::Aws;
use crate::error::{aws_error, found};
use crate::validate::check_arn;

/// The type token of a bucket's default encryption.
pub const TYPE: &str = "aws:s3:BucketServerSideEncryption";

const AES256: &str = "AES256";
const ALGORITHMS: [&str; 3] = [AES256, "aws:kms", "aws:kms:dsse"];

/// The inputs of a bucket's default encryption.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[strake(handle = BucketServerSideEncryption, resource = TYPE)]
pub struct EncryptionInputs {
    /// The name of the bucket (`bucket.name()`).
    #[strake(new, replace_on)]
    pub bucket: String,
    /// `AES256` (SSE-S3), `aws:kms` (SSE-KMS) or `aws:kms:dsse`.
    #[strake(default = AES256, set = "algorithm")]
    pub sse_algorithm: String,
    /// SSE-KMS with this key (id, ARN or alias; the algorithm becomes `aws:kms` unless another KMS
    /// one is set). Default: the AWS managed key.
    #[strake(set = "kms_key")]
    pub kms_master_key_id: Option<String>,
    /// Use an S3 Bucket Key, which cuts the KMS requests of SSE-KMS.
    #[strake(set = "bucket_key")]
    pub bucket_key_enabled: Option<bool>,
}

/// Default encryption of a bucket: `BucketServerSideEncryption::new(stack, "sse", &provider,
/// bucket.name()).kms_key(key_arn)`. SSE-S3 (`AES256`) unless a KMS key or algorithm is set.
#[derive(Clone, ResourceHandle)]
pub struct BucketServerSideEncryption(Resource);

/// Default encryption, as a kind of bucket setting.
pub(crate) struct Encryption;

impl BucketSetting for Encryption {
    type Inputs = EncryptionInputs;
    const TYPE: &'static str = TYPE;
    const WHAT: &'static str = "default encryption";
    const BUCKET: Field<EncryptionInputs, String> = EncryptionInputs::BUCKET;

    fn bucket(inputs: &EncryptionInputs) -> &str {
        &inputs.bucket
    }

    fn check(c: &mut Check<EncryptionInputs>) {
        // A key names SSE-KMS: the default algorithm follows it.
        if c.inputs().is_set(EncryptionInputs::KMS_MASTER_KEY_ID) && c.known(EncryptionInputs::SSE_ALGORITHM).as_deref() == Some(AES256) {
            c.set(EncryptionInputs::SSE_ALGORITHM, "aws:kms".to_string());
        }
        c.validate(EncryptionInputs::SSE_ALGORITHM, |a| {
            if ALGORITHMS.contains(&a.as_str()) {
                Ok(())
            } else {
                Err(format!("is `{a}`; use one of {}", ALGORITHMS.map(|a| format!("\"{a}\"")).join(", ")))
            }
        });
        c.validate(EncryptionInputs::KMS_MASTER_KEY_ID, |k| {
            if k.starts_with("arn:") {
                check_arn(k).map_err(|e| format!("`{k}` {e}"))
            } else if k.is_empty() {
                Err("is empty; give a KMS key id, ARN or alias".into())
            } else {
                Ok(())
            }
        });
    }

    async fn put(aws: &Aws, i: &EncryptionInputs) -> Result<(), ProviderError> {
        let by_default = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::from(i.sse_algorithm.as_str()))
            .set_kms_master_key_id(i.kms_master_key_id.clone())
            .build()
            .map_err(|e| ProviderError::permanent(e.to_string()))?;
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(by_default)
            .set_bucket_key_enabled(i.bucket_key_enabled)
            .build();
        let config = ServerSideEncryptionConfiguration::builder().rules(rule).build().map_err(|e| ProviderError::permanent(e.to_string()))?;
        let put = in_bucket_region(aws, |c| c.put_bucket_encryption().bucket(&i.bucket).server_side_encryption_configuration(config.clone()).send());
        put.await.map(drop).map_err(aws_error("s3:PutBucketEncryption"))
    }

    async fn get(aws: &Aws, bucket: &str, declared: Option<&EncryptionInputs>) -> Result<Option<EncryptionInputs>, ProviderError> {
        let got = found(in_bucket_region(aws, |c| c.get_bucket_encryption().bucket(bucket).send()).await, "s3:GetBucketEncryption")?;
        let rule = got.as_ref().and_then(|g| g.server_side_encryption_configuration()).and_then(|c| c.rules().first());
        let Some(by_default) = rule.and_then(|r| r.apply_server_side_encryption_by_default()) else { return Ok(None) };
        Ok(Some(EncryptionInputs {
            bucket: bucket.to_string(),
            sse_algorithm: by_default.sse_algorithm().as_str().to_string(),
            kms_master_key_id: by_default.kms_master_key_id().map(str::to_string),
            // S3 reports the bucket key off when never set: compared when the program sets it.
            bucket_key_enabled: rule
                .and_then(|r| r.bucket_key_enabled())
                .filter(|on| *on || declared.is_some_and(|d| d.bucket_key_enabled.is_some())),
        }))
    }

    async fn remove(aws: &Aws, bucket: &str) -> Result<(), ProviderError> {
        found(in_bucket_region(aws, |c| c.delete_bucket_encryption().bucket(bucket).send()).await, "s3:DeleteBucketEncryption").map(drop)
    }
}
