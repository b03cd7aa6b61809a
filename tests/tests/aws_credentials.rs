//! Credentials land where the program says, against moto: a profile named in the program wins
//! over environment credentials (as `aws --profile` does), a profile that does not exist is an
//! error naming it, every plan says in which account each change lands, and two providers
//! configured differently that land in one account and region get a warning.

use std::path::Path;
use std::process::{Command, Stdio};

use strake_aws::iam::Role;
use strake_tests::aws::{program, trust_service};
use strake_tests::cloud_view::CloudView;
use strake_tests::moto::{ACCOUNT_A, ACCOUNT_B, REGION, ROLE_IN_B};
use strake_tests::ran::Run;
use strake_tests::rig::MotoRig;

const BIN: &str = env!("CARGO_BIN_EXE_aws-fixture");

/// An AWS config with profile `account-b` (assumes the role in account B from profile `base`)
/// and `base` (moto's test keys, which land in account A).
fn aws_files(dir: &Path) {
    std::fs::write(
        dir.join("config"),
        format!("[profile account-b]\nrole_arn = {ROLE_IN_B}\nsource_profile = base\nregion = {REGION}\n\n[profile base]\nregion = {REGION}\n"),
    )
    .unwrap();
    std::fs::write(dir.join("credentials"), "[base]\naws_access_key_id = testing\naws_secret_access_key = testing\n").unwrap();
}

/// Runs the fixture as a CI job would: account A's keys in the environment, the AWS files above.
fn run(rig: &MotoRig, dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("--dir")
        .arg(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("AWS_PROFILE")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", REGION)
        .env("AWS_ENDPOINT_URL", rig.moto.endpoint())
        .env("AWS_CONFIG_FILE", dir.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("credentials"))
        .stdin(Stdio::null())
        .output()
        .expect("running the fixture");
    Run::from(out).into_parts()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_wins_over_environment_credentials() {
    let rig = MotoRig::start().await;
    let dir = tempfile::tempdir().unwrap();
    aws_files(dir.path());
    let (a, b) = (&rig.sdk_a, &rig.sdk_b);
    let (baseline_a, baseline_b) = (CloudView::read(a).await, rig.cloud_b().await);

    let (code, plan, err) = run(&rig, dir.path(), &["plan", "--config", "profile=account-b"]);
    assert_eq!(code, 2, "{plan}\n{err}");
    assert!(plan.contains("Where the changes land:"), "{plan}");
    assert!(plan.contains(&format!("aws (aws): account {ACCOUNT_B} as arn:aws:sts::{ACCOUNT_B}:assumed-role/strake-deployer/")), "{plan}");
    assert!(plan.contains("# role-0 will be created via aws"), "{plan}");

    let (code, out, err) = run(&rig, dir.path(), &["apply", "--yes", "--config", "profile=account-b"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (in_a, in_b) = (CloudView::read(a).await.without(&baseline_a), CloudView::read(b).await.without(&baseline_b));
    assert!(in_a.is_empty(), "nothing may land in account A, whose keys are in the environment: {in_a:?}");
    assert_eq!(in_b.roles.keys().collect::<Vec<_>>(), vec!["app-0"], "the role landed in account B");
    assert_eq!((in_b.policies.len(), in_b.attachments.len()), (2, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_account_holds_with_the_profile_and_a_missing_profile_is_named() {
    let rig = MotoRig::start().await;
    let dir = tempfile::tempdir().unwrap();
    aws_files(dir.path());
    // The pin is met: the profile, not the environment, decides the account.
    let (code, out, err) = run(&rig, dir.path(), &["plan", "--config", "profile=account-b", "--config", &format!("account={ACCOUNT_B}")]);
    assert_eq!(code, 2, "{out}\n{err}");

    rig.moto.start_recording();
    let (code, out, err) = run(&rig, dir.path(), &["plan", "--config", "profile=acount-b"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("AWS profile `acount-b` is in neither"), "{err}");
    assert!(err.contains("those there: account-b, base"), "{err}");
    rig.moto.assert_nothing_mutated("a plan mutates nothing");

    // A pin the credentials miss names where the credentials came from.
    let (code, out, err) = run(&rig, dir.path(), &["plan", "--config", "profile=base", "--config", &format!("account={ACCOUNT_B}")]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains(&format!("the credentials (profile `base`) resolve to account {ACCOUNT_A}")), "{err}");
}

fn trust() -> strake_aws::PolicyDocument {
    trust_service("ec2.amazonaws.com")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_providers_configured_differently_that_land_together_get_a_warning() {
    let rig = MotoRig::start().await;
    let prog = program(|stack| {
        let first = stack.provider("account-a", rig.moto.account_a());
        // Meant as another account, but the same keys: it lands in account A too.
        let second = stack.provider("meant-to-be-b", rig.moto.account_a().retries(3, std::time::Duration::from_millis(10)));
        Role::new(stack, "one", &first, trust()).role_name("one");
        Role::new(stack, "two", &second, trust()).role_name("two");
        Ok(())
    });
    let plan = rig.plan(&prog).await;
    let warnings: Vec<String> = plan.diagnostics.iter().map(|d| d.to_string()).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("meant-to-be-b") && warnings[0].contains(&format!("AWS account {ACCOUNT_A}")) && warnings[0].contains("`account-a`"),
        "{warnings:?}"
    );
    let text = strake::plan::render_human(&plan, false);
    assert!(
        text.contains(&format!("account-a (aws): account {ACCOUNT_A}")) && text.contains(&format!("meant-to-be-b (aws): account {ACCOUNT_A}")),
        "{text}"
    );

    // Two regions of one account are not a mistake: no warning.
    let regions = program(|stack| {
        let first = stack.provider("east", rig.moto.account_a());
        let second = stack.provider("west", rig.moto.account_a().region("us-west-2"));
        Role::new(stack, "one", &first, trust()).role_name("one");
        Role::new(stack, "two", &second, trust()).role_name("two");
        Ok(())
    });
    let plan = rig.plan(&regions).await;
    assert!(plan.diagnostics.is_empty(), "{:?}", plan.diagnostics);
}
