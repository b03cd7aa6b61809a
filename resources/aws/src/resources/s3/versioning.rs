//! `aws:s3:BucketVersioning`: whether a bucket keeps every version of its objects. Its id is the
//! bucket's name. S3 cannot turn versioning off once it was on: deleting this resource suspends
//! it (as Terraform does), and the versions already kept stay.

use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use serde::{Deserialize, Serialize};
use strake::provider::ProviderError;
use strake::typed::*;
use strake::{Resource, ResourceHandle};

use super::setting::BucketSetting;
use super::shared::in_bucket_region;
use crate::context::Aws;
use crate::error::{aws_error, found};

/// The type token of a bucket's versioning.
pub const TYPE: &str = "aws:s3:BucketVersioning";

const ENABLED: &str = "Enabled";
const SUSPENDED: &str = "Suspended";

/// The inputs of a bucket's versioning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[strake(handle = BucketVersioning, resource = TYPE)]
pub struct VersioningInputs {
    /// The name of the bucket (`bucket.name()`).
    #[strake(new, replace_on)]
    pub bucket: String,
    /// `Enabled` or `Suspended`.
    #[strake(default = ENABLED)]
    pub status: String,
}

/// Versioning of a bucket: `BucketVersioning::new(stack, "keep", &provider, bucket.name())` enables it.
#[derive(Clone, ResourceHandle)]
pub struct BucketVersioning(Resource);

impl BucketVersioning {
    /// Suspends versioning (new writes keep no versions; kept versions stay).
    pub fn suspended(self) -> Self {
        self.0.set(VersioningInputs::STATUS, SUSPENDED);
        self
    }
}

/// Versioning, as a kind of bucket setting.
pub(crate) struct Versioning;

impl BucketSetting for Versioning {
    type Inputs = VersioningInputs;
    const TYPE: &'static str = TYPE;
    const WHAT: &'static str = "versioning";
    const BUCKET: Field<VersioningInputs, String> = VersioningInputs::BUCKET;

    fn bucket(inputs: &VersioningInputs) -> &str {
        &inputs.bucket
    }

    fn check(c: &mut Check<VersioningInputs>) {
        c.validate(VersioningInputs::STATUS, |s| {
            if s == ENABLED || s == SUSPENDED { Ok(()) } else { Err(format!("is `{s}`; use \"{ENABLED}\" or \"{SUSPENDED}\"")) }
        });
    }

    async fn put(aws: &Aws, inputs: &VersioningInputs) -> Result<(), ProviderError> {
        put(aws, &inputs.bucket, &inputs.status).await
    }

    /// A bucket whose versioning was never set has none.
    async fn get(aws: &Aws, bucket: &str, _declared: Option<&VersioningInputs>) -> Result<Option<VersioningInputs>, ProviderError> {
        let got = found(in_bucket_region(aws, |c| c.get_bucket_versioning().bucket(bucket).send()).await, "s3:GetBucketVersioning")?;
        Ok(got.and_then(|g| g.status().map(|s| VersioningInputs { bucket: bucket.to_string(), status: s.as_str().to_string() })))
    }

    /// S3 cannot turn versioning off: it is suspended.
    async fn remove(aws: &Aws, bucket: &str) -> Result<(), ProviderError> {
        match put(aws, bucket, SUSPENDED).await {
            Err(e) if e.has_code("NoSuchBucket") => Ok(()),
            other => other,
        }
    }
}

async fn put(aws: &Aws, bucket: &str, status: &str) -> Result<(), ProviderError> {
    let config = VersioningConfiguration::builder().status(BucketVersioningStatus::from(status)).build();
    let put = in_bucket_region(aws, |c| c.put_bucket_versioning().bucket(bucket).versioning_configuration(config.clone()).send()).await;
    put.map(drop).map_err(aws_error("s3:PutBucketVersioning"))
}
