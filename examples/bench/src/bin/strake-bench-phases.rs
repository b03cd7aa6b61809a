//! Where one benchmark command spends its time and memory: runs the same program as `strake-bench`
//! through the embedding API ([`strake::Engine`] over the same local store), timing each phase and
//! printing the RSS after it. A diagnostic for the benchmark's analysis, not part of the measurement.
//!
//! ```text
//! strake-bench-phases DIR plan|plan-no-refresh|apply|destroy [key=value ...]
//! ```
//!
//! `DIR` is a program directory as for `strake-bench --dir` (its `Strake.toml` is read, `key=value`
//! pairs override it). Unlike the CLI it attaches no progress observer and prints no plan.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use strake::plan::render_human;
use strake::{Config, Engine, EngineOptions, Error, PlanMode, PlanOptions, Program};
use strake_state::LocalStore;

/// (current RSS, peak RSS) in MiB.
fn rss() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok()).unwrap_or(0.0)
            / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

struct Clock {
    start: Instant,
    last: Instant,
}

impl Clock {
    fn phase(&mut self, name: &str) {
        let now = Instant::now();
        let (cur, peak) = rss();
        println!(
            "{name:<34} {:>9.1} ms   (total {:>9.1} ms)   RSS {cur:>8.1} MiB   peak {peak:>8.1} MiB",
            (now - self.last).as_secs_f64() * 1e3,
            (now - self.start).as_secs_f64() * 1e3,
        );
        self.last = now;
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, op, overrides @ ..] = args.as_slice() else {
        eprintln!("usage: strake-bench-phases DIR plan|plan-no-refresh|apply|destroy [key=value ...]");
        return ExitCode::from(1);
    };
    match run(PathBuf::from(dir), op, overrides) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(dir: PathBuf, op: &str, overrides: &[String]) -> Result<(), Error> {
    let (mode, refresh, apply) = match op {
        "plan" => (PlanMode::Normal, true, false),
        "plan-no-refresh" => (PlanMode::Normal, false, false),
        "apply" => (PlanMode::Normal, true, true),
        "destroy" => (PlanMode::Destroy, true, true),
        other => return Err(Error::Cli(format!("unknown operation `{other}`"))),
    };
    let start = Instant::now();
    let mut clock = Clock { start, last: start };
    clock.phase("start");
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| Error::Cli(format!("cannot start the async runtime: {e}")))?;
    clock.phase("tokio runtime");
    let program = Program::build("bench", Config::load(&dir, overrides)?, strake_bench::declare)?;
    clock.phase("Program::build (user closure)");
    let store = Arc::new(LocalStore::new(dir.join(".strake"))?);
    let engine = Engine::new(store).with_options(EngineOptions { parallelism: 10, ..Default::default() });
    runtime.block_on(async {
        let mut session = engine.session(&program, op)?;
        clock.phase("Engine::session (lock, open, load)");
        println!("    ({} records in state)", session.snapshot()?.resources.len());
        if apply {
            session.resolve_pending().await?;
            clock.phase("resolve_pending");
        }
        let planned = session.plan(&PlanOptions { mode, targets: Vec::new(), refresh }).await?;
        clock.phase(&format!("Session::plan (refresh {refresh})"));
        let summary = planned.plan.summary();
        println!("    ({} steps: {} create, {} update, {} delete)", planned.plan.steps.len(), summary.create, summary.update, summary.delete);
        let text = render_human(&planned.plan, false);
        clock.phase("render_human");
        println!("    ({} bytes of plan text)", text.len());
        drop(text);
        if apply && planned.plan.has_changes() {
            let report = session.apply(&planned).await?;
            clock.phase("Session::apply");
            println!("    ({} changed, {} state commits)", report.changed, report.state_commits);
        }
        drop(planned);
        clock.phase("drop(Planned)");
        drop(session);
        clock.phase("drop(Session) (unlock, close)");
        Ok::<(), Error>(())
    })?;
    drop(engine);
    clock.phase("drop(Engine)");
    drop(program);
    clock.phase("drop(Program)");
    drop(runtime);
    clock.phase("drop(runtime)");
    Ok(())
}
