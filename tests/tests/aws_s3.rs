//! `aws:s3:Bucket`, `aws:s3:BucketPolicy` and `aws:s3:Object` against moto in account B: create,
//! update, replace, delete, drift, re-plan, force_destroy, names taken, plan-time validation.

use strake::plan::{Action, ReplaceOrder};
use strake::{Error, PlanOptions, Program};
use strake_aws::s3::{Bucket, BucketPolicy, Object};
use strake_aws::{PolicyDocument, Statement};
use strake_tests::aws::{assert_identities, engine, program, provider_b, s3_b};
use strake_tests::moto::{ACCOUNT_A, ACCOUNT_B, Moto};

const STACK: &str = "aws-test";

fn human(plan: &strake::Plan) -> String {
    strake::plan::render_human(plan, false)
}

/// An S3 client for account A (moto's default account).
async fn s3_a(moto: &Moto) -> aws_sdk_s3::Client {
    let sdk = moto.account_a().sdk_config().await;
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build())
}

async fn bucket_exists(s3: &aws_sdk_s3::Client, name: &str) -> bool {
    s3.head_bucket().bucket(name).send().await.is_ok()
}

async fn bucket_tags(s3: &aws_sdk_s3::Client, name: &str) -> Vec<(String, String)> {
    match s3.get_bucket_tagging().bucket(name).send().await {
        Ok(t) => {
            let mut tags: Vec<(String, String)> = t.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
            tags.sort();
            tags
        }
        Err(_) => Vec::new(),
    }
}

