//! Kubernetes provider for Strake: namespaces, service accounts (with IRSA helpers) and
//! deployments, applied server-side with field manager `strake`; configured from a kubeconfig or
//! from a cluster's endpoint with a [`ClusterToken`] source (`strake-irsa` gives EKS clusters one).

#![warn(missing_docs)]

mod preflight;
mod provider;
mod resources;
pub mod validate;

pub use provider::{ClusterToken, KubernetesFactory, KubernetesProvider};
pub use resources::FIELD_MANAGER;
pub use resources::deployment::{Deployment, ROLE_HASH_ANNOTATION};
pub use resources::manifest::Manifest;
pub use resources::namespace::Namespace;
pub use resources::service_account::{self, ServiceAccount};
