//! Secrets at rest, as users run it: the CLI fixture with `[secrets] provider = "passphrase"`.
//! A secret set in the program appears nowhere in clear: not in the state directory (records and
//! the pending journal), not in a saved plan, not in an export. A wrong passphrase or a missing
//! provider is refused with nothing written, and an export imports elsewhere with the passphrase.

use std::path::Path;
use std::process::{Command, Stdio};

use strake_state::StateStore as _;
use strake_tests::files::{files_holding, files_under};

const BIN: &str = env!("CARGO_BIN_EXE_cli-fixture");
const PASSPHRASE: &str = "correct horse battery staple";
const SEALED: &str = "[secrets]\nprovider = \"passphrase\"\n";

struct Run {
    code: i32,
    out: String,
}

/// The fixture in `dir` with `env` (and no passphrase but one `env` gives) and `args`.
fn command(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--dir").arg(dir).args(args).env("NO_COLOR", "1").env_remove("CARGO_MANIFEST_DIR").env_remove("STRAKE_PASSPHRASE");
    c.envs(env.iter().copied()).stdin(Stdio::null());
    c
}

fn output(mut c: Command) -> Run {
    let (code, stdout, stderr) = strake_tests::ran::Run::from(c.output().expect("running the fixture")).into_parts();
    Run { code, out: stdout + &stderr }
}

fn run(dir: &Path, passphrase: Option<&str>, args: &[&str]) -> Run {
    let env: Vec<(&str, &str)> = passphrase.map(|p| ("STRAKE_PASSPHRASE", p)).into_iter().collect();
    output(command(dir, &env, args))
}

fn ok(dir: &Path, args: &[&str]) -> Run {
    let r = run(dir, Some(PASSPHRASE), args);
    assert!(r.code == 0 || r.code == 2, "{args:?} failed ({}):\n{}", r.code, r.out);
    r
}

fn stack_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("Strake.toml"), SEALED).unwrap();
    d
}

#[test]
fn a_secret_appears_nowhere_in_clear_and_an_export_moves_with_the_passphrase() {
    let dir = stack_dir();
    ok(dir.path(), &["apply", "--yes", "--config", "secret=hunter2"]);

    // A saved plan that changes the secret holds the new one sealed, and applies.
    let plan = dir.path().join("plan.json");
    let planned = ok(dir.path(), &["plan", "--out", plan.to_str().unwrap(), "--config", "secret=hunter3"]);
    assert_eq!(planned.code, 2, "{}", planned.out);
    assert!(std::fs::read_to_string(&plan).unwrap().contains("__strake_ciphertext"), "the plan's secrets are sealed");
    ok(dir.path(), &["apply", plan.to_str().unwrap(), "--config", "secret=hunter3"]);

    let export = dir.path().join("export.json");
    ok(dir.path(), &["state", "export", "--out", export.to_str().unwrap(), "--config", "secret=hunter3"]);
    for secret in ["hunter2", "hunter3"] {
        assert!(files_holding(dir.path(), secret).is_empty(), "{secret} in clear in {:?}", files_holding(dir.path(), secret));
    }

    // The export imports into another directory with the passphrase: the program's secret
    // matches what it recorded, so the plan is clean.
    let other = stack_dir();
    ok(other.path(), &["state", "import", export.to_str().unwrap(), "--config", "secret=hunter3"]);
    let clean = ok(other.path(), &["plan", "--config", "secret=hunter3"]);
    assert_eq!(clean.code, 0, "the imported state holds the secret: {}", clean.out);
    assert!(files_holding(other.path(), "hunter3").is_empty());
}

