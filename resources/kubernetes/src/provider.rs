//! The Kubernetes provider configuration: from a kubeconfig (honouring `KUBECONFIG` as kubectl
//! does), or from an EKS cluster declared in the same program (endpoint and CA from its outputs,
//! a token signed like `aws eks get-token`). A configuration still unknown at plan time plans
//! its resources with unknown values.

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use strake::provider::*;
use strake::typed::{ProviderContext, TypedProvider};
use strake::{Output, Value};
use strake_aws::AwsProvider;

use crate::resources::registry;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Eks {
    cluster_name: String,
    endpoint: String,
    /// Base64 of the PEM CA bundle, as EKS returns it.
    certificate_authority: String,
    /// The AWS configuration whose credentials sign the token.
    aws: serde_json::Value,
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
    eks: Option<Eks>,
}

/// A Kubernetes cluster's provider configuration.
#[derive(Clone)]
pub struct KubernetesProvider {
    config: Output<Value>,
}

impl KubernetesProvider {
    /// The current context of `$KUBECONFIG` (or `~/.kube/config`), as kubectl uses it.
    pub fn from_kubeconfig() -> Self {
        KubernetesProvider { config: Output::new(Value::map()) }
    }

    fn set(self, key: &'static str, value: Value) -> Self {
        KubernetesProvider {
            config: self.config.map(move |mut c| {
                c.set_path(key, Some(value.clone()));
                c
            }),
        }
    }

    /// A kubeconfig file other than `$KUBECONFIG`.
    pub fn kubeconfig_path(self, path: impl Into<String>) -> Self {
        self.set("kubeconfig", Value::from(path.into()))
    }

    pub fn context(self, context: impl Into<String>) -> Self {
        self.set("context", Value::from(context.into()))
    }

    /// The namespace for resources that name none.
    pub fn namespace(self, namespace: impl Into<String>) -> Self {
        self.set("namespace", Value::from(namespace.into()))
    }

    /// An EKS cluster: its endpoint and certificate authority (base64 PEM, as EKS returns it) may
    /// be outputs of a data source or resource; `aws` is the account whose credentials sign the token.
    pub fn from_eks(
        cluster_name: impl Into<Output<String>>,
        endpoint: impl Into<Output<String>>,
        certificate_authority: impl Into<Output<String>>,
        aws: &AwsProvider,
    ) -> Self {
        use strake::provider::ProviderConfig as _;
        let parts = Output::all([cluster_name.into(), endpoint.into(), certificate_authority.into()]);
        let aws = aws.config();
        let config = parts.zip(&aws).map(|(p, aws)| {
            let eks = Value::from_pairs([
                ("cluster_name", Value::from(p[0].clone())),
                ("endpoint", Value::from(p[1].clone())),
                ("certificate_authority", Value::from(p[2].clone())),
                ("aws", aws),
            ]);
            Value::from_pairs([("eks", eks)])
        });
        KubernetesProvider { config }
    }
}

impl ProviderConfig for KubernetesProvider {
    fn config(&self) -> Output<Value> {
        self.config.clone()
    }

    fn factory(&self) -> Arc<dyn ProviderFactory> {
        Arc::new(KubernetesFactory)
    }
}

/// Builds configured Kubernetes providers. Configuring makes no API call.
pub struct KubernetesFactory;

#[async_trait]
impl ProviderFactory for KubernetesFactory {
    fn package(&self) -> &str {
        "kubernetes"
    }

    fn check_config(&self, config: &Value) -> Vec<CheckFailure> {
        match config.deserialize_into::<Settings>() {
            Ok(s) => {
                let mut failures = Vec::new();
                if let Some(eks) = &s.eks {
                    if !eks.endpoint.starts_with("https://") && !eks.endpoint.starts_with("http://") {
                        failures.push(CheckFailure::new("eks.endpoint", format!("`{}` is not an https:// URL", eks.endpoint)));
                    }
                    if base64::engine::general_purpose::STANDARD.decode(eks.certificate_authority.trim()).is_err() {
                        failures.push(CheckFailure::new("eks.certificate_authority", "is not base64 (EKS returns the PEM bundle base64-encoded)"));
                    }
                }
                failures
            }
            Err(e) => vec![CheckFailure::new("", format!("is not a Kubernetes provider configuration: {e}"))],
        }
    }

    async fn configure(&self, config: Value) -> Result<Arc<dyn Provider>, ProviderError> {
        let settings: Settings = config.deserialize_into().map_err(ProviderError::permanent)?;
        let (kube_config, source) = match &settings.eks {
            Some(eks) => (eks_config(eks).await?, format!("EKS cluster `{}`", eks.cluster_name)),
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
        Ok(Arc::new(TypedProvider::new(Kubernetes { client, default_namespace, target }, registry())))
    }
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

async fn eks_config(eks: &Eks) -> Result<kube::Config, ProviderError> {
    let aws = AwsProvider::from_config_value(&Value::from_json(eks.aws.clone())).map_err(ProviderError::permanent)?;
    let sdk = aws.sdk_config().await;
    let credentials = match sdk.credentials_provider() {
        Some(p) => {
            use aws_credential_types::provider::ProvideCredentials as _;
            p.provide_credentials().await.map_err(|e| ProviderError::permanent(format!("cannot get AWS credentials to sign the EKS token: {e}")))?
        }
        None => return Err(ProviderError::permanent("no AWS credentials to sign the EKS token")),
    };
    let region = sdk.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into());
    let sts = sdk.endpoint_url().map(str::to_string).unwrap_or_else(|| format!("https://sts.{region}.amazonaws.com"));
    let token =
        crate::token::eks_token(&credentials, &eks.cluster_name, &region, &sts, std::time::SystemTime::now()).map_err(ProviderError::permanent)?;
    let uri = eks.endpoint.parse().map_err(|e| ProviderError::permanent(format!("bad EKS endpoint `{}`: {e}", eks.endpoint)))?;
    let mut config = kube::Config::new(uri);
    config.root_cert = Some(ca_certificates(&eks.certificate_authority).map_err(ProviderError::permanent)?);
    config.auth_info.token = Some(secrecy::SecretString::from(token));
    Ok(config)
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

#[async_trait]
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
