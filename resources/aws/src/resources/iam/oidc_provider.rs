//! `aws:iam:OpenIdConnectProvider`: an IAM OIDC identity provider (e.g. an EKS cluster's issuer),
//! the `Federated` principal of web-identity trust policies.
//!
//! The URL is the issuer: `https://` plus host and path, compared without trailing slashes. Client
//! ids and thumbprints are sets (sorted, de-duplicated) and change in place; a new URL is a new
//! provider. An account has at most one provider per URL, so creating one that already exists
//! fails with what to do, unless the resource says `.adopt_existing()`.

use std::collections::BTreeSet;

use async_trait::async_trait;
use aws_sdk_iam::operation::get_open_id_connect_provider::GetOpenIdConnectProviderOutput;
use strake::provider::*;
use strake::{Output, ProviderRef, Resource, ResourceHandle, Stack, Urn, Value};

use super::shared::{found, iam_arn, normalize_string_list, set_read_tags, string_list, tag_changes, tag_list, tags_from_aws};
use crate::error::{AwsFailure, aws_error};
use crate::provider::Aws;
use crate::resources::*;

pub const TYPE: &str = "aws:iam:OpenIdConnectProvider";

/// The audience of tokens for `sts:AssumeRoleWithWebIdentity` (what EKS service accounts use).
pub const DEFAULT_CLIENT_ID: &str = "sts.amazonaws.com";

/// An IAM OpenID Connect identity provider.
#[derive(Clone)]
pub struct OpenIdConnectProvider(Resource);

impl OpenIdConnectProvider {
    /// A provider for the issuer `url` (`https://...`, e.g. an EKS cluster's OIDC issuer). Client
    /// ids default to `sts.amazonaws.com`.
    #[track_caller]
    pub fn new(stack: &Stack, name: &str, provider: &ProviderRef, url: impl Into<Output<String>>) -> OpenIdConnectProvider {
        let r = stack.resource(TYPE, name);
        r.set_input("url", url.into());
        OpenIdConnectProvider(r.provider(provider))
    }

    /// The audiences (`aud`) accepted; replaces the default `sts.amazonaws.com`.
    pub fn client_ids<S: Into<Output<String>>>(self, ids: impl IntoIterator<Item = S>) -> Self {
        self.0.set_input("client_ids", string_list(ids));
        self
    }

    /// SHA-1 thumbprints (40 hex digits) of the issuer's certificate chain. Optional: IAM no
    /// longer needs them for issuers whose certificates chain to a trusted CA (and may record its
    /// own). Without them the provider's list is neither compared nor changed.
    pub fn thumbprints<S: Into<Output<String>>>(self, thumbprints: impl IntoIterator<Item = S>) -> Self {
        self.0.set_input("thumbprints", string_list(thumbprints));
        self
    }

    pub fn tags<K: Into<String>, V: Into<String>>(self, tags: impl IntoIterator<Item = (K, V)>) -> Self {
        self.0.set_input("tags", tags_value(tags.into_iter().map(|(k, v)| (k.into(), v.into()))));
        self
    }

    /// When a provider for this URL already exists in the account, take it over on create (its
    /// client ids, thumbprints and tags are made to match) instead of failing.
    pub fn adopt_existing(self) -> Self {
        self.0.set_input("adopt_existing", Value::Bool(true));
        self
    }

    /// The provider's ARN (`arn:aws:iam::<account>:oidc-provider/<host/path>`), known at plan time
    /// once the URL is.
    pub fn arn(&self) -> Output<String> {
        self.0.output_string("arn")
    }

    /// The URL without `https://`, as condition keys use it (`<issuer>:sub`, `<issuer>:aud`).
    pub fn issuer(&self) -> Output<String> {
        self.0.output_string("issuer")
    }

    /// The normalized URL (`https://...`, no trailing slash).
    pub fn url(&self) -> Output<String> {
        self.0.output_string("url")
    }
}

impl ResourceHandle for OpenIdConnectProvider {
    fn resource(&self) -> &Resource {
        &self.0
    }
}

pub(crate) struct OpenIdConnectProviderType;

