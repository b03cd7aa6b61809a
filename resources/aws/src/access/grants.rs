//! The access graph of one side of a plan: who can become which role (trust policies, closed
//! transitively) and what each principal can do on which resource, with the chain that grants it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::Serialize;
use strake_access::{Decision, Effect, Evaluation, Policies, Policy, Principal, Principals, Request, Statement, evaluate, glob};

use super::model::{Inventory, RoleInfo, UNKNOWN, arn_account};
use crate::catalog;

/// The action a pod's SDK calls with its service account token.
const WEB_IDENTITY: &str = "sts:AssumeRoleWithWebIdentity";
/// The action a principal calls to become a role.
const ASSUME_ROLE: &str = "sts:AssumeRole";
/// The audience EKS service account tokens carry.
const STS_AUDIENCE: &str = "sts.amazonaws.com";
/// How many roles a chain may pass through.
const MAX_HOPS: usize = 5;

/// Who is granted something.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    /// A role, by ARN (in this stack or not).
    Role {
        /// The role's ARN.
        arn: String,
    },
    /// Web identities whose token's `sub` matches `subject` (a pattern), from an OIDC provider.
    WebIdentity {
        /// The OIDC provider's ARN.
        provider: String,
        /// Its issuer (host and path).
        issuer: String,
        /// The `sub` the trust accepts: `system:serviceaccount:<ns>:<sa>`, or a pattern.
        subject: String,
    },
    /// The principals of an account that its own IAM policies allow.
    Account {
        /// The account id.
        id: String,
    },
    /// An AWS service.
    Service {
        /// `ec2.amazonaws.com`.
        name: String,
    },
    /// Anyone, signed in or not.
    Anyone,
}

impl Subject {
    /// Whether every principal `other` names is also one `self` names.
    pub fn covers(&self, other: &Subject) -> bool {
        match (self, other) {
            (Subject::Anyone, _) => true,
            (Subject::WebIdentity { provider: p1, subject: s1, .. }, Subject::WebIdentity { provider: p2, subject: s2, .. }) => {
                p1 == p2 && glob(s1, s2)
            }
            _ => self == other,
        }
    }
}

/// One thing a subject can do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    /// Who.
    pub subject: Subject,
    /// The action (`s3:GetObject`), spelt as the catalog spells it.
    pub action: String,
    /// The resource (an ARN or a pattern, as the policy writes it).
    pub resource: String,
    /// The account that owns the resource, when known.
    pub account: Option<String>,
    /// It holds only under conditions the evaluation could not decide (shown in `conditions`).
    pub conditional: bool,
    /// The undecided conditions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<String>,
    /// How: each role become, then the policy that allows it.
    pub chain: Vec<String>,
}

impl Grant {
    /// What makes two grants the same grant (the chain aside).
    pub fn key(&self) -> (&Subject, &str, &str, Option<&str>, bool) {
        (&self.subject, &self.action, &self.resource, self.account.as_deref(), self.conditional)
    }
}

/// A role's own grants, before any chain leads to it.
struct Direct {
    action: String,
    resource: String,
    account: Option<String>,
    evaluation: Evaluation,
}

/// Every grant the inventory makes.
pub fn grants(inv: &Inventory) -> Vec<Grant> {
    let direct: BTreeMap<&str, Vec<Direct>> = inv.roles.values().map(|r| (r.arn.as_str(), role_grants(inv, r))).collect();
    let edges = become_edges(inv);
    let mut out = Vec::new();
    let mut subjects: BTreeSet<Subject> = edges.iter().map(|e| e.from.clone()).collect();
    subjects.extend(inv.roles.keys().map(|arn| Subject::Role { arn: arn.clone() }));
    for subject in subjects {
        for (role, path) in reachable(&subject, &edges) {
            let hops: Vec<String> = path.iter().map(|e| e.via.clone()).collect();
            if let Some(last) = path.last() {
                out.push(grant(
                    &subject,
                    ASSUME_ROLE_OF[usize::from(last.web_identity)],
                    &role.arn,
                    role.account.clone(),
                    &last.evaluation,
                    hops.clone(),
                ));
            }
            for d in direct.get(role.arn.as_str()).into_iter().flatten() {
                let mut chain = hops.clone();
                chain.push(allowed_by(&d.evaluation));
                out.push(grant(&subject, &d.action, &d.resource, d.account.clone(), &d.evaluation, chain));
            }
        }
    }
    out.extend(outside_grants(inv));
    dedup(out)
}

