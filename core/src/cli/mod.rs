//! The command-line runner: `strake::run("stack", |stack| ...)` in a program's `main`.
//!
//! Exit codes: 0 success (for `plan`: no changes), 2 `plan` found changes, 1 error,
//! 130 apply interrupted by Ctrl-C (running steps finished and were recorded).

mod args;
mod commands;
mod progress;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use strake_state::LocalStore;

use crate::{Config, Engine, EngineOptions, Error, Program, Stack};

/// The stack setting that makes every warning an error (`[strake]` table of Strake.toml).
const STRICT_KEY: &str = "strake.strict";

/// Runs a Strake program as a command-line tool, reading `std::env::args`.
pub fn run(stack: &str, program: impl FnOnce(&Stack) -> Result<(), Error>) -> ExitCode {
    run_with_args(stack, std::env::args_os(), program)
}

/// Like [`run`], with explicit arguments (the first is the program name).
pub fn run_with_args<I, T>(stack: &str, args: I, program: impl FnOnce(&Stack) -> Result<(), Error>) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match args::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(1) } else { ExitCode::SUCCESS };
        }
    };
    let color = !cli.global.no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal();
    match execute(stack, cli, program, color) {
        Ok(code) => code,
        Err(e) => {
            let red = console::Style::new().red().bold().force_styling(color && std::io::stderr().is_terminal());
            eprintln!("{} {e}", red.apply_to("Error:"));
            match e {
                Error::Interrupted { .. } => ExitCode::from(130),
                _ => ExitCode::from(1),
            }
        }
    }
}

/// Where the program lives: `--dir`, else the package directory under `cargo run`, else `.`.
fn program_dir(explicit: Option<PathBuf>) -> PathBuf {
    explicit
        .or_else(|| std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("."))
}

fn execute(
    stack: &str,
    cli: args::Cli,
    program: impl FnOnce(&Stack) -> Result<(), Error>,
    color: bool,
) -> Result<ExitCode, Error> {
    let dir = program_dir(cli.global.dir.clone());
    let config = Config::load(&dir, &cli.global.config)?;
    // Strake's own settings of the stack, read before the program so they never count as unknown.
    config.note_engine_key(STRICT_KEY);
    let program = Program::build(stack, config, program)?;
    let store = Arc::new(LocalStore::new(dir.join(".strake"))?);
    let strict = cli.global.strict || stack_strict(&program.config)?;
    let options = EngineOptions { parallelism: cli.global.parallelism.max(1), strict, ..Default::default() };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Usage(format!("cannot start the async runtime: {e}")))?;
    let ctx = commands::Context { program: &program, store, options, color, global: &cli.global };
    runtime.block_on(commands::dispatch(ctx, cli.command, |engine: &Engine| {
        let cancel = engine.cancel_flag();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\nInterrupt received: no new steps will start; waiting for running steps to finish and be recorded...");
                cancel.cancel();
            }
        });
    }))
}

/// The stack's own `[strake] strict = true` in Strake.toml.
fn stack_strict(config: &Config) -> Result<bool, Error> {
    match config.get(STRICT_KEY) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(Error::Config(format!("`{STRICT_KEY} = {other}`: expected true or false"))),
    }
}
