//! Data sources against moto: `aws:eks:Cluster` (looked up in account A, known at plan time) and
//! `aws:sts:CallerIdentity` (account B through the assumed role).

use strake::plan::Action;
use strake::{Data, Error, PlanOptions, Program, Value};
use strake_aws::eks::Cluster;
use strake_aws::sts::CallerIdentity;
use strake_tests::aws::{assert_identities, engine, program, provider_b};
use strake_tests::moto::{ACCOUNT_A, ACCOUNT_B, Moto, REGION};

/// Creates an EKS cluster in account A with the SDK; returns moto's issuer URL for it.
async fn create_cluster_in_a(moto: &Moto, name: &str) -> String {
    let eks = aws_sdk_eks::Client::new(&moto.account_a().sdk_config().await);
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

fn lookup_program(moto: &Moto, cluster: &str, in_b: bool) -> Program {
    let cluster = cluster.to_string();
    program(move |stack| {
        let provider = if in_b { provider_b(stack, moto) } else { stack.provider("account-a", moto.account_a()) };
        let c = Cluster::lookup(stack, "prod", &provider, cluster.as_str());
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
    let moto = Moto::start();
    assert_identities(&moto).await;
    let issuer_url = create_cluster_in_a(&moto, "prod").await;
    assert!(issuer_url.starts_with(&format!("https://oidc.eks.{REGION}.amazonaws.com/id/")), "{issuer_url}");
    let issuer = issuer_url.trim_start_matches("https://").to_string();
    let engine = engine();

    let p = lookup_program(&moto, "prod", false);
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    let rendered = strake::plan::render_human(&plan, false);
    // The Data resource's planned input is the issuer itself, not "(known after apply)".
    let step = plan.steps.iter().find(|s| s.urn.name() == "issuer").unwrap();
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

    let report = engine.up(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(report.outputs["issuer"].as_str(), Some(issuer.as_str()));
    // Data sources are not recorded as managed resources; a re-plan is empty.
    let snapshot = engine.store().load("aws-test").unwrap().unwrap();
    assert!(snapshot.resources.iter().all(|r| r.type_token != "aws:eks:Cluster"));
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert!(!plan.has_changes(), "{}", strake::plan::render_human(&plan, false));
    engine.destroy(&p).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eks_cluster_lookup_errors_are_clear() {
    let moto = Moto::start();
    assert_identities(&moto).await;
    create_cluster_in_a(&moto, "prod").await;
    let engine = engine();

    // No such cluster in account A.
    let err = engine.plan(&lookup_program(&moto, "nope", false), &PlanOptions::default()).await.unwrap_err();
    let Error::Diagnostics(diags) = &err else { panic!("expected diagnostics, got {err}") };
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
    let err = engine.plan(&lookup_program(&moto, "prod", true), &PlanOptions::default()).await.unwrap_err();
    assert!(matches!(err, Error::Diagnostics(_)), "{err}");

    // A malformed name fails the check, before any EKS call.
    moto.start_recording();
    let err = engine.plan(&lookup_program(&moto, "bad name!", false), &PlanOptions::default()).await.unwrap_err();
    let eks_calls: Vec<_> = moto.recorded().into_iter().filter(|r| r.url.contains("/clusters")).collect();
    assert!(eks_calls.is_empty(), "{eks_calls:?}");
    let Error::Diagnostics(diags) = &err else { panic!("expected diagnostics, got {err}") };
    assert_eq!(diags[0].field.as_deref(), Some("name"), "{err}");
    assert!(diags[0].message.contains("not an EKS cluster name"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_identity_is_account_b_for_the_b_provider() {
    let moto = Moto::start();
    assert_identities(&moto).await;
    let engine = engine();
    // moto gives every AssumeRole session a new role id (real AWS: stable), so `user_id` is only
    // looked at in the first plan, not exported where a re-plan compares it.
    let make = |with_user: bool| {
        program(|stack| {
            let b = provider_b(stack, &moto);
            let a = stack.provider("account-a", moto.account_a());
            let me_b = CallerIdentity::get(stack, "me-b", &b);
            let me_a = CallerIdentity::get(stack, "me-a", &a);
            Data::new(stack, "account", me_b.account_id());
            stack.export("b_account", me_b.account_id());
            stack.export("b_arn", me_b.arn());
            stack.export("a_account", me_a.account_id());
            if with_user {
                stack.export("b_user", me_b.user_id());
            }
            Ok(())
        })
    };
    let plan = engine.plan(&make(true), &PlanOptions::default()).await.unwrap();
    assert!(plan.outputs["b_user"].as_str().is_some_and(|u| u.ends_with(":strake-tests")), "{:?}", plan.outputs);
    let p = make(false);
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(plan.outputs["b_account"].as_str(), Some(ACCOUNT_B), "known at plan time");
    assert_eq!(plan.outputs["a_account"].as_str(), Some(ACCOUNT_A));
    let arn = plan.outputs["b_arn"].as_str().unwrap();
    assert!(arn.starts_with(&format!("arn:aws:sts::{ACCOUNT_B}:assumed-role/strake-deployer/")), "{arn}");
    let step = plan.steps.iter().find(|s| s.urn.name() == "account").unwrap();
    assert_eq!(step.after.as_ref().and_then(|a| a.get("input")), Some(&Value::from(ACCOUNT_B)));

    let report = engine.up(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(report.outputs["b_account"].as_str(), Some(ACCOUNT_B));
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert!(!plan.has_changes(), "{}", strake::plan::render_human(&plan, false));
}
