//! AWS provider for Strake: IAM, S3 and EKS across accounts, one provider configuration per account.

mod attempts;
mod error;
pub mod policy;
mod provider;
mod resources;
pub mod trust_lint;
pub mod validate;

pub use policy::{Effect, PolicyDocument, Statement};
pub use provider::AwsProvider;
pub use resources::{eks, iam, s3, sts};
