//! The plan's "Access changes": the grants gained and lost between the stack before and after.

use std::collections::BTreeMap;

use serde_json::json;
use strake::review::{Change, PlanReview, ReviewEntry, ReviewRequest, ReviewSection};
use strake_access::glob;

use super::grants::{Grant, Subject, grants};
use super::model::{Inventory, ServiceAccountInfo};
use crate::catalog;

/// The access review the AWS package adds to every plan.
#[derive(Debug, Default)]
pub struct AccessReview;

/// How many actions an entry names before it counts the rest.
const SHOWN_ACTIONS: usize = 6;

impl PlanReview for AccessReview {
    fn name(&self) -> &str {
        "aws access"
    }

    fn review(&self, request: &ReviewRequest<'_>) -> Option<ReviewSection> {
        let (before, after) = (Inventory::read(&request.before), Inventory::read(&request.after));
        if before.roles.is_empty() && after.roles.is_empty() && before.bucket_policies.is_empty() && after.bucket_policies.is_empty() {
            return None;
        }
        let (old, new) = (grants(&before), grants(&after));
        let mut entries = Vec::new();
        let gained: Vec<&Grant> = new.iter().filter(|g| !old.iter().any(|o| o.key() == g.key())).collect();
        let lost: Vec<&Grant> = old.iter().filter(|g| !new.iter().any(|n| n.key() == g.key())).collect();
        entries.extend(group(&gained, Change::Gained, &after, |g| !old.iter().any(|o| covers(o, g))));
        entries.extend(group(&lost, Change::Lost, &before, |_| false));
        let mut notes = after.problems.clone();
        notes.sort();
        notes.dedup();
        Some(ReviewSection { title: "Access changes".into(), entries, notes })
    }
}

/// Whether grant `old` already allowed everything `new` does.
fn covers(old: &Grant, new: &Grant) -> bool {
    old.subject.covers(&new.subject)
        && old.action == new.action
        && glob(&old.resource, &new.resource)
        && old.account == new.account
        && (!old.conditional || new.conditional)
}

/// One entry per subject, resource, chain and condition, naming its actions.
fn group(grants: &[&Grant], change: Change, inv: &Inventory, broadening: impl Fn(&Grant) -> bool) -> Vec<ReviewEntry> {
    type Key<'a> = (&'a Subject, &'a str, Option<&'a str>, &'a [String], bool, bool);
    let mut groups: BTreeMap<Key<'_>, (Vec<&str>, Vec<String>)> = BTreeMap::new();
    for g in grants {
        let key = (&g.subject, g.resource.as_str(), g.account.as_deref(), g.chain.as_slice(), g.conditional, broadening(g));
        let entry = groups.entry(key).or_default();
        entry.0.push(&g.action);
        entry.1.extend(g.conditions.iter().cloned());
    }
    groups
        .into_iter()
        .map(|((subject, resource, account, chain, conditional, broadening), (mut actions, mut conditions))| {
            actions.sort();
            actions.dedup();
            conditions.sort();
            conditions.dedup();
            let place = account.map(|a| format!(" in account {a}")).unwrap_or_default();
            let mut summary = format!("{} can {} on {resource}{place}", label(subject, chain, inv), action_list(&actions));
            if conditional {
                summary.push_str(" (conditional)");
            }
            let mut details = vec![format!("via {}", chain.join(" → "))];
            details.extend(conditions.iter().map(|c| format!("if {c}")));
            let data = json!({
                "subject": subject, "actions": actions, "resource": resource, "account": account,
                "chain": chain, "conditional": conditional, "conditions": conditions,
            });
            ReviewEntry { change, broadening, summary, details, data }
        })
        .collect()
}

/// `s3:*` when every catalogued action of the service is there; else the first few, counted.
fn action_list(actions: &[&str]) -> String {
    let services: Vec<&str> = {
        let mut s: Vec<&str> = actions.iter().filter_map(|a| a.split_once(':').map(|(s, _)| s)).collect();
        s.dedup();
        s
    };
    if let [service] = services.as_slice()
        && let Some(all) = catalog::service_actions(service)
        && all.len() == actions.len()
    {
        return format!("{service}:* (all {} actions)", all.len());
    }
    if actions.len() <= SHOWN_ACTIONS {
        return actions.join(", ");
    }
    format!("{} and {} more", actions[..SHOWN_ACTIONS - 1].join(", "), actions.len() - (SHOWN_ACTIONS - 1))
}

/// Who, for people: a service account by its name when the stack declares it.
fn label(subject: &Subject, chain: &[String], inv: &Inventory) -> String {
    match subject {
        Subject::Role { arn } => match inv.roles.get(arn) {
            Some(r) => format!("role {}{}", r.name, r.account.as_ref().map(|a| format!(" (account {a})")).unwrap_or_default()),
            None => format!("role {arn} (outside this stack; its own policies must allow it too)"),
        },
        Subject::WebIdentity { issuer, subject, .. } => {
            let declared: Vec<&ServiceAccountInfo> = inv
                .service_accounts
                .iter()
                .filter(|sa| subject == &format!("system:serviceaccount:{}", sa.name.replace('/', ":")))
                .filter(|sa| chain.first().is_some_and(|c| inv.roles.get(&sa.role_arn).is_some_and(|r| c.contains(&format!("role {} ", r.name)))))
                .collect();
            match declared.first() {
                Some(sa) => format!("service account {}{}", sa.name, sa.cluster.as_ref().map(|c| format!(" (cluster {c})")).unwrap_or_default()),
                None if subject.contains(['*', '?']) => format!("any web identity with sub like \"{subject}\" from {issuer}"),
                None => format!("web identity \"{subject}\" from {issuer}"),
            }
        }
        Subject::Account { id } => format!("account {id} (the principals its own IAM policies allow)"),
        Subject::Service { name } => format!("service {name}"),
        Subject::Anyone => "anyone (public)".to_string(),
    }
}
