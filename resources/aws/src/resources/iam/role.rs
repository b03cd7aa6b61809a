//! `aws:iam:Role`: an IAM role with its trust (assume-role) policy.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_iam::types::Tag;
use strake::provider::*;
use strake::{Output, ProviderRef, Resource, ResourceHandle, Stack, Value};

use crate::error::{AwsFailure, aws_error};
use crate::policy::PolicyKind;
use crate::provider::Aws;
use crate::resources::*;
use crate::trust_lint::{Severity, lint_trust};
use crate::validate::{check_arn, check_iam_path, check_role_name};

pub const TYPE: &str = "aws:iam:Role";

/// `trust_lint = "warn"`: the IRSA trust lint's errors are reported as warnings.
const TRUST_LINT_WARN: &str = "warn";

/// An IAM role. The trust policy is required; the name is generated unless set.
///
/// At plan time the trust policy's web-identity statements are linted (see [`crate::trust_lint`]):
/// its errors stop the plan unless [`Role::trust_lint_warnings_only`] is set.
#[derive(Clone)]
pub struct Role {
    resource: Resource,
    trust: Output<Value>,
}

impl Role {
    #[track_caller]
    pub fn new(stack: &Stack, name: &str, provider: &ProviderRef, assume_role_policy: impl Into<Output<Value>>) -> Role {
        let r = stack.resource(TYPE, name);
        let trust: Output<Value> = assume_role_policy.into();
        r.set_input("assume_role_policy", trust.clone());
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
        self.resource.set_input("trust_lint", TRUST_LINT_WARN);
        self
    }

    /// The role's name in IAM (default: the resource name plus a suffix).
    pub fn role_name(self, name: impl Into<Output<String>>) -> Self {
        self.resource.set_input("name", name.into());
        self
    }

    pub fn path(self, path: &str) -> Self {
        self.resource.set_input("path", path);
        self
    }

    pub fn description(self, description: &str) -> Self {
        self.resource.set_input("description", description);
        self
    }

    /// Seconds, 3,600 to 43,200.
    pub fn max_session_duration(self, seconds: i64) -> Self {
        self.resource.set_input("max_session_duration", Value::from(seconds));
        self
    }

    pub fn permissions_boundary(self, policy_arn: impl Into<Output<String>>) -> Self {
        self.resource.set_input("permissions_boundary", policy_arn.into());
        self
    }

    pub fn tags<K: Into<String>, V: Into<String>>(self, tags: impl IntoIterator<Item = (K, V)>) -> Self {
        self.resource.set_input("tags", tags_value(tags.into_iter().map(|(k, v)| (k.into(), v.into()))));
        self
    }

    pub fn arn(&self) -> Output<String> {
        self.resource.output_string("arn")
    }

    pub fn name(&self) -> Output<String> {
        self.resource.output_string("name")
    }
}

impl ResourceHandle for Role {
    fn resource(&self) -> &Resource {
        &self.resource
    }
}

pub(crate) struct RoleType;

fn outputs(role: &aws_sdk_iam::types::Role) -> Value {
    Value::from_pairs([
        ("arn", Value::from(role.arn())),
        ("name", Value::from(role.role_name())),
        ("path", Value::from(role.path())),
        ("unique_id", Value::from(role.role_id())),
    ])
}

fn tag_list(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect()
}

