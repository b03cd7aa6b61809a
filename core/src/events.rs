//! Events an operation emits, and the observers that consume them (progress display, JSON lines).

use std::sync::Mutex;

use serde::Serialize;

use crate::Urn;
use crate::error::Diagnostic;
use crate::plan::Action;

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The step did what it planned.
    Succeeded,
    /// The step failed (the event's `error` says why).
    Failed,
    /// A dependency failed.
    Skipped,
}

/// Something that happened during plan or apply. Carries no secret values.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// An apply is about to run `total` steps.
    ApplyStarted {
        /// The stack applied.
        stack: String,
        /// The steps that change something or read a data source.
        total: usize,
    },
    /// A step of the apply starts.
    StepStarted {
        /// The resource the step acts on.
        urn: Urn,
        /// What the step does.
        action: Action,
    },
    /// A provider call failed and is tried again (the engine's retries and a provider's own).
    StepRetrying {
        /// The resource the call is for.
        urn: Urn,
        /// The call, e.g. `create` or `read`.
        operation: String,
        /// The attempt that failed (1-based).
        attempt: u32,
        /// The wait before the next attempt (0 for a provider's own retries).
        delay_ms: u64,
        /// e.g. "waiting for IAM propagation"; otherwise the error.
        reason: String,
    },
    /// A step of the apply ended.
    StepFinished {
        /// The resource the step acted on.
        urn: Urn,
        /// What the step did.
        action: Action,
        /// How it ended.
        outcome: Outcome,
        /// How long it took.
        elapsed_ms: u64,
        /// Why it failed or was skipped.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// An error or warning of the plan.
    Diagnostic {
        /// The error or warning.
        diagnostic: Diagnostic,
    },
    /// Something worth telling that is neither an error nor a warning.
    Note {
        /// The note, in words.
        message: String,
    },
    /// An apply ended, whether or not every step succeeded.
    ApplyFinished {
        /// The stack applied.
        stack: String,
        /// Steps that succeeded.
        succeeded: usize,
        /// Steps that failed.
        failed: usize,
        /// Steps skipped because something they depend on failed.
        skipped: usize,
        /// How long the apply took.
        elapsed_ms: u64,
    },
}

/// Receives events. Implementations must be cheap; they run on the engine's tasks.
pub trait Observer: Send + Sync {
    /// Called once per event, possibly from several tasks at once.
    fn on_event(&self, event: &Event);
}

/// Discards events.
pub struct NullObserver;

impl Observer for NullObserver {
    fn on_event(&self, _: &Event) {}
}

/// Writes each event as one JSON line.
pub struct JsonLinesObserver<W: std::io::Write + Send> {
    out: Mutex<W>,
}

impl<W: std::io::Write + Send> JsonLinesObserver<W> {
    /// Writes to `out`, flushing after every line.
    pub fn new(out: W) -> Self {
        JsonLinesObserver { out: Mutex::new(out) }
    }
}

impl<W: std::io::Write + Send> Observer for JsonLinesObserver<W> {
    fn on_event(&self, event: &Event) {
        if let (Ok(line), Ok(mut out)) = (serde_json::to_string(event), self.out.lock()) {
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    }
}

/// Collects events in memory (for tests and embedding).
#[derive(Default)]
pub struct RecordingObserver {
    /// Every event received, in order.
    pub events: Mutex<Vec<Event>>,
}

impl Observer for RecordingObserver {
    fn on_event(&self, event: &Event) {
        if let Ok(mut events) = self.events.lock() {
            events.push(event.clone());
        }
    }
}
