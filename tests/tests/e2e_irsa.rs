//! The cross-account IRSA scenario end to end, as a user runs it: the example binary
//! (`examples/cross-account-irsa`) against moto (accounts A and B) and a real kube-apiserver
//! whose service-account issuer is the moto EKS cluster's. Plan, apply, verify, re-plan, a
//! service-account rename, a deliberately broken trust, destroy.
//!
//! The scenario runs twice: with the stack's state in the default local store (`.strake/` in the
//! program's directory), and with it in an S3 bucket of account A that the program does not
//! manage (created by the test, given as `STRAKE_BACKEND=s3://<bucket>/<prefix>`). The second
//! checks that the state is really there (nothing on disk, objects under the prefix, `state
//! history`), and its destroy checks expect the state bucket, and only it, to be left.

use std::path::PathBuf;
use std::process::Command;

use aws_sdk_eks::types::VpcConfigRequest;
use strake_tests::files::files_under;
use strake_tests::harness::example_binary;
use strake_tests::kube::Kube;
use strake_tests::moto::REGION;
use strake_tests::ran::Run;
use strake_tests::rig::MotoRig;

/// The example's stack.
const STACK: &str = "cross-account-irsa";

/// The resources the program creates (`type::name`), sorted.
const CREATED: [&str; 9] = [
    "aws:iam:OpenIdConnectProvider::oidc-issuer",
    "aws:iam:Policy::s3-read",
    "aws:iam:Role::s3",
    "aws:iam:RolePolicyAttachment::s3-read",
    "aws:s3:Bucket::bucket",
    "aws:s3:Object::test-txt",
    "kubernetes:apps:Deployment::test-deployment",
    "kubernetes:core:Namespace::irsa-demo",
    "kubernetes:core:ServiceAccount::s3-sa",
];

/// Where the example keeps the stack's state.
#[derive(Debug, Clone, Copy)]
enum StateBackend {
    /// The default: `.strake/` in the program's directory.
    Local,
    /// `s3://<bucket>/<prefix>`, a bucket in account A that the test creates and the program does
    /// not manage.
    Bucket { bucket: &'static str, prefix: &'static str },
}

impl StateBackend {
    /// What `STRAKE_BACKEND` is set to (unset for the local store).
    fn url(self) -> Option<String> {
        match self {
            StateBackend::Local => None,
            StateBackend::Bucket { bucket, prefix } => Some(format!("s3://{bucket}/{prefix}")),
        }
    }

    /// The state bucket, which is expected to outlive the stack.
    fn bucket(self) -> Option<&'static str> {
        match self {
            StateBackend::Local => None,
            StateBackend::Bucket { bucket, .. } => Some(bucket),
        }
    }
}

struct App {
    bin: PathBuf,
    dir: tempfile::TempDir,
    endpoint: String,
    kubeconfig: PathBuf,
    state: StateBackend,
}

impl App {
    fn run(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(&self.bin);
        match self.state.url() {
            Some(url) => cmd.env("STRAKE_BACKEND", url),
            None => cmd.env_remove("STRAKE_BACKEND"),
        };
        cmd.args(args)
            .arg("--dir")
            .arg(self.dir.path())
            .env("STRAKE_DIR", self.dir.path())
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", REGION)
            .env_remove("AWS_PROFILE")
            .env("KUBECONFIG", &self.kubeconfig)
            .env("NO_COLOR", "1")
            .env_remove("CARGO_MANIFEST_DIR")
            .output()
            .expect("running the example")
            .into()
    }

    fn ok(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert_eq!(r.code, 0, "{args:?} failed:\n{}\n{}", r.stdout, r.stderr);
        r
    }

    fn plan_json(&self, extra: &[&str]) -> serde_json::Value {
        let args: Vec<&str> = ["plan", "--json"].iter().chain(extra).copied().collect();
        let r = self.run(&args);
        assert!(r.code == 0 || r.code == 2, "plan failed:\n{}\n{}", r.stdout, r.stderr);
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("plan --json: {e}\n{}", r.stdout))
    }
}

/// The example's bucket (its Strake.toml).
const BUCKET: &str = "test-oidc-cross-account-bucket";

