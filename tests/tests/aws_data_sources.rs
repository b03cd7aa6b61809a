//! Data sources against moto: `aws:eks:Cluster` (looked up in account A, known at plan time) and
//! `aws:sts:CallerIdentity` (account B through the assumed role).

use strake::plan::Action;
use strake::{Data, Error, Program, Value};
use strake_aws::eks::Cluster;
use strake_aws::sts::CallerIdentity;
use strake_tests::aws::program;
use strake_tests::check::{diagnostics, render, step_of};
use strake_tests::moto::{ACCOUNT_A, ACCOUNT_B, REGION};
use strake_tests::rig::MotoRig;

/// Creates an EKS cluster in account A with the SDK; returns moto's issuer URL for it.
async fn create_cluster_in_a(rig: &MotoRig, name: &str) -> String {
    let eks = aws_sdk_eks::Client::new(&rig.sdk_a);
    let vpc = aws_sdk_eks::types::VpcConfigRequest::builder().subnet_ids("subnet-12345678").build();
    eks.create_cluster()
        .name(name)
        .role_arn(format!("arn:aws:iam::{ACCOUNT_A}:role/eks-cluster"))
        .resources_vpc_config(vpc)
        .version("1.31")
        .send()
        .await
        .expect("creating the EKS cluster in account A");
    let cluster = eks.describe_cluster().name(name).send().await.unwrap().cluster.unwrap();
    cluster.identity().and_then(|i| i.oidc()).and_then(|o| o.issuer()).expect("moto gives the cluster an issuer").to_string()
}

