//! [`Check`]: a resource's inputs at plan time, with the problems found in them.

use std::fmt::Display;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::schema::{Field, Known, Partial, Rules, Schema};
use crate::provider::CheckFailure;
use crate::{Urn, Value};

/// The inputs of one resource being checked (values may be unknown until apply), and the
/// failures (which stop the plan) and warnings found so far. Core applies the schema and its
/// [`Rules`] first; a type's own `check` adds what only it knows.
#[derive(Debug)]
pub struct Check<S> {
    urn: Urn,
    inputs: Partial<S>,
    prior: Option<Partial<S>>,
    failures: Vec<CheckFailure>,
    warnings: Vec<CheckFailure>,
}

impl<S: Schema> Check<S> {
    pub(crate) fn new(urn: Urn, inputs: Value, prior: Option<Value>) -> Self {
        Check { urn, inputs: Partial::from_value(inputs), prior: prior.map(Partial::from_value), failures: Vec::new(), warnings: Vec::new() }
    }

    /// The resource being checked.
    pub fn urn(&self) -> &Urn {
        &self.urn
    }

    /// The inputs as checked so far.
    pub fn inputs(&self) -> &Partial<S> {
        &self.inputs
    }

    /// The inputs recorded in state, when the resource exists.
    pub fn prior(&self) -> Option<&Partial<S>> {
        self.prior.as_ref()
    }

    /// The field's state.
    pub fn get<T: DeserializeOwned>(&self, field: Field<S, T>) -> Known<T> {
        self.inputs.get(field)
    }

    /// The field's value, if set and known.
    pub fn known<T: DeserializeOwned>(&self, field: Field<S, T>) -> Option<T> {
        self.inputs.known(field)
    }

    /// Sets (normalizes) a field.
    pub fn set<T: Serialize>(&mut self, field: Field<S, T>, value: T) {
        self.inputs.set(field, value);
    }

    /// Marks a field as known only after apply (derived from values not known yet).
    pub fn set_unknown<T>(&mut self, field: Field<S, T>) {
        self.inputs.set_unknown(field);
    }

    /// Sets a field derived from others, marked secret when `secret` is.
    pub fn set_secret_if<T: Serialize>(&mut self, field: Field<S, T>, value: T, secret: bool) {
        self.inputs.set_secret_if(field, value, secret);
    }

    /// Whether any part of the field's value is secret.
    pub fn is_secret<T>(&self, field: Field<S, T>) -> bool {
        self.inputs.is_secret(field)
    }

    /// Removes a field (a default that is better left out of the record).
    pub fn remove<T>(&mut self, field: Field<S, T>) {
        self.inputs.remove(field);
    }

    /// Sets the field when the program left it out, to the recorded value if there is one
    /// (so a default that changes later never replaces existing objects), else to `default`.
    pub fn default_or_prior<T: Serialize>(&mut self, field: Field<S, T>, default: impl FnOnce() -> Option<T>) {
        if self.inputs.is_set(field) {
            return;
        }
        match self.prior.as_ref().and_then(|p| p.raw(field.name())).filter(|v| !matches!(v, Value::Null)).cloned() {
            Some(prior) => self.inputs.set_raw(field.name(), Some(prior)),
            None => {
                if let Some(value) = default() {
                    self.inputs.set(field, value);
                }
            }
        }
    }

    /// Runs `rule` on the field's value when it is known; its error is a failure of the field.
    pub fn validate<T: DeserializeOwned>(&mut self, field: Field<S, T>, rule: impl FnOnce(&T) -> Result<(), String>) {
        if let Some(value) = self.known(field)
            && let Err(reason) = rule(&value)
        {
            self.fail(field, reason);
        }
    }

    /// Replaces the field's known value with `rule`'s normalized one, or records its error.
    pub fn normalize<T: DeserializeOwned + Serialize>(&mut self, field: Field<S, T>, rule: impl FnOnce(T) -> Result<T, String>) {
        if let Some(value) = self.known(field) {
            match rule(value) {
                Ok(normal) => self.set(field, normal),
                Err(reason) => self.fail(field, reason),
            }
        }
    }

