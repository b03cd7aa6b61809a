//! `aws:iam:RolePolicyAttachment`: a managed policy attached to a role. Its id is
//! `<role name>/<policy ARN>`; any change is a new attachment.

use async_trait::async_trait;
use strake::provider::*;
use strake::{Output, ProviderRef, Resource, ResourceHandle, Stack, Value};

use super::shared::found;
use crate::error::aws_error;
use crate::provider::Aws;
use crate::resources::*;
use crate::validate::{check_arn, check_role_name};

pub const TYPE: &str = "aws:iam:RolePolicyAttachment";

/// Attaches the managed policy `policy_arn` to the role named `role`:
/// `RolePolicyAttachment::new(stack, "attach", &provider, role.name(), policy.arn())`.
#[derive(Clone)]
pub struct RolePolicyAttachment(Resource);

impl RolePolicyAttachment {
    #[track_caller]
    pub fn new(
        stack: &Stack,
        name: &str,
        provider: &ProviderRef,
        role: impl Into<Output<String>>,
        policy_arn: impl Into<Output<String>>,
    ) -> RolePolicyAttachment {
        let r = stack.resource(TYPE, name);
        r.set_input("role", role.into());
        r.set_input("policy_arn", policy_arn.into());
        RolePolicyAttachment(r.provider(provider))
    }

    /// The role's name.
    pub fn role(&self) -> Output<String> {
        self.0.output_string("role")
    }

    pub fn policy_arn(&self) -> Output<String> {
        self.0.output_string("policy_arn")
    }
}

impl ResourceHandle for RolePolicyAttachment {
    fn resource(&self) -> &Resource {
        &self.0
    }
}

pub(crate) struct RolePolicyAttachmentType;

fn id_of(role: &str, policy_arn: &str) -> String {
    format!("{role}/{policy_arn}")
}

/// `(role, policy ARN)` from an id (role names have no `/`).
fn parse_id(id: &str) -> Option<(&str, &str)> {
    id.split_once('/').filter(|(role, arn)| !role.is_empty() && arn.starts_with("arn:"))
}

fn pair(role: &str, policy_arn: &str) -> Value {
    Value::from_pairs([("role", Value::from(role)), ("policy_arn", Value::from(policy_arn))])
}

/// Whether the role has the policy attached (`None`: the role does not exist).
async fn attached(aws: &Aws, role: &str, policy_arn: &str) -> Result<Option<bool>, ProviderError> {
    let mut marker = None;
    loop {
        let page = aws.clients.iam.list_attached_role_policies().role_name(role).set_marker(marker).send().await;
        let Some(page) = found(page, "iam:ListAttachedRolePolicies")? else { return Ok(None) };
        if page.attached_policies().iter().any(|p| p.policy_arn() == Some(policy_arn)) {
            return Ok(Some(true));
        }
        match page.marker() {
            Some(m) if page.is_truncated() => marker = Some(m.to_string()),
            _ => return Ok(Some(false)),
        }
    }
}

#[async_trait]
impl AwsResource for RolePolicyAttachmentType {
    fn check(&self, _aws: &Aws, req: CheckRequest) -> CheckResponse {
        let inputs = req.inputs;
        let mut failures = Vec::new();
        require(&inputs, "role", "the name of the role to attach the policy to (`role.name()`)", &mut failures);
        require(&inputs, "policy_arn", "the ARN of the managed policy to attach (`policy.arn()`)", &mut failures);
        check_str(&inputs, "role", &mut failures, |r| {
            if r.starts_with("arn:") {
                return Err(format!("`{r}` is an ARN; pass the role's name (`role.name()`), e.g. \"{}\"", r.rsplit('/').next().unwrap_or(r)));
            }
            check_role_name(r)
        });
        check_str(&inputs, "policy_arn", &mut failures, |a| {
            check_arn(a).map_err(|e| format!("`{a}` {e}"))?;
            if a.split(':').nth(2) != Some("iam") || !a.split(':').nth(5).is_some_and(|r| r.starts_with("policy/")) {
                return Err(format!(
                    "`{a}` is not a managed policy ARN (`arn:aws:iam::<account or aws>:policy/<path/name>`); pass `policy.arn()`"
                ));
            }
            Ok(())
        });
        CheckResponse { inputs, failures, warnings: Vec::new() }
    }