const ASSUME_ROLE_OF: [&str; 2] = [ASSUME_ROLE, WEB_IDENTITY];

/// What a principal outside the stack is assumed to be allowed by its own identity policies:
/// anything, so that what the stack's resource policies grant it shows.
static OWN_POLICIES: std::sync::LazyLock<Policy> = std::sync::LazyLock::new(|| {
    let doc = serde_json::json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    Policy::parse("its own IAM policies", &doc).expect("a valid policy")
});

fn grant(subject: &Subject, action: &str, resource: &str, account: Option<String>, e: &Evaluation, chain: Vec<String>) -> Grant {
    Grant {
        subject: subject.clone(),
        action: action.to_string(),
        resource: resource.to_string(),
        account,
        conditional: e.decision == Decision::Conditional,
        conditions: e.conditional_on.clone(),
        chain,
    }
}

/// Keeps the first (shortest) chain of each grant.
fn dedup(grants: Vec<Grant>) -> Vec<Grant> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for g in grants {
        let key = (g.subject.clone(), g.action.clone(), g.resource.clone(), g.account.clone(), g.conditional);
        if seen.insert(key) {
            out.push(g);
        }
    }
    out
}

fn allowed_by(e: &Evaluation) -> String {
    let mut names: Vec<&str> = e.allowed_by.iter().map(|s| s.policy.as_str()).collect();
    names.dedup();
    if names.is_empty() { "allowed".into() } else { names.join(" and ") }
}

fn granted(e: &Evaluation) -> bool {
    matches!(e.decision, Decision::Allowed | Decision::Conditional)
}

/// The catalogued actions a statement's Action or NotAction covers; an uncatalogued pattern
/// stands for itself.
fn actions(s: &Statement) -> Vec<String> {
    let named = |patterns: &[String]| {
        let mut out = Vec::new();
        for p in patterns {
            let found = catalog::matching(p);
            if found.is_empty() {
                out.push(p.clone());
            }
            out.extend(found.iter().map(|a| a.to_string()));
        }
        out
    };
    match (&s.action, &s.not_action) {
        (Some(a), _) => named(a),
        (None, Some(not)) => catalog::all().iter().map(|a| a.to_string()).filter(|a| !named(not).contains(a)).collect(),
        (None, None) => Vec::new(),
    }
}

fn resources(s: &Statement, default: &str) -> Vec<String> {
    match (&s.resource, &s.not_resource) {
        (Some(r), _) => r.clone(),
        _ => vec![default.to_string()],
    }
}

/// The account that owns a resource: a bucket's from the stack, else the ARN's.
fn resource_account(inv: &Inventory, resource: &str) -> Option<String> {
    match resource.strip_prefix("arn:aws:s3:::") {
        Some(rest) => inv.buckets.get(rest.split('/').next().unwrap_or(rest)).cloned().flatten(),
        None => arn_account(resource),
    }
}

/// The resource policy on a resource: a bucket's policy, or a role's trust.
fn resource_policy<'a>(inv: &'a Inventory, resource: &str) -> Option<&'a Policy> {
    match resource.strip_prefix("arn:aws:s3:::") {
        Some(rest) => inv.bucket_policies.get(rest.split('/').next().unwrap_or(rest)),
        None => inv.roles.get(resource).and_then(|r| r.trust.as_ref()),
    }
}

fn evaluate_for(inv: &Inventory, role: &RoleInfo, action: &str, resource: &str) -> (Option<String>, Evaluation) {
    let account = resource_account(inv, resource).or_else(|| (resource == "*").then(|| role.account.clone()).flatten());
    let mut request = Request::new(Principal::Role { arn: role.arn.clone() }, action, resource);
    if let Some(a) = &account {
        request = request.resource_account(a.clone());
    }
    let boundary = role.boundary.as_ref().and_then(|arn| inv.managed.get(arn));
    let policies = Policies { identity: role.policies.iter().collect(), boundary, resource: resource_policy(inv, resource) };
    (account, evaluate(&request, &policies))
}

