//! The CLI as users run it: a real program binary (`cli-fixture`) with local state in a temp dir.
//! Covers exit codes, saved plans, JSON output, secrets, state commands, locking across processes,
//! a killed apply and Ctrl-C.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use strake_tests::ran::Run;

const BIN: &str = env!("CARGO_BIN_EXE_cli-fixture");

fn cmd(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--dir").arg(dir).args(args).env("NO_COLOR", "1").env_remove("CARGO_MANIFEST_DIR").stdin(Stdio::null());
    c
}

fn run(dir: &Path, args: &[&str]) -> Run {
    cmd(dir, args).output().expect("running the fixture").into()
}

fn ok(dir: &Path, args: &[&str]) -> Run {
    let r = run(dir, args);
    assert_eq!(r.code, 0, "{args:?} failed:\nstdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    r
}

fn spawn(dir: &Path, args: &[&str]) -> Child {
    cmd(dir, args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawning the fixture")
}

fn finish(child: Child) -> Run {
    child.wait_with_output().expect("waiting for the fixture").into()
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(30), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The fixture's state as recorded so far (read without the lock, as any reader may).
fn recorded(dir: &Path) -> Option<strake_state::Snapshot> {
    use strake_state::StateStore as _;
    strake_state::LocalStore::new(dir.join(".strake")).ok()?.load("fixture").ok()?
}

fn lock_file(dir: &Path) -> std::path::PathBuf {
    dir.join(".strake").join("fixture.lock")
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn plan_exit_codes_follow_changes() {
    let dir = tempfile::tempdir().unwrap();
    let first = run(dir.path(), &["plan"]);
    assert_eq!(first.code, 2, "{}", first.stderr);
    assert!(first.stdout.contains("+ strake:index:Data \"a\""), "{}", first.stdout);
    assert!(first.stdout.contains("Plan: 2 to create, 0 to update, 0 to replace, 0 to destroy."), "{}", first.stdout);
    let applied = ok(dir.path(), &["apply", "--yes"]);
    assert!(applied.stdout.contains("Apply complete"), "{}", applied.stdout);
    let again = ok(dir.path(), &["plan"]);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    let changed = run(dir.path(), &["plan", "--config", "a=2"]);
    assert_eq!(changed.code, 2);
    assert!(changed.stdout.contains("~ input = \"1\" -> \"2\""), "{}", changed.stdout);
    let broken = run(dir.path(), &["plan", "--config", "sleepers=x"]);
    assert_eq!(broken.code, 1);
    assert!(broken.stderr.contains("sleepers must be a number"), "{}", broken.stderr);
}

#[test]
fn apply_without_a_terminal_needs_yes_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(dir.path(), &["apply"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("pass --yes"), "{}", r.stderr);
    let list = ok(dir.path(), &["state", "list"]);
    assert!(list.stdout.contains("has no state yet"), "{}", list.stdout);
}

#[test]
fn a_saved_plan_is_applied_exactly_or_refused_when_state_moved() {
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &["apply", "--yes"]);
    let p2 = dir.path().join("two.plan");
    let p3 = dir.path().join("three.plan");
    let (p2s, p3s) = (p2.to_str().unwrap(), p3.to_str().unwrap());
    assert_eq!(run(dir.path(), &["plan", "--config", "a=2", "--out", p2s]).code, 2);
    assert_eq!(run(dir.path(), &["plan", "--config", "a=3", "--out", p3s]).code, 2);
    assert_eq!(mode(&p2), 0o600, "saved plans may hold secrets");
    // The program must still plan the same: plan two with the program configured for three is refused.
    let mismatch = run(dir.path(), &["apply", p2s, "--config", "a=3"]);
    assert_eq!(mismatch.code, 1);
    assert!(mismatch.stderr.contains("stale"), "{}", mismatch.stderr);
    ok(dir.path(), &["apply", p2s, "--config", "a=2"]);
    let stale = run(dir.path(), &["apply", p3s, "--config", "a=3"]);
    assert_eq!(stale.code, 1);
    assert!(stale.stderr.contains("state changed since the plan was made"), "{}", stale.stderr);
    let show = ok(dir.path(), &["state", "show", "a"]);
    assert!(show.stdout.contains("\"input\": \"2\""), "{}", show.stdout);
}

#[test]
fn json_plan_and_json_events() {
    let dir = tempfile::tempdir().unwrap();
    let plan = run(dir.path(), &["plan", "--json"]);
    assert_eq!(plan.code, 2);
    let v: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan --json prints one JSON document");
    assert_eq!(v["has_changes"], true);
    assert_eq!(v["summary"]["create"], 2);
    let apply = ok(dir.path(), &["apply", "--yes", "--json"]);
    let events: Vec<serde_json::Value> = apply.stdout.lines().map(|l| serde_json::from_str(l).expect("each line is a JSON event")).collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap_or("")).collect();
    assert_eq!(kinds.first(), Some(&"apply_started"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"apply_finished"), "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "step_finished").count(), 2, "{kinds:?}");
}

#[test]
fn secrets_are_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let commands: [&[&str]; 5] = [&["plan"], &["plan", "--json"], &["apply", "--yes", "--json"], &["state", "show", "token"], &["outputs", "--json"]];
    let mut printed = Vec::new();
    for args in commands {
        let all = [args, &["--config", "secret=hunter2"][..]].concat();
        let r = run(dir.path(), &all);
        printed.push(format!("{}{}", r.stdout, r.stderr));
    }
    for p in &printed {
        assert!(!p.contains("hunter2"), "a secret was printed:\n{p}");
    }
    assert!(printed[0].contains("(sensitive)"), "{}", printed[0]);
    // The export holds it (it is the state), written privately.
    let export = dir.path().join("state.json");
    ok(dir.path(), &["state", "export", "--out", export.to_str().unwrap(), "--config", "secret=hunter2"]);
    assert!(std::fs::read_to_string(&export).unwrap().contains("hunter2"));
    assert_eq!(mode(&export), 0o600);
}

#[test]
fn state_commands_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &["apply", "--yes"]);
    let list = ok(dir.path(), &["state", "list"]);
    assert!(list.stdout.contains("urn:strake:fixture::strake:index:Data::a"), "{}", list.stdout);
    assert!(list.stdout.contains("urn:strake:fixture::strake:index:Data::b"), "{}", list.stdout);
    let export = dir.path().join("export.json");
    ok(dir.path(), &["state", "export", "--out", export.to_str().unwrap()]);
    ok(dir.path(), &["state", "rm", "b"]);
    let plan = run(dir.path(), &["plan"]);
    assert_eq!(plan.code, 2, "a forgotten resource is created again");
    assert!(plan.stdout.contains("# b will be created"), "{}", plan.stdout);
    ok(dir.path(), &["state", "import", export.to_str().unwrap()]);
    assert!(ok(dir.path(), &["plan"]).stdout.contains("No changes."));
    let outputs = ok(dir.path(), &["outputs", "--json"]);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&outputs.stdout).unwrap()["b"], "1");
    let graph = ok(dir.path(), &["graph", "--text"]);
    assert_eq!(
        graph.stdout,
        "urn:strake:fixture::strake:index:Data::a [resource]\n\
         urn:strake:fixture::strake:index:Data::b [resource] <- urn:strake:fixture::strake:index:Data::a\n"
    );
    assert!(ok(dir.path(), &["graph"]).stdout.starts_with("digraph strake {"));
    ok(dir.path(), &["destroy", "--yes"]);
    assert!(!ok(dir.path(), &["state", "list"]).stdout.contains("urn:"));
}

