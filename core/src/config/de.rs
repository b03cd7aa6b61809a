//! A serde deserializer over the flat configuration, so a program's settings are one derive.
//!
//! A struct reads the keys under its prefix (`app.namespace` for a field `namespace` of a field
//! `app`); a key under the prefix that the struct does not have is an error with the closest
//! field. A leaf is parsed as the field's type asks (`true`/`false`, integers, floats, text, a
//! unit enum by variant name, a list from a TOML array or `a,b,c`), and every error names the
//! key, the value, where it was set and what was expected.

use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};

use super::{Config, Entry};
use crate::suggest::closest;

/// A configuration error; `keyed` once it names its key.
#[derive(Debug)]
pub(crate) struct DeError {
    message: String,
    keyed: bool,
    /// A field serde found missing, named by the struct that knows its prefix.
    missing: Option<&'static str>,
}

impl DeError {
    fn keyed(message: String) -> Self {
        DeError { message, keyed: true, missing: None }
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError { message: msg.to_string(), keyed: false, missing: None }
    }

    fn missing_field(field: &'static str) -> Self {
        DeError { message: format!("missing field `{field}`"), keyed: false, missing: Some(field) }
    }
}

fn join(prefix: &str, field: &str) -> String {
    if prefix.is_empty() { field.to_string() } else { format!("{prefix}.{field}") }
}

/// The whole configuration, or the table of keys under one prefix.
pub(crate) struct Root<'a> {
    config: &'a Config,
    /// The dotted key of this table (empty for the whole configuration).
    key: String,
}

impl<'a> Root<'a> {
    pub(crate) fn new(config: &'a Config) -> Self {
        Root { config, key: String::new() }
    }

    fn prefix(&self) -> String {
        if self.key.is_empty() { String::new() } else { format!("{}.", self.key) }
    }

    /// The distinct first segments of the keys set under this table.
    fn children(&self) -> Vec<String> {
        let prefix = self.prefix();
        let mut out: Vec<String> = self.config.keys_under(&prefix).map(|k| k[prefix.len()..].split('.').next().unwrap_or("").to_string()).collect();
        out.dedup();
        out
    }

    fn not_a_value(&self, wanted: &str) -> DeError {
        DeError::keyed(format!(
            "configuration `{}` is a table of keys ({}), but the program expects {wanted} there",
            self.key,
            self.children().join(", ")
        ))
    }
}

/// The deserializer for a key: its value when set, else the table of keys under it.
fn node<'a>(config: &'a Config, key: String) -> Node<'a> {
    match config.entry(&key) {
        Some(entry) => Node::Leaf(Leaf { config, key, entry }),
        None => Node::Table(Root { config, key }),
    }
}

enum Node<'a> {
    Leaf(Leaf<'a>),
    Table(Root<'a>),
}

macro_rules! forward_to_node {
    ($($method:ident),*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            match self {
                Node::Leaf(l) => l.$method(visitor),
                Node::Table(t) => t.$method(visitor),
            }
        })*
    };
}

