//! `aws:iam:Policy`: a customer managed IAM policy.
//!
//! A new document becomes a new default policy version; IAM keeps at most 5 versions, so the
//! oldest non-default one is deleted first when the limit is reached. Name, path and description
//! cannot change in IAM: changing them replaces the policy.

use aws_sdk_iam::types::PolicyVersion;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use strake::provider::{CreatedLookup, ProviderError};
use strake::typed::*;
use strake::{Resource, ResourceHandle, Value};

use super::shared::{gone, some_tags, tag_changes, tag_list, tags_from_aws};
use crate::context::Aws;
use crate::error::{aws_error, found};
use crate::policy::PolicyKind;
use crate::resources::{Tags, check_policy, check_tags, document_from_aws, policy_text, read_tags};
use crate::validate::{check_iam_path, check_policy_name};

/// The type token of a managed policy.
pub const TYPE: &str = "aws:iam:Policy";

/// IAM's limit of versions per managed policy.
const MAX_VERSIONS: usize = 5;

/// The inputs of a managed policy.
#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
#[strake(handle = Policy, resource = TYPE)]
pub struct PolicyInputs {
    /// The policy's name in IAM (default: the resource name plus a suffix). Changing it replaces
    /// the policy. The ARN is path plus name, unique in the account: a replacement that keeps
    /// both deletes the old policy first.
    #[strake(set = "policy_name", generated_name = 128, replace_on, unique)]
    pub name: String,
    /// The IAM path (default `/`). Changing it replaces the policy.
    #[strake(default = "/", set, replace_on, unique)]
    pub path: String,
    /// The identity policy document (e.g. a [`PolicyDocument`](crate::PolicyDocument)).
    #[strake(new, dynamic)]
    pub document: Json,
    /// IAM cannot change a policy's description: changing it replaces the policy.
    #[strake(set, replace_on)]
    pub description: Option<String>,
    /// The policy's tags.
    #[strake(set, pairs)]
    pub tags: Option<Tags>,
}

/// The outputs of a managed policy.
#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
#[strake(handle = Policy)]
pub struct PolicyOutputs {
    /// The policy's ARN, known at plan time once name and path are.
    #[strake(get)]
    pub arn: String,
    /// The policy's name in IAM.
    #[strake(get, echo)]
    pub name: String,
    /// The IAM path.
    #[strake(echo)]
    pub path: String,
    /// IAM's stable unique id (`ANPA...`).
    #[strake(get)]
    pub policy_id: String,
    /// The version in force (`v1`, `v2`, ...).
    #[strake(get)]
    pub default_version_id: String,
    /// The document of the version in force.
    #[strake(echo)]
    pub document: Json,
}

/// A customer managed policy. The document is required; the name is generated unless set.
#[derive(Clone, ResourceHandle)]
pub struct Policy(Resource);

pub(crate) struct PolicyType;

fn policy_arn(aws: &Aws, path: &str, name: &str) -> String {
    aws.iam_arn(&format!("policy{path}{name}"))
}

fn outputs(p: &aws_sdk_iam::types::Policy, document: Json) -> PolicyOutputs {
    PolicyOutputs {
        arn: p.arn().unwrap_or_default().to_string(),
        name: p.policy_name().unwrap_or_default().to_string(),
        path: p.path().unwrap_or("/").to_string(),
        policy_id: p.policy_id().unwrap_or_default().to_string(),
        default_version_id: p.default_version_id().unwrap_or_default().to_string(),
        document,
    }
}

/// The policy and its default version's document (canonical), or `None` when it does not exist.
async fn get(aws: &Aws, arn: &str) -> Result<Option<(aws_sdk_iam::types::Policy, Json)>, ProviderError> {
    let iam = &aws.clients.iam;
    let Some(got) = found(iam.get_policy().policy_arn(arn).send().await, "iam:GetPolicy")? else { return Ok(None) };
    let policy = got.policy.ok_or_else(|| ProviderError::permanent("iam:GetPolicy returned no policy"))?;
    let version = policy.default_version_id().unwrap_or("v1").to_string();
    let Some(v) = found(iam.get_policy_version().policy_arn(arn).version_id(&version).send().await, "iam:GetPolicyVersion")? else {
        return Ok(None);
    };
    let document = v.policy_version().and_then(|v| v.document()).map(document_from_aws).unwrap_or_default();
    Ok(Some((policy, document)))
}

