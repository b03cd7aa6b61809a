//! A program's stack in an S3 bucket (moto), as a team uses it: `--backend s3://...` on the
//! command line, and eight runs started at the same instant on one stack.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use strake_state::StateStore;
use strake_state::s3::S3Store;
use strake_tests::moto::Moto;

const BUCKET: &str = "team-state";

fn hello() -> PathBuf {
    strake_tests::harness::example_binary("hello")
}

/// moto with the state bucket.
fn moto() -> Moto {
    let moto = Moto::start();
    moto.create_bucket(BUCKET);
    moto
}

/// The hello program with its state at `s3://team-state/<prefix>`, credentials from the environment.
fn command(moto: &Moto, dir: &Path, prefix: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(hello());
    cmd.args(args)
        .arg("--dir")
        .arg(dir)
        .arg("--backend")
        .arg(format!("s3://{BUCKET}/{prefix}"))
        .env("NO_COLOR", "1")
        .env("AWS_ENDPOINT_URL", format!("http://{}", moto.addr))
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env_remove("CARGO_MANIFEST_DIR")
        .stdin(Stdio::null());
    cmd
}

/// The hello program with its state in the default `.strake/` of `dir`, or `--backend`'s.
fn local(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(hello());
    cmd.args(args).arg("--dir").arg(dir).env("NO_COLOR", "1").env_remove("CARGO_MANIFEST_DIR").env_remove("STRAKE_BACKEND").stdin(Stdio::null());
    cmd
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn stored(moto: &Moto, prefix: &str) -> strake_state::Snapshot {
    let store = S3Store::new(moto.state_options(format!("s3://{BUCKET}/{prefix}"))).unwrap();
    store.load("hello").unwrap().expect("the stack is in the bucket")
}

#[test]
fn a_stack_in_a_bucket_applies_plans_clean_and_leaves_nothing_on_disk() {
    let moto = moto();
    let dir = tempfile::tempdir().unwrap();
    let out = command(&moto, dir.path(), "apps", &["apply", "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out = command(&moto, dir.path(), "apps", &["plan"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "a re-plan has no changes: {}", text(&out));
    assert!(!dir.path().join(".strake").exists(), "no local state next to the program");
    let state = stored(&moto, "apps");
    assert_eq!(state.resources.iter().filter(|r| r.type_token == "strake:index:Data").count(), 3);
    // The apply folded its journal when it released the lock and kept that state in the history;
    // the plan, which changed nothing, kept none.
    let (points, listed) = restore_points(&moto, dir.path(), "apps");
    assert_eq!(points.len(), 1, "{listed}");
    let records = state.resources.len().to_string();
    assert_eq!(points[0].split_whitespace().nth(3), Some(records.as_str()), "the kept state holds every record: {listed}");
}

/// The lines of `state history` that are restore points (one per run that changed something),
/// and the whole listing.
fn restore_points(moto: &Moto, dir: &Path, prefix: &str) -> (Vec<String>, String) {
    let out = command(moto, dir, prefix, &["state", "history"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    let points = listed.lines().filter(|l| l.trim_start().chars().next().is_some_and(|c| c.is_ascii_digit())).map(str::to_string).collect();
    (points, listed)
}

#[test]
fn of_eight_runs_started_at_once_one_applies_and_the_others_name_the_holder() {
    let moto = moto();
    let dir = tempfile::tempdir().unwrap();
    for round in 0..20 {
        let prefix = format!("race-{round}");
        let children: Vec<_> = (0..8)
            .map(|_| command(&moto, dir.path(), &prefix, &["apply", "--yes"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap())
            .collect();
        let outs: Vec<Output> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
        let mut applied = 0;
        for out in &outs {
            let text = text(out);
            if out.status.success() {
                // A run that found the stack free after the winner finished has nothing to do.
                if !text.contains("No changes") {
                    applied += 1;
                }
            } else {
                assert!(text.contains("is locked by `apply`") && text.contains("lease runs out"), "round {round}: {text}");
            }
        }
        assert_eq!(applied, 1, "round {round}: exactly one run applies");
        let state = stored(&moto, &prefix);
        assert_eq!(state.resources.iter().filter(|r| r.type_token == "strake:index:Data").count(), 3, "round {round}");
        let (points, listed) = restore_points(&moto, dir.path(), &prefix);
        assert_eq!(points.len(), 1, "round {round}: one run wrote the stack, once: {listed}");
    }
}

#[test]
fn a_stack_migrates_to_a_bucket_and_back_with_its_lineage_and_serial() {
    let moto = moto();
    let dir = tempfile::tempdir().unwrap();
    let out = local(dir.path(), &["apply", "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let before = strake_state::LocalStore::new(dir.path().join(".strake")).unwrap().load("hello").unwrap().unwrap();

    // To the bucket: the copy has the same lineage, serial and records, and plans clean.
    let to = format!("s3://{BUCKET}/moved");
    let migrate = |cmd: &mut Command| {
        cmd.env("AWS_ENDPOINT_URL", format!("http://{}", moto.addr))
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .output()
            .unwrap()
    };
    let out = migrate(&mut local(dir.path(), &["state", "migrate", "--to", &to]));
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&format!("serial {}, lineage {}", before.meta.serial, before.meta.lineage)), "{}", text(&out));
    let moved = stored(&moto, "moved");
    assert_eq!(
        (moved.meta.lineage.as_str(), moved.meta.serial, &moved.resources),
        (before.meta.lineage.as_str(), before.meta.serial, &before.resources)
    );
    let out = command(&moto, dir.path(), "moved", &["plan"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "the copy plans clean: {}", text(&out));

    // Once there, it is not overwritten.
    let out = migrate(&mut local(dir.path(), &["state", "migrate", "--to", &to]));
    assert!(!out.status.success() && text(&out).contains("already holds a stack `hello`"), "{}", text(&out));

    // And back to a directory, from the bucket.
    let back = tempfile::tempdir().unwrap();
    let out = command(&moto, dir.path(), "moved", &["state", "migrate", "--to", back.path().to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let returned = strake_state::LocalStore::new(back.path()).unwrap().load("hello").unwrap().unwrap();
    assert_eq!((returned.meta.lineage, returned.meta.serial, returned.resources), (before.meta.lineage, before.meta.serial, before.resources));
}