#[test]
fn a_second_apply_is_refused_while_the_first_holds_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let slow = ["apply", "--yes", "--config", "sleepers=1", "--config", "sleep_ms=3000"];
    let first = spawn(dir.path(), &slow);
    let first_pid = first.id();
    wait_for("the first apply to take the lock", || std::fs::read(lock_file(dir.path())).is_ok_and(|b| !b.is_empty()));
    let second = run(dir.path(), &slow);
    assert_eq!(second.code, 1);
    assert!(second.stderr.contains("is locked by `apply`"), "{}", second.stderr);
    assert!(second.stderr.contains(&format!("pid {first_pid}")), "{}", second.stderr);
    let first = finish(first);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let plan = ok(dir.path(), &["plan", "--config", "sleepers=1", "--config", "sleep_ms=3000"]);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
}

#[test]
fn a_killed_apply_keeps_what_it_recorded_and_the_next_run_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let slow = ["apply", "--yes", "--config", "sleepers=3", "--config", "sleep_ms=60000", "--parallelism", "1"];
    let mut child = spawn(dir.path(), &slow);
    let pid = child.id();
    let sleeper = "urn:strake:fixture::sleep:index:Sleep::sleep-0";
    let fast = ["--config", "sleepers=3", "--config", "sleep_ms=0"];
    wait_for("the first sleeper's create to be recorded as pending", || {
        recorded(dir.path()).is_some_and(|s| s.pending.iter().any(|p| p.urn == sleeper))
    });
    child.kill().unwrap(); // SIGKILL: no cleanup at all
    child.wait().unwrap();

    // No hand-typed force-unlock: the dead run's lock is broken, and the plan says so.
    let plan = run(dir.path(), &[&["plan"][..], &fast].concat());
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("broke the lock of `apply` by") && plan.stdout.contains(&format!("pid {pid}")), "{}", plan.stdout);
    assert!(plan.stdout.contains(&format!("interrupted during the create of {sleeper}")), "{}", plan.stdout);

    let list = ok(dir.path(), &[&["state", "list"][..], &fast].concat());
    assert!(list.stdout.contains("Data::a ") && list.stdout.contains("Data::b "), "{}", list.stdout);
    assert!(list.stdout.contains(&format!("(interrupted create) {sleeper}")), "{}", list.stdout);

    let apply = ok(dir.path(), &[&["apply", "--yes"][..], &fast].concat());
    assert!(apply.stdout.contains("had not created anything: cleared"), "{}", apply.stdout);
    assert!(apply.stdout.contains("Plan: 3 to create"), "{}", apply.stdout);
    assert!(ok(dir.path(), &[&["plan"][..], &fast].concat()).stdout.contains("No changes."));
}

