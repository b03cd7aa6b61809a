//! Secrets at rest against moto. The AWS KMS key provider: a stack sealed under a KMS alias opens in another
//! process with one `Decrypt` a run, a wrapped key presented for another stack (another
//! encryption context) is refused, and an unusable key gives an error that keeps KMS's code and
//! names the stack (with nothing written). Then the CLI with `[secrets] provider = "awskms://..."`,
//! and a stack in an S3 bucket, whose objects hold only ciphertext.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use strake_state::conformance::sample_resource;
use strake_state::secrets::{AwsKms, KeyProvider, SealedStore, WrappedKey};
use strake_state::{LocalStore, RecordKind, StateStore, Write};
use strake_tests::files::files_holding;
use strake_tests::moto::{Moto, REGION};

/// The secret `sample_resource` holds.
const SECRET: &str = "s3cr3t";
const ALIAS: &str = "awskms://alias/team-secrets";

/// moto with a KMS key under `alias/team-secrets`, and account A's configuration.
async fn moto_with_key() -> (Moto, aws_config::SdkConfig) {
    let moto = Moto::start();
    let sdk = moto.account_a().sdk_config().await;
    let kms = aws_sdk_kms::Client::new(&sdk);
    let key = kms.create_key().send().await.unwrap().key_metadata.unwrap().key_id;
    kms.create_alias().alias_name("alias/team-secrets").target_key_id(&key).send().await.unwrap();
    (moto, sdk)
}

fn sealed(dir: &Path, sdk: &aws_config::SdkConfig) -> SealedStore {
    SealedStore::new(Arc::new(LocalStore::new(dir).unwrap()), Some(Arc::new(AwsKms::from_config(ALIAS, sdk).unwrap())))
}

