//! `aws:s3:BucketPolicy`: the (one) resource policy of a bucket. Its id is the bucket's name.
//!
//! The document is kept in canonical form, so a policy rewritten outside Strake with other
//! ordering, single values for lists or other white space shows no change.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use strake::provider::ProviderError;
use strake::typed::*;
use strake::{Output, Resource, ResourceHandle};

use super::setting::{BucketSetting, OnBucket};
use super::shared::in_bucket_region;
use crate::context::Aws;
use crate::error::{aws_error, found};
use crate::policy::PolicyKind;
use crate::resources::{check_policy, document_from_aws, policy_text};

/// The type token of a bucket policy.
pub const TYPE: &str = "aws:s3:BucketPolicy";

/// The inputs of a bucket policy.
#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
#[strake(handle = BucketPolicy, resource = TYPE)]
pub struct BucketPolicyInputs {
    /// The name of the bucket the policy belongs to (e.g. `bucket.name()`).
    #[strake(new, replace_on)]
    pub bucket: String,
    /// The policy document (e.g. a [`PolicyDocument`](crate::PolicyDocument)), with `Principal`
    /// and `Resource` in each statement.
    #[strake(new, dynamic)]
    pub policy: Json,
}

/// A bucket's policy (replaces any policy the bucket had).
#[derive(Clone, ResourceHandle)]
pub struct BucketPolicy(Resource);

impl BucketPolicy {
    /// The bucket's name.
    pub fn bucket(&self) -> Output<String> {
        self.0.get(OnBucket::BUCKET)
    }
}

/// The bucket policy, as a kind of bucket setting.
pub(crate) struct Policy;

/// Every `Resource` must be the bucket or objects in it (S3 answers "Policy has invalid resource").
fn check_resources(bucket: &str, doc: &Json) -> Vec<String> {
    let mut problems = Vec::new();
    let statements = doc.get("Statement").and_then(Json::as_array).cloned().unwrap_or_default();
    for (i, st) in statements.iter().enumerate() {
        for key in ["Resource", "NotResource"] {
            let Some(Json::Array(items)) = st.get(key) else { continue };
            for r in items.iter().filter_map(Json::as_str) {
                let Some(rest) = r.split_once(":s3:::").map(|(_, rest)| rest) else {
                    if r != "*" {
                        problems.push(format!(
                            "Statement[{i}].{key} `{r}` is not an S3 ARN; a bucket policy may only name `arn:aws:s3:::{bucket}` and `arn:aws:s3:::{bucket}/*`"
                        ));
                    }
                    continue;
                };
                let named = rest.split('/').next().unwrap_or_default();
                if named != bucket && !named.contains(['*', '?']) {
                    problems.push(format!(
                        "Statement[{i}].{key} `{r}` names bucket `{named}`, but this is the policy of `{bucket}`; use `arn:aws:s3:::{bucket}` or `arn:aws:s3:::{bucket}/*`"
                    ));
                }
            }
        }
    }
    problems
}

impl BucketSetting for Policy {
    type Inputs = BucketPolicyInputs;
    const TYPE: &'static str = TYPE;
    const WHAT: &'static str = "policy";
    const BUCKET: Field<BucketPolicyInputs, String> = BucketPolicyInputs::BUCKET;

    fn bucket(inputs: &BucketPolicyInputs) -> &str {
        &inputs.bucket
    }

    fn check(c: &mut Check<BucketPolicyInputs>) {
        check_policy(c, BucketPolicyInputs::POLICY, PolicyKind::Resource);
        if !c.has_failed()
            && let (Some(bucket), Some(doc)) = (c.known(BucketPolicyInputs::BUCKET), c.known(BucketPolicyInputs::POLICY))
        {
            for problem in check_resources(&bucket, &doc) {
                c.fail(BucketPolicyInputs::POLICY, problem);
            }
        }
    }

    async fn put(aws: &Aws, inputs: &BucketPolicyInputs) -> Result<(), ProviderError> {
        let (bucket, policy) = (&inputs.bucket, policy_text(&inputs.policy));
        in_bucket_region(aws, |c| c.put_bucket_policy().bucket(bucket).policy(&policy).send()).await.map(drop).map_err(|e| {
            aws_error("s3:PutBucketPolicy")(e)
                .advise("NoSuchBucket", || format!(" (`{bucket}`: create the bucket first, e.g. pass `bucket.name()` so the policy waits for it)"))
        })
    }

    async fn get(aws: &Aws, bucket: &str, _declared: Option<&BucketPolicyInputs>) -> Result<Option<BucketPolicyInputs>, ProviderError> {
        let got = found(in_bucket_region(aws, |c| c.get_bucket_policy().bucket(bucket).send()).await, "s3:GetBucketPolicy")?;
        let policy = got.and_then(|out| out.policy).filter(|p| !p.trim().is_empty());
        Ok(policy.map(|p| BucketPolicyInputs { bucket: bucket.to_string(), policy: document_from_aws(&p) }))
    }

    async fn remove(aws: &Aws, bucket: &str) -> Result<(), ProviderError> {
        found(in_bucket_region(aws, |c| c.delete_bucket_policy().bucket(bucket).send()).await, "s3:DeleteBucketPolicy").map(drop)
    }
}
