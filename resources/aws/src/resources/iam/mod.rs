//! IAM: roles, managed policies, their attachments and OIDC identity providers.

pub mod oidc_provider;
pub mod policy;
pub mod role;
pub mod role_policy;
pub mod role_policy_attachment;
mod shared;

pub use oidc_provider::OpenIdConnectProvider;
pub use policy::Policy;
pub use role::Role;
pub use role_policy::RolePolicy;
pub use role_policy_attachment::RolePolicyAttachment;