#[test]
fn a_wrong_passphrase_or_no_provider_is_refused_and_nothing_is_written() {
    let dir = stack_dir();
    ok(dir.path(), &["apply", "--yes", "--config", "secret=hunter2"]);
    let state = dir.path().join(".strake");
    let snapshot = |d: &Path| -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<_> =
            files_under(d).into_iter().filter(|p| !p.ends_with(".lock")).map(|p| (p.clone(), std::fs::read(d.join(&p)).unwrap())).collect();
        files.sort();
        files
    };
    let bytes = snapshot(&state);

    let wrong = run(dir.path(), Some("wrong horse"), &["apply", "--yes", "--config", "secret=hunter4"]);
    assert_eq!(wrong.code, 1, "{}", wrong.out);
    assert!(wrong.out.contains("passphrase does not open the secrets of stack `fixture`"), "{}", wrong.out);

    let missing = run(dir.path(), None, &["plan", "--config", "secret=hunter4"]);
    assert_eq!(missing.code, 1, "{}", missing.out);
    assert!(missing.out.contains("STRAKE_PASSPHRASE"), "{}", missing.out);

    std::fs::write(dir.path().join("Strake.toml"), "").unwrap();
    let unset = run(dir.path(), None, &["plan", "--config", "secret=hunter4"]);
    assert_eq!(unset.code, 1, "{}", unset.out);
    assert!(unset.out.contains("add `provider = \"passphrase\"` under [secrets]"), "{}", unset.out);

    assert!(snapshot(&state) == bytes, "a refused run changed the state files");
}

/// The id of the data key the stack's state holds now.
fn key_id(dir: &Path) -> String {
    let raw = strake_state::LocalStore::new(dir.join(".strake")).unwrap().load("fixture").unwrap().unwrap();
    raw.resources.iter().find(|r| r.kind == strake_state::RecordKind::SecretsKey).expect("a key record").id.clone()
}

#[test]
fn rotate_and_change_provider_re_encrypt_everything_at_once() {
    let dir = stack_dir();
    ok(dir.path(), &["apply", "--yes", "--config", "secret=hunter2"]);
    let first = key_id(dir.path());

    let plan = dir.path().join("plan.json");
    ok(dir.path(), &["plan", "--out", plan.to_str().unwrap(), "--config", "secret=hunter3"]);
    ok(dir.path(), &["secrets", "rotate", "--config", "secret=hunter2"]);
    let second = key_id(dir.path());
    // A plan saved before the rotation is stale, and says so.
    let stale = run(dir.path(), Some(PASSPHRASE), &["apply", plan.to_str().unwrap(), "--config", "secret=hunter3"]);
    assert_eq!(stale.code, 1, "{}", stale.out);
    assert!(stale.out.contains("state changed since the plan was made"), "{}", stale.out);
    assert_ne!(first, second, "a new data key");
    assert_eq!(ok(dir.path(), &["plan", "--config", "secret=hunter2"]).code, 0, "the secret opens under the new key");

    // To a new passphrase: the old one no longer opens the stack, the new one does.
    let env = [("STRAKE_PASSPHRASE", PASSPHRASE), ("STRAKE_NEW_PASSPHRASE", "a new passphrase")];
    let moved = output(command(dir.path(), &env, &["secrets", "change-provider", "passphrase", "--config", "secret=hunter2"]));
    assert_eq!(moved.code, 0, "{}", moved.out);
    assert_ne!(key_id(dir.path()), second);
    let old = run(dir.path(), Some(PASSPHRASE), &["plan", "--config", "secret=hunter2"]);
    assert_eq!(old.code, 1, "{}", old.out);
    assert!(old.out.contains("does not open"), "{}", old.out);
    let new = run(dir.path(), Some("a new passphrase"), &["plan", "--config", "secret=hunter2"]);
    assert_eq!(new.code, 0, "{}", new.out);
    assert!(files_holding(dir.path(), "hunter2").is_empty());
}

