//! The AWS provider configuration (one per account) and the configured provider.
//!
//! Credentials come from the standard chain (environment, profile, SSO, ...), a named profile,
//! static keys, or an assumed role chained from another configuration's credentials.
//! `AWS_ENDPOINT_URL`, `AWS_PROFILE` and `AWS_REGION` work as for the AWS CLI; an endpoint (set or
//! from the environment) applies to every service and makes S3 use path-style addressing.

use std::sync::Arc;

use async_trait::async_trait;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::Credentials;
use aws_sdk_iam::config::Region;
use serde::{Deserialize, Serialize};
use strake::provider::*;
use strake::{Output, Value};

use strake::typed::TypedProvider;

use crate::attempts::{retry_config, retry_partition};
use crate::context::{Aws, CallerIdentity, Clients};
use crate::error::aws_error;
use crate::regions::check_region;
use crate::validate::{check_account_id, check_arn};

/// An assume-role step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct AssumeRole {
    role_arn: String,
    session_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    external_id: Option<String>,
}

/// What a provider configuration holds (its state record is this, serialized).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Settings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    access_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret_access_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    session_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    assume_role: Option<AssumeRole>,
    /// Credentials to assume the role with (another configuration); default: the standard chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<Box<Settings>>,
    /// The account these credentials must land in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    account_id: Option<String>,
    /// Attempts per API call (default [`attempts::DEFAULT_MAX_ATTEMPTS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_attempts: Option<u32>,
    /// The first retry's delay bound, in milliseconds (default 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_initial_backoff_ms: Option<u64>,
}

/// One AWS account's provider configuration, declared with `stack.provider("name", AwsProvider::new()...)`.
#[derive(Debug, Clone, Default)]
pub struct AwsProvider {
    settings: Settings,
}

impl AwsProvider {
    /// Credentials, region and endpoint from the standard AWS environment.
    pub fn new() -> Self {
        AwsProvider::default()
    }

    /// The region, e.g. `eu-west-1` (default: `AWS_REGION` or the profile's).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.settings.region = Some(region.into());
        self
    }

    /// Sends every service's requests to this endpoint (an emulator, a VPC endpoint); S3 then uses path-style URLs.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.settings.endpoint = Some(url.into());
        self
    }

    /// A named profile from `~/.aws/config` (SSO profiles work too).
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.settings.profile = Some(profile.into());
        self
    }

    /// Static keys. They are stored in state as secrets.
    pub fn static_credentials(mut self, access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        self.settings.access_key_id = Some(access_key_id.into());
        self.settings.secret_access_key = Some(secret_access_key.into());
        self
    }

    /// The session token that goes with temporary [`Self::static_credentials`]. Stored in state as a secret.
    pub fn session_token(mut self, token: impl Into<String>) -> Self {
        self.settings.session_token = Some(token.into());
        self
    }

    /// Assumes this role, with the credentials this configuration had so far (or those of
    /// [`Self::assume_role_from`]).
    pub fn assume_role(mut self, role_arn: impl Into<String>) -> Self {
        self.settings.assume_role = Some(AssumeRole { role_arn: role_arn.into(), session_name: "strake".into(), external_id: None });
        self
    }

    /// Assumes `role_arn` using another configuration's credentials (a role chain across accounts).
    pub fn assume_role_from(mut self, source: &AwsProvider, role_arn: impl Into<String>) -> Self {
        self.settings.source = Some(Box::new(source.settings.clone()));
        if self.settings.region.is_none() {
            self.settings.region = source.settings.region.clone();
        }
        if self.settings.endpoint.is_none() {
            self.settings.endpoint = source.settings.endpoint.clone();
        }
        self.assume_role(role_arn)
    }

    /// The session name of the assumed role (default `strake`); only after [`Self::assume_role`], else ignored.
    pub fn session_name(mut self, name: impl Into<String>) -> Self {
        if let Some(a) = &mut self.settings.assume_role {
            a.session_name = name.into();
        }
        self
    }

    /// The external id the role's trust policy asks for; only after [`Self::assume_role`], else ignored.
    pub fn external_id(mut self, id: impl Into<String>) -> Self {
        if let Some(a) = &mut self.settings.assume_role {
            a.external_id = Some(id.into());
        }
        self
    }

    /// A configuration from its recorded value (as [`ProviderConfig::config`] produces it).
    pub fn from_config_value(config: &Value) -> Result<AwsProvider, String> {
        config.deserialize_into::<Settings>().map(|settings| AwsProvider { settings })
    }

    /// The AWS SDK configuration these settings produce (credentials, region, endpoint), for
    /// tools that call AWS directly next to Strake.
    pub async fn sdk_config(&self) -> SdkConfig {
        sdk_config(&self.settings).await
    }

    /// Resolves who these credentials are (STS GetCallerIdentity): `(account, arn)`.
    pub async fn caller_identity(&self) -> Result<(String, String), ProviderError> {
        let sdk = sdk_config(&self.settings).await;
        let id = aws_sdk_sts::Client::new(&sdk).get_caller_identity().send().await.map_err(aws_error("sts:GetCallerIdentity"))?;
        Ok((id.account().unwrap_or_default().to_string(), id.arn().unwrap_or_default().to_string()))
    }

    /// How often each API call is tried (1 = never retried) and the first retry's delay bound,
    /// which doubles per retry up to 20 s. Default: 5 attempts from 500 ms.
    pub fn retries(mut self, max_attempts: u32, initial_backoff: std::time::Duration) -> Self {
        self.settings.max_attempts = Some(max_attempts);
        self.settings.retry_initial_backoff_ms = Some(initial_backoff.as_millis() as u64);
        self
    }

    /// Fails at plan time unless the credentials land in this account.
    pub fn expect_account(mut self, account_id: impl Into<String>) -> Self {
        self.settings.account_id = Some(account_id.into());
        self
    }
}

