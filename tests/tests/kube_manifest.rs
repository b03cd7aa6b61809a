//! `kubernetes:core:Manifest` (a type added on the typed framework) against a real
//! kube-apiserver: objects from a typed k8s-openapi value and from YAML, namespaced and
//! cluster-scoped, through create, re-plan, update, drift, import and delete; and the mistakes a
//! plan or an apply catches.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use strake::plan::Action;
use strake::{Error, PlanOptions, Program, ResourceHandle, Urn};
use strake_kubernetes::{Manifest, Namespace};
use strake_tests::aws::engine;
use strake_tests::kube::Kube;

const NS: &str = "t-manifest";

fn settings(level: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta { name: Some("settings".into()), namespace: Some(NS.into()), ..Default::default() },
        data: Some(BTreeMap::from([("level".to_string(), level.to_string())])),
        ..Default::default()
    }
}

const READER: &str = "
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: t-manifest-reader
  labels:
    team: data
rules:
  - apiGroups: ['']
    resources: [configmaps]
    verbs: [get, list]
";

/// A namespace, a config map in it from a typed value, and a cluster role from YAML; `None`
/// leaves the two objects out.
fn manifest_program(kube: &Kube, level: Option<&str>) -> Program {
    let level = level.map(str::to_string);
    strake_tests::aws::program(move |stack| {
        let k = stack.provider("cluster", kube.provider());
        let ns = Namespace::new(stack, NS, &k);
        if let Some(level) = &level {
            Manifest::new(stack, "settings", &k, settings(level)).depends_on(&ns);
            Manifest::from_yaml(stack, "reader", &k, READER);
        }
        Ok(())
    })
}

fn urn(name: &str) -> Urn {
    Urn::new("aws-test", "kubernetes:core:Manifest", name)
}

fn actions(plan: &strake::Plan) -> Vec<(String, Action)> {
    plan.steps.iter().filter(|s| s.action != Action::NoOp).map(|s| (s.urn.name().to_string(), s.action)).collect()
}

fn render(plan: &strake::Plan) -> String {
    strake::plan::render_human(plan, false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_go_from_create_through_drift_and_import_to_delete() {
    let kube = Kube::get();
    let engine = engine();

    let p = manifest_program(&kube, Some("info"));
    engine.up(&p, &PlanOptions::default()).await.unwrap();
    let cm = kube.get_json(&["-n", NS, "configmap", "settings"]).expect("the config map exists");
    assert_eq!(cm["data"]["level"], "info");
    assert!(cm["metadata"]["managedFields"].as_array().unwrap().iter().any(|m| m["manager"] == "strake"), "{cm}");
    let role = kube.get_json(&["clusterrole", "t-manifest-reader"]).expect("the cluster role exists");
    assert_eq!(role["rules"][0]["verbs"], serde_json::json!(["get", "list"]));
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert!(!plan.has_changes(), "{}", render(&plan));

    // A new value is applied in place.
    let p = manifest_program(&kube, Some("debug"));
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(actions(&plan), [("settings".to_string(), Action::Update)], "{}", render(&plan));
    engine.up(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(kube.get_json(&["-n", NS, "configmap", "settings"]).unwrap()["data"]["level"], "debug");

    // Changed with kubectl: the plan shows it and puts it back; what others add is left alone.
    kube.kubectl_ok(&["-n", NS, "patch", "configmap", "settings", "--type=merge", "-p", r#"{"data":{"level":"trace","extra":"kept"}}"#]);
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(actions(&plan), [("settings".to_string(), Action::Update)], "{}", render(&plan));
    engine.up(&p, &PlanOptions::default()).await.unwrap();
    let cm = kube.get_json(&["-n", NS, "configmap", "settings"]).unwrap();
    assert_eq!((cm["data"]["level"].as_str(), cm["data"]["extra"].as_str()), (Some("debug"), Some("kept")));

    // Forgotten, then imported by its id: nothing to change.
    let mut session = engine.session(&p, "import").unwrap();
    session.forget(urn("reader").as_str()).unwrap();
    session.import(&urn("reader"), "apiVersion=rbac.authorization.k8s.io/v1,kind=ClusterRole,name=t-manifest-reader").await.unwrap();
    drop(session);
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert!(!plan.has_changes(), "{}", render(&plan));

    // Left out of the program, both are deleted.
    engine.up(&manifest_program(&kube, None), &PlanOptions::default()).await.unwrap();
    assert!(kube.get_json(&["-n", NS, "configmap", "settings"]).is_none());
    assert!(kube.get_json(&["clusterrole", "t-manifest-reader"]).is_none());
    engine.destroy(&manifest_program(&kube, None)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_manifests_fail_the_plan_and_an_unserved_kind_fails_its_apply_by_name() {
    let kube = Kube::get();
    let engine = engine();
    let p = strake_tests::aws::program(|stack| {
        let k = stack.provider("cluster", kube.provider());
        Manifest::from_yaml(stack, "broken", &k, "apiVersion: v1\nkind: ConfigMap\nmetadata: [name: x\n");
        Manifest::from_yaml(stack, "kindless", &k, "apiVersion: v1\nmetadata:\n  name: x\n");
        Ok(())
    });
    let Err(Error::Diagnostics(diags)) = engine.plan(&p, &PlanOptions::default()).await else { panic!("the plan must fail") };
    let text: Vec<String> = diags.iter().filter(|d| d.is_error()).map(|d| d.to_string()).collect();
    assert!(
        text.iter().any(|t| t.contains("Manifest::broken") && t.contains("`manifest`") && t.contains("is not one YAML or JSON document")),
        "{text:#?}"
    );
    assert!(text.iter().any(|t| t.contains("Manifest::kindless") && t.contains("`manifest.kind`") && t.contains("is required")), "{text:#?}");

    let p = strake_tests::aws::program(|stack| {
        let k = stack.provider("cluster", kube.provider());
        Manifest::from_yaml(stack, "widget", &k, "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n");
        Ok(())
    });
    let err = engine.up(&p, &PlanOptions::default()).await.unwrap_err().to_string();
    assert!(err.contains("does not serve kind `Widget` of `example.com/v1`") && err.contains("install the CRD first"), "{err}");
}
