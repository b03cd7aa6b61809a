//! Link `token`: the ServiceAccount, its role annotation, and the token the pod identity webhook
//! would project, verified against the issuer's keys through the API server.

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, PostParams};
use strake_kubernetes::service_account::{AUDIENCE, ROLE_ARN};

use super::jwt::{Expected, Jwks, Jwt, check_claims};
use super::{Link, VerifyError, VerifyTarget, chain::unix_now, say};

/// A verified token.
pub(super) struct Issued {
    /// The compact JWT, as the pod would read it from its projected volume.
    pub token: String,
    pub jwt: Jwt,
    /// The audience requested (and found in `aud`).
    pub audience: String,
}

fn fail(message: impl Into<String>) -> VerifyError {
    VerifyError::new(Link::Token, message)
}

fn kube_reason(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(status) => format!("{} ({} {})", status.message, status.code, status.reason),
        other => other.to_string(),
    }
}

pub(super) async fn issue(target: &VerifyTarget, client: &kube::Client, out: &mut (dyn std::io::Write + Send)) -> Result<Issued, VerifyError> {
    let (ns, name) = (target.namespace.as_str(), target.service_account.as_str());
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    let sa = accounts
        .get_opt(name)
        .await
        .map_err(|e| fail(format!("cannot read ServiceAccount {ns}/{name}: {}", kube_reason(&e))))?
        .ok_or_else(|| fail(format!("ServiceAccount {ns}/{name} does not exist; a pod cannot run under it")))?;
    let annotations = sa.metadata.annotations.unwrap_or_default();

    let annotated = annotations.get(ROLE_ARN).map(|s| s.trim().to_string()).ok_or_else(|| {
        fail(format!(
            "ServiceAccount {ns}/{name} has no `{ROLE_ARN}` annotation, so the pod identity webhook injects no token \
             and the pod would not assume {}",
            target.role_arn
        ))
    })?;
    if annotated != target.role_arn {
        return Err(fail(format!(
            "ServiceAccount {ns}/{name} is annotated `{ROLE_ARN}: {annotated}`, but the expected role is {}; \
             the pod would assume {annotated} instead",
            target.role_arn
        )));
    }
    say!(out, "ServiceAccount {ns}/{name}: {ROLE_ARN}: {annotated} (the expected role)");

    let audience = match annotations.get(AUDIENCE) {
        Some(a) if a != &target.audience => {
            say!(out, "  {AUDIENCE}: {a} (used instead of {}, as the webhook does)", target.audience);
            a.clone()
        }
        _ => target.audience.clone(),
    };

    let request = TokenRequest {
        spec: TokenRequestSpec { audiences: vec![audience.clone()], expiration_seconds: Some(target.token_seconds), bound_object_ref: None },
        ..Default::default()
    };
    let issued = accounts
        .create_token_request(name, &PostParams::default(), &request)
        .await
        .map_err(|e| fail(format!("the TokenRequest API refused a token for {ns}/{name}: {}", kube_reason(&e))))?;
    let token = issued.status.map(|s| s.token).filter(|t| !t.is_empty()).ok_or_else(|| fail("the TokenRequest API returned no token"))?;
    say!(out, "TokenRequest: audience {audience}, {} s (what the webhook projects into the pod)", target.token_seconds);

    let jwt = Jwt::decode(&token).map_err(|e| fail(format!("the issued token {e}")))?;
    let now = unix_now();
    let c = &jwt.claims;
    say!(out, "  iss: {}", c.iss);
    say!(out, "  sub: {}", c.sub);
    say!(out, "  aud: {}", c.aud.join(", "));
    say!(out, "  exp: {} (in {} s)", c.exp, c.exp - now);

    // The issuer's discovery document, as STS reads it from `<iss>/.well-known/openid-configuration`;
    // the issuer URL itself is not reachable here, so both come through the API server.
    let issuer = match get_text(client, "/.well-known/openid-configuration").await {
        Ok(text) => serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|d| d.get("issuer").and_then(|i| i.as_str()).map(str::to_string)),
        Err(e) => {
            say!(out, "  discovery: /.well-known/openid-configuration unavailable ({e}); issuer not cross-checked");
            None
        }
    };
    if let Some(i) = &issuer {
        say!(out, "  discovery: issuer {i}");
    }
    let jwks_text =
        get_text(client, "/openid/v1/jwks").await.map_err(|e| fail(format!("cannot read the issuer's keys (GET /openid/v1/jwks): {e}")))?;
    let jwks = Jwks::parse(&jwks_text).map_err(|e| fail(format!("/openid/v1/jwks {e}")))?;
    let kid = jwt.verify_rs256(&jwks).map_err(|e| fail(format!("the token {e}")))?;
    say!(out, "  signature: {} with key {kid} of /openid/v1/jwks: valid", jwt.header.alg);

    let subject = target.subject();
    let expected = Expected { subject: &subject, audience: &audience, issuer: issuer.as_deref() };
    check_claims(&jwt.claims, &expected, now).map_err(|e| fail(format!("the token {e}")))?;
    say!(out, "  claims: sub and aud name {subject} for {audience}");
    Ok(Issued { token, jwt, audience })
}

async fn get_text(client: &kube::Client, path: &str) -> Result<String, String> {
    let request = http::Request::get(path).body(Vec::new()).map_err(|e| e.to_string())?;
    client.request_text(request).await.map_err(|e| kube_reason(&e))
}
