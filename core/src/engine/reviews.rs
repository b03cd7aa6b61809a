//! Runs the program's plan reviews ([`crate::review`]) over the stack before and after a plan.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use strake_state::Snapshot;

use super::prior::Prior;
use super::providers::ProviderCache;
use crate::plan::{Action, PlannedStep};
use crate::program::Program;
use crate::review::{PlanReview, ReviewRequest, ReviewSection, Reviewed};
use crate::{Urn, Value};

/// The sections of every review the program's provider packages offer, each review once.
/// `priors` gives every recorded resource as the plan found it; it is called only when a review
/// is offered.
pub(crate) fn review(
    program: &Program,
    snapshot: &Snapshot,
    steps: &[PlannedStep],
    priors: impl FnOnce() -> HashMap<Urn, Prior>,
    known: &HashMap<Urn, Value>,
    cache: &ProviderCache,
) -> Vec<ReviewSection> {
    let mut reviews: BTreeMap<String, Arc<dyn PlanReview>> = BTreeMap::new();
    for p in &program.providers {
        for r in p.factory.reviews() {
            reviews.entry(r.name().to_string()).or_insert(r);
        }
    }
    if reviews.is_empty() {
        return Vec::new();
    }
    let destinations: HashMap<Urn, Option<String>> = provider_urns(snapshot, steps)
        .into_iter()
        .map(|urn| {
            let destination = cache.target_of(&urn).and_then(|(_, t)| t).and_then(|t| t.destination);
            (urn, destination)
        })
        .collect();
    let provider_of: HashMap<&Urn, &Urn> = steps.iter().filter_map(|s| s.provider.as_ref().map(|p| (&s.urn, p))).collect();
    let recorded_provider: HashMap<Urn, Urn> =
        snapshot.resources.iter().filter_map(|r| Some((Urn::parse(&r.urn).ok()?, r.provider.as_deref().and_then(|p| Urn::parse(p).ok())?))).collect();
    let destination = |urn: &Urn| {
        let provider = provider_of.get(urn).copied().or_else(|| recorded_provider.get(urn))?;
        destinations.get(provider)?.as_deref()
    };
    let prior = priors();
    let mut request = ReviewRequest::default();
    for (urn, p) in &prior {
        request.before.push(Reviewed { urn, inputs: &p.inputs, outputs: Some(&p.outputs), destination: destination(urn) });
    }
    let stepped: HashMap<&Urn, &PlannedStep> = steps.iter().map(|s| (&s.urn, s)).collect();
    for step in steps {
        if let (Some(inputs), false) = (&step.after, matches!(step.action, Action::Delete | Action::Read)) {
            let outputs = known.get(&step.urn);
            request.after.push(Reviewed { urn: &step.urn, inputs, outputs, destination: destination(&step.urn) });
        }
    }
    // Recorded resources the plan leaves out (`--target`) stay as they are.
    for before in &request.before.clone() {
        if !stepped.contains_key(before.urn) {
            request.after.push(*before);
        }
    }
    request.before.sort_by(|a, b| a.urn.cmp(b.urn));
    request.after.sort_by(|a, b| a.urn.cmp(b.urn));
    reviews.values().filter_map(|r| r.review(&request)).collect()
}

fn provider_urns(snapshot: &Snapshot, steps: &[PlannedStep]) -> Vec<Urn> {
    let mut urns: Vec<Urn> = steps.iter().filter_map(|s| s.provider.clone()).collect();
    urns.extend(snapshot.resources.iter().filter_map(|r| r.provider.as_deref().and_then(|p| Urn::parse(p).ok())));
    urns.sort();
    urns.dedup();
    urns
}
