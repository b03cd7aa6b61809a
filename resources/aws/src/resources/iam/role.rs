//! `aws:iam:Role`: an IAM role with its trust (assume-role) policy.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use strake::provider::{CreatedLookup, ProviderError};
use strake::typed::*;
use strake::{Output, ProviderRef, Resource, ResourceHandle, Stack, Value};

use super::shared::{gone, some_tags, tag_changes, tag_list, tags_from_aws};
use crate::context::Aws;
use crate::error::{aws_error, found, not_an_arn};
use crate::policy::PolicyKind;
use crate::resources::{Tags, check_policy, check_tags, document_from_aws, policy_text, read_tags};
use crate::trust_lint::{Severity, lint_trust};
use crate::validate::{check_arn, check_iam_path, check_role_name};

/// The type token of an IAM role.
pub const TYPE: &str = "aws:iam:Role";

/// `trust_lint = "warn"`: the IRSA trust lint's errors are reported as warnings.
const TRUST_LINT_WARN: &str = "warn";

/// The inputs of an IAM role.
#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
#[strake(handle = Role)]
pub struct RoleInputs {
    /// The role's name in IAM (default: the resource name plus a suffix). Unique in the account:
    /// a replacement that keeps it deletes the old role first.
    #[strake(set = "role_name", generated_name = 64, replace_on, unique)]
    pub name: String,
    /// The IAM path (default `/`).
    #[strake(default = "/", set, replace_on)]
    pub path: String,
    /// The trust policy saying who may assume the role.
    pub assume_role_policy: Json,
    /// The role's description.
    #[strake(set)]
    pub description: Option<String>,
    /// The longest session, in seconds: 3,600 to 43,200.
    #[strake(set)]
    pub max_session_duration: Option<i64>,
    /// The ARN of the managed policy that bounds the role's permissions.
    #[strake(set)]
    pub permissions_boundary: Option<String>,
    /// The role's tags.
    #[strake(set, pairs)]
    pub tags: Option<Tags>,
    /// `warn`: the trust lint's errors are warnings. Strake's own setting; IAM never sees it.
    #[strake(internal)]
    pub trust_lint: Option<String>,
}

/// The outputs of an IAM role.
#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
#[strake(handle = Role)]
pub struct RoleOutputs {
    /// The role's ARN.
    #[strake(get)]
    pub arn: String,
    /// The role's name in IAM.
    #[strake(get, echo)]
    pub name: String,
    /// The IAM path.
    #[strake(echo)]
    pub path: String,
    /// IAM's stable unique id (`AROA...`).
    pub unique_id: String,
}

/// An IAM role. The trust policy is required; the name is generated unless set.
///
/// At plan time the trust policy's web-identity statements are linted (see [`crate::trust_lint`]):
/// its errors stop the plan unless [`Role::trust_lint_warnings_only`] is set.
#[derive(Clone, ResourceHandle)]
pub struct Role {
    resource: Resource,
    trust: Output<Value>,
}

impl Role {
    /// A role that `assume_role_policy` (its trust policy) lets principals assume.
    #[track_caller]
    pub fn new(stack: &Stack, name: &str, provider: &ProviderRef, assume_role_policy: impl Into<Output<Value>>) -> Role {
        let r = stack.resource(TYPE, name);
        let trust: Output<Value> = assume_role_policy.into();
        r.set_value(RoleInputs::ASSUME_ROLE_POLICY, trust.clone());
        Role { resource: r.provider(provider), trust }
    }

    /// The trust policy document as given to [`Role::new`] (e.g. for a service account to check
    /// that the role trusts it).
    pub fn trust_policy(&self) -> Output<Value> {
        self.trust.clone()
    }

    /// Reports the IRSA trust lint's errors as warnings, so the plan goes on: for a trust that is
    /// wrong on purpose, or that the lint misjudges. IAM never sees this setting.
    pub fn trust_lint_warnings_only(self) -> Self {
        self.resource.set(RoleInputs::TRUST_LINT, TRUST_LINT_WARN);
        self
    }
}

pub(crate) struct RoleType;

