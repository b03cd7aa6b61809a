//! IAM: roles, managed policies, their attachments and OIDC identity providers.

pub mod role;

pub use role::Role;

use super::AwsResource;

/// IAM's resource types.
pub(crate) fn registry(type_token: &str) -> Option<&'static dyn AwsResource> {
    Some(match type_token {
        role::TYPE => &role::RoleType,
        _ => return None,
    })
}
