//! The AWS links: `trust` (IAM read-back and local evaluation), `assume` (STS web identity) and
//! `s3 permission` (list and read with the assumed credentials).

use std::time::{SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_sdk_iam::types::Role;
use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use serde_json::Value as Json;
use strake_access::{Decision, Policy};
use strake_aws::policy::parse_document;

use super::token::Issued;
use super::trust::{self, WebIdentityRequest};
use super::{Link, VerifyError, evaluation, say};

pub(super) fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default()
}

/// `arn:<partition>:iam::<account>:role/<path/><name>`, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RoleArn {
    pub partition: String,
    pub account: String,
    pub name: String,
}

impl RoleArn {
    pub fn parse(arn: &str) -> Result<RoleArn, String> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        match parts[..] {
            ["arn", partition, "iam", "", account, resource]
                if !partition.is_empty() && account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && resource.starts_with("role/") =>
            {
                let name = resource.rsplit('/').next().unwrap_or_default();
                if name.is_empty() {
                    return Err(format!("role ARN `{arn}` has no role name"));
                }
                Ok(RoleArn { partition: partition.into(), account: account.into(), name: name.into() })
            }
            _ => Err(format!("`{arn}` is not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)")),
        }
    }
}

/// An AWS error as `Code: message`, or the whole error chain when there is no code.
pub(super) fn reason<E, R>(e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match (e.code(), e.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => DisplayErrorContext(e).to_string(),
    }
}

/// The SDK configuration without credentials: the pod's web-identity call is unsigned.
fn unsigned(sdk: &SdkConfig) -> SdkConfig {
    let mut b = sdk.clone().into_builder();
    b.set_credentials_provider(None);
    b.build()
}

/// Link `trust`: reads the role's trust policy and the OIDC provider from IAM, and evaluates the
/// policy for the token. Returns the role as IAM describes it.
pub(super) async fn check_trust(
    sdk: &SdkConfig,
    role: &RoleArn,
    issued: &Issued,
    session_name: &str,
    out: &mut (dyn std::io::Write + Send),
) -> Result<Role, VerifyError> {
    let fail = |m: String| VerifyError::new(Link::Trust, m);
    let sts = aws_sdk_sts::Client::new(sdk);
    let me = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| fail(format!("cannot tell which account the role's provider reads (sts:GetCallerIdentity): {}", reason(&e))))?;
    let account = me.account().unwrap_or_default();
    if account != role.account {
        return Err(fail(format!(
            "the role is in account {}, but the provider's credentials are in account {account} ({}); \
             read the role with a provider for account {}",
            role.account,
            me.arn().unwrap_or_default(),
            role.account
        )));
    }

    let iam = aws_sdk_iam::Client::new(sdk);
    let got = iam.get_role().role_name(&role.name).send().await.map_err(|e| {
        let why = reason(&e);
        if e.as_service_error().is_some_and(|s| s.is_no_such_entity_exception()) {
            fail(format!("role `{}` does not exist in account {} ({why})", role.name, role.account))
        } else {
            fail(format!("cannot read role `{}` (iam:GetRole): {why}", role.name))
        }
    })?;
    let iam_role = got.role.ok_or_else(|| fail("iam:GetRole returned no role".into()))?;
    let raw = iam_role.assume_role_policy_document().unwrap_or_default();
    let doc = parse_document(&Json::String(raw.to_string())).map_err(|e| fail(format!("the trust policy of {} {e}", iam_role.arn())))?;
    say!(out, "trust policy of {} (from iam:GetRole, URL-decoded):", iam_role.arn());
    let pretty = serde_json::to_string_pretty(&doc).unwrap_or_default();
    for line in pretty.lines() {
        say!(out, "  | {line}");
    }
    let policy = Policy::parse(trust::policy_name(&role.name), &doc)
        .map_err(|e| fail(format!("the trust policy of {} cannot be evaluated: {e}", iam_role.arn())))?;

    let claims = &issued.jwt.claims;
    let issuer = claims.issuer_host_path().to_string();
    let provider_arn = format!("arn:{}:iam::{}:oidc-provider/{issuer}", role.partition, role.account);
    let mut problems = Vec::new();
    match iam.get_open_id_connect_provider().open_id_connect_provider_arn(&provider_arn).send().await {
        Ok(p) => {
            let ids = p.client_id_list();
            say!(out, "OIDC provider {provider_arn}: exists");
            say!(out, "    url {}, client ids [{}], {} thumbprint(s)", p.url().unwrap_or_default(), ids.join(", "), p.thumbprint_list().len());
            if ids.iter().any(|id| id == &issued.audience) {
                say!(out, "    the token's aud \"{}\" is a client id", issued.audience);
            } else {
                let m = format!(
                    "OIDC provider {provider_arn} does not list the token's audience \"{}\" as a client id (it lists [{}])",
                    issued.audience,
                    ids.join(", ")
                );
                say!(out, "    MISMATCH {m}");
                problems.push(m);
            }
        }
        Err(e) => {
            let why = reason(&e);
            let m = if e.as_service_error().is_some_and(|s| s.is_no_such_entity_exception()) {
                format!("account {} has no IAM OIDC provider for the token's issuer {} ({provider_arn}; {why})", role.account, claims.iss)
            } else {
                format!("cannot read OIDC provider {provider_arn} (iam:GetOpenIDConnectProvider): {why}")
            };
            say!(out, "OIDC provider {provider_arn}: MISSING");
            say!(out, "    MISMATCH {m}");
            problems.push(m);
        }
    }

    let request = WebIdentityRequest {
        role_arn: iam_role.arn().to_string(),
        provider_arn,
        issuer,
        sub: claims.sub.clone(),
        aud: issued.audience.clone(),
        session_name: session_name.to_string(),
    };
    say!(out, "evaluating {} for sub \"{}\", aud \"{}\", session {}:", trust::ACTION, request.sub, request.aud, request.session_name);
    let evaluation = trust::evaluate(&policy, &request);
    evaluation::print(&evaluation, out);
    say!(out, "  => {}", evaluation::verdict(&evaluation));
    if evaluation.decision == Decision::Conditional {
        say!(out, "  WARNING: whether STS allows it depends on what is not evaluated here: {}", evaluation::conditions(&evaluation));
    }
    if let Some(why) = evaluation::refusal(&evaluation, Some(&policy), &request.request()) {
        problems.push(format!("the trust policy of {} does not allow this token: {why}", iam_role.arn()));
    }
    if problems.is_empty() { Ok(iam_role) } else { Err(fail(problems.join("; "))) }
}

