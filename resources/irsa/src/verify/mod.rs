//! `verify`: proves the IRSA chain end to end without a kubelet.
//!
//! The chain, and the link each failure names:
//!
//! 1. **token** — the ServiceAccount exists and is annotated `eks.amazonaws.com/role-arn` with the
//!    expected role; the TokenRequest API issues the token the pod identity webhook would project
//!    (audience `sts.amazonaws.com`); its RS256 signature verifies against the issuer's JWKS
//!    (`/openid/v1/jwks` through the API server) and its claims name the ServiceAccount.
//! 2. **trust** — the role's trust policy, read back from IAM in the role's account, allows
//!    `sts:AssumeRoleWithWebIdentity` for the token's claims, and that account's IAM OIDC
//!    provider for the issuer exists and lists the audience. The policy is evaluated with
//!    strake-access ([`trust`]): the caller is the web identity of the OIDC provider in the role's
//!    account, the context the token's `<issuer>:sub` and `<issuer>:aud` and `sts:RoleSessionName`,
//!    nothing else. A refusal names the statement and the element that failed, with both sides
//!    (the policy's values and the request's).
//! 3. **assume** — STS `AssumeRoleWithWebIdentity` (an unsigned call, as the pod makes it)
//!    returns credentials, and `GetCallerIdentity` with them is the role's assumed-role session.
//! 4. **s3 permission** — first evaluated locally: the role's identity policies (attached managed
//!    policies at their default version, and inline policies) and its permissions boundary, read
//!    from IAM in the role's account, and the bucket policy (`s3:GetBucketPolicy`), for
//!    `s3:ListBucket` on the bucket and `s3:GetObject` on the object, the bucket owned by
//!    [`VerifyTarget::bucket_account`]. Across accounts the bucket policy must allow the role too.
//!    A denial fails the link with the evaluation's reason; a decision that depends on conditions
//!    not evaluated here is a warning. A bucket policy that cannot be read (AWS lets only the
//!    bucket's account read it) is a warning too, and only the role's own policies are evaluated.
//!    Then, with the assumed credentials, the bucket lists and the object reads.
//!
//! The local evaluations matter on emulators such as moto, which enforce neither trust policies
//! nor S3 permissions; against AWS they explain a refusal before STS or S3 give a bare
//! `AccessDenied`. Service control policies, session policies and ACLs are not evaluated.
//!
//! Everything is printed to `out` as it is proved, the way the walkthrough shows it, the
//! evaluations line by line.

mod chain;
mod evaluation;
pub mod jwt;
mod permission;
mod token;
pub mod trust;

use std::fmt;
use std::path::Path;

use strake_aws::AwsProvider;

pub use jwt::Claims;
pub use strake_access::{Decision, Evaluation};

/// The audience the pod identity webhook requests unless the ServiceAccount says otherwise.
pub const DEFAULT_AUDIENCE: &str = strake_aws::trust_lint::STS_AUDIENCE;
/// The object the walkthrough reads.
pub const DEFAULT_KEY: &str = "test.txt";

/// What to prove: that ServiceAccount `namespace/service_account` reaches `s3://bucket/key`
/// through `role_arn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyTarget {
    /// The ServiceAccount's namespace.
    pub namespace: String,
    /// The ServiceAccount's name.
    pub service_account: String,
    /// The role the ServiceAccount must be annotated with (usually in another account).
    pub role_arn: String,
    /// The bucket the object is read from.
    pub bucket: String,
    /// The account that owns the bucket; `None`: the role's account. Across accounts the bucket
    /// policy must allow the role too.
    pub bucket_account: Option<String>,
    /// Default [`DEFAULT_KEY`].
    pub key: String,
    /// The token's audience; default [`DEFAULT_AUDIENCE`]. An `eks.amazonaws.com/audience`
    /// annotation on the ServiceAccount takes precedence, as with the webhook.
    pub audience: String,
    /// The token's lifetime in seconds (the API server's minimum is 600); default 3600.
    pub token_seconds: i64,
}

