//! A bucket's settings, types added on the typed framework, against moto in account B:
//! `aws:s3:BucketPublicAccessBlock`, `aws:s3:BucketVersioning` and
//! `aws:s3:BucketServerSideEncryption`: create, re-plan, update, drift, removal, plan-time checks;
//! and an object in a versioned bucket, deleted with every version of its key.

use strake::plan::Action;
use strake::{Program, ResourceHandle};
use strake_aws::s3::{Bucket, BucketPublicAccessBlock, BucketServerSideEncryption, BucketVersioning, Object};
use strake_tests::check::{changes, diagnostics, render};
use strake_tests::rig::MotoRig;

const BUCKET: &str = "settings-bucket";

/// What the program sets: whether public policies are blocked, versioning suspended, and the
/// KMS key of the default encryption; `None` leaves the settings out altogether.
#[derive(Clone, Copy)]
struct Settings {
    block_public_policy: bool,
    suspended: bool,
    kms_key: Option<&'static str>,
}

fn settings_program(rig: &MotoRig, settings: Option<Settings>) -> Program {
    rig.program(|stack, b| {
        let bucket = Bucket::new(stack, "data", b, BUCKET).force_destroy(true);
        if let Some(s) = settings {
            BucketPublicAccessBlock::new(stack, "private", b, bucket.name()).block_public_policy(s.block_public_policy);
            let v = BucketVersioning::new(stack, "versions", b, bucket.name());
            if s.suspended {
                v.suspended();
            }
            let e = BucketServerSideEncryption::new(stack, "sse", b, bucket.name());
            if let Some(key) = s.kms_key {
                e.kms_key(key);
            }
        }
    })
}

/// The four public access block settings as S3 holds them (`None`: no block).
async fn public_access_block(s3: &aws_sdk_s3::Client) -> Option<[bool; 4]> {
    let got = s3.get_public_access_block().bucket(BUCKET).send().await.ok()?;
    let c = got.public_access_block_configuration()?;
    Some([c.block_public_acls(), c.ignore_public_acls(), c.block_public_policy(), c.restrict_public_buckets()].map(|b| b.unwrap_or(false)))
}

async fn versioning(s3: &aws_sdk_s3::Client) -> Option<String> {
    s3.get_bucket_versioning().bucket(BUCKET).send().await.unwrap().status().map(|s| s.as_str().to_string())
}

