//! S3: buckets, bucket policies and objects.

pub mod bucket;
pub mod bucket_policy;
pub mod object;
pub(crate) mod shared;

pub use bucket::Bucket;
pub use bucket_policy::BucketPolicy;
pub use object::Object;