/// Normalizes an issuer URL: `https://` (any case) plus host and path, without trailing slashes.
pub(crate) fn normalize_url(url: &str) -> Result<String, String> {
    let example = "e.g. \"https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE\"";
    let t = url.trim();
    let rest = match t.get(..8) {
        Some(scheme) if scheme.eq_ignore_ascii_case("https://") => &t[8..],
        _ => return Err(format!("`{url}` must begin with `https://`: IAM OIDC provider URLs are the token issuer, {example}")),
    };
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("`{url}` has no host; {example}"));
    }
    if let Some(bad) = rest.chars().find(|c| c.is_whitespace() || c.is_control() || *c == '?' || *c == '#') {
        return Err(format!("`{url}` contains `{}`; the issuer URL has no spaces, query or fragment, {example}", bad.escape_default()));
    }
    let full = format!("https://{rest}");
    if full.len() > 255 {
        return Err(format!("`{url}` is {} characters long; IAM allows at most 255", full.len()));
    }
    Ok(full)
}

/// The issuer: the URL without its scheme.
fn issuer_of(url: &str) -> &str {
    url.strip_prefix("https://").unwrap_or(url)
}

/// The issuer part of a provider ARN (after `oidc-provider/`), without trailing slashes.
fn issuer_of_arn(arn: &str) -> Option<&str> {
    arn.split_once(":oidc-provider/").map(|(_, rest)| rest.trim_end_matches('/'))
}

fn outputs(arn: &str, url: &str) -> Value {
    Value::from_pairs([("arn", Value::from(arn)), ("issuer", Value::from(issuer_of(url))), ("url", Value::from(url))])
}

/// Known string items of a list input.
fn strings(inputs: &Value, key: &str) -> Option<Vec<String>> {
    match field(inputs, key) {
        Field::Known(Value::List(items)) => Some(items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect()),
        _ => None,
    }
}

fn sorted(items: &[String], map: impl Fn(&str) -> String) -> Vec<String> {
    let set: BTreeSet<String> = items.iter().map(|s| map(s)).collect();
    set.into_iter().collect()
}

fn list_value(items: Vec<String>) -> Value {
    Value::List(items.into_iter().map(Value::String).collect())
}

/// The provider as it is now, in the form `check` gives inputs.
fn current_inputs(p: &GetOpenIdConnectProviderOutput, declared: &Value) -> Value {
    let url = p.url().unwrap_or_default();
    let url = normalize_url(&format!("https://{}", issuer_of(url))).unwrap_or_else(|_| url.to_string());
    let mut inputs = Value::from_pairs([
        ("url", Value::from(url)),
        ("client_ids", list_value(sorted(p.client_id_list(), str::to_string))),
    ]);
    // IAM may fill in thumbprints itself when none were given: only compare them when the
    // program manages them.
    if declared.get("thumbprints").is_some_and(|t| !matches!(t, Value::Null)) {
        inputs.set_path("thumbprints", Some(list_value(sorted(p.thumbprint_list(), str::to_ascii_lowercase))));
    }
    set_read_tags(&mut inputs, declared, tags_from_aws(p.tags()));
    if declared.get("adopt_existing") == Some(&Value::Bool(true)) {
        inputs.set_path("adopt_existing", Some(Value::Bool(true)));
    }
    inputs
}

/// Finds the account's provider for `url` (trailing slashes aside): its ARN and description.
async fn find_by_url(aws: &Aws, url: &str) -> Result<Option<(String, GetOpenIdConnectProviderOutput)>, ProviderError> {
    let iam = &aws.clients.iam;
    let list = iam.list_open_id_connect_providers().send().await.map_err(aws_error("iam:ListOpenIDConnectProviders"))?;
    let issuer = issuer_of(url);
    for entry in list.open_id_connect_provider_list() {
        let Some(arn) = entry.arn() else { continue };
        if issuer_of_arn(arn) != Some(issuer) {
            continue;
        }
        let got = iam.get_open_id_connect_provider().open_id_connect_provider_arn(arn).send().await;
        if let Some(p) = found(got, "iam:GetOpenIDConnectProvider")? {
            return Ok(Some((arn.to_string(), p)));
        }
    }
    Ok(None)
}

