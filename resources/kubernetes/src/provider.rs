//! The Kubernetes provider configuration: from a kubeconfig (honouring `KUBECONFIG` as kubectl
//! does), or from a cluster's endpoint and CA with a bearer token from a [`ClusterToken`] source
//! (e.g. an EKS cluster declared in the same program, its token signed like `aws eks get-token`;
//! `strake-irsa` plugs that in). A configuration still unknown at plan time plans its resources
//! with unknown values.

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use strake::provider::*;
use strake::typed::{ProviderContext, TypedProvider};
use strake::{Output, Value};

use crate::resources::registry;

/// A cluster reached by its endpoint, with a token from the factory's [`ClusterToken`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Cluster {
    endpoint: String,
    /// Base64 of the PEM CA bundle (as EKS returns it).
    certificate_authority: String,
    /// What the token source needs (e.g. the cluster's name and an AWS configuration).
    token: serde_json::Value,
}

/// Where a provider's bearer token comes from, for a cluster reached by its endpoint: e.g. an
/// EKS token signed with AWS credentials. The token is made when the provider is configured.
#[async_trait]
pub trait ClusterToken: Send + Sync {
    /// The cluster in words, from the token's settings, for plans: e.g. "EKS cluster `demo`".
    fn source(&self, settings: &serde_json::Value) -> String;

    /// A bearer token for the cluster.
    async fn token(&self, settings: &serde_json::Value) -> Result<String, ProviderError>;
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Settings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kubeconfig: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    context: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cluster: Option<Cluster>,
}

/// A Kubernetes cluster's provider configuration.
#[derive(Clone)]
pub struct KubernetesProvider {
    config: Output<Value>,
    token: Option<Arc<dyn ClusterToken>>,
}

impl KubernetesProvider {
    /// The current context of `$KUBECONFIG` (or `~/.kube/config`), as kubectl uses it.
    pub fn from_kubeconfig() -> Self {
        KubernetesProvider { config: Output::new(Value::map()), token: None }
    }

    fn set(self, key: &'static str, value: Value) -> Self {
        KubernetesProvider {
            config: self.config.map(move |mut c| {
                c.set_path(key, Some(value.clone()));
                c
            }),
            token: self.token,
        }
    }

    /// A kubeconfig file other than `$KUBECONFIG`.
    pub fn kubeconfig_path(self, path: impl Into<String>) -> Self {
        self.set("kubeconfig", Value::from(path.into()))
    }

    /// The kubeconfig context to use (default: the kubeconfig's current context).
    pub fn context(self, context: impl Into<String>) -> Self {
        self.set("context", Value::from(context.into()))
    }

    /// The namespace for resources that name none.
    pub fn namespace(self, namespace: impl Into<String>) -> Self {
        self.set("namespace", Value::from(namespace.into()))
    }

    /// A cluster reached at `endpoint`, trusting `certificate_authority` (base64 of the PEM bundle,
    /// as EKS returns it), with a bearer token from `token` given `token_settings`. Each part may
    /// be an output of a data source or resource.
    pub fn from_cluster(
        endpoint: impl Into<Output<String>>,
        certificate_authority: impl Into<Output<String>>,
        token_settings: impl Into<Output<Value>>,
        token: Arc<dyn ClusterToken>,
    ) -> Self {
        let parts = Output::all([endpoint.into().map(Value::from), certificate_authority.into().map(Value::from), token_settings.into()]);
        let config = parts.map(|p| {
            let cluster = Value::from_pairs([("endpoint", p[0].clone()), ("certificate_authority", p[1].clone()), ("token", p[2].clone())]);
            Value::from_pairs([("cluster", cluster)])
        });
        KubernetesProvider { config, token: Some(token) }
    }
}

impl ProviderConfig for KubernetesProvider {
    fn config(&self) -> Output<Value> {
        self.config.clone()
    }

    fn factory(&self) -> Arc<dyn ProviderFactory> {
        Arc::new(KubernetesFactory { token: self.token.clone() })
    }
}

