//! [`Value`]: the dynamic property value that flows between programs, the engine and providers.
//!
//! A value is JSON-like, plus two markers JSON lacks: [`Value::Unknown`] (known only after apply)
//! and [`Value::Secret`] (never printed). On disk (state, saved plans) it is encoded as plain JSON
//! with the markers as single-key objects: `{"__strake_secret": v}` and `{"__strake_unknown": true}`.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

mod codec;
mod map;
mod share;

pub use map::Map;

const SECRET_KEY: &str = strake_state::secrets::SECRET_MARKER;
const UNKNOWN_KEY: &str = "__strake_unknown";

/// A property value.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// No value (JSON `null`).
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// A JSON number.
    Number(serde_json::Number),
    /// A string, shared by the value's copies (a plan copies values between the program, the
    /// state and its steps; the text is not copied with them).
    String(Arc<str>),
    /// A list.
    List(Vec<Value>),
    /// A map with string keys, sorted.
    Map(Map),
    /// Not known until apply.
    Unknown,
    /// A value that is never shown in plans, events or logs.
    Secret(Box<Value>),
}

impl Value {
    /// An empty map.
    pub fn map() -> Value {
        Value::Map(Map::new())
    }

    /// Builds a map from pairs.
    pub fn from_pairs<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// Whether no part of the value is unknown.
    pub fn is_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::List(items) => items.iter().all(Value::is_known),
            Value::Map(map) => map.values().all(Value::is_known),
            Value::Secret(inner) => inner.is_known(),
            _ => true,
        }
    }

    /// Whether any part of the value is secret.
    pub fn contains_secret(&self) -> bool {
        match self {
            Value::Secret(_) => true,
            Value::List(items) => items.iter().any(Value::contains_secret),
            Value::Map(map) => map.values().any(Value::contains_secret),
            _ => false,
        }
    }

    /// The value with every secret marker removed (for handing to providers).
    pub fn reveal(&self) -> Value {
        match self {
            Value::Secret(inner) => inner.reveal(),
            Value::List(items) => Value::List(items.iter().map(Value::reveal).collect()),
            Value::Map(map) => Value::Map(map.iter().map(|(k, v)| (k.clone(), v.reveal())).collect()),
            other => other.clone(),
        }
    }

    /// Looks up a top-level key of a map.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(map) => map.get(key),
            Value::Secret(inner) => inner.get(key),
            _ => None,
        }
    }

    /// Looks up a dotted path (`a.b.0.c`); list indexes are numbers.
    pub fn get_path(&self, path: &str) -> Option<&Value> {
        let mut current = self;
        for part in path.split('.').filter(|p| !p.is_empty()) {
            current = match current {
                Value::Map(map) => map.get(part)?,
                Value::List(items) => items.get(part.parse::<usize>().ok()?)?,
                Value::Secret(inner) => inner.get_path(part)?,
                _ => return None,
            };
        }
        Some(current)
    }

    /// Sets a dotted path, creating maps on the way; `None` removes the key. A numeric part
    /// indexes an existing list element.
    pub fn set_path(&mut self, path: &str, value: Option<Value>) {
        let parts: Vec<&str> = path.split('.').filter(|p| !p.is_empty()).collect();
        let Some((last, parents)) = parts.split_last() else { return };
        let mut current = self;
        for part in parents {
            let index = match &*current {
                Value::List(items) => part.parse::<usize>().ok().filter(|i| *i < items.len()),
                _ => None,
            };
            current = match index {
                Some(i) => {
                    let Value::List(items) = current else { return };
                    &mut items[i]
                }
                None => {
                    if !matches!(current, Value::Map(_)) {
                        *current = Value::map();
                    }
                    let Value::Map(map) = current else { return };
                    map.get_or_insert_with(part, Value::map)
                }
            };
        }
        if let Value::List(items) = current
            && let Ok(i) = last.parse::<usize>()
            && i < items.len()
        {
            match value {
                Some(v) => items[i] = v,
                None => {
                    items.remove(i);
                }
            }
            return;
        }
        if !matches!(current, Value::Map(_)) {
            *current = Value::map();
        }
        if let Value::Map(map) = current {
            match value {
                Some(v) => {
                    map.insert((*last).to_string(), v);
                }
                None => {
                    map.remove(last);
                }
            }
        }
    }

    /// The string inside, if this is a (possibly secret) string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            Value::Secret(inner) => inner.as_str(),
            _ => None,
        }
    }

    /// Converts to plain JSON, encoding the unknown and secret markers (as [`Value`]'s
    /// `Serialize` does).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a value is JSON: its map keys are strings")
    }

    /// Converts from plain JSON, decoding the markers written by [`Value::to_json`] (as
    /// [`Value`]'s `Deserialize` does).
    pub fn from_json(json: serde_json::Value) -> Value {
        Value::deserialize(json).expect("every JSON tree reads as a value")
    }

    /// Converts to plain JSON for a provider: secrets revealed. `None` if any part is unknown.
    pub fn to_plain_json(&self) -> Option<serde_json::Value> {
        self.is_known().then(|| self.reveal().to_json())
    }

    /// Deserializes a known value into a Rust type (secrets revealed).
    pub fn deserialize_into<T: serde::de::DeserializeOwned>(&self) -> Result<T, String> {
        let json = self.to_plain_json().ok_or_else(|| "the value is not known yet".to_string())?;
        serde_json::from_value(json).map_err(|e| e.to_string())
    }

    /// Serializes a Rust value into a [`Value`].
    pub fn serialize_from<T: Serialize + ?Sized>(value: &T) -> Result<Value, String> {
        serde_json::to_value(value).map(Value::from_json).map_err(|e| e.to_string())
    }
}

