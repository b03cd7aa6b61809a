//! `aws:iam:Policy`: a customer managed IAM policy.
//!
//! A new document becomes a new default policy version; IAM keeps at most 5 versions, so the
//! oldest non-default one is deleted first when the limit is reached. Name, path and description
//! cannot change in IAM: changing them replaces the policy.

use async_trait::async_trait;
use aws_sdk_iam::types::PolicyVersion;
use strake::provider::*;
use strake::{Output, ProviderRef, Resource, ResourceHandle, Stack, Value};

use super::shared::{found, iam_arn, set_read_tags, tag_changes, tag_list, tags_from_aws};
use crate::error::{AwsFailure, aws_error};
use crate::policy::PolicyKind;
use crate::provider::Aws;
use crate::resources::*;
use crate::validate::{check_iam_path, check_policy_name};

pub const TYPE: &str = "aws:iam:Policy";

/// IAM's limit of versions per managed policy.
const MAX_VERSIONS: usize = 5;

/// A customer managed policy. The document is required; the name is generated unless set.
#[derive(Clone)]
pub struct Policy(Resource);

impl Policy {
    /// A policy with this identity-policy `document` (e.g. a [`crate::PolicyDocument`]).
    #[track_caller]
    pub fn new(stack: &Stack, name: &str, provider: &ProviderRef, document: impl Into<Output<Value>>) -> Policy {
        let r = stack.resource(TYPE, name);
        r.set_input("document", document);
        Policy(r.provider(provider))
    }

    /// The policy's name in IAM (default: the resource name plus a suffix). Changing it replaces the policy.
    pub fn policy_name(self, name: impl Into<Output<String>>) -> Self {
        self.0.set_input("name", name.into());
        self
    }

    /// The IAM path (default `/`). Changing it replaces the policy.
    pub fn path(self, path: &str) -> Self {
        self.0.set_input("path", path);
        self
    }

    /// IAM cannot change a policy's description: changing it replaces the policy.
    pub fn description(self, description: &str) -> Self {
        self.0.set_input("description", description);
        self
    }

    pub fn tags<K: Into<String>, V: Into<String>>(self, tags: impl IntoIterator<Item = (K, V)>) -> Self {
        self.0.set_input("tags", tags_value(tags.into_iter().map(|(k, v)| (k.into(), v.into()))));
        self
    }

    /// The policy's ARN, known at plan time once name and path are.
    pub fn arn(&self) -> Output<String> {
        self.0.output_string("arn")
    }

    pub fn name(&self) -> Output<String> {
        self.0.output_string("name")
    }

    /// IAM's stable unique id (`ANPA...`).
    pub fn policy_id(&self) -> Output<String> {
        self.0.output_string("policy_id")
    }

    /// The version in force (`v1`, `v2`, ...).
    pub fn default_version_id(&self) -> Output<String> {
        self.0.output_string("default_version_id")
    }
}

impl ResourceHandle for Policy {
    fn resource(&self) -> &Resource {
        &self.0
    }
}

pub(crate) struct PolicyType;

fn policy_arn(aws: &Aws, path: &str, name: &str) -> String {
    iam_arn(aws, &format!("policy{path}{name}"))
}

fn outputs(p: &aws_sdk_iam::types::Policy, document: Value) -> Value {
    Value::from_pairs([
        ("arn", Value::from(p.arn().unwrap_or_default())),
        ("name", Value::from(p.policy_name().unwrap_or_default())),
        ("path", Value::from(p.path().unwrap_or("/"))),
        ("policy_id", Value::from(p.policy_id().unwrap_or_default())),
        ("default_version_id", Value::from(p.default_version_id().unwrap_or_default())),
        ("document", document),
    ])
}