fn lookup_program(rig: &MotoRig, cluster: &str, in_b: bool) -> Program {
    program(|stack| {
        let provider = if in_b { stack.provider("account-b", rig.moto.account_b()) } else { stack.provider("account-a", rig.moto.account_a()) };
        let c = Cluster::lookup(stack, "prod", &provider, cluster);
        // The issuer feeds a managed resource: its input is known when planning.
        Data::new(stack, "issuer", c.oidc_issuer_url());
        stack.export("issuer_url", c.oidc_issuer_url());
        stack.export("issuer", c.oidc_issuer());
        stack.export("arn", c.arn());
        stack.export("endpoint", c.endpoint());
        stack.export("ca", c.certificate_authority());
        stack.export("version", c.version());
        stack.export("name", c.name());
        Ok(())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eks_cluster_lookup_is_known_at_plan_time() {
    let rig = MotoRig::start().await;
    let issuer_url = create_cluster_in_a(&rig, "prod").await;
    assert!(issuer_url.starts_with(&format!("https://oidc.eks.{REGION}.amazonaws.com/id/")), "{issuer_url}");
    let issuer = issuer_url.trim_start_matches("https://").to_string();

    let p = lookup_program(&rig, "prod", false);
    let plan = rig.plan(&p).await;
    let rendered = render(&plan);
    // The Data resource's planned input is the issuer itself, not "(known after apply)".
    let step = step_of(&plan, "issuer");
    assert_eq!(step.action, Action::Create);
    assert_eq!(step.after.as_ref().and_then(|a| a.get("input")), Some(&Value::from(issuer_url.as_str())), "{rendered}");
    assert!(rendered.contains(&issuer_url), "{rendered}");
    assert!(!rendered.contains("known after apply"), "{rendered}");
    assert_eq!(plan.outputs["issuer_url"].as_str(), Some(issuer_url.as_str()));
    assert_eq!(plan.outputs["issuer"].as_str(), Some(issuer.as_str()));
    assert_eq!(plan.outputs["arn"].as_str(), Some(format!("arn:aws:eks:{REGION}:{ACCOUNT_A}:cluster/prod").as_str()));
    assert_eq!(plan.outputs["version"].as_str(), Some("1.31"));
    assert_eq!(plan.outputs["name"].as_str(), Some("prod"));
    assert!(plan.outputs["endpoint"].as_str().is_some_and(|e| e.starts_with("https://")));
    assert!(plan.outputs["ca"].as_str().is_some_and(|c| !c.is_empty()));

    let report = rig.up(&p).await;
    assert_eq!(report.outputs["issuer"].as_str(), Some(issuer.as_str()));
    // Data sources are not recorded as managed resources; a re-plan is empty.
    let snapshot = rig.state();
    assert!(snapshot.resources.iter().all(|r| r.type_token != "aws:eks:Cluster"));
    rig.assert_no_changes(&p).await;
    rig.destroy(&p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eks_cluster_lookup_errors_are_clear() {
    let rig = MotoRig::start().await;
    create_cluster_in_a(&rig, "prod").await;

    // No such cluster in account A.
    let err = rig.try_plan(&lookup_program(&rig, "nope", false)).await.unwrap_err();
    let diags = diagnostics(&err);
    assert!(diags[0].urn.as_ref().is_some_and(|u| u.name() == "prod"), "{err}");
    assert!(diags[0].message.contains("found nothing"), "{err}");
    // It names what it looked for, and where: the cluster, the account and the region.
    assert!(
        diags[0].message.contains("name = \"nope\"")
            && diags[0].message.contains("account 123456789012")
            && diags[0].message.contains("region us-east-1"),
        "{err}"
    );

    // Clusters are per account: account B does not see A's.
    let err = rig.try_plan(&lookup_program(&rig, "prod", true)).await.unwrap_err();
    assert!(matches!(err, Error::Diagnostics(_)), "{err}");

    // A malformed name fails the check, before any EKS call.
    rig.moto.start_recording();
    let err = rig.try_plan(&lookup_program(&rig, "bad name!", false)).await.unwrap_err();
    let eks_calls: Vec<_> = rig.moto.recorded().into_iter().filter(|r| r.url.contains("/clusters")).collect();
    assert!(eks_calls.is_empty(), "{eks_calls:?}");
    let diags = diagnostics(&err);
    assert_eq!(diags[0].field.as_deref(), Some("name"), "{err}");
    assert!(diags[0].message.contains("not an EKS cluster name"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_identity_is_account_b_for_the_b_provider() {
    let rig = MotoRig::start().await;
    // moto gives every AssumeRole session a new role id (real AWS: stable), so `user_id` is only
    // looked at in the first plan, not exported where a re-plan compares it.
    let make = |with_user: bool| {
        rig.program(|stack, b| {
            let a = stack.provider("account-a", rig.moto.account_a());
            let me_b = CallerIdentity::get(stack, "me-b", b);
            let me_a = CallerIdentity::get(stack, "me-a", &a);
            Data::new(stack, "account", me_b.account_id());
            stack.export("b_account", me_b.account_id());
            stack.export("b_arn", me_b.arn());
            stack.export("a_account", me_a.account_id());
            if with_user {
                stack.export("b_user", me_b.user_id());
            }
        })
    };
    let plan = rig.plan(&make(true)).await;
    assert!(plan.outputs["b_user"].as_str().is_some_and(|u| u.ends_with(":strake-tests")), "{:?}", plan.outputs);
    let p = make(false);
    let plan = rig.plan(&p).await;
    assert_eq!(plan.outputs["b_account"].as_str(), Some(ACCOUNT_B), "known at plan time");
    assert_eq!(plan.outputs["a_account"].as_str(), Some(ACCOUNT_A));
    let arn = plan.outputs["b_arn"].as_str().unwrap();
    assert!(arn.starts_with(&format!("arn:aws:sts::{ACCOUNT_B}:assumed-role/strake-deployer/")), "{arn}");
    let step = step_of(&plan, "account");
    assert_eq!(step.after.as_ref().and_then(|a| a.get("input")), Some(&Value::from(ACCOUNT_B)));

    let report = rig.up(&p).await;
    assert_eq!(report.outputs["b_account"].as_str(), Some(ACCOUNT_B));
    rig.assert_no_changes(&p).await;
}