/// Builds configured Kubernetes providers. Configuring opens the connection to the cluster in the
/// background and waits for no answer.
pub struct KubernetesFactory {
    /// Where tokens come from for a configuration with a `cluster` (see [`ClusterToken`]).
    token: Option<Arc<dyn ClusterToken>>,
}

#[async_trait]
impl ProviderFactory for KubernetesFactory {
    fn package(&self) -> &str {
        "kubernetes"
    }

    fn check_config(&self, config: &Value) -> Vec<CheckFailure> {
        match config.deserialize_into::<Settings>() {
            Ok(s) => {
                let mut failures = Vec::new();
                if let Some(cluster) = &s.cluster {
                    if !cluster.endpoint.starts_with("https://") && !cluster.endpoint.starts_with("http://") {
                        failures.push(CheckFailure::new("cluster.endpoint", format!("`{}` is not an https:// URL", cluster.endpoint)));
                    }
                    if base64::engine::general_purpose::STANDARD.decode(cluster.certificate_authority.trim()).is_err() {
                        failures
                            .push(CheckFailure::new("cluster.certificate_authority", "is not base64 (EKS returns the PEM bundle base64-encoded)"));
                    }
                }
                failures
            }
            Err(e) => vec![CheckFailure::new("", format!("is not a Kubernetes provider configuration: {e}"))],
        }
    }

    async fn configure(&self, config: Value) -> Result<Arc<dyn Provider>, ProviderError> {
        let settings: Settings = config.deserialize_into().map_err(ProviderError::permanent)?;
        let (kube_config, source) = match &settings.cluster {
            Some(cluster) => self.cluster_config(cluster).await?,
            None => {
                let context = match &settings.context {
                    Some(c) => c.clone(),
                    None => current_context(&settings).unwrap_or_else(|| "(current)".into()),
                };
                let file = settings.kubeconfig.clone().or_else(|| std::env::var("KUBECONFIG").ok()).unwrap_or_else(|| "~/.kube/config".into());
                (kubeconfig(&settings).await?, format!("context `{context}` of {file}"))
            }
        };
        let default_namespace = settings.namespace.clone().unwrap_or_else(|| kube_config.default_namespace.clone());
        let server = kube_config.cluster_url.to_string();
        let target = Target {
            description: format!("cluster {server} ({source}), default namespace `{default_namespace}`"),
            destination: Some(format!("Kubernetes cluster {server}")),
        };
        let mut kube_config = kube_config;
        kube_config.connect_timeout = Some(CONNECT_TIMEOUT);
        let client = kube::Client::try_from(kube_config).map_err(|e| ProviderError::permanent(format!("cannot build a Kubernetes client: {e}")))?;
        connect_early(&client);
        Ok(Arc::new(TypedProvider::new(Kubernetes { client, default_namespace, target }, registry())))
    }
}

/// Opens the connection to the API server in the background while the plan goes on, so that the
/// TLS handshake is not on the path of the first call that needs an answer (the preflight's): it
/// costs a few round trips, and the process's first handshake also seeds AWS-LC's random number
/// generator, tens of milliseconds of CPU (its CPU-jitter entropy source), done here on a
/// blocking thread rather than on a worker. The answer is not used, and neither is a failure:
/// the preflight asks again and reports it.
fn connect_early(client: &kube::Client) {
    let client = client.clone();
    tokio::spawn(async move {
        let _ = tokio::task::spawn_blocking(|| aws_lc_rs::rand::fill(&mut [0u8; 1])).await;
        let _ = client.apiserver_version().await;
    });
}

/// The current context the kubeconfig names, if it can be read.
fn current_context(s: &Settings) -> Option<String> {
    let file = match &s.kubeconfig {
        Some(path) => kube::config::Kubeconfig::read_from(path).ok()?,
        None => kube::config::Kubeconfig::read().ok()?,
    };
    file.current_context
}

async fn kubeconfig(s: &Settings) -> Result<kube::Config, ProviderError> {
    let options = kube::config::KubeConfigOptions { context: s.context.clone(), cluster: None, user: None };
    let result = match &s.kubeconfig {
        Some(path) => {
            let file =
                kube::config::Kubeconfig::read_from(path).map_err(|e| ProviderError::permanent(format!("cannot read kubeconfig {path}: {e}")))?;
            kube::Config::from_custom_kubeconfig(file, &options).await
        }
        None => kube::Config::from_kubeconfig(&options).await,
    };
    result.map_err(|e| {
        ProviderError::permanent(format!("cannot load the kubeconfig ({e}); set KUBECONFIG or pass `.kubeconfig_path(...)`/`.context(...)`"))
    })
}

