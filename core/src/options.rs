//! Resource options, defined once and shared by every resource type.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Urn;

/// Lifecycle options of a resource (Pulumi's resource options, Terraform's `lifecycle` block).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceOptions {
    /// Explicit dependencies in addition to those implied by outputs.
    pub depends_on: Vec<Urn>,
    /// Refuse to delete or replace this resource.
    pub protect: bool,
    /// Input paths whose changes are ignored after creation.
    pub ignore_changes: Vec<String>,
    /// Input paths whose changes force a replacement even where the provider could update in place.
    pub replace_on_changes: Vec<String>,
    /// Replace by deleting first, then creating (default: create the new one first).
    pub delete_before_replace: bool,
    /// On delete, forget the resource but leave the cloud object in place.
    pub retain_on_delete: bool,
    /// Time limits of the provider calls.
    pub timeouts: Timeouts,
    /// The provider configuration to use (default: the package's default provider).
    pub provider: Option<Urn>,
    /// The component this resource belongs to (plans group children under it).
    pub parent: Option<Urn>,
}

/// Per-operation time limits. `None` means the engine's default for that operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeouts {
    /// For the create.
    pub create: Option<Duration>,
    /// For an update in place.
    pub update: Option<Duration>,
    /// For the delete.
    pub delete: Option<Duration>,
}

/// Whether `path` is `pattern` or lies under it (`tags` covers `tags.env`).
pub(crate) fn path_matches(pattern: &str, path: &str) -> bool {
    pattern == "*"
        || path == pattern
        || path.strip_prefix(pattern).is_some_and(|rest| rest.starts_with('.'))
        || pattern.strip_prefix(path).is_some_and(|rest| rest.starts_with('.'))
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_match_prefixes_on_dot_boundaries() {
        use super::path_matches;
        assert!(path_matches("tags", "tags"));
        assert!(path_matches("tags", "tags.env"));
        assert!(path_matches("tags.env", "tags"));
        assert!(!path_matches("tag", "tags"));
        assert!(path_matches("*", "anything"));
    }
}
