//! `aws:s3:BucketVersioning`: whether a bucket keeps every version of its objects. Its id is the
//! bucket's name. S3 cannot turn versioning off once it was on: deleting this resource suspends
//! it (as Terraform does), and the versions already kept stay.

use async_trait::async_trait;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use serde::{Deserialize, Serialize};
use strake::provider::{CreatedLookup, ProviderError};
use strake::typed::*;
use strake::{Output, ProviderRef, Resource, ResourceHandle, Stack};

use super::shared::{OnBucket, bucket_of, in_bucket_region, setting_claim, setting_preview};
use crate::context::Aws;
use crate::error::{aws_error, found};
use crate::validate::check_bucket_name;

/// The type token of a bucket's versioning.
pub const TYPE: &str = "aws:s3:BucketVersioning";

const ENABLED: &str = "Enabled";
const SUSPENDED: &str = "Suspended";

/// The inputs of a bucket's versioning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct VersioningInputs {
    /// The name of the bucket (`bucket.name()`).
    pub bucket: String,
    /// `Enabled` or `Suspended`.
    #[strake(default = ENABLED)]
    pub status: String,
}

bucket_setting!(VersioningInputs);

/// Versioning of a bucket: `BucketVersioning::new(stack, "keep", &provider, bucket.name())` enables it.
#[derive(Clone, ResourceHandle)]
pub struct BucketVersioning(Resource);

impl BucketVersioning {
    /// Enables versioning of the bucket named `bucket`.
    #[track_caller]
    pub fn new(stack: &Stack, name: &str, provider: &ProviderRef, bucket: impl Into<Output<String>>) -> BucketVersioning {
        let r = stack.resource(TYPE, name);
        r.set(VersioningInputs::BUCKET, bucket);
        BucketVersioning(r.provider(provider))
    }

    /// Suspends versioning (new writes keep no versions; kept versions stay).
    pub fn suspended(self) -> Self {
        self.0.set(VersioningInputs::STATUS, SUSPENDED);
        self
    }
}

pub(crate) struct VersioningType;

async fn put(aws: &Aws, bucket: &str, status: &str) -> Result<(), ProviderError> {
    let config = VersioningConfiguration::builder().status(BucketVersioningStatus::from(status)).build();
    let put = in_bucket_region(aws, |c| c.put_bucket_versioning().bucket(bucket).versioning_configuration(config.clone()).send()).await;
    put.map(drop).map_err(aws_error("s3:PutBucketVersioning"))
}

#[async_trait]
impl ResourceType for VersioningType {
    type Context = Aws;
    type Inputs = VersioningInputs;
    type Outputs = OnBucket;
    const SPEC: Spec = Spec::new(TYPE, CreatedLookup::FromInputs).replace_on(&[VersioningInputs::BUCKET.name()]);

    fn check(&self, _aws: &Aws, c: &mut Check<VersioningInputs>) {
        c.validate(VersioningInputs::BUCKET, |b| check_bucket_name(b));
        c.validate(VersioningInputs::STATUS, |s| {
            if s == ENABLED || s == SUSPENDED { Ok(()) } else { Err(format!("is `{s}`; use \"{ENABLED}\" or \"{SUSPENDED}\"")) }
        });
    }

    fn preview(&self, _aws: &Aws, inputs: &Partial<VersioningInputs>, _prior: Option<&Partial<OnBucket>>) -> Option<Partial<OnBucket>> {
        setting_preview(inputs.raw(VersioningInputs::BUCKET.name()))
    }

    fn claim(&self, _aws: &Aws, inputs: &Partial<VersioningInputs>) -> Option<String> {
        setting_claim("versioning", inputs.known(VersioningInputs::BUCKET))
    }

    async fn create(&self, aws: &Aws, req: Create<'_, VersioningInputs>) -> Result<Created<OnBucket>, ProviderError> {
        put(aws, &req.inputs.bucket, &req.inputs.status).await?;
        Ok(OnBucket::created(&req.inputs.bucket))
    }

    /// A bucket whose versioning was never set has none: gone.
    async fn read(
        &self,
        aws: &Aws,
        req: Read<'_, VersioningInputs, OnBucket>,
    ) -> Result<Option<Observed<VersioningInputs, OnBucket>>, ProviderError> {
        let Some(bucket) = bucket_of(req.id, req.inputs) else { return Ok(None) };
        let got = found(in_bucket_region(aws, |c| c.get_bucket_versioning().bucket(&bucket).send()).await, "s3:GetBucketVersioning")?;
        let Some(status) = got.and_then(|g| g.status().map(|s| s.as_str().to_string())) else { return Ok(None) };
        Ok(Some(OnBucket::observed(bucket.clone(), VersioningInputs { bucket, status })))
    }

    async fn update(&self, aws: &Aws, req: Update<'_, VersioningInputs, OnBucket>) -> Result<OnBucket, ProviderError> {
        put(aws, &req.new.bucket, &req.new.status).await?;
        Ok(OnBucket { bucket: req.new.bucket.clone() })
    }

    async fn delete(&self, aws: &Aws, req: Delete<'_, VersioningInputs, OnBucket>) -> Result<(), ProviderError> {
        match put(aws, req.id, SUSPENDED).await {
            Err(e) if e.code.as_deref() == Some("NoSuchBucket") => Ok(()),
            other => other,
        }
    }
}
