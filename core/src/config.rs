//! Stack configuration: `Strake.toml` beside the program, overridden by `--config key=value`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::Error;

/// Flat `dotted.key = "value"` configuration of a stack.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    values: BTreeMap<String, String>,
    /// Where the values came from, for error messages.
    source: String,
}

impl Config {
    /// Loads `Strake.toml` from `dir` (if present) and applies `overrides` (`key=value`).
    pub fn load(dir: &Path, overrides: &[String]) -> Result<Config, Error> {
        let path = dir.join("Strake.toml");
        let mut config = Config { values: BTreeMap::new(), source: path.display().to_string() };
        if path.exists() {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
            let table: toml::Table =
                toml::from_str(&text).map_err(|e| Error::Config(format!("{} is not valid TOML: {e}", path.display())))?;
            flatten("", &toml::Value::Table(table), &mut config.values);
        }
        for item in overrides {
            let (k, v) = item.split_once('=').ok_or_else(|| {
                Error::Config(format!("--config `{item}` is not of the form key=value (e.g. --config region=eu-west-1)"))
            })?;
            config.values.insert(k.trim().to_string(), v.to_string());
        }
        Ok(config)
    }

    /// A configuration from explicit pairs (for embedding and tests).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Config {
        Config {
            values: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
            source: "the embedding program".into(),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    pub fn get_or(&self, key: &str, default: &str) -> String {
        self.get(key).unwrap_or(default).to_string()
    }

    /// The value of `key`, or an error that says how to set it.
    pub fn require(&self, key: &str) -> Result<String, Error> {
        self.get(key).map(str::to_string).ok_or_else(|| {
            Error::Config(format!(
                "missing configuration `{key}`: set it in {} (`{key} = \"...\"`) or pass `--config {key}=...`",
                self.source
            ))
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

fn flatten(prefix: &str, value: &toml::Value, out: &mut BTreeMap<String, String>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, v, out);
            }
        }
        toml::Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_overrides() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Strake.toml"), "region = \"eu-west-1\"\n[account_b]\nrole_arn = \"arn:x\"\ncount = 3\n").unwrap();
        let c = Config::load(dir.path(), &["region=us-east-1".into()]).unwrap();
        assert_eq!(c.get("region"), Some("us-east-1"));
        assert_eq!(c.get("account_b.role_arn"), Some("arn:x"));
        assert_eq!(c.get("account_b.count"), Some("3"));
        let err = c.require("cluster").unwrap_err().to_string();
        assert!(err.contains("--config cluster=") && err.contains("Strake.toml"), "{err}");
        assert!(Config::load(dir.path(), &["novalue".into()]).is_err());
    }
}
