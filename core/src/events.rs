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
    Succeeded,
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
        stack: String,
        total: usize,
    },
    StepStarted {
        urn: Urn,
        action: Action,
    },
    StepRetrying {
        urn: Urn,
        operation: String,
        attempt: u32,
        delay_ms: u64,
        /// e.g. "waiting for IAM propagation"; otherwise the error.
        reason: String,
    },
    StepFinished {
        urn: Urn,
        action: Action,
        outcome: Outcome,
        elapsed_ms: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    Diagnostic {
        diagnostic: Diagnostic,
    },
    Note {
        message: String,
    },
    ApplyFinished {
        stack: String,
        succeeded: usize,
        failed: usize,
        skipped: usize,
        elapsed_ms: u64,
    },
}

/// Receives events. Implementations must be cheap; they run on the engine's tasks.
pub trait Observer: Send + Sync {
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
    pub events: Mutex<Vec<Event>>,
}

impl Observer for RecordingObserver {
    fn on_event(&self, event: &Event) {
        if let Ok(mut events) = self.events.lock() {
            events.push(event.clone());
        }
    }
}
