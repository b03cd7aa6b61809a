//! Access changes at the command line, on the IAM fixture program (`tests/src/bin/aws-fixture.rs`)
//! against moto: the plan's "Access changes" section, `plan --deny-broadening` (exit code 3, for
//! CI) and `apply --require-approval broadening` (asks only when access broadens). The fixture's
//! `get` setting is the action of its `get` policy: `s3:Get*` widens it, `s3:GetObject` narrows it.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value as Json;
use strake_tests::moto::Moto;
use strake_tests::ran::Run;

const BIN: &str = env!("CARGO_BIN_EXE_aws-fixture");

fn run(moto: &Moto, dir: &Path, args: &[&str], get: &str) -> Run {
    Command::new(BIN)
        .arg("--dir")
        .arg(dir)
        .args(args)
        .args(["--config", &format!("endpoint={}", moto.endpoint()), "--config", &format!("get={get}")])
        .env("NO_COLOR", "1")
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("STRAKE_DIR")
        .stdin(Stdio::null())
        .output()
        .expect("running aws-fixture")
        .into()
}

/// The actions of the `get` policy's version in force, as moto holds it.
async fn get_policy_actions(moto: &Moto) -> Json {
    let iam = aws_sdk_iam::Client::new(&moto.account_a().sdk_config().await);
    let arn = "arn:aws:iam::123456789012:policy/kill-0-get";
    let policy = iam.get_policy().policy_arn(arn).send().await.unwrap().policy.unwrap();
    let version = iam.get_policy_version().policy_arn(arn).version_id(policy.default_version_id().unwrap()).send().await.unwrap();
    let doc = strake_aws::policy::parse_document(&Json::String(version.policy_version.unwrap().document.unwrap())).unwrap();
    doc["Statement"][0]["Action"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadening_is_refused_by_deny_broadening_and_asked_for_while_narrowing_is_not() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();

    // The first plan gives the role s3:Get* (expanded through the action catalog): broadening.
    let plan = run(&moto, dir, &["plan", "--deny-broadening"], "s3:Get*");
    assert_eq!(plan.code, 3, "{}", plan.text());
    assert!(plan.stderr.contains("refused by --deny-broadening"), "{}", plan.text());
    let section = plan.stdout.split("Access changes:").nth(1).unwrap_or_else(|| panic!("no Access changes section: {}", plan.text()));
    assert!(section.contains("+ role app-0 (account 123456789012) can s3:GetAccelerateConfiguration, "), "{}", plan.text());
    assert!(section.contains("(broadening)"), "{}", plan.text());
    assert!(section.contains("via policy kill-0-get"), "{}", plan.text());
    assert!(section.contains("+ service ec2.amazonaws.com can sts:AssumeRole on arn:aws:iam::123456789012:role/app-0"), "{}", plan.text());

    // Without a terminal to ask on, a broadening apply under `--require-approval broadening`
    // stops before it changes anything.
    let refused = run(&moto, dir, &["apply", "--require-approval", "broadening"], "s3:Get*");
    assert_ne!(refused.code, 0, "{}", refused.text());
    assert!(refused.stdout.contains("Access broadens"), "{}", refused.text());
    let roles = aws_sdk_iam::Client::new(&moto.account_a().sdk_config().await).list_roles().send().await.unwrap();
    assert!(roles.roles().is_empty(), "nothing was created: {:?}", roles.roles());

    let applied = run(&moto, dir, &["apply", "--yes"], "s3:Get*");
    assert_eq!(applied.code, 0, "{}", applied.text());
    assert_eq!(get_policy_actions(&moto).await, Json::from(vec!["s3:Get*"]));

    // Narrowing to one action loses the others and gains nothing: not broadening.
    let narrow = run(&moto, dir, &["plan", "--deny-broadening"], "s3:GetObject");
    assert_eq!(narrow.code, 2, "changes, not broadening: {}", narrow.text());
    let section = narrow.stdout.split("Access changes:").nth(1).unwrap_or_else(|| panic!("no Access changes section: {}", narrow.text()));
    assert!(section.contains("- role app-0 (account 123456789012) can s3:GetAccelerateConfiguration, "), "{}", narrow.text());
    assert!(!section.contains("(broadening)") && !section.contains("\n  + "), "{}", narrow.text());

    // ... so `--require-approval broadening` applies it without asking.
    let applied = run(&moto, dir, &["apply", "--require-approval", "broadening"], "s3:GetObject");
    assert_eq!(applied.code, 0, "{}", applied.text());
    assert!(applied.stdout.contains("Access does not broaden: applying without confirmation"), "{}", applied.text());
    assert_eq!(get_policy_actions(&moto).await, Json::from(vec!["s3:GetObject"]));

    // The JSON plan carries the same entries as data.
    let json = run(&moto, dir, &["plan", "--json"], "s3:Get*");
    assert_eq!(json.code, 2, "{}", json.text());
    let plan: Json = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(plan["broadens"], true, "{}", json.stdout);
    let entries = plan["reviews"][0]["entries"].as_array().unwrap();
    let role_gains = entries
        .iter()
        .find(|e| e["change"] == "gained" && e["data"]["subject"]["arn"] == "arn:aws:iam::123456789012:role/app-0")
        .unwrap_or_else(|| panic!("the role's gain: {}", json.stdout));
    let actions: Vec<&str> = role_gains["data"]["actions"].as_array().unwrap().iter().filter_map(Json::as_str).collect();
    assert!(actions.contains(&"s3:GetObjectAcl") && !actions.contains(&"s3:GetObject"), "gained, not kept: {actions:?}");
    assert_eq!(role_gains["broadening"], true);
}
