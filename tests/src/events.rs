//! What an engine's [`RecordingObserver`] saw, in the shapes the suites assert on.

use std::sync::PoisonError;

use strake::Urn;
use strake::events::{Event, Outcome, RecordingObserver};

/// Readers of a [`RecordingObserver`]'s events.
pub trait Observed {
    /// Every event so far, in order.
    fn events(&self) -> Vec<Event>;

    /// Forgets the events so far.
    fn clear_events(&self);

    /// The messages of the notes, in order.
    fn notes(&self) -> Vec<String> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Note { message } => Some(message),
                _ => None,
            })
            .collect()
    }

    /// `(urn, operation, attempt, reason)` of every retry, in order.
    fn retries(&self) -> Vec<(Urn, String, u32, String)> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::StepRetrying { urn, operation, attempt, reason, .. } => Some((urn, operation, attempt, reason)),
                _ => None,
            })
            .collect()
    }

    /// `(resource name, outcome)` of every finished step, in order.
    fn finished(&self) -> Vec<(String, Outcome)> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::StepFinished { urn, outcome, .. } => Some((urn.name().to_string(), outcome)),
                _ => None,
            })
            .collect()
    }
}

impl Observed for RecordingObserver {
    fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn clear_events(&self) {
        self.events.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }
}
