//! The cross-account IRSA walkthrough as one program.
//!
//! A pod in account A's EKS cluster reads `s3://<bucket>/test.txt` in account B: account B gets an
//! IAM OIDC provider for the cluster's issuer, a role that trusts exactly one service account
//! through it, and an S3 read policy; the cluster gets the service account annotated with the
//! role and a test Deployment running under it. `main.rs` adds `verify`, which proves the chain.

use strake::prelude::*;
use strake::{Config, ProviderRef};
use strake_aws::iam::{OpenIdConnectProvider, Policy, Role, RolePolicyAttachment};
use strake_aws::{AwsProvider, PolicyDocument, eks, s3};
use strake_irsa::IrsaRoleOf;
use strake_irsa::component::{AUDIENCE, web_identity_trust};
use strake_kubernetes::{Deployment, KubernetesProvider, Namespace, ServiceAccount};

/// The stack's name.
pub const STACK: &str = "cross-account-irsa";

/// What the program is configured with (`Strake.toml`, `--config key=value`).
#[derive(Debug, Clone)]
pub struct Settings {
    pub cluster: String,
    pub region: String,
    pub namespace: String,
    pub service_account: String,
    /// The service account the role's trust names; the same as `service_account` unless a test
    /// breaks it on purpose (`--config app.trust_service_account=...`).
    pub trust_service_account: String,
    pub role_name: String,
    pub policy_name: String,
    pub bucket: String,
    pub create_bucket: bool,
    pub account_b: AwsProvider,
}

/// The configuration keys, as `Strake.toml` and `--config` set them (typed: a misspelt key or a
/// value of the wrong type is an error that names it).
#[derive(Debug, serde::Deserialize)]
struct Keys {
    /// Account A's EKS cluster.
    #[serde(default = "defaults::cluster")]
    cluster: String,
    #[serde(default = "defaults::region")]
    region: String,
    account_b: AccountB,
    app: App,
}