fn to_value(settings: &Settings) -> Value {
    let mut v = Value::serialize_from(settings).unwrap_or_default();
    for key in ["secret_access_key", "session_token"] {
        if let Some(s) = v.get(key).cloned() {
            v.set_path(key, Some(Value::Secret(Box::new(s))));
        }
    }
    if let Some(source) = &settings.source {
        v.set_path("source", Some(to_value(source)));
    }
    v
}

impl ProviderConfig for AwsProvider {
    fn config(&self) -> Output<Value> {
        Output::new(to_value(&self.settings))
    }

    fn factory(&self) -> Arc<dyn ProviderFactory> {
        Arc::new(AwsFactory)
    }
}

/// Builds configured AWS providers.
pub struct AwsFactory;

/// Checks a configuration (and its role chain's source). `env_endpoint` is `AWS_ENDPOINT_URL`,
/// which the SDK applies to every service when the configuration sets no endpoint.
fn check_settings(s: &Settings, at: &str, env_endpoint: Option<&str>, failures: &mut Vec<CheckFailure>) {
    // A region must exist, unless a custom endpoint (an emulator, a region newer than Strake's
    // list) is where the requests go.
    let endpoint = s.endpoint.as_deref().or(env_endpoint).filter(|e| !e.is_empty());
    if let Some(region) = &s.region
        && let Err(e) = check_region(region, endpoint)
    {
        failures.push(CheckFailure::new(format!("{at}region"), e));
    }
    if let Some(a) = &s.assume_role
        && let Err(e) = check_arn(&a.role_arn)
    {
        failures.push(CheckFailure::new(format!("{at}assume_role.role_arn"), format!("`{}` {e}", a.role_arn)));
    }
    if let Some(id) = &s.account_id
        && let Err(e) = check_account_id(id)
    {
        failures.push(CheckFailure::new(format!("{at}account_id"), e));
    }
    if s.max_attempts == Some(0) {
        failures.push(CheckFailure::new(format!("{at}max_attempts"), "is 0; use 1 (no retries) or more"));
    }
    if s.access_key_id.is_some() != s.secret_access_key.is_some() {
        failures.push(CheckFailure::new(format!("{at}access_key_id"), "static credentials need both the key id and the secret key"));
    }
    if let Some(src) = &s.source {
        check_settings(src, &format!("{at}source."), env_endpoint, failures);
    }
}

#[async_trait]
impl ProviderFactory for AwsFactory {
    fn package(&self) -> &str {
        "aws"
    }

    fn reviews(&self) -> Vec<Arc<dyn strake::review::PlanReview>> {
        vec![Arc::new(crate::access::AccessReview)]
    }

