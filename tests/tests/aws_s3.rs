//! `aws:s3:Bucket`, `aws:s3:BucketPolicy` and `aws:s3:Object` against moto in account B: create,
//! update, replace, delete, drift, re-plan, force_destroy, names taken, plan-time validation.

use strake::plan::{Action, ReplaceOrder};
use strake::{PlanOptions, Program};
use strake_aws::s3::{Bucket, BucketPolicy, Object};
use strake_aws::{PolicyDocument, Statement};
use strake_tests::aws::program;
use strake_tests::check::{actions, assert_mentions, diagnostics, render, step_of, steps_failed};
use strake_tests::moto::{ACCOUNT_A, ACCOUNT_B};
use strake_tests::rig::MotoRig;

/// Turns versioning on for `bucket` (outside Strake).
async fn enable_versioning(s3: &aws_sdk_s3::Client, bucket: &str) {
    let enabled = aws_sdk_s3::types::VersioningConfiguration::builder().status(aws_sdk_s3::types::BucketVersioningStatus::Enabled).build();
    s3.put_bucket_versioning().bucket(bucket).versioning_configuration(enabled).send().await.expect("enabling versioning");
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

fn bucket_program(rig: &MotoRig, name: &str, region: Option<&str>, tags: &[(&str, &str)], force_destroy: bool) -> Program {
    let (name, region, tags) =
        (name.to_string(), region.map(str::to_string), tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>());
    rig.program(|stack, b| {
        let mut bucket = Bucket::new(stack, "data", b, name.as_str()).force_destroy(force_destroy);
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
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_create_update_replace_delete_in_account_b() {
    let rig = MotoRig::start().await;
    let s3 = &rig.s3;

    // Outputs computable from the name are known at plan time.
    let p = bucket_program(&rig, "strake-data-b", None, &[("team", "data")], false);
    let plan = rig.plan(&p).await;
    assert_eq!(plan.outputs["arn"].as_str(), Some("arn:aws:s3:::strake-data-b"), "{}", render(&plan));
    assert_eq!(plan.outputs["region"].as_str(), Some("us-east-1"));

    let report = rig.up(&p).await;
    assert_eq!(report.outputs["arn"].as_str(), Some("arn:aws:s3:::strake-data-b"));
    assert_eq!(report.outputs["name"].as_str(), Some("strake-data-b"));
    assert_eq!(report.outputs["domain"].as_str(), Some("strake-data-b.s3.amazonaws.com"));
    assert!(bucket_exists(s3, "strake-data-b").await);
    assert_eq!(bucket_tags(s3, "strake-data-b").await, vec![("team".into(), "data".into())]);
    // It is account B's bucket, not A's.
    let listed = s3.list_buckets().send().await.unwrap();
    assert!(listed.buckets().iter().any(|b| b.name() == Some("strake-data-b")));
    let listed_a = rig.s3_a().list_buckets().send().await.unwrap();
    assert!(!listed_a.buckets().iter().any(|b| b.name() == Some("strake-data-b")), "the bucket is in account B");

    // Re-plan is empty (no drift either).
    let plan = rig.assert_no_changes(&p).await;
    assert!(plan.notes.is_empty(), "{:?}", plan.notes);

    // Tags update in place.
    let p = bucket_program(&rig, "strake-data-b", None, &[("team", "ml"), ("env", "prod")], false);
    let plan = rig.plan(&p).await;
    assert_eq!(plan.steps[0].action, Action::Update, "{}", render(&plan));
    assert_eq!(plan.steps[0].changes, vec!["tags"]);
    rig.up(&p).await;
    assert_eq!(bucket_tags(s3, "strake-data-b").await, vec![("env".into(), "prod".into()), ("team".into(), "ml".into())]);
    rig.assert_no_changes(&p).await;

    // Removing every tag deletes the tag set.
    let p = bucket_program(&rig, "strake-data-b", None, &[], false);
    rig.up(&p).await;
    assert_eq!(bucket_tags(s3, "strake-data-b").await, vec![]);
    rig.assert_no_changes(&p).await;

    // A region change replaces it, deleting first (the name is global).
    let p = bucket_program(&rig, "strake-data-b", Some("eu-west-1"), &[], false);
    let plan = rig.plan(&p).await;
    assert_eq!(plan.steps[0].action, Action::Replace(ReplaceOrder::DeleteThenCreate), "{}", render(&plan));
    assert_eq!(plan.steps[0].replace_paths, vec!["region"]);
    rig.up(&p).await;
    let location = s3.get_bucket_location().bucket("strake-data-b").send().await.unwrap();
    assert_eq!(location.location_constraint().map(|c| c.as_str()), Some("eu-west-1"));
    rig.assert_no_changes(&p).await;

    // A rename replaces it (new one first: the names differ).
    let p = bucket_program(&rig, "strake-data-b2", Some("eu-west-1"), &[], false);
    let plan = rig.plan(&p).await;
    assert_eq!(plan.steps[0].action, Action::Replace(ReplaceOrder::CreateThenDelete), "{}", render(&plan));
    rig.up(&p).await;
    assert!(!bucket_exists(s3, "strake-data-b").await, "the old bucket is gone");
    assert!(bucket_exists(s3, "strake-data-b2").await);

    // Destroy.
    rig.destroy(&p).await;
    assert!(!bucket_exists(s3, "strake-data-b2").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_with_objects_is_kept_unless_force_destroy() {
    let rig = MotoRig::start().await;
    let s3 = &rig.s3;
    let p = bucket_program(&rig, "strake-keep", None, &[], false);
    rig.up(&p).await;

    // Objects with versions and a delete marker, written outside Strake.
    enable_versioning(s3, "strake-keep").await;
    for (key, body) in [("a.txt", "1"), ("a.txt", "2"), ("b/c.txt", "3")] {
        s3.put_object().bucket("strake-keep").key(key).body(body.as_bytes().to_vec().into()).send().await.unwrap();
    }
    s3.delete_object().bucket("strake-keep").key("b/c.txt").send().await.unwrap();

    // force_destroy off: a clear error, the bucket and its objects stay, and so does the record.
    let err = rig.try_destroy(&p).await.unwrap_err();
    let errors = steps_failed(&err);
    assert_eq!(errors.len(), 1, "{err}");
    assert_eq!(errors[0].code.as_deref(), Some("BucketNotEmpty"), "{err}");
    assert_mentions(&errors[0].message, &["strake-keep", "not empty", "force_destroy"]);
    assert!(bucket_exists(s3, "strake-keep").await);
    assert_eq!(object_text(s3, "strake-keep", "a.txt").await.map(|(t, _)| t).as_deref(), Some("2"));
    let snapshot = rig.state();
    assert!(snapshot.resources.iter().any(|r| r.type_token == "aws:s3:Bucket" && r.id == "strake-keep"), "still recorded");
    assert!(snapshot.pending.is_empty());
    // Nothing to do for the bucket. (The failed destroy still dropped the recorded stack outputs,
    // which the engine does on every untargeted destroy, so only the steps are compared.)
    let plan = rig.plan(&p).await;
    assert!(plan.steps.iter().all(|s| !s.action.is_change()), "{}", render(&plan));

    // Turning force_destroy on is an in-place change of Strake's own setting.
    let p = bucket_program(&rig, "strake-keep", None, &[], true);
    let plan = rig.plan(&p).await;
    assert_eq!(plan.steps[0].action, Action::Update);
    assert_eq!(plan.steps[0].changes, vec!["force_destroy"]);
    rig.moto.start_recording();
    rig.up(&p).await;
    let mutations: Vec<_> = rig.moto.recorded().into_iter().filter(|r| r.is_mutating() && r.action().is_none()).collect();
    assert!(mutations.is_empty(), "setting force_destroy calls no S3 API: {mutations:?}");

    // Now destroy empties it (every version and delete marker) and deletes it.
    rig.destroy(&p).await;
    assert!(!bucket_exists(s3, "strake-keep").await);
    let snapshot = rig.state();
    assert!(snapshot.resources.iter().all(|r| r.type_token != "aws:s3:Bucket"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_names_taken_are_reported_not_adopted() {
    let rig = MotoRig::start().await;
    let s3 = &rig.s3;

    // Another account has the name.
    rig.s3_a().create_bucket().bucket("taken-by-a").send().await.unwrap();
    let err = rig.try_up(&bucket_program(&rig, "taken-by-a", None, &[], false)).await.unwrap_err();
    let errors = steps_failed(&err);
    assert_eq!(errors[0].operation, "create");
    assert_eq!(errors[0].code.as_deref(), Some("BucketAlreadyExists"), "{err}");
    assert!(errors[0].message.contains("`taken-by-a` is taken by another AWS account"), "{err}");
    assert!(rig.state().resources.iter().all(|r| r.type_token != "aws:s3:Bucket"));

    // Account B itself has it, outside this stack: not silently adopted (us-east-1 would answer 200).
    s3.create_bucket().bucket("made-by-hand").send().await.unwrap();
    s3.put_object().bucket("made-by-hand").key("precious").body(b"x".to_vec().into()).send().await.unwrap();
    let p = bucket_program(&rig, "made-by-hand", None, &[], true);
    let err = rig.try_up(&p).await.unwrap_err();
    let errors = steps_failed(&err);
    assert_eq!(errors[0].code.as_deref(), Some("BucketAlreadyOwnedByYou"), "{err}");
    assert!(errors[0].message.contains(&format!("already exists in account {ACCOUNT_B}")), "{err}");
    assert!(errors[0].message.contains("import"), "{err}");
    // Nothing recorded, so a destroy cannot touch the hand-made bucket.
    rig.destroy(&p).await;
    assert!(object_text(s3, "made-by-hand", "precious").await.is_some());

    // Another stack of ours owns it: the same clear error.
    let other = strake_tests::aws::engine();
    other.up(&bucket_program(&rig, "shared-name", None, &[], false), &PlanOptions::default()).await.unwrap();
    let err = rig.try_up(&bucket_program(&rig, "shared-name", None, &[], false)).await.unwrap_err();
    assert!(err.to_string().contains("BucketAlreadyOwnedByYou"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_inputs_fail_at_plan_without_api_calls() {
    let rig = MotoRig::start().await;
    type Declare = Box<dyn Fn(&strake::Stack, &strake::ProviderRef)>;
    fn case<T>(f: impl Fn(&strake::Stack, &strake::ProviderRef) -> T + 'static) -> Declare {
        Box::new(move |s, b| drop(f(s, b)))
    }
    let cases: Vec<(&str, Declare, &str, &[&str])> = vec![
        ("uppercase", case(|s, b| Bucket::new(s, "x", b, "My-Bucket")), "bucket", &["My-Bucket", "uppercase", "lowercase letters"]),
        ("underscore", case(|s, b| Bucket::new(s, "x", b, "my_bucket")), "bucket", &["contains `_`"]),
        ("short", case(|s, b| Bucket::new(s, "x", b, "ab")), "bucket", &["3-63 characters"]),
        ("ip", case(|s, b| Bucket::new(s, "x", b, "10.0.0.1")), "bucket", &["IP address"]),
        ("region", case(|s, b| Bucket::new(s, "x", b, "fine-name").region("mars-north")), "region", &["us-east-1"]),
        ("key", case(|s, b| Object::new(s, "x", b, "fine-name", "").content("x")), "key", &["1 to 1,024"]),
        ("no content", case(|s, b| Object::new(s, "x", b, "fine-name", "k")), "content", &["is required"]),
        ("both", case(|s, b| Object::new(s, "x", b, "fine-name", "k").content("x").source("Cargo.toml")), "source", &["set one of them"]),
        ("missing file", case(|s, b| Object::new(s, "x", b, "fine-name", "k").source("/nonexistent/file")), "source", &["cannot read"]),
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
        let p = rig.program(|stack, b| declare(stack, b));
        rig.moto.start_recording();
        let err = rig.try_plan(&p).await.unwrap_err();
        let s3_calls: Vec<_> = rig.moto.recorded().into_iter().filter(|r| r.action().is_none()).collect();
        assert!(s3_calls.is_empty(), "{what}: no S3 call at all: {s3_calls:?}");
        let d = diagnostics(&err)
            .iter()
            .find(|d| d.field.as_deref() == Some(field))
            .unwrap_or_else(|| panic!("{what}: no diagnostic on `{field}`: {err}"));
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

fn policy_program(rig: &MotoRig, bucket: &str, doc: PolicyDocument) -> Program {
    let bucket = bucket.to_string();
    rig.program(|stack, b| {
        let first = Bucket::new(stack, "first", b, "strake-policy");
        let second = Bucket::new(stack, "second", b, "strake-policy-2");
        let target = if bucket == "strake-policy" { first.name() } else { second.name() };
        let policy = BucketPolicy::new(stack, "policy", b, target, doc.clone());
        stack.export("policy_bucket", policy.bucket());
    })
}

async fn policy_text(s3: &aws_sdk_s3::Client, bucket: &str) -> Option<String> {
    s3.get_bucket_policy().bucket(bucket).send().await.ok().and_then(|p| p.policy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_policy_lifecycle_drift_and_replace() {
    let rig = MotoRig::start().await;
    let s3 = &rig.s3;
    let a_root = format!("arn:aws:iam::{ACCOUNT_A}:root");

    let p = policy_program(&rig, "strake-policy", read_policy(&a_root));
    let plan = rig.plan(&p).await;
    assert_eq!(plan.outputs["policy_bucket"].as_str(), Some("strake-policy"), "known at plan time: {}", render(&plan));
    rig.up(&p).await;
    let text = policy_text(s3, "strake-policy").await.expect("the policy is set");
    assert!(text.contains(&a_root) && text.contains("s3:GetObject"), "{text}");
    let plan = rig.assert_no_changes(&p).await;
    assert!(plan.notes.is_empty(), "{:?}", plan.notes);

    // The same policy rewritten outside Strake in another order and shape: no change.
    let same = format!(
        r#"{{"Statement":{{"Resource":["arn:aws:s3:::strake-policy/*","arn:aws:s3:::strake-policy"],"Principal":{{"AWS":"{a_root}"}},"Effect":"Allow","Sid":"Read","Action":["s3:ListBucket","s3:GetObject"]}},"Version":"2012-10-17"}}"#
    );
    s3.put_bucket_policy().bucket("strake-policy").policy(&same).send().await.unwrap();
    rig.assert_no_changes(&p).await;

    // Changed outside: shown as drift and repaired.
    let other = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999999999999:root"},"Action":"s3:*","Resource":"arn:aws:s3:::strake-policy/*"}]}"#;
    s3.put_bucket_policy().bucket("strake-policy").policy(other).send().await.unwrap();
    rig.repair_drift(&p, "policy", &["policy"]).await;
    let text = policy_text(s3, "strake-policy").await.unwrap();
    assert!(text.contains(&a_root) && !text.contains("999999999999"), "{text}");

    // Deleted outside: created again.
    s3.delete_bucket_policy().bucket("strake-policy").send().await.unwrap();
    let plan = rig.plan(&p).await;
    let step = step_of(&plan, "policy");
    assert_eq!(step.action, Action::Create, "{}", render(&plan));
    assert!(plan.notes.iter().any(|n| n.contains("deleted outside Strake")), "{:?}", plan.notes);
    rig.up(&p).await;
    assert!(policy_text(s3, "strake-policy").await.is_some());

    // A new principal updates it in place.
    let b_root = format!("arn:aws:iam::{ACCOUNT_B}:root");
    let p = policy_program(&rig, "strake-policy", read_policy(&b_root));
    let plan = rig.plan(&p).await;
    assert_eq!(actions(&plan), vec![("first".into(), Action::NoOp), ("policy".into(), Action::Update), ("second".into(), Action::NoOp)]);
    rig.up(&p).await;
    assert!(policy_text(s3, "strake-policy").await.unwrap().contains(&b_root));

    // Another bucket replaces it: the old bucket's policy is deleted.
    let doc = PolicyDocument::new()
        .statement(Statement::allow().actions(["s3:GetObject"]).principal("AWS", b_root.as_str()).resources(["arn:aws:s3:::strake-policy-2/*"]));
    let p = policy_program(&rig, "strake-policy-2", doc);
    let plan = rig.plan(&p).await;
    let step = step_of(&plan, "policy");
    assert!(matches!(step.action, Action::Replace(_)), "{}", render(&plan));
    rig.up(&p).await;
    assert!(policy_text(s3, "strake-policy").await.is_none(), "the old bucket's policy is gone");
    assert!(policy_text(s3, "strake-policy-2").await.unwrap().contains("strake-policy-2/*"));
    rig.assert_no_changes(&p).await;

    // Destroy: policy first, then the buckets.
    rig.destroy(&p).await;
    assert!(!bucket_exists(s3, "strake-policy").await && !bucket_exists(s3, "strake-policy-2").await);
}

fn object_program(rig: &MotoRig, greeting: &str, key: &str, file: &std::path::Path) -> Program {
    let (greeting, key, file) = (greeting.to_string(), key.to_string(), file.to_string_lossy().into_owned());
    rig.program(|stack, b| {
        let bucket = Bucket::new(stack, "site", b, "strake-objects");
        let text = Object::new(stack, "greeting", b, bucket.name(), key.as_str()).content(greeting.as_str());
        let blob = Object::new(stack, "blob", b, bucket.name(), "data/blob.bin").source(file.as_str());
        let json = Object::new(stack, "config", b, bucket.name(), "config.json").content(r#"{"a":1}"#).content_type("application/json");
        stack.export("greeting_key", text.key());
        stack.export("greeting_bucket", text.bucket());
        stack.export("greeting_etag", text.etag());
        stack.export("blob_etag", blob.etag());
        stack.export("config_version", json.version_id().map(|v| v.unwrap_or_else(|| "none".into())));
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_lifecycle_content_hash_and_drift() {
    let rig = MotoRig::start().await;
    let s3 = &rig.s3;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("blob.bin");
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&file, &big).unwrap();

    let p = object_program(&rig, "hello", "greeting.txt", &file);
    let report = rig.up(&p).await;
    assert_eq!(report.outputs["greeting_key"].as_str(), Some("greeting.txt"));
    assert_eq!(report.outputs["greeting_bucket"].as_str(), Some("strake-objects"));
    assert_eq!(report.outputs["config_version"].as_str(), Some("none"), "unversioned bucket");
    let etag = report.outputs["greeting_etag"].as_str().unwrap().to_string();
    assert_eq!(etag.trim_matches('"'), "5d41402abc4b2a76b9719d911017c592", "the MD5 of `hello`");
    assert_eq!(object_text(s3, "strake-objects", "greeting.txt").await, Some(("hello".into(), Some("text/plain".into()))));
    assert_eq!(object_text(s3, "strake-objects", "config.json").await.unwrap().1.as_deref(), Some("application/json"));
    let blob = s3.get_object().bucket("strake-objects").key("data/blob.bin").send().await.unwrap();
    assert_eq!(blob.content_type(), Some("application/octet-stream"));
    assert_eq!(blob.body.collect().await.unwrap().into_bytes().as_ref(), big.as_slice());

    // State has the file's path and hash, not its content.
    let snapshot = rig.state();
    let rec = snapshot.resources.iter().find(|r| r.urn.ends_with("::blob")).unwrap();
    assert_eq!(rec.id, "strake-objects/data/blob.bin");
    let inputs = rec.inputs.to_value();
    assert!(inputs.get("content").is_none(), "{inputs}");
    assert_eq!(inputs["source"].as_str(), Some(file.to_str().unwrap()));
    assert_eq!(inputs["content_sha256"].as_str().map(str::len), Some(64));
    assert!(serde_json::to_string(&snapshot.resources).unwrap().len() < 20_000, "the file is not in state");

    // Re-plan is empty, and drift detection needs no download: the upload stored its SHA-256.
    rig.moto.start_recording();
    let plan = rig.assert_no_changes(&p).await;
    assert!(plan.notes.is_empty(), "{:?}", plan.notes);
    let downloads: Vec<_> = rig
        .moto
        .recorded()
        .into_iter()
        .filter(|r| r.method == "GET" && !r.url.contains("/strake-objects/?"))
        .filter(|r| r.url.contains("/strake-objects/"))
        .collect();
    assert!(downloads.is_empty(), "objects were downloaded to hash them: {downloads:?}");

    // New content: an update by content hash.
    let p = object_program(&rig, "hello, world", "greeting.txt", &file);
    let plan = rig.plan(&p).await;
    let step = step_of(&plan, "greeting");
    assert_eq!(step.action, Action::Update, "{}", render(&plan));
    assert_eq!(step.changes, vec!["content", "content_sha256"]);
    rig.up(&p).await;
    assert_eq!(object_text(s3, "strake-objects", "greeting.txt").await.unwrap().0, "hello, world");

    // The file changed: an update on its hash alone.
    std::fs::write(&file, b"new file content").unwrap();
    let plan = rig.plan(&p).await;
    let step = step_of(&plan, "blob");
    assert_eq!(step.action, Action::Update, "{}", render(&plan));
    assert_eq!(step.changes, vec!["content_sha256"]);
    rig.up(&p).await;
    assert_eq!(object_text(s3, "strake-objects", "data/blob.bin").await.unwrap().0, "new file content");
    rig.assert_no_changes(&p).await;

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
        rig.repair_drift(&p, "greeting", &["content_sha256"]).await;
        assert_eq!(object_text(s3, "strake-objects", "greeting.txt").await.unwrap().0, "hello, world");
        rig.assert_no_changes(&p).await;
    }

    // Deleted outside: created again.
    s3.delete_object().bucket("strake-objects").key("config.json").send().await.unwrap();
    let plan = rig.plan(&p).await;
    assert_eq!(step_of(&plan, "config").action, Action::Create);
    rig.up(&p).await;
    assert!(object_text(s3, "strake-objects", "config.json").await.is_some());

    // A new key replaces it: the old object is deleted.
    let p = object_program(&rig, "hello, world", "hello.txt", &file);
    let plan = rig.plan(&p).await;
    let step = step_of(&plan, "greeting");
    assert!(matches!(step.action, Action::Replace(_)), "{}", render(&plan));
    assert_eq!(step.replace_paths, vec!["key"]);
    rig.up(&p).await;
    assert!(object_text(s3, "strake-objects", "greeting.txt").await.is_none());
    assert_eq!(object_text(s3, "strake-objects", "hello.txt").await.unwrap().0, "hello, world");

    // Destroy deletes the objects, then the (then empty) bucket.
    rig.destroy(&p).await;
    assert!(!bucket_exists(s3, "strake-objects").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_in_versioned_bucket_reports_its_version() {
    let rig = MotoRig::start().await;
    let s3 = &rig.s3;
    s3.create_bucket().bucket("strake-versioned").send().await.unwrap();
    enable_versioning(s3, "strake-versioned").await;
    let make = |text: &'static str| {
        rig.program(|stack, b| {
            let o = Object::new(stack, "doc", b, "strake-versioned", "doc.txt").content(text);
            stack.export("version", o.version_id().map(|v| v.unwrap_or_default()));
        })
    };
    let first = rig.up(&make("v1")).await.outputs["version"].as_str().unwrap().to_string();
    assert!(!first.is_empty());
    rig.assert_no_changes(&make("v1")).await;
    let second = rig.up(&make("v2")).await.outputs["version"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    let head = s3.head_object().bucket("strake-versioned").key("doc.txt").send().await.unwrap();
    assert_eq!(head.version_id(), Some(second.as_str()));
    rig.destroy(&make("v2")).await;
    assert!(s3.head_object().bucket("strake-versioned").key("doc.txt").send().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_keeps_its_region_when_the_provider_moves() {
    let rig = MotoRig::start().await;
    let s3 = &rig.s3;
    let make = |region: &'static str| {
        program(|stack| {
            let b = stack.provider("account-b", rig.moto.account_b().region(region));
            Bucket::new(stack, "data", &b, "strake-stays");
            Ok(())
        })
    };
    rig.up(&make("us-east-1")).await;
    // The default region was the provider's at creation; moving the provider does not replace the bucket.
    let plan = rig.plan(&make("eu-west-1")).await;
    assert!(plan.steps.iter().all(|s| s.action == Action::NoOp), "{}", render(&plan));
    rig.up(&make("eu-west-1")).await;
    let location = s3.get_bucket_location().bucket("strake-stays").send().await.unwrap();
    assert_eq!(location.location_constraint().map(|c| c.as_str()).unwrap_or(""), "", "still in us-east-1");
    // Deleting works from the moved provider (the bucket's own region is used).
    rig.destroy(&make("eu-west-1")).await;
    assert!(!bucket_exists(s3, "strake-stays").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_object_content_and_its_hash_are_not_shown() {
    let rig = MotoRig::start().await;
    let s3 = &rig.s3;
    s3.create_bucket().bucket("strake-secrets").send().await.unwrap();
    let make = |secret: &'static str| {
        rig.program(|stack, b| {
            Object::new(stack, "token", b, "strake-secrets", "token").content(strake::Output::secret(secret.to_string()));
        })
    };
    let plan = rig.plan(&make("hunter2")).await;
    let rendered = render(&plan);
    let hash = "f52fbd32b2b3b86ff88ef6c490628285f482af15ddcb29541f94bcf526a3f6c7"; // SHA-256 of `hunter2`
    assert!(!rendered.contains("hunter2") && !rendered.contains(hash), "{rendered}");
    rig.up(&make("hunter2")).await;
    assert_eq!(object_text(s3, "strake-secrets", "token").await.unwrap().0, "hunter2");
    let state = serde_json::to_string(&rig.state().resources).unwrap();
    assert!(state.contains("__strake_secret"), "{state}");
    // Re-plan is empty (the hash read back is marked secret as well); a new secret is an update.
    let plan = rig.assert_no_changes(&make("hunter2")).await;
    assert!(plan.notes.is_empty(), "{:?}", plan.notes);
    let plan = rig.plan(&make("hunter3")).await;
    assert_eq!(plan.steps[0].action, Action::Update, "{}", render(&plan));
    assert!(!render(&plan).contains("hunter3"));
    rig.up(&make("hunter3")).await;
    assert_eq!(object_text(s3, "strake-secrets", "token").await.unwrap().0, "hunter3");
}
