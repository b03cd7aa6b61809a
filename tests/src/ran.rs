//! A finished run of a program under test: its exit code and what it printed.

use std::process::Output;

/// The exit code (`-1` when killed by a signal), stdout and stderr of one run.
#[derive(Debug, Clone)]
pub struct Run {
    /// The exit code, `-1` when a signal ended the process.
    pub code: i32,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    /// `(code, stdout, stderr)`.
    pub fn into_parts(self) -> (i32, String, String) {
        (self.code, self.stdout, self.stderr)
    }

    /// All of it, for an assertion's message.
    pub fn text(&self) -> String {
        format!("exit {}\n--- stdout\n{}\n--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}
