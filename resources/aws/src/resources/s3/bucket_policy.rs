//! `aws:s3:BucketPolicy`: the (one) resource policy of a bucket. Its id is the bucket's name.
//!
//! The document is kept in canonical form, so a policy rewritten outside Strake with other
//! ordering, single values for lists or other white space shows no change.

use async_trait::async_trait;
use serde_json::Value as Json;
use strake::provider::*;
use strake::{Output, ProviderRef, Resource, ResourceHandle, Stack, Value};

use super::shared::in_bucket_region;
use crate::error::{AwsFailure, aws_error};
use crate::policy::PolicyKind;
use crate::provider::Aws;
use crate::resources::*;
use crate::validate::check_bucket_name;

pub const TYPE: &str = "aws:s3:BucketPolicy";

/// A bucket's policy (replaces any policy the bucket had).
#[derive(Clone)]
pub struct BucketPolicy(Resource);

impl BucketPolicy {
    /// `bucket` is the bucket's name (e.g. `bucket.name()`); `policy` a document (e.g. a
    /// [`PolicyDocument`](crate::PolicyDocument)) with `Principal` and `Resource` in each statement.
    #[track_caller]
    pub fn new(stack: &Stack, name: &str, provider: &ProviderRef, bucket: impl Into<Output<String>>, policy: impl Into<Output<Value>>) -> BucketPolicy {
        let r = stack.resource(TYPE, name);
        r.set_input("bucket", bucket.into());
        r.set_input("policy", policy);
        BucketPolicy(r.provider(provider))
    }

    pub fn bucket(&self) -> Output<String> {
        self.0.output_string("bucket")
    }
}

impl ResourceHandle for BucketPolicy {
    fn resource(&self) -> &Resource {
        &self.0
    }
}

pub(crate) struct BucketPolicyType;

fn outputs(bucket: &str) -> Value {
    Value::from_pairs([("bucket", Value::from(bucket))])
}

/// Every `Resource` must be the bucket or objects in it (S3 answers "Policy has invalid resource").
fn check_resources(bucket: &str, doc: &Json, failures: &mut Vec<CheckFailure>) {
    let statements = doc.get("Statement").and_then(Json::as_array).cloned().unwrap_or_default();
    for (i, st) in statements.iter().enumerate() {
        for key in ["Resource", "NotResource"] {
            let Some(Json::Array(items)) = st.get(key) else { continue };
            for r in items.iter().filter_map(Json::as_str) {
                let Some(rest) = r.split_once(":s3:::").map(|(_, rest)| rest) else {
                    if r != "*" {
                        failures.push(CheckFailure::new(
                            "policy",
                            format!("Statement[{i}].{key} `{r}` is not an S3 ARN; a bucket policy may only name `arn:aws:s3:::{bucket}` and `arn:aws:s3:::{bucket}/*`"),
                        ));
                    }
                    continue;
                };
                let named = rest.split('/').next().unwrap_or_default();
                if named != bucket && !named.contains(['*', '?']) {
                    failures.push(CheckFailure::new(
                        "policy",
                        format!("Statement[{i}].{key} `{r}` names bucket `{named}`, but this is the policy of `{bucket}`; use `arn:aws:s3:::{bucket}` or `arn:aws:s3:::{bucket}/*`"),
                    ));
                }
            }
        }
    }
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
impl AwsResource for BucketPolicyType {
    fn check(&self, _aws: &Aws, req: CheckRequest) -> CheckResponse {
        let mut inputs = req.inputs;
        let mut failures = Vec::new();
        require(&inputs, "bucket", "the name of the bucket the policy belongs to", &mut failures);
        check_str(&inputs, "bucket", &mut failures, check_bucket_name);
        require(&inputs, "policy", "the policy document (statements with Principal, Action and Resource)", &mut failures);
        let mut warnings = Vec::new();
        check_policy(&mut inputs, "policy", PolicyKind::Resource, &mut failures, &mut warnings);
        if failures.is_empty()
            && let (Some(bucket), Some(doc)) = (known_str(&inputs, "bucket"), known_json(&inputs, "policy"))
        {
            check_resources(bucket, &doc, &mut failures);
        }
        CheckResponse { inputs, failures, warnings }
    }

    fn diff(&self, req: DiffRequest) -> DiffResponse {
        let changes = strake::diff::changed_properties(&req.old_inputs, &req.new_inputs);
        let replaces = changes.iter().filter(|c| *c == "bucket").cloned().collect();
        DiffResponse { changes, replaces, delete_before_replace: false }
    }

    fn preview(&self, _aws: &Aws, req: PreviewRequest) -> Value {
        known_str(&req.inputs, "bucket").map(outputs).unwrap_or(Value::Unknown)
    }

    async fn create(&self, aws: &Aws, req: CreateRequest) -> Result<CreateResponse, ProviderError> {
        let bucket = known_str(&req.inputs, "bucket").unwrap_or_default();
        put(aws, bucket, &document_text(&req.inputs, "policy").unwrap_or_default()).await?;
        Ok(CreateResponse { id: bucket.to_string(), outputs: outputs(bucket) })
    }

    async fn read(&self, aws: &Aws, req: ReadRequest) -> Result<ReadResponse, ProviderError> {
        let Some(bucket) = req.id.clone().or_else(|| known_str(&req.inputs, "bucket").map(str::to_string)) else {
            return Ok(ReadResponse::Gone);
        };
        let policy = match in_bucket_region(aws, |c| c.get_bucket_policy().bucket(&bucket).send()).await {
            Ok(out) => out.policy.unwrap_or_default(),
            Err(e) => {
                let f = AwsFailure::from(e);
                if f.is_not_found() {
                    return Ok(ReadResponse::Gone);
                }
                return Err(f.into_error("s3:GetBucketPolicy"));
            }
        };
        if policy.trim().is_empty() {
            return Ok(ReadResponse::Gone);
        }
        let inputs = Value::from_pairs([("bucket", Value::from(bucket.as_str())), ("policy", document_from_aws(&policy))]);
        Ok(ReadResponse::Found { id: bucket.clone(), inputs, outputs: outputs(&bucket) })
    }

    async fn update(&self, aws: &Aws, req: UpdateRequest) -> Result<UpdateResponse, ProviderError> {
        put(aws, &req.id, &document_text(&req.new_inputs, "policy").unwrap_or_default()).await?;
        Ok(UpdateResponse { outputs: outputs(&req.id) })
    }

    async fn delete(&self, aws: &Aws, req: DeleteRequest) -> Result<(), ProviderError> {
        match in_bucket_region(aws, |c| c.delete_bucket_policy().bucket(&req.id).send()).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let f = AwsFailure::from(e);
                if f.is_not_found() { Ok(()) } else { Err(f.into_error("s3:DeleteBucketPolicy")) }
            }
        }
    }
}
