//! Errors and diagnostics. Libraries return these; the CLI renders them once.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Urn;
use crate::provider::ProviderError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

/// A problem with the program, found without touching the cloud: names the resource, the field and the fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub urn: Option<Urn>,
    /// Dotted input path, when the problem is one field.
    pub field: Option<String>,
    pub message: String,
}

impl Diagnostic {
    pub fn error(urn: Option<&Urn>, field: Option<&str>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            urn: urn.cloned(),
            field: field.filter(|f| !f.is_empty()).map(str::to_string),
            message: message.into(),
        }
    }

    pub fn warning(urn: Option<&Urn>, field: Option<&str>, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(urn, field, message) }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{level}")?;
        if let Some(urn) = &self.urn {
            write!(f, ": {urn}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A failed step of an apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepError {
    pub urn: Urn,
    /// `create`, `update`, `delete`, `read`, `configure`.
    pub operation: String,
    pub code: Option<String>,
    pub message: String,
}

impl StepError {
    pub fn from_provider(urn: &Urn, operation: &str, e: &ProviderError) -> Self {
        StepError { urn: urn.clone(), operation: operation.into(), code: e.code.clone(), message: e.message.clone() }
    }

    pub fn other(urn: &Urn, operation: &str, message: impl Into<String>) -> Self {
        StepError { urn: urn.clone(), operation: operation.into(), code: None, message: message.into() }
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} failed: ", self.operation, self.urn)?;
        if let Some(code) = &self.code {
            write!(f, "{code}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Everything that can stop an engine operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The program is wrong; nothing was sent to any provider.
    #[error("{}", render_list(.0))]
    Diagnostics(Vec<Diagnostic>),
    #[error("configuration error: {0}")]
    Config(String),
    #[error(transparent)]
    State(#[from] strake_state::StateError),
    /// Some steps failed; the others were applied and recorded.
    #[error("{}", render_steps(.0))]
    StepsFailed(Vec<StepError>),
    /// Interrupted creates whose outcome could not be found out; nothing was planned.
    #[error("{}", render_unresolved(.0))]
    UnresolvedCreates(Vec<StepError>),
    #[error("the saved plan is stale: {0}; run `plan` again")]
    StalePlan(String),
    #[error("interrupted: running steps finished and were recorded; {remaining} steps were not started")]
    Interrupted { remaining: usize },
    /// A resource named on the command line that the program and state do not have.
    #[error("no resource is named `{given}`; see `state list` or `graph --text` for URNs")]
    UnknownResource { given: String },
    /// A name that several resources have.
    #[error("`{given}` is ambiguous: {}; pass the full URN", .matches.join(", "))]
    AmbiguousResource { given: String, matches: Vec<String> },
    /// A resource that the stack's state does not hold.
    #[error("`{urn}` is not in the state of stack `{stack}`; see `state list`")]
    NotInState { stack: String, urn: String },
    /// A pending operation that the stack's state does not hold.
    #[error("no pending operation `{id}` in stack `{stack}`; see `state pending`")]
    NoSuchPending { stack: String, id: String },
    /// An import that cannot be done; says why and what to do.
    #[error("cannot import `{urn}`: {reason}")]
    Import { urn: String, reason: String },
    /// A state file given to `state import` that cannot be imported.
    #[error("{0}")]
    StateFile(String),
    /// A plan file given to `apply` that cannot be applied.
    #[error("{0}")]
    PlanFile(String),
    /// A change that needs confirming, without a terminal to confirm it on.
    #[error("{operation} needs confirmation, and standard input is not a terminal: pass --yes to {operation} without asking")]
    NeedsConfirmation { operation: String },
    /// Command-line arguments that do not parse, or a runtime that does not start.
    #[error("{0}")]
    Cli(String),
    /// The program's own command failed.
    #[error("{0}")]
    Program(String),
    /// A bug in Strake (a poisoned lock).
    #[error("internal error: {0}")]
    Internal(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

fn render_list(diags: &[Diagnostic]) -> String {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let mut out = format!("the program has {errors} error{}:", if errors == 1 { "" } else { "s" });
    for d in diags {
        out.push_str("\n  ");
        out.push_str(&d.to_string());
    }
    out
}

fn render_steps(errors: &[StepError]) -> String {
    let mut out = format!("{} step{} failed:", errors.len(), if errors.len() == 1 { "" } else { "s" });
    for e in errors {
        out.push_str("\n  ");
        out.push_str(&e.to_string());
    }
    out
}

fn render_unresolved(errors: &[StepError]) -> String {
    let mut out = format!(
        "{} interrupted create{} of an earlier run could not be resolved, so nothing was planned (planning now could \
         create {} a second time):",
        errors.len(),
        if errors.len() == 1 { "" } else { "s" },
        if errors.len() == 1 { "its object" } else { "their objects" }
    );
    for e in errors {
        out.push_str("\n  ");
        out.push_str(&e.to_string());
    }
    out
}
