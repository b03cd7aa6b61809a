//! strake-kubernetes against a real kube-apiserver (tests/kube): every resource from create
//! through update to delete, re-plans, drift made with kubectl, other field managers, the
//! role-change roll, namespace deletion, and plan-time validation with zero API calls.

use std::sync::atomic::Ordering;

use strake::plan::Action;
use strake::{Error, PlanOptions, Program, ProviderRef, Stack};
use strake_kubernetes::{Deployment, Namespace, ROLE_HASH_ANNOTATION, ServiceAccount};
use strake_tests::aws::engine;
use strake_tests::kube::Kube;

const ROLE_1: &str = "arn:aws:iam::222222222222:role/reader";
const ROLE_2: &str = "arn:aws:iam::222222222222:role/reader-v2";

struct App<'a> {
    ns: &'a str,
    sa: &'a str,
    role: &'a str,
    image: &'a str,
    force: bool,
}

fn declare(stack: &Stack, k: &ProviderRef, app: &App<'_>) {
    let ns = Namespace::new(stack, app.ns, k).labels([("team", "data")]);
    let mut sa = ServiceAccount::new(stack, app.sa, k, &ns).irsa_role(app.role).token_expiration(3600);
    if app.force {
        sa = sa.force_conflicts();
    }
    Deployment::simple(stack, "test-deployment", k, &ns, app.image).container_name("aws").command(["sleep", "10000"]).service_account(&sa);
}

fn program(kube: &Kube, app: App<'_>) -> Program {
    strake_tests::aws::program(|stack| {
        let k = stack.provider("cluster", kube.provider());
        declare(stack, &k, &app);
        Ok(())
    })
}

