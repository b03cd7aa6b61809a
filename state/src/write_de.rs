//! The encoding of a [`Write`]: serde's own for a tagged enum, and a decoding of our own that
//! reads the variant's fields in place when the tag comes first (as every writer puts it).
//! Journals are replayed on every load and compaction, and serde's decoding of a tagged enum
//! copies each object into a buffer before reading it; a record's values, kept as JSON text
//! ([`JsonText`](crate::JsonText)), cannot even be read from that buffer.

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::records::{PendingOperation, ResourceRecord, Write};

impl Serialize for Write {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Write::serialize(self, serializer)
    }
}

impl<'de> Deserialize<'de> for Write {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Write, D::Error> {
        deserializer.deserialize_map(WriteVisitor)
    }
}

#[derive(Deserialize)]
struct Urn {
    urn: String,
}

#[derive(Deserialize)]
struct Id {
    id: String,
}

struct WriteVisitor;

impl<'de> Visitor<'de> for WriteVisitor {
    type Value = Write;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a state write: an object with `op`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Write, A::Error> {
        let Some(key) = map.next_key::<String>()? else { return Err(de::Error::missing_field("op")) };
        if key != "op" {
            return tag_elsewhere(key, map);
        }
        let op: String = map.next_value()?;
        variant(&op, MapAccessDeserializer::new(map))
    }
}

/// The write `op` names, from the fields that follow its tag.
fn variant<'de, D: Deserializer<'de>>(op: &str, rest: D) -> Result<Write, D::Error> {
    Ok(match op {
        "put_resource" => Write::PutResource(ResourceRecord::deserialize(rest)?),
        "delete_resource" => Write::DeleteResource { urn: Urn::deserialize(rest)?.urn },
        "put_pending" => Write::PutPending(PendingOperation::deserialize(rest)?),
        "clear_pending" => Write::ClearPending { id: Id::deserialize(rest)?.id },
        other => return Err(de::Error::unknown_variant(other, &["put_resource", "delete_resource", "put_pending", "clear_pending"])),
    })
}

/// An object whose tag is not first (written by hand, say): gathered whole, then decoded from
/// its other fields as when the tag comes first.
fn tag_elsewhere<'de, A: MapAccess<'de>>(first: String, mut map: A) -> Result<Write, A::Error> {
    let mut object = serde_json::Map::new();
    object.insert(first, map.next_value()?);
    while let Some((key, value)) = map.next_entry::<String, serde_json::Value>()? {
        object.insert(key, value);
    }
    let op = match object.remove("op") {
        Some(serde_json::Value::String(op)) => op,
        Some(other) => return Err(de::Error::invalid_type(de::Unexpected::Other(&other.to_string()), &"the name of a write")),
        None => return Err(de::Error::missing_field("op")),
    };
    variant(&op, serde_json::Value::Object(object)).map_err(de::Error::custom)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::records::{PendingKind, RecordKind};

    fn every_kind() -> Vec<Write> {
        let record = ResourceRecord {
            urn: "urn:strake:dev::t::a".into(),
            kind: RecordKind::Resource,
            type_token: "t".into(),
            id: "a-1".into(),
            inputs: json!({"name": "a", "op": "not the tag", "nested": {"list": [1, 2.5, null, true]}}).into(),
            outputs: json!({"secret": {"__strake_secret": "s"}}).into(),
            dependencies: vec!["urn:strake:dev::t::b".into()],
            provider: Some("urn:strake:dev::pulumi:providers:aws::default".into()),
            protect: true,
            retain_on_delete: false,
            schema_version: 2,
        };
        let pending = PendingOperation {
            id: "op-1".into(),
            urn: record.urn.clone(),
            kind: PendingKind::Update,
            type_token: "t".into(),
            provider: None,
            inputs: json!({"x": 1}).into(),
            outputs: json!(null).into(),
            resource_id: Some("a-1".into()),
            started_at: 17,
        };
        vec![
            Write::PutResource(record),
            Write::DeleteResource { urn: "urn:strake:dev::t::b".into() },
            Write::PutPending(pending),
            Write::ClearPending { id: "op-1".into() },
        ]
    }

    #[test]
    fn every_kind_of_write_decodes_to_what_was_encoded() {
        let writes = every_kind();
        let text = serde_json::to_string(&writes).unwrap();
        assert_eq!(serde_json::from_str::<Vec<Write>>(&text).unwrap(), writes);
        assert!(text.starts_with(r#"[{"op":"put_resource","urn""#), "the tag is written first: {text}");
    }

    #[test]
    fn a_tag_that_is_not_first_still_decodes_and_defaults_apply() {
        let moved: Write = serde_json::from_value(json!({"urn": "u", "op": "delete_resource"})).unwrap();
        assert_eq!(moved, Write::DeleteResource { urn: "u".into() });
        // Fields with defaults may be left out (records of older versions), tag first or not.
        let fields =
            r#""urn": "u", "kind": "resource", "type_token": "t", "id": "i", "inputs": {}, "outputs": {}, "dependencies": [], "provider": null"#;
        for text in [format!(r#"{{"op": "put_resource", {fields}}}"#), format!(r#"{{{fields}, "op": "put_resource"}}"#)] {
            let Write::PutResource(r) = serde_json::from_str::<Write>(&text).unwrap() else { panic!("a put: {text}") };
            assert!(r.urn == "u" && !r.protect && !r.retain_on_delete && r.schema_version == 0, "{text}");
        }
    }

    #[test]
    fn what_is_not_a_write_is_refused_with_what_is_wrong() {
        let unknown = serde_json::from_str::<Write>(r#"{"op": "rename", "urn": "u"}"#).unwrap_err().to_string();
        assert!(unknown.contains("unknown variant `rename`"), "{unknown}");
        let missing = serde_json::from_str::<Write>(r#"{"op": "delete_resource"}"#).unwrap_err().to_string();
        assert!(missing.contains("missing field `urn`"), "{missing}");
        let empty = serde_json::from_str::<Write>("{}").unwrap_err().to_string();
        assert!(empty.contains("missing field `op`"), "{empty}");
    }
}
