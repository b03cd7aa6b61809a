//! STS: the caller identity data source.

pub mod caller_identity;

pub use caller_identity::CallerIdentity;
