//! The decision: explicit deny, then the allows each kind of principal needs, three-valued.

use crate::explain::{self, Part, Side};
use crate::naming::Naming;
use crate::policy::{Effect, Policy};
use crate::request::{Principal, Request, arn_account};
use crate::statement::{Scored, score};
use crate::tri::Tri;

/// The policies that bear on a request.
#[derive(Debug, Clone, Default)]
pub struct Policies<'a> {
    /// The principal's identity policies (managed, through attachments, and inline).
    pub identity: Vec<&'a Policy>,
    /// The principal's permissions boundary.
    pub boundary: Option<&'a Policy>,
    /// The resource's policy: a bucket policy, or a role's trust policy for sts:AssumeRole*.
    pub resource: Option<&'a Policy>,
}

/// The outcome of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Every policy needed allows it and no Deny applies.
    Allowed,
    /// A Deny statement applies.
    ExplicitDeny,
    /// Nothing allows it (or not every side that must allow it does).
    ImplicitDeny,
    /// It depends on something not known at plan time: see `conditional_on`.
    Conditional,
}

/// A statement an evaluation rests on.
#[derive(Debug, Clone, PartialEq)]
pub struct StatementRef {
    /// The policy's name.
    pub policy: String,
    /// The statement's index in the policy.
    pub index: usize,
    /// The statement's Sid.
    pub sid: Option<String>,
    /// compact JSON of the statement
    pub text: String,
}

/// What `evaluate` decided, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The decision.
    pub decision: Decision,
    /// The Allow statements the decision rests on (each side's, across accounts).
    pub allowed_by: Vec<StatementRef>,
    /// Deny statements that apply (or may apply, for Conditional).
    pub denied_by: Vec<StatementRef>,
    /// For Conditional: each condition that could not be decided, shown as written plus why, e.g. `StringEquals "aws:SourceVpc": ["vpc-1"] (key not known at plan time)` or `NumericLessThan ... (operator not modelled)`.
    pub conditional_on: Vec<String>,
    /// Human lines in order, for `verify`: per policy and statement what matched and what did not. A mismatch names the statement (policy name, index, Sid), the element and both sides, e.g.
    /// `trust of role s3 Statement[0]: StringEquals "oidc.eks.us-east-1.amazonaws.com/id/X:aud" is ["system:serviceaccount:ns:sa"], the request has ["sts.amazonaws.com"]`.
    pub explanation: Vec<String>,
}

impl Evaluation {
    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        self.decision == Decision::Allowed
    }

    /// the first reason it is not allowed, one line (None when allowed)
    pub fn reason(&self) -> Option<String> {
        if self.is_allowed() { None } else { self.explanation.last().cloned() }
    }
}

impl StatementRef {
    fn of(scored: &Scored<'_>) -> StatementRef {
        StatementRef {
            policy: scored.policy.name.clone(),
            index: scored.statement.index,
            sid: scored.statement.sid.clone(),
            text: scored.statement.text(),
        }
    }
}

/// Every statement of the policies on one side, scored.
fn score_all<'a>(policies: &[&'a Policy], request: &Request) -> Vec<Scored<'a>> {
    policies.iter().flat_map(|p| p.statements.iter().map(|s| score(p, s, request))).collect()
}

/// The account that owns the resource, and a line saying where that came from.
fn resource_account(request: &Request) -> (Option<String>, String) {
    if let Some(account) = &request.resource_account {
        return (Some(account.clone()), format!("resource account {account} (given)"));
    }
    if let Some(account) = arn_account(&request.resource) {
        return (Some(account.to_string()), format!("resource account {account} (from the ARN)"));
    }
    match request.principal.account() {
        Some(account) => (Some(account.to_string()), format!("the resource ARN names no account: assuming it is the principal's own, {account}")),
        None => (None, "the resource ARN names no account".to_string()),
    }
}

/// Whether AWS requires the resource policy itself to allow even within one account: role trust
/// policies and KMS key policies.
fn resource_policy_required(request: &Request) -> bool {
    let action = request.action.to_ascii_lowercase();
    let segments: Vec<&str> = request.resource.splitn(6, ':').collect();
    match segments[..] {
        [_, _, "iam", _, _, rest] => action.starts_with("sts:") && rest.starts_with("role/"),
        [_, _, "kms", _, _, rest] => rest.starts_with("key/"),
        _ => false,
    }
}

/// Which allows the principal needs: a conjunction of alternatives.
fn formula(principal: &Principal, same_account: bool, required: bool) -> Vec<Vec<Part>> {
    use Part::*;
    match principal {
        Principal::Service { .. } | Principal::WebIdentity { .. } | Principal::Anonymous => vec![vec![Direct]],
        Principal::Account { .. } if same_account && !required => vec![],
        Principal::Account { .. } => vec![vec![Direct, Account]],
        Principal::Role { .. } | Principal::User { .. } if !same_account => vec![vec![Identity], vec![Boundary], vec![Direct, Account]],
        Principal::Role { .. } | Principal::User { .. } if required => vec![vec![Boundary], vec![Direct, Identity], vec![Direct, Account]],
        Principal::Role { .. } | Principal::User { .. } => vec![vec![Boundary], vec![Identity, Direct]],
    }
}

/// The statements each part of the formula looks at, and how they combine.
pub(crate) struct Sides<'a> {
    pub identity: Vec<Scored<'a>>,
    pub boundary: Option<Vec<Scored<'a>>>,
    pub resource: Option<Vec<Scored<'a>>>,
}