fn outputs(role: &aws_sdk_iam::types::Role) -> RoleOutputs {
    RoleOutputs {
        arn: role.arn().to_string(),
        name: role.role_name().to_string(),
        path: role.path().to_string(),
        unique_id: role.role_id().to_string(),
    }
}

async fn get(aws: &Aws, name: &str) -> Result<Option<aws_sdk_iam::types::Role>, ProviderError> {
    let got = found(aws.clients.iam.get_role().role_name(name).send().await, "iam:GetRole")?;
    got.map(|r| r.role.ok_or_else(|| ProviderError::permanent("iam:GetRole returned no role"))).transpose()
}

impl ResourceType for RoleType {
    type Context = Aws;
    type Inputs = RoleInputs;
    type Outputs = RoleOutputs;
    const SPEC: Spec = Spec::new(TYPE, CreatedLookup::FromInputs);

    fn check(&self, aws: &Aws, c: &mut Check<RoleInputs>) {
        c.validate(RoleInputs::NAME, |n| check_role_name(n));
        c.validate(RoleInputs::PATH, |p| check_iam_path(p));
        c.validate(RoleInputs::DESCRIPTION, |d| if d.len() > 1000 { Err("is over 1,000 characters".into()) } else { Ok(()) });
        c.validate(RoleInputs::PERMISSIONS_BOUNDARY, |a| check_arn(a).map_err(|e| format!("`{a}` {e}")));
        c.validate(RoleInputs::MAX_SESSION_DURATION, |s| {
            if (3600..=43200).contains(s) { Ok(()) } else { Err(format!("is {s}; use seconds from 3600 (1 hour) to 43200 (12 hours)")) }
        });
        check_tags(c, RoleInputs::TAGS, None);
        check_policy(c, RoleInputs::ASSUME_ROLE_POLICY, PolicyKind::Trust);
        c.validate(RoleInputs::TRUST_LINT, |v| {
            if v == TRUST_LINT_WARN || v == "error" { Ok(()) } else { Err(format!("is `{v}`; use \"warn\" or \"error\"")) }
        });
        let downgrade = c.known(RoleInputs::TRUST_LINT).as_deref() == Some(TRUST_LINT_WARN);
        let Some(doc) = c.known(RoleInputs::ASSUME_ROLE_POLICY) else { return };
        for f in lint_trust(&doc, &aws.caller.account) {
            match (f.severity, downgrade) {
                (Severity::Error, false) => c.fail_at(f.path, f.message),
                (Severity::Error, true) => {
                    c.warn_at(f.path, format!("{} (an error, reported as a warning because the role sets `trust_lint_warnings_only`)", f.message))
                }
                (Severity::Warning, _) => c.warn_at(f.path, f.message),
            }
        }
    }

    fn preview(&self, aws: &Aws, inputs: &Partial<RoleInputs>, prior: Option<&Partial<RoleOutputs>>) -> Option<Partial<RoleOutputs>> {
        let (name, path) = (inputs.known(RoleInputs::NAME)?, inputs.known(RoleInputs::PATH)?);
        let mut out = prior.cloned().unwrap_or_default();
        out.set(RoleOutputs::ARN, aws.iam_arn(&format!("role{path}{name}")));
        Some(out)
    }

    fn claim(&self, aws: &Aws, inputs: &Partial<RoleInputs>) -> Option<String> {
        Some(format!("IAM role `{}` in account {}", inputs.known(RoleInputs::NAME)?, aws.caller.account))
    }

    async fn create(&self, aws: &Aws, req: Create<'_, RoleInputs>) -> Result<Created<RoleOutputs>, ProviderError> {
        let i = req.inputs;
        let resp = aws
            .clients
            .iam
            .create_role()
            .role_name(&i.name)
            .path(&i.path)
            .assume_role_policy_document(policy_text(&i.assume_role_policy))
            .set_description(i.description.clone())
            .set_max_session_duration(i.max_session_duration.map(|s| s as i32))
            .set_permissions_boundary(i.permissions_boundary.clone())
            .set_tags(some_tags(i.tags.as_ref()))
            .send()
            .await
            .map_err(aws_error("iam:CreateRole"))?;
        let role = resp.role().ok_or_else(|| ProviderError::permanent("iam:CreateRole returned no role"))?;
        Ok(Created::new(role.role_name(), outputs(role)))
    }