impl<'de> de::Deserializer<'de> for Node<'_> {
    type Error = DeError;

    forward_to_node!(
        deserialize_any,
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_option,
        deserialize_seq,
        deserialize_map,
        deserialize_identifier,
        deserialize_ignored_any,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_unit
    );

    fn deserialize_unit_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, DeError> {
        match self {
            Node::Leaf(l) => l.deserialize_unit_struct(name, visitor),
            Node::Table(t) => t.deserialize_unit_struct(name, visitor),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, DeError> {
        match self {
            Node::Leaf(l) => l.deserialize_newtype_struct(name, visitor),
            Node::Table(t) => t.deserialize_newtype_struct(name, visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, DeError> {
        match self {
            Node::Leaf(l) => l.deserialize_tuple(len, visitor),
            Node::Table(t) => t.deserialize_tuple(len, visitor),
        }
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(self, name: &'static str, len: usize, visitor: V) -> Result<V::Value, DeError> {
        match self {
            Node::Leaf(l) => l.deserialize_tuple_struct(name, len, visitor),
            Node::Table(t) => t.deserialize_tuple_struct(name, len, visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(self, name: &'static str, fields: &'static [&'static str], visitor: V) -> Result<V::Value, DeError> {
        match self {
            Node::Leaf(l) => l.deserialize_struct(name, fields, visitor),
            Node::Table(t) => t.deserialize_struct(name, fields, visitor),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(self, name: &'static str, variants: &'static [&'static str], visitor: V) -> Result<V::Value, DeError> {
        match self {
            Node::Leaf(l) => l.deserialize_enum(name, variants, visitor),
            Node::Table(t) => t.deserialize_enum(name, variants, visitor),
        }
    }
}

impl<'de> de::Deserializer<'de> for Root<'_> {
    type Error = DeError;

    fn deserialize_struct<V: Visitor<'de>>(self, _name: &'static str, fields: &'static [&'static str], visitor: V) -> Result<V::Value, DeError> {
        for field in fields {
            self.config.note_read(&join(&self.key, field), "any");
        }
        let children = self.children();
        for child in &children {
            if !fields.contains(&child.as_str()) {
                let key = join(&self.key, child);
                let set = self.config.entry(&key).map(|e| self.config.where_set(e.origin)).unwrap_or_else(|| "a table".into());
                let hint = closest(child, fields.iter().copied()).map(|c| format!("did you mean `{}`? ", join(&self.key, c))).unwrap_or_default();
                let table = if self.key.is_empty() { String::new() } else { format!(" under `{}`", self.key) };
                return Err(DeError::keyed(format!(
                    "unknown configuration key `{key}` ({set}); {hint}the keys the program reads{table} are {}",
                    fields.iter().map(|f| format!("`{}`", join(&self.key, f))).collect::<Vec<_>>().join(", ")
                )));
            }
        }
        let present: Vec<&'static str> = fields.iter().copied().filter(|f| children.iter().any(|c| c == f)).collect();
        visitor.visit_map(Keys { config: self.config, key: &self.key, keys: present, at: 0 }).map_err(|e| match e.missing {
            Some(field) => DeError::keyed(self.config.missing(&join(&self.key, field))),
            None if !e.keyed => {
                DeError::keyed(format!("configuration `{}`: {}", if self.key.is_empty() { "(top level)" } else { &self.key }, e.message))
            }
            None => e,
        })
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let children = self.children();
        for child in &children {
            self.config.note_read(&join(&self.key, child), "any");
        }
        visitor.visit_map(Keys { config: self.config, key: &self.key, keys: children, at: 0 })
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.children().is_empty() { visitor.visit_none() } else { visitor.visit_some(self) }
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    fn deserialize_bool<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, DeError> {
        Err(self.not_a_value("true or false"))
    }
    fn deserialize_i8<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, DeError> {
        Err(self.not_a_value("an integer"))
    }
    fn deserialize_i16<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, DeError> {
        Err(self.not_a_value("an integer"))
    }
    fn deserialize_i32<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, DeError> {
        Err(self.not_a_value("an integer"))
    }
    fn deserialize_i64<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, DeError> {
        Err(self.not_a_value("an integer"))
    }
    fn deserialize_u8<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, DeError> {
        Err(self.not_a_value("an integer"))
    }
    fn deserialize_u16<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, DeError> {
        Err(self.not_a_value("an integer"))
    }
    fn deserialize_u32<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, DeError> {
        Err(self.not_a_value("an integer"))
    }
    fn deserialize_u64<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, DeError> {
        Err(self.not_a_value("an integer"))
    }
    fn deserialize_f32<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, DeError> {
        Err(self.not_a_value("a number"))
    }
    fn deserialize_f64<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, DeError> {
        Err(self.not_a_value("a number"))
    }
    fn deserialize_char<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, DeError> {
        Err(self.not_a_value("a character"))
    }
    fn deserialize_str<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, DeError> {
        Err(self.not_a_value("text"))
    }
    fn deserialize_string<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, DeError> {
        Err(self.not_a_value("text"))
    }
    fn deserialize_bytes<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, DeError> {
        Err(self.not_a_value("text"))
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, DeError> {
        Err(self.not_a_value("text"))
    }
    fn deserialize_unit<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, DeError> {
        Err(self.not_a_value("nothing"))
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(self, _n: &'static str, _v: V) -> Result<V::Value, DeError> {
        Err(self.not_a_value("nothing"))
    }
    fn deserialize_seq<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, DeError> {
        Err(self.not_a_value("a list"))
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, _l: usize, _v: V) -> Result<V::Value, DeError> {
        Err(self.not_a_value("a list"))
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(self, _n: &'static str, _l: usize, _v: V) -> Result<V::Value, DeError> {
        Err(self.not_a_value("a list"))
    }
    fn deserialize_enum<V: Visitor<'de>>(self, _n: &'static str, variants: &'static [&'static str], _v: V) -> Result<V::Value, DeError> {
        Err(self.not_a_value(&one_of(variants)))
    }
    fn deserialize_identifier<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, DeError> {
        Err(self.not_a_value("a name"))
    }
}

fn one_of(variants: &[&str]) -> String {
    format!("one of {}", variants.iter().map(|v| format!("\"{v}\"")).collect::<Vec<_>>().join(", "))
}

/// Keys set under a table, in order: the fields of a struct that are set, or every key of a map.
struct Keys<'a, K> {
    config: &'a Config,
    key: &'a str,
    keys: Vec<K>,
    at: usize,
}

impl<'de, K: AsRef<str>> MapAccess<'de> for Keys<'_, K> {
    type Error = DeError;

    fn next_key_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<Option<S::Value>, DeError> {
        match self.keys.get(self.at) {
            Some(key) => seed.deserialize(key.as_ref().into_deserializer()).map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, DeError> {
        let key = join(self.key, self.keys[self.at].as_ref());
        self.at += 1;
        seed.deserialize(node(self.config, key))
    }
}

/// One set value.
struct Leaf<'a> {
    config: &'a Config,
    key: String,
    entry: &'a Entry,
}

impl Leaf<'_> {
    /// `` `key = value` (in Strake.toml): expected …, …``
    fn wrong(&self, expected: &str, fix: &str) -> DeError {
        self.config.note_read(&self.key, expected);
        let shown = match &self.entry.toml {
            Some(v) => v.to_string(),
            None => format!("\"{}\"", self.entry.text),
        };
        DeError::keyed(format!("configuration `{} = {shown}` ({}): expected {expected}{fix}", self.key, self.config.where_set(self.entry.origin)))
    }

    /// Adds the key to an error a visitor made (an integer out of range, say).
    fn context(&self, e: DeError) -> DeError {
        if e.keyed {
            return e;
        }
        DeError::keyed(format!(
            "configuration `{} = \"{}\"` ({}): {}",
            self.key,
            self.entry.text,
            self.config.where_set(self.entry.origin),
            e.message
        ))
    }

    fn integer(&self) -> Option<i128> {
        match &self.entry.toml {
            Some(toml::Value::Integer(i)) => Some(i128::from(*i)),
            Some(_) => None,
            None => self.entry.text.trim().parse::<i128>().ok(),
        }
    }
}

macro_rules! integers {
    ($($method:ident => $visit:ident as $ty:ty),*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            self.config.note_read(&self.key, "an integer");
            match self.integer() {
                Some(i) => match <$ty>::try_from(i) {
                    Ok(v) => visitor.$visit(v).map_err(|e| self.context(e)),
                    Err(_) => Err(self.wrong(&format!("an integer from {} to {}", <$ty>::MIN, <$ty>::MAX), "")),
                },
                None => Err(self.wrong("an integer", ", written without quotes in Strake.toml or as digits after --config")),
            }
        })*
    };
}

impl<'de> de::Deserializer<'de> for Leaf<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if let Some(toml::Value::Array(_)) = &self.entry.toml {
            return self.deserialize_seq(visitor);
        }
        match &self.entry.toml {
            Some(toml::Value::Boolean(b)) => visitor.visit_bool(*b),
            Some(toml::Value::Integer(i)) => visitor.visit_i64(*i),
            Some(toml::Value::Float(f)) => visitor.visit_f64(*f),
            _ => visitor.visit_str(&self.entry.text),
        }
        .map_err(|e| self.context(e))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.config.note_read(&self.key, "true or false");
        let value = match (&self.entry.toml, self.entry.text.trim()) {
            (Some(toml::Value::Boolean(b)), _) => Some(*b),
            (None, "true") => Some(true),
            (None, "false") => Some(false),
            _ => None,
        };
        match value {
            Some(b) => visitor.visit_bool(b),
            None => Err(self.wrong("true or false", "")),
        }
    }

    integers!(
        deserialize_i8 => visit_i8 as i8, deserialize_i16 => visit_i16 as i16, deserialize_i32 => visit_i32 as i32,
        deserialize_i64 => visit_i64 as i64, deserialize_u8 => visit_u8 as u8, deserialize_u16 => visit_u16 as u16,
        deserialize_u32 => visit_u32 as u32, deserialize_u64 => visit_u64 as u64
    );

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.config.note_read(&self.key, "a number");
        let value = match &self.entry.toml {
            Some(toml::Value::Float(f)) => Some(*f),
            Some(toml::Value::Integer(i)) => Some(*i as f64),
            Some(_) => None,
            None => self.entry.text.trim().parse::<f64>().ok(),
        };
        match value {
            Some(f) => visitor.visit_f64(f).map_err(|e| self.context(e)),
            None => Err(self.wrong("a number", "")),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.config.note_read(&self.key, "text");
        match &self.entry.toml {
            Some(toml::Value::Array(_)) => Err(self.wrong("text", ", not a list")),
            _ => visitor.visit_str(&self.entry.text).map_err(|e| self.context(e)),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, DeError> {
        Err(self.wrong("no value", ""))
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.config.note_read(&self.key, "a list");
        let items: Vec<Entry> = match &self.entry.toml {
            Some(toml::Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    toml::Value::String(s) => Entry { text: s.clone(), toml: None, origin: self.entry.origin },
                    other => Entry { text: other.to_string(), toml: Some(other.clone()), origin: self.entry.origin },
                })
                .collect(),
            Some(_) => return Err(self.wrong("a list", " such as [\"a\", \"b\"]")),
            None if self.entry.text.trim().is_empty() => Vec::new(),
            None => self.entry.text.split(',').map(|s| Entry { text: s.trim().to_string(), toml: None, origin: self.entry.origin }).collect(),
        };
        visitor.visit_seq(Items { config: self.config, key: &self.key, items, at: 0 }).map_err(|e| self.context(e))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(self, _name: &'static str, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, DeError> {
        Err(self.wrong("a table of keys", &format!(" (`{}.<name> = ...`)", self.key)))
    }

    fn deserialize_struct<V: Visitor<'de>>(self, _name: &'static str, fields: &'static [&'static str], _visitor: V) -> Result<V::Value, DeError> {
        let keys: Vec<String> = fields.iter().map(|f| format!("`{}.{f}`", self.key)).collect();
        Err(self.wrong("a table of keys", &format!(": {}", keys.join(", "))))
    }

    fn deserialize_enum<V: Visitor<'de>>(self, _name: &'static str, variants: &'static [&'static str], visitor: V) -> Result<V::Value, DeError> {
        let expected = one_of(variants);
        self.config.note_read(&self.key, &expected);
        let text = self.entry.text.trim();
        if !variants.contains(&text) {
            let hint = closest(text, variants.iter().copied()).map(|c| format!(" (did you mean \"{c}\"?)")).unwrap_or_default();
            return Err(self.wrong(&expected, &hint));
        }
        visitor.visit_enum(text.into_deserializer()).map_err(|e: DeError| self.context(e))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}

/// The items of a list value.
struct Items<'a> {
    config: &'a Config,
    key: &'a str,
    items: Vec<Entry>,
    at: usize,
}

impl<'de> SeqAccess<'de> for Items<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, DeError> {
        let at = self.at;
        if at >= self.items.len() {
            return Ok(None);
        }
        self.at += 1;
        let key = format!("{}[{at}]", self.key);
        seed.deserialize(Leaf { config: self.config, key, entry: &self.items[at] }).map(Some)
    }
}
