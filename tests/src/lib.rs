//! Test harness shared by the integration suites.

pub mod fake;
pub mod harness;
