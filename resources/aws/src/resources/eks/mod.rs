//! EKS: the cluster data source.

pub mod cluster;

pub use cluster::Cluster;

use super::AwsResource;

/// This service's resource types.
pub(crate) fn registry(type_token: &str) -> Option<&'static dyn AwsResource> {
    Some(match type_token {
        cluster::TYPE => &cluster::ClusterType,
        _ => return None,
    })
}
