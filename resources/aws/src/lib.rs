//! AWS provider for Strake.

pub mod policy;
pub mod validate;

pub use policy::{PolicyDocument, Statement};
