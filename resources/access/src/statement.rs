//! One statement against one request: which elements match, three-valued, with a line for each.

use crate::condition;
use crate::glob::{action_matches, matches};
use crate::naming::{Naming, mismatch_hint, statement_naming};
use crate::policy::{Effect, Policy, Statement, compact};
use crate::request::{Principal, Request};
use crate::tri::Tri;
use crate::variables::{Expanded, expand};

/// A statement scored against a request.
#[derive(Debug, Clone)]
pub(crate) struct Scored<'a> {
    pub policy: &'a Policy,
    pub statement: &'a Statement,
    /// Action, resource and conditions together (the principal is kept apart in `naming`).
    pub core: Tri,
    pub naming: Naming,
    /// The explanation, a line per element, the first a summary.
    pub lines: Vec<String>,
    /// Each undecided part, as written plus why.
    pub unknowns: Vec<String>,
    /// The lines of the elements that failed.
    pub misses: Vec<String>,
}

/// How a statement is named in explanations: policy name, index and Sid.
pub(crate) fn label(policy: &Policy, statement: &Statement) -> String {
    match &statement.sid {
        Some(sid) if !sid.is_empty() => format!("{} Statement[{}] (Sid {sid})", policy.name, statement.index),
        _ => format!("{} Statement[{}]", policy.name, statement.index),
    }
}

impl Scored<'_> {
    /// Whether the statement applies to the request, principal included.
    pub(crate) fn applies(&self) -> Tri {
        if self.naming == Naming::Nobody { Tri::Fails } else { self.core }
    }

    pub(crate) fn label(&self) -> String {
        label(self.policy, self.statement)
    }
}

fn list(values: &[String]) -> String {
    serde_json::to_string(values).unwrap_or_default()
}

fn action_element(statement: &Statement, action: &str) -> (Tri, String) {
    match (&statement.action, &statement.not_action) {
        (Some(patterns), _) if patterns.iter().any(|p| action_matches(p, action)) => {
            (Tri::Holds, format!("Action {} covers {action}", list(patterns)))
        }
        (Some(patterns), _) => (Tri::Fails, format!("Action {} does not cover {action}", list(patterns))),
        (None, Some(patterns)) if patterns.iter().any(|p| action_matches(p, action)) => {
            (Tri::Fails, format!("NotAction {} lists {action}, so the statement leaves it out", list(patterns)))
        }
        (None, Some(patterns)) => (Tri::Holds, format!("NotAction {} does not list {action}, so the statement covers it", list(patterns))),
        (None, None) => (Tri::Fails, "no Action element".to_string()),
    }
}

/// Whether any pattern covers the resource; the reason when a policy variable leaves it undecided.
fn covers(patterns: &[String], resource: &str, request: &Request) -> (Tri, Option<String>) {
    let mut why = None;
    let tri = Tri::any(patterns.iter().map(|p| match expand(p, true, request) {
        Expanded::Pattern(tokens) => Tri::from_bool(matches(&tokens, resource, false)),
        Expanded::Missing(_) => Tri::Fails,
        Expanded::Unknown(reason) => {
            why.get_or_insert(reason);
            Tri::Unknown
        }
    }));
    (tri, why)
}

fn resource_element(statement: &Statement, request: &Request, unknowns: &mut Vec<String>) -> (Tri, Option<String>) {
    let resource = &request.resource;
    let (name, patterns, negated) = match (&statement.resource, &statement.not_resource) {
        (Some(p), _) => ("Resource", p, false),
        (None, Some(p)) => ("NotResource", p, true),
        (None, None) => return (Tri::Holds, None),
    };
    let (covered, why) = covers(patterns, resource, request);
    let line = match (covered, negated) {
        (Tri::Holds, false) => format!("Resource {} covers {resource}", list(patterns)),
        (Tri::Fails, false) => format!("Resource {} does not cover {resource}", list(patterns)),
        (Tri::Holds, true) => format!("NotResource {} lists {resource}, so the statement leaves it out", list(patterns)),
        (Tri::Fails, true) => format!("NotResource {} does not list {resource}, so the statement covers it", list(patterns)),
        (Tri::Unknown, _) => {
            let text = format!("{name} {} ({})", list(patterns), why.unwrap_or_default());
            unknowns.push(text.clone());
            format!("{text}: undecided for {resource}")
        }
    };
    (if negated { covered.not() } else { covered }, Some(line))
}

fn principal_line(statement: &Statement, naming: Naming, principal: &Principal) -> Option<String> {
    let (element, written, listed) = match (&statement.principal, &statement.not_principal) {
        (Some(p), _) => ("Principal", &statement.source["Principal"], p),
        (None, Some(p)) => ("NotPrincipal", &statement.source["NotPrincipal"], p),
        (None, None) => return None,
    };
    let written = compact(written);
    Some(match (element, naming) {
        ("Principal", Naming::Itself) => format!("Principal {written} names {principal}"),
        ("Principal", Naming::Account) => format!(
            "Principal {written} names account {} of {principal}, which leaves it to the account's identity policies",
            principal.account().unwrap_or_default()
        ),
        ("Principal", _) => match mismatch_hint(listed, principal) {
            Some(hint) => format!("Principal {written} does not name {principal}; {hint}"),
            None => format!("Principal {written} does not name {principal}"),
        },
        (_, Naming::Nobody) => format!("NotPrincipal {written} excludes {principal}"),
        _ => format!("NotPrincipal {written} does not exclude {principal}, so the statement names it"),
    })
}

/// Scores one statement: every element is checked (conditions only when the action is covered),
/// so that all the reasons a statement misses are shown at once.
pub(crate) fn score<'a>(policy: &'a Policy, statement: &'a Statement, request: &Request) -> Scored<'a> {
    let label = label(policy, statement);
    let mut unknowns = Vec::new();
    let mut details: Vec<(Tri, String)> = Vec::new();
    let (action, action_line) = action_element(statement, &request.action);
    details.push((action, action_line));
    let (resource, resource_line) = resource_element(statement, request, &mut unknowns);
    details.extend(resource_line.map(|line| (resource, line)));
    let naming = statement_naming(statement, &request.principal);
    let named = Tri::from_bool(naming != Naming::Nobody);
    details.extend(principal_line(statement, naming, &request.principal).map(|line| (named, line)));
    let mut conditions = Tri::Holds;
    if action != Tri::Fails {
        for c in &statement.conditions {
            let outcome = condition::evaluate(c, request);
            conditions = conditions.and(outcome.tri);
            details.push((outcome.tri, outcome.line));
            unknowns.extend(outcome.unknown);
        }
    }
    let core = action.and(resource).and(conditions);
    let applies = if naming == Naming::Nobody { Tri::Fails } else { core };
    let effect = match statement.effect {
        Effect::Allow => "Allow",
        Effect::Deny => "Deny",
    };
    let verdict = match applies {
        Tri::Holds => "applies",
        Tri::Fails => "does not apply",
        Tri::Unknown => "may apply, depending on what is not known at plan time",
    };
    let mut lines = vec![format!("{label}, {effect}: {verdict}")];
    let mut misses = Vec::new();
    for (tri, detail) in details {
        let line = format!("{label}: {detail}");
        if tri == Tri::Fails {
            misses.push(line.clone());
        }
        lines.push(line);
    }
    Scored { policy, statement, core, naming, lines, unknowns, misses }
}
