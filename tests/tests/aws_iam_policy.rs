//! `aws:iam:Policy` against moto in account B: create, new versions in place (pruned at IAM's limit
//! of 5), replace, delete, drift, re-plan, and plan-time checks.

use strake::Urn;
use strake::plan::{Action, ReplaceOrder};
use strake_aws::iam::Policy;
use strake_aws::policy::url_decode;
use strake_aws::{PolicyDocument, Statement};
use strake_tests::aws::urn;
use strake_tests::check::{assert_mentions, render};
use strake_tests::rig::MotoRig;

/// The ARN of the policy [`policy_program`] declares (with its default name).
const ARN: &str = "arn:aws:iam::222222222222:policy/teams/reader";

fn policy_urn() -> Urn {
    urn("aws:iam:Policy", "reader")
}

fn read_doc(bucket: &str) -> PolicyDocument {
    PolicyDocument::new().statement(
        Statement::allow()
            .actions(["s3:GetObject", "s3:ListBucket"])
            .resources([format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")]),
    )
}

#[derive(Clone)]
struct Spec {
    name: &'static str,
    description: &'static str,
    bucket: String,
    tags: Vec<(&'static str, &'static str)>,
}

impl Spec {
    fn new(bucket: &str) -> Spec {
        Spec { name: "reader", description: "reads the data bucket", bucket: bucket.into(), tags: vec![("team", "data")] }
    }
}

fn policy_program(rig: &MotoRig, spec: &Spec) -> strake::Program {
    rig.program(|stack, b| {
        let p = Policy::new(stack, "reader", b, read_doc(&spec.bucket))
            .policy_name(spec.name)
            .path("/teams/")
            .description(spec.description)
            .tags(spec.tags.clone());
        stack.export("arn", p.arn());
        stack.export("name", p.name());
        stack.export("policy_id", p.policy_id());
        stack.export("default_version_id", p.default_version_id());
    })
}

/// The default version's id and document (decoded), as IAM has them.
async fn default_document(iam: &aws_sdk_iam::Client, arn: &str) -> (String, String) {
    let policy = iam.get_policy().policy_arn(arn).send().await.unwrap().policy.unwrap();
    let version = policy.default_version_id().unwrap().to_string();
    let v = iam.get_policy_version().policy_arn(arn).version_id(&version).send().await.unwrap();
    (version, url_decode(v.policy_version().unwrap().document().unwrap()))
}

async fn version_count(iam: &aws_sdk_iam::Client, arn: &str) -> usize {
    iam.list_policy_versions().policy_arn(arn).send().await.unwrap().versions().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_create_update_replace_delete_in_account_b() {
    let rig = MotoRig::start().await;
    let iam = &rig.iam;

    let first = Spec::new("bucket-a");
    let report = rig.up(&policy_program(&rig, &first)).await;
    assert_eq!(report.outputs["arn"].as_str(), Some(ARN));
    assert_eq!(report.outputs["name"].as_str(), Some("reader"));
    assert_eq!(report.outputs["default_version_id"].as_str(), Some("v1"));
    let first_id = report.outputs["policy_id"].as_str().unwrap().to_string();
    let policy = iam.get_policy().policy_arn(ARN).send().await.unwrap().policy.unwrap();
    assert_eq!(policy.description(), Some("reads the data bucket"));
    assert_eq!(policy.path(), Some("/teams/"));
    assert_eq!(policy.policy_id(), Some(first_id.as_str()));
    assert_eq!(policy.tags().iter().map(|t| (t.key(), t.value())).collect::<Vec<_>>(), [("team", "data")]);
    let (version, doc) = default_document(iam, ARN).await;
    assert_eq!(version, "v1");
    assert!(doc.contains("arn:aws:s3:::bucket-a/*"), "{doc}");

    // Re-plan is empty.
    rig.assert_no_changes(&policy_program(&rig, &first)).await;

    // A new document is a new default version, in place; the ARN stays known at plan time.
    let second = Spec::new("bucket-b");
    let plan = rig.plan(&policy_program(&rig, &second)).await;
    let step = plan.step(&policy_urn()).unwrap();
    assert_eq!(step.action, Action::Update, "{}", render(&plan));
    assert_eq!(step.changes, vec!["document"]);
    assert_eq!(plan.outputs["arn"].as_str(), Some(ARN));
    assert_eq!(plan.outputs["default_version_id"], strake::Value::Unknown);
    let report = rig.up(&policy_program(&rig, &second)).await;
    assert_eq!(report.outputs["default_version_id"].as_str(), Some("v2"));
    let (version, doc) = default_document(iam, ARN).await;
    assert_eq!(version, "v2");
    assert!(doc.contains("bucket-b") && !doc.contains("bucket-a"), "{doc}");
    assert_eq!(version_count(iam, ARN).await, 2);

    // Tags change in place, without a new version.
    let third = Spec { tags: vec![("team", "analytics"), ("cost", "42")], ..second.clone() };
    let plan = rig.plan(&policy_program(&rig, &third)).await;
    let step = plan.step(&policy_urn()).unwrap();
    assert_eq!((step.action, step.changes.clone()), (Action::Update, vec!["tags".to_string()]), "{}", render(&plan));
    assert_eq!(plan.outputs["default_version_id"].as_str(), Some("v2"), "an unchanged document keeps its version");
    rig.up(&policy_program(&rig, &third)).await;
    let policy = iam.get_policy().policy_arn(ARN).send().await.unwrap().policy.unwrap();
    let mut tags: Vec<(&str, &str)> = policy.tags().iter().map(|t| (t.key(), t.value())).collect();
    tags.sort();
    assert_eq!(tags, [("cost", "42"), ("team", "analytics")]);
    assert_eq!(version_count(iam, ARN).await, 2);

    // IAM cannot change a description: the policy is replaced, deleting first (same name).
    let fourth = Spec { description: "reads the data bucket (v2)", ..third.clone() };
    let plan = rig.plan(&policy_program(&rig, &fourth)).await;
    let step = plan.step(&policy_urn()).unwrap();
    assert_eq!(step.action, Action::Replace(ReplaceOrder::DeleteThenCreate), "{}", render(&plan));
    assert_eq!(step.replace_paths, vec!["description"]);
    let report = rig.up(&policy_program(&rig, &fourth)).await;
    let policy = iam.get_policy().policy_arn(ARN).send().await.unwrap().policy.unwrap();
    assert_eq!(policy.description(), Some("reads the data bucket (v2)"));
    assert_ne!(policy.policy_id(), Some(first_id.as_str()), "a new policy");
    assert_eq!(report.outputs["policy_id"].as_str(), policy.policy_id());
    assert_eq!(version_count(iam, ARN).await, 1);

    // A rename replaces it, creating the new one first.
    let fifth = Spec { name: "reader2", ..fourth.clone() };
    let plan = rig.plan(&policy_program(&rig, &fifth)).await;
    assert_eq!(plan.step(&policy_urn()).unwrap().action, Action::Replace(ReplaceOrder::CreateThenDelete), "{}", render(&plan));
    let report = rig.up(&policy_program(&rig, &fifth)).await;
    let arn2 = "arn:aws:iam::222222222222:policy/teams/reader2";
    assert_eq!(report.outputs["arn"].as_str(), Some(arn2));
    assert!(iam.get_policy().policy_arn(ARN).send().await.is_err(), "the old policy is gone");
    assert!(default_document(iam, arn2).await.1.contains("bucket-b"));

    // Destroy.
    rig.destroy(&policy_program(&rig, &fifth)).await;
    assert!(iam.get_policy().policy_arn(arn2).send().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_versions_are_pruned_before_the_limit_of_five() {
    let rig = MotoRig::start().await;
    let iam = &rig.iam;
    rig.up(&policy_program(&rig, &Spec::new("bucket-0"))).await;

    // A version made outside Strake that is not the default is pruned like Strake's own.
    let outside = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    iam.create_policy_version().policy_arn(ARN).policy_document(outside).set_as_default(false).send().await.unwrap();

    for n in 1..=7 {
        let bucket = format!("bucket-{n}");
        let report = rig.up(&policy_program(&rig, &Spec::new(&bucket))).await;
        let (version, doc) = default_document(iam, ARN).await;
        assert!(doc.contains(&format!("arn:aws:s3:::{bucket}/*")), "update {n}: {doc}");
        assert_eq!(report.outputs["default_version_id"].as_str(), Some(version.as_str()));
        let count = version_count(iam, ARN).await;
        assert!(count <= 5, "update {n}: {count} versions");
    }
    let versions = iam.list_policy_versions().policy_arn(ARN).send().await.unwrap();
    let mut ids: Vec<&str> = versions.versions().iter().filter_map(|v| v.version_id()).collect();
    ids.sort_by_key(|id| id[1..].parse::<u32>().unwrap());
    assert_eq!(ids, ["v5", "v6", "v7", "v8", "v9"], "the oldest went first, the outside version v2 included");
    rig.assert_no_changes(&policy_program(&rig, &Spec::new("bucket-7"))).await;

    // Delete removes the non-default versions before the policy (IAM requires it; moto does not check).
    rig.moto.start_recording();
    rig.destroy(&policy_program(&rig, &Spec::new("bucket-7"))).await;
    let actions: Vec<String> = rig.moto.recorded().iter().filter(|r| r.is_mutating()).filter_map(|r| r.action()).collect();
    assert_eq!(actions.iter().filter(|a| *a == "DeletePolicyVersion").count(), 4, "{actions:?}");
    assert_eq!(actions.last().map(String::as_str), Some("DeletePolicy"), "{actions:?}");
    assert!(iam.get_policy().policy_arn(ARN).send().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_drift_is_shown_and_repaired_and_reordering_is_no_change() {
    let rig = MotoRig::start().await;
    let iam = &rig.iam;
    let p = policy_program(&rig, &Spec::new("bucket-a"));
    rig.up(&p).await;

    // The same policy rewritten outside Strake: other key, statement and list order, a duplicate
    // action, the statement twice. No change.
    let same = r#"{
        "Statement": [
            {"Resource": ["arn:aws:s3:::bucket-a/*", "arn:aws:s3:::bucket-a"], "Action": ["s3:ListBucket", "s3:GetObject", "s3:GetObject"], "Effect": "Allow"},
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": ["arn:aws:s3:::bucket-a", "arn:aws:s3:::bucket-a/*"]}
        ],
        "Version": "2012-10-17"
    }"#;
    iam.create_policy_version().policy_arn(ARN).policy_document(same).set_as_default(true).send().await.unwrap();
    let plan = rig.plan(&p).await;
    let step = plan.step(&policy_urn()).unwrap();
    assert_eq!((step.action, step.changes.len()), (Action::NoOp, 0), "{}", render(&plan));
    // Only the exported version id moved (v2 is now the default), which is not a change to the policy.
    assert_eq!(plan.outputs["default_version_id"].as_str(), Some("v2"));
    rig.up(&p).await;
    rig.assert_no_changes(&p).await;

    // A real change outside Strake: shown, and repaired by a new version.
    let wider = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":"*"}]}"#;
    iam.create_policy_version().policy_arn(ARN).policy_document(wider).set_as_default(true).send().await.unwrap();
    iam.untag_policy().policy_arn(ARN).tag_keys("team").send().await.unwrap();
    rig.repair_drift(&p, "reader", &["document", "tags"]).await;
    let (_, doc) = default_document(iam, ARN).await;
    assert!(doc.contains("bucket-a") && !doc.contains("s3:*"), "{doc}");
    let policy = iam.get_policy().policy_arn(ARN).send().await.unwrap().policy.unwrap();
    assert_eq!(policy.tags().iter().map(|t| (t.key(), t.value())).collect::<Vec<_>>(), [("team", "data")]);
    rig.assert_no_changes(&p).await;

    // Deleted outside Strake: refresh forgets it, apply creates it again.
    for v in iam.list_policy_versions().policy_arn(ARN).send().await.unwrap().versions() {
        if !v.is_default_version() {
            iam.delete_policy_version().policy_arn(ARN).version_id(v.version_id().unwrap()).send().await.unwrap();
        }
    }
    iam.delete_policy().policy_arn(ARN).send().await.unwrap();
    rig.recreate_deleted(&p, &policy_urn()).await;
    assert!(default_document(iam, ARN).await.1.contains("bucket-a"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_inputs_are_checked_at_plan_time_and_names_generated() {
    let rig = MotoRig::start().await;
    let bad = rig.program(|stack, b| {
        let with_principal = PolicyDocument::new().statement(Statement::allow().actions(["s3:GetObject"]).resources(["*"]).principal("AWS", "*"));
        Policy::new(stack, "bad", b, with_principal).policy_name("has space").path("no-slashes");
    });
    let err = rig.try_plan(&bad).await.unwrap_err().to_string();
    assert_mentions(&err, &["name", "has space", "path", "begin and end with `/`", "document", "Principal"]);

    // Without a name, one is generated from the resource name and kept.
    let generated = rig.program(|stack, b| {
        let p = Policy::new(stack, "auto", b, read_doc("bucket-a"));
        stack.export("name", p.name());
        stack.export("arn", p.arn());
    });
    let plan = rig.plan(&generated).await;
    let planned_arn = plan.outputs["arn"].as_str().expect("the ARN is known at plan time").to_string();
    let report = rig.up(&generated).await;
    let name = report.outputs["name"].as_str().unwrap();
    assert!(name.starts_with("auto-") && name.len() == "auto-".len() + 7, "{name}");
    assert_eq!(report.outputs["arn"].as_str(), Some(planned_arn.as_str()));
    assert_eq!(planned_arn, format!("arn:aws:iam::222222222222:policy/{name}"));
    rig.assert_no_changes(&generated).await;
}
