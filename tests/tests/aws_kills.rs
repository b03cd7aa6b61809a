//! kill -9 at any moment, against moto: the fixture program (`tests/src/bin/aws-fixture.rs`) runs
//! through the fault proxy, one of its mutating requests is held (never sent to moto, or sent and
//! its answer never given), the process is SIGKILLed while the request is in flight, and the next
//! ordinary command (the same one) must finish the job: exit 0, moto's own view equal to state
//! and to what the program declares (nothing orphaned, nothing duplicated, nothing lost), no
//! interrupted operation left, the dead run's lock broken without `force-unlock`, and a final
//! `plan` with no changes.
//!
//! Each trial resets moto and uses a fresh state directory. The program has an OIDC provider and
//! a versioned bucket with an object, and every role has an inline policy. The fixture's `roles`, `prefix` and `path` shape it:
//! changing `prefix` renames the roles (create-then-delete replacements of roles, attachments and
//! inline policies), changing `path` moves them under the same names (delete-then-create,
//! attachments and inline policies first).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use strake_state::s3::S3Store;
use strake_state::{LocalStore, Snapshot, StateStore};
use strake_tests::cloud_view::{CloudView, assert_state_is_cloud};
use strake_tests::fault_proxy::{Fault, FaultProxy, Match, Rule};
use strake_tests::moto::ACCOUNT_A;
use strake_tests::ran::Run;
use strake_tests::rig::MotoRig;

const BIN: &str = env!("CARGO_BIN_EXE_aws-fixture");
const STACK: &str = "aws-fixture";
/// How long a held request may take to arrive, and the proxy to settle after a kill.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Seed of the torture trials' choices (which request to hold, whether moto gets it).
const SEED: u64 = 0x5EED_D1E5_0FC1_A5A5;
/// Kills per scenario of the torture test (4 scenarios).
const KILLS_PER_SCENARIO: usize = 6;

/// The fixture's configuration (see `aws-fixture.rs`).
#[derive(Debug, Clone, Copy)]
struct Shape {
    roles: usize,
    prefix: &'static str,
    path: &'static str,
}

impl Shape {
    fn config(&self) -> Vec<String> {
        let pairs = [
            ("roles", self.roles.to_string()),
            ("prefix", self.prefix.to_string()),
            ("path", self.path.to_string()),
            ("inline", "true".to_string()),
            ("oidc", "true".to_string()),
            ("bucket", "true".to_string()),
        ];
        pairs.into_iter().flat_map(|(k, v)| ["--config".to_string(), format!("{k}={v}")]).collect()
    }

    /// What moto holds once the program is applied.
    fn cloud(&self) -> CloudView {
        let mut view = CloudView::default();
        view.oidc_providers.insert(format!("arn:aws:iam::{ACCOUNT_A}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/KILLTEST"));
        view.buckets.insert("strake-kill-fixture".to_string());
        for i in 0..self.roles {
            let role = format!("{}-{i}", self.prefix);
            view.roles.insert(role.clone(), self.path.to_string());
            view.inline_policies.insert(format!("{role}:list"));
            for short in ["get", "put"] {
                let arn = format!("arn:aws:iam::{ACCOUNT_A}:policy/kill-{i}-{short}");
                view.attachments.insert(format!("{role}/{arn}"));
                view.policies.insert(arn);
            }
        }
        view
    }
}

/// The command that is killed, then run again.
#[derive(Debug, Clone, Copy)]
enum Step {
    Apply(Shape),
    Destroy(Shape),
}

impl Step {
    fn args(&self) -> Vec<String> {
        match self {
            Step::Apply(s) => [vec!["apply".into(), "--yes".into()], s.config()].concat(),
            Step::Destroy(s) => [vec!["destroy".into(), "--yes".into()], s.config()].concat(),
        }
    }

    /// The final plan, which must find nothing to do.
    fn plan_args(&self) -> Vec<String> {
        match self {
            Step::Apply(s) => [vec!["plan".into()], s.config()].concat(),
            Step::Destroy(s) => [vec!["plan".into(), "--destroy".into()], s.config()].concat(),
        }
    }

