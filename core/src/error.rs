//! Errors and diagnostics. Libraries return these; the CLI renders them once.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Urn;
use crate::provider::ProviderError;

/// Whether a [`Diagnostic`] stops the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Stops the plan.
    Error,
    /// Shown; the plan goes on.
    Warning,
}

/// A problem with the program, found without touching the cloud: names the resource, the field and the fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// Whether it stops the plan.
    pub severity: Severity,
    /// The resource concerned, if it is about one.
    pub urn: Option<Urn>,
    /// Dotted input path, when the problem is one field.
    pub field: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Diagnostic {
    /// A problem that stops the plan. An empty `field` counts as none.
    pub fn error(urn: Option<&Urn>, field: Option<&str>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            urn: urn.cloned(),
            field: field.filter(|f| !f.is_empty()).map(str::to_string),
            message: message.into(),
        }
    }

    /// A problem worth knowing that does not stop the plan. An empty `field` counts as none.
    pub fn warning(urn: Option<&Urn>, field: Option<&str>, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(urn, field, message) }
    }

    /// Whether it stops the plan.
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
    /// The resource the step acted on.
    pub urn: Urn,
    /// `create`, `update`, `delete`, `read`, `configure`.
    pub operation: String,
    /// The service's error code, when a provider call failed with one (e.g. `AccessDenied`).
    pub code: Option<String>,
    /// What went wrong.
    pub message: String,
}

impl StepError {
    /// A step whose provider call failed, with the service's code and message.
    pub fn from_provider(urn: &Urn, operation: &str, e: &ProviderError) -> Self {
        StepError { urn: urn.clone(), operation: operation.into(), code: e.code.clone(), message: e.message.clone() }
    }

    /// A step that failed for another reason than a provider's answer.
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
    /// The stack's configuration (file or `--config` values) cannot be read or does not fit.
    #[error("configuration error: {0}")]
    Config(String),
    /// The state backend failed.
    #[error(transparent)]
    State(#[from] strake_state::StateError),
    /// Some steps failed; the others were applied and recorded.
    #[error("{}", render_steps(.0))]
    StepsFailed(Vec<StepError>),
    /// Interrupted creates whose outcome could not be found out; nothing was planned.
    #[error("{}", render_unresolved(.0))]
    UnresolvedCreates(Vec<StepError>),
    /// A saved plan no longer matches the program, the cloud or the state; says why.
    #[error("the saved plan is stale: {0}; run `plan` again")]
    StalePlan(String),
    /// An apply stopped early (e.g. by Ctrl-C); the steps already running finished and were recorded.
    #[error("interrupted: running steps finished and were recorded; {remaining} steps were not started")]
    Interrupted {
        /// The steps not run.
        remaining: usize,
    },
    /// A resource named on the command line that the program and state do not have.
    #[error("no resource is named `{given}`; see `state list` or `graph --text` for URNs")]
    UnknownResource {
        /// The name or URN given.
        given: String,
    },
    /// A name that several resources have.
    #[error("`{given}` is ambiguous: {}; pass the full URN", .matches.join(", "))]
    AmbiguousResource {
        /// The name given.
        given: String,
        /// The URNs it could mean.
        matches: Vec<String>,
    },
    /// A resource that the stack's state does not hold.
    #[error("`{urn}` is not in the state of stack `{stack}`; see `state list`")]
    NotInState {
        /// The stack.
        stack: String,
        /// The URN asked for.
        urn: String,
    },
    /// A pending operation that the stack's state does not hold.
    #[error("no pending operation `{id}` in stack `{stack}`; see `state pending`")]
    NoSuchPending {
        /// The stack.
        stack: String,
        /// The operation id asked for.
        id: String,
    },
    /// An import that cannot be done; says why and what to do.
    #[error("cannot import `{urn}`: {reason}")]
    Import {
        /// The resource to import.
        urn: String,
        /// Why not, and what to do.
        reason: String,
    },
    /// A state file given to `state import` that cannot be imported.
    #[error("{0}")]
    StateFile(String),
    /// A plan file given to `apply` that cannot be applied.
    #[error("{0}")]
    PlanFile(String),
    /// A change that needs confirming, without a terminal to confirm it on.
    #[error("{operation} needs confirmation, and standard input is not a terminal: pass --yes to {operation} without asking")]
    NeedsConfirmation {
        /// The command that asks, e.g. `apply`.
        operation: String,
    },
    /// Command-line arguments that do not parse, or a runtime that does not start.
    #[error("{0}")]
    Cli(String),
    /// The program's own command failed.
    #[error("{0}")]
    Program(String),
    /// A bug in Strake (a poisoned lock).
    #[error("internal error: {0}")]
    Internal(String),
    /// An I/O error outside the state backend.
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
