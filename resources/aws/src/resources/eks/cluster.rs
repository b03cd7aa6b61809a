//! `aws:eks:Cluster`: a data source that looks up an existing EKS cluster by name, for its
//! endpoint, certificate authority and OIDC issuer (e.g. to trust the cluster's service accounts).

use serde::{Deserialize, Serialize};
use strake::provider::ProviderError;
use strake::typed::*;
use strake::{Resource, ResourceHandle};

use crate::context::Aws;
use crate::error::AwsFailure;

/// The type token of the EKS cluster data source.
pub const TYPE: &str = "aws:eks:Cluster";

/// What a cluster lookup is given.
#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
#[strake(handle = Cluster, data_source = TYPE)]
pub struct ClusterQuery {
    /// The name of the EKS cluster to look up.
    #[strake(new = "cluster_name")]
    pub name: String,
}

/// What a cluster lookup finds.
#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
#[strake(handle = Cluster)]
pub struct ClusterInfo {
    /// The cluster's ARN.
    #[strake(get)]
    pub arn: String,
    /// The cluster's name.
    #[strake(get)]
    pub name: String,
    /// The Kubernetes API server's URL.
    #[strake(get)]
    pub endpoint: String,
    /// The cluster's CA certificate, base64-encoded (as EKS gives it).
    #[strake(get)]
    pub certificate_authority: String,
    /// The OIDC issuer URL, `https://oidc.eks.<region>.amazonaws.com/id/<id>`.
    #[strake(get)]
    pub oidc_issuer_url: String,
    /// The issuer without `https://`, as IAM condition keys use it (`<issuer>:sub`).
    #[strake(get)]
    pub oidc_issuer: String,
    /// The Kubernetes version, e.g. `1.31`.
    #[strake(get)]
    pub version: String,
}

/// An existing EKS cluster, read at plan time (when its name is known) with the provider's account and region.
#[derive(Clone, ResourceHandle)]
pub struct Cluster(Resource);

pub(crate) struct ClusterType;

/// EKS cluster names: 1-100 characters, letters, digits, `-` and `_`, starting with a letter or digit.
fn check_cluster_name(name: &str) -> Result<(), String> {
    let first_ok = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if name.is_empty() || name.len() > 100 || !first_ok || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(format!("`{name}` is not an EKS cluster name: 1 to 100 letters, digits, `-` and `_`, starting with a letter or digit"));
    }
    Ok(())
}

impl DataSourceType for ClusterType {
    type Context = Aws;
    type Inputs = ClusterQuery;
    type Outputs = ClusterInfo;
    const TYPE: &'static str = TYPE;

    fn check(&self, _aws: &Aws, c: &mut Check<ClusterQuery>) {
        c.validate(ClusterQuery::NAME, |n| check_cluster_name(n));
    }

    async fn read(&self, aws: &Aws, query: &ClusterQuery) -> Result<Option<Found<ClusterInfo>>, ProviderError> {
        let name = &query.name;
        let cluster = match aws.clients.eks.describe_cluster().name(name).send().await {
            Ok(out) => out.cluster.ok_or_else(|| ProviderError::permanent("eks:DescribeCluster returned no cluster"))?,
            Err(e) => {
                let f = AwsFailure::from(e);
                if f.is_not_found() {
                    return Ok(None);
                }
                return Err(f.into_error("eks:DescribeCluster"));
            }
        };
        let issuer = cluster.identity().and_then(|i| i.oidc()).and_then(|o| o.issuer()).filter(|s| !s.is_empty());
        let endpoint = cluster.endpoint().filter(|s| !s.is_empty());
        let ca = cluster.certificate_authority().and_then(|c| c.data()).filter(|s| !s.is_empty());
        let missing: Vec<&str> = [("endpoint", endpoint.is_none()), ("certificate authority", ca.is_none()), ("OIDC issuer", issuer.is_none())]
            .into_iter()
            .filter_map(|(what, absent)| absent.then_some(what))
            .collect();
        if !missing.is_empty() {
            let status = cluster.status().map(|s| s.as_str().to_string()).unwrap_or_else(|| "in an unknown state".into());
            return Err(ProviderError::permanent(format!(
                "EKS cluster `{name}` is {status} and has no {} yet; look it up once it is ACTIVE",
                missing.join(", ")
            )));
        }
        let (issuer, endpoint, ca) = (issuer.unwrap_or_default(), endpoint.unwrap_or_default(), ca.unwrap_or_default());
        let info = ClusterInfo {
            arn: cluster.arn().unwrap_or_default().to_string(),
            name: cluster.name().unwrap_or(name).to_string(),
            endpoint: endpoint.to_string(),
            certificate_authority: ca.to_string(),
            oidc_issuer_url: issuer.to_string(),
            oidc_issuer: issuer.strip_prefix("https://").unwrap_or(issuer).to_string(),
            version: cluster.version().unwrap_or_default().to_string(),
        };
        Ok(Some(Found::new(name.clone(), info)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_names() {
        for ok in ["prod", "a", "my_cluster-1"] {
            assert!(check_cluster_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-x", "has space", "dot.ted"] {
            assert!(check_cluster_name(bad).is_err(), "{bad}");
        }
        assert!(check_cluster_name(&"a".repeat(101)).is_err());
    }
}
