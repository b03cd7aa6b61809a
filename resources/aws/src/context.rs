//! What every AWS resource type works with: one configured account's service clients, its
//! identity and region ([`Aws`], the typed provider's context).

use aws_config::SdkConfig;
use aws_sdk_iam::config::retry::RetryPartition;
use futures::future::BoxFuture;
use strake::provider::{ProviderError, Target};
use strake::typed::ProviderContext;

use crate::attempts::{WatchAttempts, watched};

/// Service clients of one configured account.
pub(crate) struct Clients {
    pub iam: aws_sdk_iam::Client,
    pub s3: aws_sdk_s3::Client,
    pub eks: aws_sdk_eks::Client,
    pub sts: aws_sdk_sts::Client,
}

impl Clients {
    /// The service clients, each watching its attempts, sharing one retry partition.
    pub(crate) fn new(sdk: &SdkConfig, partition: &RetryPartition) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(sdk.endpoint_url().is_some())
            .interceptor(WatchAttempts)
            .retry_partition(partition.clone())
            .build();
        let iam = aws_sdk_iam::config::Builder::from(sdk).interceptor(WatchAttempts).retry_partition(partition.clone()).build();
        let eks = aws_sdk_eks::config::Builder::from(sdk).interceptor(WatchAttempts).retry_partition(partition.clone()).build();
        let sts = aws_sdk_sts::config::Builder::from(sdk).interceptor(WatchAttempts).retry_partition(partition.clone()).build();
        Clients {
            iam: aws_sdk_iam::Client::from_conf(iam),
            s3: aws_sdk_s3::Client::from_conf(s3),
            eks: aws_sdk_eks::Client::from_conf(eks),
            sts: aws_sdk_sts::Client::from_conf(sts),
        }
    }
}

/// Who the credentials are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CallerIdentity {
    pub account: String,
    pub arn: String,
    pub user_id: String,
}

/// A configured AWS provider: one account's clients and identity.
pub(crate) struct Aws {
    pub clients: Clients,
    pub caller: CallerIdentity,
    pub region: String,
    /// The endpoint override, if any (an emulator, a VPC endpoint).
    pub endpoint: Option<String>,
    /// The account's buckets, listed on first need (see `s3::shared`).
    pub buckets: tokio::sync::Mutex<Option<crate::resources::s3::shared::BucketListing>>,
}

impl Aws {
    /// The partition of the configured account (`aws`, `aws-cn`, ...), from the caller's ARN.
    pub(crate) fn partition(&self) -> &str {
        self.caller.arn.split(':').nth(1).filter(|p| !p.is_empty()).unwrap_or("aws")
    }

    /// `arn:<partition>:iam::<account>:<resource>` for the configured account.
    pub(crate) fn iam_arn(&self, resource: &str) -> String {
        format!("arn:{}:iam::{}:{resource}", self.partition(), self.caller.account)
    }
}

impl ProviderContext for Aws {
    fn target(&self) -> Option<Target> {
        let endpoint = self.endpoint.as_deref().map(|e| format!(", endpoint {e}")).unwrap_or_default();
        Some(Target {
            description: format!("account {} as {}, region {}{endpoint}", self.caller.account, self.caller.arn, self.region),
            destination: Some(format!("AWS account {}, region {}", self.caller.account, self.region)),
        })
    }

    /// Every operation watches its API calls' attempts (see `attempts`).
    fn scope<'a, T: Send + 'a>(&'a self, operation: BoxFuture<'a, Result<T, ProviderError>>) -> BoxFuture<'a, Result<T, ProviderError>> {
        Box::pin(watched(operation))
    }
}
