//! EKS: the cluster data source.

pub mod cluster;

pub use cluster::Cluster;
