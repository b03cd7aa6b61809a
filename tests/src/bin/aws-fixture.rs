//! A Strake program on IAM, used by the kill suites (`tests/tests/aws_kills.rs`): `roles` roles,
//! each with two managed policies attached, all shaped by configuration.
//!
//! - `endpoint`: where AWS is (the tests' fault proxy in front of moto); static credentials
//!   `testing`/`testing`, us-east-1, pinned to moto's default account. Without it, the standard
//!   AWS environment (`AWS_ENDPOINT_URL`, credentials, `AWS_REGION`).
//! - `profile`: an AWS profile to use instead; `account`: the account to pin it to.
//! - `roles` (default 1): how many roles; role `i` is resource `role-<i>` named `<prefix>-<i>`.
//! - `prefix` (default `app`): changing it renames every role, a create-then-delete replacement
//!   of the roles and of their attachments.
//! - `path` (default `/`): changing it moves every role under the same name, a delete-then-create
//!   replacement whose attachments must go before the old role.
//!
//! - `get` (default `s3:GetObject`): the action of the `get` policies (`s3:Get*` widens them),
//!   for the access-changes tests (`tests/tests/access_plan.rs`).
//! - `inline` (default `false`): each role also has an inline policy `list`, which goes with its
//!   role: replaced when the role is, deleted before it.
//! - `oidc` (default `false`): an IAM OIDC provider for [`OIDC_ISSUER`] too, found again by its
//!   URL after an interrupted create.
//! - `bucket` (default `false`): an S3 bucket [`BUCKET`] too (emptied on destroy), with its
//!   public access blocked, versioning on and an object `hello.txt` (deleted with its versions).
//!
//! Policy names (`kill-<i>-get`, `kill-<i>-put`) depend on neither, so only roles, their
//! attachments and their inline policies are ever replaced.

use std::time::Duration;

use strake::prelude::*;
use strake_aws::iam::{OpenIdConnectProvider, Policy, Role, RolePolicy, RolePolicyAttachment};
use strake_aws::s3::{Bucket, BucketPublicAccessBlock, BucketVersioning, Object};
use strake_aws::{AwsProvider, PolicyDocument, Statement};

/// The issuer of the fixture's OIDC provider (`oidc=true`).
const OIDC_ISSUER: &str = "https://oidc.eks.us-east-1.amazonaws.com/id/KILLTEST";
/// The fixture's bucket (`bucket=true`).
const BUCKET: &str = "strake-kill-fixture";

fn main() -> std::process::ExitCode {
    strake::run("aws-fixture", |stack| {
        let config = stack.config();
        let mut aws = AwsProvider::new().retries(6, Duration::from_millis(10));
        if let Some(endpoint) = config.get("endpoint") {
            aws = aws.endpoint(endpoint).region("us-east-1").static_credentials("testing", "testing").expect_account("123456789012");
        }
        if let Some(profile) = config.get("profile") {
            aws = aws.profile(profile);
        }
        if let Some(account) = config.get("account") {
            aws = aws.expect_account(account);
        }
        let aws = stack.provider("aws", aws);
        let roles: usize = config.get_or("roles", "1").parse().map_err(|_| Error::Config("roles must be a number".into()))?;
        let (prefix, path) = (config.get_or("prefix", "app"), config.get_or("path", "/"));
        let get = config.get_or("get", "s3:GetObject");
        let inline = config.get_or("inline", "false") == "true";
        if config.get_or("oidc", "false") == "true" {
            OpenIdConnectProvider::new(stack, "issuer", &aws, OIDC_ISSUER);
        }
        if config.get_or("bucket", "false") == "true" {
            let bucket = Bucket::new(stack, "bucket", &aws, BUCKET).force_destroy(true);
            BucketPublicAccessBlock::new(stack, "private", &aws, bucket.name());
            let versioning = BucketVersioning::new(stack, "versioning", &aws, bucket.name());
            Object::new(stack, "hello", &aws, bucket.name(), "hello.txt").content("hello").depends_on(&versioning);
        }
        let trust = PolicyDocument::new().statement(Statement::allow().actions(["sts:AssumeRole"]).principal("Service", "ec2.amazonaws.com"));
        for i in 0..roles {
            let role = Role::new(stack, &format!("role-{i}"), &aws, &trust).role_name(format!("{prefix}-{i}")).path(&path);
            for (short, action) in [("get", get.as_str()), ("put", "s3:PutObject")] {
                let doc = PolicyDocument::new().statement(Statement::allow().actions([action.to_string()]).resources(["*"]));
                let policy = Policy::new(stack, &format!("{short}-{i}"), &aws, doc).policy_name(format!("kill-{i}-{short}"));
                RolePolicyAttachment::new(stack, &format!("{short}-{i}-attach"), &aws, role.name(), policy.arn());
            }
            if inline {
                let doc = PolicyDocument::new().statement(Statement::allow().actions(["s3:ListBucket"]).resources(["*"]));
                RolePolicy::new(stack, &format!("list-{i}"), &aws, role.name(), doc).policy_name("list");
            }
        }
        Ok(())
    })
}
