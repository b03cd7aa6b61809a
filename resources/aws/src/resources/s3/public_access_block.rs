//! `aws:s3:BucketPublicAccessBlock`: a bucket's public access block. Its id is the bucket's name.
//! Every setting defaults to `true`, the safe setting; deleting it removes the block.

use async_trait::async_trait;
use aws_sdk_s3::types::PublicAccessBlockConfiguration;
use serde::{Deserialize, Serialize};
use strake::provider::{CreatedLookup, ProviderError};
use strake::typed::*;
use strake::{Output, ProviderRef, Resource, ResourceHandle, Stack};

use super::shared::{OnBucket, bucket_of, in_bucket_region, setting_claim, setting_preview};
use crate::context::Aws;
use crate::error::{aws_error, found};
use crate::validate::check_bucket_name;

/// The type token of a bucket's public access block.
pub const TYPE: &str = "aws:s3:BucketPublicAccessBlock";

/// The inputs of a public access block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[strake(handle = BucketPublicAccessBlock)]
pub struct PublicAccessBlockInputs {
    /// The name of the bucket (`bucket.name()`).
    pub bucket: String,
    /// Reject requests that set public ACLs.
    #[strake(default = true, set)]
    pub block_public_acls: bool,
    /// Ignore public ACLs already on the bucket and its objects.
    #[strake(default = true, set)]
    pub ignore_public_acls: bool,
    /// Reject bucket policies that grant public access.
    #[strake(default = true, set)]
    pub block_public_policy: bool,
    /// Only the owner and AWS services may access a bucket with a public policy.
    #[strake(default = true, set)]
    pub restrict_public_buckets: bool,
}

bucket_setting!(PublicAccessBlockInputs);

/// A bucket's public access block: `BucketPublicAccessBlock::new(stack, "private", &provider,
/// bucket.name())` blocks all public access; the setters relax one setting each.
#[derive(Clone, ResourceHandle)]
pub struct BucketPublicAccessBlock(Resource);

impl BucketPublicAccessBlock {
    /// Blocks all public access to the bucket named `bucket`.
    #[track_caller]
    pub fn new(stack: &Stack, name: &str, provider: &ProviderRef, bucket: impl Into<Output<String>>) -> BucketPublicAccessBlock {
        let r = stack.resource(TYPE, name);
        r.set(PublicAccessBlockInputs::BUCKET, bucket);
        BucketPublicAccessBlock(r.provider(provider))
    }
}

pub(crate) struct PublicAccessBlockType;

async fn put(aws: &Aws, i: &PublicAccessBlockInputs) -> Result<(), ProviderError> {
    let config = PublicAccessBlockConfiguration::builder()
        .block_public_acls(i.block_public_acls)
        .ignore_public_acls(i.ignore_public_acls)
        .block_public_policy(i.block_public_policy)
        .restrict_public_buckets(i.restrict_public_buckets)
        .build();
    let put = in_bucket_region(aws, |c| c.put_public_access_block().bucket(&i.bucket).public_access_block_configuration(config.clone()).send()).await;
    put.map(drop).map_err(aws_error("s3:PutPublicAccessBlock"))
}

#[async_trait]
impl ResourceType for PublicAccessBlockType {
    type Context = Aws;
    type Inputs = PublicAccessBlockInputs;
    type Outputs = OnBucket;
    const SPEC: Spec = Spec::new(TYPE, CreatedLookup::FromInputs).replace_on(&[PublicAccessBlockInputs::BUCKET.name()]);

    fn check(&self, _aws: &Aws, c: &mut Check<PublicAccessBlockInputs>) {
        c.validate(PublicAccessBlockInputs::BUCKET, |b| check_bucket_name(b));
    }

    fn preview(&self, _aws: &Aws, inputs: &Partial<PublicAccessBlockInputs>, _prior: Option<&Partial<OnBucket>>) -> Option<Partial<OnBucket>> {
        setting_preview(inputs.raw(PublicAccessBlockInputs::BUCKET.name()))
    }

    fn claim(&self, _aws: &Aws, inputs: &Partial<PublicAccessBlockInputs>) -> Option<String> {
        setting_claim("public access block", inputs.known(PublicAccessBlockInputs::BUCKET))
    }

    async fn create(&self, aws: &Aws, req: Create<'_, PublicAccessBlockInputs>) -> Result<Created<OnBucket>, ProviderError> {
        put(aws, req.inputs).await?;
        Ok(OnBucket::created(&req.inputs.bucket))
    }

    async fn read(
        &self,
        aws: &Aws,
        req: Read<'_, PublicAccessBlockInputs, OnBucket>,
    ) -> Result<Option<Observed<PublicAccessBlockInputs, OnBucket>>, ProviderError> {
        let Some(bucket) = bucket_of(req.id, req.inputs) else { return Ok(None) };
        let got = in_bucket_region(aws, |c| c.get_public_access_block().bucket(&bucket).send()).await;
        let Some(got) = found(got, "s3:GetPublicAccessBlock")? else { return Ok(None) };
        let Some(config) = got.public_access_block_configuration() else { return Ok(None) };
        let inputs = PublicAccessBlockInputs {
            bucket: bucket.clone(),
            block_public_acls: config.block_public_acls().unwrap_or(false),
            ignore_public_acls: config.ignore_public_acls().unwrap_or(false),
            block_public_policy: config.block_public_policy().unwrap_or(false),
            restrict_public_buckets: config.restrict_public_buckets().unwrap_or(false),
        };
        Ok(Some(OnBucket::observed(bucket, inputs)))
    }

    async fn update(&self, aws: &Aws, req: Update<'_, PublicAccessBlockInputs, OnBucket>) -> Result<OnBucket, ProviderError> {
        put(aws, req.new).await?;
        Ok(OnBucket { bucket: req.new.bucket.clone() })
    }

    async fn delete(&self, aws: &Aws, req: Delete<'_, PublicAccessBlockInputs, OnBucket>) -> Result<(), ProviderError> {
        let deleted = in_bucket_region(aws, |c| c.delete_public_access_block().bucket(req.id).send()).await;
        found(deleted, "s3:DeletePublicAccessBlock").map(drop)
    }
}