async fn get(aws: &Aws, arn: &str) -> Result<Option<GetOpenIdConnectProviderOutput>, ProviderError> {
    found(aws.clients.iam.get_open_id_connect_provider().open_id_connect_provider_arn(arn).send().await, "iam:GetOpenIDConnectProvider")
}

/// The error for a provider that exists already, with both ways forward.
fn already_exists(urn: &Urn, url: &str, account: &str, arn: &str) -> ProviderError {
    ProviderError::with_kind(
        ErrorKind::Permanent,
        Some("EntityAlreadyExists".into()),
        format!(
            "an IAM OIDC provider for `{url}` already exists in account {account}: `{arn}`. An account has one \
             provider per URL. Either import it into this stack (`import {urn} {arn}`), or set \
             `.adopt_existing()` on the resource so that creating it takes the existing provider over \
             (its client ids, thumbprints and tags are then made to match the program)"
        ),
    )
}

/// Makes an existing provider's client ids and thumbprints (those `inputs` has) and, with
/// `manage_tags`, its tags match `inputs`. Compared with what it has now, so changes made
/// outside Strake are repaired too.
async fn converge(aws: &Aws, arn: &str, now: &GetOpenIdConnectProviderOutput, inputs: &Value, manage_tags: bool) -> Result<(), ProviderError> {
    let iam = &aws.clients.iam;
    if let Some(want) = strings(inputs, "client_ids") {
        let have: BTreeSet<&str> = now.client_id_list().iter().map(String::as_str).collect();
        let want: BTreeSet<&str> = want.iter().map(String::as_str).collect();
        // Add first, so the provider never goes without an audience the program keeps.
        for id in want.difference(&have) {
            iam.add_client_id_to_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .client_id(*id)
                .send()
                .await
                .map_err(aws_error("iam:AddClientIDToOpenIDConnectProvider"))?;
        }
        for id in have.difference(&want) {
            iam.remove_client_id_from_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .client_id(*id)
                .send()
                .await
                .map_err(aws_error("iam:RemoveClientIDFromOpenIDConnectProvider"))?;
        }
    }
    // Without thumbprints in the program, IAM's own list is left alone.
    if let Some(want) = strings(inputs, "thumbprints") {
        let have = sorted(now.thumbprint_list(), str::to_ascii_lowercase);
        if have != want {
            iam.update_open_id_connect_provider_thumbprint()
                .open_id_connect_provider_arn(arn)
                .set_thumbprint_list(Some(want))
                .send()
                .await
                .map_err(aws_error("iam:UpdateOpenIDConnectProviderThumbprint"))?;
        }
    }
    if manage_tags {
        let (removed, set) = tag_changes(&tags_from_aws(now.tags()), &tags(inputs));
        if !removed.is_empty() {
            iam.untag_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .set_tag_keys(Some(removed))
                .send()
                .await
                .map_err(aws_error("iam:UntagOpenIDConnectProvider"))?;
        }
        if !set.is_empty() {
            iam.tag_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .set_tags(Some(tag_list(&set)))
                .send()
                .await
                .map_err(aws_error("iam:TagOpenIDConnectProvider"))?;
        }
    }
    Ok(())
}

