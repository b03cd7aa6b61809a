//! IAM roles for service accounts (IRSA) across accounts.

pub mod component;
pub mod verify;