/// The assumed session.
pub(super) struct Assumed {
    pub credentials: Credentials,
    pub arn: String,
    pub account: String,
    pub user_id: String,
}

/// Link `assume`: AssumeRoleWithWebIdentity (unsigned) and GetCallerIdentity with the result.
pub(super) async fn assume(
    sdk: &SdkConfig,
    role: &RoleArn,
    role_arn: &str,
    token: &str,
    session_name: &str,
    out: &mut (dyn std::io::Write + Send),
) -> Result<Assumed, VerifyError> {
    let fail = |m: String| VerifyError::new(Link::Assume, m);
    let unsigned = unsigned(sdk);
    let sts = aws_sdk_sts::Client::new(&unsigned);
    let resp = sts
        .assume_role_with_web_identity()
        .role_arn(role_arn)
        .role_session_name(session_name)
        .web_identity_token(token)
        .send()
        .await
        .map_err(|e| fail(format!("sts:AssumeRoleWithWebIdentity for {role_arn} failed: {}", reason(&e))))?;
    let c = resp.credentials().ok_or_else(|| fail("sts:AssumeRoleWithWebIdentity returned no credentials".into()))?;
    let expiry = SystemTime::try_from(*c.expiration()).ok();
    let credentials = Credentials::new(c.access_key_id(), c.secret_access_key(), Some(c.session_token().to_string()), expiry, "irsa-web-identity");
    say!(out, "role {role_arn}, session {session_name}: temporary credentials issued (expire {})", c.expiration());
    if let Some(subject) = resp.subject_from_web_identity_token() {
        say!(out, "  SubjectFromWebIdentityToken: {subject}");
    }

    let config = aws_sdk_sts::config::Builder::from(&unsigned).credentials_provider(credentials.clone()).build();
    let id = aws_sdk_sts::Client::from_conf(config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| fail(format!("sts:GetCallerIdentity with the assumed credentials failed: {}", reason(&e))))?;
    let (user_id, account, arn) =
        (id.user_id().unwrap_or_default().to_string(), id.account().unwrap_or_default().to_string(), id.arn().unwrap_or_default().to_string());
    say!(out, "$ aws sts get-caller-identity");
    say!(
        out,
        "{{\"UserId\": {}, \"Account\": {}, \"Arn\": {}}}",
        Json::from(user_id.as_str()),
        Json::from(account.as_str()),
        Json::from(arn.as_str())
    );
    let expected = format!("arn:{}:sts::{}:assumed-role/{}/{session_name}", role.partition, role.account, role.name);
    if arn != expected {
        return Err(fail(format!("the assumed identity is {arn}, not {expected}")));
    }
    Ok(Assumed { credentials, arn, account, user_id })
}