fn spawn(dir: &Path, args: &[&str]) -> std::process::Child {
    command(dir, &[("STRAKE_PASSPHRASE", PASSPHRASE)], args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
}

/// The stack's pending operations as recorded so far (read raw, without the lock).
fn pending(dir: &Path) -> usize {
    let store = strake_state::LocalStore::new(dir.join(".strake")).unwrap();
    store.load("fixture").ok().flatten().map_or(0, |s| s.pending.len())
}

#[test]
fn an_apply_killed_with_operations_in_flight_leaves_no_secret_in_clear() {
    let dir = stack_dir();
    let args = ["apply", "--yes", "--config", "secret=hunter2", "--config", "sleepers=3", "--config", "sleep_ms=60000"];
    let mut child = spawn(dir.path(), &args);
    let start = std::time::Instant::now();
    while pending(dir.path()) < 3 {
        assert!(child.try_wait().unwrap().is_none(), "the apply ended before its operations were recorded");
        assert!(start.elapsed() < std::time::Duration::from_secs(60), "the sleepers' operations were never recorded");
        std::thread::yield_now();
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(files_holding(dir.path(), "hunter2").is_empty(), "a pending operation holds the secret in clear");

    // The next apply finishes the interrupted operations, still sealed.
    let quick = ["apply", "--yes", "--config", "secret=hunter2", "--config", "sleepers=3", "--config", "sleep_ms=0"];
    ok(dir.path(), &quick);
    assert_eq!(pending(dir.path()), 0);
    assert!(files_holding(dir.path(), "hunter2").is_empty());
}

#[test]
fn a_rotation_killed_at_any_moment_leaves_a_readable_state() {
    let dir = stack_dir();
    ok(dir.path(), &["apply", "--yes", "--config", "secret=hunter2"]);
    // A fixed sequence of kill delays across the rotation's run (its KDF, load, import), so a
    // failure reproduces.
    let mut seed: u64 = 0x5eed;
    for trial in 0..20 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let delay = std::time::Duration::from_millis((seed >> 33) % 400);
        let mut child = spawn(dir.path(), &["secrets", "rotate", "--config", "secret=hunter2"]);
        // The fault injected: a kill after `delay`, wherever the rotation then is.
        std::thread::park_timeout(delay);
        let _ = child.kill();
        child.wait().unwrap();
        let plan = run(dir.path(), Some(PASSPHRASE), &["plan", "--config", "secret=hunter2"]);
        assert_eq!(plan.code, 0, "trial {trial}, killed after {delay:?}: the state does not read back:\n{}", plan.out);
    }
    assert!(files_holding(dir.path(), "hunter2").is_empty());
    assert!(files_holding(dir.path(), "hunter3").is_empty());
}

#[test]
fn a_stack_moves_from_a_passphrase_to_age_recipients() {
    use age::secrecy::ExposeSecret;
    let dir = stack_dir();
    ok(dir.path(), &["apply", "--yes", "--config", "secret=hunter2"]);
    let (alice, eve) = (age::x25519::Identity::generate(), age::x25519::Identity::generate());
    let provider = format!("age:{}", alice.to_public());
    let moved =
        output(command(dir.path(), &[("STRAKE_PASSPHRASE", PASSPHRASE)], &["secrets", "change-provider", &provider, "--config", "secret=hunter2"]));
    assert_eq!(moved.code, 0, "{}", moved.out);
    std::fs::write(dir.path().join("Strake.toml"), format!("[secrets]\nprovider = \"{provider}\"\n")).unwrap();

    let with = |identity: &age::x25519::Identity| {
        let key = identity.to_string();
        output(command(dir.path(), &[("STRAKE_AGE_KEY", key.expose_secret())], &["plan", "--config", "secret=hunter2"]))
    };
    let opened = with(&alice);
    assert_eq!(opened.code, 0, "the recipient's identity opens the stack: {}", opened.out);
    let refused = with(&eve);
    assert_eq!(refused.code, 1);
    assert!(refused.out.contains("no age identity at hand opens the secrets of stack `fixture`"), "{}", refused.out);
    assert!(files_holding(dir.path(), "hunter2").is_empty());
}
