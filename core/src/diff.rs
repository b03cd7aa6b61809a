//! Pure comparison of values: which properties changed, and a tree of changes for rendering.

use std::collections::{BTreeMap, BTreeSet};

use crate::Value;

/// Top-level properties of `new` that differ from `old` (an unknown new value always differs).
pub fn changed_properties(old: &Value, new: &Value) -> Vec<String> {
    let empty = crate::value::Map::new();
    let old_map = match old {
        Value::Map(m) => m,
        _ => &empty,
    };
    let new_map = match new {
        Value::Map(m) => m,
        Value::Unknown => return old_map.keys().cloned().collect(),
        _ => &empty,
    };
    let keys: BTreeSet<&String> = old_map.keys().chain(new_map.keys()).collect();
    keys.into_iter().filter(|k| !same(old_map.get(k), new_map.get(k))).map(|k| k.to_string()).collect()
}

/// Equality where a missing key equals null, and an unknown never equals anything.
pub fn same(old: Option<&Value>, new: Option<&Value>) -> bool {
    let old = old.unwrap_or(&Value::Null);
    let new = new.unwrap_or(&Value::Null);
    new.is_known() && old == new
}

/// A tree of differences between two values, for rendering.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueDiff {
    /// Equal on both sides.
    Same(Value),
    /// Only in the new value.
    Added(Value),
    /// Only in the old value.
    Removed(Value),
    /// A different value (or one unknown until apply) replaces the old one.
    Changed {
        /// The old value.
        before: Value,
        /// The new value.
        after: Value,
    },
    /// A map with at least one change inside.
    Map(BTreeMap<String, ValueDiff>),
}

impl ValueDiff {
    /// Whether nothing differs.
    pub fn is_same(&self) -> bool {
        matches!(self, ValueDiff::Same(_))
    }
}

/// Compares two optional values recursively through maps (lists and scalars compare whole).
/// Strings holding JSON objects (e.g. policy documents) are compared as parsed JSON.
pub fn diff_values(before: Option<&Value>, after: Option<&Value>) -> ValueDiff {
    match (before, after) {
        (None, None) => ValueDiff::Same(Value::Null),
        (None, Some(a)) => ValueDiff::Added(a.clone()),
        (Some(b), None) => ValueDiff::Removed(b.clone()),
        (Some(b), Some(a)) => {
            if a.is_known() && a == b {
                return ValueDiff::Same(a.clone());
            }
            if let (Some(bj), Some(aj)) = (json_object(b), json_object(a)) {
                return diff_values(Some(&bj), Some(&aj));
            }
            match (b, a) {
                (Value::Map(bm), Value::Map(am)) => {
                    let keys: BTreeSet<&String> = bm.keys().chain(am.keys()).collect();
                    ValueDiff::Map(keys.into_iter().map(|k| (k.clone(), diff_values(bm.get(k), am.get(k)))).collect())
                }
                _ => ValueDiff::Changed { before: b.clone(), after: a.clone() },
            }
        }
    }
}

fn json_object(v: &Value) -> Option<Value> {
    let s = match v {
        Value::String(s) => s,
        _ => return None,
    };
    if !s.trim_start().starts_with('{') {
        return None;
    }
    match serde_json::from_str::<serde_json::Value>(s) {
        Ok(j @ serde_json::Value::Object(_)) => Some(Value::from_json(j)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value;

    #[test]
    fn changed_properties_treats_missing_as_null_and_unknown_as_changed() {
        let old = value!({"a": 1, "b": null, "c": "x"});
        let mut new = value!({"a": 1, "c": "y"});
        assert_eq!(changed_properties(&old, &new), vec!["c"]);
        new.set_path("a", Some(Value::Unknown));
        assert_eq!(changed_properties(&old, &new), vec!["a", "c"]);
    }

    #[test]
    fn json_strings_diff_as_documents() {
        let b = Value::from(r#"{"Version":"2012-10-17","Statement":[]}"#);
        let a = Value::from(r#"{"Statement":[], "Version":"2012-10-17", "Id":"x"}"#);
        let d = diff_values(Some(&b), Some(&a));
        let ValueDiff::Map(m) = d else { panic!("expected a map diff, got {d:?}") };
        assert_eq!(m["Id"], ValueDiff::Added("x".into()));
        assert!(m["Version"].is_same());
    }
}