#[test]
fn ctrl_c_lets_running_steps_finish_and_records_them() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["apply", "--yes", "--config", "sleepers=3", "--config", "sleep_ms=1500", "--parallelism", "1"];
    let child = spawn(dir.path(), &args);
    wait_for("the first sleeper's create to start", || {
        recorded(dir.path()).is_some_and(|s| s.pending.iter().any(|p| p.urn.ends_with("Sleep::sleep-0")))
    });
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let r = finish(child);
    assert_eq!(r.code, 130, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("Interrupt received"), "{}", r.stderr);
    assert!(r.stderr.contains("were not started"), "{}", r.stderr);
    let list = ok(dir.path(), &["state", "list"]);
    let sleepers = list.stdout.lines().filter(|l| l.contains("Sleep::")).count();
    assert_eq!(sleepers, 1, "exactly the running step was finished and recorded:\n{}", list.stdout);
    assert!(!list.stdout.contains("interrupted"), "{}", list.stdout);
}

/// The newest journal of the fixture's stack.
fn newest_journal(dir: &Path) -> std::path::PathBuf {
    let stack_dir = dir.join(".strake").join("stacks").join("fixture");
    let mut journals: Vec<_> =
        std::fs::read_dir(&stack_dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "journal")).collect();
    journals.sort();
    journals.pop().expect("a journal")
}

#[test]
fn damaged_state_is_refused_and_an_earlier_state_restores() {
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &["apply", "--yes", "--config", "a=1"]);
    ok(dir.path(), &["apply", "--yes", "--config", "a=2"]);

    // Cut the last commit short, as a disk or a careless copy might.
    let journal = newest_journal(dir.path());
    let bytes = std::fs::read(&journal).unwrap();
    std::fs::write(&journal, &bytes[..bytes.len() - 10]).unwrap();

    let refused = run(dir.path(), &["plan", "--config", "a=2"]);
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    assert!(refused.stderr.contains("is damaged") && refused.stderr.contains("Nothing was changed"), "{}", refused.stderr);
    assert!(refused.stderr.contains("state history") && refused.stderr.contains("state restore <generation>"), "{}", refused.stderr);
    assert!(!refused.stdout.contains("to create"), "never read as empty state: {}", refused.stdout);

    let history = ok(dir.path(), &["state", "history"]);
    assert!(history.stdout.contains("The current state cannot be used"), "{}", history.stdout);
    // The end of the first apply is a restore point: the first `apply` row.
    let first_apply = history
        .stdout
        .lines()
        .find(|l| l.ends_with("`apply`"))
        .and_then(|l| l.split_whitespace().next())
        .expect("a restore point made by `apply`")
        .to_string();
    // Restoring replaces the current state: it asks first, and without a terminal it needs --yes.
    let unconfirmed = run(dir.path(), &["state", "restore", &first_apply]);
    assert_eq!(unconfirmed.code, 1, "{}", unconfirmed.stdout);
    assert!(unconfirmed.stderr.contains("pass --yes to restore without asking"), "{}", unconfirmed.stderr);
    assert!(ok(dir.path(), &["state", "history"]).stdout.contains("The current state cannot be used"), "nothing was restored");
    let restored = ok(dir.path(), &["state", "restore", "--yes", &first_apply]);
    assert!(restored.stdout.contains(&format!("to generation {first_apply}")), "{}", restored.stdout);

    let plan = run(dir.path(), &["plan", "--config", "a=2"]);
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("a will be updated") && plan.stdout.contains("Plan: 0 to create"), "{}", plan.stdout);
    ok(dir.path(), &["apply", "--yes", "--config", "a=2"]);
    assert!(ok(dir.path(), &["plan", "--config", "a=2"]).stdout.contains("No changes."));
    assert!(ok(dir.path(), &["state", "history"]).stdout.contains("The current state is intact."));
}

