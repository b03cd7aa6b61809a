//! The plan: plain data describing what an apply will do, and the pure function that chooses
//! each resource's action.

mod render;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use render::{redact, render_human, render_json};

use crate::error::Diagnostic;
use crate::options::{ResourceOptions, path_matches};
use crate::provider::DiffResponse;
use crate::{Urn, Value};

/// Bumped when the saved-plan format changes.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// Which goes first when a resource is replaced: the new object or the old one's delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplaceOrder {
    /// Create the new object, repoint dependents, then delete the old one (default).
    CreateThenDelete,
    /// Delete the old object first (unique names, or on request).
    DeleteThenCreate,
}

/// What will happen to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "order")]
pub enum Action {
    /// Nothing changes.
    NoOp,
    /// A new object is created.
    Create,
    /// A data source read (at apply, because its inputs are not known at plan time).
    Read,
    /// The object is updated in place.
    Update,
    /// The object is replaced by a new one, in this order.
    Replace(ReplaceOrder),
    /// The object is deleted (or only forgotten, for a retained resource).
    Delete,
}

impl Action {
    /// Whether the action changes something: not a no-op nor a read.
    pub fn is_change(self) -> bool {
        !matches!(self, Action::NoOp | Action::Read)
    }
}

/// Whether this is a normal plan or a destroy plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanMode {
    /// Bring the cloud in line with the program.
    Normal,
    /// Delete every resource of the stack (`destroy`).
    Destroy,
}

/// One resource's planned change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedStep {
    /// The resource.
    pub urn: Urn,
    /// What happens to it.
    pub action: Action,
    /// Why, for display only (e.g. "`triggers_replace` changed", "deleted outside Strake").
    pub reason: Option<String>,
    /// Recorded inputs (None when creating).
    pub before: Option<Value>,
    /// Planned inputs, unknowns allowed (None when deleting).
    pub after: Option<Value>,
    /// Changed input paths.
    pub changes: Vec<String>,
    /// The subset of `changes` that forces the replacement.
    pub replace_paths: Vec<String>,
    /// For deletes: the object stays in the cloud, only state forgets it.
    pub retain: bool,
    /// The component it belongs to (display grouping only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Urn>,
    /// The provider configuration it goes through (`None`: the built-in provider).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<Urn>,
    /// Inputs only the program and the provider use: not shown as the object's properties.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub internal: Vec<String>,
}

/// A provider configuration the plan goes through, and where its changes land.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedProvider {
    /// The provider configuration's URN.
    pub urn: Urn,
    /// `None`: its configuration is known only during apply (it depends on other resources).
    pub target: Option<crate::provider::Target>,
}

/// A plan: plain data, serializable (`plan --out`), rendered by `render_human` / `render_json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The [`PLAN_FORMAT_VERSION`] it was made with.
    pub format_version: u32,
    /// The stack planned.
    pub stack: String,
    /// A normal plan or a destroy plan.
    pub mode: PlanMode,
    /// The state the plan was made against: a saved plan is refused if it moved.
    pub lineage: Option<String>,
    /// The state's serial when the plan was made: a saved plan is refused if it moved.
    pub serial: u64,
    /// Sorted by URN; NoOp steps included.
    pub steps: Vec<PlannedStep>,
    /// Stack outputs after apply, as far as known.
    pub outputs: BTreeMap<String, Value>,
    /// Whether `outputs` differ from the recorded ones.
    pub outputs_changed: bool,
    /// Warnings (errors stop planning).
    pub diagnostics: Vec<Diagnostic>,
    /// Things found on the way that the user should know (interrupted operations, drift).
    pub notes: Vec<String>,
    /// `--target` URNs, if any.
    pub targets: Vec<Urn>,
    /// The providers the steps go through, with where each lands.
    #[serde(default)]
    pub providers: Vec<PlannedProvider>,
    /// What the program's reviews found (access changes, say), shown after the steps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reviews: Vec<crate::review::ReviewSection>,
}

/// Counts for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Resources to create.
    pub create: usize,
    /// Resources to update in place.
    pub update: usize,
    /// Resources to replace.
    pub replace: usize,
    /// Resources to delete.
    pub delete: usize,
    /// Data sources to read during apply.
    pub read: usize,
    /// Resources left as they are.
    pub same: usize,
}