/// What a role can do by its own policies and the resource policies naming it.
fn role_grants(inv: &Inventory, role: &RoleInfo) -> Vec<Direct> {
    let mut candidates: BTreeSet<(String, String)> = BTreeSet::new();
    for s in role.policies.iter().flat_map(|p| &p.statements).filter(|s| s.effect == Effect::Allow) {
        for r in resources(s, "*") {
            candidates.extend(actions(s).into_iter().map(|a| (a, r.clone())));
        }
    }
    let me = Principal::Role { arn: role.arn.clone() };
    for (bucket, policy) in &inv.bucket_policies {
        for s in policy.statements.iter().filter(|s| s.effect == Effect::Allow && strake_access::names_principal(s, &me)) {
            for r in resources(s, &format!("arn:aws:s3:::{bucket}")) {
                candidates.extend(actions(s).into_iter().map(|a| (a, r.clone())));
            }
        }
    }
    candidates
        .into_iter()
        .filter_map(|(action, resource)| {
            let (account, evaluation) = evaluate_for(inv, role, &action, &resource);
            granted(&evaluation).then_some(Direct { action, resource, account, evaluation })
        })
        .collect()
}

/// "Can become": `from` may assume role `to`.
struct Edge {
    from: Subject,
    to: String,
    via: String,
    web_identity: bool,
    evaluation: Evaluation,
}

fn become_edges(inv: &Inventory) -> Vec<Edge> {
    let mut edges = Vec::new();
    for role in inv.roles.values() {
        let Some(trust) = &role.trust else { continue };
        let via = |how: &str| format!("trust of role {} ({how})", role.name);
        for s in trust.statements.iter().filter(|s| s.effect == Effect::Allow) {
            for (kind, ids) in principals(s) {
                for id in ids {
                    let (subject, request) = match kind.as_str() {
                        "Federated" => web_identity(inv, s, &id, &role.arn),
                        "Service" => (Subject::Service { name: id.clone() }, Request::new(Principal::Service { name: id }, ASSUME_ROLE, &role.arn)),
                        "*" => (Subject::Anyone, Request::new(Principal::Anonymous, ASSUME_ROLE, &role.arn)),
                        _ if inv.roles.contains_key(&id) => continue,
                        _ => match account_principal(&id) {
                            Some(account) => {
                                (Subject::Account { id: account.clone() }, Request::new(Principal::Account { id: account }, ASSUME_ROLE, &role.arn))
                            }
                            None => (Subject::Role { arn: id.clone() }, Request::new(Principal::Role { arn: id }, ASSUME_ROLE, &role.arn)),
                        },
                    };
                    let web = request.action == WEB_IDENTITY;
                    let identity = matches!(request.principal, Principal::Role { .. }).then_some(&*OWN_POLICIES).into_iter().collect();
                    let evaluation = evaluate(&request, &Policies { identity, resource: Some(trust), ..Policies::default() });
                    if granted(&evaluation) {
                        edges.push(Edge { from: subject, to: role.arn.clone(), via: via(&request.action), web_identity: web, evaluation });
                    }
                }
            }
        }
        // Roles of the stack that the trust lets in, by ARN or through their account.
        for other in inv.roles.values().filter(|o| o.arn != role.arn) {
            let (_, evaluation) = evaluate_for(inv, other, ASSUME_ROLE, &role.arn);
            if granted(&evaluation) {
                let from = Subject::Role { arn: other.arn.clone() };
                edges.push(Edge { from, to: role.arn.clone(), via: via(ASSUME_ROLE), web_identity: false, evaluation });
            }
        }
    }
    edges
}

/// The principal kinds and ids a statement's `Principal` names (`*` for anyone).
fn principals(s: &Statement) -> Vec<(String, Vec<String>)> {
    match &s.principal {
        Some(Principals::Any) => vec![("*".into(), vec!["*".into()])],
        Some(Principals::Map(m)) => m
            .iter()
            .map(|(k, ids)| if k == "AWS" && ids.iter().any(|i| i == "*") { ("*".into(), vec!["*".into()]) } else { (k.clone(), ids.clone()) })
            .collect(),
        None => Vec::new(),
    }
}

/// `123456789012` or `arn:aws:iam::123456789012:root`: the account.
fn account_principal(id: &str) -> Option<String> {
    if id.len() == 12 && id.chars().all(|c| c.is_ascii_digit()) {
        return Some(id.to_string());
    }
    id.ends_with(":root").then(|| arn_account(id)).flatten()
}

