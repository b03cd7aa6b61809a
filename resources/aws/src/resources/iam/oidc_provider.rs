//! `aws:iam:OpenIdConnectProvider`: an IAM OIDC identity provider (e.g. an EKS cluster's issuer),
//! the `Federated` principal of web-identity trust policies.
//!
//! The URL is the issuer: `https://` plus host and path, compared without trailing slashes. Client
//! ids and thumbprints are sets (sorted, de-duplicated) and change in place; a new URL is a new
//! provider. An account has at most one provider per URL, so creating one that already exists
//! fails with what to do, unless the resource says `.adopt_existing()`.

use std::collections::BTreeSet;

use aws_sdk_iam::operation::get_open_id_connect_provider::GetOpenIdConnectProviderOutput;
use serde::{Deserialize, Serialize};
use strake::provider::{CreatedLookup, ProviderError};
use strake::typed::*;
use strake::{Output, Resource, ResourceHandle, Urn};

use super::shared::{gone, normalize_string_list, some_tags, string_list, tag_changes, tag_list, tags_from_aws};
use crate::context::Aws;
use crate::error::{AwsFailure, aws_error, found};
use crate::resources::{Tags, check_tags, read_tags};

/// The type token of an IAM OIDC identity provider.
pub const TYPE: &str = "aws:iam:OpenIdConnectProvider";

/// The audience of tokens for `sts:AssumeRoleWithWebIdentity` (what EKS service accounts use).
pub const DEFAULT_CLIENT_ID: &str = crate::trust_lint::STS_AUDIENCE;

/// The inputs of an OIDC identity provider.
#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
#[strake(handle = OpenIdConnectProvider, resource = TYPE)]
pub struct OidcProviderInputs {
    /// The issuer URL, e.g. an EKS cluster's `https://oidc.eks.<region>.amazonaws.com/id/<id>`.
    /// An account has one provider per URL.
    #[strake(new, replace_on, unique)]
    pub url: String,
    #[strake(default = vec![DEFAULT_CLIENT_ID.to_string()])]
    /// The audiences (`aud`) accepted.
    pub client_ids: Vec<String>,
    /// SHA-1 thumbprints of the issuer's certificate chain.
    pub thumbprints: Option<Vec<String>>,
    /// The provider's tags.
    #[strake(set, pairs)]
    pub tags: Option<Tags>,
    /// Take over an existing provider for the URL on create.
    #[strake(create_only)]
    pub adopt_existing: Option<bool>,
}

/// The outputs of an OIDC identity provider.
#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
#[strake(handle = OpenIdConnectProvider)]
pub struct OidcProviderOutputs {
    /// The provider's ARN (`arn:aws:iam::<account>:oidc-provider/<host/path>`), known at plan time
    /// once the URL is.
    #[strake(get)]
    pub arn: String,
    /// The URL without `https://`, as condition keys use it (`<issuer>:sub`, `<issuer>:aud`).
    #[strake(get)]
    pub issuer: String,
    /// The normalized URL (`https://...`, no trailing slash).
    #[strake(get)]
    pub url: String,
}

/// An IAM OpenID Connect identity provider for an issuer URL. Client ids default to
/// `sts.amazonaws.com`.
#[derive(Clone, ResourceHandle)]
pub struct OpenIdConnectProvider(Resource);

impl OpenIdConnectProvider {
    /// The audiences (`aud`) accepted; replaces the default `sts.amazonaws.com`.
    pub fn client_ids<S: Into<Output<String>>>(self, ids: impl IntoIterator<Item = S>) -> Self {
        self.0.set(OidcProviderInputs::CLIENT_IDS, string_list(ids));
        self
    }

    /// SHA-1 thumbprints (40 hex digits) of the issuer's certificate chain. Optional: IAM no
    /// longer needs them for issuers whose certificates chain to a trusted CA (and may record its
    /// own). Without them the provider's list is neither compared nor changed.
    pub fn thumbprints<S: Into<Output<String>>>(self, thumbprints: impl IntoIterator<Item = S>) -> Self {
        self.0.set(OidcProviderInputs::THUMBPRINTS, string_list(thumbprints));
        self
    }