fn actions(plan: &strake::Plan) -> Vec<(String, Action)> {
    plan.steps.iter().filter(|s| s.action != Action::NoOp).map(|s| (s.urn.name().to_string(), s.action)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_go_from_create_through_updates_to_delete() {
    let kube = Kube::get();
    let engine = engine();
    let app = |role, image| App { ns: "t-lifecycle", sa: "s3-sa", role, image, force: false };

    engine.up(&program(&kube, app(ROLE_1, "amazon/aws-cli")), &PlanOptions::default()).await.unwrap();
    let sa = kube.get_json(&["-n", "t-lifecycle", "serviceaccount", "s3-sa"]).expect("the service account exists");
    assert_eq!(sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"], ROLE_1);
    assert!(sa["metadata"]["managedFields"].as_array().unwrap().iter().any(|m| m["manager"] == "strake"), "{sa}");
    let dep = kube.get_json(&["-n", "t-lifecycle", "deployment", "test-deployment"]).expect("the deployment exists");
    assert_eq!(dep["spec"]["template"]["spec"]["serviceAccountName"], "s3-sa");
    assert_eq!(dep["spec"]["template"]["spec"]["containers"][0]["image"], "amazon/aws-cli");
    let hash_1 = dep["spec"]["template"]["metadata"]["annotations"][ROLE_HASH_ANNOTATION].clone();
    assert!(hash_1.is_string(), "{dep}");

    // Re-plan is empty (server defaults and other managers' fields are not ours to compare).
    let plan = engine.plan(&program(&kube, app(ROLE_1, "amazon/aws-cli")), &PlanOptions::default()).await.unwrap();
    assert!(!plan.has_changes(), "{}", strake::plan::render_human(&plan, false));

    // A role change updates the annotation and rolls the pods: the plan shows both.
    let plan = engine.plan(&program(&kube, app(ROLE_2, "amazon/aws-cli")), &PlanOptions::default()).await.unwrap();
    assert_eq!(actions(&plan), vec![("test-deployment".into(), Action::Update), ("s3-sa".into(), Action::Update)]);
    let text = strake::plan::render_human(&plan, false);
    assert!(text.contains(ROLE_HASH_ANNOTATION), "the roll is visible in the plan:\n{text}");
    engine.up(&program(&kube, app(ROLE_2, "amazon/aws-cli")), &PlanOptions::default()).await.unwrap();
    let dep = kube.get_json(&["-n", "t-lifecycle", "deployment", "test-deployment"]).unwrap();
    assert_ne!(dep["spec"]["template"]["metadata"]["annotations"][ROLE_HASH_ANNOTATION], hash_1, "the pod template changed");
    let sa = kube.get_json(&["-n", "t-lifecycle", "serviceaccount", "s3-sa"]).unwrap();
    assert_eq!(sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"], ROLE_2);

    // An image change is an in-place update.
    let plan = engine.plan(&program(&kube, app(ROLE_2, "amazon/aws-cli:2.15.0")), &PlanOptions::default()).await.unwrap();
    assert_eq!(actions(&plan), vec![("test-deployment".into(), Action::Update)]);
    engine.up(&program(&kube, app(ROLE_2, "amazon/aws-cli:2.15.0")), &PlanOptions::default()).await.unwrap();
    let dep = kube.get_json(&["-n", "t-lifecycle", "deployment", "test-deployment"]).unwrap();
    assert_eq!(dep["spec"]["template"]["spec"]["containers"][0]["image"], "amazon/aws-cli:2.15.0");

    // Destroy: the namespace deletion completes.
    engine.destroy(&program(&kube, app(ROLE_2, "amazon/aws-cli:2.15.0"))).await.unwrap();
    assert!(kube.get_json(&["namespace", "t-lifecycle"]).is_none(), "the namespace is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_made_with_kubectl_is_detected_and_repaired() {
    // `kubectl annotate` is an imperative edit (field manager operation `Update`): drift, which
    // Strake takes back without `force_conflicts`.
    let kube = Kube::get();
    let engine = engine();
    let p = program(&kube, App { ns: "t-drift", sa: "s3-sa", role: ROLE_1, image: "amazon/aws-cli", force: false });
    engine.up(&p, &PlanOptions::default()).await.unwrap();

    kube.kubectl_ok(&[
        "-n",
        "t-drift",
        "annotate",
        "serviceaccount",
        "s3-sa",
        "--overwrite",
        "eks.amazonaws.com/role-arn=arn:aws:iam::999999999999:role/evil",
    ]);
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(actions(&plan), vec![("s3-sa".into(), Action::Update)]);
    assert!(plan.notes.iter().any(|n| n.contains("changed outside Strake")), "{:?}", plan.notes);
    engine.up(&p, &PlanOptions::default()).await.unwrap();
    let sa = kube.get_json(&["-n", "t-drift", "serviceaccount", "s3-sa"]).unwrap();
    assert_eq!(sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"], ROLE_1);

    kube.kubectl_ok(&["-n", "t-drift", "delete", "serviceaccount", "s3-sa"]);
    let report = engine.refresh(&p).await.unwrap();
    assert_eq!(report.gone.iter().map(|u| u.name()).collect::<Vec<_>>(), vec!["s3-sa"]);
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(actions(&plan), vec![("s3-sa".into(), Action::Create)]);
    engine.up(&p, &PlanOptions::default()).await.unwrap();
    assert!(kube.get_json(&["-n", "t-drift", "serviceaccount", "s3-sa"]).is_some());
    engine.destroy(&p).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_of_other_managers_are_left_alone_and_conflicts_are_explained() {
    let kube = Kube::get();
    let engine = engine();
    let app = |role, force| App { ns: "t-managers", sa: "s3-sa", role, image: "amazon/aws-cli", force };
    engine.up(&program(&kube, app(ROLE_1, false)), &PlanOptions::default()).await.unwrap();

    // Another manager adds a label: Strake neither reports nor removes it.
    kube.kubectl_ok(&["-n", "t-managers", "label", "serviceaccount", "s3-sa", "owner=ops"]);
    let plan = engine.plan(&program(&kube, app(ROLE_1, false)), &PlanOptions::default()).await.unwrap();
    assert!(!plan.has_changes(), "{}", strake::plan::render_human(&plan, false));
    engine.up(&program(&kube, app(ROLE_2, false)), &PlanOptions::default()).await.unwrap();
    let sa = kube.get_json(&["-n", "t-managers", "serviceaccount", "s3-sa"]).unwrap();
    assert_eq!(sa["metadata"]["labels"]["owner"], "ops", "another manager's label survives Strake's apply");

    // Another manager takes over Strake's annotation: Strake reports the conflict with the fix...
    let other = serde_json::json!({
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "s3-sa", "namespace": "t-managers", "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::111111111111:role/other"}}
    });
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), other.to_string()).unwrap();
    kube.kubectl_ok(&["apply", "--server-side", "--field-manager=platform-team", "--force-conflicts", "-f", file.path().to_str().unwrap()]);
    let err = engine.up(&program(&kube, app(ROLE_1, false)), &PlanOptions::default()).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("Conflict") && text.contains("force_conflicts"), "{text}");
    // ...and takes it over only when the program says so.
    engine.up(&program(&kube, app(ROLE_1, true)), &PlanOptions::default()).await.unwrap();
    let sa = kube.get_json(&["-n", "t-managers", "serviceaccount", "s3-sa"]).unwrap();
    assert_eq!(sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"], ROLE_1);
    engine.destroy(&program(&kube, app(ROLE_1, true))).await.unwrap();
}

fn expect_diagnostics(result: Result<strake::Plan, Error>, wanted: &[&str]) {
    match result {
        Err(Error::Diagnostics(d)) => {
            let text = Error::Diagnostics(d).to_string();
            for w in wanted {
                assert!(text.contains(w), "expected `{w}` in:\n{text}");
            }
        }
        other => panic!("expected diagnostics, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_names_are_refused_at_plan_with_zero_api_calls() {
    let kube = Kube::get();
    let engine = engine();
    let (counted, connections, _file) = kube.counted();
    let p = strake_tests::aws::program(|stack| {
        let k = stack.provider("cluster", counted.clone());
        let ns = Namespace::new(stack, "Bad_Namespace", &k);
        let sa = ServiceAccount::new(stack, "s3_sa", &k, &ns).token_expiration(60).annotation("bad key!", "x");
        let other = Namespace::new(stack, "other", &k);
        Deployment::simple(stack, "web", &k, &other, "nginx").service_account(&sa);
        Deployment::simple(stack, "cli", &k, &other, "Amazon/AWS CLI:latest");
        Ok(())
    });
    expect_diagnostics(
        engine.plan(&p, &PlanOptions::default()).await,
        &[
            "Namespace::Bad_Namespace: `name`",
            "ServiceAccount::s3_sa: `name`",
            "token-expiration",
            "600 to 86400",
            "bad key!",
            "Deployment::web: `spec.template.spec.serviceAccountName`",
            "same namespace",
            "Deployment::cli: `spec.template.spec.containers.0.image`: `Amazon/AWS CLI:latest` is not an image reference",
            "did you mean `amazon/aws-cli:latest`?",
        ],
    );
    assert_eq!(connections.load(Ordering::SeqCst), 0, "no connection was made to the API server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_that_neither_exists_nor_is_declared_fails_the_plan() {
    let kube = Kube::get();
    let engine = engine();
    let p = strake_tests::aws::program(|stack| {
        let k = stack.provider("cluster", kube.provider());
        let ns = Namespace::existing(stack, "no-such-namespace", &k);
        ServiceAccount::new(stack, "s3-sa", &k, &ns);
        Ok(())
    });
    expect_diagnostics(engine.plan(&p, &PlanOptions::default()).await, &["ExistingNamespace::no-such-namespace", "found nothing"]);
    let ok = strake_tests::aws::program(|stack| {
        let k = stack.provider("cluster", kube.provider());
        let ns = Namespace::existing(stack, "default", &k);
        ServiceAccount::new(stack, "t-existing-sa", &k, &ns);
        Ok(())
    });
    let plan = engine.plan(&ok, &PlanOptions::default()).await.unwrap();
    assert_eq!(actions(&plan), vec![("t-existing-sa".into(), Action::Create)]);
}
