//! The command-line runner: `strake::run("stack", |stack| ...)` in a program's `main`.

use std::process::ExitCode;

use crate::{Error, Stack};

pub fn run(stack: &str, program: impl FnOnce(&Stack) -> Result<(), Error>) -> ExitCode {
    run_with_args(stack, std::env::args_os(), program)
}

pub fn run_with_args<I, T>(_stack: &str, _args: I, _program: impl FnOnce(&Stack) -> Result<(), Error>) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    ExitCode::SUCCESS
}