/// The KMS calls moto recorded, by action.
fn kms_calls(moto: &Moto, action: &str) -> usize {
    moto.recorded().iter().filter(|r| r.body.contains("CiphertextBlob") == (action == "Decrypt") && r.body.contains("EncryptionContext")).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stack_sealed_with_kms_opens_once_a_run_and_only_as_itself() {
    let (moto, sdk) = moto_with_key().await;
    let dir = tempfile::tempdir().unwrap();
    sealed(dir.path(), &sdk).write("dev", vec![Write::PutResource(sample_resource("dev", "a", 1))]).unwrap();
    assert!(files_holding(dir.path(), SECRET).is_empty(), "the secret reached the disk in clear");

    // Another run: one Decrypt, however often it loads and writes.
    moto.start_recording();
    let run = sealed(dir.path(), &sdk);
    assert_eq!(run.load("dev").unwrap().unwrap().resources, vec![sample_resource("dev", "a", 1)]);
    run.write("dev", vec![Write::PutResource(sample_resource("dev", "b", 2))]).unwrap();
    run.load("dev").unwrap();
    assert_eq!(kms_calls(&moto, "Decrypt"), 1, "one KMS call a run");

    // The wrapped key, presented as another stack's, does not decrypt: the context differs.
    let raw = LocalStore::new(dir.path()).unwrap().load("dev").unwrap().unwrap();
    let wrapped = WrappedKey::from_record(raw.resources.iter().find(|r| r.kind == RecordKind::SecretsKey).unwrap()).unwrap();
    let provider = AwsKms::from_config(ALIAS, &sdk).unwrap();
    assert!(provider.unwrap("dev", &wrapped).is_ok());
    let err = provider.unwrap("prod", &wrapped).unwrap_err();
    assert!(err.0.contains("KMS Decrypt") && err.0.contains("stack `prod`"), "{err}");

    // A key record naming another KMS key than the configured one is refused, not decrypted
    // with the key it names.
    let kms = aws_sdk_kms::Client::new(&sdk);
    let other = kms.create_key().send().await.unwrap().key_metadata.unwrap().key_id;
    kms.create_alias().alias_name("alias/other").target_key_id(&other).send().await.unwrap();
    let elsewhere =
        SealedStore::new(Arc::new(LocalStore::new(dir.path()).unwrap()), Some(Arc::new(AwsKms::from_config("awskms://alias/other", &sdk).unwrap())));
    let err = elsewhere.load("dev").unwrap_err().to_string();
    assert!(err.contains("wrapped with KMS key `alias/team-secrets`, not the configured `alias/other`"), "{err}");

    // A key the user cannot use (moto does not refuse a disabled key, so: one that does not
    // exist): KMS's own code, the stack named, and nothing written.
    let nowhere =
        SealedStore::new(Arc::new(LocalStore::new(dir.path()).unwrap()), Some(Arc::new(AwsKms::from_config("awskms://alias/nope", &sdk).unwrap())));
    let err = nowhere.write("new", vec![Write::PutResource(sample_resource("new", "a", 1))]).unwrap_err().to_string();
    assert!(err.contains("NotFoundException") && err.contains("stack `new`") && err.contains("alias/nope"), "{err}");
    assert!(LocalStore::new(dir.path()).unwrap().load("new").unwrap().is_none(), "nothing was written");
}

/// The CLI fixture in `dir` against `moto`, with the secret `hunter2`, the environment given and
/// `args`: its exit code and what it printed.
fn fixture(dir: &Path, moto: &Moto, env: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cli-fixture"))
        .arg("--dir")
        .arg(dir)
        .args(args)
        .args(["--config", "secret=hunter2"])
        .env("NO_COLOR", "1")
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("AWS_PROFILE")
        .env("AWS_ENDPOINT_URL", moto.endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", REGION)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_seals_with_a_kms_key_through_the_standard_chain() {
    let (moto, _) = moto_with_key().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Strake.toml"), format!("[secrets]\nprovider = \"{ALIAS}\"\n")).unwrap();
    let run = |args: &[&str]| fixture(dir.path(), &moto, &[], args);
    let (code, out) = run(&["apply", "--yes"]);
    assert_eq!(code, Some(0), "{out}");
    let export = dir.path().join("export.json");
    let (code, out) = run(&["state", "export", "--out", export.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");
    assert!(files_holding(dir.path(), "hunter2").is_empty(), "the secret is in clear somewhere under {}", dir.path().display());
    let (code, out) = run(&["plan"]);
    assert_eq!(code, Some(0), "the recorded secret opens and matches: {out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stack_in_a_bucket_holds_only_ciphertext() {
    let moto = Moto::start();
    moto.create_bucket("team-state");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Strake.toml"), "[secrets]\nprovider = \"passphrase\"\n").unwrap();
    let run = |args: &[&str]| {
        let args = [&["--backend", "s3://team-state/apps"][..], args].concat();
        let (code, out) = fixture(dir.path(), &moto, &[("STRAKE_PASSPHRASE", "correct horse")], &args);
        assert!(code.is_some_and(|c| c == 0 || c == 2), "{args:?}: {out}");
    };
    run(&["apply", "--yes"]);
    run(&["plan", "--out", dir.path().join("plan.json").to_str().unwrap()]);
    run(&["state", "export", "--out", dir.path().join("export.json").to_str().unwrap()]);
    assert!(files_holding(dir.path(), "hunter2").is_empty(), "a local file holds the secret in clear");

    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&moto.account_a().sdk_config().await).force_path_style(true).build());
    let listed = s3.list_objects_v2().bucket("team-state").send().await.unwrap();
    let mut sealed = 0;
    for object in listed.contents() {
        let key = object.key().unwrap();
        let body = s3.get_object().bucket("team-state").key(key).send().await.unwrap().body.collect().await.unwrap().into_bytes();
        assert!(!body.windows(7).any(|w| w == b"hunter2"), "s3://team-state/{key} holds the secret in clear");
        sealed += usize::from(body.windows(19).any(|w| w == b"__strake_ciphertext"));
    }
    assert!(sealed > 0, "no object holds a sealed value: {:?}", listed.contents());
}
