//! How a [`Value`] is encoded (serde): plain JSON with the markers as single-key objects, written
//! and read directly, without a `serde_json::Value` tree in between.

use std::fmt;

use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use strake_state::JsonText;

use super::{Map, SECRET_KEY, UNKNOWN_KEY, Value};

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Number(n) => n.serialize(serializer),
            Value::String(s) => serializer.serialize_str(s),
            Value::List(items) => serializer.collect_seq(items),
            Value::Map(map) => serializer.collect_map(map.iter()),
            Value::Unknown => marker(serializer, UNKNOWN_KEY, &true),
            Value::Secret(inner) => marker(serializer, SECRET_KEY, inner),
        }
    }
}

fn marker<S: Serializer, T: Serialize + ?Sized>(serializer: S, key: &str, value: &T) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(1))?;
    map.serialize_entry(key, value)?;
    map.end()
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        // As serde_json reads a number that is not finite: as null.
        Ok(serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.into()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        items.shrink_to_fit();
        Ok(Value::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries: Vec<(String, Value)> = Vec::with_capacity(map.size_hint().unwrap_or(0).min(4096));
        while let Some(key) = map.next_key::<String>()? {
            entries.push((key, map.next_value()?));
        }
        if let [(key, _)] = entries.as_slice() {
            if key == SECRET_KEY {
                let (_, inner) = entries.pop().expect("one entry");
                return Ok(Value::Secret(Box::new(inner)));
            }
            if key == UNKNOWN_KEY {
                return Ok(Value::Unknown);
            }
        }
        Ok(Value::Map(entries.into_iter().collect::<Map>()))
    }
}

/// A value recorded in state, read from its text ([`Value::from_recorded`]).
///
/// # Panics
/// On JSON that no value can hold: a number beyond the range of a 64-bit float. Strake never
/// records one, and `state import` refuses a file that has one.
impl From<&JsonText> for Value {
    fn from(text: &JsonText) -> Value {
        Value::from_recorded(text).unwrap_or_else(|e| panic!("a recorded value does not read as a value: {e}"))
    }
}

impl Value {
    /// Reads a value recorded in state. Every JSON text is a value except one with a number
    /// beyond the range of a 64-bit float, which is an error.
    pub fn from_recorded(text: &JsonText) -> Result<Value, serde_json::Error> {
        serde_json::from_str(text.as_str())
    }

    /// The value as state records it.
    pub fn to_recorded(&self) -> JsonText {
        JsonText::encode(self)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sample() -> Value {
        let mut map = Map::new();
        map.insert(
            "b",
            Value::List(vec![Value::Null, Value::Bool(true), Value::from(-3), Value::Number(serde_json::Number::from_f64(2.5).unwrap())]),
        );
        map.insert("a", Value::Secret(Box::new(Value::from("s\"x"))));
        map.insert("u", Value::Unknown);
        map.insert("m", Value::from_pairs([("k", Value::from(u64::MAX as i64))]));
        Value::Map(map)
    }

    #[test]
    fn a_value_is_encoded_as_plain_json_with_its_markers_and_read_back_whole() {
        let v = sample();
        let expected = json!({
            "a": {"__strake_secret": "s\"x"},
            "b": [null, true, -3, 2.5],
            "m": {"k": -1},
            "u": {"__strake_unknown": true},
        });
        assert_eq!(v.to_json(), expected);
        let text = serde_json::to_string(&v).unwrap();
        assert_eq!(text, serde_json::to_string(&expected).unwrap(), "keys in order, compact");
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), v);
        assert_eq!(Value::from_json(expected.clone()), v);
        assert_eq!(Value::from(&expected), v);
        assert_eq!(Value::from(&v.to_recorded()), v);
        let too_large = JsonText::parse(r#"{"n": 1e400}"#).expect("JSON text, as far as its syntax goes");
        assert!(Value::from_recorded(&too_large).unwrap_err().to_string().contains("out of range"));
    }

    #[test]
    fn markers_are_read_only_as_single_key_objects() {
        let read = |text: &str| serde_json::from_str::<Value>(text).unwrap();
        assert!(matches!(read(r#"{"__strake_secret": 1, "x": 2}"#), Value::Map(ref m) if m.len() == 2));
        assert_eq!(read(r#"{"__strake_unknown": false}"#), Value::Unknown);
        assert_eq!(read(r#"{"__strake_secret": {"__strake_unknown": true}}"#), Value::Secret(Box::new(Value::Unknown)));
        assert_eq!(read(r#"{"k": 1, "k": 2}"#), Value::from_pairs([("k", Value::from(2))]), "the last of a repeated key wins");
        assert!(serde_json::from_str::<Value>("[1e400]").is_err());
    }
}