    /// A problem with a field that stops the plan. `reason` says the rule and the fix.
    pub fn fail<T>(&mut self, field: Field<S, T>, reason: impl Into<String>) {
        self.fail_at(field.name(), reason);
    }

    /// A problem at a path inside a field (`tags.env`).
    pub fn fail_at(&mut self, path: impl Display, reason: impl Into<String>) {
        self.failures.push(CheckFailure::new(path.to_string(), reason));
    }

    /// A problem worth knowing that does not stop the plan.
    pub fn warn<T>(&mut self, field: Field<S, T>, reason: impl Into<String>) {
        self.warn_at(field.name(), reason);
    }

    /// A warning at a path inside a field (`tags.env`).
    pub fn warn_at(&mut self, path: impl Display, reason: impl Into<String>) {
        self.warnings.push(CheckFailure::new(path.to_string(), reason));
    }

    /// Whether a failure has been found.
    pub fn has_failed(&self) -> bool {
        !self.failures.is_empty()
    }

    /// The schema's rules, applied before the type's own checks: unknown properties, generated
    /// names, defaults and types ([`Self::require_fields`] comes after). `type_token` names the
    /// type in errors.
    pub(crate) fn apply_schema(&mut self, type_token: &str, rules: &Rules) {
        if let Value::Map(map) = self.inputs.value() {
            let unknown: Vec<String> = map.keys().filter(|k| S::field(k).is_none()).cloned().collect();
            for key in unknown {
                let names = S::FIELDS.iter().map(|f| f.name);
                let reason = match crate::suggest::closest(&key, names) {
                    Some(near) => format!("`{}` has no property `{key}`; did you mean `{near}`?", type_token),
                    None => format!(
                        "`{}` has no property `{key}`; its properties are {}",
                        type_token,
                        S::FIELDS.iter().map(|f| format!("`{}`", f.name)).collect::<Vec<_>>().join(", ")
                    ),
                };
                self.fail_at(&key, reason);
            }
        }
        if let Some((name, max)) = rules.generated_name
            && self.inputs.raw(name).is_none_or(|v| matches!(v, Value::Null))
        {
            let prior = self.prior.as_ref().and_then(|p| p.raw(name)).filter(|v| !matches!(v, Value::Null)).cloned();
            let generated = prior.unwrap_or_else(|| Value::from(generated_name(&self.urn, max)));
            self.inputs.set_raw(name, Some(generated));
        }
        for field in S::FIELDS {
            let value = self.inputs.raw(field.name).filter(|v| !matches!(v, Value::Null)).cloned();
            match value {
                None => {
                    if let Some(default) = field.default {
                        self.inputs.set_raw(field.name, Some(default()));
                    }
                }
                Some(value) => {
                    if let Err(reason) = (field.check)(&value) {
                        self.fail_at(field.name, reason);
                    }
                }
            }
        }
    }

    /// Required fields still absent after the type's own checks (which may fill some in from
    /// the provider's configuration), unless a failure names them already.
    pub(crate) fn require_fields(&mut self) {
        for field in S::FIELDS.iter().filter(|f| f.required) {
            let absent = self.inputs.raw(field.name).is_none_or(|v| matches!(v, Value::Null));
            if absent && !self.failures.iter().any(|f| f.property == field.name) {
                let what = if field.doc.is_empty() { String::new() } else { format!(": {}", field.doc) };
                self.fail_at(field.name, format!("is required{what}"));
            }
        }
    }

    pub(crate) fn finish(self) -> crate::provider::CheckResponse {
        crate::provider::CheckResponse { inputs: self.inputs.into_value(), failures: self.failures, warnings: self.warnings }
    }
}

/// A stable generated name: `<resource name>-<7 hex>` (hex from the URN), at most `max` long.
/// Generated at plan time, so it is in the planned inputs and recorded before create.
pub fn generated_name(urn: &Urn, max: usize) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(urn.as_str().as_bytes());
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let suffix = &hex[..7];
    let base: String = urn.name().chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' }).collect();
    let keep = max.saturating_sub(suffix.len() + 1);
    format!("{}-{suffix}", &base[..base.len().min(keep)])
}
