//! Test harness shared by the integration suites.

pub mod fake;
pub mod harness;
pub mod http;
pub mod moto;
pub mod aws;
pub mod cloud_view;
pub mod fault_proxy;
pub mod kube;