/// The DER certificates inside a base64-encoded PEM bundle.
pub(crate) fn ca_certificates(base64_pem: &str) -> Result<Vec<Vec<u8>>, String> {
    let engine = base64::engine::general_purpose::STANDARD;
    let pem = engine.decode(base64_pem.trim()).map_err(|e| format!("the certificate authority is not base64: {e}"))?;
    let pem = String::from_utf8(pem).map_err(|_| "the certificate authority is not PEM text".to_string())?;
    let mut certs = Vec::new();
    for block in pem.split("-----BEGIN CERTIFICATE-----").skip(1) {
        let body = block.split("-----END CERTIFICATE-----").next().unwrap_or_default();
        let der: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        certs.push(engine.decode(der).map_err(|e| format!("a certificate in the bundle is not base64: {e}"))?);
    }
    if certs.is_empty() {
        return Err("the certificate authority holds no PEM certificate".into());
    }
    Ok(certs)
}

impl KubernetesFactory {
    /// The client configuration of a cluster reached by its endpoint, and the cluster in words.
    async fn cluster_config(&self, cluster: &Cluster) -> Result<(kube::Config, String), ProviderError> {
        let Some(token) = &self.token else {
            return Err(ProviderError::permanent(
                "this configuration reaches its cluster with a token source that the program no longer declares; keep the provider \
                 (e.g. `KubernetesProvider::from_eks`) declared until the resources it manages are destroyed",
            ));
        };
        let source = token.source(&cluster.token);
        let uri = cluster.endpoint.parse().map_err(|e| ProviderError::permanent(format!("bad cluster endpoint `{}`: {e}", cluster.endpoint)))?;
        let mut config = kube::Config::new(uri);
        config.root_cert = Some(ca_certificates(&cluster.certificate_authority).map_err(ProviderError::permanent)?);
        config.auth_info.token = Some(secrecy::SecretString::from(token.token(&cluster.token).await?));
        Ok((config, source))
    }
}

impl Kubernetes {
    /// The cluster in words, for messages: server, context or EKS cluster, default namespace.
    pub(crate) fn target_description(&self) -> &str {
        &self.target.description
    }

    /// The cluster as a place, for claims: `Kubernetes cluster <server>`.
    pub(crate) fn target_destination(&self) -> &str {
        self.target.destination.as_deref().unwrap_or("the cluster")
    }
}

impl ProviderContext for Kubernetes {
    fn target(&self) -> Option<Target> {
        Some(self.target.clone())
    }

    async fn preflight(&self, req: PreflightRequest) -> Result<(), ProviderError> {
        crate::preflight::preflight(self, &req).await
    }
}

/// How long connecting to the API server may take before it counts as unreachable.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A configured cluster.
pub(crate) struct Kubernetes {
    pub client: kube::Client,
    pub default_namespace: String,
    /// Where its changes land (the server, the context or EKS cluster).
    target: Target,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// The connection is opened while the plan goes on, before any call needs it.
    #[tokio::test]
    async fn configuring_opens_the_connection_before_any_call() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        let kubeconfig = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: x\n\
             clusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{port}', insecure-skip-tls-verify: true}}}}]\n\
             users: [{{name: u, user: {{token: t}}}}]\ncontexts: [{{name: x, context: {{cluster: c, user: u}}}}]\n"
        );
        std::fs::write(&path, kubeconfig).unwrap();
        let config = Value::from_pairs([("kubeconfig", Value::from(path.to_string_lossy().to_string()))]);
        let _provider = KubernetesFactory { token: None }.configure(config).await.unwrap();
        let accepted = tokio::time::timeout(Duration::from_secs(30), listener.accept()).await;
        assert!(accepted.is_ok(), "configuring the provider opened no connection to the API server");
    }
}
