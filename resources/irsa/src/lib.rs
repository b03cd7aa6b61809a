//! IAM roles for service accounts (IRSA) across accounts, and the bridge between the AWS and
//! Kubernetes providers: EKS clusters as Kubernetes providers ([`FromEks`]) and service accounts
//! bound to AWS roles ([`IrsaRoleOf`]).

#![warn(missing_docs)]

pub mod component;
pub mod eks;
pub mod service_account;
pub mod verify;

pub use eks::FromEks;
pub use service_account::IrsaRoleOf;