/// How Strake reaches account B: a role to assume with account A's credentials, or a profile.
#[derive(Debug, serde::Deserialize)]
struct AccountB {
    role_arn: Option<String>,
    profile: Option<String>,
    region: Option<String>,
    /// Fail at plan time unless the credentials land in this account.
    account_id: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
struct App {
    #[serde(default = "defaults::namespace")]
    namespace: String,
    #[serde(default = "defaults::service_account")]
    service_account: String,
    trust_service_account: Option<String>,
    #[serde(default = "defaults::role_name")]
    role_name: String,
    #[serde(default = "defaults::policy_name")]
    policy_name: String,
    bucket: String,
    #[serde(default = "defaults::create_bucket")]
    create_bucket: bool,
}

mod defaults {
    pub fn cluster() -> String {
        "demo".into()
    }
    pub fn region() -> String {
        "us-east-1".into()
    }
    pub fn namespace() -> String {
        "default".into()
    }
    pub fn service_account() -> String {
        "s3-sa".into()
    }
    pub fn role_name() -> String {
        "s3".into()
    }
    pub fn policy_name() -> String {
        "s3_read".into()
    }
    pub fn create_bucket() -> bool {
        true
    }
}

impl Settings {
    pub fn from_config(cfg: &Config) -> Result<Settings, Error> {
        let keys: Keys = cfg.parse()?;
        let account_b = match (&keys.account_b.profile, &keys.account_b.role_arn) {
            (Some(profile), None) => AwsProvider::new().profile(profile),
            (None, Some(role)) => AwsProvider::new().assume_role(role).session_name("strake"),
            (Some(_), Some(_)) => {
                return Err(Error::Config("set one of `account_b.role_arn` and `account_b.profile`, not both".into()));
            }
            (None, None) => {
                return Err(Error::Config(
                    "missing configuration: how to reach account B; set `account_b.role_arn` (a role to assume with account A's \
                     credentials) or `account_b.profile`"
                        .into(),
                ));
            }
        };
        let mut account_b = account_b.region(keys.account_b.region.as_deref().unwrap_or(&keys.region));
        if let Some(account) = &keys.account_b.account_id {
            account_b = account_b.expect_account(account);
        }
        let app = keys.app;
        Ok(Settings {
            cluster: keys.cluster,
            namespace: app.namespace,
            trust_service_account: app.trust_service_account.unwrap_or_else(|| app.service_account.clone()),
            service_account: app.service_account,
            role_name: app.role_name,
            policy_name: app.policy_name,
            bucket: app.bucket,
            create_bucket: app.create_bucket,
            region: keys.region,
            account_b,
        })
    }
}

/// Declares the whole scenario on `stack`.
pub fn declare(stack: &Stack) -> Result<(), Error> {
    let s = Settings::from_config(&stack.config())?;

    // Account A holds the cluster; its credentials come from the standard AWS environment.
    let account_a = stack.provider("account-a", AwsProvider::new().region(&s.region));
    // Account B holds the bucket and the role; Strake reaches it as configured (assumed role or profile).
    let account_b = stack.provider("account-b", s.account_b.clone());
    // The cluster from KUBECONFIG (or, on EKS, `KubernetesProvider::from_eks(...)` with `cluster`'s outputs).
    let kube = stack.provider("cluster", KubernetesProvider::from_kubeconfig());

    // "We assume we have a file test.txt within a bucket in account B": made here, so the demo is
    // self-contained (or an existing bucket with `app.create_bucket = "false"`).
    let bucket = bucket_in_b(stack, &account_b, &s);

    // Step 1: the IAM OIDC provider in account B for cluster A's issuer, read from EKS at plan time.
    let cluster = eks::Cluster::lookup(stack, "cluster", &account_a, s.cluster.clone());
    let oidc = OpenIdConnectProvider::new(stack, "oidc-issuer", &account_b, cluster.oidc_issuer_url()).client_ids([AUDIENCE]);

    // Step 2: the role trusting exactly one service account through that provider (`sub` and
    // `aud` conditions built from the provider's issuer and the service account below), the S3
    // read policy, and the attachment.
    let namespace = if s.namespace == "default" { Namespace::existing(stack, "default", &kube) } else { Namespace::new(stack, &s.namespace, &kube) };
    let trust = web_identity_trust(oidc.arn(), oidc.issuer(), namespace.name(), &s.trust_service_account);
    let role = Role::new(stack, "s3", &account_b, trust).role_name(s.role_name.clone());
    let read = Policy::new(
        stack,
        "s3-read",
        &account_b,
        PolicyDocument::new()
            .statement(strake_aws::Statement::allow().actions(["s3:GetObject"]).resources([format_output!("{}/*", bucket)]))
            .statement(strake_aws::Statement::allow().actions(["s3:ListBucket"]).resources([bucket.clone()])),
    )
    .policy_name(s.policy_name.clone());
    RolePolicyAttachment::new(stack, "s3-read", &account_b, role.name(), read.arn());

    // Step 3: the service account annotated with the role's ARN, and the test deployment that runs under it.
    let sa = ServiceAccount::new(stack, &s.service_account, &kube, &namespace).irsa_role_of(&role).automount(true);
    Deployment::simple(stack, "test-deployment", &kube, &namespace, "amazon/aws-cli")
        .container_name("aws")
        .command(["sleep", "10000"])
        .service_account(&sa);

    stack.export("role_arn", role.arn());
    stack.export("oidc_provider_arn", oidc.arn());
    stack.export("bucket", bucket.map(|arn| arn.trim_start_matches("arn:aws:s3:::").to_string()));
    stack.export("service_account", format_output!("{}/{}", namespace.name(), s.service_account));
    Ok(())
}

/// The bucket's ARN: created with its `test.txt`, or an existing bucket's.
fn bucket_in_b(stack: &Stack, account_b: &ProviderRef, s: &Settings) -> Output<String> {
    if !s.create_bucket {
        return Output::new(format!("arn:aws:s3:::{}", s.bucket));
    }
    let bucket = s3::Bucket::new(stack, "bucket", account_b, s.bucket.clone()).force_destroy(true);
    s3::Object::new(stack, "test-txt", account_b, bucket.name(), "test.txt")
        .content("this is a test to prove you can get this file from this bucket\n");
    bucket.arn()
}
