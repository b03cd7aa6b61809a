//! A bucket's settings (its policy, public access block, versioning, default encryption): one of
//! each kind per bucket, each its own resource whose id is the bucket's name. A kind says how to
//! put, get and remove its setting ([`BucketSetting`]); [`Setting`] makes a resource type of it.

use std::marker::PhantomData;

use serde::{Deserialize, Serialize};
use strake::provider::{CreatedLookup, ProviderError};
use strake::typed::*;

use crate::context::Aws;
use crate::validate::check_bucket_name;

/// The outputs of a bucket's setting: the bucket it belongs to.
#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
pub struct OnBucket {
    /// The bucket's name.
    #[strake(echo)]
    pub bucket: String,
}

/// One kind of bucket setting.
pub(crate) trait BucketSetting: Send + Sync + 'static {
    /// Its inputs, with the bucket's name in a field marked `replace_on`: another bucket is
    /// another setting, and the bucket keeps one of each kind, put in place.
    type Inputs: Schema;
    /// Its type token.
    const TYPE: &'static str;
    /// What it is called in claims and errors: `versioning`.
    const WHAT: &'static str;
    /// The `bucket` field of its inputs.
    const BUCKET: Field<Self::Inputs, String>;

    /// The bucket the inputs name.
    fn bucket(inputs: &Self::Inputs) -> &str;

    /// Checks its own fields (the bucket's name is checked already).
    fn check(_c: &mut Check<Self::Inputs>) {}

    /// Sets the bucket's setting to `inputs` (create and update alike).
    fn put(aws: &Aws, inputs: &Self::Inputs) -> impl Future<Output = Result<(), ProviderError>> + Send;

    /// The bucket's setting now, in the form `declared` (the program's inputs, when known) gives
    /// it: `None` when the bucket has none of this kind (or the bucket is gone).
    fn get(aws: &Aws, bucket: &str, declared: Option<&Self::Inputs>) -> impl Future<Output = Result<Option<Self::Inputs>, ProviderError>> + Send;

    /// Takes the setting off the bucket; a bucket that is gone has none.
    fn remove(aws: &Aws, bucket: &str) -> impl Future<Output = Result<(), ProviderError>> + Send;
}

/// The resource type of a bucket setting of kind `S`.
pub(crate) struct Setting<S>(PhantomData<S>);

impl<S> Setting<S> {
    pub(crate) const fn new() -> Self {
        Setting(PhantomData)
    }
}

impl<S: BucketSetting> ResourceType for Setting<S> {
    type Context = Aws;
    type Inputs = S::Inputs;
    type Outputs = OnBucket;
    const SPEC: Spec = Spec::new(S::TYPE, CreatedLookup::FromInputs);

    fn check(&self, _aws: &Aws, c: &mut Check<S::Inputs>) {
        c.validate(S::BUCKET, |b| check_bucket_name(b));
        S::check(c);
    }

    fn claim(&self, _aws: &Aws, inputs: &Partial<S::Inputs>) -> Option<String> {
        Some(format!("the {} of S3 bucket `{}`", S::WHAT, inputs.known(S::BUCKET)?))
    }

    async fn create(&self, aws: &Aws, req: Create<'_, S::Inputs>) -> Result<Created<OnBucket>, ProviderError> {
        S::put(aws, req.inputs).await?;
        let bucket = S::bucket(req.inputs);
        Ok(Created::new(bucket, OnBucket { bucket: bucket.to_string() }))
    }

    async fn read(&self, aws: &Aws, req: Read<'_, S::Inputs, OnBucket>) -> Result<Option<Observed<S::Inputs, OnBucket>>, ProviderError> {
        let Some(bucket) = req.id.or_else(|| req.inputs.map(S::bucket)) else { return Ok(None) };
        let Some(inputs) = S::get(aws, bucket, req.inputs).await? else { return Ok(None) };
        Ok(Some(Observed::new(bucket, inputs, OnBucket { bucket: bucket.to_string() })))
    }

    async fn update(&self, aws: &Aws, req: Update<'_, S::Inputs, OnBucket>) -> Result<OnBucket, ProviderError> {
        S::put(aws, req.new).await?;
        Ok(OnBucket { bucket: S::bucket(req.new).to_string() })
    }

    async fn delete(&self, aws: &Aws, req: Delete<'_, S::Inputs, OnBucket>) -> Result<(), ProviderError> {
        S::remove(aws, req.id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::s3::{bucket_policy, encryption, public_access_block, versioning};

    fn another_bucket_is_another_setting<S: BucketSetting>() {
        assert!(S::Inputs::RULES.replace_on.contains(&S::BUCKET.name()), "{}: its bucket field is not `replace_on`", S::TYPE);
    }

    #[test]
    fn every_kinds_bucket_field_replaces_the_setting() {
        another_bucket_is_another_setting::<bucket_policy::Policy>();
        another_bucket_is_another_setting::<encryption::Encryption>();
        another_bucket_is_another_setting::<public_access_block::PublicAccessBlock>();
        another_bucket_is_another_setting::<versioning::Versioning>();
    }
}
