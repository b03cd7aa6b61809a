//! A bucket's settings, types added on the typed framework, against moto in account B:
//! `aws:s3:BucketPublicAccessBlock`, `aws:s3:BucketVersioning` and
//! `aws:s3:BucketServerSideEncryption`: create, re-plan, update, drift, removal, plan-time checks.

use strake::plan::Action;
use strake::{Error, PlanOptions, Program};
use strake_aws::s3::{Bucket, BucketPublicAccessBlock, BucketServerSideEncryption, BucketVersioning};
use strake_tests::aws::{assert_identities, engine, program, provider_b, s3_b};
use strake_tests::moto::Moto;

const BUCKET: &str = "settings-bucket";

/// What the program sets: whether public policies are blocked, versioning suspended, and the
/// KMS key of the default encryption; `None` leaves the settings out altogether.
#[derive(Clone, Copy)]
struct Settings {
    block_public_policy: bool,
    suspended: bool,
    kms_key: Option<&'static str>,
}

fn settings_program(moto: &Moto, settings: Option<Settings>) -> Program {
    program(move |stack| {
        let b = provider_b(stack, moto);
        let bucket = Bucket::new(stack, "data", &b, BUCKET).force_destroy(true);
        if let Some(s) = settings {
            BucketPublicAccessBlock::new(stack, "private", &b, bucket.name()).block_public_policy(s.block_public_policy);
            let v = BucketVersioning::new(stack, "versions", &b, bucket.name());
            if s.suspended {
                v.suspended();
            }
            let e = BucketServerSideEncryption::new(stack, "sse", &b, bucket.name());
            if let Some(key) = s.kms_key {
                e.kms_key(key);
            }
        }
        Ok(())
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

fn actions(plan: &strake::Plan) -> Vec<(String, Action)> {
    let mut out: Vec<(String, Action)> =
        plan.steps.iter().filter(|s| s.action != Action::NoOp).map(|s| (s.urn.name().to_string(), s.action)).collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn render(plan: &strake::Plan) -> String {
    strake::plan::render_human(plan, false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_settings_are_applied_changed_repaired_and_removed() {
    let moto = Moto::start();
    assert_identities(&moto).await;
    let engine = engine();
    let s3 = s3_b(&moto).await;
    let safe = Settings { block_public_policy: true, suspended: false, kms_key: None };

    engine.up(&settings_program(&moto, Some(safe)), &PlanOptions::default()).await.unwrap();
    assert_eq!(public_access_block(&s3).await, Some([true; 4]), "every setting defaults to the safe one");
    assert_eq!(versioning(&s3).await.as_deref(), Some("Enabled"));
    assert_eq!(encryption(&s3).await, Some(("AES256".to_string(), None)));
    let plan = engine.plan(&settings_program(&moto, Some(safe)), &PlanOptions::default()).await.unwrap();
    assert!(!plan.has_changes(), "{}", render(&plan));

    // Each setting changes in place.
    let relaxed = Settings { block_public_policy: false, suspended: true, kms_key: Some("alias/data") };
    let p = settings_program(&moto, Some(relaxed));
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(
        actions(&plan),
        [("private".to_string(), Action::Update), ("sse".to_string(), Action::Update), ("versions".to_string(), Action::Update)]
    );
    engine.up(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(public_access_block(&s3).await, Some([true, true, false, true]));
    assert_eq!(versioning(&s3).await.as_deref(), Some("Suspended"));
    assert_eq!(encryption(&s3).await, Some(("aws:kms".to_string(), Some("alias/data".to_string()))), "a key means SSE-KMS");
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert!(!plan.has_changes(), "{}", render(&plan));

    // The block removed outside Strake is put back.
    s3.delete_public_access_block().bucket(BUCKET).send().await.unwrap();
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(actions(&plan), [("private".to_string(), Action::Create)], "{}", render(&plan));
    engine.up(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(public_access_block(&s3).await, Some([true, true, false, true]));

    // Settings left out of the program are removed: versioning can only be suspended.
    engine.up(&settings_program(&moto, Some(safe)), &PlanOptions::default()).await.unwrap();
    engine.up(&settings_program(&moto, None), &PlanOptions::default()).await.unwrap();
    assert_eq!(public_access_block(&s3).await, None);
    assert_eq!(versioning(&s3).await.as_deref(), Some("Suspended"));
    assert_ne!(encryption(&s3).await.map(|e| e.0).as_deref(), Some("aws:kms"));
    engine.destroy(&settings_program(&moto, None)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_settings_are_refused_at_plan_with_zero_calls() {
    let moto = Moto::start();
    let engine = engine();
    moto.start_recording();
    let p = program(|stack| {
        let b = provider_b(stack, &moto);
        BucketServerSideEncryption::new(stack, "sse", &b, BUCKET).algorithm("aws:kms:wrong");
        BucketPublicAccessBlock::new(stack, "pab", &b, "Not_A_Bucket");
        Ok(())
    });
    let Err(Error::Diagnostics(diags)) = engine.plan(&p, &PlanOptions::default()).await else { panic!("the plan must fail") };
    let text: Vec<String> = diags.iter().filter(|d| d.is_error()).map(|d| d.to_string()).collect();
    assert!(
        text.iter().any(|t| t.contains("BucketServerSideEncryption::sse") && t.contains("`sse_algorithm`") && t.contains("use one of \"AES256\"")),
        "{text:#?}"
    );
    assert!(text.iter().any(|t| t.contains("BucketPublicAccessBlock::pab") && t.contains("`bucket`") && t.contains("Not_A_Bucket")), "{text:#?}");
    assert!(moto.recorded().iter().all(|r| !r.is_mutating()), "a refused plan changes nothing: {:?}", moto.recorded());
}
