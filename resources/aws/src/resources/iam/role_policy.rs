//! `aws:iam:RolePolicy`: an inline policy embedded in a role. Its id is `<role name>:<policy
//! name>`; a new role or name is another policy, a new document is put in place.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use strake::provider::{CreatedLookup, ProviderError};
use strake::typed::*;
use strake::{Resource, ResourceHandle};

use crate::context::Aws;
use crate::error::{aws_error, found};
use crate::policy::PolicyKind;
use crate::resources::{check_policy, document_from_aws, policy_text};
use crate::validate::{check_policy_name, check_role_reference};

/// The type token of an inline role policy.
pub const TYPE: &str = "aws:iam:RolePolicy";

/// The inputs of an inline role policy.
#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
#[strake(handle = RolePolicy, resource = TYPE)]
pub struct RolePolicyInputs {
    /// The name of the role the policy is embedded in (`role.name()`).
    #[strake(new, replace_on, unique)]
    pub role: String,
    /// The policy's name within the role (default: the resource name plus a suffix). A role has
    /// one inline policy per name: moving it under the same name deletes it first.
    #[strake(set = "policy_name", generated_name = 128, replace_on, unique)]
    pub name: String,
    /// The identity policy document (e.g. a [`PolicyDocument`](crate::PolicyDocument)).
    #[strake(new, dynamic)]
    pub policy: Json,
}

/// The outputs of an inline role policy.
#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
#[strake(handle = RolePolicy)]
pub struct RolePolicyOutputs {
    /// The role's name.
    #[strake(get, echo)]
    pub role: String,
    /// The policy's name within the role.
    #[strake(get, echo)]
    pub name: String,
}

/// An inline policy of a role: `RolePolicy::new(stack, "reads", &provider, role.name(), document)`.
/// The name is generated unless set. IAM deletes a role only once its inline policies are gone,
/// and Strake deletes this policy first because it depends on the role's name.
#[derive(Clone, ResourceHandle)]
pub struct RolePolicy(Resource);

impl RolePolicy {}

pub(crate) struct RolePolicyType;

/// `(role, name)` from an id: role names have no `:`.
fn parse_id(id: &str) -> Result<(&str, &str), ProviderError> {
    id.split_once(':')
        .filter(|(role, name)| !role.is_empty() && !name.is_empty() && !role.starts_with("arn"))
        .ok_or_else(|| ProviderError::permanent(format!("`{id}` is not an inline role policy id; use `<role name>:<policy name>`")))
}

impl ResourceType for RolePolicyType {
    type Context = Aws;
    type Inputs = RolePolicyInputs;
    type Outputs = RolePolicyOutputs;
    const SPEC: Spec = Spec::new(TYPE, CreatedLookup::FromInputs);

    fn check(&self, _aws: &Aws, c: &mut Check<RolePolicyInputs>) {
        c.validate(RolePolicyInputs::ROLE, |r| check_role_reference(r));
        c.validate(RolePolicyInputs::NAME, |n| check_policy_name(n));
        check_policy(c, RolePolicyInputs::POLICY, PolicyKind::Identity);
    }

    fn claim(&self, aws: &Aws, inputs: &Partial<RolePolicyInputs>) -> Option<String> {
        let (role, name) = (inputs.known(RolePolicyInputs::ROLE)?, inputs.known(RolePolicyInputs::NAME)?);
        Some(format!("inline policy `{name}` of role `{role}` in account {}", aws.caller.account))
    }

    async fn create(&self, aws: &Aws, req: Create<'_, RolePolicyInputs>) -> Result<Created<RolePolicyOutputs>, ProviderError> {
        let i = req.inputs;
        put(aws, &i.role, &i.name, &i.policy).await?;
        Ok(Created::new(format!("{}:{}", i.role, i.name), RolePolicyOutputs { role: i.role.clone(), name: i.name.clone() }))
    }

    async fn read(
        &self,
        aws: &Aws,
        req: Read<'_, RolePolicyInputs, RolePolicyOutputs>,
    ) -> Result<Option<Observed<RolePolicyInputs, RolePolicyOutputs>>, ProviderError> {
        let Some((role, name)) = req.locate(parse_id, |i| (i.role.as_str(), i.name.as_str()))? else { return Ok(None) };
        let got = aws.clients.iam.get_role_policy().role_name(role).policy_name(name).send().await;
        let Some(got) = found(got, "iam:GetRolePolicy")? else { return Ok(None) };
        let inputs = RolePolicyInputs { role: role.to_string(), name: name.to_string(), policy: document_from_aws(got.policy_document()) };
        let outputs = RolePolicyOutputs { role: role.to_string(), name: name.to_string() };
        Ok(Some(Observed::new(format!("{role}:{name}"), inputs, outputs)))
    }

    async fn update(&self, aws: &Aws, req: Update<'_, RolePolicyInputs, RolePolicyOutputs>) -> Result<RolePolicyOutputs, ProviderError> {
        let n = req.new;
        put(aws, &n.role, &n.name, &n.policy).await?;
        Ok(RolePolicyOutputs { role: n.role.clone(), name: n.name.clone() })
    }

    async fn delete(&self, aws: &Aws, req: Delete<'_, RolePolicyInputs, RolePolicyOutputs>) -> Result<(), ProviderError> {
        let (role, name) = parse_id(req.id)?;
        let deleted = aws.clients.iam.delete_role_policy().role_name(role).policy_name(name).send().await;
        found(deleted, "iam:DeleteRolePolicy").map(drop)
    }
}

/// `PutRolePolicy`: creates the inline policy or replaces its document.
async fn put(aws: &Aws, role: &str, name: &str, policy: &Json) -> Result<(), ProviderError> {
    let put = aws.clients.iam.put_role_policy().role_name(role).policy_name(name).policy_document(policy_text(policy)).send().await;
    put.map(drop).map_err(|e| {
        aws_error("iam:PutRolePolicy")(e)
            .advise("NoSuchEntity", || format!(" (role `{role}`: create the role first, e.g. pass `role.name()` so the policy waits for it)"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(parse_id("app:reads").unwrap(), ("app", "reads"));
        assert!(parse_id("app").is_err());
        assert!(parse_id("arn:aws:iam::1:role/app").is_err());
    }
}
