//! `aws:eks:Cluster`: a data source that looks up an existing EKS cluster by name, for its
//! endpoint, certificate authority and OIDC issuer (e.g. to trust the cluster's service accounts).

use async_trait::async_trait;
use strake::provider::*;
use strake::{Output, ProviderRef, Resource, ResourceHandle, Stack, Value};

use crate::error::AwsFailure;
use crate::provider::Aws;
use crate::resources::*;

pub const TYPE: &str = "aws:eks:Cluster";

/// An existing EKS cluster, read at plan time (when its name is known) with the provider's account and region.
#[derive(Clone)]
pub struct Cluster(Resource);

impl Cluster {
    /// Looks up the cluster `cluster_name`; the plan fails if there is none.
    #[track_caller]
    pub fn lookup(stack: &Stack, name: &str, provider: &ProviderRef, cluster_name: impl Into<Output<String>>) -> Cluster {
        let r = stack.data_source(TYPE, name);
        r.set_input("name", cluster_name.into());
        Cluster(r.provider(provider))
    }

    pub fn arn(&self) -> Output<String> {
        self.0.output_string("arn")
    }

    pub fn name(&self) -> Output<String> {
        self.0.output_string("name")
    }

    /// The Kubernetes API server's URL.
    pub fn endpoint(&self) -> Output<String> {
        self.0.output_string("endpoint")
    }

    /// The cluster's CA certificate, base64-encoded (as EKS gives it).
    pub fn certificate_authority(&self) -> Output<String> {
        self.0.output_string("certificate_authority")
    }

    /// The OIDC issuer URL, `https://oidc.eks.<region>.amazonaws.com/id/<id>`.
    pub fn oidc_issuer_url(&self) -> Output<String> {
        self.0.output_string("oidc_issuer_url")
    }

    /// The issuer without `https://`, as IAM condition keys use it (`<issuer>:sub`).
    pub fn oidc_issuer(&self) -> Output<String> {
        self.0.output_string("oidc_issuer")
    }

    /// The Kubernetes version, e.g. `1.31`.
    pub fn version(&self) -> Output<String> {
        self.0.output_string("version")
    }
}

impl ResourceHandle for Cluster {
    fn resource(&self) -> &Resource {
        &self.0
    }
}

pub(crate) struct ClusterType;

/// EKS cluster names: 1-100 characters, letters, digits, `-` and `_`, starting with a letter or digit.
fn check_cluster_name(name: &str) -> Result<(), String> {
    let first_ok = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if name.is_empty() || name.len() > 100 || !first_ok || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(format!(
            "`{name}` is not an EKS cluster name: 1 to 100 letters, digits, `-` and `_`, starting with a letter or digit"
        ));
    }
    Ok(())
}

#[async_trait]
impl AwsResource for ClusterType {
    fn check(&self, _aws: &Aws, req: CheckRequest) -> CheckResponse {
        let inputs = req.inputs;
        let mut failures = Vec::new();
        require(&inputs, "name", "the name of the EKS cluster to look up", &mut failures);
        check_str(&inputs, "name", &mut failures, check_cluster_name);
        CheckResponse { inputs, failures, warnings: Vec::new() }
    }

    async fn create(&self, _aws: &Aws, _req: CreateRequest) -> Result<CreateResponse, ProviderError> {
        Err(read_only(TYPE))
    }

    async fn read(&self, aws: &Aws, req: ReadRequest) -> Result<ReadResponse, ProviderError> {
        let Some(name) = known_str(&req.inputs, "name").map(str::to_string).or(req.id.clone()) else {
            return Ok(ReadResponse::Gone);
        };
        let cluster = match aws.clients.eks.describe_cluster().name(&name).send().await {
            Ok(out) => out.cluster.ok_or_else(|| ProviderError::permanent("eks:DescribeCluster returned no cluster"))?,
            Err(e) => {
                let f = AwsFailure::from(e);
                if f.is_not_found() {
                    return Ok(ReadResponse::Gone);
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
        let outputs = Value::from_pairs([
            ("arn", Value::from(cluster.arn().unwrap_or_default())),
            ("name", Value::from(cluster.name().unwrap_or(&name))),
            ("endpoint", Value::from(endpoint)),
            ("certificate_authority", Value::from(ca)),
            ("oidc_issuer_url", Value::from(issuer)),
            ("oidc_issuer", Value::from(issuer.strip_prefix("https://").unwrap_or(issuer))),
            ("version", Value::from(cluster.version().unwrap_or_default())),
        ]);
        Ok(ReadResponse::Found { id: name.clone(), inputs: Value::from_pairs([("name", Value::from(name))]), outputs })
    }

    async fn update(&self, _aws: &Aws, _req: UpdateRequest) -> Result<UpdateResponse, ProviderError> {
        Err(read_only(TYPE))
    }

    async fn delete(&self, _aws: &Aws, _req: DeleteRequest) -> Result<(), ProviderError> {
        Err(read_only(TYPE))
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
