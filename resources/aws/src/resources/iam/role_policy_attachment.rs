//! `aws:iam:RolePolicyAttachment`: a managed policy attached to a role. Its id is
//! `<role name>/<policy ARN>`; any change is a new attachment.

use serde::{Deserialize, Serialize};
use strake::provider::{CreatedLookup, ProviderError};
use strake::typed::*;
use strake::{Resource, ResourceHandle};

use crate::context::Aws;
use crate::error::{aws_error, found};
use crate::validate::{check_arn, check_role_reference};

/// The type token of a role policy attachment.
pub const TYPE: &str = "aws:iam:RolePolicyAttachment";

/// The role and the policy of an attachment (its inputs and its outputs alike).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[strake(handle = RolePolicyAttachment, resource = TYPE)]
pub struct Attachment {
    /// The name of the role to attach the policy to (`role.name()`).
    #[strake(get, new, replace_on, unique)]
    pub role: String,
    /// The ARN of the managed policy to attach (`policy.arn()`).
    #[strake(get, new, replace_on, unique)]
    pub policy_arn: String,
}

/// Attaches the managed policy `policy_arn` to the role named `role`:
/// `RolePolicyAttachment::new(stack, "attach", &provider, role.name(), policy.arn())`.
#[derive(Clone, ResourceHandle)]
pub struct RolePolicyAttachment(Resource);

impl RolePolicyAttachment {}

pub(crate) struct RolePolicyAttachmentType;

fn id_of(role: &str, policy_arn: &str) -> String {
    format!("{role}/{policy_arn}")
}

/// `(role, policy ARN)` from an id (role names have no `/`).
fn parse_id(id: &str) -> Option<(&str, &str)> {
    id.split_once('/').filter(|(role, arn)| !role.is_empty() && arn.starts_with("arn:"))
}

fn bad_id(id: &str) -> ProviderError {
    ProviderError::permanent(format!("`{id}` is not a role policy attachment id; use `<role name>/<policy ARN>`"))
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

impl ResourceType for RolePolicyAttachmentType {
    type Context = Aws;
    type Inputs = Attachment;
    type Outputs = Attachment;
    // Every change is a new attachment (both fields `replace_on`). Attach-then-detach would
    // detach the new attachment if it turned out to be the same pair (a value unknown at plan
    // time): both fields are `unique`, so it detaches first unless the pair surely differs.
    const SPEC: Spec = Spec::new(TYPE, CreatedLookup::FromInputs);

    fn check(&self, _aws: &Aws, c: &mut Check<Attachment>) {
        c.validate(Attachment::ROLE, |r| check_role_reference(r));
        c.validate(Attachment::POLICY_ARN, |a| {
            check_arn(a).map_err(|e| format!("`{a}` {e}"))?;
            if a.split(':').nth(2) != Some("iam") || !a.split(':').nth(5).is_some_and(|r| r.starts_with("policy/")) {
                return Err(format!("`{a}` is not a managed policy ARN (`arn:aws:iam::<account or aws>:policy/<path/name>`); pass `policy.arn()`"));
            }
            Ok(())
        });
    }

    fn preview(&self, _aws: &Aws, inputs: &Partial<Attachment>, _prior: Option<&Partial<Attachment>>) -> Option<Partial<Attachment>> {
        Some(inputs.clone())
    }

    fn claim(&self, aws: &Aws, inputs: &Partial<Attachment>) -> Option<String> {
        let (role, arn) = (inputs.known(Attachment::ROLE)?, inputs.known(Attachment::POLICY_ARN)?);
        Some(format!("the attachment of `{arn}` to role `{role}` in account {}", aws.caller.account))
    }

    async fn create(&self, aws: &Aws, req: Create<'_, Attachment>) -> Result<Created<Attachment>, ProviderError> {
        let a = req.inputs;
        aws.clients.iam.attach_role_policy().role_name(&a.role).policy_arn(&a.policy_arn).send().await.map_err(aws_error("iam:AttachRolePolicy"))?;
        Ok(Created::new(id_of(&a.role, &a.policy_arn), a.clone()))
    }

    async fn read(&self, aws: &Aws, req: Read<'_, Attachment, Attachment>) -> Result<Option<Observed<Attachment, Attachment>>, ProviderError> {
        let by_id = |id| parse_id(id).ok_or_else(|| bad_id(id));
        let Some((role, arn)) = req.locate(by_id, |a| (a.role.as_str(), a.policy_arn.as_str()))? else { return Ok(None) };
        let pair = Attachment { role: role.to_string(), policy_arn: arn.to_string() };
        Ok(match attached(aws, role, arn).await? {
            Some(true) => Some(Observed::new(id_of(role, arn), pair.clone(), pair)),
            _ => None,
        })
    }

    async fn update(&self, _aws: &Aws, req: Update<'_, Attachment, Attachment>) -> Result<Attachment, ProviderError> {
        // Every change replaces an attachment; nothing is updated in place.
        Ok(req.old.clone())
    }

    async fn delete(&self, aws: &Aws, req: Delete<'_, Attachment, Attachment>) -> Result<(), ProviderError> {
        let (role, arn) = parse_id(req.id).ok_or_else(|| bad_id(req.id))?;
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
