//! STS: the caller identity data source.

pub mod caller_identity;

pub use caller_identity::CallerIdentity;

use super::AwsResource;

/// This service's resource types.
pub(crate) fn registry(type_token: &str) -> Option<&'static dyn AwsResource> {
    Some(match type_token {
        caller_identity::TYPE => &caller_identity::CallerIdentityType,
        _ => return None,
    })
}
