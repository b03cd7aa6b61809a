//! `aws:s3:BucketPolicy`: the (one) resource policy of a bucket. Its id is the bucket's name.
//!
//! The document is kept in canonical form, so a policy rewritten outside Strake with other
//! ordering, single values for lists or other white space shows no change.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use strake::provider::{CreatedLookup, ProviderError};
use strake::typed::*;
use strake::{Output, ProviderRef, Resource, ResourceHandle, Stack, Value};

use super::shared::in_bucket_region;
use crate::context::Aws;
use crate::error::{AwsFailure, aws_error};
use crate::policy::PolicyKind;
use crate::resources::{check_policy, document_from_aws, policy_text};
use crate::validate::check_bucket_name;

pub const TYPE: &str = "aws:s3:BucketPolicy";

/// The inputs of a bucket policy.
#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
pub struct BucketPolicyInputs {
    /// The name of the bucket the policy belongs to.
    pub bucket: String,
    /// The policy document (statements with Principal, Action and Resource).
    pub policy: Json,
}

/// The outputs of a bucket policy.
#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
pub struct BucketPolicyOutputs {
    pub bucket: String,
}

/// A bucket's policy (replaces any policy the bucket had).
#[derive(Clone)]
pub struct BucketPolicy(Resource);

impl BucketPolicy {
    /// `bucket` is the bucket's name (e.g. `bucket.name()`); `policy` a document (e.g. a
    /// [`PolicyDocument`](crate::PolicyDocument)) with `Principal` and `Resource` in each statement.
    #[track_caller]
    pub fn new(stack: &Stack, name: &str, provider: &ProviderRef, bucket: impl Into<Output<String>>, policy: impl Into<Output<Value>>) -> BucketPolicy {
        let r = stack.resource(TYPE, name);
        r.set(BucketPolicyInputs::BUCKET, bucket);
        r.set_value(BucketPolicyInputs::POLICY, policy);
        BucketPolicy(r.provider(provider))
    }

    pub fn bucket(&self) -> Output<String> {
        self.0.get(BucketPolicyOutputs::BUCKET)
    }
}

impl ResourceHandle for BucketPolicy {
    fn resource(&self) -> &Resource {
        &self.0
    }
}

pub(crate) struct BucketPolicyType;

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

async fn put(aws: &Aws, bucket: &str, policy: &str) -> Result<(), ProviderError> {
    in_bucket_region(aws, |c| c.put_bucket_policy().bucket(bucket).policy(policy).send()).await.map(drop).map_err(|e| {
        let mut err = aws_error("s3:PutBucketPolicy")(e);
        if err.code.as_deref() == Some("NoSuchBucket") {
            err.message.push_str(&format!(" (`{bucket}`: create the bucket first, e.g. pass `bucket.name()` so the policy waits for it)"));
        }
        err
    })
}

#[async_trait]
impl ResourceType for BucketPolicyType {
    type Context = Aws;
    type Inputs = BucketPolicyInputs;
    type Outputs = BucketPolicyOutputs;
    const SPEC: Spec = Spec::new(TYPE, CreatedLookup::FromInputs).replace_on(&[BucketPolicyInputs::BUCKET.name()]);

    fn check(&self, _aws: &Aws, c: &mut Check<BucketPolicyInputs>) {
        c.validate(BucketPolicyInputs::BUCKET, |b| check_bucket_name(b));
        check_policy(c, BucketPolicyInputs::POLICY, PolicyKind::Resource);
        if !c.has_failed()
            && let (Some(bucket), Some(doc)) = (c.known(BucketPolicyInputs::BUCKET), c.known(BucketPolicyInputs::POLICY))
        {
            for problem in check_resources(&bucket, &doc) {
                c.fail(BucketPolicyInputs::POLICY, problem);
            }
        }
    }

    fn preview(&self, _aws: &Aws, inputs: &Partial<BucketPolicyInputs>, _prior: Option<&Partial<BucketPolicyOutputs>>) -> Option<Partial<BucketPolicyOutputs>> {
        let bucket = inputs.known(BucketPolicyInputs::BUCKET)?;
        Some(Partial::from_typed(&BucketPolicyOutputs { bucket }))
    }

    fn claim(&self, _aws: &Aws, inputs: &Partial<BucketPolicyInputs>) -> Option<String> {
        Some(format!("the policy of S3 bucket `{}`", inputs.known(BucketPolicyInputs::BUCKET)?))
    }

    async fn create(&self, aws: &Aws, req: Create<'_, BucketPolicyInputs>) -> Result<Created<BucketPolicyOutputs>, ProviderError> {
        let bucket = &req.inputs.bucket;
        put(aws, bucket, &policy_text(&req.inputs.policy)).await?;
        Ok(Created::new(bucket.clone(), BucketPolicyOutputs { bucket: bucket.clone() }))
    }

    async fn read(
        &self,
        aws: &Aws,
        req: Read<'_, BucketPolicyInputs, BucketPolicyOutputs>,
    ) -> Result<Option<Observed<BucketPolicyInputs, BucketPolicyOutputs>>, ProviderError> {
        let Some(bucket) = req.id.map(str::to_string).or_else(|| req.inputs.map(|i| i.bucket.clone())) else { return Ok(None) };
        let policy = match in_bucket_region(aws, |c| c.get_bucket_policy().bucket(&bucket).send()).await {
            Ok(out) => out.policy.unwrap_or_default(),
            Err(e) => {
                let f = AwsFailure::from(e);
                if f.is_not_found() {
                    return Ok(None);
                }
                return Err(f.into_error("s3:GetBucketPolicy"));
            }
        };
        if policy.trim().is_empty() {
            return Ok(None);
        }
        let inputs = BucketPolicyInputs { bucket: bucket.clone(), policy: document_from_aws(&policy) };
        Ok(Some(Observed::new(bucket.clone(), inputs, BucketPolicyOutputs { bucket })))
    }

    async fn update(&self, aws: &Aws, req: Update<'_, BucketPolicyInputs, BucketPolicyOutputs>) -> Result<BucketPolicyOutputs, ProviderError> {
        put(aws, req.id, &policy_text(&req.new.policy)).await?;
        Ok(BucketPolicyOutputs { bucket: req.id.to_string() })
    }

    async fn delete(&self, aws: &Aws, req: Delete<'_, BucketPolicyInputs, BucketPolicyOutputs>) -> Result<(), ProviderError> {
        match in_bucket_region(aws, |c| c.delete_bucket_policy().bucket(req.id).send()).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let f = AwsFailure::from(e);
                if f.is_not_found() { Ok(()) } else { Err(f.into_error("s3:DeleteBucketPolicy")) }
            }
        }
    }
}
