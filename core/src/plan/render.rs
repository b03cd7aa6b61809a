//! Plan renderers: Terraform-like text for people, JSON for tools. Neither prints secrets.

use std::fmt::Write as _;

use serde::Serialize;

use super::{Action, Plan, PlanMode, PlannedStep, ReplaceOrder};
use crate::Value;
use crate::diff::{ValueDiff, diff_values};
use crate::review::Change;

/// An ANSI style (SGR code), applied only when the palette has colors.
#[derive(Clone, Copy)]
struct Style {
    code: &'static str,
    on: bool,
}

impl Style {
    fn apply_to(&self, text: impl std::fmt::Display) -> String {
        if self.on { format!("\u{1b}[{}m{text}\u{1b}[0m", self.code) } else { text.to_string() }
    }
}

struct Palette {
    add: Style,
    change: Style,
    delete: Style,
    read: Style,
    dim: Style,
    bold: Style,
}

impl Palette {
    fn new(color: bool) -> Self {
        let s = |code| Style { code, on: color };
        Palette { add: s("32"), change: s("33"), delete: s("31"), read: s("36"), dim: s("2"), bold: s("1") }
    }
}

fn symbol(action: Action) -> &'static str {
    match action {
        Action::NoOp => " ",
        Action::Create => "+",
        Action::Read => "<=",
        Action::Update => "~",
        Action::Replace(ReplaceOrder::CreateThenDelete) => "+/-",
        Action::Replace(ReplaceOrder::DeleteThenCreate) => "-/+",
        Action::Delete => "-",
    }
}

fn verb(step: &PlannedStep) -> &'static str {
    match step.action {
        Action::NoOp => "unchanged",
        Action::Create => "created",
        Action::Read => "read during apply",
        Action::Update => "updated in place",
        Action::Replace(ReplaceOrder::CreateThenDelete) => "replaced (create new, then delete old)",
        Action::Replace(ReplaceOrder::DeleteThenCreate) => "replaced (delete old, then create new)",
        Action::Delete if step.retain => "removed from state (retained in the cloud)",
        Action::Delete => "destroyed",
    }
}

/// Renders the plan as Terraform-style text. `color` adds ANSI colors (use on terminals only).
pub fn render_human(plan: &Plan, color: bool) -> String {
    let p = Palette::new(color);
    let mut out = String::new();
    for note in &plan.notes {
        let _ = writeln!(out, "{} {note}", p.read.apply_to("note:"));
    }
    for d in &plan.diagnostics {
        let _ = writeln!(out, "{d}");
    }
    if !plan.notes.is_empty() || !plan.diagnostics.is_empty() {
        out.push('\n');
    }
    let changes: Vec<&PlannedStep> = plan.steps.iter().filter(|s| s.action != Action::NoOp).collect();
    if changes.is_empty() && !plan.outputs_changed {
        let _ = writeln!(out, "No changes. Stack `{}` matches the program ({} resources).", plan.stack, plan.steps.len());
        return out;
    }
    let mode = if plan.mode == PlanMode::Destroy { " (destroy)" } else { "" };
    let _ = writeln!(out, "Stack `{}`{mode}: Strake will perform the following actions:\n", plan.stack);
    render_providers(&mut out, plan, &changes, &p);
    // Resources of the stack first, then each component's children under its heading.
    let mut changes = changes;
    changes.sort_by(|a, b| (&a.parent, &a.urn).cmp(&(&b.parent, &b.urn)));
    let mut current: Option<&crate::Urn> = None;
    for step in changes {
        if let Some(parent) = step.parent.as_ref().filter(|p| current != Some(*p)) {
            let _ = writeln!(
                out,
                "  {} {} {}\n",
                p.bold.apply_to("component"),
                parent.type_token(),
                serde_json::Value::String(parent.name().to_string())
            );
            current = Some(parent);
        }
        render_step(&mut out, step, &p);
    }
    if !plan.outputs.is_empty() && plan.mode == PlanMode::Normal {
        let _ = writeln!(out, "{}", p.bold.apply_to("Outputs:"));
        for (k, v) in &plan.outputs {
            let _ = writeln!(out, "    {k} = {v}");
        }
        out.push('\n');
    }
    render_reviews(&mut out, plan, &p);
    let s = plan.summary();
    let _ = writeln!(
        out,
        "{} {} to create, {} to update, {} to replace, {} to destroy{}.",
        p.bold.apply_to("Plan:"),
        s.create,
        s.update,
        s.replace,
        s.delete,
        if s.read > 0 { format!(", {} to read", s.read) } else { String::new() },
    );
    out
}