#[async_trait]
impl AwsResource for OpenIdConnectProviderType {
    fn check(&self, _aws: &Aws, req: CheckRequest) -> CheckResponse {
        let mut inputs = req.inputs;
        let mut failures = Vec::new();
        require(&inputs, "url", "the issuer URL, e.g. an EKS cluster's `https://oidc.eks.<region>.amazonaws.com/id/<id>`", &mut failures);
        match field(&inputs, "url") {
            Field::Known(Value::String(url)) => match normalize_url(url) {
                Ok(url) => inputs.set_path("url", Some(Value::from(url))),
                Err(e) => failures.push(CheckFailure::new("url", e)),
            },
            Field::Known(other) => failures.push(CheckFailure::new("url", format!("must be a string, not {other}"))),
            _ => {}
        }

        if matches!(field(&inputs, "client_ids"), Field::Absent) {
            inputs.set_path("client_ids", Some(list_value(vec![DEFAULT_CLIENT_ID.into()])));
        }
        if let Field::Known(v) = field(&inputs, "client_ids") {
            match normalize_string_list(v, |s| s.trim().to_string()) {
                Ok(ids) => {
                    if ids.len() > 100 {
                        failures.push(CheckFailure::new("client_ids", format!("has {} entries; IAM allows at most 100 per provider", ids.len())));
                    }
                    if let Some(bad) = ids.iter().find(|s| s.is_empty() || s.len() > 255) {
                        failures.push(CheckFailure::new(
                            "client_ids",
                            format!("`{bad}` must be 1 to 255 characters long (an audience such as \"{DEFAULT_CLIENT_ID}\")"),
                        ));
                    }
                    inputs.set_path("client_ids", Some(list_value(ids)));
                }
                Err(e) => failures.push(CheckFailure::new("client_ids", e)),
            }
        }

        if let Field::Known(v) = field(&inputs, "thumbprints") {
            match normalize_string_list(v, |s| s.trim().to_ascii_lowercase()) {
                Ok(prints) => {
                    for t in &prints {
                        if t.len() != 40 || !t.chars().all(|c| c.is_ascii_hexdigit()) {
                            failures.push(CheckFailure::new(
                                "thumbprints",
                                format!(
                                    "`{t}` is not a SHA-1 thumbprint: use the certificate's 40 hex digits without colons \
                                     (or leave thumbprints out; IAM does not need them for issuers with trusted CA certificates)"
                                ),
                            ));
                        }
                    }
                    if prints.len() > 5 {
                        failures.push(CheckFailure::new("thumbprints", format!("has {} entries; IAM allows at most 5", prints.len())));
                    }
                    inputs.set_path("thumbprints", Some(list_value(prints)));
                }
                Err(e) => failures.push(CheckFailure::new("thumbprints", e)),
            }
        }

        match field(&inputs, "adopt_existing") {
            Field::Known(Value::Bool(true)) => {}
            // `false` is the default: keep it out of the recorded inputs.
            Field::Known(Value::Bool(false)) => inputs.set_path("adopt_existing", None),
            Field::Known(other) => failures.push(CheckFailure::new("adopt_existing", format!("must be true or false, not {other}"))),
            _ => {}
        }
        check_tags(&inputs, &mut failures);
        CheckResponse { inputs, failures, warnings: Vec::new() }
    }

    fn diff(&self, req: DiffRequest) -> DiffResponse {
        // `adopt_existing` only matters when creating: changing it changes nothing in the cloud.
        let changes: Vec<String> =
            strake::diff::changed_properties(&req.old_inputs, &req.new_inputs).into_iter().filter(|c| c != "adopt_existing").collect();
        let replaces = changes.iter().filter(|c| c.as_str() == "url").cloned().collect();
        // A new URL is another provider, which can exist next to the old one.
        DiffResponse { changes, replaces, delete_before_replace: false }
    }

    fn preview(&self, aws: &Aws, req: PreviewRequest) -> Value {
        let Some(url) = known_str(&req.inputs, "url") else { return Value::Unknown };
        // An update keeps the provider, and its ARN as IAM wrote it (an adopted provider's may end in `/`).
        let prior_arn = req.prior_outputs.as_ref().and_then(|o| known_str(o, "arn").map(str::to_string));
        let arn = prior_arn.unwrap_or_else(|| iam_arn(aws, &format!("oidc-provider/{}", issuer_of(url))));
        outputs(&arn, url)
    }

