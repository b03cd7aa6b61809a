//! The IRSA component: the whole pattern in a few lines, grouped in the plan, working across
//! accounts and within one account (what eksctl covers), proven with `verify`.

use strake::{ProviderRef, Stack};
use strake_aws::Statement;
use strake_irsa::component::{Irsa, IrsaArgs, OidcProvider};
use strake_irsa::verify::{VerifyTarget, kube_client, verify};
use strake_kubernetes::Namespace;
use strake_tests::aws::{program, s3_client};
use strake_tests::check::render;
use strake_tests::kube::{Kube, TEST_ISSUER};
use strake_tests::rig::MotoRig;

const CONTENT: &str = "this is a test to prove you can get this file from this bucket";

fn declare(stack: &Stack, role_account: &ProviderRef, kube: &Kube, namespace: &str, bucket: &str) -> Irsa {
    let k = stack.provider("cluster", kube.provider());
    let ns = Namespace::new(stack, namespace, &k);
    let bucket_arn = format!("arn:aws:s3:::{bucket}");
    Irsa::new(
        stack,
        "reader",
        IrsaArgs {
            role_account,
            cluster: &k,
            oidc: OidcProvider::Create { issuer_url: TEST_ISSUER.into() },
            namespace: &ns,
            service_account: "s3-sa",
            grants: vec![
                Statement::allow().actions(["s3:GetObject"]).resources([format!("{bucket_arn}/*")]),
                Statement::allow().actions(["s3:ListBucket"]).resources([bucket_arn]),
            ],
        },
    )
}

async fn bucket_with_object(sdk: &aws_config::SdkConfig, bucket: &str) {
    let s3 = s3_client(sdk);
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    s3.put_object().bucket(bucket).key("test.txt").body(CONTENT.as_bytes().to_vec().into()).send().await.unwrap();
}

async fn prove(kube: &Kube, namespace: &str, account: &strake_aws::AwsProvider, role_arn: &str, bucket: &str) {
    let client = kube_client(Some(&kube.kubeconfig())).await.unwrap();
    let mut out = Vec::new();
    let verified = verify(&VerifyTarget::new(namespace, "s3-sa", role_arn, bucket), &client, account, &mut out)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&out)));
    assert!(verified.content_text().contains(CONTENT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_account_irsa_in_a_few_lines_grouped_in_the_plan() {
    let rig = MotoRig::start().await;
    let kube = Kube::get();
    bucket_with_object(&rig.sdk_b, "irsa-cross").await;
    let p = rig.program(|stack, b| {
        let irsa = declare(stack, b, &kube, "t-irsa-cross", "irsa-cross");
        stack.export("role_arn", irsa.role.arn());
    });

    let plan = rig.plan(&p).await;
    let text = render(&plan);
    let heading = text.find("component strake:irsa:ServiceAccountRole \"reader\"").unwrap_or_else(|| panic!("{text}"));
    for child in ["reader-oidc", "reader-role", "reader-policy", "reader-attachment", "\"s3-sa\""] {
        let at = text.find(child).unwrap_or_else(|| panic!("{child} missing:\n{text}"));
        assert!(at > heading, "{child} is listed under the component:\n{text}");
    }
    let report = rig.up(&p).await;
    let role_arn = report.outputs["role_arn"].as_str().unwrap().to_string();
    assert!(role_arn.starts_with("arn:aws:iam::222222222222:role/"), "{role_arn}");
    rig.assert_no_changes(&p).await;
    prove(&kube, "t-irsa-cross", &rig.moto.account_b(), &role_arn, "irsa-cross").await;
    rig.destroy(&p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_account_irsa_like_eksctl() {
    let rig = MotoRig::start().await;
    let kube = Kube::get();
    bucket_with_object(&rig.sdk_a, "irsa-same").await;
    let p = program(|stack| {
        let a = stack.provider("account-a", rig.moto.account_a());
        let irsa = declare(stack, &a, &kube, "t-irsa-same", "irsa-same");
        stack.export("role_arn", irsa.role.arn());
        Ok(())
    });
    let report = rig.up(&p).await;
    let role_arn = report.outputs["role_arn"].as_str().unwrap().to_string();
    assert!(role_arn.starts_with("arn:aws:iam::123456789012:role/"), "{role_arn}");
    prove(&kube, "t-irsa-same", &rig.moto.account_a(), &role_arn, "irsa-same").await;
    rig.destroy(&p).await;
}