/// The default encryption's algorithm and key (`None`: none set).
async fn encryption(s3: &aws_sdk_s3::Client) -> Option<(String, Option<String>)> {
    let got = s3.get_bucket_encryption().bucket(BUCKET).send().await.ok()?;
    let d = got.server_side_encryption_configuration()?.rules().first()?.apply_server_side_encryption_by_default()?.clone();
    Some((d.sse_algorithm().as_str().to_string(), d.kms_master_key_id().map(str::to_string)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_settings_are_applied_changed_repaired_and_removed() {
    let rig = MotoRig::start().await;
    let s3 = &rig.s3;
    let safe = Settings { block_public_policy: true, suspended: false, kms_key: None };

    rig.up(&settings_program(&rig, Some(safe))).await;
    assert_eq!(public_access_block(s3).await, Some([true; 4]), "every setting defaults to the safe one");
    assert_eq!(versioning(s3).await.as_deref(), Some("Enabled"));
    assert_eq!(encryption(s3).await, Some(("AES256".to_string(), None)));
    rig.assert_no_changes(&settings_program(&rig, Some(safe))).await;

    // Each setting changes in place.
    let relaxed = Settings { block_public_policy: false, suspended: true, kms_key: Some("alias/data") };
    let p = settings_program(&rig, Some(relaxed));
    let plan = rig.plan(&p).await;
    assert_eq!(
        changes(&plan),
        [("private".to_string(), Action::Update), ("sse".to_string(), Action::Update), ("versions".to_string(), Action::Update)]
    );
    rig.up(&p).await;
    assert_eq!(public_access_block(s3).await, Some([true, true, false, true]));
    assert_eq!(versioning(s3).await.as_deref(), Some("Suspended"));
    assert_eq!(encryption(s3).await, Some(("aws:kms".to_string(), Some("alias/data".to_string()))), "a key means SSE-KMS");
    rig.assert_no_changes(&p).await;

    // The block removed outside Strake is put back.
    s3.delete_public_access_block().bucket(BUCKET).send().await.unwrap();
    let plan = rig.plan(&p).await;
    assert_eq!(changes(&plan), [("private".to_string(), Action::Create)], "{}", render(&plan));
    rig.up(&p).await;
    assert_eq!(public_access_block(s3).await, Some([true, true, false, true]));

    // Settings left out of the program are removed: versioning can only be suspended.
    rig.up(&settings_program(&rig, Some(safe))).await;
    rig.up(&settings_program(&rig, None)).await;
    assert_eq!(public_access_block(s3).await, None);
    assert_eq!(versioning(s3).await.as_deref(), Some("Suspended"));
    assert_ne!(encryption(s3).await.map(|e| e.0).as_deref(), Some("aws:kms"));
    rig.destroy(&settings_program(&rig, None)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_settings_are_refused_at_plan_with_zero_calls() {
    let rig = MotoRig::start().await;
    rig.moto.start_recording();
    let p = rig.program(|stack, b| {
        BucketServerSideEncryption::new(stack, "sse", b, BUCKET).algorithm("aws:kms:wrong");
        BucketPublicAccessBlock::new(stack, "pab", b, "Not_A_Bucket");
    });
    let err = rig.try_plan(&p).await.expect_err("the plan must fail");
    let text: Vec<String> = diagnostics(&err).iter().filter(|d| d.is_error()).map(|d| d.to_string()).collect();
    assert!(
        text.iter().any(|t| t.contains("BucketServerSideEncryption::sse") && t.contains("`sse_algorithm`") && t.contains("use one of \"AES256\"")),
        "{text:#?}"
    );
    assert!(text.iter().any(|t| t.contains("BucketPublicAccessBlock::pab") && t.contains("`bucket`") && t.contains("Not_A_Bucket")), "{text:#?}");
    rig.moto.assert_nothing_mutated("a refused plan changes nothing");
}

/// Every version and delete marker of exactly `key` S3 holds, as `(version id, is a delete marker)`.
async fn versions_of(s3: &aws_sdk_s3::Client, key: &str) -> Vec<(String, bool)> {
    let out = s3.list_object_versions().bucket(BUCKET).prefix(key).send().await.unwrap();
    let versions = out.versions().iter().filter(|v| v.key() == Some(key)).map(|v| (v.version_id().unwrap_or_default().to_string(), false));
    let markers = out.delete_markers().iter().filter(|m| m.key() == Some(key)).map(|m| (m.version_id().unwrap_or_default().to_string(), true));
    versions.chain(markers).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_in_a_versioned_bucket_is_deleted_with_every_version_of_its_key() {
    let rig = MotoRig::start().await;
    let program = |content: Option<&'static str>| {
        rig.program(move |stack, b| {
            let bucket = Bucket::new(stack, "data", b, BUCKET).force_destroy(true);
            let versioning = BucketVersioning::new(stack, "versions", b, bucket.name());
            // Uploaded once versioning is on, so each upload is a version. `note.txt.bak` shares
            // the prefix of `note.txt` and stays.
            Object::new(stack, "other", b, bucket.name(), "note.txt.bak").content("kept").depends_on(&versioning);
            if let Some(content) = content {
                Object::new(stack, "note", b, bucket.name(), "note.txt").content(content).depends_on(&versioning);
            }
        })
    };
    rig.up(&program(Some("one"))).await;
    rig.up(&program(Some("two"))).await;
    assert_eq!(versions_of(&rig.s3, "note.txt").await.len(), 2, "two uploads, two versions");

    rig.up(&program(None)).await;
    let left = versions_of(&rig.s3, "note.txt").await;
    assert!(left.is_empty(), "no version and no delete marker of the object is left: {left:?}");
    assert_eq!(versions_of(&rig.s3, "note.txt.bak").await.len(), 1, "the other key keeps its version");
    rig.assert_no_changes(&program(None)).await;
}