impl Plan {
    /// How many steps of each action the plan has.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for step in &self.steps {
            match step.action {
                Action::NoOp => s.same += 1,
                Action::Create => s.create += 1,
                Action::Read => s.read += 1,
                Action::Update => s.update += 1,
                Action::Replace(_) => s.replace += 1,
                Action::Delete => s.delete += 1,
            }
        }
        s
    }

    /// Whether applying it would change anything: a step that changes something, or new stack
    /// outputs.
    pub fn has_changes(&self) -> bool {
        self.steps.iter().any(|s| s.action.is_change()) || self.outputs_changed
    }

    /// Whether a review found a change that broadens (access, say).
    pub fn broadens(&self) -> bool {
        self.reviews.iter().any(crate::review::ReviewSection::broadens)
    }

    /// The step of this resource, if the plan has one.
    pub fn step(&self, urn: &Urn) -> Option<&PlannedStep> {
        self.steps.binary_search_by(|s| s.urn.cmp(urn)).ok().map(|i| &self.steps[i])
    }

    /// A digest of what the plan will do, to check that a saved plan is applied exactly.
    pub fn fingerprint(&self) -> String {
        let steps: Vec<_> = self.steps.iter().map(|s| (&s.urn, s.action, &s.after, s.retain)).collect();
        let json = serde_json::to_vec(&(&self.stack, self.mode, &steps, &self.targets)).unwrap_or_default();
        let digest = Sha256::digest(&json);
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// What the planner knows about one declared resource when choosing its action.
pub struct Decide<'a> {
    /// The resource.
    pub urn: &'a Urn,
    /// Recorded inputs, if the resource exists (after refresh).
    pub prior_inputs: Option<&'a Value>,
    /// The provider's diff (None when there is no prior object).
    pub diff: Option<&'a DiffResponse>,
    /// Its options (`protect`, `replace_on_changes`, `delete_before_replace`).
    pub options: &'a ResourceOptions,
    /// Refresh found the object gone.
    pub gone: bool,
}

/// The one pure function that chooses a declared resource's action.
pub fn decide(d: Decide<'_>) -> Result<(Action, Option<String>), Diagnostic> {
    let Some(_) = d.prior_inputs else {
        let reason = d.gone.then(|| "deleted outside Strake; it will be created again".to_string());
        return Ok((Action::Create, reason));
    };
    let Some(diff) = d.diff.filter(|diff| !diff.changes.is_empty()) else {
        return Ok((Action::NoOp, None));
    };
    let forcing = forcing_paths(diff, d.options);
    if forcing.is_empty() {
        return Ok((Action::Update, None));
    }
    let names: Vec<String> = forcing.iter().map(|p| format!("`{p}`")).collect();
    if d.options.protect {
        return Err(Diagnostic::error(
            Some(d.urn),
            Some(&forcing[0]),
            format!("is protected, but changing {} requires replacing it; remove `protect` first or revert the change", names.join(", ")),
        ));
    }
    let order =
        if d.options.delete_before_replace || diff.delete_before_replace { ReplaceOrder::DeleteThenCreate } else { ReplaceOrder::CreateThenDelete };
    Ok((Action::Replace(order), Some(format!("{} forces replacement", names.join(", ")))))
}

/// The changed paths that force a replacement: those the provider cannot update in place, then
/// the changes the resource's `replace_on_changes` names. The one place that decides it.
pub fn forcing_paths(diff: &DiffResponse, options: &ResourceOptions) -> Vec<String> {
    let mut forcing: Vec<String> = diff.replaces.clone();
    for change in &diff.changes {
        if options.replace_on_changes.iter().any(|p| path_matches(p, change)) && !forcing.contains(change) {
            forcing.push(change.clone());
        }
    }
    forcing
}

/// Applies `ignore_changes`: the listed paths keep their recorded values.
pub fn apply_ignore_changes(options: &ResourceOptions, prior: &Value, planned: &mut Value) {
    for path in &options.ignore_changes {
        planned.set_path(path, prior.get_path(path).cloned());
    }
}

#[cfg(test)]
mod tests;