    fn diff(&self, req: DiffRequest) -> DiffResponse {
        let changes = strake::diff::changed_properties(&req.old_inputs, &req.new_inputs);
        let (new_role, new_arn) = (known_str(&req.new_inputs, "role"), known_str(&req.new_inputs, "policy_arn"));
        // Attach-then-detach would detach the new attachment if it turns out to be the same pair
        // (e.g. a value unknown at plan time): detach first unless the pair surely differs.
        let surely_differs = match (new_role, new_arn) {
            (Some(r), Some(a)) => Some((r, a)) != known_str(&req.old_inputs, "role").zip(known_str(&req.old_inputs, "policy_arn")),
            _ => false,
        };
        DiffResponse { replaces: changes.clone(), delete_before_replace: !changes.is_empty() && !surely_differs, changes }
    }

    fn preview(&self, _aws: &Aws, req: PreviewRequest) -> Value {
        let field = |k: &str| known_str(&req.inputs, k).map(Value::from).unwrap_or(Value::Unknown);
        Value::from_pairs([("role", field("role")), ("policy_arn", field("policy_arn"))])
    }

    async fn create(&self, aws: &Aws, req: CreateRequest) -> Result<CreateResponse, ProviderError> {
        let (role, arn) = (known_str(&req.inputs, "role").unwrap_or_default(), known_str(&req.inputs, "policy_arn").unwrap_or_default());
        aws.clients
            .iam
            .attach_role_policy()
            .role_name(role)
            .policy_arn(arn)
            .send()
            .await
            .map_err(aws_error("iam:AttachRolePolicy"))?;
        Ok(CreateResponse { id: id_of(role, arn), outputs: pair(role, arn) })
    }

    async fn read(&self, aws: &Aws, req: ReadRequest) -> Result<ReadResponse, ProviderError> {
        let (role, arn) = match &req.id {
            Some(id) => match parse_id(id) {
                Some(p) => p,
                None => return Err(ProviderError::permanent(format!("`{id}` is not a role policy attachment id; use `<role name>/<policy ARN>`"))),
            },
            None => match (known_str(&req.inputs, "role"), known_str(&req.inputs, "policy_arn")) {
                (Some(r), Some(a)) => (r, a),
                _ => return Ok(ReadResponse::Gone),
            },
        };
        match attached(aws, role, arn).await? {
            Some(true) => Ok(ReadResponse::Found { id: id_of(role, arn), inputs: pair(role, arn), outputs: pair(role, arn) }),
            _ => Ok(ReadResponse::Gone),
        }
    }

    async fn update(&self, _aws: &Aws, req: UpdateRequest) -> Result<UpdateResponse, ProviderError> {
        // Every change replaces an attachment; nothing is updated in place.
        Ok(UpdateResponse { outputs: req.old_outputs })
    }

    async fn delete(&self, aws: &Aws, req: DeleteRequest) -> Result<(), ProviderError> {
        let Some((role, arn)) = parse_id(&req.id) else {
            return Err(ProviderError::permanent(format!("`{}` is not a role policy attachment id; use `<role name>/<policy ARN>`", req.id)));
        };
        let detached = aws.clients.iam.detach_role_policy().role_name(role).policy_arn(arn).send().await;
        found(detached, "iam:DetachRolePolicy").map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        let id = id_of("reader", "arn:aws:iam::222222222222:policy/teams/read");
        assert_eq!(parse_id(&id), Some(("reader", "arn:aws:iam::222222222222:policy/teams/read")));
        assert_eq!(parse_id("reader"), None);
        assert_eq!(parse_id("/arn:aws:iam::aws:policy/ReadOnlyAccess"), None);
    }
}