async fn versions(aws: &Aws, arn: &str) -> Result<Vec<PolicyVersion>, ProviderError> {
    let mut out = Vec::new();
    let mut marker = None;
    loop {
        let page =
            aws.clients.iam.list_policy_versions().policy_arn(arn).set_marker(marker).send().await.map_err(aws_error("iam:ListPolicyVersions"))?;
        out.extend(page.versions().iter().cloned());
        match page.marker() {
            Some(m) if page.is_truncated() => marker = Some(m.to_string()),
            _ => return Ok(out),
        }
    }
}

/// The order in which versions are pruned: oldest first (by creation, then by number).
fn age_key(v: &PolicyVersion) -> (i64, u32, u64) {
    let created = v.create_date().map(|d| (d.secs(), d.subsec_nanos())).unwrap_or((i64::MAX, 0));
    let number = v.version_id().and_then(|id| id.trim_start_matches('v').parse().ok()).unwrap_or(u64::MAX);
    (created.0, created.1, number)
}

/// The non-default versions to delete so that one more fits under the limit, oldest first.
fn versions_to_prune(versions: &[PolicyVersion]) -> Vec<String> {
    let mut old: Vec<&PolicyVersion> = versions.iter().filter(|v| !v.is_default_version()).collect();
    old.sort_by_key(|v| age_key(v));
    let excess = (versions.len() + 1).saturating_sub(MAX_VERSIONS);
    old.into_iter().take(excess).filter_map(|v| v.version_id().map(str::to_string)).collect()
}

async fn delete_version(aws: &Aws, arn: &str, version: &str) -> Result<(), ProviderError> {
    let deleted = aws.clients.iam.delete_policy_version().policy_arn(arn).version_id(version).send().await;
    found(deleted, "iam:DeletePolicyVersion").map(drop)
}

impl ResourceType for PolicyType {
    type Context = Aws;
    type Inputs = PolicyInputs;
    type Outputs = PolicyOutputs;
    const SPEC: Spec = Spec::new(TYPE, CreatedLookup::FromInputs);

    fn check(&self, _aws: &Aws, c: &mut Check<PolicyInputs>) {
        if c.known(PolicyInputs::DESCRIPTION).as_deref() == Some("") {
            // IAM stores no description as none: keep the two the same.
            c.remove(PolicyInputs::DESCRIPTION);
        }
        c.validate(PolicyInputs::NAME, |n| check_policy_name(n));
        c.validate(PolicyInputs::PATH, |p| check_iam_path(p));
        c.validate(PolicyInputs::DESCRIPTION, |d| {
            if d.chars().count() > 1000 { Err("is over 1,000 characters, IAM's limit for policy descriptions; shorten it".into()) } else { Ok(()) }
        });
        check_tags(c, PolicyInputs::TAGS, None);
        check_policy(c, PolicyInputs::DOCUMENT, PolicyKind::Identity);
    }

    fn preview(&self, aws: &Aws, inputs: &Partial<PolicyInputs>, prior: Option<&Partial<PolicyOutputs>>) -> Option<Partial<PolicyOutputs>> {
        let (name, path) = (inputs.known(PolicyInputs::NAME)?, inputs.known(PolicyInputs::PATH)?);
        let mut out = prior.cloned().unwrap_or_default();
        // A new document is a new default version.
        let document = inputs.raw(PolicyInputs::DOCUMENT.name());
        if out.raw(PolicyOutputs::DOCUMENT.name()) != document || !document.is_some_and(Value::is_known) {
            out.set_unknown(PolicyOutputs::DEFAULT_VERSION_ID);
        }
        out.set(PolicyOutputs::ARN, policy_arn(aws, &path, &name));
        Some(out)
    }

    fn claim(&self, aws: &Aws, inputs: &Partial<PolicyInputs>) -> Option<String> {
        let path = inputs.known(PolicyInputs::PATH).unwrap_or_else(|| "/".into());
        Some(format!("IAM policy `{path}{}` in account {}", inputs.known(PolicyInputs::NAME)?, aws.caller.account))
    }

    async fn create(&self, aws: &Aws, req: Create<'_, PolicyInputs>) -> Result<Created<PolicyOutputs>, ProviderError> {
        let i = req.inputs;
        let created = aws
            .clients
            .iam
            .create_policy()
            .policy_name(&i.name)
            .path(&i.path)
            .policy_document(policy_text(&i.document))
            .set_description(i.description.clone())
            .set_tags(some_tags(i.tags.as_ref()))
            .send()
            .await;
        let created = created.map_err(|e| {
            aws_error("iam:CreatePolicy")(e).advise("EntityAlreadyExists", || {
                let arn = policy_arn(aws, &i.path, &i.name);
                format!("; import the existing policy into this stack (`import {} {arn}`) or give this one another name", req.urn)
            })
        })?;
        let policy = created.policy.ok_or_else(|| ProviderError::permanent("iam:CreatePolicy returned no policy"))?;
        let arn = policy.arn().unwrap_or_default().to_string();
        Ok(Created::new(arn, outputs(&policy, i.document.clone())))
    }