    async fn read(&self, aws: &Aws, req: Read<'_, RoleInputs, RoleOutputs>) -> Result<Option<Observed<RoleInputs, RoleOutputs>>, ProviderError> {
        let Some(name) = req.locate(|id| not_an_arn(id, TYPE, "the role's name"), |i| i.name.clone())? else { return Ok(None) };
        let Some(role) = get(aws, &name).await? else { return Ok(None) };
        let declared = req.inputs;
        // Keep defaults the program did not set out of the comparison.
        let duration = role.max_session_duration().map(i64::from);
        let inputs = RoleInputs {
            name: role.role_name().to_string(),
            path: role.path().to_string(),
            assume_role_policy: role.assume_role_policy_document().map(document_from_aws).unwrap_or_default(),
            description: role.description().filter(|d| !d.is_empty()).map(str::to_string),
            max_session_duration: duration.filter(|d| *d != 3600 || declared.is_some_and(|i| i.max_session_duration.is_some())),
            permissions_boundary: role.permissions_boundary().and_then(|b| b.permissions_boundary_arn()).map(str::to_string),
            tags: read_tags(declared.and_then(|i| i.tags.as_ref()), tags_from_aws(role.tags())),
            // A program-only setting: IAM has no such property, so it is as the program recorded it.
            trust_lint: declared.and_then(|i| i.trust_lint.clone()),
        };
        Ok(Some(Observed::new(role.role_name(), inputs, outputs(&role))))
    }

    async fn update(&self, aws: &Aws, req: Update<'_, RoleInputs, RoleOutputs>) -> Result<RoleOutputs, ProviderError> {
        let (name, new) = (req.id, req.new);
        let iam = &aws.clients.iam;
        if req.changed(RoleInputs::ASSUME_ROLE_POLICY) {
            iam.update_assume_role_policy()
                .role_name(name)
                .policy_document(policy_text(&new.assume_role_policy))
                .send()
                .await
                .map_err(aws_error("iam:UpdateAssumeRolePolicy"))?;
        }
        if req.changed(RoleInputs::DESCRIPTION) || req.changed(RoleInputs::MAX_SESSION_DURATION) {
            iam.update_role()
                .role_name(name)
                .description(new.description.clone().unwrap_or_default())
                .max_session_duration(new.max_session_duration.unwrap_or(3600) as i32)
                .send()
                .await
                .map_err(aws_error("iam:UpdateRole"))?;
        }
        if req.changed(RoleInputs::PERMISSIONS_BOUNDARY) {
            match &new.permissions_boundary {
                Some(arn) => iam
                    .put_role_permissions_boundary()
                    .role_name(name)
                    .permissions_boundary(arn)
                    .send()
                    .await
                    .map(drop)
                    .map_err(aws_error("iam:PutRolePermissionsBoundary"))?,
                None => iam
                    .delete_role_permissions_boundary()
                    .role_name(name)
                    .send()
                    .await
                    .map(drop)
                    .map_err(aws_error("iam:DeleteRolePermissionsBoundary"))?,
            }
        }
        if req.changed(RoleInputs::TAGS) {
            let (removed, set) = tag_changes(req.old.tags.as_ref(), new.tags.as_ref());
            if !removed.is_empty() {
                iam.untag_role().role_name(name).set_tag_keys(Some(removed)).send().await.map_err(aws_error("iam:UntagRole"))?;
            }
            if !set.is_empty() {
                iam.tag_role().role_name(name).set_tags(Some(tag_list(&set))).send().await.map_err(aws_error("iam:TagRole"))?;
            }
        }
        let role = get(aws, name).await?.ok_or_else(|| gone(&format!("the role `{name}`")))?;
        Ok(outputs(&role))
    }

    async fn delete(&self, aws: &Aws, req: Delete<'_, RoleInputs, RoleOutputs>) -> Result<(), ProviderError> {
        let deleted = found(aws.clients.iam.delete_role().role_name(req.id).send().await, "iam:DeleteRole");
        deleted.map(drop).map_err(|e| {
            e.advise("DeleteConflict", || {
                "; detach its policies first (declare their attachments in the program so Strake deletes them first)".into()
            })
        })
    }
}
