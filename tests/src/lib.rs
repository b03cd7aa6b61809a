//! Test harness shared by the integration suites.

pub mod aws;
pub mod check;
pub mod cloud_view;
pub mod events;
pub mod fake;
pub mod fault_proxy;
pub mod files;
pub mod harness;
pub mod http;
pub mod kube;
pub mod moto;
pub mod ran;
pub mod rig;