impl<'a> Sides<'a> {
    /// The Allow statements that count for a part.
    pub(crate) fn allows(&self, part: Part) -> Vec<&Scored<'a>> {
        let (statements, wanted) = match part {
            Part::Identity => (&self.identity[..], None),
            Part::Boundary => (self.boundary.as_deref().unwrap_or_default(), None),
            Part::Direct => (self.resource.as_deref().unwrap_or_default(), Some(Naming::Itself)),
            Part::Account => (self.resource.as_deref().unwrap_or_default(), Some(Naming::Account)),
        };
        statements.iter().filter(|s| s.statement.effect == Effect::Allow && wanted.is_none_or(|n| s.naming == n)).collect()
    }

    /// Whether a part allows the request.
    pub(crate) fn tri(&self, part: Part) -> Tri {
        if part == Part::Boundary && self.boundary.is_none() {
            return Tri::Holds;
        }
        Tri::any(self.allows(part).into_iter().map(Scored::applies))
    }

    fn denies(&self) -> impl Iterator<Item = &Scored<'a>> {
        let all = self.identity.iter().chain(self.boundary.iter().flatten()).chain(self.resource.iter().flatten());
        all.filter(|s| s.statement.effect == Effect::Deny && s.applies() != Tri::Fails)
    }
}

fn push_unique(into: &mut Vec<String>, items: &[String]) {
    for item in items {
        if !into.contains(item) {
            into.push(item.clone());
        }
    }
}

/// Evaluates a request against the policies that bear on it.
pub fn evaluate(request: &Request, policies: &Policies<'_>) -> Evaluation {
    let principal = &request.principal;
    let mut explanation = vec![format!("request: {principal} calls {} on {}", request.action, request.resource)];
    let (account, account_line) = resource_account(request);
    let same_account = principal.account().is_some() && principal.account() == account.as_deref();
    let has_identity = matches!(principal, Principal::Role { .. } | Principal::User { .. });
    if principal.account().is_some() {
        explanation.push(account_line);
        explanation.push(match (&account, same_account) {
            (_, true) => "same account".to_string(),
            (Some(account), false) => format!("across accounts: {} → {account}", principal.account().unwrap_or_default()),
            (None, false) => "across accounts: the resource's account is not known".to_string(),
        });
    }
    let required = resource_policy_required(request);
    let sides = Sides {
        identity: if has_identity { score_all(&policies.identity, request) } else { Vec::new() },
        boundary: policies.boundary.filter(|_| has_identity).map(|b| score_all(&[b], request)),
        resource: policies.resource.map(|r| score_all(&[r], request)),
    };
    let words = Side::new(request, policies);
    explain::statements(&mut explanation, &sides, &words, principal, !has_identity && !policies.identity.is_empty());

    let denies: Vec<&Scored> = sides.denies().collect();
    let deny = Tri::any(denies.iter().map(|s| s.applies()));
    let clauses = formula(principal, same_account, required);
    let clause_tris: Vec<Tri> = clauses.iter().map(|clause| Tri::any(clause.iter().map(|p| sides.tri(*p)))).collect();
    let allow = Tri::all(clause_tris.iter().copied());
    explain::parts(&mut explanation, &sides, &clauses, &words);

    let decision = match (deny, allow) {
        (Tri::Holds, _) => Decision::ExplicitDeny,
        (_, Tri::Fails) => Decision::ImplicitDeny,
        (Tri::Fails, Tri::Holds) => Decision::Allowed,
        _ => Decision::Conditional,
    };
    let mut evaluation = Evaluation { decision, allowed_by: Vec::new(), denied_by: Vec::new(), conditional_on: Vec::new(), explanation };
    match decision {
        Decision::ExplicitDeny => {
            evaluation.denied_by = denies.iter().filter(|s| s.applies() == Tri::Holds).map(|s| StatementRef::of(s)).collect();
            let first = denies.iter().find(|s| s.applies() == Tri::Holds).map(|s| s.label()).unwrap_or_default();
            evaluation.explanation.push(format!("explicit deny: {first} denies {} on {}", request.action, request.resource));
        }
        Decision::ImplicitDeny => {
            let failed = clause_tris.iter().position(|t| *t == Tri::Fails).map(|i| &clauses[i][..]).unwrap_or_default();
            evaluation.explanation.push(format!("implicit deny: {}", explain::missing(failed, &sides, &words, principal, same_account)));
        }
        Decision::Allowed | Decision::Conditional => {
            let wanted = |s: &&Scored| s.applies() != Tri::Fails;
            let mut parts: Vec<Part> = Vec::new();
            for part in clauses.iter().flatten() {
                if !parts.contains(part) {
                    parts.push(*part);
                }
            }
            for part in parts {
                evaluation.allowed_by.extend(sides.allows(part).into_iter().filter(wanted).map(StatementRef::of));
            }
            for (clause, tri) in clauses.iter().zip(&clause_tris) {
                let undecided = clause.iter().filter(|p| *tri == Tri::Unknown && sides.tri(**p) == Tri::Unknown);
                for s in undecided.flat_map(|p| sides.allows(*p)).filter(|s| s.applies() == Tri::Unknown) {
                    push_unique(&mut evaluation.conditional_on, &s.unknowns);
                }
            }
            if deny == Tri::Unknown {
                evaluation.denied_by = denies.iter().map(|s| StatementRef::of(s)).collect();
                denies.iter().for_each(|s| push_unique(&mut evaluation.conditional_on, &s.unknowns));
            }
            let last = explain::verdict(&evaluation, principal, same_account, clauses.is_empty());
            evaluation.explanation.push(last);
        }
    }
    evaluation
}

#[cfg(test)]
#[path = "eval_tests.rs"]
mod tests;
