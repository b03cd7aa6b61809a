//! S3: buckets, bucket policies and objects.

pub mod bucket;
pub mod bucket_policy;
pub mod object;
pub(crate) mod shared;

pub use bucket::Bucket;
pub use bucket_policy::BucketPolicy;
pub use object::Object;

use super::AwsResource;

/// This service's resource types.
pub(crate) fn registry(type_token: &str) -> Option<&'static dyn AwsResource> {
    Some(match type_token {
        bucket::TYPE => &bucket::BucketType,
        bucket_policy::TYPE => &bucket_policy::BucketPolicyType,
        object::TYPE => &object::ObjectType,
        _ => return None,
    })
}