async fn object_text(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Option<(String, Option<String>)> {
    let out = s3.get_object().bucket(bucket).key(key).send().await.ok()?;
    let content_type = out.content_type().map(str::to_string);
    let bytes = out.body.collect().await.ok()?.into_bytes();
    Some((String::from_utf8_lossy(&bytes).into_owned(), content_type))
}

/// The steps' actions by resource name.
fn actions(plan: &strake::Plan) -> Vec<(String, Action)> {
    let mut out: Vec<(String, Action)> = plan.steps.iter().map(|s| (s.urn.name().to_string(), s.action)).collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn bucket_program(moto: &Moto, name: &str, region: Option<&str>, tags: &[(&str, &str)], force_destroy: bool) -> Program {
    let (name, region, tags) =
        (name.to_string(), region.map(str::to_string), tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>());
    program(move |stack| {
        let b = provider_b(stack, moto);
        let mut bucket = Bucket::new(stack, "data", &b, name.as_str()).force_destroy(force_destroy);
        if let Some(r) = &region {
            bucket = bucket.region(r);
        }
        if !tags.is_empty() {
            bucket = bucket.tags(tags.clone());
        }
        stack.export("arn", bucket.arn());
        stack.export("name", bucket.name());
        stack.export("region", bucket.bucket_region());
        stack.export("domain", bucket.bucket_domain_name());
        Ok(())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_create_update_replace_delete_in_account_b() {
    let moto = Moto::start();
    assert_identities(&moto).await;
    let engine = engine();
    let s3 = s3_b(&moto).await;

    // Outputs computable from the name are known at plan time.
    let p = bucket_program(&moto, "strake-data-b", None, &[("team", "data")], false);
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(plan.outputs["arn"].as_str(), Some("arn:aws:s3:::strake-data-b"), "{}", human(&plan));
    assert_eq!(plan.outputs["region"].as_str(), Some("us-east-1"));

    let report = engine.up(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(report.outputs["arn"].as_str(), Some("arn:aws:s3:::strake-data-b"));
    assert_eq!(report.outputs["name"].as_str(), Some("strake-data-b"));
    assert_eq!(report.outputs["domain"].as_str(), Some("strake-data-b.s3.amazonaws.com"));
    assert!(bucket_exists(&s3, "strake-data-b").await);
    assert_eq!(bucket_tags(&s3, "strake-data-b").await, vec![("team".into(), "data".into())]);
    // It is account B's bucket, not A's.
    let listed = s3.list_buckets().send().await.unwrap();
    assert!(listed.buckets().iter().any(|b| b.name() == Some("strake-data-b")));
    let listed_a = s3_a(&moto).await.list_buckets().send().await.unwrap();
    assert!(!listed_a.buckets().iter().any(|b| b.name() == Some("strake-data-b")), "the bucket is in account B");

    // Re-plan is empty (no drift either).
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert!(!plan.has_changes(), "{}", human(&plan));
    assert!(plan.notes.is_empty(), "{:?}", plan.notes);

    // Tags update in place.
    let p = bucket_program(&moto, "strake-data-b", None, &[("team", "ml"), ("env", "prod")], false);
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(plan.steps[0].action, Action::Update, "{}", human(&plan));
    assert_eq!(plan.steps[0].changes, vec!["tags"]);
    engine.up(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(bucket_tags(&s3, "strake-data-b").await, vec![("env".into(), "prod".into()), ("team".into(), "ml".into())]);
    assert!(!engine.plan(&p, &PlanOptions::default()).await.unwrap().has_changes());

    // Removing every tag deletes the tag set.
    let p = bucket_program(&moto, "strake-data-b", None, &[], false);
    engine.up(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(bucket_tags(&s3, "strake-data-b").await, vec![]);
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert!(!plan.has_changes(), "{}", human(&plan));

    // A region change replaces it, deleting first (the name is global).
    let p = bucket_program(&moto, "strake-data-b", Some("eu-west-1"), &[], false);
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(plan.steps[0].action, Action::Replace(ReplaceOrder::DeleteThenCreate), "{}", human(&plan));
    assert_eq!(plan.steps[0].replace_paths, vec!["region"]);
    engine.up(&p, &PlanOptions::default()).await.unwrap();
    let location = s3.get_bucket_location().bucket("strake-data-b").send().await.unwrap();
    assert_eq!(location.location_constraint().map(|c| c.as_str()), Some("eu-west-1"));
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert!(!plan.has_changes(), "{}", human(&plan));

    // A rename replaces it (new one first: the names differ).
    let p = bucket_program(&moto, "strake-data-b2", Some("eu-west-1"), &[], false);
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(plan.steps[0].action, Action::Replace(ReplaceOrder::CreateThenDelete), "{}", human(&plan));
    engine.up(&p, &PlanOptions::default()).await.unwrap();
    assert!(!bucket_exists(&s3, "strake-data-b").await, "the old bucket is gone");
    assert!(bucket_exists(&s3, "strake-data-b2").await);

    // Destroy.
    engine.destroy(&p).await.unwrap();
    assert!(!bucket_exists(&s3, "strake-data-b2").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_with_objects_is_kept_unless_force_destroy() {
    let moto = Moto::start();
    assert_identities(&moto).await;
    let engine = engine();
    let s3 = s3_b(&moto).await;
    let p = bucket_program(&moto, "strake-keep", None, &[], false);
    engine.up(&p, &PlanOptions::default()).await.unwrap();

    // Objects with versions and a delete marker, written outside Strake.
    s3.put_bucket_versioning()
        .bucket("strake-keep")
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder().status(aws_sdk_s3::types::BucketVersioningStatus::Enabled).build(),
        )
        .send()
        .await
        .unwrap();
    for (key, body) in [("a.txt", "1"), ("a.txt", "2"), ("b/c.txt", "3")] {
        s3.put_object().bucket("strake-keep").key(key).body(body.as_bytes().to_vec().into()).send().await.unwrap();
    }
    s3.delete_object().bucket("strake-keep").key("b/c.txt").send().await.unwrap();

    // force_destroy off: a clear error, the bucket and its objects stay, and so does the record.
    let err = engine.destroy(&p).await.unwrap_err();
    let Error::StepsFailed(errors) = &err else { panic!("expected a failed step, got {err}") };
    assert_eq!(errors.len(), 1, "{err}");
    assert_eq!(errors[0].code.as_deref(), Some("BucketNotEmpty"), "{err}");
    for needle in ["strake-keep", "not empty", "force_destroy"] {
        assert!(errors[0].message.contains(needle), "`{needle}` missing from: {err}");
    }
    assert!(bucket_exists(&s3, "strake-keep").await);
    assert_eq!(object_text(&s3, "strake-keep", "a.txt").await.map(|(t, _)| t).as_deref(), Some("2"));
    let snapshot = engine.store().load(STACK).unwrap().unwrap();
    assert!(snapshot.resources.iter().any(|r| r.type_token == "aws:s3:Bucket" && r.id == "strake-keep"), "still recorded");
    assert!(snapshot.pending.is_empty());
    // Nothing to do for the bucket. (The failed destroy still dropped the recorded stack outputs,
    // which the engine does on every untargeted destroy, so only the steps are compared.)
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert!(plan.steps.iter().all(|s| !s.action.is_change()), "{}", human(&plan));

    // Turning force_destroy on is an in-place change of Strake's own setting.
    let p = bucket_program(&moto, "strake-keep", None, &[], true);
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(plan.steps[0].action, Action::Update);
    assert_eq!(plan.steps[0].changes, vec!["force_destroy"]);
    moto.start_recording();
    engine.up(&p, &PlanOptions::default()).await.unwrap();
    let mutations: Vec<_> = moto.recorded().into_iter().filter(|r| r.is_mutating() && r.action().is_none()).collect();
    assert!(mutations.is_empty(), "setting force_destroy calls no S3 API: {mutations:?}");

    // Now destroy empties it (every version and delete marker) and deletes it.
    engine.destroy(&p).await.unwrap();
    assert!(!bucket_exists(&s3, "strake-keep").await);
    let snapshot = engine.store().load(STACK).unwrap().unwrap();
    assert!(snapshot.resources.iter().all(|r| r.type_token != "aws:s3:Bucket"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_names_taken_are_reported_not_adopted() {
    let moto = Moto::start();
    assert_identities(&moto).await;
    let engine = engine();
    let s3 = s3_b(&moto).await;

    // Another account has the name.
    s3_a(&moto).await.create_bucket().bucket("taken-by-a").send().await.unwrap();
    let err = engine.up(&bucket_program(&moto, "taken-by-a", None, &[], false), &PlanOptions::default()).await.unwrap_err();
    let Error::StepsFailed(errors) = &err else { panic!("expected a failed create, got {err}") };
    assert_eq!(errors[0].operation, "create");
    assert_eq!(errors[0].code.as_deref(), Some("BucketAlreadyExists"), "{err}");
    assert!(errors[0].message.contains("`taken-by-a` is taken by another AWS account"), "{err}");
    assert!(engine.store().load(STACK).unwrap().unwrap().resources.iter().all(|r| r.type_token != "aws:s3:Bucket"));

    // Account B itself has it, outside this stack: not silently adopted (us-east-1 would answer 200).
    s3.create_bucket().bucket("made-by-hand").send().await.unwrap();
    s3.put_object().bucket("made-by-hand").key("precious").body(b"x".to_vec().into()).send().await.unwrap();
    let p = bucket_program(&moto, "made-by-hand", None, &[], true);
    let err = engine.up(&p, &PlanOptions::default()).await.unwrap_err();
    let Error::StepsFailed(errors) = &err else { panic!("expected a failed create, got {err}") };
    assert_eq!(errors[0].code.as_deref(), Some("BucketAlreadyOwnedByYou"), "{err}");
    assert!(errors[0].message.contains(&format!("already exists in account {ACCOUNT_B}")), "{err}");
    assert!(errors[0].message.contains("import"), "{err}");
    // Nothing recorded, so a destroy cannot touch the hand-made bucket.
    engine.destroy(&p).await.unwrap();
    assert!(object_text(&s3, "made-by-hand", "precious").await.is_some());

    // Another stack of ours owns it: the same clear error.
    let other = strake_tests::aws::engine();
    other.up(&bucket_program(&moto, "shared-name", None, &[], false), &PlanOptions::default()).await.unwrap();
    let err = engine.up(&bucket_program(&moto, "shared-name", None, &[], false), &PlanOptions::default()).await.unwrap_err();
    assert!(err.to_string().contains("BucketAlreadyOwnedByYou"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_inputs_fail_at_plan_without_api_calls() {
    let moto = Moto::start();
    assert_identities(&moto).await;
    let engine = engine();
    type Declare = Box<dyn Fn(&strake::Stack, &strake::ProviderRef)>;
    fn case(f: impl Fn(&strake::Stack, &strake::ProviderRef) + 'static) -> Declare {
        Box::new(f)
    }
    let cases: Vec<(&str, Declare, &str, &[&str])> = vec![
        (
            "uppercase",
            case(|s, b| {
                let _ = Bucket::new(s, "x", b, "My-Bucket");
            }),
            "bucket",
            &["My-Bucket", "uppercase", "lowercase letters"],
        ),
        (
            "underscore",
            case(|s, b| {
                let _ = Bucket::new(s, "x", b, "my_bucket");
            }),
            "bucket",
            &["contains `_`"],
        ),
        (
            "short",
            case(|s, b| {
                let _ = Bucket::new(s, "x", b, "ab");
            }),
            "bucket",
            &["3-63 characters"],
        ),
        (
            "ip",
            case(|s, b| {
                let _ = Bucket::new(s, "x", b, "10.0.0.1");
            }),
            "bucket",
            &["IP address"],
        ),
        (
            "region",
            case(|s, b| {
                let _ = Bucket::new(s, "x", b, "fine-name").region("mars-north");
            }),
            "region",
            &["us-east-1"],
        ),
        (
            "key",
            case(|s, b| {
                let _ = Object::new(s, "x", b, "fine-name", "").content("x");
            }),
            "key",
            &["1 to 1,024"],
        ),
        (
            "no content",
            case(|s, b| {
                let _ = Object::new(s, "x", b, "fine-name", "k");
            }),
            "content",
            &["is required"],
        ),
        (
            "both",
            case(|s, b| {
                let _ = Object::new(s, "x", b, "fine-name", "k").content("x").source("Cargo.toml");
            }),
            "source",
            &["set one of them"],
        ),
        (
            "missing file",
            case(|s, b| {
                let _ = Object::new(s, "x", b, "fine-name", "k").source("/nonexistent/file");
            }),
            "source",
            &["cannot read"],
        ),
        (
            "policy on another bucket",
            case(|s, b| {
                let doc = PolicyDocument::new().statement(
                    Statement::allow()
                        .actions(["s3:GetObject"])
                        .principal("AWS", "arn:aws:iam::123456789012:root")
                        .resources(["arn:aws:s3:::other/*"]),
                );
                let _ = BucketPolicy::new(s, "x", b, "fine-name", doc);
            }),
            "policy",
            &["names bucket `other`", "arn:aws:s3:::fine-name/*"],
        ),
        (
            "policy without principal",
            case(|s, b| {
                let doc = PolicyDocument::new().statement(Statement::allow().actions(["s3:GetObject"]).resources(["arn:aws:s3:::fine-name/*"]));
                let _ = BucketPolicy::new(s, "x", b, "fine-name", doc);
            }),
            "policy",
            &["Principal"],
        ),
    ];
    for (what, declare, field, needles) in cases {
        let p = program(|stack| {
            let b = provider_b(stack, &moto);
            declare(stack, &b);
            Ok(())
        });
        moto.start_recording();
        let err = engine.plan(&p, &PlanOptions::default()).await.unwrap_err();
        let s3_calls: Vec<_> = moto.recorded().into_iter().filter(|r| r.action().is_none()).collect();
        assert!(s3_calls.is_empty(), "{what}: no S3 call at all: {s3_calls:?}");
        let Error::Diagnostics(diags) = &err else { panic!("{what}: expected diagnostics, got {err}") };
        let d = diags.iter().find(|d| d.field.as_deref() == Some(field)).unwrap_or_else(|| panic!("{what}: no diagnostic on `{field}`: {err}"));
        for n in needles {
            assert!(d.message.contains(n), "{what}: `{n}` missing from: {d}");
        }
    }
}

fn read_policy(principal: &str) -> PolicyDocument {
    PolicyDocument::new().statement(
        Statement::allow()
            .sid("Read")
            .actions(["s3:GetObject", "s3:ListBucket"])
            .principal("AWS", principal)
            .resources(["arn:aws:s3:::strake-policy", "arn:aws:s3:::strake-policy/*"]),
    )
}

fn policy_program(moto: &Moto, bucket: &str, doc: PolicyDocument) -> Program {
    let bucket = bucket.to_string();
    program(move |stack| {
        let b = provider_b(stack, moto);
        let first = Bucket::new(stack, "first", &b, "strake-policy");
        let second = Bucket::new(stack, "second", &b, "strake-policy-2");
        let target = if bucket == "strake-policy" { first.name() } else { second.name() };
        let policy = BucketPolicy::new(stack, "policy", &b, target, doc.clone());
        stack.export("policy_bucket", policy.bucket());
        Ok(())
    })
}

async fn policy_text(s3: &aws_sdk_s3::Client, bucket: &str) -> Option<String> {
    s3.get_bucket_policy().bucket(bucket).send().await.ok().and_then(|p| p.policy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_policy_lifecycle_drift_and_replace() {
    let moto = Moto::start();
    assert_identities(&moto).await;
    let engine = engine();
    let s3 = s3_b(&moto).await;
    let a_root = format!("arn:aws:iam::{ACCOUNT_A}:root");

    let p = policy_program(&moto, "strake-policy", read_policy(&a_root));
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(plan.outputs["policy_bucket"].as_str(), Some("strake-policy"), "known at plan time: {}", human(&plan));
    engine.up(&p, &PlanOptions::default()).await.unwrap();
    let text = policy_text(&s3, "strake-policy").await.expect("the policy is set");
    assert!(text.contains(&a_root) && text.contains("s3:GetObject"), "{text}");
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert!(!plan.has_changes() && plan.notes.is_empty(), "{}\n{:?}", human(&plan), plan.notes);

    // The same policy rewritten outside Strake in another order and shape: no change.
    let same = format!(
        r#"{{"Statement":{{"Resource":["arn:aws:s3:::strake-policy/*","arn:aws:s3:::strake-policy"],"Principal":{{"AWS":"{a_root}"}},"Effect":"Allow","Sid":"Read","Action":["s3:ListBucket","s3:GetObject"]}},"Version":"2012-10-17"}}"#
    );
    s3.put_bucket_policy().bucket("strake-policy").policy(&same).send().await.unwrap();
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert!(!plan.has_changes(), "{}", human(&plan));

    // Changed outside: shown as drift and repaired.
    let other = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999999999999:root"},"Action":"s3:*","Resource":"arn:aws:s3:::strake-policy/*"}]}"#;
    s3.put_bucket_policy().bucket("strake-policy").policy(other).send().await.unwrap();
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    let step = plan.steps.iter().find(|s| s.urn.name() == "policy").unwrap();
    assert_eq!(step.action, Action::Update, "{}", human(&plan));
    assert_eq!(step.changes, vec!["policy"]);
    assert!(plan.notes.iter().any(|n| n.contains("BucketPolicy::policy") && n.contains("changed outside Strake")), "{:?}", plan.notes);
    engine.up(&p, &PlanOptions::default()).await.unwrap();
    let text = policy_text(&s3, "strake-policy").await.unwrap();
    assert!(text.contains(&a_root) && !text.contains("999999999999"), "{text}");

    // Deleted outside: created again.
    s3.delete_bucket_policy().bucket("strake-policy").send().await.unwrap();
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    let step = plan.steps.iter().find(|s| s.urn.name() == "policy").unwrap();
    assert_eq!(step.action, Action::Create, "{}", human(&plan));
    assert!(plan.notes.iter().any(|n| n.contains("deleted outside Strake")), "{:?}", plan.notes);
    engine.up(&p, &PlanOptions::default()).await.unwrap();
    assert!(policy_text(&s3, "strake-policy").await.is_some());

    // A new principal updates it in place.
    let b_root = format!("arn:aws:iam::{ACCOUNT_B}:root");
    let p = policy_program(&moto, "strake-policy", read_policy(&b_root));
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(actions(&plan), vec![("first".into(), Action::NoOp), ("policy".into(), Action::Update), ("second".into(), Action::NoOp)]);
    engine.up(&p, &PlanOptions::default()).await.unwrap();
    assert!(policy_text(&s3, "strake-policy").await.unwrap().contains(&b_root));

    // Another bucket replaces it: the old bucket's policy is deleted.
    let doc = PolicyDocument::new()
        .statement(Statement::allow().actions(["s3:GetObject"]).principal("AWS", b_root.as_str()).resources(["arn:aws:s3:::strake-policy-2/*"]));
    let p = policy_program(&moto, "strake-policy-2", doc);
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    let step = plan.steps.iter().find(|s| s.urn.name() == "policy").unwrap();
    assert!(matches!(step.action, Action::Replace(_)), "{}", human(&plan));
    engine.up(&p, &PlanOptions::default()).await.unwrap();
    assert!(policy_text(&s3, "strake-policy").await.is_none(), "the old bucket's policy is gone");
    assert!(policy_text(&s3, "strake-policy-2").await.unwrap().contains("strake-policy-2/*"));
    assert!(!engine.plan(&p, &PlanOptions::default()).await.unwrap().has_changes());

    // Destroy: policy first, then the buckets.
    engine.destroy(&p).await.unwrap();
    assert!(!bucket_exists(&s3, "strake-policy").await && !bucket_exists(&s3, "strake-policy-2").await);
}

fn object_program(moto: &Moto, greeting: &str, key: &str, file: &std::path::Path) -> Program {
    let (greeting, key, file) = (greeting.to_string(), key.to_string(), file.to_string_lossy().into_owned());
    program(move |stack| {
        let b = provider_b(stack, moto);
        let bucket = Bucket::new(stack, "site", &b, "strake-objects");
        let text = Object::new(stack, "greeting", &b, bucket.name(), key.as_str()).content(greeting.as_str());
        let blob = Object::new(stack, "blob", &b, bucket.name(), "data/blob.bin").source(file.as_str());
        let json = Object::new(stack, "config", &b, bucket.name(), "config.json").content(r#"{"a":1}"#).content_type("application/json");
        stack.export("greeting_key", text.key());
        stack.export("greeting_bucket", text.bucket());
        stack.export("greeting_etag", text.etag());
        stack.export("blob_etag", blob.etag());
        stack.export("config_version", json.version_id().map(|v| v.unwrap_or_else(|| "none".into())));
        Ok(())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_lifecycle_content_hash_and_drift() {
    let moto = Moto::start();
    assert_identities(&moto).await;
    let engine = engine();
    let s3 = s3_b(&moto).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("blob.bin");
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&file, &big).unwrap();

    let p = object_program(&moto, "hello", "greeting.txt", &file);
    let report = engine.up(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(report.outputs["greeting_key"].as_str(), Some("greeting.txt"));
    assert_eq!(report.outputs["greeting_bucket"].as_str(), Some("strake-objects"));
    assert_eq!(report.outputs["config_version"].as_str(), Some("none"), "unversioned bucket");
    let etag = report.outputs["greeting_etag"].as_str().unwrap().to_string();
    assert_eq!(etag.trim_matches('"'), "5d41402abc4b2a76b9719d911017c592", "the MD5 of `hello`");
    assert_eq!(object_text(&s3, "strake-objects", "greeting.txt").await, Some(("hello".into(), Some("text/plain".into()))));
    assert_eq!(object_text(&s3, "strake-objects", "config.json").await.unwrap().1.as_deref(), Some("application/json"));
    let blob = s3.get_object().bucket("strake-objects").key("data/blob.bin").send().await.unwrap();
    assert_eq!(blob.content_type(), Some("application/octet-stream"));
    assert_eq!(blob.body.collect().await.unwrap().into_bytes().as_ref(), big.as_slice());

    // State has the file's path and hash, not its content.
    let snapshot = engine.store().load(STACK).unwrap().unwrap();
    let rec = snapshot.resources.iter().find(|r| r.urn.ends_with("::blob")).unwrap();
    assert_eq!(rec.id, "strake-objects/data/blob.bin");
    assert!(rec.inputs.get("content").is_none(), "{}", rec.inputs);
    assert_eq!(rec.inputs["source"].as_str(), Some(file.to_str().unwrap()));
    assert_eq!(rec.inputs["content_sha256"].as_str().map(str::len), Some(64));
    assert!(serde_json::to_string(&snapshot.resources).unwrap().len() < 20_000, "the file is not in state");

    // Re-plan is empty, and drift detection needs no download: the upload stored its SHA-256.
    moto.start_recording();
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert!(!plan.has_changes() && plan.notes.is_empty(), "{}\n{:?}", human(&plan), plan.notes);
    let downloads: Vec<_> = moto
        .recorded()
        .into_iter()
        .filter(|r| r.method == "GET" && !r.url.contains("/strake-objects/?"))
        .filter(|r| r.url.contains("/strake-objects/"))
        .collect();
    assert!(downloads.is_empty(), "objects were downloaded to hash them: {downloads:?}");

    // New content: an update by content hash.
    let p = object_program(&moto, "hello, world", "greeting.txt", &file);
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    let step = plan.steps.iter().find(|s| s.urn.name() == "greeting").unwrap();
    assert_eq!(step.action, Action::Update, "{}", human(&plan));
    assert_eq!(step.changes, vec!["content", "content_sha256"]);
    engine.up(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(object_text(&s3, "strake-objects", "greeting.txt").await.unwrap().0, "hello, world");

    // The file changed: an update on its hash alone.
    std::fs::write(&file, b"new file content").unwrap();
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    let step = plan.steps.iter().find(|s| s.urn.name() == "blob").unwrap();
    assert_eq!(step.action, Action::Update, "{}", human(&plan));
    assert_eq!(step.changes, vec!["content_sha256"]);
    engine.up(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(object_text(&s3, "strake-objects", "data/blob.bin").await.unwrap().0, "new file content");
    assert!(!engine.plan(&p, &PlanOptions::default()).await.unwrap().has_changes());

    // Content changed outside Strake (with and without a SHA-256 checksum): drift on the hash, repaired.
    for checksum in [None, Some(aws_sdk_s3::types::ChecksumAlgorithm::Sha256)] {
        s3.put_object()
            .bucket("strake-objects")
            .key("greeting.txt")
            .body(b"tampered".to_vec().into())
            .content_type("text/plain")
            .set_checksum_algorithm(checksum)
            .send()
            .await
            .unwrap();
        let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
        let step = plan.steps.iter().find(|s| s.urn.name() == "greeting").unwrap();
        assert_eq!(step.action, Action::Update, "{}", human(&plan));
        assert_eq!(step.changes, vec!["content_sha256"]);
        assert!(plan.notes.iter().any(|n| n.contains("Object::greeting") && n.contains("changed outside Strake")), "{:?}", plan.notes);
        engine.up(&p, &PlanOptions::default()).await.unwrap();
        assert_eq!(object_text(&s3, "strake-objects", "greeting.txt").await.unwrap().0, "hello, world");
        assert!(!engine.plan(&p, &PlanOptions::default()).await.unwrap().has_changes());
    }

    // Deleted outside: created again.
    s3.delete_object().bucket("strake-objects").key("config.json").send().await.unwrap();
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(plan.steps.iter().find(|s| s.urn.name() == "config").unwrap().action, Action::Create);
    engine.up(&p, &PlanOptions::default()).await.unwrap();
    assert!(object_text(&s3, "strake-objects", "config.json").await.is_some());

    // A new key replaces it: the old object is deleted.
    let p = object_program(&moto, "hello, world", "hello.txt", &file);
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    let step = plan.steps.iter().find(|s| s.urn.name() == "greeting").unwrap();
    assert!(matches!(step.action, Action::Replace(_)), "{}", human(&plan));
    assert_eq!(step.replace_paths, vec!["key"]);
    engine.up(&p, &PlanOptions::default()).await.unwrap();
    assert!(object_text(&s3, "strake-objects", "greeting.txt").await.is_none());
    assert_eq!(object_text(&s3, "strake-objects", "hello.txt").await.unwrap().0, "hello, world");

    // Destroy deletes the objects, then the (then empty) bucket.
    engine.destroy(&p).await.unwrap();
    assert!(!bucket_exists(&s3, "strake-objects").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_in_versioned_bucket_reports_its_version() {
    let moto = Moto::start();
    assert_identities(&moto).await;
    let engine = engine();
    let s3 = s3_b(&moto).await;
    s3.create_bucket().bucket("strake-versioned").send().await.unwrap();
    s3.put_bucket_versioning()
        .bucket("strake-versioned")
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder().status(aws_sdk_s3::types::BucketVersioningStatus::Enabled).build(),
        )
        .send()
        .await
        .unwrap();
    let moto = &moto;
    let make = |text: &'static str| {
        program(move |stack| {
            let b = provider_b(stack, moto);
            let o = Object::new(stack, "doc", &b, "strake-versioned", "doc.txt").content(text);
            stack.export("version", o.version_id().map(|v| v.unwrap_or_default()));
            Ok(())
        })
    };
    let first = engine.up(&make("v1"), &PlanOptions::default()).await.unwrap().outputs["version"].as_str().unwrap().to_string();
    assert!(!first.is_empty());
    assert!(!engine.plan(&make("v1"), &PlanOptions::default()).await.unwrap().has_changes());
    let second = engine.up(&make("v2"), &PlanOptions::default()).await.unwrap().outputs["version"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    let head = s3.head_object().bucket("strake-versioned").key("doc.txt").send().await.unwrap();
    assert_eq!(head.version_id(), Some(second.as_str()));
    engine.destroy(&make("v2")).await.unwrap();
    assert!(s3.head_object().bucket("strake-versioned").key("doc.txt").send().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_keeps_its_region_when_the_provider_moves() {
    let moto = Moto::start();
    assert_identities(&moto).await;
    let engine = engine();
    let s3 = s3_b(&moto).await;
    let make = |region: &'static str| {
        program(|stack| {
            let b = stack.provider("account-b", moto.account_b().region(region));
            Bucket::new(stack, "data", &b, "strake-stays");
            Ok(())
        })
    };
    engine.up(&make("us-east-1"), &PlanOptions::default()).await.unwrap();
    // The default region was the provider's at creation; moving the provider does not replace the bucket.
    let plan = engine.plan(&make("eu-west-1"), &PlanOptions::default()).await.unwrap();
    assert!(plan.steps.iter().all(|s| s.action == Action::NoOp), "{}", human(&plan));
    engine.up(&make("eu-west-1"), &PlanOptions::default()).await.unwrap();
    let location = s3.get_bucket_location().bucket("strake-stays").send().await.unwrap();
    assert_eq!(location.location_constraint().map(|c| c.as_str()).unwrap_or(""), "", "still in us-east-1");
    // Deleting works from the moved provider (the bucket's own region is used).
    engine.destroy(&make("eu-west-1")).await.unwrap();
    assert!(!bucket_exists(&s3, "strake-stays").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_object_content_and_its_hash_are_not_shown() {
    let moto = Moto::start();
    assert_identities(&moto).await;
    let engine = engine();
    let s3 = s3_b(&moto).await;
    s3.create_bucket().bucket("strake-secrets").send().await.unwrap();
    let moto = &moto;
    let make = |secret: &'static str| {
        program(move |stack| {
            let b = provider_b(stack, moto);
            Object::new(stack, "token", &b, "strake-secrets", "token").content(strake::Output::secret(secret.to_string()));
            Ok(())
        })
    };
    let plan = engine.plan(&make("hunter2"), &PlanOptions::default()).await.unwrap();
    let rendered = human(&plan);
    let hash = "f52fbd32b2b3b86ff88ef6c490628285f482af15ddcb29541f94bcf526a3f6c7"; // SHA-256 of `hunter2`
    assert!(!rendered.contains("hunter2") && !rendered.contains(hash), "{rendered}");
    engine.up(&make("hunter2"), &PlanOptions::default()).await.unwrap();
    assert_eq!(object_text(&s3, "strake-secrets", "token").await.unwrap().0, "hunter2");
    let state = serde_json::to_string(&engine.store().load(STACK).unwrap().unwrap().resources).unwrap();
    assert!(state.contains("__strake_secret"), "{state}");
    // Re-plan is empty (the hash read back is marked secret as well); a new secret is an update.
    let plan = engine.plan(&make("hunter2"), &PlanOptions::default()).await.unwrap();
    assert!(!plan.has_changes() && plan.notes.is_empty(), "{}\n{:?}", human(&plan), plan.notes);
    let plan = engine.plan(&make("hunter3"), &PlanOptions::default()).await.unwrap();
    assert_eq!(plan.steps[0].action, Action::Update, "{}", human(&plan));
    assert!(!human(&plan).contains("hunter3"));
    engine.up(&make("hunter3"), &PlanOptions::default()).await.unwrap();
    assert_eq!(object_text(&s3, "strake-secrets", "token").await.unwrap().0, "hunter3");
}
