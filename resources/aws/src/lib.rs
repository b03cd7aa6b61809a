//! AWS provider for Strake: IAM, S3 and EKS across accounts, one provider configuration per account.

#![warn(missing_docs)]

pub mod access;
mod attempts;
pub mod catalog;
mod context;
pub mod eks_token;
mod error;
pub mod policy;
mod provider;
pub mod regions;
mod resources;
mod state_backend;
pub mod trust_lint;
pub mod validate;

pub use policy::{Effect, PolicyDocument, Statement};
pub use provider::AwsProvider;
pub use resources::{eks, iam, s3, sts};
pub use state_backend::state_backend_policy;