    fn check_config(&self, config: &Value) -> Vec<CheckFailure> {
        let mut failures = Vec::new();
        match config.deserialize_into::<Settings>() {
            Ok(s) => check_settings(&s, "", std::env::var("AWS_ENDPOINT_URL").ok().as_deref(), &mut failures),
            Err(e) => failures.push(CheckFailure::new("", format!("is not an AWS provider configuration: {e}"))),
        }
        failures
    }

    async fn configure(&self, config: Value) -> Result<Arc<dyn Provider>, ProviderError> {
        let settings: Settings = config.deserialize_into().map_err(ProviderError::permanent)?;
        check_profiles_exist(&settings).await?;
        let sdk = sdk_config(&settings).await;
        let clients = Clients::new(&sdk, &retry_partition(&partition_name()));
        let identity = clients.sts.get_caller_identity().send().await.map_err(aws_error("sts:GetCallerIdentity"))?;
        let account = identity.account().unwrap_or_default().to_string();
        if let Some(expected) = &settings.account_id
            && expected != &account
        {
            return Err(ProviderError::permanent(format!(
                "the credentials ({}) resolve to account {account} ({}), but this provider expects account {expected}; \
                 check that source",
                credentials_source(&settings),
                identity.arn().unwrap_or_default()
            )));
        }
        let caller = CallerIdentity {
            account,
            arn: identity.arn().unwrap_or_default().to_string(),
            user_id: identity.user_id().unwrap_or_default().to_string(),
        };
        let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
        let endpoint = sdk.endpoint_url().map(str::to_string);
        let aws = Aws { clients, caller, region, endpoint, buckets: tokio::sync::Mutex::new(None) };
        Ok(Arc::new(TypedProvider::new(aws, crate::resources::registry())))
    }
}

/// Where a configuration's credentials come from, for messages.
fn credentials_source(s: &Settings) -> String {
    let base = match (&s.profile, &s.access_key_id, &s.source) {
        (_, Some(key), _) => format!("static keys {key}"),
        (Some(profile), None, _) => format!("profile `{profile}`"),
        (None, None, Some(source)) => credentials_source(source),
        (None, None, None) => "the standard chain: environment variables first, then AWS_PROFILE or the default profile".into(),
    };
    match &s.assume_role {
        Some(role) => format!("role {} assumed with {base}", role.role_arn),
        None => base,
    }
}

/// Fails, naming it, when a profile the configuration (or its role chain's source) names is in
/// neither `~/.aws/config` nor `~/.aws/credentials` (or the files `AWS_CONFIG_FILE` and
/// `AWS_SHARED_CREDENTIALS_FILE` name).
async fn check_profiles_exist(s: &Settings) -> Result<(), ProviderError> {
    let mut wanted = Vec::new();
    let mut next = Some(s);
    while let Some(settings) = next {
        wanted.extend(settings.profile.clone());
        next = settings.source.as_deref();
    }
    if wanted.is_empty() {
        return Ok(());
    }
    let (fs, env) = (aws_types::os_shim_internal::Fs::real(), aws_types::os_shim_internal::Env::real());
    // The default files: ~/.aws/config and ~/.aws/credentials, or those the environment names.
    let set = aws_config::profile::load(&fs, &env, &Default::default(), None)
        .await
        .map_err(|e| ProviderError::permanent(format!("cannot read the AWS config and credentials files: {e}")))?;
    for profile in wanted {
        if set.get_profile(&profile).is_none() {
            let mut known: Vec<&str> = set.profiles().collect();
            known.sort_unstable();
            let known = if known.is_empty() { "there are none".to_string() } else { format!("those there: {}", known.join(", ")) };
            return Err(ProviderError::coded(
                "ProfileNotFound",
                format!(
                    "AWS profile `{profile}` is in neither the AWS config file nor the credentials file (~/.aws/config, \
                     ~/.aws/credentials, or AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE); {known}"
                ),
            ));
        }
    }
    Ok(())
}

