//! `aws:s3:BucketPublicAccessBlock`: a bucket's public access block. Its id is the bucket's name.
//! Every setting defaults to `true`, the safe setting; deleting it removes the block.

use aws_sdk_s3::types::PublicAccessBlockConfiguration;
use serde::{Deserialize, Serialize};
use strake::provider::ProviderError;
use strake::typed::*;
use strake::{Resource, ResourceHandle};

use super::setting::BucketSetting;
use super::shared::in_bucket_region;
use crate::context::Aws;
use crate::error::{aws_error, found};

/// The type token of a bucket's public access block.
pub const TYPE: &str = "aws:s3:BucketPublicAccessBlock";

/// The inputs of a public access block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[strake(handle = BucketPublicAccessBlock, resource = TYPE)]
pub struct PublicAccessBlockInputs {
    /// The name of the bucket (`bucket.name()`).
    #[strake(new, replace_on)]
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

/// A bucket's public access block: `BucketPublicAccessBlock::new(stack, "private", &provider,
/// bucket.name())` blocks all public access; the setters relax one setting each.
#[derive(Clone, ResourceHandle)]
pub struct BucketPublicAccessBlock(Resource);

impl BucketPublicAccessBlock {}

/// The public access block, as a kind of bucket setting.
pub(crate) struct PublicAccessBlock;

impl BucketSetting for PublicAccessBlock {
    type Inputs = PublicAccessBlockInputs;
    const TYPE: &'static str = TYPE;
    const WHAT: &'static str = "public access block";
    const BUCKET: Field<PublicAccessBlockInputs, String> = PublicAccessBlockInputs::BUCKET;

    fn bucket(inputs: &PublicAccessBlockInputs) -> &str {
        &inputs.bucket
    }

    async fn put(aws: &Aws, i: &PublicAccessBlockInputs) -> Result<(), ProviderError> {
        let config = PublicAccessBlockConfiguration::builder()
            .block_public_acls(i.block_public_acls)
            .ignore_public_acls(i.ignore_public_acls)
            .block_public_policy(i.block_public_policy)
            .restrict_public_buckets(i.restrict_public_buckets)
            .build();
        let put = in_bucket_region(aws, |c| c.put_public_access_block().bucket(&i.bucket).public_access_block_configuration(config.clone()).send());
        put.await.map(drop).map_err(aws_error("s3:PutPublicAccessBlock"))
    }

    async fn get(aws: &Aws, bucket: &str, _declared: Option<&PublicAccessBlockInputs>) -> Result<Option<PublicAccessBlockInputs>, ProviderError> {
        let got = in_bucket_region(aws, |c| c.get_public_access_block().bucket(bucket).send()).await;
        let Some(got) = found(got, "s3:GetPublicAccessBlock")? else { return Ok(None) };
        let Some(config) = got.public_access_block_configuration() else { return Ok(None) };
        Ok(Some(PublicAccessBlockInputs {
            bucket: bucket.to_string(),
            block_public_acls: config.block_public_acls().unwrap_or(false),
            ignore_public_acls: config.ignore_public_acls().unwrap_or(false),
            block_public_policy: config.block_public_policy().unwrap_or(false),
            restrict_public_buckets: config.restrict_public_buckets().unwrap_or(false),
        }))
    }

    async fn remove(aws: &Aws, bucket: &str) -> Result<(), ProviderError> {
        let deleted = in_bucket_region(aws, |c| c.delete_public_access_block().bucket(bucket).send()).await;
        found(deleted, "s3:DeletePublicAccessBlock").map(drop)
    }
}
