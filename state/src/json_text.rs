//! [`JsonText`]: a recorded value kept as the JSON text it was written as.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A record's inputs or outputs, kept as compact JSON text and parsed only by whoever reads them.
///
/// A loaded stack holds every record at once. As a parsed tree, a small object costs a map node
/// of several hundred bytes; as text it costs its own length. Readers parse what they need
/// ([`JsonText::decode`], or a value type of their own that implements `Deserialize`), and the
/// text goes back to disk as it was read.
///
/// Two texts are equal when their text is: every writer encodes with `serde_json`, whose output
/// for the same value is the same (object keys in the order the value keeps them).
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JsonText(Box<RawValue>);

impl JsonText {
    /// `null`.
    pub fn null() -> JsonText {
        JsonText::parse("null").expect("`null` is JSON")
    }

    /// Encodes `value`.
    ///
    /// # Panics
    /// When `value` cannot be JSON: a map with keys that are not strings, or a `Serialize` impl
    /// that fails. Record values are JSON values, so neither happens.
    pub fn encode<T: Serialize + ?Sized>(value: &T) -> JsonText {
        JsonText(serde_json::value::to_raw_value(value).expect("a record value encodes as JSON"))
    }

    /// Checks and keeps `text`, which must be one JSON value.
    pub fn parse(text: &str) -> Result<JsonText, serde_json::Error> {
        RawValue::from_string(text.trim().to_string()).map(JsonText)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// Decodes the text into `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.as_str())
    }

    /// The value as a `serde_json` tree.
    pub fn to_value(&self) -> serde_json::Value {
        self.decode().expect("a JsonText holds one JSON value")
    }

    /// Whether it is `null`.
    pub fn is_null(&self) -> bool {
        self.as_str() == "null"
    }

    /// Whether `key` may be an object key in it: a quick test on the text, before a parse gives
    /// the exact answer. `false` means that no object has the key; `true` can also come from a
    /// string that contains the key in quotes, or from a `\u` escape, which could spell it.
    pub fn may_have_key(&self, key: &str) -> bool {
        let text = self.as_str();
        text.contains("\\u") || text.match_indices(key).any(|(at, _)| text[..at].ends_with('"') && text[at + key.len()..].starts_with('"'))
    }

    /// Changes the value in place: parsed, handed to `edit`, and encoded again.
    pub fn edit<R>(&mut self, edit: impl FnOnce(&mut serde_json::Value) -> R) -> R {
        let mut value = self.to_value();
        let out = edit(&mut value);
        *self = JsonText::encode(&value);
        out
    }
}

impl Default for JsonText {
    fn default() -> JsonText {
        JsonText::null()
    }
}

impl PartialEq for JsonText {
    fn eq(&self, other: &JsonText) -> bool {
        self.as_str() == other.as_str()
    }
}

impl fmt::Debug for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<serde_json::Value> for JsonText {
    fn from(value: serde_json::Value) -> JsonText {
        JsonText::encode(&value)
    }
}

impl From<&serde_json::Value> for JsonText {
    fn from(value: &serde_json::Value) -> JsonText {
        JsonText::encode(value)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn text_is_kept_compact_and_decodes_to_the_value() {
        let value = json!({"b": [1, 2.5, null], "a": {"s": "x\"y"}});
        let text = JsonText::from(&value);
        assert_eq!(text.as_str(), r#"{"a":{"s":"x\"y"},"b":[1,2.5,null]}"#);
        assert_eq!(text.to_value(), value);
        assert_eq!(JsonText::parse(" {\"a\": 1} ").unwrap().as_str(), "{\"a\": 1}");
        assert!(JsonText::parse("{").is_err() && JsonText::parse("1 2").is_err());
        assert!(JsonText::default().is_null() && !JsonText::from(json!({})).is_null());
    }

    #[test]
    fn a_record_reads_its_values_as_text_and_writes_them_back_unchanged() {
        #[derive(Serialize, Deserialize)]
        struct Record {
            inputs: JsonText,
        }
        let stored = r#"{"inputs":{"z":1,"a":[true]}}"#;
        let record: Record = serde_json::from_str(stored).unwrap();
        assert_eq!(record.inputs.as_str(), r#"{"z":1,"a":[true]}"#);
        assert_eq!(serde_json::to_string(&record).unwrap(), stored);
        // Through a parsed tree too (as a write whose tag is not first is decoded).
        let via_tree: Record = serde_json::from_value(json!({"inputs": {"a": 1}})).unwrap();
        assert_eq!(via_tree.inputs.as_str(), r#"{"a":1}"#);
    }

    #[test]
    fn a_key_is_found_where_it_is_a_key_and_quickly_ruled_out_where_it_is_not() {
        let secret = JsonText::from(json!({"p": {"__strake_secret": "x"}}));
        assert!(secret.may_have_key("__strake_secret"));
        assert!(!JsonText::from(json!({"p": "__strake_secret is a word here"})).may_have_key("__strake_secret"));
        assert!(!JsonText::from(json!({"__strake_secretive": 1})).may_have_key("__strake_secret"));
        assert!(JsonText::parse(r#"{"__strake\u005fsecret": 1}"#).unwrap().may_have_key("__strake_secret"));
    }

    #[test]
    fn an_edit_changes_the_text() {
        let mut text = JsonText::from(json!({"a": 1}));
        let old = text.edit(|v| v["a"].take());
        assert_eq!((old, text.as_str()), (json!(1), r#"{"a":null}"#));
    }
}