    async fn create(&self, aws: &Aws, req: CreateRequest) -> Result<CreateResponse, ProviderError> {
        let i = &req.inputs;
        let url = known_str(i, "url").unwrap_or_default();
        let adopt = i.get("adopt_existing") == Some(&Value::Bool(true));
        // One provider per URL: look first, so a provider registered with a trailing slash is found too.
        if let Some((arn, existing)) = find_by_url(aws, url).await? {
            if !adopt {
                return Err(already_exists(&req.urn, url, &aws.caller.account, &arn));
            }
            converge(aws, &arn, &existing, i, true).await?;
            return Ok(CreateResponse { outputs: outputs(&arn, url), id: arn });
        }
        // Thumbprints are optional for IAM (and moto): none are sent unless the program sets them.
        let created = aws
            .clients
            .iam
            .create_open_id_connect_provider()
            .url(url)
            .set_client_id_list(strings(i, "client_ids"))
            .set_thumbprint_list(strings(i, "thumbprints").filter(|t| !t.is_empty()))
            .set_tags(Some(tag_list(&tags(i))).filter(|t| !t.is_empty()))
            .send()
            .await;
        let arn = match created {
            Ok(out) => out.open_id_connect_provider_arn().unwrap_or_default().to_string(),
            Err(e) => {
                let f = AwsFailure::from(e);
                if !f.is_code("EntityAlreadyExists") {
                    return Err(f.into_error("iam:CreateOpenIDConnectProvider"));
                }
                // Created by someone else since we looked.
                let Some((arn, existing)) = find_by_url(aws, url).await? else {
                    return Err(f.into_error("iam:CreateOpenIDConnectProvider"));
                };
                if !adopt {
                    return Err(already_exists(&req.urn, url, &aws.caller.account, &arn));
                }
                converge(aws, &arn, &existing, i, true).await?;
                arn
            }
        };
        if arn.is_empty() {
            return Err(ProviderError::permanent("iam:CreateOpenIDConnectProvider returned no ARN"));
        }
        Ok(CreateResponse { outputs: outputs(&arn, url), id: arn })
    }

    async fn read(&self, aws: &Aws, req: ReadRequest) -> Result<ReadResponse, ProviderError> {
        let (arn, provider) = match &req.id {
            Some(arn) => match get(aws, arn).await? {
                Some(p) => (arn.clone(), p),
                None => return Ok(ReadResponse::Gone),
            },
            None => {
                let Some(url) = known_str(&req.inputs, "url").and_then(|u| normalize_url(u).ok()) else { return Ok(ReadResponse::Gone) };
                match find_by_url(aws, &url).await? {
                    Some(found) => found,
                    None => return Ok(ReadResponse::Gone),
                }
            }
        };
        let inputs = current_inputs(&provider, &req.inputs);
        let url = known_str(&inputs, "url").unwrap_or_default().to_string();
        Ok(ReadResponse::Found { outputs: outputs(&arn, &url), id: arn, inputs })
    }

    async fn update(&self, aws: &Aws, req: UpdateRequest) -> Result<UpdateResponse, ProviderError> {
        let arn = req.id.as_str();
        let now = get(aws, arn)
            .await?
            .ok_or_else(|| ProviderError::with_kind(ErrorKind::Permanent, Some("NoSuchEntity".into()), format!("the OIDC provider `{arn}` no longer exists; plan again to create it")))?;
        let changed = |k: &str| req.changes.iter().any(|c| c == k);
        let mut wanted = req.new_inputs.clone();
        for key in ["client_ids", "thumbprints"] {
            if !changed(key) {
                wanted.set_path(key, None);
            }
        }
        converge(aws, arn, &now, &wanted, changed("tags")).await?;
        let url = known_str(&req.new_inputs, "url").unwrap_or_default();
        Ok(UpdateResponse { outputs: outputs(arn, url) })
    }

    async fn delete(&self, aws: &Aws, req: DeleteRequest) -> Result<(), ProviderError> {
        let deleted = aws.clients.iam.delete_open_id_connect_provider().open_id_connect_provider_arn(&req.id).send().await;
        found(deleted, "iam:DeleteOpenIDConnectProvider").map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_normalized() {
        assert_eq!(normalize_url("https://x/id/1/").unwrap(), "https://x/id/1");
        assert_eq!(normalize_url("HTTPS://x/id/1").unwrap(), "https://x/id/1");
        assert_eq!(normalize_url(" https://x/id/1// ").unwrap(), "https://x/id/1");
        assert!(normalize_url("http://x/id/1").unwrap_err().contains("https://"));
        assert!(normalize_url("x/id/1").unwrap_err().contains("https://"));
        assert!(normalize_url("https://").unwrap_err().contains("no host"));
        assert!(normalize_url("https://x/?a=b").unwrap_err().contains("query"));
        assert!(normalize_url(&format!("https://{}", "a".repeat(300))).unwrap_err().contains("255"));
        assert_eq!(issuer_of_arn("arn:aws:iam::1:oidc-provider/x/id/1/"), Some("x/id/1"));
    }
}