/// `2024-01-31 12:00:00` from S3's timestamp (UTC).
fn ls_time(t: Option<&aws_sdk_s3::primitives::DateTime>) -> String {
    let text = t.and_then(|t| t.fmt(aws_sdk_s3::primitives::DateTimeFormat::DateTime).ok()).unwrap_or_default();
    text.get(..19).map(|s| s.replacen('T', " ", 1)).unwrap_or_else(|| format!("{text:19}"))
}

/// Link `s3 permission`: lists the bucket and reads the object with the assumed credentials.
pub(super) async fn read_object(
    sdk: &SdkConfig,
    credentials: &Credentials,
    bucket: &str,
    key: &str,
    out: &mut (dyn std::io::Write + Send),
) -> Result<Vec<u8>, VerifyError> {
    let fail = |m: String| VerifyError::new(Link::S3Permission, m);
    let config = aws_sdk_s3::config::Builder::from(&unsigned(sdk))
        .credentials_provider(credentials.clone())
        .force_path_style(sdk.endpoint_url().is_some())
        .build();
    let s3 = aws_sdk_s3::Client::from_conf(config);

    say!(out, "$ aws s3 ls s3://{bucket}");
    match s3.list_objects_v2().bucket(bucket).delimiter("/").send().await {
        Ok(list) => {
            for p in list.common_prefixes() {
                say!(out, "{:>30} {}", "PRE", p.prefix().unwrap_or_default());
            }
            for o in list.contents() {
                say!(out, "{} {:>10} {}", ls_time(o.last_modified()), o.size().unwrap_or_default(), o.key().unwrap_or_default());
            }
            if list.is_truncated() == Some(true) {
                say!(out, "(more objects not shown)");
            }
        }
        Err(e) => {
            let why = reason(&e);
            if e.as_service_error().is_some_and(|s| s.is_no_such_bucket()) || e.code() == Some("NoSuchBucket") {
                return Err(fail(format!("bucket {bucket} does not exist ({why})")));
            }
            // A role may read objects without s3:ListBucket; reading the object decides.
            say!(out, "  cannot list (s3:ListBucket): {why}");
        }
    }

    say!(out, "$ aws s3 cp s3://{bucket}/{key} -");
    let object = s3.get_object().bucket(bucket).key(key).send().await.map_err(|e| {
        let why = reason(&e);
        match e.code() {
            Some("NoSuchKey") => fail(format!("s3://{bucket}/{key} does not exist ({why})")),
            Some("NoSuchBucket") => fail(format!("bucket {bucket} does not exist ({why})")),
            _ => fail(format!("cannot read s3://{bucket}/{key} (s3:GetObject): {why}")),
        }
    })?;
    let bytes = object.body.collect().await.map_err(|e| fail(format!("reading the body of s3://{bucket}/{key} failed: {e}")))?.into_bytes().to_vec();
    say!(out, "{}", String::from_utf8_lossy(&bytes).trim_end());
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_split_into_partition_account_and_name() {
        let r = RoleArn::parse("arn:aws:iam::222222222222:role/team/s3-reader").unwrap();
        assert_eq!(r, RoleArn { partition: "aws".into(), account: "222222222222".into(), name: "s3-reader".into() });
        assert_eq!(RoleArn::parse("arn:aws-cn:iam::123456789012:role/x").unwrap().partition, "aws-cn");
        for bad in
            ["arn:aws:iam::2222:role/x", "arn:aws:iam::222222222222:user/x", "arn:aws:s3:::bucket", "role/x", "arn:aws:iam::222222222222:role/"]
        {
            assert!(RoleArn::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ls_lines_use_the_cli_time_format() {
        let t = aws_sdk_s3::primitives::DateTime::from_secs(1_700_000_000);
        assert_eq!(ls_time(Some(&t)), "2023-11-14 22:13:20");
        assert_eq!(ls_time(None).len(), 19);
    }
}