    async fn read(
        &self,
        aws: &Aws,
        req: Read<'_, PolicyInputs, PolicyOutputs>,
    ) -> Result<Option<Observed<PolicyInputs, PolicyOutputs>>, ProviderError> {
        let Some(arn) = req.locate(|arn| Ok(arn.to_string()), |i| policy_arn(aws, &i.path, &i.name))? else { return Ok(None) };
        let Some((policy, document)) = get(aws, &arn).await? else { return Ok(None) };
        let inputs = PolicyInputs {
            name: policy.policy_name().unwrap_or_default().to_string(),
            path: policy.path().unwrap_or("/").to_string(),
            document: document.clone(),
            description: policy.description().filter(|d| !d.is_empty()).map(str::to_string),
            tags: read_tags(req.inputs.and_then(|i| i.tags.as_ref()), tags_from_aws(policy.tags())),
        };
        let id = policy.arn().unwrap_or(&arn).to_string();
        Ok(Some(Observed::new(id, inputs, outputs(&policy, document))))
    }

    async fn update(&self, aws: &Aws, req: Update<'_, PolicyInputs, PolicyOutputs>) -> Result<PolicyOutputs, ProviderError> {
        let arn = req.id;
        let iam = &aws.clients.iam;
        if req.changed(PolicyInputs::DOCUMENT) {
            // Make room first: IAM refuses a sixth version.
            for version in versions_to_prune(&versions(aws, arn).await?) {
                delete_version(aws, arn, &version).await?;
            }
            iam.create_policy_version()
                .policy_arn(arn)
                .policy_document(policy_text(&req.new.document))
                .set_as_default(true)
                .send()
                .await
                .map_err(aws_error("iam:CreatePolicyVersion"))?;
        }
        if req.changed(PolicyInputs::TAGS) {
            let (removed, set) = tag_changes(req.old.tags.as_ref(), req.new.tags.as_ref());
            if !removed.is_empty() {
                iam.untag_policy().policy_arn(arn).set_tag_keys(Some(removed)).send().await.map_err(aws_error("iam:UntagPolicy"))?;
            }
            if !set.is_empty() {
                iam.tag_policy().policy_arn(arn).set_tags(Some(tag_list(&set))).send().await.map_err(aws_error("iam:TagPolicy"))?;
            }
        }
        let (policy, document) = get(aws, arn).await?.ok_or_else(|| gone(&format!("the policy `{arn}`")))?;
        Ok(outputs(&policy, document))
    }

    async fn delete(&self, aws: &Aws, req: Delete<'_, PolicyInputs, PolicyOutputs>) -> Result<(), ProviderError> {
        let arn = req.id;
        // IAM deletes a policy only once its non-default versions are gone.
        let all = match versions(aws, arn).await {
            Ok(v) => v,
            Err(e) if e.has_code("NoSuchEntity") => return Ok(()),
            Err(e) => return Err(e),
        };
        for v in all.iter().filter(|v| !v.is_default_version()) {
            if let Some(id) = v.version_id() {
                delete_version(aws, arn, id).await?;
            }
        }
        let deleted = found(aws.clients.iam.delete_policy().policy_arn(arn).send().await, "iam:DeletePolicy");
        deleted.map(drop).map_err(|e| {
            e.advise("DeleteConflict", || {
                "; it is still attached to roles, users or groups: detach it first (declare the attachments in the program so \
                 Strake deletes them first; a policy replaced under the same name cannot be deleted while attached, so give \
                 the new one another name)"
                    .into()
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use aws_smithy_types::DateTime;

    use super::*;

    fn version(id: &str, secs: i64, default: bool) -> PolicyVersion {
        PolicyVersion::builder().version_id(id).create_date(DateTime::from_secs(secs)).is_default_version(default).build()
    }

    #[test]
    fn pruning_keeps_the_default_and_deletes_the_oldest() {
        let four = [version("v1", 1, false), version("v2", 2, false), version("v3", 3, true), version("v4", 4, false)];
        assert!(versions_to_prune(&four).is_empty());
        let five = [version("v2", 2, false), version("v1", 1, true), version("v3", 3, false), version("v4", 4, false), version("v5", 5, false)];
        assert_eq!(versions_to_prune(&five), vec!["v2"]);
        let same_time =
            [version("v10", 7, false), version("v9", 7, false), version("v11", 7, false), version("v12", 7, true), version("v8", 8, false)];
        assert_eq!(versions_to_prune(&same_time), vec!["v9"]);
    }
}