/// The summaries of the plan's access changes of one kind (`gained` or `lost`).
fn access(plan: &serde_json::Value, change: &str) -> Vec<String> {
    let entries = plan["reviews"][0]["entries"].as_array().cloned().unwrap_or_default();
    entries.iter().filter(|e| e["change"] == change).filter_map(|e| e["summary"].as_str().map(str::to_string)).collect()
}

fn changes(plan: &serde_json::Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["action"]["kind"] != "no_op")
        .map(|s| {
            let urn = s["urn"].as_str().unwrap();
            let ty = urn.split("::").nth(1).unwrap_or_default();
            let name = urn.rsplit("::").next().unwrap_or_default();
            (format!("{ty}::{name}"), s["action"]["kind"].as_str().unwrap().to_string())
        })
        .collect();
    out.sort();
    out
}

/// The names of the buckets `s3`'s account owns, sorted.
async fn buckets(s3: &aws_sdk_s3::Client) -> Vec<String> {
    let listed = s3.list_buckets().send().await.unwrap();
    let mut names: Vec<String> = listed.buckets().iter().filter_map(|b| b.name()).map(str::to_string).collect();
    names.sort();
    names
}

/// The keys of every object in `bucket`.
async fn keys(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    let mut pages = s3.list_objects_v2().bucket(bucket).into_paginator().send();
    let mut keys = Vec::new();
    while let Some(page) = pages.next().await {
        keys.extend(page.unwrap().contents().iter().filter_map(|o| o.key()).map(str::to_string));
    }
    keys
}

/// The scenario with the stack's state in the local store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_account_irsa_end_to_end() {
    scenario(StateBackend::Local).await;
}

/// The scenario with the stack's state in a bucket of account A that the program does not manage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_account_irsa_with_state_in_a_bucket() {
    scenario(StateBackend::Bucket { bucket: "strake-state-a", prefix: "irsa" }).await;
}