/// A web-identity statement's subject (its `:sub` condition's values, or any) and the request
/// that stands for it.
fn web_identity(inv: &Inventory, s: &Statement, provider: &str, role_arn: &str) -> (Subject, Request) {
    let issuer = inv
        .oidc_providers
        .get(provider)
        .cloned()
        .unwrap_or_else(|| provider.split_once("oidc-provider/").map(|(_, i)| i.to_string()).unwrap_or_else(|| UNKNOWN.into()));
    let subject = s
        .conditions
        .iter()
        .find(|c| c.key.to_ascii_lowercase().ends_with(":sub") && !c.operator.contains("Not"))
        .and_then(|c| c.values.first().cloned())
        .unwrap_or_else(|| "*".into());
    let request = Request::new(Principal::WebIdentity { provider: provider.to_string() }, WEB_IDENTITY, role_arn)
        .context(format!("{issuer}:sub"), [subject.clone()])
        .context(format!("{issuer}:aud"), [STS_AUDIENCE]);
    (Subject::WebIdentity { provider: provider.to_string(), issuer, subject }, request)
}

/// The roles a subject can become (itself first, for a role), each with the edges that lead there.
fn reachable<'a>(subject: &Subject, edges: &'a [Edge]) -> Vec<(RoleRef, Vec<&'a Edge>)> {
    let mut out = Vec::new();
    let mut queue: VecDeque<(String, Vec<&Edge>)> = VecDeque::new();
    let mut seen = BTreeSet::new();
    if let Subject::Role { arn } = subject {
        queue.push_back((arn.clone(), Vec::new()));
        seen.insert(arn.clone());
    }
    for e in edges.iter().filter(|e| &e.from == subject) {
        if seen.insert(e.to.clone()) {
            queue.push_back((e.to.clone(), vec![e]));
        }
    }
    while let Some((arn, path)) = queue.pop_front() {
        if path.len() < MAX_HOPS {
            for e in edges.iter().filter(|e| matches!(&e.from, Subject::Role { arn: a } if *a == arn)) {
                if seen.insert(e.to.clone()) {
                    let mut next = path.clone();
                    next.push(e);
                    queue.push_back((e.to.clone(), next));
                }
            }
        }
        out.push((RoleRef { account: arn_account(&arn), arn }, path));
    }
    out
}

/// A role reached.
struct RoleRef {
    arn: String,
    account: Option<String>,
}

/// What bucket policies grant to principals outside the stack: other accounts, roles the stack
/// does not declare, services, anyone.
fn outside_grants(inv: &Inventory) -> Vec<Grant> {
    let mut out = Vec::new();
    for (bucket, policy) in &inv.bucket_policies {
        let account = inv.buckets.get(bucket).cloned().flatten();
        for s in policy.statements.iter().filter(|s| s.effect == Effect::Allow) {
            for (kind, ids) in principals(s) {
                for id in ids {
                    let (subject, principal) = match kind.as_str() {
                        "*" => (Subject::Anyone, Principal::Anonymous),
                        "Service" => (Subject::Service { name: id.clone() }, Principal::Service { name: id }),
                        "AWS" if inv.roles.contains_key(&id) => continue,
                        "AWS" => match account_principal(&id) {
                            Some(a) => (Subject::Account { id: a.clone() }, Principal::Account { id: a }),
                            None => (Subject::Role { arn: id.clone() }, Principal::Role { arn: id }),
                        },
                        _ => continue,
                    };
                    for r in resources(s, &format!("arn:aws:s3:::{bucket}")) {
                        for action in actions(s) {
                            let mut request = Request::new(principal.clone(), &action, &r);
                            if let Some(a) = &account {
                                request = request.resource_account(a.clone());
                            }
                            // A role outside the stack: as far as its own policies allow.
                            let identity = matches!(principal, Principal::Role { .. }).then_some(&*OWN_POLICIES).into_iter().collect();
                            let e = evaluate(&request, &Policies { identity, resource: Some(policy), ..Policies::default() });
                            if granted(&e) {
                                out.push(grant(&subject, &action, &r, account.clone(), &e, vec![allowed_by(&e)]));
                            }
                        }
                    }
                }
            }
        }
    }
    out
}