/// Each review's section (access changes, say): gains and losses, broadening ones marked.
fn render_reviews(out: &mut String, plan: &Plan, p: &Palette) {
    for section in &plan.reviews {
        let _ = writeln!(out, "{}", p.bold.apply_to(format!("{}:", section.title)));
        if section.entries.is_empty() {
            let _ = writeln!(out, "    none");
        }
        for e in &section.entries {
            let (mark, style) = match e.change {
                Change::Gained => ("+", &p.add),
                Change::Lost => ("-", &p.delete),
            };
            let broadening = if e.broadening { format!(" {}", p.change.apply_to("(broadening)")) } else { String::new() };
            let _ = writeln!(out, "  {} {}{broadening}", style.apply_to(mark), e.summary);
            for d in &e.details {
                let _ = writeln!(out, "      {}", p.dim.apply_to(d));
            }
        }
        for n in &section.notes {
            let _ = writeln!(out, "    {} {n}", p.read.apply_to("note:"));
        }
        out.push('\n');
    }
}

fn style_for(action: Action, p: &Palette) -> &Style {
    match action {
        Action::Create => &p.add,
        Action::Delete => &p.delete,
        Action::Read => &p.read,
        Action::Replace(_) => &p.delete,
        _ => &p.change,
    }
}

/// Where the changes land: each provider the changing steps go through, with its account or
/// cluster, before the steps (which name their provider).
fn render_providers(out: &mut String, plan: &Plan, changes: &[&PlannedStep], p: &Palette) {
    let used: std::collections::BTreeSet<&crate::Urn> = changes.iter().filter_map(|s| s.provider.as_ref()).collect();
    let providers: Vec<&super::PlannedProvider> = plan.providers.iter().filter(|pp| used.contains(&pp.urn)).collect();
    if providers.is_empty() {
        return;
    }
    let _ = writeln!(out, "  {}", p.bold.apply_to("Where the changes land:"));
    for pp in providers {
        let package = pp.urn.type_token().strip_prefix("strake:provider:").unwrap_or(pp.urn.type_token());
        let target = pp
            .target
            .as_ref()
            .map(|t| t.description.clone())
            .unwrap_or_else(|| "known only during apply (its configuration depends on other resources)".into());
        let _ = writeln!(out, "    {} ({package}): {target}", p.bold.apply_to(pp.urn.name()));
    }
    out.push('\n');
}

fn render_step(out: &mut String, step: &PlannedStep, p: &Palette) {
    let style = style_for(step.action, p);
    let reason = step.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
    let via = step.provider.as_ref().map(|u| format!(" via {}", u.name())).unwrap_or_default();
    let _ = writeln!(out, "  {}", p.dim.apply_to(format!("# {} will be {}{via}{reason}", step.urn.name(), verb(step))));
    let _ = writeln!(
        out,
        "{:>5} {} {} {{",
        style.apply_to(symbol(step.action)),
        p.bold.apply_to(step.urn.type_token()),
        serde_json::Value::String(step.urn.name().to_string())
    );
    let shown = |k: &String| !step.internal.contains(k);
    match step.action {
        Action::Create | Action::Read => {
            if let Some(Value::Map(after)) = &step.after {
                for (k, v) in after.iter().filter(|(k, v)| !matches!(v, Value::Null) && shown(k)) {
                    value_lines(out, 8, "+", k, v, &p.add);
                }
            }
        }
        Action::Delete => {
            if let Some(Value::Map(before)) = &step.before {
                for (k, v) in before.iter().filter(|(k, v)| !matches!(v, Value::Null) && shown(k)) {
                    value_lines(out, 8, "-", k, v, &p.delete);
                }
            }
        }
        Action::Update | Action::Replace(_) => {
            let diff = diff_values(step.before.as_ref(), step.after.as_ref());
            let mut hidden = 0;
            let mut internal_changed = Vec::new();
            if let ValueDiff::Map(entries) = diff {
                for (k, d) in entries {
                    if !shown(&k) {
                        if !d.is_same() {
                            internal_changed.push(k);
                        }
                        continue;
                    }
                    if d.is_same() {
                        hidden += 1;
                        continue;
                    }
                    let forces = step.replace_paths.iter().any(|r| crate::options::path_matches(r, &k));
                    diff_lines(out, 8, &k, &d, forces, p);
                }
            }
            if hidden > 0 {
                let _ = writeln!(out, "        {}", p.dim.apply_to(format!("# ({hidden} unchanged attributes hidden)")));
            }
            if !internal_changed.is_empty() {
                let _ = writeln!(
                    out,
                    "        {}",
                    p.dim.apply_to(format!("# (settings of the program, not of the object, changed: {})", internal_changed.join(", ")))
                );
            }
        }
        Action::NoOp => {}
    }
    let _ = writeln!(out, "      }}\n");
}

