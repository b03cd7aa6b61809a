//! Strake: infrastructure as code as an ordinary Rust library.
//!
//! A program declares resources on a [`Stack`]; [`run`] turns it into a command-line tool
//! (`plan`, `apply`, `destroy`, ...), and [`Engine`] drives the same engine without the CLI.
//!
//! ```no_run
//! use strake::prelude::*;
//!
//! fn main() -> std::process::ExitCode {
//!     strake::run("hello", |stack| {
//!         let greeting = Data::new(stack, "greeting", "hello");
//!         Data::new(stack, "echo", greeting.output());
//!         stack.export("greeting", greeting.output());
//!         Ok(())
//!     })
//! }
//! ```

#![warn(missing_docs)]

extern crate self as strake;

pub mod builtin;
#[cfg(feature = "cli")]
mod cli;
pub mod config;
pub mod diff;
pub mod engine;
pub mod error;
pub mod events;
pub mod graph;
pub mod options;
pub mod output;
pub mod plan;
pub mod program;
pub mod provider;
pub mod review;
pub mod suggest;
pub mod typed;
pub mod urn;
pub mod value;

pub use builtin::Data;
#[cfg(feature = "cli")]
pub use clap;
#[cfg(feature = "cli")]
pub use cli::{ProgramCommand, ProgramContext, run, run_with_args, run_with_commands};
pub use config::Config;
pub use engine::{ApplyReport, Engine, EngineOptions, PlanOptions, Planned, RefreshReport, RetryPolicy, Session};
pub use error::{Diagnostic, Error, Severity, StepError};
pub use options::{ResourceOptions, Timeouts};
pub use output::{FormatArg, Output};
pub use plan::{Action, Plan, PlanMode, ReplaceOrder};
pub use program::{Program, ProviderRef, Resource, ResourceHandle, Stack};
/// `#[derive(ResourceHandle)]` for a handle that wraps its [`Resource`].
pub use strake_derive::ResourceHandle;
pub use urn::Urn;
pub use value::Value;

/// Re-exports for the `value!` and `format_output!` macros.
#[doc(hidden)]
pub mod __private {
    pub use serde_json;
}

/// What a program usually needs.
pub mod prelude {
    pub use crate::{Data, Error, Output, ProviderRef, ResourceHandle, Stack, Value, format_output, value};
}
