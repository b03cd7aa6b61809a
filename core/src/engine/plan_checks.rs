//! What the planner checks and notes over the whole plan, once every node is planned: claims two
//! declarations share, each provider's preflight, where each provider lands (and two that land
//! in one place), `--strict`, and the notes on interrupted operations and drift.

use std::collections::{BTreeSet, HashMap};

use strake_state::Snapshot;

use super::prior::Refreshed;
use super::providers::{ProviderCache, Slot};
use crate::error::Diagnostic;
use crate::plan::{Action, PlannedProvider, PlannedStep};
use crate::provider::*;
use crate::{Urn, Value};

/// An error for each declaration that claims the same physical thing as another (two roles named
/// `s3` in one account): which of them would fail at apply would be a race.
pub(super) fn duplicate_claims(cache: &ProviderCache, steps: &[PlannedStep]) -> Vec<Diagnostic> {
    let mut claims: std::collections::BTreeMap<String, Vec<&Urn>> = std::collections::BTreeMap::new();
    for step in steps.iter().filter(|s| s.action != Action::Delete) {
        let (Some(provider), Some(inputs)) = (cache.get(step.provider.as_ref()), step.after.as_ref()) else { continue };
        let Slot::Ready(provider) = provider else { continue };
        if let Some(claim) = provider.claim(step.urn.type_token(), inputs) {
            claims.entry(claim).or_default().push(&step.urn);
        }
    }
    let mut diags = Vec::new();
    for (claim, urns) in claims.iter().filter(|(_, u)| u.len() > 1) {
        for urn in urns {
            let others: Vec<String> = urns.iter().filter(|o| *o != urn).map(|o| o.to_string()).collect();
            diags.push(Diagnostic::error(
                Some(urn),
                None,
                format!("claims {claim}, as {} does too; only one can have it: give one of them another name", others.join(" and ")),
            ));
        }
    }
    diags
}

/// Under `--strict`, every warning is an error.
pub(super) fn strictly(strict: bool, diags: &mut [Diagnostic]) {
    if strict {
        for d in diags.iter_mut().filter(|d| !d.is_error()) {
            d.severity = crate::error::Severity::Error;
            d.message.push_str(" (an error under --strict)");
        }
    }
}

/// How long one provider's preflight may take: it is a few reads, and an unreachable endpoint
/// must fail the plan in seconds, not after minutes of retries.
const PREFLIGHT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Every provider the changes go through proves it can make them ([`Provider::preflight`]),
/// all at once; a failure is an error of the provider's.
pub(super) async fn preflight(cache: &ProviderCache, steps: &[PlannedStep]) -> Vec<Diagnostic> {
    let mut by_provider: std::collections::BTreeMap<&Urn, Vec<PlannedChange>> = std::collections::BTreeMap::new();
    for step in steps.iter().filter(|s| s.action.is_change()) {
        let Some(provider) = &step.provider else { continue };
        let inputs = step.after.clone().or_else(|| step.before.clone()).unwrap_or(Value::Null);
        let change = PlannedChange { urn: step.urn.clone(), type_token: step.urn.type_token().to_string(), action: step.action, inputs };
        by_provider.entry(provider).or_default().push(change);
    }
    let checks = by_provider.into_iter().filter_map(|(urn, changes)| match cache.get(Some(urn)) {
        Some(Slot::Ready(p)) => Some(async move {
            let request = PreflightRequest { changes };
            match tokio::time::timeout(PREFLIGHT_TIMEOUT, p.preflight(request)).await {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(Diagnostic::error(Some(urn), None, e.to_string())),
                Err(_) => Some(Diagnostic::error(
                    Some(urn),
                    None,
                    format!("its endpoint did not answer within {}s; check that it is reachable", PREFLIGHT_TIMEOUT.as_secs()),
                )),
            }
        }),
        _ => None,
    });
    futures::future::join_all(checks).await.into_iter().flatten().collect()
}

/// The providers the steps go through, with where each lands.
pub(super) fn planned_providers(cache: &ProviderCache, steps: &[PlannedStep]) -> Vec<PlannedProvider> {
    let urns: BTreeSet<&Urn> = steps.iter().filter_map(|s| s.provider.as_ref()).collect();
    urns.into_iter()
        .map(|urn| {
            // Configured, but naming no account or cluster (a program's own provider, say).
            let untargeted = || Target { description: "configured; it names no account or cluster".into(), destination: None };
            PlannedProvider { urn: urn.clone(), target: cache.target_of(urn).map(|(_, t)| t.unwrap_or_else(untargeted)) }
        })
        .collect()
}

/// A warning for each provider that lands where another one, configured differently, does: two
/// "accounts" that are one account is how one account's resources end up in another.
pub(super) fn same_destination_warnings(providers: &[PlannedProvider], cache: &ProviderCache) -> Vec<Diagnostic> {
    let mut seen: Vec<(&Urn, &str, Value)> = Vec::new();
    let mut warnings = Vec::new();
    for p in providers {
        let (Some(destination), Some((config, _))) = (p.target.as_ref().and_then(|t| t.destination.as_deref()), cache.target_of(&p.urn)) else {
            continue;
        };
        if let Some((first, _, _)) = seen.iter().find(|(_, d, c)| *d == destination && *c != config) {
            warnings.push(Diagnostic::warning(
                Some(&p.urn),
                None,
                format!(
                    "lands in {destination}, like provider `{}`, although the two are configured differently; if they \
                     should be different accounts or clusters, check their profiles, roles and credentials (environment \
                     credentials, for one)",
                    first.name()
                ),
            ));
        }
        seen.push((&p.urn, destination, config));
    }
    warnings
}

pub(super) fn pending_notes(snapshot: &Snapshot) -> Vec<String> {
    snapshot
        .pending
        .iter()
        .map(|p| {
            let what = match p.kind {
                strake_state::PendingKind::Create => "create",
                strake_state::PendingKind::Update => "update",
                strake_state::PendingKind::Delete => "delete",
            };
            format!("an earlier run was interrupted during the {what} of {}; `apply` first reads it back and records what it finds", p.urn)
        })
        .collect()
}

pub(super) fn drift_notes(refreshed: &HashMap<Urn, Refreshed>) -> Vec<String> {
    let mut notes: Vec<String> = refreshed
        .iter()
        .map(|(urn, r)| match r {
            Refreshed::Found(_) => format!("{urn} was changed outside Strake"),
            Refreshed::Gone => format!("{urn} was deleted outside Strake"),
        })
        .collect();
    notes.sort();
    notes
}
