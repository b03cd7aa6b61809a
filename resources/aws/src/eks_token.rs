//! Bearer tokens for EKS clusters, made the way `aws eks get-token` makes them: a presigned STS
//! `GetCallerIdentity` URL, signed with the `x-k8s-aws-id` header naming the cluster, valid for
//! 60 seconds of signing time, base64url-encoded and prefixed `k8s-aws-v1.`. Signed with the AWS
//! SDK's signing crate.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
use aws_sigv4::sign::v4;
use base64::Engine as _;

/// What every token starts with, before the base64url-encoded URL.
pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";
/// The signed header that names the cluster the token is for.
pub const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";
/// How long the presigned URL is valid (what `aws eks get-token` uses).
pub const PRESIGN_EXPIRY: Duration = Duration::from_secs(60);

/// The token for `cluster_name`, signed with the credentials of the AWS provider configuration
/// `aws` (as [`crate::AwsProvider`] records it) for STS in its region and at its endpoint.
pub async fn provider_token(aws: &serde_json::Value, cluster_name: &str) -> Result<String, String> {
    use aws_credential_types::provider::ProvideCredentials as _;
    let aws = crate::AwsProvider::from_config_value(&strake::Value::from(aws))?;
    let sdk = aws.sdk_config().await;
    let provider = sdk.credentials_provider().ok_or("no AWS credentials to sign the EKS token")?;
    let credentials = provider.provide_credentials().await.map_err(|e| format!("cannot get AWS credentials to sign the EKS token: {e}"))?;
    let region = sdk.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into());
    let sts = sdk.endpoint_url().map(str::to_string).unwrap_or_else(|| format!("https://sts.{region}.amazonaws.com"));
    eks_token(&credentials, cluster_name, &region, &sts, SystemTime::now())
}

/// Builds the token for `cluster_name` from `credentials`, for STS at `sts_endpoint`
/// (e.g. `https://sts.us-east-1.amazonaws.com`) in `region`, as of `now`.
pub fn eks_token(credentials: &Credentials, cluster_name: &str, region: &str, sts_endpoint: &str, now: SystemTime) -> Result<String, String> {
    let url = presigned_url(credentials, cluster_name, region, sts_endpoint, now)?;
    Ok(format!("{TOKEN_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url)))
}

/// The presigned `GetCallerIdentity` URL inside a token.
pub fn presigned_url(credentials: &Credentials, cluster_name: &str, region: &str, sts_endpoint: &str, now: SystemTime) -> Result<String, String> {
    let base = format!("{}/?Action=GetCallerIdentity&Version=2011-06-15", sts_endpoint.trim_end_matches('/'));
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(PRESIGN_EXPIRY);
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| format!("cannot build signing parameters: {e}"))?
        .into();
    let headers = [(CLUSTER_ID_HEADER, cluster_name)];
    let signable =
        SignableRequest::new("GET", &base, headers.into_iter(), SignableBody::Bytes(&[])).map_err(|e| format!("cannot sign the STS request: {e}"))?;
    let (instructions, _signature) = sign(signable, &params).map_err(|e| format!("cannot sign the STS request: {e}"))?.into_parts();
    let mut url = base;
    for (name, value) in instructions.params() {
        url.push('&');
        url.push_str(name);
        url.push('=');
        url.push_str(&percent_encode(value));
    }
    Ok(url)
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn decode(token: &str) -> String {
        let body = token.strip_prefix(TOKEN_PREFIX).expect("prefix");
        String::from_utf8(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(body).expect("base64url")).unwrap()
    }

    fn query(url: &str) -> BTreeMap<String, String> {
        url.split_once('?')
            .map(|(_, q)| q.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect())
            .unwrap_or_default()
    }

    #[test]
    fn token_is_a_presigned_get_caller_identity_url() {
        let creds = Credentials::new("AKIDEXAMPLE", "secret", Some("session".into()), None, "test");
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let token = eks_token(&creds, "demo", "us-east-1", "https://sts.us-east-1.amazonaws.com", now).unwrap();
        assert!(token.starts_with("k8s-aws-v1."));
        assert!(!token.contains('='), "no padding");
        let url = decode(&token);
        assert!(url.starts_with("https://sts.us-east-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&"), "{url}");
        let q = query(&url);
        assert_eq!(q["X-Amz-Algorithm"], "AWS4-HMAC-SHA256");
        assert_eq!(q["X-Amz-Expires"], "60");
        assert_eq!(q["X-Amz-Date"], "20231114T221320Z");
        assert_eq!(q["X-Amz-Credential"], "AKIDEXAMPLE%2F20231114%2Fus-east-1%2Fsts%2Faws4_request");
        assert!(q["X-Amz-SignedHeaders"].split("%3B").any(|h| h == "x-k8s-aws-id"), "{}", q["X-Amz-SignedHeaders"]);
        assert!(q["X-Amz-SignedHeaders"].split("%3B").any(|h| h == "host"));
        assert_eq!(q["X-Amz-Security-Token"], "session");
        assert_eq!(q["X-Amz-Signature"].len(), 64);
        // The signature depends on the cluster name (the header is signed).
        let other = decode(&eks_token(&creds, "other", "us-east-1", "https://sts.us-east-1.amazonaws.com", now).unwrap());
        assert_ne!(query(&other)["X-Amz-Signature"], q["X-Amz-Signature"]);
    }
}