/// Plan, apply, verify, re-plan, rename, broken trust, destroy, with the stack's state in `state`.
async fn scenario(state: StateBackend) {
    let rig = MotoRig::start().await;
    let s3_a = rig.s3_a();
    if let Some(bucket) = state.bucket() {
        rig.moto.create_bucket(bucket);
    }
    let state_buckets: Vec<String> = state.bucket().into_iter().map(str::to_string).collect();
    assert_eq!(buckets(&s3_a).await, state_buckets, "account A holds the state bucket (if any) and nothing else");
    let eks = aws_sdk_eks::Client::new(&rig.sdk_a);
    let cluster = eks
        .create_cluster()
        .name("demo")
        .role_arn("arn:aws:iam::123456789012:role/eks-cluster")
        .resources_vpc_config(VpcConfigRequest::builder().subnet_ids("subnet-1").build())
        .send()
        .await
        .unwrap();
    let issuer = cluster.cluster().and_then(|c| c.identity()).and_then(|i| i.oidc()).and_then(|o| o.issuer()).unwrap().to_string();
    let kube = Kube::start(&issuer);
    let dir = tempfile::tempdir().unwrap();
    let example = strake_tests::workspace_root().join("examples/cross-account-irsa/Strake.toml");
    std::fs::copy(example, dir.path().join("Strake.toml")).unwrap();
    let app = App { bin: example_binary("cross-account-irsa"), dir, endpoint: rig.moto.endpoint(), kubeconfig: kube.kubeconfig(), state };

    // The plan lists exactly the expected resources.
    let plan = app.plan_json(&[]);
    let created: Vec<(String, String)> = CREATED.iter().map(|n| (n.to_string(), "create".to_string())).collect();
    assert_eq!(changes(&plan), created);
    // Its "Access changes": the service account, through the role's trust, reads the bucket in
    // account B; all of it new, so broadening.
    let gained = access(&plan, "gained");
    let object_read = format!("can s3:GetObject on arn:aws:s3:::{BUCKET}/* in account 222222222222");
    assert!(gained.iter().any(|g| g.starts_with("service account irsa-demo/s3-sa (cluster ") && g.contains(&object_read)), "{gained:#?}");
    assert!(gained.iter().any(|g| g.starts_with("role s3 (account 222222222222) can s3:ListBucket on ")), "{gained:#?}");
    assert_eq!(plan["broadens"], true);
    let text = app.run(&["plan", "--deny-broadening"]);
    assert_eq!(text.code, 3, "{}\n{}", text.stdout, text.stderr);
    let section = text.stdout.split("Access changes:\n").nth(1).and_then(|s| s.split("\n\n").next()).unwrap_or_default();
    assert!(section.contains("via trust of role s3 (sts:AssumeRoleWithWebIdentity) → policy s3_read"), "{}", text.stdout);

    app.ok(&["apply", "--yes"]);

    // The state is where it was put, and only there.
    let listed = app.ok(&["state", "list"]).stdout;
    for resource in CREATED {
        let (ty, name) = resource.split_once("::").unwrap();
        assert!(listed.lines().any(|l| l.contains(&format!("::{ty}::")) && l.contains(&format!("::{name}  id="))), "{resource} in state:\n{listed}");
    }
    let on_disk = files_under(app.dir.path());
    match state {
        StateBackend::Local => {
            let segments = format!(".strake/stacks/{STACK}/seg-");
            assert!(on_disk.iter().any(|f| f.starts_with(&segments)), "the local store holds the stack: {on_disk:?}");
        }
        StateBackend::Bucket { bucket, prefix } => {
            assert_eq!(on_disk, vec!["Strake.toml"], "no state on disk beside the program");
            let keys = keys(&s3_a, bucket).await;
            assert!(keys.iter().all(|k| k.starts_with(&format!("{prefix}/"))), "every object of the state bucket is under {prefix}/: {keys:?}");
            assert!(keys.iter().any(|k| k.starts_with(&format!("{prefix}/{STACK}/"))), "the stack's objects are under {prefix}/{STACK}/: {keys:?}");
            let history = app.ok(&["state", "history"]).stdout;
            let points = history.lines().filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit())).count();
            assert!(points >= 1, "state history lists the apply:\n{history}");
        }
    }

    // The role in account B trusts exactly the service account, through the OIDC provider.
    let iam = &rig.iam;
    let role = iam.get_role().role_name("s3").send().await.unwrap().role.unwrap();
    let trust = strake_aws::policy::parse_document(&serde_json::Value::String(role.assume_role_policy_document().unwrap().into())).unwrap();
    let host = issuer.trim_start_matches("https://");
    let st = &trust["Statement"][0];
    assert_eq!(st["Condition"]["StringEquals"][format!("{host}:sub")][0], "system:serviceaccount:irsa-demo:s3-sa", "{trust}");
    assert_eq!(st["Condition"]["StringEquals"][format!("{host}:aud")][0], "sts.amazonaws.com", "{trust}");
    assert_eq!(st["Principal"]["Federated"][0], format!("arn:aws:iam::222222222222:oidc-provider/{host}"));
    let attached = iam.list_attached_role_policies().role_name("s3").send().await.unwrap();
    assert_eq!(attached.attached_policies().iter().filter_map(|p| p.policy_name()).collect::<Vec<_>>(), vec!["s3_read"]);
    let sa = kube.get_json(&["-n", "irsa-demo", "serviceaccount", "s3-sa"]).unwrap();
    assert_eq!(sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"], "arn:aws:iam::222222222222:role/s3");

    // verify reads the object through the whole chain.
    let verified = app.ok(&["verify"]);
    assert!(verified.stdout.contains("this is a test to prove you can get this file from this bucket"), "{}", verified.stdout);
    assert!(verified.stdout.contains("arn:aws:sts::222222222222:assumed-role/s3/"), "{}", verified.stdout);

    // The second plan is empty.
    let again = app.run(&["plan"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);

    // Renaming the service account changes the trust and the service account together, and rolls the pods.
    let rename = ["--config", "app.service_account=s3-reader"];
    let plan = app.plan_json(&rename);
    let c = changes(&plan);
    assert!(c.contains(&("aws:iam:Role::s3".into(), "update".into())), "{c:?}");
    assert!(c.contains(&("kubernetes:core:ServiceAccount::s3-reader".into(), "create".into())), "{c:?}");
    assert!(c.contains(&("kubernetes:core:ServiceAccount::s3-sa".into(), "delete".into())), "{c:?}");
    assert!(c.contains(&("kubernetes:apps:Deployment::test-deployment".into(), "update".into())), "{c:?}");
    // One grant lost, one gained: the old service account's and the new one's.
    let (gained, lost) = (access(&plan, "gained"), access(&plan, "lost"));
    let reads = |g: &str, sa: &str| g.starts_with(&format!("service account irsa-demo/{sa} (cluster ")) && g.contains("s3:GetObject");
    assert_eq!(gained.iter().filter(|g| reads(g, "s3-reader")).count(), 1, "{gained:#?}");
    assert_eq!(lost.iter().filter(|g| reads(g, "s3-sa")).count(), 1, "{lost:#?}");
    assert!(!gained.iter().chain(&lost).any(|g| g.starts_with("role s3 ")), "the role's own access is unchanged: {gained:#?} {lost:#?}");
    app.ok(&[&["apply", "--yes"][..], &rename].concat());
    let verified = app.ok(&[&["verify"][..], &rename].concat());
    assert!(verified.stdout.contains("this is a test"), "{}", verified.stdout);

    // A broken trust (it names another service account) is flagged at plan time; forced past
    // the warning, verify names the trust as the broken link.
    let broken = ["--config", "app.service_account=s3-reader", "--config", "app.trust_service_account=someone-else"];
    let plan = app.plan_json(&broken);
    let diagnostics = plan["diagnostics"].to_string();
    for expected in ["ServiceAccount::s3-reader", "does not name this service account", "someone-else", "\"warning\""] {
        assert!(diagnostics.contains(expected), "expected {expected} in {diagnostics}");
    }
    app.ok(&[&["apply", "--yes"][..], &broken].concat());
    let failed = app.run(&[&["verify"][..], &broken].concat());
    assert_eq!(failed.code, 1, "{}\n{}", failed.stdout, failed.stderr);
    assert!(failed.stderr.contains("trust"), "{}\n{}", failed.stdout, failed.stderr);

    // destroy leaves nothing behind: IAM, S3 and Kubernetes, asked through their APIs (moto's
    // data.json keeps deleted objects, so it cannot show what is gone). A state bucket is not the
    // program's: it stays.
    app.ok(&[&["destroy", "--yes"][..], &broken].concat());
    assert!(iam.get_role().role_name("s3").send().await.is_err(), "the role is gone");
    let policies = iam.list_policies().scope(aws_sdk_iam::types::PolicyScopeType::Local).send().await.unwrap();
    assert!(policies.policies().is_empty(), "{:?}", policies.policies());
    let oidc = iam.list_open_id_connect_providers().send().await.unwrap();
    assert!(oidc.open_id_connect_provider_list().is_empty(), "{:?}", oidc.open_id_connect_provider_list());
    assert_eq!(buckets(&rig.s3).await, Vec::<String>::new(), "account B holds no bucket");
    assert_eq!(buckets(&s3_a).await, state_buckets, "account A holds the state bucket (if any) and nothing else");
    assert!(kube.get_json(&["namespace", "irsa-demo"]).is_none(), "the namespace is gone");
    assert!(kube.get_json(&["-n", "irsa-demo", "serviceaccount", "s3-reader"]).is_none());

    // The stack's state, wherever it is, records no resource and no interrupted operation.
    let exported = app.ok(&["state", "export"]).stdout;
    let snapshot: serde_json::Value = serde_json::from_str(&exported).unwrap_or_else(|e| panic!("state export: {e}\n{exported}"));
    let left: Vec<&serde_json::Value> = snapshot["resources"].as_array().unwrap().iter().filter(|r| r["kind"] == "resource").collect();
    assert!(left.is_empty(), "state still records {left:?}");
    assert_eq!(snapshot["pending"], serde_json::json!([]), "{exported}");
    let listed = app.ok(&["state", "list"]).stdout;
    assert!(!listed.contains("id="), "state list shows resources:\n{listed}");
    if let StateBackend::Bucket { bucket, .. } = state {
        assert_eq!(files_under(app.dir.path()), vec!["Strake.toml"], "still no state on disk");
        assert!(!keys(&s3_a, bucket).await.is_empty(), "the stack's state stays in the bucket");
    }
}
