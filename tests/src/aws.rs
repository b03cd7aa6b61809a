//! Helpers for the AWS suites: an engine over moto, SDK clients for independent checks.

use std::sync::Arc;

use strake::{Config, Engine, EngineOptions, Error, Program, RetryPolicy, Stack};
use strake_aws::AwsProvider;
use strake_state::MemoryStore;

use crate::moto::{ACCOUNT_A, ACCOUNT_B, Moto};

/// Asserts that account A's and account B's providers resolve to the expected accounts.
pub async fn assert_identities(moto: &Moto) {
    let (a, arn_a) = moto.account_a().caller_identity().await.expect("account A identity");
    assert_eq!(a, ACCOUNT_A, "account A resolves to {arn_a}");
    let (b, arn_b) = moto.account_b().caller_identity().await.expect("account B identity");
    assert_eq!(b, ACCOUNT_B, "account B resolves to {arn_b}");
    assert!(arn_b.contains(":assumed-role/strake-deployer/"), "{arn_b}");
}

/// An engine with in-memory state and quick retries.
pub fn engine() -> Engine {
    let options = EngineOptions { retry: RetryPolicy::fast(), ..Default::default() };
    Engine::new(Arc::new(MemoryStore::new())).with_options(options)
}

/// Builds a program on stack `aws-test`.
#[allow(clippy::result_large_err)]
pub fn program(f: impl FnOnce(&Stack) -> Result<(), Error>) -> Program {
    Program::build("aws-test", Config::default(), f).expect("the program builds")
}

/// An IAM client for account B, for checking what Strake did.
pub async fn iam_b(moto: &Moto) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(&moto.account_b().sdk_config().await)
}

/// An S3 client for account B (path-style, as with any custom endpoint).
pub async fn s3_b(moto: &Moto) -> aws_sdk_s3::Client {
    let sdk = moto.account_b().sdk_config().await;
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build())
}

/// The provider for account B declared on a stack.
pub fn provider_b(stack: &Stack, moto: &Moto) -> strake::ProviderRef {
    stack.provider("account-b", moto.account_b())
}

/// Unused-provider guard: keeps `AwsProvider` in the public surface of the harness.
pub fn account_a(moto: &Moto) -> AwsProvider {
    moto.account_a()
}
