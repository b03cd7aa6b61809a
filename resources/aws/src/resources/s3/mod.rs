//! S3: buckets, their settings (policy, public access block, versioning, default encryption)
//! and objects.

pub mod bucket;
pub mod bucket_policy;
pub mod encryption;
pub mod object;
pub mod public_access_block;
pub(crate) mod setting;
pub(crate) mod shared;
pub mod versioning;

pub use bucket::Bucket;
pub use bucket_policy::BucketPolicy;
pub use encryption::BucketServerSideEncryption;
pub use object::Object;
pub use public_access_block::BucketPublicAccessBlock;
pub use setting::OnBucket;
pub use versioning::BucketVersioning;
