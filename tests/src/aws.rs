//! Helpers for the AWS suites: an engine over moto, programs with account B's provider, the
//! policy documents the suites keep writing, SDK clients for independent checks.

use std::sync::Arc;

use aws_config::SdkConfig;
use strake::{Config, Engine, EngineOptions, Error, Output, Program, ProviderRef, RetryPolicy, Stack, Urn};
use strake_aws::{AwsProvider, PolicyDocument, Statement};
use strake_state::MemoryStore;

use crate::moto::{Moto, assert_accounts};

/// The stack of every program built here.
pub const STACK: &str = "aws-test";

/// The URN of the resource of type `type_token` named `name` in [`STACK`].
pub fn urn(type_token: &str, name: &str) -> Urn {
    Urn::new(STACK, type_token, name)
}

/// Asserts that account A's and account B's providers resolve to the expected accounts.
pub async fn assert_identities(moto: &Moto) {
    assert_accounts(&moto.account_a(), &moto.account_b(), "").await;
}

/// An engine with in-memory state and quick retries.
pub fn engine() -> Engine {
    let options = EngineOptions { retry: RetryPolicy::fast(), ..Default::default() };
    Engine::new(Arc::new(MemoryStore::new())).with_options(options)
}

/// Builds a program on stack [`STACK`].
#[allow(clippy::result_large_err)]
pub fn program(f: impl FnOnce(&Stack) -> Result<(), Error>) -> Program {
    Program::build(STACK, Config::default(), f).expect("the program builds")
}

/// Builds a program on stack [`STACK`] whose provider `account-b` is `account_b` (moto's account
/// B directly, or through a proxy), then `f` with it.
pub fn program_b(account_b: AwsProvider, f: impl FnOnce(&Stack, &ProviderRef)) -> Program {
    program(|stack| {
        let b = stack.provider("account-b", account_b);
        f(stack, &b);
        Ok(())
    })
}

/// An IAM client for account B, for checking what Strake did.
pub async fn iam_b(moto: &Moto) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(&moto.account_b().sdk_config().await)
}

/// An S3 client for account B (path-style, as with any custom endpoint).
pub async fn s3_b(moto: &Moto) -> aws_sdk_s3::Client {
    s3_client(&moto.account_b().sdk_config().await)
}

/// An S3 client for `sdk`'s account, path-style (as with any custom endpoint).
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build())
}

/// The provider for account B declared on a stack.
pub fn provider_b(stack: &Stack, moto: &Moto) -> strake::ProviderRef {
    stack.provider("account-b", moto.account_b())
}

/// Unused-provider guard: keeps `AwsProvider` in the public surface of the harness.
pub fn account_a(moto: &Moto) -> AwsProvider {
    moto.account_a()
}

/// A trust policy letting the AWS principal `principal` (an account's root, a role's ARN) assume
/// the role.
pub fn trust_aws(principal: impl Into<Output<String>>) -> PolicyDocument {
    PolicyDocument::new().statement(Statement::allow().actions(["sts:AssumeRole"]).principal("AWS", principal))
}

/// A trust policy letting the AWS service `service` (`ec2.amazonaws.com`, ...) assume the role.
pub fn trust_service(service: &str) -> PolicyDocument {
    PolicyDocument::new().statement(Statement::allow().actions(["sts:AssumeRole"]).principal("Service", service))
}

/// A policy allowing `action` on every resource.
pub fn allow(action: &str) -> PolicyDocument {
    allow_on(action, "*")
}

/// A policy allowing `action` on `resource`.
pub fn allow_on(action: &str, resource: &str) -> PolicyDocument {
    PolicyDocument::new().statement(Statement::allow().actions([action]).resources([resource]))
}
