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

/// The workspace's root. Read from cargo's environment when the test runs, not when it is
/// compiled: a build cached outside the checkout may have been compiled in another clone.
pub fn workspace_root() -> std::path::PathBuf {
    let tests = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), std::path::PathBuf::from);
    tests.parent().expect("the tests crate is in the workspace").to_path_buf()
}