/// Builds the SDK configuration, following assume-role chains.
fn sdk_config(s: &Settings) -> std::pin::Pin<Box<dyn std::future::Future<Output = SdkConfig> + Send + '_>> {
    Box::pin(async move {
        // Each API call is retried on its own (see `attempts`); credentials calls too.
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).retry_config(retry_config(s.max_attempts, s.retry_initial_backoff_ms));
        if let Some(region) = &s.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(endpoint) = &s.endpoint {
            loader = loader.endpoint_url(endpoint.clone());
        }
        if let Some(profile) = &s.profile {
            loader = loader.profile_name(profile.clone());
        }
        if let (Some(ak), Some(sk)) = (&s.access_key_id, &s.secret_access_key) {
            loader = loader.credentials_provider(Credentials::new(ak, sk, s.session_token.clone(), None, "strake-static"));
        }
        let mut base = match &s.source {
            Some(source) => {
                let source_config = sdk_config(source).await;
                let mut b = loader.load().await.into_builder();
                if let Some(creds) = source_config.credentials_provider() {
                    b.set_credentials_provider(Some(creds));
                }
                b.build()
            }
            None => loader.load().await,
        };
        if let (Some(profile), None) = (&s.profile, &s.access_key_id) {
            // A profile named here wins over environment credentials, as `aws --profile` does:
            // the standard chain takes AWS_ACCESS_KEY_ID first, and would land elsewhere.
            let provider_config = aws_config::provider_config::ProviderConfig::without_region()
                .with_region(base.region().cloned())
                .with_retry_config(retry_config(s.max_attempts, s.retry_initial_backoff_ms));
            let credentials =
                aws_config::profile::ProfileFileCredentialsProvider::builder().profile_name(profile.clone()).configure(&provider_config).build();
            base = base.into_builder().credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(credentials)).build();
        }
        let Some(role) = &s.assume_role else { return base };
        let mut builder = aws_config::sts::AssumeRoleProvider::builder(role.role_arn.clone()).session_name(role.session_name.clone());
        if let Some(id) = &role.external_id {
            builder = builder.external_id(id.clone());
        }
        let provider = builder.configure(&base).build().await;
        base.into_builder().credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(provider)).build()
    })
}

/// A name no other configured provider of this process uses.
fn partition_name() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    format!("{}-{}", std::process::id(), NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failures(provider: &AwsProvider, env_endpoint: Option<&str>) -> Vec<CheckFailure> {
        let mut failures = Vec::new();
        check_settings(&provider.settings, "", env_endpoint, &mut failures);
        failures
    }

    #[test]
    fn a_region_that_does_not_exist_fails_the_configuration_with_the_closest_one() {
        assert!(failures(&AwsProvider::new().region("eu-west-1"), None).is_empty());
        for (region, meant) in [("us-east-7", "us-east-1"), ("eu-wset-1", "eu-west-1")] {
            let f = failures(&AwsProvider::new().region(region), None);
            assert_eq!(f.len(), 1, "{region}: {f:?}");
            assert_eq!(f[0].property, "region");
            assert!(f[0].reason.contains(&format!("`{region}` is not an AWS region; did you mean \"{meant}\"?")), "{}", f[0].reason);
            assert!(f[0].reason.contains("set the provider's `endpoint`"), "{}", f[0].reason);
        }
        let f = failures(&AwsProvider::new().region("useast1"), None);
        assert!(f[0].reason.contains("is not an AWS region name"), "{}", f[0].reason);
        // The source of a role chain is checked too, under its own path.
        let source = AwsProvider::new().region("eu-wset-1");
        let f = failures(&AwsProvider::new().region("eu-west-1").assume_role_from(&source, "arn:aws:iam::123456789012:role/r"), None);
        assert_eq!(f.iter().map(|f| f.property.as_str()).collect::<Vec<_>>(), ["source.region"]);
    }

    #[test]
    fn a_custom_endpoint_exempts_the_region_from_the_existence_check() {
        assert!(failures(&AwsProvider::new().region("us-east-7").endpoint("http://localhost:5000"), None).is_empty());
        assert!(failures(&AwsProvider::new().region("us-east-7"), Some("http://localhost:5000")).is_empty(), "AWS_ENDPOINT_URL");
        let f = failures(&AwsProvider::new().region("not a region").endpoint("http://localhost:5000"), None);
        assert!(f[0].reason.contains("is not an AWS region name"), "the syntax is still checked: {f:?}");
    }
}
