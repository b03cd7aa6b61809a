//! `aws:sts:CallerIdentity`: a data source with the account, ARN and user id the provider's
//! credentials resolve to (resolved when the provider is configured; no extra call).

use async_trait::async_trait;
use strake::provider::*;
use strake::{Output, ProviderRef, Resource, ResourceHandle, Stack, Value};

use crate::provider::Aws;
use crate::resources::*;

pub const TYPE: &str = "aws:sts:CallerIdentity";

/// Who a provider configuration's credentials are.
#[derive(Clone)]
pub struct CallerIdentity(Resource);

impl CallerIdentity {
    #[track_caller]
    pub fn get(stack: &Stack, name: &str, provider: &ProviderRef) -> CallerIdentity {
        CallerIdentity(stack.data_source(TYPE, name).provider(provider))
    }

    /// The 12-digit account id.
    pub fn account_id(&self) -> Output<String> {
        self.0.output_string("account_id")
    }

    pub fn arn(&self) -> Output<String> {
        self.0.output_string("arn")
    }

    pub fn user_id(&self) -> Output<String> {
        self.0.output_string("user_id")
    }
}

impl ResourceHandle for CallerIdentity {
    fn resource(&self) -> &Resource {
        &self.0
    }
}

pub(crate) struct CallerIdentityType;

#[async_trait]
impl AwsResource for CallerIdentityType {
    fn check(&self, _aws: &Aws, req: CheckRequest) -> CheckResponse {
        let mut failures = Vec::new();
        if let Value::Map(m) = &req.inputs {
            for key in m.keys() {
                failures.push(CheckFailure::new(key.clone(), "unknown property; CallerIdentity takes no inputs"));
            }
        }
        CheckResponse { inputs: req.inputs, failures, warnings: Vec::new() }
    }

    async fn create(&self, _aws: &Aws, _req: CreateRequest) -> Result<CreateResponse, ProviderError> {
        Err(read_only(TYPE))
    }

    async fn read(&self, aws: &Aws, _req: ReadRequest) -> Result<ReadResponse, ProviderError> {
        let c = &aws.caller;
        let outputs = Value::from_pairs([
            ("account_id", Value::from(c.account.as_str())),
            ("arn", Value::from(c.arn.as_str())),
            ("user_id", Value::from(c.user_id.as_str())),
        ]);
        Ok(ReadResponse::Found { id: c.account.clone(), inputs: Value::map(), outputs })
    }

    async fn update(&self, _aws: &Aws, _req: UpdateRequest) -> Result<UpdateResponse, ProviderError> {
        Err(read_only(TYPE))
    }

    async fn delete(&self, _aws: &Aws, _req: DeleteRequest) -> Result<(), ProviderError> {
        Err(read_only(TYPE))
    }
}
