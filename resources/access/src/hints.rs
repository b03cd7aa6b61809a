//! Hints appended to a failed condition's line: the usual ways a web identity trust goes wrong.

use crate::condition::Base;
use crate::policy::Condition;
use crate::request::Request;

const SERVICE_ACCOUNT: &str = "system:serviceaccount:";
const AUDIENCE: &str = "sts.amazonaws.com";

fn key_ends(key: &str, suffix: &str) -> bool {
    key.len() >= suffix.len() && key.is_char_boundary(key.len() - suffix.len()) && key[key.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

/// `line` followed by whatever hints apply, each after "; ".
pub(crate) fn with_hints(line: String, condition: &Condition, base: Base, request_values: Option<&[String]>, request: &Request) -> String {
    let mut hints = Vec::new();
    if base.literal() && condition.values.iter().any(|v| has_wildcard(v)) {
        hints.push(format!("{} compares literally, so \"*\" and \"?\" are not wildcards there (StringLike matches them)", condition.operator));
    }
    let key = condition.key.as_str();
    let swapped_aud = key_ends(key, ":aud") && condition.values.iter().any(|v| v.starts_with(SERVICE_ACCOUNT));
    let swapped_sub = key_ends(key, ":sub") && condition.values.iter().any(|v| v == AUDIENCE);
    if swapped_aud || swapped_sub {
        hints.push(format!(
            "\":aud\" is the token's audience ({AUDIENCE}) and \":sub\" its subject ({SERVICE_ACCOUNT}<namespace>:<name>): are aud and sub swapped?"
        ));
    }
    if key_ends(key, ":sub")
        && let Some([value]) = request_values
        && let Some(hint) = service_account_hint(value, &condition.values)
    {
        hints.push(hint);
    }
    if request_values.is_none()
        && let Some(hint) = other_issuer_hint(key, request)
    {
        hints.push(hint);
    }
    if hints.is_empty() { line } else { format!("{line}; {}", hints.join("; ")) }
}

/// A `*` or `?` outside policy variables.
fn has_wildcard(value: &str) -> bool {
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        if rest[..start].contains(['*', '?']) {
            return true;
        }
        match rest[start..].find('}') {
            Some(end) => rest = &rest[start + end + 1..],
            None => return rest.contains(['*', '?']),
        }
    }
    rest.contains(['*', '?'])
}

/// Names the part of a service account subject that differs.
fn service_account_hint(requested: &str, wanted: &[String]) -> Option<String> {
    let (namespace, name) = requested.strip_prefix(SERVICE_ACCOUNT)?.split_once(':')?;
    let (want_namespace, want_name) = wanted.iter().filter(|w| !has_wildcard(w)).find_map(|w| w.strip_prefix(SERVICE_ACCOUNT)?.split_once(':'))?;
    if namespace == want_namespace && name != want_name {
        Some(format!("same namespace {namespace}, but the service account is {name} in the request and {want_name} in the policy"))
    } else if namespace != want_namespace {
        Some(format!("the namespace is {namespace} in the request and {want_namespace} in the policy"))
    } else {
        None
    }
}

/// For an absent provider key (`<issuer>:sub`): the request's key with the same claim under another issuer.
fn other_issuer_hint(key: &str, request: &Request) -> Option<String> {
    let (issuer, claim) = key.rsplit_once(':')?;
    if issuer.eq_ignore_ascii_case("aws") || !issuer.contains('/') {
        return None;
    }
    let other =
        request.context.keys().find(|k| k.rsplit_once(':').is_some_and(|(i, c)| c.eq_ignore_ascii_case(claim) && !i.eq_ignore_ascii_case(issuer)))?;
    Some(format!("the request has \"{other}\" instead: is the issuer in the key right?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_inside_variables_do_not_count() {
        assert!(has_wildcard("system:serviceaccount:ns:*"));
        assert!(!has_wildcard("${aws:username}"));
        assert!(!has_wildcard("a${*}b"));
        assert!(has_wildcard("?${x}"));
        assert!(has_wildcard("${x}*"));
    }

    #[test]
    fn service_account_differences() {
        let wanted = ["system:serviceaccount:payments:api".to_string()];
        let hint = service_account_hint("system:serviceaccount:payments:worker", &wanted).unwrap();
        assert!(hint.contains("worker in the request and api in the policy"), "{hint}");
        let hint = service_account_hint("system:serviceaccount:billing:api", &wanted).unwrap();
        assert!(hint.contains("namespace is billing"), "{hint}");
        assert_eq!(service_account_hint("system:serviceaccount:payments:api", &wanted), None);
    }
}
