//! Command-line arguments of a Strake program.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// A Strake infrastructure program.
#[derive(Debug, Parser)]
#[command(about = "Plan and apply this program's infrastructure", long_about = None)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub(crate) struct Global {
    /// The program's directory: holds Strake.toml and the .strake/ state [default: the package
    /// directory under `cargo run`, else the current directory]
    #[arg(long, global = true, env = "STRAKE_DIR")]
    pub dir: Option<PathBuf>,
    /// Where the stack's state lives: `s3://<bucket>/<prefix>`, or a directory [default:
    /// `[backend] url` in Strake.toml, else .strake/ in the program's directory]
    #[arg(long, global = true, env = "STRAKE_BACKEND", value_name = "URL")]
    pub backend: Option<String>,
    /// Wait up to this many seconds for a stack another run holds (or whose lease is running out)
    /// instead of failing at once
    #[arg(long, global = true, default_value_t = 0, value_name = "SECONDS")]
    pub lock_timeout: u64,
    /// Set a configuration value (repeatable), overriding Strake.toml
    #[arg(long = "config", short = 'c', value_name = "KEY=VALUE", global = true)]
    pub config: Vec<String>,
    /// Limit the operation to these resources (URN or name; repeatable) and what they depend on
    #[arg(long = "target", value_name = "URN", global = true)]
    pub targets: Vec<String>,
    /// How many provider calls may run at once
    #[arg(long, default_value_t = 10, global = true, value_parser = parse_parallelism, allow_negative_numbers = true)]
    pub parallelism: usize,
    /// Never use colors (also: NO_COLOR)
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Treat every warning of the plan as an error, for CI (also: `strict = true` under
    /// `[strake]` in Strake.toml)
    #[arg(long, global = true)]
    pub strict: bool,
}

/// When `apply` asks for confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Approval {
    /// Before any change.
    AnyChange,
    /// Only when the plan broadens access (a review marks a change broadening).
    Broadening,
    /// Never.
    Never,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Show what apply would change. Exit code: 0 no changes, 2 changes, 3 access broadens (with
    /// --deny-broadening), 1 error
    Plan {
        /// Exit with code 3 when the plan broadens access (its "Access changes" mark a gain
        /// broadening), for CI
        #[arg(long)]
        deny_broadening: bool,
        /// Save the plan, to apply exactly it later with `apply FILE`
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Print the plan as JSON
        #[arg(long)]
        json: bool,
        /// Plan a destroy
        #[arg(long)]
        destroy: bool,
        /// Read recorded resources back from the cloud first (drift detection)
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        refresh: bool,
    },
    /// Apply the program (or a saved plan) after showing the plan
    Apply {
        /// A plan saved with `plan --out`; refused if state changed since
        plan: Option<PathBuf>,
        /// Do not ask for confirmation (the same as `--require-approval never`)
        #[arg(long, short = 'y')]
        yes: bool,
        /// When to ask for confirmation: before any change, only when access broadens, or never
        #[arg(long, value_enum, default_value_t = Approval::AnyChange, value_name = "WHEN")]
        require_approval: Approval,
        /// Print events as JSON lines instead of a progress display
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        refresh: bool,
    },
    /// Delete every resource of the stack
    Destroy {
        #[arg(long, short = 'y')]
        yes: bool,
        #[arg(long)]
        json: bool,
    },
    /// Read every recorded resource back and record what is there now
    Refresh,
    /// Adopt an existing cloud object as a declared resource
    Import {
        /// The resource's URN (or name)
        urn: String,
        /// The provider's id of the object (e.g. a role name)
        id: String,
    },
    /// Print the dependency graph (Graphviz DOT, or text)
    Graph {
        /// Deterministic text instead of DOT
        #[arg(long)]
        text: bool,
    },
    /// Print the stack's outputs
    Outputs {
        #[arg(long)]
        json: bool,
        /// Print secret values too
        #[arg(long)]
        show_secrets: bool,
    },
    /// List the configuration keys the program reads: what each expects, its value and where it was set
    Config,
    /// Inspect or edit the recorded state
    #[command(subcommand)]
    State(StateCommand),
    /// Manage how the stack's secrets are encrypted at rest (`[secrets]` in Strake.toml)
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Break the lock of a run that hangs (a dead run's lock is broken by the next run)
    ForceUnlock {
        /// The lock id printed in the "is locked" error
        lock_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum StateCommand {
    /// List recorded resources
    List,
    /// Show one record (secrets redacted)
    Show { urn: String },
    /// Forget a resource without deleting it in the cloud
    Rm { urn: String },
    /// Write the whole state as JSON (to stdout, or to FILE with mode 0600)
    Export {
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Replace the state with a JSON export
    Import { file: PathBuf },
    /// List the earlier states the stack can be restored to
    History,
    /// Make an earlier state current (after damage, or to undo a bad `state import`); then run `refresh`
    Restore {
        /// The generation, as `state history` lists it
        generation: u64,
        /// Restore without asking
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Copy the stack to another backend (`s3://bucket/prefix` or a directory), lineage and
    /// serial intact, under both locks, and check the copy; then use `--backend` with it
    Migrate {
        /// Where to: `s3://<bucket>/<prefix>` or a directory
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// List the interrupted operations of earlier runs (`apply` resolves them), or drop one
    Pending {
        #[command(subcommand)]
        command: Option<PendingCommand>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum PendingCommand {
    /// Drop a pending-operation record without touching the cloud, after checking the cloud by
    /// hand (for an interrupted create whose object cannot be looked up)
    Rm { id: String },
}

/// `--parallelism`: a whole number from 1 up.
fn parse_parallelism(text: &str) -> Result<usize, String> {
    match text.trim().parse::<i64>() {
        Ok(n) if n >= 1 => usize::try_from(n).map_err(|_| "is too large".to_string()),
        Ok(n) => Err(format!("is {n}; it is how many provider calls run at once, so use 1 or more (the default is 10)")),
        Err(_) => Err(format!("`{text}` is not a whole number; use 1 or more (the default is 10)")),
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum SecretsCommand {
    /// Re-encrypt every secret of the stack under a new data key, wrapped by the current provider
    Rotate,
    /// Move the stack's secrets to another key provider (then set it as `[secrets] provider`)
    ChangeProvider {
        /// `passphrase` (the new one from STRAKE_NEW_PASSPHRASE, or a prompt), `awskms://alias/<name>`
        /// or `age:age1...[,age1...]`
        provider: String,
    },
}
