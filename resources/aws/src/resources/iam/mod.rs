//! IAM: roles, managed policies, their attachments and OIDC identity providers.

pub mod oidc_provider;
pub mod policy;
pub mod role;
pub mod role_policy_attachment;
mod shared;

pub use oidc_provider::OpenIdConnectProvider;
pub use policy::Policy;
pub use role::Role;
pub use role_policy_attachment::RolePolicyAttachment;

use super::AwsResource;

/// IAM's resource types.
pub(crate) fn registry(type_token: &str) -> Option<&'static dyn AwsResource> {
    Some(match type_token {
        role::TYPE => &role::RoleType,
        oidc_provider::TYPE => &oidc_provider::OpenIdConnectProviderType,
        policy::TYPE => &policy::PolicyType,
        role_policy_attachment::TYPE => &role_policy_attachment::RolePolicyAttachmentType,
        _ => return None,
    })
}
