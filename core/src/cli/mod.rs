//! The command-line runner: `strake::run("stack", |stack| ...)` in a program's `main`.
//!
//! Exit codes: 0 success (for `plan`: no changes), 2 `plan` found changes, 1 error,
//! 130 apply interrupted by Ctrl-C (running steps finished and were recorded).

mod args;
mod backend;
mod commands;
mod progress;
mod saved;
mod secrets;
mod state;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::{Config, Engine, EngineOptions, Error, Program, Stack};

/// The stack setting that makes every warning an error (`[strake]` table of Strake.toml).
const STRICT_KEY: &str = "strake.strict";

/// Runs a Strake program as a command-line tool, reading `std::env::args`.
///
/// Meant as the body of the program's `main`, which returns its exit code: the program's
/// declarations (and the plan of `plan`) are left for the process's exit to reclaim, since
/// freeing those of 100,000 resources one allocation at a time takes about half a second. To
/// drive Strake from a long-running process, use [`Engine`].
pub fn run(stack: &str, program: impl FnOnce(&Stack) -> Result<(), Error>) -> ExitCode {
    run_with_args(stack, std::env::args_os(), program)
}

/// Like [`run`], with explicit arguments (the first is the program name). Also meant as the body
/// of `main`.
pub fn run_with_args<I, T>(stack: &str, args: I, program: impl FnOnce(&Stack) -> Result<(), Error>) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    run_with_commands(stack, args, program, Vec::new())
}

/// A command of the program's own beside Strake's (the IRSA example's `verify`, say): listed in
/// `--help`, with its own `--help`, parsed by the same parser (the global `--dir` and
/// `--config` included). Describe its arguments with [`clap::Command`] (re-exported as
/// `strake::clap`).
pub struct ProgramCommand<'a> {
    command: clap::Command,
    run: Box<RunCommand<'a>>,
}

/// What a program's own command does with its context and arguments.
type RunCommand<'a> = dyn FnOnce(&ProgramContext, &clap::ArgMatches) -> Result<ExitCode, Error> + 'a;

impl<'a> ProgramCommand<'a> {
    /// A command described by `command` (its name, help and arguments) that runs `run` when
    /// chosen.
    pub fn new(command: clap::Command, run: impl FnOnce(&ProgramContext, &clap::ArgMatches) -> Result<ExitCode, Error> + 'a) -> Self {
        ProgramCommand { command, run: Box::new(run) }
    }
}

/// What a program's own command gets: the program's directory and its configuration.
pub struct ProgramContext {
    /// The program's directory: `--dir`, else the package directory under `cargo run`, else `.`.
    pub dir: PathBuf,
    /// The stack's configuration (`Strake.toml` and `--config`).
    pub config: Config,
}

/// Like [`run_with_args`], with commands of the program's own. Also meant as the body of `main`.
pub fn run_with_commands<I, T>(stack: &str, args: I, program: impl FnOnce(&Stack) -> Result<(), Error>, commands: Vec<ProgramCommand<'_>>) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let parser = commands.iter().fold(<args::Cli as clap::CommandFactory>::command(), |p, c| p.subcommand(c.command.clone()));
    let matches = match parser.try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(1) } else { ExitCode::SUCCESS };
        }
    };
    let own = matches.subcommand_name().and_then(|name| commands.into_iter().find(|c| c.command.get_name() == name));
    let result = match own {
        Some(command) => run_own(command, &matches),
        None => match <args::Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
            Ok(cli) => {
                let color = !cli.global.no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal();
                execute(stack, cli, program, color).map_err(|e| (e, color))
            }
            Err(e) => {
                let _ = e.print();
                return ExitCode::from(1);
            }
        },
    };
    match result {
        Ok(code) => code,
        Err((e, color)) => {
            let red = console::Style::new().red().bold().force_styling(color && std::io::stderr().is_terminal());
            eprintln!("{} {e}", red.apply_to("Error:"));
            match e {
                Error::Interrupted { .. } => ExitCode::from(130),
                _ => ExitCode::from(1),
            }
        }
    }
}

/// Runs a program's own command with the program's directory and configuration.
fn run_own(command: ProgramCommand<'_>, matches: &clap::ArgMatches) -> Result<ExitCode, (Error, bool)> {
    let global = <args::Global as clap::FromArgMatches>::from_arg_matches(matches).map_err(|e| (Error::Cli(e.to_string()), false))?;
    let color = !global.no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal();
    let dir = program_dir(global.dir.clone());
    let config = Config::load(&dir, &global.config).map_err(|e| (e, color))?;
    let sub = matches.subcommand().map(|(_, m)| m.clone()).unwrap_or_default();
    (command.run)(&ProgramContext { dir, config }, &sub).map_err(|e| (e, color))
}

/// Where the program lives: `--dir`, else the package directory under `cargo run`, else `.`.
pub(crate) fn program_dir(explicit: Option<PathBuf>) -> PathBuf {
    explicit.or_else(|| std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from)).unwrap_or_else(|| PathBuf::from("."))
}

fn execute(stack: &str, cli: args::Cli, program: impl FnOnce(&Stack) -> Result<(), Error>, color: bool) -> Result<ExitCode, Error> {
    let dir = program_dir(cli.global.dir.clone());
    let config = Config::load(&dir, &cli.global.config)?;
    // Strake's own settings of the stack, read before the program so they never count as unknown.
    config.note_engine_key(STRICT_KEY);
    for key in backend::KEYS.iter().chain(&secrets::KEYS) {
        config.note_engine_key(key);
    }
    let secrets = secrets::provider(&config, stack)?;
    let store = backend::open(&dir, cli.global.backend.as_deref(), &config, secrets.clone())?;
    let program = kept_until_exit(Program::build(stack, config, program)?);
    let strict = cli.global.strict || stack_strict(&program.config)?;
    let options = EngineOptions {
        parallelism: cli.global.parallelism.max(1),
        strict,
        lock_timeout: std::time::Duration::from_secs(cli.global.lock_timeout),
        ..Default::default()
    };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| Error::Cli(format!("cannot start the async runtime: {e}")))?;
    let ctx = commands::Context { program: &program, store, secrets, options, color, global: &cli.global };
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

/// A value the runner never frees: the process exits right after the runner returns, and
/// reclaims its memory at once, where freeing the declarations or the plan of 100,000 resources
/// one allocation at a time takes about half a second. Only for what stays alive until the end
/// anyway, or is no longer needed when nothing else needs the memory.
pub(crate) fn kept_until_exit<T>(value: T) -> std::mem::ManuallyDrop<T> {
    std::mem::ManuallyDrop::new(value)
}

/// The stack's own `[strake] strict = true` in Strake.toml.
fn stack_strict(config: &Config) -> Result<bool, Error> {
    match config.get(STRICT_KEY) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(Error::Config(format!("`{STRICT_KEY} = {other}`: expected true or false"))),
    }
}