/// Durable means synced to stable storage: every commit is followed by an `fdatasync` (counted
/// by strace, so a regression to `sync_file_range` or to no sync at all is caught).
#[test]
fn every_commit_is_synced_with_fdatasync() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("syncs.trace");
    let status = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=fsync,fdatasync,sync_file_range,msync", "-o"])
        .arg(&trace)
        .arg(BIN)
        .arg("--dir")
        .arg(dir.path())
        .args(["apply", "--yes", "--config", "sleepers=20", "--config", "sleep_ms=0"])
        .env("NO_COLOR", "1")
        .env_remove("CARGO_MANIFEST_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .expect("strace is installed (tests/run.sh installs it)");
    assert!(status.success());
    let trace = std::fs::read_to_string(&trace).unwrap();
    let count = |call: &str| trace.lines().filter(|l| l.contains(&format!("{call}("))).count();
    assert_eq!(count("sync_file_range") + count("msync"), 0, "{trace}");

    // How many commits the apply made: the generation its history reached.
    let history = ok(dir.path(), &["state", "history"]);
    let commits: usize = history.stdout.lines().filter_map(|l| l.split_whitespace().next()?.parse().ok()).max().expect("restore points");
    assert!(commits >= 2, "{}", history.stdout);
    let synced = count("fdatasync") + count("fsync");
    assert!(count("fdatasync") >= commits, "{commits} commits but {} fdatasync calls:\n{trace}", count("fdatasync"));
    assert!(synced <= commits + 12, "at most a few syncs beyond one per commit (new files, directories): {synced} for {commits}\n{trace}");
}

#[test]
fn a_misspelt_config_key_is_refused_with_the_closest_one() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(dir.path(), &["plan", "--config", "slepers=2"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.contains("`slepers` (with --config); did you mean `sleepers`?"), "{}", r.stderr);
    assert!(!dir.path().join(".strake").join("stacks").exists(), "nothing was recorded");
}

#[test]
fn vague_mistakes_get_precise_messages() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["0", "-1"] {
        let r = run(dir.path(), &["plan", "--parallelism", bad]);
        assert_eq!(r.code, 1, "{bad}: {}", r.stderr);
        assert!(r.stderr.contains("provider calls run at once, so use 1 or more"), "{}", r.stderr);
    }
    let r = run(dir.path(), &["state", "import", "no-such-file.json"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("cannot read the state file no-such-file.json"), "{}", r.stderr);

    // `plan --json` output is for reading: applying it says how to save a plan.
    let json = run(dir.path(), &["plan", "--json"]);
    std::fs::write(dir.path().join("plan.json"), json.stdout).unwrap();
    let r = run(dir.path(), &["apply", &dir.path().join("plan.json").display().to_string()]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("is the output of `plan --json`") && r.stderr.contains("`plan --out FILE`"), "{}", r.stderr);

    // A state file whose records are not Strake's.
    ok(dir.path(), &["apply", "--yes"]);
    let export = ok(dir.path(), &["state", "export"]).stdout.replace("urn:strake:fixture::strake:index:Data::a", "not-a-urn");
    std::fs::write(dir.path().join("state.json"), export).unwrap();
    let r = run(dir.path(), &["state", "import", &dir.path().join("state.json").display().to_string()]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("`not-a-urn`") && r.stderr.contains("nothing was imported"), "{}", r.stderr);

    // `.strake` is a file.
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join(".strake"), "").unwrap();
    let r = run(other.path(), &["plan"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains(".strake is a file") && r.stderr.contains("move the file away"), "{}", r.stderr);
}

#[test]
fn the_stack_setting_strict_is_strakes_own() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Strake.toml"), "[strake]\nstrict = true\n").unwrap();
    assert_eq!(run(dir.path(), &["plan"]).code, 2, "a known setting, not an unknown key");
    std::fs::write(dir.path().join("Strake.toml"), "[strake]\nstrict = \"maybe\"\n").unwrap();
    let r = run(dir.path(), &["plan"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("`strake.strict = maybe`: expected true or false"), "{}", r.stderr);
}

#[test]
fn progress_tells_apart_resources_that_share_a_name_and_destroy_says_destroy() {
    let dir = tempfile::tempdir().unwrap();
    let apply = ok(dir.path(), &["apply", "--yes", "--config", "clash=true"]);
    assert!(apply.stdout.contains("a (strake:index:Data): created") && apply.stdout.contains("a (sleep:index:Sleep): created"), "{}", apply.stdout);
    assert!(apply.stdout.contains("b: created"), "a name nobody shares stays short: {}", apply.stdout);
    let destroy = ok(dir.path(), &["destroy", "--yes", "--config", "clash=true"]);
    assert!(destroy.stdout.contains("Destroy complete in") && !destroy.stdout.contains("Apply complete"), "{}", destroy.stdout);
}
