//! `aws:sts:CallerIdentity`: a data source with the account, ARN and user id the provider's
//! credentials resolve to (resolved when the provider is configured; no extra call).

use serde::{Deserialize, Serialize};
use strake::provider::ProviderError;
use strake::typed::*;
use strake::{ProviderRef, Resource, ResourceHandle, Stack};

use crate::context::Aws;

/// The type token of the caller identity data source.
pub const TYPE: &str = "aws:sts:CallerIdentity";

/// A caller identity lookup takes no inputs.
#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
pub struct NoInputs {}

/// Who the credentials are.
#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
#[strake(handle = CallerIdentity)]
pub struct Identity {
    /// The 12-digit account id.
    #[strake(get)]
    pub account_id: String,
    /// The ARN of the caller (a user or an assumed-role session).
    #[strake(get)]
    pub arn: String,
    /// The caller's unique id.
    #[strake(get)]
    pub user_id: String,
}

/// Who a provider configuration's credentials are.
#[derive(Clone, ResourceHandle)]
pub struct CallerIdentity(Resource);

impl CallerIdentity {
    /// Reads who `provider`'s credentials are, at plan time.
    #[track_caller]
    pub fn get(stack: &Stack, name: &str, provider: &ProviderRef) -> CallerIdentity {
        CallerIdentity(stack.data_source(TYPE, name).provider(provider))
    }
}

pub(crate) struct CallerIdentityType;

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
