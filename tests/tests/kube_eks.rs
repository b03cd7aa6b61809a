//! The EKS-derived Kubernetes provider, as far as moto allows: a token signed with moto's
//! credentials and endpoint (and accepted by moto's STS), a provider configured at plan time from
//! the `eks::Cluster` data source, and a configuration unknown at plan time planning with unknowns.

use aws_sdk_eks::types::VpcConfigRequest;
use base64::Engine as _;
use strake::PlanOptions;
use strake::plan::Action;
use strake::prelude::*;
use strake_aws::eks;
use strake_aws::eks_token::{TOKEN_PREFIX, eks_token};
use strake_irsa::FromEks;
use strake_kubernetes::{KubernetesProvider, Namespace};
use strake_tests::aws::{assert_identities, engine, program};
use strake_tests::http::request_with_header;
use strake_tests::kube::Kube;
use strake_tests::moto::{Moto, REGION};

async fn create_cluster(moto: &Moto, name: &str) {
    let eks = aws_sdk_eks::Client::new(&moto.account_a().sdk_config().await);
    eks.create_cluster()
        .name(name)
        .role_arn("arn:aws:iam::123456789012:role/eks-cluster")
        .resources_vpc_config(VpcConfigRequest::builder().subnet_ids("subnet-1").build())
        .send()
        .await
        .expect("creating the cluster in moto");
}

fn kubeconfig_ca(kube: &Kube) -> String {
    let text = std::fs::read_to_string(kube.kubeconfig()).unwrap();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("certificate-authority-data:"))
        .map(|v| v.trim().to_string())
        .expect("the test kubeconfig embeds its CA")
}

fn kube_endpoint(kube: &Kube) -> String {
    let text = std::fs::read_to_string(kube.kubeconfig()).unwrap();
    text.lines().find_map(|l| l.trim().strip_prefix("server:")).map(|v| v.trim().to_string()).expect("server")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_from_moto_credentials_is_a_valid_presigned_sts_call() {
    let moto = Moto::start();
    assert_identities(&moto).await;
    let sdk = moto.account_a().sdk_config().await;
    let credentials = {
        use aws_credential_types::provider::ProvideCredentials as _;
        sdk.credentials_provider().unwrap().provide_credentials().await.unwrap()
    };
    let token = eks_token(&credentials, "demo", REGION, &moto.endpoint(), std::time::SystemTime::now()).unwrap();
    let url = String::from_utf8(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.strip_prefix(TOKEN_PREFIX).unwrap()).unwrap()).unwrap();
    let path = url.strip_prefix(&moto.endpoint()).expect("the URL targets moto's STS");
    assert!(path.starts_with("/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256"), "{path}");
    // The presigned call is what EKS makes to STS to authenticate the token. moto's server routes
    // by the Authorization header (it ignores presigned query auth), so the same signature is
    // sent as that header; moto's STS answers with the caller (it checks no signature).
    let param = |name: &str| {
        path.split(['?', '&']).find_map(|kv| kv.strip_prefix(&format!("{name}="))).unwrap_or_default().replace("%2F", "/").replace("%3B", ";")
    };
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}, SignedHeaders={}, Signature={}",
        param("X-Amz-Credential"),
        param("X-Amz-SignedHeaders"),
        param("X-Amz-Signature")
    );
    assert!(authorization.contains("/us-east-1/sts/aws4_request"), "{authorization}");
    let answer = request_with_header(&moto.addr, "GET", path, ("Authorization", &authorization)).unwrap();
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(answer.text().contains("<Account>123456789012</Account>"), "{}", answer.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_configured_from_the_eks_data_source_at_plan_time() {
    let moto = Moto::start();
    assert_identities(&moto).await;
    let kube = Kube::get();
    create_cluster(&moto, "demo").await;
    let (endpoint, ca) = (kube_endpoint(&kube), kubeconfig_ca(&kube));
    let engine = engine();
    let p = program(|stack| {
        let a = stack.provider("account-a", moto.account_a());
        let cluster = eks::Cluster::lookup(stack, "cluster", &a, "demo");
        // moto's cluster has no API server (its CA is random text), so the endpoint and CA are the
        // local test server's; the name, and the credentials signing the token, are moto's.
        let k = stack.provider("cluster", KubernetesProvider::from_eks(cluster.name(), endpoint.clone(), ca.clone(), &moto.account_a()));
        Namespace::new(stack, "t-eks", &k);
        stack.export("issuer", cluster.oidc_issuer_url());
        Ok(())
    });
    // The provider is configured at plan time from the data source, so the plan's preflight
    // reaches the API server with the EKS token; the local server does not trust STS tokens and
    // refuses it, and the plan says so, naming the cluster. Nothing is applied.
    let err = engine.plan(&p, &PlanOptions::default()).await.unwrap_err();
    let Error::Diagnostics(d) = &err else { panic!("expected the preflight to refuse, got {err:?}") };
    let shown = d[0].to_string();
    assert!(shown.contains("Unauthorized") && shown.contains("EKS cluster `demo`") && shown.contains(endpoint.trim_end_matches('/')), "{shown}");
    assert!(kube.get_json(&["namespace", "t-eks"]).is_none());

    // Without Kubernetes changes there is nothing to preflight: the plan reads the data source.
    let p = program(|stack| {
        let a = stack.provider("account-a", moto.account_a());
        let cluster = eks::Cluster::lookup(stack, "cluster", &a, "demo");
        stack.export("issuer", cluster.oidc_issuer_url());
        Ok(())
    });
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert!(plan.outputs["issuer"].as_str().is_some_and(|i| i.starts_with("https://oidc.eks.us-east-1.amazonaws.com/id/")), "{:?}", plan.outputs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_unknown_at_plan_time_plans_with_unknowns() {
    let engine = engine();
    let p = program(|stack| {
        let endpoint = Data::new(stack, "endpoint", Output::<Value>::unknown());
        let k = stack
            .provider("cluster", KubernetesProvider::from_eks("demo", endpoint.output().typed::<String>(), "Y2E=", &strake_aws::AwsProvider::new()));
        Namespace::new(stack, "later", &k);
        Ok(())
    });
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    let step = plan.steps.iter().find(|s| s.urn.name() == "later").unwrap();
    assert_eq!(step.action, Action::Create);
    assert_eq!(step.reason.as_deref(), Some("provider configuration known only after apply"));
}
