//! Small helpers shared by the IAM resource types (tags, not-found handling, lists).

use aws_sdk_iam::types::Tag;
use strake::provider::ProviderError;

use crate::resources::Tags;

/// The error for an IAM entity that vanished between plan and apply.
pub(crate) fn gone(what: &str) -> ProviderError {
    ProviderError::coded("NoSuchEntity", format!("{what} no longer exists; plan again to create it"))
}

/// Tags as the SDK takes them.
pub(crate) fn tag_list(tags: &Tags) -> Vec<Tag> {
    tags.iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect()
}

/// Tags as the SDK takes them, or none for an empty map.
pub(crate) fn some_tags(tags: Option<&Tags>) -> Option<Vec<Tag>> {
    tags.map(tag_list).filter(|t| !t.is_empty())
}

/// Tags from an SDK response, sorted by key.
pub(crate) fn tags_from_aws(tags: &[Tag]) -> Tags {
    tags.iter().map(|t| (t.key().to_string(), t.value().to_string())).collect()
}

/// What turns `before` into `after`: the keys to remove and the tags to set.
pub(crate) fn tag_changes(before: Option<&Tags>, after: Option<&Tags>) -> (Vec<String>, Tags) {
    let (empty_before, empty_after) = (Tags::new(), Tags::new());
    let (before, after) = (before.unwrap_or(&empty_before), after.unwrap_or(&empty_after));
    let removed = before.keys().filter(|k| !after.contains_key(*k)).cloned().collect();
    let set = after.iter().filter(|(k, v)| before.get(*k) != Some(*v)).map(|(k, v)| (k.clone(), v.clone())).collect();
    (removed, set)
}

/// A string list input (e.g. built from outputs), for handles.
pub(crate) fn string_list<S: Into<strake::Output<String>>>(items: impl IntoIterator<Item = S>) -> strake::Output<Vec<String>> {
    let items: Vec<strake::Output<String>> = items.into_iter().map(Into::into).collect();
    strake::Output::all(items)
}

/// A list of strings, each rewritten by `map`, sorted and de-duplicated.
pub(crate) fn normalize_string_list(items: Vec<String>, map: impl Fn(&str) -> String) -> Vec<String> {
    let mut out: Vec<String> = items.iter().map(|s| map(s)).collect();
    out.sort();
    out.dedup();
    out
}
