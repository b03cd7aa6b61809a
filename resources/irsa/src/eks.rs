//! EKS clusters as Kubernetes providers: the cluster's endpoint and CA, with a bearer token
//! signed by an AWS provider's credentials the way `aws eks get-token` signs it.

use std::sync::Arc;

use async_trait::async_trait;
use strake::provider::{ProviderConfig as _, ProviderError};
use strake::{Output, Value};
use strake_aws::AwsProvider;
use strake_kubernetes::{ClusterToken, KubernetesProvider};

/// `KubernetesProvider::from_eks`, with this trait in scope.
pub trait FromEks {
    /// An EKS cluster: its endpoint and certificate authority (base64 PEM, as EKS returns it) may
    /// be outputs of a data source or resource; `aws` is the account whose credentials sign the token.
    fn from_eks(
        cluster_name: impl Into<Output<String>>,
        endpoint: impl Into<Output<String>>,
        certificate_authority: impl Into<Output<String>>,
        aws: &AwsProvider,
    ) -> Self;
}

impl FromEks for KubernetesProvider {
    fn from_eks(
        cluster_name: impl Into<Output<String>>,
        endpoint: impl Into<Output<String>>,
        certificate_authority: impl Into<Output<String>>,
        aws: &AwsProvider,
    ) -> Self {
        let settings =
            cluster_name.into().zip(&aws.config()).map(|(name, aws)| Value::from_pairs([("cluster_name", Value::from(name)), ("aws", aws)]));
        KubernetesProvider::from_cluster(endpoint, certificate_authority, settings, Arc::new(EksToken))
    }
}

/// Tokens for an EKS cluster: settings `{cluster_name, aws}`, `aws` an AWS provider configuration.
struct EksToken;

#[async_trait]
impl ClusterToken for EksToken {
    fn source(&self, settings: &serde_json::Value) -> String {
        format!("EKS cluster `{}`", settings["cluster_name"].as_str().unwrap_or("?"))
    }

    async fn token(&self, settings: &serde_json::Value) -> Result<String, ProviderError> {
        let name = settings["cluster_name"].as_str().ok_or_else(|| ProviderError::permanent("the EKS token settings name no cluster"))?;
        strake_aws::eks_token::provider_token(&settings["aws"], name).await.map_err(ProviderError::permanent)
    }
}
