//! The English of an evaluation: what each side said, and the one line that sums it up.

use crate::eval::{Decision, Evaluation, Policies, Sides, StatementRef};
use crate::naming::Naming;
use crate::policy::Effect;
use crate::request::{Principal, Request};
use crate::statement::Scored;
use crate::tri::Tri;

/// A part of the allow formula.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// An identity policy allows.
    Identity,
    /// The permissions boundary allows (or there is none).
    Boundary,
    /// A resource policy statement naming the principal itself allows.
    Direct,
    /// A resource policy statement naming the principal's account allows.
    Account,
}

/// Words that depend on the request: what the resource policy is called, and the policies' names.
pub(crate) struct Side {
    /// "bucket policy", "trust policy", "key policy" or "resource policy".
    word: &'static str,
    resource_name: Option<String>,
    boundary_name: String,
    /// "s3:GetObject on arn:aws:s3:::bucket/key".
    what: String,
}

impl Side {
    pub(crate) fn new(request: &Request, policies: &Policies<'_>) -> Side {
        let service = request.resource.split(':').nth(2).unwrap_or_default();
        let word = match service {
            "s3" => "bucket policy",
            "iam" if request.action.to_ascii_lowercase().starts_with("sts:") => "trust policy",
            "kms" => "key policy",
            _ => "resource policy",
        };
        Side {
            word,
            resource_name: policies.resource.map(|p| p.name.clone()),
            boundary_name: policies.boundary.map(|p| p.name.clone()).unwrap_or_default(),
            what: format!("{} on {}", request.action, request.resource),
        }
    }
}

/// Every scored statement's lines, side by side.
pub(crate) fn statements(out: &mut Vec<String>, sides: &Sides<'_>, side: &Side, principal: &Principal, identity_ignored: bool) {
    match principal {
        Principal::Role { .. } | Principal::User { .. } => {
            if sides.identity.is_empty() {
                out.push("identity policies: none".to_string());
            }
            out.extend(sides.identity.iter().flat_map(|s| s.lines.iter().cloned()));
            match &sides.boundary {
                None => out.push("permissions boundary: none".to_string()),
                Some(scored) => out.extend(scored.iter().flat_map(|s| s.lines.iter().cloned())),
            }
        }
        _ if identity_ignored => out.push(format!("identity policies: not used, {principal} has none of its own")),
        _ => {}
    }
    match &sides.resource {
        None => out.push(format!("{}: none", side.word)),
        Some(scored) => out.extend(scored.iter().flat_map(|s| s.lines.iter().cloned())),
    }
}

