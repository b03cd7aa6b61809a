//! `aws:sts:CallerIdentity`: a data source with the account, ARN and user id the provider's
//! credentials resolve to (resolved when the provider is configured; no extra call).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use strake::provider::ProviderError;
use strake::typed::*;
use strake::{Output, ProviderRef, Resource, ResourceHandle, Stack};

use crate::context::Aws;

pub const TYPE: &str = "aws:sts:CallerIdentity";

/// A caller identity lookup takes no inputs.
#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
pub struct NoInputs {}

/// Who the credentials are.
#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
pub struct Identity {
    /// The 12-digit account id.
    pub account_id: String,
    pub arn: String,
    pub user_id: String,
}

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
        self.0.get(Identity::ACCOUNT_ID)
    }

    pub fn arn(&self) -> Output<String> {
        self.0.get(Identity::ARN)
    }

    pub fn user_id(&self) -> Output<String> {
        self.0.get(Identity::USER_ID)
    }
}

impl ResourceHandle for CallerIdentity {
    fn resource(&self) -> &Resource {
        &self.0
    }
}

pub(crate) struct CallerIdentityType;

#[async_trait]
impl DataSourceType for CallerIdentityType {
    type Context = Aws;
    type Inputs = NoInputs;
    type Outputs = Identity;
    const TYPE: &'static str = TYPE;

    async fn read(&self, aws: &Aws, _inputs: &NoInputs) -> Result<Option<Found<Identity>>, ProviderError> {
        let c = &aws.caller;
        Ok(Some(Found::new(c.account.clone(), Identity { account_id: c.account.clone(), arn: c.arn.clone(), user_id: c.user_id.clone() })))
    }
}