#[async_trait]
impl AwsResource for RoleType {
    fn check(&self, aws: &Aws, req: CheckRequest) -> CheckResponse {
        let mut inputs = req.inputs;
        let mut failures = Vec::new();
        if matches!(field(&inputs, "name"), Field::Absent) {
            let name = req.prior_inputs.as_ref().and_then(|p| p.get("name").cloned()).unwrap_or_else(|| Value::from(auto_name(&req.urn, 64)));
            inputs.set_path("name", Some(name));
        }
        if matches!(field(&inputs, "path"), Field::Absent) {
            inputs.set_path("path", Some(Value::from("/")));
        }
        check_str(&inputs, "name", &mut failures, check_role_name);
        check_str(&inputs, "path", &mut failures, check_iam_path);
        check_str(&inputs, "description", &mut failures, |d| {
            if d.len() > 1000 { Err("is over 1,000 characters".into()) } else { Ok(()) }
        });
        check_str(&inputs, "permissions_boundary", &mut failures, |a| check_arn(a).map_err(|e| format!("`{a}` {e}")));
        if let Field::Known(v) = field(&inputs, "max_session_duration") {
            match v.deserialize_into::<i64>() {
                Ok(s) if (3600..=43200).contains(&s) => {}
                _ => failures.push(CheckFailure::new("max_session_duration", format!("is {v}; use seconds from 3600 (1 hour) to 43200 (12 hours)"))),
            }
        }
        check_tags(&inputs, &mut failures);
        require(&inputs, "assume_role_policy", "the trust policy saying who may assume the role", &mut failures);
        let mut warnings = Vec::new();
        check_policy(&mut inputs, "assume_role_policy", PolicyKind::Trust, &mut failures, &mut warnings);
        check_str(&inputs, "trust_lint", &mut failures, |v| {
            if v == TRUST_LINT_WARN || v == "error" { Ok(()) } else { Err(format!("is `{v}`; use \"warn\" or \"error\"")) }
        });
        let downgrade = known_str(&inputs, "trust_lint") == Some(TRUST_LINT_WARN);
        if let Some(doc) = known_json(&inputs, "assume_role_policy") {
            for f in lint_trust(&doc, &aws.caller.account) {
                match (f.severity, downgrade) {
                    (Severity::Error, false) => failures.push(CheckFailure::new(f.path, f.message)),
                    (Severity::Error, true) => warnings.push(CheckFailure::new(
                        f.path,
                        format!("{} (an error, reported as a warning because the role sets `trust_lint_warnings_only`)", f.message),
                    )),
                    (Severity::Warning, _) => warnings.push(CheckFailure::new(f.path, f.message)),
                }
            }
        }
        CheckResponse { inputs, failures, warnings }
    }

    fn diff(&self, req: DiffRequest) -> DiffResponse {
        let changes = strake::diff::changed_properties(&req.old_inputs, &req.new_inputs);
        let replaces: Vec<String> = changes.iter().filter(|c| matches!(c.as_str(), "name" | "path")).cloned().collect();
        // IAM names are unique: keeping the name means the old role must go first.
        let same_name = strake::diff::same(req.old_inputs.get("name"), req.new_inputs.get("name"));
        DiffResponse { delete_before_replace: !replaces.is_empty() && same_name, changes, replaces }
    }

    fn preview(&self, aws: &Aws, req: PreviewRequest) -> Value {
        let (Some(name), Some(path)) = (known_str(&req.inputs, "name"), known_str(&req.inputs, "path")) else { return Value::Unknown };
        let mut out = req.prior_outputs.unwrap_or_else(|| Value::from_pairs([("unique_id", Value::Unknown)]));
        out.set_path("name", Some(name.into()));
        out.set_path("path", Some(path.into()));
        out.set_path("arn", Some(Value::from(format!("arn:aws:iam::{}:role{path}{name}", aws.caller.account))));
        out
    }

    async fn create(&self, aws: &Aws, req: CreateRequest) -> Result<CreateResponse, ProviderError> {
        let i = &req.inputs;
        let name = known_str(i, "name").unwrap_or_default();
        let resp = aws
            .clients
            .iam
            .create_role()
            .role_name(name)
            .path(known_str(i, "path").unwrap_or("/"))
            .assume_role_policy_document(document_text(i, "assume_role_policy").unwrap_or_default())
            .set_description(known_str(i, "description").map(str::to_string))
            .set_max_session_duration(i.get("max_session_duration").and_then(|v| v.deserialize_into::<i32>().ok()))
            .set_permissions_boundary(known_str(i, "permissions_boundary").map(str::to_string))
            .set_tags(Some(tag_list(&tags(i))).filter(|t| !t.is_empty()))
            .send()
            .await
            .map_err(aws_error("iam:CreateRole"))?;
        let role = resp.role().ok_or_else(|| ProviderError::permanent("iam:CreateRole returned no role"))?;
        Ok(CreateResponse { id: role.role_name().to_string(), outputs: outputs(role) })
    }