fn labels(statements: &[&Scored<'_>], wanted: Tri) -> String {
    statements.iter().filter(|s| s.applies() == wanted).map(|s| s.label()).collect::<Vec<_>>().join(", ")
}

/// A line per part of the formula: does that side allow it?
pub(crate) fn parts(out: &mut Vec<String>, sides: &Sides<'_>, clauses: &[Vec<Part>], side: &Side) {
    let mut shown: Vec<Part> = Vec::new();
    for part in clauses.iter().flatten() {
        if shown.contains(part) || (*part == Part::Boundary && sides.boundary.is_none()) {
            continue;
        }
        shown.push(*part);
        let name = match part {
            Part::Identity => "identity policies".to_string(),
            Part::Boundary => format!("permissions boundary {}", side.boundary_name),
            Part::Direct => format!("{}, statements naming the principal itself", side.word),
            Part::Account => format!("{}, statements naming the principal's account", side.word),
        };
        let allows = sides.allows(*part);
        let line = match sides.tri(*part) {
            Tri::Holds => format!("{name}: allow {} ({})", side.what, labels(&allows, Tri::Holds)),
            Tri::Unknown => format!("{name}: may allow {}, depending on {}", side.what, labels(&allows, Tri::Unknown)),
            Tri::Fails if *part != Part::Identity && sides.resource.is_none() => format!("{}: none, so it does not allow {}", side.word, side.what),
            Tri::Fails => format!("{name}: do not allow {}", side.what),
        };
        // Without a resource policy, its two parts say the same: once.
        if !out.contains(&line) {
            out.push(line);
        }
    }
}

/// Why the resource policy's statements naming the principal (at `namings`) do not allow it.
fn resource_side(sides: &Sides<'_>, side: &Side, principal: &Principal, namings: &[Naming]) -> String {
    let (Some(scored), Some(name)) = (&sides.resource, &side.resource_name) else {
        return format!("{}: none", side.word);
    };
    let naming: Vec<&Scored> = scored.iter().filter(|s| s.statement.effect == Effect::Allow && namings.contains(&s.naming)).collect();
    let whom = match (namings.contains(&Naming::Account), principal.account()) {
        (true, Some(account)) if !matches!(principal, Principal::Account { .. }) => format!("{principal} or its account {account}"),
        _ => principal.to_string(),
    };
    match naming.iter().find_map(|s| s.misses.first()) {
        None if naming.is_empty() => format!("{}: no statement of {name} names {whom}", side.word),
        None => format!("{}: the statements of {name} naming {whom} do not allow {}", side.word, side.what),
        Some(miss) => format!("{}: the statements of {name} naming {whom} do not apply: {miss}", side.word),
    }
}

/// The first missing allow, for the last line of an implicit deny.
pub(crate) fn missing(failed: &[Part], sides: &Sides<'_>, side: &Side, principal: &Principal, same_account: bool) -> String {
    let word = side.word;
    let what = &side.what;
    let direct = || resource_side(sides, side, principal, &[Naming::Itself]);
    let either = || resource_side(sides, side, principal, &[Naming::Itself, Naming::Account]);
    match failed {
        [Part::Boundary] => format!("the permissions boundary {} does not allow {what}", side.boundary_name),
        [Part::Identity] => {
            format!("no identity policy of {principal} allows {what}; across accounts both its identity policies and the {word} must allow it")
        }
        [Part::Identity, Part::Direct] => {
            format!("no identity policy allows {what}, and no {word} statement naming {principal} itself allows it ({})", direct())
        }
        [Part::Direct, Part::Identity] => format!(
            "the {word} must allow it even within one account, directly or by naming the account when an identity policy allows it too, and neither holds; {}",
            either()
        ),
        [Part::Direct, Part::Account] if same_account => format!("the {word} must allow it even within one account; {}", either()),
        [Part::Direct, Part::Account] => format!("across accounts the {word} must allow it too; {}", either()),
        [Part::Direct] => format!("{principal} has no identity policies, so the {word} must allow it; {}", direct()),
        _ => format!("nothing allows {what}"),
    }
}

fn reference(r: &StatementRef) -> String {
    match &r.sid {
        Some(sid) if !sid.is_empty() => format!("{} Statement[{}] (Sid {sid})", r.policy, r.index),
        _ => format!("{} Statement[{}]", r.policy, r.index),
    }
}

/// The last line of an allowed or conditional evaluation.
pub(crate) fn verdict(evaluation: &Evaluation, principal: &Principal, same_account: bool, root_free: bool) -> String {
    match evaluation.conditional_on.split_first() {
        Some((first, rest)) if !rest.is_empty() => format!("conditional: depends on {first} and {} more", rest.len()),
        Some((first, _)) => format!("conditional: depends on {first}"),
        None if evaluation.decision == Decision::Conditional => "conditional: depends on what is not known at plan time".to_string(),
        None if root_free => format!("allowed: the root of account {} has every right in its own account", principal.account().unwrap_or_default()),
        None => {
            let by = evaluation.allowed_by.iter().map(reference).collect::<Vec<_>>().join(", ");
            let scope = if same_account || principal.account().is_none() { "" } else { " (across accounts, each side allows it)" };
            format!("allowed by {by}{scope}")
        }
    }
}