    /// When a provider for this URL already exists in the account, take it over on create (its
    /// client ids, thumbprints and tags are made to match) instead of failing.
    pub fn adopt_existing(self) -> Self {
        self.0.set(OidcProviderInputs::ADOPT_EXISTING, true);
        self
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

fn outputs(arn: &str, url: &str) -> OidcProviderOutputs {
    OidcProviderOutputs { arn: arn.to_string(), issuer: issuer_of(url).to_string(), url: url.to_string() }
}

fn sorted(items: &[String], map: impl Fn(&str) -> String) -> Vec<String> {
    let set: BTreeSet<String> = items.iter().map(|s| map(s)).collect();
    set.into_iter().collect()
}

/// The provider as it is now, in the form `check` gives inputs.
fn current_inputs(p: &GetOpenIdConnectProviderOutput, declared: Option<&OidcProviderInputs>) -> OidcProviderInputs {
    let url = p.url().unwrap_or_default();
    let url = normalize_url(&format!("https://{}", issuer_of(url))).unwrap_or_else(|_| url.to_string());
    OidcProviderInputs {
        url,
        client_ids: sorted(p.client_id_list(), str::to_string),
        // IAM may fill in thumbprints itself when none were given: only compare them when the
        // program manages them.
        thumbprints: declared.and_then(|d| d.thumbprints.as_ref()).map(|_| sorted(p.thumbprint_list(), str::to_ascii_lowercase)),
        tags: read_tags(declared.and_then(|d| d.tags.as_ref()), tags_from_aws(p.tags())),
        adopt_existing: declared.and_then(|d| d.adopt_existing),
    }
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
    ProviderError::coded(
        "EntityAlreadyExists",
        format!(
            "an IAM OIDC provider for `{url}` already exists in account {account}: `{arn}`. An account has one \
             provider per URL. Either import it into this stack (`import {urn} {arn}`), or set \
             `.adopt_existing()` on the resource so that creating it takes the existing provider over \
             (its client ids, thumbprints and tags are then made to match the program)"
        ),
    )
}

/// An existing provider for the URL: taken over when the resource says `.adopt_existing()`,
/// refused otherwise. Its ARN.
async fn take_over(
    aws: &Aws,
    req: &Create<'_, OidcProviderInputs>,
    arn: String,
    existing: &GetOpenIdConnectProviderOutput,
) -> Result<String, ProviderError> {
    let i = req.inputs;
    if i.adopt_existing != Some(true) {
        return Err(already_exists(req.urn, &i.url, &aws.caller.account, &arn));
    }
    converge(aws, &arn, existing, Wanted::everything(i)).await?;
    Ok(arn)
}

/// What to make an existing provider match: client ids and thumbprints when given, and tags
/// when managed. Compared with what it has now, so changes made outside Strake are repaired too.
struct Wanted<'a> {
    client_ids: Option<&'a [String]>,
    thumbprints: Option<&'a [String]>,
    tags: Option<Option<&'a Tags>>,
}

impl<'a> Wanted<'a> {
    fn everything(i: &'a OidcProviderInputs) -> Self {
        Wanted { client_ids: Some(&i.client_ids), thumbprints: i.thumbprints.as_deref(), tags: Some(i.tags.as_ref()) }
    }
}

async fn converge(aws: &Aws, arn: &str, now: &GetOpenIdConnectProviderOutput, wanted: Wanted<'_>) -> Result<(), ProviderError> {
    let iam = &aws.clients.iam;
    if let Some(want) = wanted.client_ids {
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
    if let Some(want) = wanted.thumbprints {
        let have = sorted(now.thumbprint_list(), str::to_ascii_lowercase);
        if have != want {
            iam.update_open_id_connect_provider_thumbprint()
                .open_id_connect_provider_arn(arn)
                .set_thumbprint_list(Some(want.to_vec()))
                .send()
                .await
                .map_err(aws_error("iam:UpdateOpenIDConnectProviderThumbprint"))?;
        }
    }
    if let Some(tags) = wanted.tags {
        let (removed, set) = tag_changes(Some(&tags_from_aws(now.tags())), tags);
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

impl ResourceType for OpenIdConnectProviderType {
    type Context = Aws;
    type Inputs = OidcProviderInputs;
    type Outputs = OidcProviderOutputs;
    // A new URL is another provider, which can exist next to the old one; `adopt_existing` only
    // matters when creating.
    const SPEC: Spec = Spec::new(TYPE, CreatedLookup::FromInputs);

    fn check(&self, _aws: &Aws, c: &mut Check<OidcProviderInputs>) {
        c.normalize(OidcProviderInputs::URL, |url| normalize_url(&url));
        c.normalize(OidcProviderInputs::CLIENT_IDS, |ids| {
            let ids = normalize_string_list(ids, |s| s.trim().to_string());
            if ids.len() > 100 {
                return Err(format!("has {} entries; IAM allows at most 100 per provider", ids.len()));
            }
            if let Some(bad) = ids.iter().find(|s| s.is_empty() || s.len() > 255) {
                return Err(format!("`{bad}` must be 1 to 255 characters long (an audience such as \"{DEFAULT_CLIENT_ID}\")"));
            }
            Ok(ids)
        });
        c.normalize(OidcProviderInputs::THUMBPRINTS, |prints| {
            let prints = normalize_string_list(prints, |s| s.trim().to_ascii_lowercase());
            if let Some(t) = prints.iter().find(|t| t.len() != 40 || !t.chars().all(|c| c.is_ascii_hexdigit())) {
                return Err(format!(
                    "`{t}` is not a SHA-1 thumbprint: use the certificate's 40 hex digits without colons \
                     (or leave thumbprints out; IAM does not need them for issuers with trusted CA certificates)"
                ));
            }
            if prints.len() > 5 {
                return Err(format!("has {} entries; IAM allows at most 5", prints.len()));
            }
            Ok(prints)
        });
        // `false` is the default: keep it out of the recorded inputs.
        if c.known(OidcProviderInputs::ADOPT_EXISTING) == Some(false) {
            c.remove(OidcProviderInputs::ADOPT_EXISTING);
        }
        check_tags(c, OidcProviderInputs::TAGS, None);
    }

    fn preview(
        &self,
        aws: &Aws,
        inputs: &Partial<OidcProviderInputs>,
        prior: Option<&Partial<OidcProviderOutputs>>,
    ) -> Option<Partial<OidcProviderOutputs>> {
        let url = inputs.known(OidcProviderInputs::URL)?;
        // An update keeps the provider, and its ARN as IAM wrote it (an adopted provider's may end in `/`).
        let prior_arn = prior.and_then(|o| o.known(OidcProviderOutputs::ARN));
        let arn = prior_arn.unwrap_or_else(|| aws.iam_arn(&format!("oidc-provider/{}", issuer_of(&url))));
        Some(Partial::from_typed(&outputs(&arn, &url)))
    }

    fn claim(&self, aws: &Aws, inputs: &Partial<OidcProviderInputs>) -> Option<String> {
        let url = inputs.known(OidcProviderInputs::URL)?;
        Some(format!("the IAM OIDC provider of `{}` in account {}", url.trim_start_matches("https://"), aws.caller.account))
    }

    async fn create(&self, aws: &Aws, req: Create<'_, OidcProviderInputs>) -> Result<Created<OidcProviderOutputs>, ProviderError> {
        let i = req.inputs;
        // One provider per URL: look first, so a provider registered with a trailing slash is found too.
        if let Some((arn, existing)) = find_by_url(aws, &i.url).await? {
            let arn = take_over(aws, &req, arn, &existing).await?;
            return Ok(Created::new(arn.clone(), outputs(&arn, &i.url)));
        }
        // Thumbprints are optional for IAM (and moto): none are sent unless the program sets them.
        let created = aws
            .clients
            .iam
            .create_open_id_connect_provider()
            .url(&i.url)
            .set_client_id_list(Some(i.client_ids.clone()))
            .set_thumbprint_list(i.thumbprints.clone().filter(|t| !t.is_empty()))
            .set_tags(some_tags(i.tags.as_ref()))
            .send()
            .await;
        let arn = match created {
            Ok(out) => out.open_id_connect_provider_arn().unwrap_or_default().to_string(),
            Err(e) => {
                let f = AwsFailure::from(e);
                // Created by someone else since we looked.
                let now = if f.has_code("EntityAlreadyExists") { find_by_url(aws, &i.url).await? } else { None };
                let Some((arn, existing)) = now else { return Err(f.into_error("iam:CreateOpenIDConnectProvider")) };
                take_over(aws, &req, arn, &existing).await?
            }
        };
        if arn.is_empty() {
            return Err(ProviderError::permanent("iam:CreateOpenIDConnectProvider returned no ARN"));
        }
        Ok(Created::new(arn.clone(), outputs(&arn, &i.url)))
    }

    async fn read(
        &self,
        aws: &Aws,
        req: Read<'_, OidcProviderInputs, OidcProviderOutputs>,
    ) -> Result<Option<Observed<OidcProviderInputs, OidcProviderOutputs>>, ProviderError> {
        let (arn, provider) = match (req.id, req.inputs) {
            (Some(arn), _) => match get(aws, arn).await? {
                Some(p) => (arn.to_string(), p),
                None => return Ok(None),
            },
            (None, Some(i)) => {
                let Ok(url) = normalize_url(&i.url) else { return Ok(None) };
                match find_by_url(aws, &url).await? {
                    Some(found) => found,
                    None => return Ok(None),
                }
            }
            (None, None) => return Ok(None),
        };
        let inputs = current_inputs(&provider, req.inputs);
        let outputs = outputs(&arn, &inputs.url);
        Ok(Some(Observed::new(arn, inputs, outputs)))
    }

    async fn update(&self, aws: &Aws, req: Update<'_, OidcProviderInputs, OidcProviderOutputs>) -> Result<OidcProviderOutputs, ProviderError> {
        let arn = req.id;
        let now = get(aws, arn).await?.ok_or_else(|| gone(&format!("the OIDC provider `{arn}`")))?;
        let new = req.new;
        let wanted = Wanted {
            client_ids: req.changed(OidcProviderInputs::CLIENT_IDS).then_some(new.client_ids.as_slice()),
            thumbprints: new.thumbprints.as_deref().filter(|_| req.changed(OidcProviderInputs::THUMBPRINTS)),
            tags: req.changed(OidcProviderInputs::TAGS).then_some(new.tags.as_ref()),
        };
        converge(aws, arn, &now, wanted).await?;
        Ok(outputs(arn, &new.url))
    }

    async fn delete(&self, aws: &Aws, req: Delete<'_, OidcProviderInputs, OidcProviderOutputs>) -> Result<(), ProviderError> {
        let deleted = aws.clients.iam.delete_open_id_connect_provider().open_id_connect_provider_arn(req.id).send().await;
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