impl VerifyTarget {
    /// A target with the default key, audience and token lifetime.
    pub fn new(namespace: impl Into<String>, service_account: impl Into<String>, role_arn: impl Into<String>, bucket: impl Into<String>) -> Self {
        VerifyTarget {
            namespace: namespace.into(),
            service_account: service_account.into(),
            role_arn: role_arn.into(),
            bucket: bucket.into(),
            bucket_account: None,
            key: DEFAULT_KEY.into(),
            audience: DEFAULT_AUDIENCE.into(),
            token_seconds: 3600,
        }
    }

    /// The object to read (default [`DEFAULT_KEY`]).
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }

    /// The account that owns the bucket (default: the role's account).
    pub fn bucket_account(mut self, account: impl Into<String>) -> Self {
        self.bucket_account = Some(account.into());
        self
    }

    /// The token's audience (default [`DEFAULT_AUDIENCE`]).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = audience.into();
        self
    }

    /// The token's lifetime in seconds (default 3600).
    pub fn token_seconds(mut self, seconds: i64) -> Self {
        self.token_seconds = seconds;
        self
    }

    /// The `sub` the token must carry: `system:serviceaccount:<ns>:<sa>`.
    pub fn subject(&self) -> String {
        format!("system:serviceaccount:{}:{}", self.namespace, self.service_account)
    }
}

/// A link of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Link {
    /// The ServiceAccount, its annotation and its token.
    Token,
    /// The role's trust policy and the account's OIDC provider.
    Trust,
    /// STS AssumeRoleWithWebIdentity and the identity it yields.
    Assume,
    /// The role's S3 permissions, evaluated; then listing the bucket and reading the object with
    /// the assumed credentials.
    S3Permission,
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Link::Token => "token",
            Link::Trust => "trust",
            Link::Assume => "assume",
            Link::S3Permission => "s3 permission",
        })
    }
}

/// Where the chain broke, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyError {
    /// The link that broke.
    pub link: Link,
    /// What failed, and why.
    pub message: String,
}

impl VerifyError {
    pub(crate) fn new(link: Link, message: impl Into<String>) -> Self {
        VerifyError { link, message: message.into() }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the IRSA chain is broken at link `{}`: {}", self.link, self.message)
    }
}

impl std::error::Error for VerifyError {}

/// A proved chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
    pub assumed_arn: String,
    /// The account of the assumed-role session.
    pub account: String,
    /// The session's unique id, as `GetCallerIdentity` reports it.
    pub user_id: String,
    /// The token's verified claims.
    pub claims: Claims,
    /// The object's bytes.
    pub content: Vec<u8>,
}

impl Verified {
    /// The object's content as text (invalid UTF-8 replaced).
    pub fn content_text(&self) -> String {
        String::from_utf8_lossy(&self.content).into_owned()
    }
}

/// Writes a progress line; the report is best effort, a failed write does not fail the proof.
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {{
        let _ = writeln!($out, $($arg)*);
    }};
}
pub(crate) use say;

/// Proves the chain for `target`: `kube` reaches cluster A's API server, `account_b` reads IAM
/// in the role's account and the bucket's policy (its STS endpoint and region are used, without
/// credentials, for the web-identity call).
pub async fn verify(
    target: &VerifyTarget,
    kube: &kube::Client,
    account_b: &AwsProvider,
    out: &mut (dyn std::io::Write + Send),
) -> Result<Verified, VerifyError> {
    let result = run(target, kube, account_b, out).await;
    match &result {
        Ok(v) => say!(out, "\nverified: {} reaches s3://{}/{} as {}", target.subject(), target.bucket, target.key, v.assumed_arn),
        Err(e) => say!(out, "\nFAILED at link `{}`: {}", e.link, e.message),
    }
    result
}