fn value_lines(out: &mut String, indent: usize, sign: &str, key: &str, v: &Value, style: &Style) {
    let pad = " ".repeat(indent);
    match v {
        Value::Map(m) if !m.is_empty() => {
            let _ = writeln!(out, "{pad}{} {key} = {{", style.apply_to(sign));
            for (k, child) in m {
                value_lines(out, indent + 4, sign, k, child, style);
            }
            let _ = writeln!(out, "{pad}  }}");
        }
        // Lists of objects (policy statements, containers) one object per block.
        Value::List(items) if items.iter().any(|i| matches!(i, Value::Map(_))) => {
            let _ = writeln!(out, "{pad}{} {key} = [", style.apply_to(sign));
            for item in items {
                match item {
                    Value::Map(m) => {
                        let _ = writeln!(out, "{pad}      {{");
                        for (k, child) in m {
                            value_lines(out, indent + 8, sign, k, child, style);
                        }
                        let _ = writeln!(out, "{pad}      }},");
                    }
                    other => {
                        let _ = writeln!(out, "{pad}      {other},");
                    }
                }
            }
            let _ = writeln!(out, "{pad}  ]");
        }
        _ => {
            let _ = writeln!(out, "{pad}{} {key} = {v}", style.apply_to(sign));
        }
    }
}

fn diff_lines(out: &mut String, indent: usize, key: &str, d: &ValueDiff, forces: bool, p: &Palette) {
    let pad = " ".repeat(indent);
    let tail = if forces { format!(" {}", p.delete.apply_to("# forces replacement")) } else { String::new() };
    match d {
        ValueDiff::Same(_) => {}
        ValueDiff::Added(v) => value_lines(out, indent, "+", key, v, &p.add),
        ValueDiff::Removed(v) => {
            let _ = writeln!(out, "{pad}{} {key} = {v} -> null{tail}", p.delete.apply_to("-"));
        }
        ValueDiff::Changed { before, after } if [before, after].iter().any(|v| is_list_of_objects(v)) => {
            let _ = writeln!(out, "{pad}{} {key}:{tail}", p.change.apply_to("~"));
            value_lines(out, indent + 4, "-", key, before, &p.delete);
            value_lines(out, indent + 4, "+", key, after, &p.add);
        }
        ValueDiff::Changed { before, after } => {
            let _ = writeln!(out, "{pad}{} {key} = {before} -> {after}{tail}", p.change.apply_to("~"));
        }
        ValueDiff::Map(entries) => {
            let _ = writeln!(out, "{pad}{} {key} = {{{tail}", p.change.apply_to("~"));
            for (k, child) in entries {
                diff_lines(out, indent + 4, k, child, false, p);
            }
            let _ = writeln!(out, "{pad}  }}");
        }
    }
}

fn is_list_of_objects(v: &Value) -> bool {
    matches!(v, Value::List(items) if items.iter().any(|i| matches!(i, Value::Map(_))))
}

/// The machine-readable plan: every step with its action, secrets redacted.
pub fn render_json(plan: &Plan) -> String {
    #[derive(Serialize)]
    struct View<'a> {
        format_version: u32,
        stack: &'a str,
        mode: PlanMode,
        has_changes: bool,
        summary: super::Summary,
        steps: Vec<PlannedStep>,
        outputs: std::collections::BTreeMap<&'a String, Value>,
        diagnostics: &'a [crate::error::Diagnostic],
        notes: &'a [String],
        providers: &'a [super::PlannedProvider],
        broadens: bool,
        reviews: &'a [crate::review::ReviewSection],
    }
    let steps =
        plan.steps.iter().map(|s| PlannedStep { before: s.before.as_ref().map(redact), after: s.after.as_ref().map(redact), ..s.clone() }).collect();
    let view = View {
        format_version: plan.format_version,
        stack: &plan.stack,
        mode: plan.mode,
        has_changes: plan.has_changes(),
        summary: plan.summary(),
        steps,
        outputs: plan.outputs.iter().map(|(k, v)| (k, redact(v))).collect(),
        diagnostics: &plan.diagnostics,
        notes: &plan.notes,
        providers: &plan.providers,
        broadens: plan.broadens(),
        reviews: &plan.reviews,
    };
    serde_json::to_string_pretty(&view).unwrap_or_default()
}

/// Replaces every secret's content with null, keeping the marker.
pub fn redact(v: &Value) -> Value {
    match v {
        Value::Secret(_) => Value::Secret(Box::new(Value::Null)),
        Value::List(items) => Value::List(items.iter().map(redact).collect()),
        Value::Map(m) => Value::Map(m.iter().map(|(k, v)| (k.clone(), redact(v))).collect()),
        other => other.clone(),
    }
}
