//! STS: the caller identity data source.

use super::AwsResource;

/// This service's resource types.
pub(crate) fn registry(type_token: &str) -> Option<&'static dyn AwsResource> {
    match type_token {
        _ => None,
    }
}