impl From<serde_json::Value> for Value {
    fn from(json: serde_json::Value) -> Self {
        Value::from_json(json)
    }
}

/// Like [`Value::from_json`], from borrowed JSON: its strings are copied once, and no copy of
/// the JSON itself is made.
impl From<&serde_json::Value> for Value {
    fn from(json: &serde_json::Value) -> Self {
        Value::deserialize(json).expect("every JSON tree reads as a value")
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.into())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s.into())
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Number(n.into())
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(items: Vec<T>) -> Self {
        Value::List(items.into_iter().map(Into::into).collect())
    }
}

/// Compact rendering used in plans: secrets as `(sensitive)`, unknowns as `(known after apply)`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => write!(f, "{n}"),
            Value::String(s) => write!(f, "{}", serde_json::Value::String(s.to_string())),
            Value::Unknown => f.write_str("(known after apply)"),
            Value::Secret(_) => f.write_str("(sensitive)"),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Value::Map(map) => {
                f.write_str("{")?;
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k} = {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// Builds a [`Value`] from JSON syntax: `value!({"a": 1})`.
#[macro_export]
macro_rules! value {
    ($($json:tt)+) => {
        $crate::Value::from_json($crate::__private::serde_json::json!($($json)+))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_keeps_markers() {
        let mut v = crate::value!({"a": [1, "x"], "b": {"c": true}});
        v.set_path("s", Some(Value::Secret(Box::new("pw".into()))));
        v.set_path("u", Some(Value::Unknown));
        let back = Value::from_json(v.to_json());
        assert_eq!(back, v);
        assert_eq!(Value::from(&v.to_json()), v, "from borrowed JSON, the same");
        assert!(!back.is_known());
        assert!(back.contains_secret());
        assert_eq!(back.reveal().get("s"), Some(&Value::from("pw")));
    }

    #[test]
    fn paths_get_and_set() {
        let mut v = crate::value!({"a": {"b": [10, 20]}});
        assert_eq!(v.get_path("a.b.1"), Some(&crate::value!(20)));
        v.set_path("a.c.d", Some("x".into()));
        assert_eq!(v.get_path("a.c.d").and_then(Value::as_str), Some("x"));
        v.set_path("a.b.1", Some("y".into()));
        assert_eq!(v.get_path("a.b"), Some(&crate::value!([10, "y"])), "numeric parts index lists");
        v.set_path("a.b", None);
        assert_eq!(v.get_path("a.b"), None);
    }

    #[test]
    fn display_hides_secrets_and_marks_unknowns() {
        let v = Value::from_pairs([("k", Value::Secret(Box::new("hunter2".into()))), ("u", Value::Unknown)]);
        let shown = v.to_string();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(shown, "{k = (sensitive), u = (known after apply)}");
    }
}
