//! Policy variables (`${aws:username}`) in resources and condition values, resolved from the request.

use crate::glob::{Tok, tokens};
use crate::request::{Lookup, Request};

/// A pattern with its variables resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expanded {
    /// Every variable was known: the pattern to match.
    Pattern(Vec<Tok>),
    /// A variable is not known at plan time; the text says which.
    Unknown(String),
    /// A variable's key is absent from the request and has no default: the value matches nothing.
    Missing(String),
}

/// Resolves `${key}`, `${key, 'default'}` and the escapes `${*}`, `${?}`, `${$}` in `value`.
/// Variable values are literal text; `*` and `?` written in `value` are wildcards when `wildcards` is set.
pub(crate) fn expand(value: &str, wildcards: bool, request: &Request) -> Expanded {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start..].find('}') else { break };
        out.extend(tokens(&rest[..start], wildcards));
        let inner = rest[start + 2..start + len].trim();
        rest = &rest[start + len + 1..];
        match inner {
            "*" | "?" | "$" => out.extend(inner.chars().map(Tok::Lit)),
            _ => {
                let (key, default) = split_default(inner);
                match request.lookup(key) {
                    Lookup::Values(values) if values.len() == 1 => out.extend(values[0].chars().map(Tok::Lit)),
                    Lookup::Values(_) => return Expanded::Unknown(format!("policy variable ${{{key}}} names a multi-valued key")),
                    Lookup::Absent => match default {
                        Some(default) => out.extend(default.chars().map(Tok::Lit)),
                        None => return Expanded::Missing(key.to_string()),
                    },
                    Lookup::Unknown => return Expanded::Unknown(format!("policy variable ${{{key}}} not known at plan time")),
                }
            }
        }
    }
    out.extend(tokens(rest, wildcards));
    Expanded::Pattern(out)
}

/// `key, 'default'` → (key, Some(default)); `key` → (key, None).
fn split_default(inner: &str) -> (&str, Option<&str>) {
    match inner.split_once(',') {
        Some((key, default)) => (key.trim(), Some(default.trim().trim_matches('\''))),
        None => (inner, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::glob::matches;
    use crate::request::Principal;

    fn alice() -> Request {
        Request::new(Principal::User { arn: "arn:aws:iam::111111111111:user/alice".into() }, "s3:GetObject", "arn:aws:s3:::b/alice/x")
    }

    fn matches_after(value: &str, request: &Request, text: &str) -> bool {
        match expand(value, true, request) {
            Expanded::Pattern(pattern) => matches(&pattern, text, false),
            other => panic!("not a pattern: {other:?}"),
        }
    }

    #[test]
    fn known_variables_are_substituted_literally() {
        assert!(matches_after("arn:aws:s3:::b/${aws:username}/*", &alice(), "arn:aws:s3:::b/alice/x"));
        assert!(!matches_after("arn:aws:s3:::b/${aws:username}/*", &alice(), "arn:aws:s3:::b/bob/x"));
        let starry = alice().context("aws:userid", ["a*"]);
        assert!(!matches_after("${aws:userid}", &starry, "abc"));
        assert!(matches_after("${aws:userid}", &starry, "a*"));
    }

    #[test]
    fn escapes_and_defaults() {
        assert!(matches_after("a${*}b", &alice(), "a*b"));
        assert!(!matches_after("a${*}b", &alice(), "axb"));
        assert!(matches_after("${$}{x}", &alice(), "${x}"));
        let complete = alice().complete();
        assert!(matches_after("team-${aws:PrincipalTag/team, 'none'}", &complete, "team-none"));
        assert_eq!(expand("${aws:PrincipalTag/team}", true, &complete), Expanded::Missing("aws:PrincipalTag/team".into()));
    }

    #[test]
    fn unknown_and_multi_valued_variables_stay_undecided() {
        assert!(matches!(expand("${aws:PrincipalTag/team}", true, &alice()), Expanded::Unknown(why) if why.contains("not known at plan time")));
        let multi = alice().context("aws:TagKeys", ["a", "b"]);
        assert!(matches!(expand("${aws:TagKeys}", true, &multi), Expanded::Unknown(why) if why.contains("multi-valued")));
    }

    #[test]
    fn unterminated_variable_is_text() {
        assert!(matches_after("a${b", &alice(), "a${b"));
    }
}