async fn run(
    target: &VerifyTarget,
    kube: &kube::Client,
    account_b: &AwsProvider,
    out: &mut (dyn std::io::Write + Send),
) -> Result<Verified, VerifyError> {
    let role = chain::RoleArn::parse(&target.role_arn).map_err(|e| VerifyError::new(Link::Trust, e))?;
    say!(out, "== token: ServiceAccount {}/{}", target.namespace, target.service_account);
    let issued = token::issue(target, kube, out).await?;

    let sdk = account_b.sdk_config().await;
    say!(out, "\n== trust: role {}", target.role_arn);
    let session_name = format!("botocore-session-{}", chain::unix_now());
    let iam_role = chain::check_trust(&sdk, &role, &issued, &session_name, out).await?;

    say!(out, "\n== assume: sts:AssumeRoleWithWebIdentity (unsigned, as the pod calls it)");
    let assumed = chain::assume(&sdk, &role, &target.role_arn, &issued.token, &session_name, out).await?;

    say!(out, "\n== s3 permission: s3://{}/{}", target.bucket, target.key);
    permission::check(&sdk, &role, &iam_role, target, out).await?;
    let content = chain::read_object(&sdk, &assumed.credentials, &target.bucket, &target.key, out).await?;
    Ok(Verified { assumed_arn: assumed.arn, account: assumed.account, user_id: assumed.user_id, claims: issued.jwt.claims.clone(), content })
}

/// A Kubernetes client from a kubeconfig file, or from `$KUBECONFIG` (else `~/.kube/config`)
/// when `path` is `None`, with its current context.
pub async fn kube_client(path: Option<&Path>) -> Result<kube::Client, VerifyError> {
    let options = kube::config::KubeConfigOptions::default();
    let (config, what) = match path {
        Some(path) => {
            let what = path.display().to_string();
            let file = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| VerifyError::new(Link::Token, format!("cannot read kubeconfig {what}: {e}")))?;
            (kube::Config::from_custom_kubeconfig(file, &options).await, what)
        }
        None => (kube::Config::from_kubeconfig(&options).await, "$KUBECONFIG".to_string()),
    };
    let config = config.map_err(|e| VerifyError::new(Link::Token, format!("cannot load the kubeconfig ({what}): {e}")))?;
    kube::Client::try_from(config).map_err(|e| VerifyError::new(Link::Token, format!("cannot build a Kubernetes client: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiles only while `verify`'s future is `Send` (callers may spawn it).
    #[allow(dead_code)]
    fn verify_is_send(t: &VerifyTarget, k: &kube::Client, a: &AwsProvider, out: &mut (dyn std::io::Write + Send)) {
        fn send<T: Send>(_: T) {}
        send(verify(t, k, a, out));
    }

    #[test]
    fn links_display_as_the_chain_names_them() {
        let names: Vec<String> = [Link::Token, Link::Trust, Link::Assume, Link::S3Permission].iter().map(Link::to_string).collect();
        assert_eq!(names, ["token", "trust", "assume", "s3 permission"]);
        let e = VerifyError::new(Link::S3Permission, "s3://b/test.txt does not exist");
        assert_eq!(e.to_string(), "the IRSA chain is broken at link `s3 permission`: s3://b/test.txt does not exist");
    }

    #[test]
    fn targets_default_to_the_walkthrough() {
        let t = VerifyTarget::new("apps", "s3-reader", "arn:aws:iam::222222222222:role/r", "bucket");
        assert_eq!((t.key.as_str(), t.audience.as_str(), t.token_seconds), (DEFAULT_KEY, DEFAULT_AUDIENCE, 3600));
        assert_eq!(t.subject(), "system:serviceaccount:apps:s3-reader");
        assert_eq!(t.bucket_account, None);
        let t = t.key("other.txt").audience("vault").bucket_account("111111111111");
        assert_eq!((t.key.as_str(), t.audience.as_str(), t.bucket_account.as_deref()), ("other.txt", "vault", Some("111111111111")));
    }
}
