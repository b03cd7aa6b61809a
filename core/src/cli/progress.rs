//! The apply progress display: a live bar on terminals, plain lines elsewhere.

use std::sync::Mutex;
use std::time::Duration;

use console::Style;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::events::{Event, Observer, Outcome};
use crate::plan::{Action, ReplaceOrder};

pub(crate) struct Progress {
    /// Whether the apply has started: notes before it are part of the plan, which shows them.
    applying: std::sync::atomic::AtomicBool,
    /// Names that several resources of the plan share: shown with their type.
    repeated: Mutex<std::collections::HashSet<String>>,
    bar: Mutex<Option<ProgressBar>>,
    /// What is running, shown on the bar (terminals only).
    running: Mutex<Vec<String>>,
    interactive: bool,
    color: bool,
}

impl Progress {
    pub(crate) fn new(interactive: bool, color: bool) -> Self {
        Progress {
            applying: Default::default(),
            repeated: Mutex::default(),
            bar: Mutex::new(None),
            running: Mutex::new(Vec::new()),
            interactive,
            color,
        }
    }

    /// From now on, a resource whose name another resource of `plan` shares is shown with its
    /// type (`s3-read (aws:iam:Policy)`), so the two lines can be told apart.
    pub(crate) fn name_types_where_names_repeat(&self, plan: &crate::plan::Plan) {
        let mut seen = std::collections::HashSet::new();
        let mut repeated = std::collections::HashSet::new();
        for step in &plan.steps {
            if !seen.insert(step.urn.name()) {
                repeated.insert(step.urn.name().to_string());
            }
        }
        if let Ok(mut r) = self.repeated.lock() {
            *r = repeated;
        }
    }

    /// How a resource is named in progress lines.
    fn label(&self, urn: &crate::Urn) -> String {
        let repeated = self.repeated.lock().map(|r| r.contains(urn.name())).unwrap_or(false);
        if repeated { format!("{} ({})", urn.name(), urn.type_token()) } else { urn.name().to_string() }
    }

    fn line(&self, text: String) {
        match self.bar.lock().ok().and_then(|b| b.clone()) {
            Some(bar) if self.interactive => bar.println(text),
            // A closed pipe (`apply | head`) must not stop the apply: progress is best effort.
            _ => {
                use std::io::Write as _;
                let _ = writeln!(std::io::stdout(), "{text}");
            }
        }
    }

    /// Shows what is running on the bar (terminals only: elsewhere each step has its lines).
    fn refresh_message(&self) {
        if !self.interactive {
            return;
        }
        if let (Ok(bar), Ok(running)) = (self.bar.lock(), self.running.lock())
            && let Some(bar) = bar.as_ref()
        {
            let shown: Vec<&str> = running.iter().take(4).map(String::as_str).collect();
            let more = running.len().saturating_sub(shown.len());
            let tail = if more > 0 { format!(" and {more} more") } else { String::new() };
            bar.set_message(format!("{}{tail}", shown.join(", ")));
        }
    }

    fn style(&self, s: Style) -> Style {
        s.force_styling(self.color)
    }
}

fn doing(action: Action) -> &'static str {
    match action {
        Action::Create => "creating",
        Action::Update => "updating",
        Action::Replace(ReplaceOrder::CreateThenDelete) => "replacing (create first)",
        Action::Replace(ReplaceOrder::DeleteThenCreate) => "replacing (delete first)",
        Action::Delete => "destroying",
        Action::Read => "reading",
        Action::NoOp => "checking",
    }
}

fn done(action: Action) -> &'static str {
    match action {
        Action::Create => "created",
        Action::Update => "updated",
        Action::Replace(_) => "replaced",
        Action::Delete => "destroyed",
        Action::Read => "read",
        Action::NoOp => "unchanged",
    }
}

impl Observer for Progress {
    fn on_event(&self, event: &Event) {
        match event {
            Event::ApplyStarted { total, .. } => {
                self.applying.store(true, std::sync::atomic::Ordering::SeqCst);
                let bar = if self.interactive {
                    let bar = ProgressBar::with_draw_target(Some(*total as u64), ProgressDrawTarget::stderr());
                    bar.set_style(
                        ProgressStyle::with_template("{spinner} [{pos}/{len}] {elapsed} {wide_msg}").unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    bar.enable_steady_tick(Duration::from_millis(120));
                    bar
                } else {
                    ProgressBar::hidden()
                };
                if let Ok(mut b) = self.bar.lock() {
                    *b = Some(bar);
                }
            }
            Event::StepStarted { urn, action } => {
                let label = self.label(urn);
                if !self.interactive {
                    self.line(format!("{label}: {}...", doing(*action)));
                } else if let Ok(mut r) = self.running.lock() {
                    r.push(label);
                    drop(r);
                    self.refresh_message();
                }
            }
            Event::StepRetrying { urn, operation, attempt, delay_ms, reason } => {
                let warn = self.style(Style::new().yellow());
                self.line(format!(
                    "{}: {operation}: {} (attempt {attempt}, retrying in {:.1}s)",
                    self.label(urn),
                    warn.apply_to(reason),
                    *delay_ms as f64 / 1000.0
                ));
            }
            Event::StepFinished { urn, action, outcome, elapsed_ms, error } => {
                let label = self.label(urn);
                if self.interactive
                    && let Ok(mut r) = self.running.lock()
                    && let Some(i) = r.iter().position(|n| *n == label)
                {
                    r.remove(i);
                }
                let secs = *elapsed_ms as f64 / 1000.0;
                let text = match outcome {
                    Outcome::Succeeded => format!("{label}: {} ({secs:.1}s)", self.style(Style::new().green()).apply_to(done(*action))),
                    Outcome::Failed => format!(
                        "{label}: {} after {secs:.1}s: {}",
                        self.style(Style::new().red().bold()).apply_to("failed"),
                        error.as_deref().unwrap_or("")
                    ),
                    Outcome::Skipped => {
                        format!("{label}: {} ({})", self.style(Style::new().dim()).apply_to("skipped"), error.as_deref().unwrap_or(""))
                    }
                };
                self.line(text);
                if let Ok(b) = self.bar.lock()
                    && let Some(bar) = b.as_ref()
                {
                    bar.inc(1);
                }
                self.refresh_message();
            }
            Event::Note { message } if self.applying.load(std::sync::atomic::Ordering::SeqCst) => {
                self.line(format!("{} {message}", self.style(Style::new().cyan()).apply_to("note:")))
            }
            Event::Note { .. } => {}
            Event::ApplyFinished { .. } => {
                if let Ok(mut b) = self.bar.lock()
                    && let Some(bar) = b.take()
                {
                    bar.finish_and_clear();
                }
            }
            Event::Diagnostic { .. } => {}
        }
    }
}
