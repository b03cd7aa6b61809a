//! The resource types of the `aws` package. Adding one means one file plus one line in [`registry`].

pub mod eks;
pub mod iam;
pub mod s3;
pub mod sts;

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use strake::provider::*;
use strake::{Urn, Value};

use crate::policy::{PolicyKind, canonical, parse_document, validate};
use crate::provider::Aws;

/// One resource type: the provider contract, with the configured account at hand.
#[async_trait]
pub(crate) trait AwsResource: Send + Sync {
    fn check(&self, aws: &Aws, req: CheckRequest) -> CheckResponse;

    fn diff(&self, req: DiffRequest) -> DiffResponse {
        DiffResponse { changes: strake::diff::changed_properties(&req.old_inputs, &req.new_inputs), ..Default::default() }
    }

    fn preview(&self, _aws: &Aws, _req: PreviewRequest) -> Value {
        Value::Unknown
    }

    async fn create(&self, aws: &Aws, req: CreateRequest) -> Result<CreateResponse, ProviderError>;
    async fn read(&self, aws: &Aws, req: ReadRequest) -> Result<ReadResponse, ProviderError>;
    async fn update(&self, aws: &Aws, req: UpdateRequest) -> Result<UpdateResponse, ProviderError>;
    async fn delete(&self, aws: &Aws, req: DeleteRequest) -> Result<(), ProviderError>;
}

/// The type of `type_token`, if the package has it. Each service module registers its own types.
pub(crate) fn registry(type_token: &str) -> Option<&'static dyn AwsResource> {
    iam::registry(type_token)
        .or_else(|| s3::registry(type_token))
        .or_else(|| eks::registry(type_token))
        .or_else(|| sts::registry(type_token))
}

/// A field of inputs that may be unknown at plan time.
pub(crate) enum Field<'a> {
    Absent,
    Unknown,
    Known(&'a Value),
}

pub(crate) fn field<'a>(inputs: &'a Value, key: &str) -> Field<'a> {
    match inputs.get(key) {
        None | Some(Value::Null) => Field::Absent,
        Some(v) if !v.is_known() => Field::Unknown,
        Some(v) => Field::Known(v),
    }
}

/// A known string field, if present.
pub(crate) fn known_str<'a>(inputs: &'a Value, key: &str) -> Option<&'a str> {
    match field(inputs, key) {
        Field::Known(v) => v.as_str(),
        _ => None,
    }
}

/// A known plain JSON field.
pub(crate) fn known_json(inputs: &Value, key: &str) -> Option<Json> {
    match field(inputs, key) {
        Field::Known(v) => v.to_plain_json(),
        _ => None,
    }
}

/// Validates a string field with `rule` when it is known.
pub(crate) fn check_str(inputs: &Value, key: &str, failures: &mut Vec<CheckFailure>, rule: impl Fn(&str) -> Result<(), String>) {
    match field(inputs, key) {
        Field::Known(Value::String(s)) => {
            if let Err(e) = rule(s) {
                failures.push(CheckFailure::new(key, e));
            }
        }
        Field::Known(other) => failures.push(CheckFailure::new(key, format!("must be a string, not {other}"))),
        _ => {}
    }
}

/// Requires a field to be set.
pub(crate) fn require(inputs: &Value, key: &str, what: &str, failures: &mut Vec<CheckFailure>) {
    if matches!(field(inputs, key), Field::Absent) {
        failures.push(CheckFailure::new(key, format!("is required: {what}")));
    }
}

/// Parses, validates and canonicalizes a policy document field in place.
pub(crate) fn check_policy(inputs: &mut Value, key: &str, kind: PolicyKind, failures: &mut Vec<CheckFailure>, warnings: &mut Vec<CheckFailure>) {
    let Some(raw) = known_json(inputs, key) else { return };
    match parse_document(&raw) {
        Ok(doc) => {
            let doc = canonical(&doc);
            for problem in validate(&doc, kind) {
                failures.push(CheckFailure::new(key, format!("the policy {problem}")));
            }
            for warning in crate::policy::warnings(&doc) {
                warnings.push(CheckFailure::new(key, format!("the policy {warning}")));
            }
            inputs.set_path(key, Some(Value::from_json(doc)));
        }
        Err(e) => failures.push(CheckFailure::new(key, format!("the policy {e}"))),
    }
}

/// A policy document from AWS (string, possibly URL-encoded) in canonical form.
pub(crate) fn document_from_aws(text: &str) -> Value {
    match parse_document(&Json::String(text.to_string())) {
        Ok(doc) => Value::from_json(canonical(&doc)),
        Err(_) => Value::from(text),
    }
}

/// A policy document field as the JSON text AWS takes.
pub(crate) fn document_text(inputs: &Value, key: &str) -> Option<String> {
    known_json(inputs, key).map(|j| match j {
        Json::String(s) => s,
        other => other.to_string(),
    })
}

/// A stable generated name: `<resource name>-<7 hex>` (hex from the URN), at most `max` long.
/// Generated in `check`, so it is in the planned inputs and recorded before create.
pub(crate) fn auto_name(urn: &Urn, max: usize) -> String {
    let digest = Sha256::digest(urn.as_str().as_bytes());
    let suffix: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect::<String>()[..7].to_string();
    let base: String = urn.name().chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' }).collect();
    let keep = max.saturating_sub(suffix.len() + 1);
    format!("{}-{suffix}", &base[..base.len().min(keep)])
}

/// Tags as a sorted map (inputs hold `tags` as a map of strings).
pub(crate) fn tags(inputs: &Value) -> BTreeMap<String, String> {
    match inputs.get("tags").map(Value::reveal) {
        Some(Value::Map(m)) => m.into_iter().filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_string()))).collect(),
        _ => BTreeMap::new(),
    }
}

/// Checks tag keys and values against AWS's limits.
pub(crate) fn check_tags(inputs: &Value, failures: &mut Vec<CheckFailure>) {
    if let Field::Known(Value::Map(m)) = field(inputs, "tags") {
        for (k, v) in m {
            if k.is_empty() || k.len() > 128 || k.starts_with("aws:") {
                failures.push(CheckFailure::new(format!("tags.{k}"), "tag keys are 1-128 characters and may not start with `aws:`"));
            }
            if let Some(s) = v.as_str()
                && s.len() > 256
            {
                failures.push(CheckFailure::new(format!("tags.{k}"), "tag values are at most 256 characters"));
            }
        }
    }
}

/// Tags as a value for inputs/outputs.
pub(crate) fn tags_value(tags: impl IntoIterator<Item = (String, String)>) -> Value {
    Value::Map(tags.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
}

/// An error for calls a data source does not support.
pub(crate) fn read_only(what: &str) -> ProviderError {
    ProviderError::permanent(format!("{what} is a data source: it is only read, never created, updated or deleted"))
}
