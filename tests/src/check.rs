//! Small assertion helpers shared by the suites: plans as text and as actions, errors taken apart.

use strake::plan::{Action, Plan};
use strake::{Diagnostic, Error, StepError};

/// The plan as `strake plan` prints it, without colors (for assertion messages).
pub fn render(plan: &Plan) -> String {
    strake::plan::render_human(plan, false)
}

/// `(resource name, action)` of every step, sorted by name.
pub fn actions(plan: &Plan) -> Vec<(String, Action)> {
    let mut out: Vec<(String, Action)> = plan.steps.iter().map(|s| (s.urn.name().to_string(), s.action)).collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// `(resource name, action)` of the steps that change something, sorted by name.
pub fn changes(plan: &Plan) -> Vec<(String, Action)> {
    actions(plan).into_iter().filter(|(_, a)| *a != Action::NoOp).collect()
}

/// The step of the resource named `name` (panics with the plan if there is none).
pub fn step_of<'a>(plan: &'a Plan, name: &str) -> &'a strake::plan::PlannedStep {
    plan.steps.iter().find(|s| s.urn.name() == name).unwrap_or_else(|| panic!("no step for `{name}`:\n{}", render(plan)))
}

/// The diagnostics of a plan that failed its checks (panics on any other error).
pub fn diagnostics(err: &Error) -> &[Diagnostic] {
    match err {
        Error::Diagnostics(d) => d,
        other => panic!("expected diagnostics, got {other:?}"),
    }
}

/// The failed steps of a run (panics on any other error).
pub fn steps_failed(err: &Error) -> &[StepError] {
    match err {
        Error::StepsFailed(errors) => errors,
        other => panic!("expected failed steps, got {other:?}"),
    }
}

/// Asserts that `text` contains each of `parts`.
pub fn assert_mentions(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "`{part}` missing from:\n{text}");
    }
}