    fn cloud(&self) -> CloudView {
        match self {
            Step::Apply(s) => s.cloud(),
            Step::Destroy(_) => CloudView::default(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Scenario {
    name: &'static str,
    /// Applied without faults before the step (`None`: from empty).
    start: Option<Shape>,
    step: Step,
}

/// The notes and summary lines of a run (the plan's body is long with many roles), and stderr.
fn gist(run: &Run) -> String {
    let keep = ["note:", "Plan:", "Apply complete", "No changes", "Error"];
    let lines = run.stdout.lines().filter(|l| keep.iter().any(|k| l.starts_with(k)));
    format!("exit {}\n{}\nstderr:\n{}", run.code, lines.collect::<Vec<_>>().join("\n"), run.stderr)
}

/// What is wrong after a recovery (nothing: it converged).
enum Problem {
    /// In moto, but neither in state nor held by an interrupted operation.
    Orphan(String),
    /// The next command failed, or left an interrupted operation or a change behind.
    Stuck(String),
    /// Anything else that is not the declared outcome (something lost, say).
    Wrong(String),
}

/// One moto, one fault proxy in front of it, and the program's runs through the proxy.
struct Rig {
    aws: MotoRig,
    /// Its log is never cleared: [`Rig::settle`] counts every exchange since the start.
    proxy: FaultProxy,
    rt: tokio::runtime::Runtime,
    parallelism: Option<usize>,
    /// Keep each trial's state in this bucket of moto (straight, not through the proxy), under
    /// the trial directory's name, instead of in the directory.
    bucket: Option<&'static str>,
}

/// One trial's state directory and what moto held before it.
struct Trial {
    dir: tempfile::TempDir,
    baseline: CloudView,
}

impl Rig {
    fn start(parallelism: Option<usize>) -> Rig {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
        let aws = rt.block_on(MotoRig::start());
        let proxy = FaultProxy::start(&aws.moto);
        Rig { aws, proxy, rt, parallelism, bucket: None }
    }

    /// State in S3, with a short lease that the next run waits out.
    fn with_state_in_s3(self) -> Rig {
        Rig { bucket: Some("strake-state"), ..self }
    }

    /// The trial's stack in S3.
    fn backend(&self, dir: &Path) -> Option<String> {
        let prefix = dir.file_name().expect("a temp dir name").to_string_lossy().to_string();
        self.bucket.map(|b| format!("s3://{b}/{prefix}"))
    }

    /// What moto holds in account A (the fixture's account), straight from moto.
    fn cloud(&self) -> CloudView {
        self.rt.block_on(CloudView::read(&self.aws.sdk_a))
    }

    fn command(&self, dir: &Path, args: &[String]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--dir").arg(dir).args(args).arg("--config").arg(format!("endpoint={}", self.proxy.endpoint()));
        if let Some(p) = self.parallelism {
            c.args(["--parallelism", &p.to_string()]);
        }
        if let Some(url) = self.backend(dir) {
            c.args(["--backend", &url, "--lock-timeout", "60", "--config", "backend.lease_seconds=10"]);
            c.args(["--config", &format!("backend.endpoint=http://{}", self.aws.moto.addr), "--config", "backend.region=us-east-1"]);
            c.env("AWS_ACCESS_KEY_ID", "testing").env("AWS_SECRET_ACCESS_KEY", "testing").env_remove("AWS_PROFILE");
        }
        c.env("NO_COLOR", "1").env_remove("CARGO_MANIFEST_DIR").env_remove("STRAKE_DIR").stdin(Stdio::null());
        c
    }

    fn run(&self, dir: &Path, args: &[String]) -> Run {
        self.command(dir, args).output().expect("running aws-fixture").into()
    }

    /// Runs in the background; its output goes to files in `dir` (a full pipe would stall it).
    fn spawn(&self, dir: &Path, args: &[String]) -> Child {
        let out = std::fs::File::create(dir.join("killed.stdout")).expect("output file");
        let err = std::fs::File::create(dir.join("killed.stderr")).expect("output file");
        self.command(dir, args).stdout(out).stderr(err).spawn().expect("spawning aws-fixture")
    }

    /// Moto forgotten, a fresh directory, the scenario's start applied without faults.
    fn fresh(&self, scenario: &Scenario, context: &str) -> Trial {
        self.aws.moto.reset();
        if let Some(bucket) = self.bucket {
            self.aws.moto.create_bucket(bucket);
        }
        let baseline = self.cloud();
        let dir = tempfile::tempdir().expect("temp dir");
        if let Some(start) = scenario.start {
            let r = self.run(dir.path(), &Step::Apply(start).args());
            assert_eq!(r.code, 0, "{context}: setting up {start:?} failed:\n{}", r.text());
        }
        Trial { dir, baseline }
    }

    /// How many mutating requests the scenario's step makes when nothing goes wrong (and that
    /// such a run converges).
    fn count_mutating(&self, scenario: &Scenario, context: &str) -> usize {
        let trial = self.fresh(scenario, context);
        let counter = self.proxy.inject(Rule::new(Match::mutating(), Fault::latency(Duration::ZERO)));
        let r = self.run(trial.dir.path(), &scenario.step.args());
        let m = self.proxy.fired(counter);
        self.proxy.clear_faults();
        assert_eq!(r.code, 0, "{context}: {:?} without faults failed:\n{}", scenario.step, r.text());
        let problems = self.check(&trial, &scenario.step, context);
        assert!(problems.is_empty(), "{}", problems.iter().map(Problem::message).collect::<Vec<_>>().join("\n"));
        m
    }

    /// Runs the step with its `k`th mutating request held (forwarded to moto first if `forward`),
    /// SIGKILLs it once that request is in flight, and lets the proxy go back to forwarding.
    /// `Err` with the step's output if it finished before the hold.
    fn kill_at(&self, trial: &Trial, step: &Step, k: usize, forward: bool, context: &str) -> Result<(), String> {
        let rule = self.proxy.inject(Rule::new(Match::mutating(), Fault::hold(forward)).after(k - 1).times(1));
        let mut child = self.spawn(trial.dir.path(), &step.args());
        let started = Instant::now();
        let held = loop {
            if self.proxy.wait_fired(rule, 1, Duration::from_millis(20)) {
                break true;
            }
            if child.try_wait().expect("polling the fixture").is_some() {
                break self.proxy.wait_fired(rule, 1, Duration::ZERO);
            }
            if started.elapsed() > TIMEOUT {
                let _ = child.kill();
                panic!("{context}: mutating request #{k} was not held within {TIMEOUT:?}\n{}", self.proxy.log_text());
            }
        };
        let _ = child.kill(); // SIGKILL: no cleanup at all
        let status = child.wait().expect("reaping the fixture");
        self.proxy.release_held();
        self.proxy.clear_faults();
        self.settle(context);
        if held {
            return Ok(());
        }
        let read = |name: &str| std::fs::read_to_string(trial.dir.path().join(name)).unwrap_or_default();
        Err(format!("{status}\nstdout:\n{}\nstderr:\n{}", read("killed.stdout"), read("killed.stderr")))
    }

    /// Waits until every request the killed process got to send has been dealt with by the proxy
    /// (forwarded ones answered by moto), so none lands in moto behind the next run's back: sends
    /// a marker request through the proxy and waits until every earlier one is logged.
    fn settle(&self, context: &str) {
        let marker = format!("/strake-kill-marker-{}", self.proxy.log().len());
        let _ = strake_tests::http::request(&self.proxy.addr().to_string(), "GET", &marker, b"");
        let started = Instant::now();
        loop {
            let log = self.proxy.log();
            let seq = log.iter().find(|e| e.target == marker).map(|e| e.seq).expect("the marker request is logged");
            if log.iter().filter(|e| e.seq < seq).count() == seq {
                return;
            }
            assert!(started.elapsed() < TIMEOUT, "{context}: the killed run's requests did not settle\n{}", self.proxy.log_text());
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn state(&self, trial: &Trial) -> Snapshot {
        let store: Box<dyn StateStore> = match self.backend(trial.dir.path()) {
            Some(url) => Box::new(S3Store::new(self.aws.moto.state_options(url)).expect("the trial's state in S3")),
            None => Box::new(LocalStore::new(trial.dir.path().join(".strake")).expect("opening the trial's state")),
        };
        store.load(STACK).expect("loading the trial's state").unwrap_or_else(|| Snapshot::empty(STACK))
    }

    /// Runs the step again (it must finish the job), then checks the outcome.
    fn recover(&self, trial: &Trial, step: &Step, killed: bool, context: &str) -> Vec<Problem> {
        let rerun = self.run(trial.dir.path(), &step.args());
        if rerun.code != 0 {
            return vec![Problem::Stuck(format!("{context}: the next {:?} failed:\n{}", step.args(), gist(&rerun)))];
        }
        let mut problems = self.check(trial, step, context);
        if killed && !rerun.stdout.contains("broke the lock of ") {
            problems.push(Problem::Wrong(format!("{context}: the next run did not break the dead run's lock")));
        }
        if !problems.is_empty() {
            problems.push(Problem::Wrong(format!("{context}: the next run printed:\n{}", gist(&rerun))));
        }
        problems
    }

    /// State equals moto equals the program; nothing pending; the final plan has no changes.
    fn check(&self, trial: &Trial, step: &Step, context: &str) -> Vec<Problem> {
        let snapshot = self.state(trial);
        let cloud = self.cloud().without(&trial.baseline);
        let state = CloudView::of_state(&snapshot);
        let expected = step.cloud();
        let mut problems = Vec::new();
        // Objects an interrupted operation still holds are not orphans (but are stuck).
        let mut orphaned = cloud.without(&state);
        for id in snapshot.pending.iter().filter_map(|p| p.resource_id.as_ref()) {
            orphaned.roles.remove(id);
            orphaned.policies.remove(id);
            orphaned.attachments.remove(id);
            orphaned.inline_policies.remove(id);
            orphaned.oidc_providers.remove(id);
            orphaned.buckets.remove(id);
        }
        if !orphaned.is_empty() {
            problems.push(Problem::Orphan(format!("{context}: in moto, but not in state: {orphaned:?}")));
        }
        if !snapshot.pending.is_empty() {
            let ops: Vec<_> = snapshot.pending.iter().map(|p| format!("{:?} {} (id {:?})", p.kind, p.urn, p.resource_id)).collect();
            problems.push(Problem::Stuck(format!("{context}: interrupted operations left: {ops:#?}")));
        }
        if problems.is_empty() && (cloud != expected || state != expected) {
            problems.push(Problem::Wrong(format!("{context}:\n  moto holds {cloud:?}\n  state records {state:?}\n  declared: {expected:?}")));
        }
        if problems.is_empty() {
            self.rt.block_on(assert_state_is_cloud(&self.aws.sdk_a, &trial.baseline, &snapshot, context));
        }
        let plan = self.run(trial.dir.path(), &step.plan_args());
        if plan.code != 0 || !plan.stdout.contains("No changes.") {
            problems.push(Problem::Stuck(format!("{context}: the final plan is not empty:\n{}", plan.text())));
        }
        problems
    }
}

impl Problem {
    fn message(&self) -> &str {
        match self {
            Problem::Orphan(m) | Problem::Stuck(m) | Problem::Wrong(m) => m,
        }
    }
}

/// Trial counts and every failure, reported at the end.
#[derive(Default)]
struct Tally {
    trials: usize,
    kills: usize,
    converged: usize,
    orphans: usize,
    stuck: usize,
    failures: Vec<String>,
}

impl Tally {
    fn record(&mut self, problems: Vec<Problem>) {
        self.trials += 1;
        self.converged += usize::from(problems.is_empty());
        self.orphans += usize::from(problems.iter().any(|p| matches!(p, Problem::Orphan(_))));
        self.stuck += usize::from(problems.iter().any(|p| matches!(p, Problem::Stuck(_))));
        if !problems.is_empty() {
            self.failures.push(problems.iter().map(Problem::message).collect::<Vec<_>>().join("\n"));
        }
    }

    fn summary(&self, what: &str) -> String {
        format!(
            "{what}: {} trials ({} killed), {} converged, {} orphans, {} stuck",
            self.trials, self.kills, self.converged, self.orphans, self.stuck
        )
    }

    fn assert_all_converged(&self, what: &str) {
        let summary = self.summary(what);
        eprintln!("{summary}");
        assert!(self.failures.is_empty(), "{summary}\n\n{}", self.failures.join("\n\n"));
    }
}

/// splitmix64: a small seeded generator, so a failing trial can be reproduced.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// In `1..=n`.
    fn one_to(&mut self, n: usize) -> usize {
        1 + (self.next() % n as u64) as usize
    }
}

#[test]
fn a_create_or_replacement_killed_at_any_step_is_finished_by_the_next_apply() {
    let rig = Rig::start(None);
    let v1 = Shape { roles: 1, prefix: "app", path: "/" };
    let scenarios = [
        Scenario { name: "create", start: None, step: Step::Apply(v1) },
        Scenario { name: "rename", start: Some(v1), step: Step::Apply(Shape { prefix: "web", ..v1 }) },
        Scenario { name: "move", start: Some(v1), step: Step::Apply(Shape { path: "/team/", ..v1 }) },
    ];
    let mut tally = Tally::default();
    for scenario in &scenarios {
        let m = rig.count_mutating(scenario, scenario.name);
        assert!(m >= 4, "{}: only {m} mutating requests", scenario.name);
        eprintln!("{}: {m} mutating requests", scenario.name);
        for k in 1..=m {
            for forward in [false, true] {
                let context = format!("{}: mutating request #{k} of {m} held (forwarded to moto: {forward}), then SIGKILL", scenario.name);
                let trial = rig.fresh(scenario, &context);
                if let Err(output) = rig.kill_at(&trial, &scenario.step, k, forward, &context) {
                    panic!("{context}: the apply finished before the request was held:\n{output}");
                }
                tally.kills += 1;
                tally.record(rig.recover(&trial, &scenario.step, true, &context));
            }
        }
    }
    assert_eq!(tally.kills, tally.trials);
    tally.assert_all_converged("create and replacement kills");
}

#[test]
fn random_kills_over_apply_replace_and_destroy_converge() {
    let rig = Rig::start(Some(4));
    let shape = Shape { roles: 8, prefix: "app", path: "/" };
    let scenarios = [
        Scenario { name: "create", start: None, step: Step::Apply(shape) },
        Scenario { name: "rename", start: Some(shape), step: Step::Apply(Shape { prefix: "web", ..shape }) },
        Scenario { name: "move", start: Some(shape), step: Step::Apply(Shape { path: "/team/", ..shape }) },
        Scenario { name: "destroy", start: Some(shape), step: Step::Destroy(shape) },
    ];
    let mut rng = SplitMix(SEED);
    let mut tally = Tally::default();
    for scenario in &scenarios {
        let m = rig.count_mutating(scenario, &format!("seed {SEED:#x}, {}", scenario.name));
        eprintln!("{}: {m} mutating requests", scenario.name);
        let (mut kills, mut attempt) = (0, 0);
        while kills < KILLS_PER_SCENARIO {
            attempt += 1;
            assert!(attempt <= 3 * KILLS_PER_SCENARIO, "seed {SEED:#x}, {}: too few trials reached their hold", scenario.name);
            let (k, forward) = (rng.one_to(m), rng.next() & 1 == 1);
            let context = format!(
                "seed {SEED:#x}, {} trial {attempt}: mutating request #{k} of {m} held (forwarded to moto: {forward}), then SIGKILL",
                scenario.name
            );
            let trial = rig.fresh(scenario, &context);
            let killed = match rig.kill_at(&trial, &scenario.step, k, forward, &context) {
                Ok(()) => true,
                Err(output) => {
                    eprintln!("{context}: finished before the hold, no kill\n{output}");
                    false
                }
            };
            kills += usize::from(killed);
            tally.kills += usize::from(killed);
            tally.record(rig.recover(&trial, &scenario.step, killed, &context));
        }
    }
    assert!(tally.kills >= 4 * KILLS_PER_SCENARIO);
    tally.assert_all_converged(&format!("random kills (seed {SEED:#x})"));
}

#[test]
fn a_run_killed_with_its_state_in_s3_is_finished_by_the_next_apply_once_the_lease_runs_out() {
    let rig = Rig::start(None).with_state_in_s3();
    let v1 = Shape { roles: 1, prefix: "app", path: "/" };
    let scenario = Scenario { name: "rename, state in S3", start: Some(v1), step: Step::Apply(Shape { prefix: "web", ..v1 }) };
    let m = rig.count_mutating(&scenario, scenario.name);
    let mut tally = Tally::default();
    // The first mutating request, one in the middle and the last, each lost before and after moto acted.
    for k in [1, m.div_ceil(2), m] {
        for forward in [false, true] {
            let context = format!("{}: mutating request #{k} of {m} held (forwarded to moto: {forward}), then SIGKILL", scenario.name);
            let trial = rig.fresh(&scenario, &context);
            if let Err(output) = rig.kill_at(&trial, &scenario.step, k, forward, &context) {
                panic!("{context}: the apply finished before the request was held:\n{output}");
            }
            tally.kills += 1;
            tally.record(rig.recover(&trial, &scenario.step, true, &context));
            assert!(!trial.dir.path().join(".strake").exists(), "{context}: no state on disk");
        }
    }
    tally.assert_all_converged("kills with state in S3");
}