    async fn read(&self, aws: &Aws, req: ReadRequest) -> Result<ReadResponse, ProviderError> {
        if let Some(arn) = req.id.as_deref().filter(|id| id.starts_with("arn:")) {
            let name = arn.rsplit('/').next().unwrap_or(arn);
            return Err(ProviderError::permanent(format!("`{arn}` is an ARN, but the id of an `{TYPE}` is the role's name: `{name}`")));
        }
        let Some(name) = req.id.clone().or_else(|| known_str(&req.inputs, "name").map(str::to_string)) else {
            return Ok(ReadResponse::Gone);
        };
        let role = match aws.clients.iam.get_role().role_name(&name).send().await {
            Ok(r) => r.role.ok_or_else(|| ProviderError::permanent("iam:GetRole returned no role"))?,
            Err(e) => {
                let f = AwsFailure::from(e);
                if f.is_not_found() {
                    return Ok(ReadResponse::Gone);
                }
                return Err(f.into_error("iam:GetRole"));
            }
        };
        let mut inputs = Value::from_pairs([
            ("name", Value::from(role.role_name())),
            ("path", Value::from(role.path())),
            ("assume_role_policy", role.assume_role_policy_document().map(document_from_aws).unwrap_or_default()),
        ]);
        for (key, value) in [
            ("description", role.description().filter(|d| !d.is_empty()).map(Value::from)),
            ("permissions_boundary", role.permissions_boundary().and_then(|b| b.permissions_boundary_arn()).map(Value::from)),
        ] {
            if let Some(v) = value {
                inputs.set_path(key, Some(v));
            }
        }
        // Keep defaults the program did not set out of the comparison.
        if req.inputs.get("max_session_duration").is_some() || role.max_session_duration().is_some_and(|d| d != 3600) {
            inputs.set_path("max_session_duration", role.max_session_duration().map(|d| Value::from(d as i64)));
        }
        let tags: Vec<(String, String)> = role.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
        if !tags.is_empty() || req.inputs.get("tags").is_some() {
            inputs.set_path("tags", Some(tags_value(tags)));
        }
        // A program-only setting: IAM has no such property, so it is as the program recorded it.
        if let Some(lint) = req.inputs.get("trust_lint") {
            inputs.set_path("trust_lint", Some(lint.clone()));
        }
        Ok(ReadResponse::Found { id: role.role_name().to_string(), inputs, outputs: outputs(&role) })
    }

    async fn update(&self, aws: &Aws, req: UpdateRequest) -> Result<UpdateResponse, ProviderError> {
        let (name, new, old) = (req.id.as_str(), &req.new_inputs, &req.old_inputs);
        let iam = &aws.clients.iam;
        let changed = |k: &str| req.changes.iter().any(|c| c == k);
        if changed("assume_role_policy") {
            iam.update_assume_role_policy()
                .role_name(name)
                .policy_document(document_text(new, "assume_role_policy").unwrap_or_default())
                .send()
                .await
                .map_err(aws_error("iam:UpdateAssumeRolePolicy"))?;
        }
        if changed("description") || changed("max_session_duration") {
            iam.update_role()
                .role_name(name)
                .description(known_str(new, "description").unwrap_or_default())
                .max_session_duration(new.get("max_session_duration").and_then(|v| v.deserialize_into::<i32>().ok()).unwrap_or(3600))
                .send()
                .await
                .map_err(aws_error("iam:UpdateRole"))?;
        }
        if changed("permissions_boundary") {
            match known_str(new, "permissions_boundary") {
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
        if changed("tags") {
            let (before, after) = (tags(old), tags(new));
            let removed: Vec<String> = before.keys().filter(|k| !after.contains_key(*k)).cloned().collect();
            if !removed.is_empty() {
                iam.untag_role().role_name(name).set_tag_keys(Some(removed)).send().await.map_err(aws_error("iam:UntagRole"))?;
            }
            let set: BTreeMap<String, String> = after.into_iter().filter(|(k, v)| before.get(k) != Some(v)).collect();
            if !set.is_empty() {
                iam.tag_role().role_name(name).set_tags(Some(tag_list(&set))).send().await.map_err(aws_error("iam:TagRole"))?;
            }
        }
        let role = iam.get_role().role_name(name).send().await.map_err(aws_error("iam:GetRole"))?;
        let role = role.role().ok_or_else(|| ProviderError::permanent("iam:GetRole returned no role"))?;
        Ok(UpdateResponse { outputs: outputs(role) })
    }

    async fn delete(&self, aws: &Aws, req: DeleteRequest) -> Result<(), ProviderError> {
        match aws.clients.iam.delete_role().role_name(&req.id).send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let f = AwsFailure::from(e);
                if f.is_not_found() {
                    return Ok(());
                }
                let mut err = f.into_error("iam:DeleteRole");
                if err.code.as_deref() == Some("DeleteConflict") {
                    err.message.push_str("; detach its policies first (declare their attachments in the program so Strake deletes them first)");
                }
                Err(err)
            }
        }
    }
}
