//! Stack configuration: `Strake.toml` beside the program, overridden by `--config key=value`.
//!
//! A program reads it typed, with a serde struct (`let s: Settings = stack.config().parse()?`):
//! a value of the wrong type is an error that names the key, the value, where it was set and what
//! was expected; a key the struct does not have is an error with the closest one it does. Keys
//! can also be read one by one (`get`, `require`). Either way every key the program reads is
//! remembered, so once the program is built a key that was set but never read (a typo, a
//! setting of another program) is an error too, and `config` lists what the program reads.

mod de;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use serde::de::DeserializeOwned;

use crate::Error;
use crate::suggest::closest;

/// Where a value was set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// In `Strake.toml`.
    File,
    /// With `--config key=value`.
    Flag,
    /// By the embedding program (`Config::from_pairs`).
    Program,
}

/// One set value: its text, and its TOML value when the file gave a typed one (a number, a
/// boolean, an array).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub text: String,
    pub toml: Option<toml::Value>,
    pub origin: Origin,
}

/// A key the program reads, and what it expects there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUse {
    /// Dotted key, e.g. `app.namespace`.
    pub key: String,
    /// `string`, `true or false`, `an integer`, `one of "a", "b"`, `a list`, ... (`any` when read
    /// as text with `get`).
    pub expects: String,
}

/// Flat `dotted.key = value` configuration of a stack, and the record of what the program read.
#[derive(Debug, Clone, Default)]
pub struct Config {
    values: BTreeMap<String, Entry>,
    /// Where the file values came from, for messages.
    source: String,
    /// Keys the program read; shared by clones (the program reads through `stack.config()`).
    read: Arc<Mutex<BTreeMap<String, String>>>,
}

impl PartialEq for Config {
    fn eq(&self, other: &Self) -> bool {
        self.values == other.values
    }
}

impl Config {
    /// Loads `Strake.toml` from `dir` (if present) and applies `overrides` (`key=value`).
    pub fn load(dir: &Path, overrides: &[String]) -> Result<Config, Error> {
        let path = dir.join("Strake.toml");
        let mut config = Config { source: path.display().to_string(), ..Default::default() };
        if path.is_dir() {
            return Err(Error::Config(format!("{} is a directory; the configuration is a TOML file", path.display())));
        }
        if path.exists() {
            let text = std::fs::read_to_string(&path).map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
            let table: toml::Table = toml::from_str(&text).map_err(|e| Error::Config(format!("{} is not valid TOML: {e}", path.display())))?;
            flatten("", &toml::Value::Table(table), &mut config.values);
        }
        for item in overrides {
            let (k, v) = item
                .split_once('=')
                .ok_or_else(|| Error::Config(format!("--config `{item}` is not of the form key=value (e.g. --config region=eu-west-1)")))?;
            let entry = Entry { text: v.to_string(), toml: None, origin: Origin::Flag };
            config.values.insert(k.trim().to_string(), entry);
        }
        Ok(config)
    }

    /// A configuration from explicit pairs (for embedding and tests).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Config {
        let values = pairs.into_iter().map(|(k, v)| (k.into(), Entry { text: v.into(), toml: None, origin: Origin::Program })).collect();
        Config { values, source: "the embedding program".into(), ..Default::default() }
    }

    /// The whole configuration as the serde type `T` (a struct whose fields are the keys; nested
    /// structs for dotted keys; `Option` and `#[serde(default)]` for optional ones; unit enums
    /// for a choice). Every problem names the key, the value, where it was set and the fix.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, Error> {
        T::deserialize(de::Root::new(self)).map_err(|e| Error::Config(e.to_string()))
    }

    /// The text of `key` (a number or boolean of the file as written), if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.note_read(key, "any");
        self.values.get(key).map(|e| e.text.as_str())
    }

    /// The text of `key`, or `default` when it is not set.
    pub fn get_or(&self, key: &str, default: &str) -> String {
        self.get(key).unwrap_or(default).to_string()
    }

    /// The value of `key`, or an error that says how to set it.
    pub fn require(&self, key: &str) -> Result<String, Error> {
        self.get(key).map(str::to_string).ok_or_else(|| Error::Config(self.missing(key)))
    }

    /// Every set key with its text.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.text.as_str()))
    }

    /// The keys the program has read so far, with what it expects there.
    pub fn reads(&self) -> Vec<KeyUse> {
        let read = self.read.lock().unwrap_or_else(PoisonError::into_inner);
        read.iter().map(|(key, expects)| KeyUse { key: key.clone(), expects: expects.clone() }).collect()
    }

    /// The value set for `key` and where, for `config` listings.
    pub fn value_of(&self, key: &str) -> Option<(&str, Origin)> {
        self.values.get(key).map(|e| (e.text.as_str(), e.origin))
    }

    /// Fails when a key is set that the program never read: a typo, or a setting another program
    /// reads. Names each such key, where it was set, and the closest key the program reads.
    pub fn check_all_read(&self) -> Result<(), Error> {
        let read = self.read.lock().unwrap_or_else(PoisonError::into_inner);
        let known: Vec<&str> = read.keys().map(String::as_str).collect();
        let unknown: Vec<String> = self
            .values
            .iter()
            .filter(|(k, _)| !read.contains_key(*k))
            .map(|(k, e)| {
                let hint = closest(k, known.iter().copied()).map(|c| format!("; did you mean `{c}`?")).unwrap_or_default();
                format!("`{k}` ({}){hint}", self.where_set(e.origin))
            })
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        let reads = if known.is_empty() { "no configuration".to_string() } else { known.join(", ") };
        Err(Error::Config(format!("the program reads no configuration key {}; it reads {reads}", unknown.join(", nor "))))
    }

    /// Marks a key Strake itself reads (under `[strake]`), so it never counts as unknown.
    #[cfg(feature = "cli")]
    pub(crate) fn note_engine_key(&self, key: &str) {
        self.note_read(key, "true or false");
    }

    pub(crate) fn entry(&self, key: &str) -> Option<&Entry> {
        self.values.get(key)
    }

    /// Every set key under `prefix` (a dotted prefix ending in `.`, or empty for all).
    pub(crate) fn keys_under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.values.keys().filter(move |k| k.starts_with(prefix)).map(String::as_str)
    }

    pub(crate) fn note_read(&self, key: &str, expects: &str) {
        if key.contains('[') {
            return; // an item of a list: its key is the list's
        }
        let mut read = self.read.lock().unwrap_or_else(PoisonError::into_inner);
        let current = read.entry(key.to_string()).or_insert_with(|| expects.to_string());
        if current == "any" {
            *current = expects.to_string();
        }
    }

    pub(crate) fn where_set(&self, origin: Origin) -> String {
        match origin {
            Origin::File => format!("in {}", self.source),
            Origin::Flag => "with --config".to_string(),
            Origin::Program => "by the embedding program".to_string(),
        }
    }

    /// How to set a missing key.
    pub(crate) fn missing(&self, key: &str) -> String {
        format!("missing configuration `{key}`: set it in {} (`{key} = \"...\"`) or pass `--config {key}=...`", self.source)
    }
}

fn flatten(prefix: &str, value: &toml::Value, out: &mut BTreeMap<String, Entry>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, v, out);
            }
        }
        toml::Value::String(s) => {
            out.insert(prefix.to_string(), Entry { text: s.clone(), toml: None, origin: Origin::File });
        }
        other => {
            out.insert(prefix.to_string(), Entry { text: other.to_string(), toml: Some(other.clone()), origin: Origin::File });
        }
    }
}

#[cfg(test)]
mod tests;
