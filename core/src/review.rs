//! Plan reviews: what a plan means beyond its resource changes, worked out by a provider package
//! from the resources before and after the plan (pure, no I/O).
//!
//! The AWS package reviews access: who gains or loses which actions on what. A review comes from
//! a [`crate::provider::ProviderFactory`] the program uses ([`ProviderFactory::reviews`]); its
//! section is part of the [`Plan`](crate::Plan), shown after the resource changes and in the JSON
//! plan. An entry marked `broadening` is what `plan --deny-broadening` and
//! `apply --require-approval broadening` act on.
//!
//! [`ProviderFactory::reviews`]: crate::provider::ProviderFactory::reviews

use serde::{Deserialize, Serialize};

use crate::{Urn, Value};

/// One resource as a review sees it: its inputs, its outputs as far as known, and where it lands.
#[derive(Debug, Clone, Copy)]
pub struct Reviewed<'a> {
    /// The resource (its type token is [`Urn::type_token`]).
    pub urn: &'a Urn,
    /// Its inputs: recorded ones before the plan, planned ones (unknowns allowed) after.
    pub inputs: &'a Value,
    /// Its outputs: recorded before; after, those known at plan time (unknowns allowed).
    pub outputs: Option<&'a Value>,
    /// Where its provider lands, as [`crate::provider::Target::destination`] says
    /// (`aws account 222222222222`); `None` when not known at plan time.
    pub destination: Option<&'a str>,
}

/// The stack before and after the plan.
#[derive(Debug, Clone, Default)]
pub struct ReviewRequest<'a> {
    /// The recorded resources (after refresh).
    pub before: Vec<Reviewed<'a>>,
    /// The resources as they will be after the apply (none for a destroy).
    pub after: Vec<Reviewed<'a>>,
}

/// Whether an entry is something gained or lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Present after the apply, not before.
    Gained,
    /// Present before the apply, not after.
    Lost,
}

/// One change a review found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewEntry {
    /// Gained or lost.
    pub change: Change,
    /// Whether it widens what is allowed (by meaning, not by text).
    pub broadening: bool,
    /// One line for people.
    pub summary: String,
    /// Further lines for people (e.g. the chain that grants it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    /// The entry as data, in the review's own shape, for tools.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub data: serde_json::Value,
}

/// What one review found in a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewSection {
    /// Its heading (`Access changes`).
    pub title: String,
    /// The changes, gained and lost; what stays the same is not repeated.
    pub entries: Vec<ReviewEntry>,
    /// What the review could not tell, or assumed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl ReviewSection {
    /// Whether an entry broadens.
    pub fn broadens(&self) -> bool {
        self.entries.iter().any(|e| e.broadening)
    }
}

/// A review a provider package offers. It must be pure and quick: it runs in every plan.
pub trait PlanReview: Send + Sync {
    /// Its name; a review offered by several providers of one program runs once.
    fn name(&self) -> &str;

    /// Its section for this plan; `None` when it has nothing to say.
    fn review(&self, request: &ReviewRequest<'_>) -> Option<ReviewSection>;
}
