//! Small helpers shared by the IAM resource types (tags, ARNs, not-found handling).

use std::collections::BTreeMap;

use aws_sdk_iam::types::Tag;
use strake::Value;
use strake::provider::ProviderError;

use crate::error::AwsFailure;
use crate::provider::Aws;
use crate::resources::tags_value;

/// The partition of the configured account (`aws`, `aws-cn`, ...), from the caller's ARN.
pub(crate) fn partition(aws: &Aws) -> &str {
    aws.caller.arn.split(':').nth(1).filter(|p| !p.is_empty()).unwrap_or("aws")
}

/// `arn:<partition>:iam::<account>:<resource>` for the configured account.
pub(crate) fn iam_arn(aws: &Aws, resource: &str) -> String {
    format!("arn:{}:iam::{}:{resource}", partition(aws), aws.caller.account)
}

/// Tags as the SDK takes them.
pub(crate) fn tag_list(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect()
}

/// Tags from an SDK response, sorted by key.
pub(crate) fn tags_from_aws(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter().map(|t| (t.key().to_string(), t.value().to_string())).collect()
}

/// What turns `before` into `after`: the keys to remove and the tags to set.
pub(crate) fn tag_changes(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> (Vec<String>, BTreeMap<String, String>) {
    let removed = before.keys().filter(|k| !after.contains_key(*k)).cloned().collect();
    let set = after.iter().filter(|(k, v)| before.get(*k) != Some(*v)).map(|(k, v)| (k.clone(), v.clone())).collect();
    (removed, set)
}

/// Adds the current tags to read-back inputs when the program manages tags or the object has some
/// (so an untagged object declared without tags compares equal).
pub(crate) fn set_read_tags(inputs: &mut Value, declared: &Value, current: BTreeMap<String, String>) {
    if !current.is_empty() || declared.get("tags").is_some_and(|t| !matches!(t, Value::Null)) {
        inputs.set_path("tags", Some(tags_value(current)));
    }
}

/// The result of an SDK call where "not found" is an answer rather than an error.
pub(crate) fn found<T, E>(result: Result<T, E>, operation: &str) -> Result<Option<T>, ProviderError>
where
    AwsFailure: From<E>,
{
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) => {
            let f = AwsFailure::from(e);
            if f.is_not_found() { Ok(None) } else { Err(f.into_error(operation)) }
        }
    }
}

/// A string list input (e.g. built from outputs), for handles.
pub(crate) fn string_list<S: Into<strake::Output<String>>>(items: impl IntoIterator<Item = S>) -> strake::Output<Value> {
    let items: Vec<strake::Output<String>> = items.into_iter().map(Into::into).collect();
    strake::Output::all(items).map(|v| Value::List(v.into_iter().map(Value::String).collect()))
}

/// A known list of strings, each rewritten by `map`, sorted and de-duplicated; or what is wrong.
pub(crate) fn normalize_string_list(value: &Value, map: impl Fn(&str) -> String) -> Result<Vec<String>, String> {
    let Value::List(items) = value.reveal() else { return Err(format!("must be a list of strings, not {value}")) };
    let mut out = Vec::with_capacity(items.len());
    for item in &items {
        match item.as_str() {
            Some(s) => out.push(map(s)),
            None => return Err(format!("must be a list of strings; `{item}` is not a string")),
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}