/// The policy and its default version's document (canonical), or `None` when it does not exist.
async fn get(aws: &Aws, arn: &str) -> Result<Option<(aws_sdk_iam::types::Policy, Value)>, ProviderError> {
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
        let page = aws
            .clients
            .iam
            .list_policy_versions()
            .policy_arn(arn)
            .set_marker(marker)
            .send()
            .await
            .map_err(aws_error("iam:ListPolicyVersions"))?;
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

#[async_trait]
impl AwsResource for PolicyType {
    fn check(&self, _aws: &Aws, req: CheckRequest) -> CheckResponse {
        let mut inputs = req.inputs;
        let mut failures = Vec::new();
        if matches!(field(&inputs, "name"), Field::Absent) {
            let name = req.prior_inputs.as_ref().and_then(|p| p.get("name").cloned()).unwrap_or_else(|| Value::from(auto_name(&req.urn, 128)));
            inputs.set_path("name", Some(name));
        }
        if matches!(field(&inputs, "path"), Field::Absent) {
            inputs.set_path("path", Some(Value::from("/")));
        }
        if known_str(&inputs, "description") == Some("") {
            // IAM stores no description as none: keep the two the same.
            inputs.set_path("description", None);
        }
        check_str(&inputs, "name", &mut failures, check_policy_name);
        check_str(&inputs, "path", &mut failures, check_iam_path);
        check_str(&inputs, "description", &mut failures, |d| {
            if d.chars().count() > 1000 { Err("is over 1,000 characters, IAM's limit for policy descriptions; shorten it".into()) } else { Ok(()) }
        });
        check_tags(&inputs, &mut failures);
        require(&inputs, "document", "the identity policy document (e.g. a `PolicyDocument`)", &mut failures);
        let mut warnings = Vec::new();
        check_policy(&mut inputs, "document", PolicyKind::Identity, &mut failures, &mut warnings);
        CheckResponse { inputs, failures, warnings }
    }

    fn diff(&self, req: DiffRequest) -> DiffResponse {
        let changes = strake::diff::changed_properties(&req.old_inputs, &req.new_inputs);
        let replaces: Vec<String> = changes.iter().filter(|c| matches!(c.as_str(), "name" | "path" | "description")).cloned().collect();
        // The ARN is path + name, unique in the account: keeping both means the old one must go first.
        let same_arn = strake::diff::same(req.old_inputs.get("name"), req.new_inputs.get("name"))
            && strake::diff::same(req.old_inputs.get("path"), req.new_inputs.get("path"));
        DiffResponse { delete_before_replace: !replaces.is_empty() && same_arn, changes, replaces }
    }

    fn preview(&self, aws: &Aws, req: PreviewRequest) -> Value {
        let (Some(name), Some(path)) = (known_str(&req.inputs, "name"), known_str(&req.inputs, "path")) else { return Value::Unknown };
        let document = req.inputs.get("document").cloned().unwrap_or(Value::Unknown);
        let mut out = req.prior_outputs.unwrap_or_else(|| Value::from_pairs([("policy_id", Value::Unknown)]));
        // A new document is a new default version.
        if out.get("document") != Some(&document) || !document.is_known() {
            out.set_path("default_version_id", Some(Value::Unknown));
        }
        out.set_path("document", Some(document));
        out.set_path("name", Some(name.into()));
        out.set_path("path", Some(path.into()));
        out.set_path("arn", Some(Value::from(policy_arn(aws, path, name))));
        out
    }

    async fn create(&self, aws: &Aws, req: CreateRequest) -> Result<CreateResponse, ProviderError> {
        let i = &req.inputs;
        let (name, path) = (known_str(i, "name").unwrap_or_default(), known_str(i, "path").unwrap_or("/"));
        let created = aws
            .clients
            .iam
            .create_policy()
            .policy_name(name)
            .path(path)
            .policy_document(document_text(i, "document").unwrap_or_default())
            .set_description(known_str(i, "description").map(str::to_string))
            .set_tags(Some(tag_list(&tags(i))).filter(|t| !t.is_empty()))
            .send()
            .await;
        let policy = match created {
            Ok(out) => out.policy.ok_or_else(|| ProviderError::permanent("iam:CreatePolicy returned no policy"))?,
            Err(e) => {
                let f = AwsFailure::from(e);
                let exists = f.is_code("EntityAlreadyExists");
                let mut err = f.into_error("iam:CreatePolicy");
                if exists {
                    let arn = policy_arn(aws, path, name);
                    err.message.push_str(&format!(
                        "; import the existing policy into this stack (`import {} {arn}`) or give this one another name",
                        req.urn
                    ));
                }
                return Err(err);
            }
        };
        let arn = policy.arn().unwrap_or_default().to_string();
        let document = i.get("document").cloned().unwrap_or_default();
        Ok(CreateResponse { outputs: outputs(&policy, document), id: arn })
    }

    async fn read(&self, aws: &Aws, req: ReadRequest) -> Result<ReadResponse, ProviderError> {
        let arn = match &req.id {
            Some(arn) => arn.clone(),
            None => {
                let (Some(name), Some(path)) = (known_str(&req.inputs, "name"), known_str(&req.inputs, "path").or(Some("/"))) else {
                    return Ok(ReadResponse::Gone);
                };
                policy_arn(aws, path, name)
            }
        };
        let Some((policy, document)) = get(aws, &arn).await? else { return Ok(ReadResponse::Gone) };
        let mut inputs = Value::from_pairs([
            ("name", Value::from(policy.policy_name().unwrap_or_default())),
            ("path", Value::from(policy.path().unwrap_or("/"))),
            ("document", document.clone()),
        ]);
        if let Some(d) = policy.description().filter(|d| !d.is_empty()) {
            inputs.set_path("description", Some(Value::from(d)));
        }
        set_read_tags(&mut inputs, &req.inputs, tags_from_aws(policy.tags()));
        let id = policy.arn().unwrap_or(&arn).to_string();
        Ok(ReadResponse::Found { outputs: outputs(&policy, document), id, inputs })
    }

    async fn update(&self, aws: &Aws, req: UpdateRequest) -> Result<UpdateResponse, ProviderError> {
        let (arn, new, old) = (req.id.as_str(), &req.new_inputs, &req.old_inputs);
        let iam = &aws.clients.iam;
        let changed = |k: &str| req.changes.iter().any(|c| c == k);
        if changed("document") {
            // Make room first: IAM refuses a sixth version.
            for version in versions_to_prune(&versions(aws, arn).await?) {
                delete_version(aws, arn, &version).await?;
            }
            iam.create_policy_version()
                .policy_arn(arn)
                .policy_document(document_text(new, "document").unwrap_or_default())
                .set_as_default(true)
                .send()
                .await
                .map_err(aws_error("iam:CreatePolicyVersion"))?;
        }
        if changed("tags") {
            let (removed, set) = tag_changes(&tags(old), &tags(new));
            if !removed.is_empty() {
                iam.untag_policy().policy_arn(arn).set_tag_keys(Some(removed)).send().await.map_err(aws_error("iam:UntagPolicy"))?;
            }
            if !set.is_empty() {
                iam.tag_policy().policy_arn(arn).set_tags(Some(tag_list(&set))).send().await.map_err(aws_error("iam:TagPolicy"))?;
            }
        }
        let (policy, document) = get(aws, arn)
            .await?
            .ok_or_else(|| ProviderError::with_kind(ErrorKind::Permanent, Some("NoSuchEntity".into()), format!("the policy `{arn}` no longer exists; plan again to create it")))?;
        Ok(UpdateResponse { outputs: outputs(&policy, document) })
    }

    async fn delete(&self, aws: &Aws, req: DeleteRequest) -> Result<(), ProviderError> {
        let arn = req.id.as_str();
        // IAM deletes a policy only once its non-default versions are gone.
        let all = match versions(aws, arn).await {
            Ok(v) => v,
            Err(e) if e.code.as_deref() == Some("NoSuchEntity") => return Ok(()),
            Err(e) => return Err(e),
        };
        for v in all.iter().filter(|v| !v.is_default_version()) {
            if let Some(id) = v.version_id() {
                delete_version(aws, arn, id).await?;
            }
        }
        match aws.clients.iam.delete_policy().policy_arn(arn).send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let f = AwsFailure::from(e);
                if f.is_not_found() {
                    return Ok(());
                }
                let mut err = f.into_error("iam:DeletePolicy");
                if err.code.as_deref() == Some("DeleteConflict") {
                    err.message.push_str(
                        "; it is still attached to roles, users or groups: detach it first (declare the attachments in the \
                         program so Strake deletes them first; a policy replaced under the same name cannot be deleted \
                         while attached, so give the new one another name)",
                    );
                }
                Err(err)
            }
        }
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
        let same_time = [version("v10", 7, false), version("v9", 7, false), version("v11", 7, false), version("v12", 7, true), version("v8", 8, false)];
        assert_eq!(versions_to_prune(&same_time), vec!["v9"]);
    }
}
