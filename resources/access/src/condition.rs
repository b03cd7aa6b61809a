//! Condition operators: one condition (operator, key, values) against a request, three-valued.

use crate::glob::{arn_matches_tokens, matches};
use crate::hints;
use crate::policy::Condition;
use crate::request::{Lookup, Request};
use crate::tri::Tri;
use crate::variables::{Expanded, expand};

/// The operators IAM has that this crate does not evaluate: a condition using one is undecided.
const NOT_MODELLED: [&str; 15] = [
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "IpAddress",
    "NotIpAddress",
    "BinaryEquals",
];

/// A modelled operator without its qualifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Bool,
    Null,
}

const BASES: [(&str, Base); 12] = [
    ("StringEquals", Base::StringEquals),
    ("StringNotEquals", Base::StringNotEquals),
    ("StringEqualsIgnoreCase", Base::StringEqualsIgnoreCase),
    ("StringNotEqualsIgnoreCase", Base::StringNotEqualsIgnoreCase),
    ("StringLike", Base::StringLike),
    ("StringNotLike", Base::StringNotLike),
    ("ArnEquals", Base::ArnEquals),
    ("ArnLike", Base::ArnLike),
    ("ArnNotEquals", Base::ArnNotEquals),
    ("ArnNotLike", Base::ArnNotLike),
    ("Bool", Base::Bool),
    ("Null", Base::Null),
];

impl Base {
    /// Negated operators hold when the key matches none of the values (and when the key is absent).
    fn negated(self) -> bool {
        matches!(self, Base::StringNotEquals | Base::StringNotEqualsIgnoreCase | Base::StringNotLike | Base::ArnNotEquals | Base::ArnNotLike)
    }

    /// Operators that compare literally, where `*` is an ordinary character.
    pub(crate) fn literal(self) -> bool {
        matches!(self, Base::StringEquals | Base::StringNotEquals | Base::StringEqualsIgnoreCase | Base::StringNotEqualsIgnoreCase)
    }

    /// Whether one request value matches one policy value, before negation.
    fn matches(self, value: &str, pattern: &str, request: &Request) -> (Tri, Option<String>) {
        if self == Base::Bool {
            return (Tri::from_bool(value.eq_ignore_ascii_case(pattern)), None);
        }
        let ignore_case = matches!(self, Base::StringEqualsIgnoreCase | Base::StringNotEqualsIgnoreCase);
        match expand(pattern, !self.literal(), request) {
            Expanded::Pattern(tokens) if matches!(self, Base::ArnEquals | Base::ArnLike | Base::ArnNotEquals | Base::ArnNotLike) => {
                (Tri::from_bool(arn_matches_tokens(&tokens, value)), None)
            }
            Expanded::Pattern(tokens) => (Tri::from_bool(matches(&tokens, value, ignore_case)), None),
            Expanded::Unknown(why) => (Tri::Unknown, Some(why)),
            Expanded::Missing(_) => (Tri::Fails, None),
        }
    }
}

/// The `ForAnyValue:` / `ForAllValues:` set qualifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Qualifier {
    Single,
    AnyValue,
    AllValues,
}

/// A parsed operator name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Operator {
    qualifier: Qualifier,
    pub(crate) base: Base,
    if_exists: bool,
}

/// Parses an operator name (case-insensitively): Err says why it is not evaluated.
pub(crate) fn parse_operator(name: &str) -> Result<Operator, &'static str> {
    let (qualifier, rest) = if let Some(rest) = strip_prefix_ci(name, "ForAnyValue:") {
        (Qualifier::AnyValue, rest)
    } else if let Some(rest) = strip_prefix_ci(name, "ForAllValues:") {
        (Qualifier::AllValues, rest)
    } else {
        (Qualifier::Single, name)
    };
    let (base_name, if_exists) = match rest.len().checked_sub("IfExists".len()) {
        Some(at) if rest.is_char_boundary(at) && rest[at..].eq_ignore_ascii_case("IfExists") => (&rest[..at], true),
        _ => (rest, false),
    };
    match BASES.iter().find(|(n, _)| n.eq_ignore_ascii_case(base_name)) {
        Some((_, Base::Null)) if if_exists || qualifier != Qualifier::Single => Err("operator not recognised"),
        Some((_, base)) => Ok(Operator { qualifier, base: *base, if_exists }),
        None if NOT_MODELLED.iter().any(|n| n.eq_ignore_ascii_case(base_name)) => Err("operator not modelled"),
        None => Err("operator not recognised"),
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    (s.len() >= prefix.len() && s.is_char_boundary(prefix.len()) && s[..prefix.len()].eq_ignore_ascii_case(prefix)).then(|| &s[prefix.len()..])
}

/// A condition's outcome for a request, with the line that explains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub tri: Tri,
    /// What was compared, in English (without the statement's name).
    pub line: String,
    /// For Unknown: the condition as written plus why it could not be decided.
    pub unknown: Option<String>,
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

fn list(values: &[String]) -> String {
    serde_json::to_string(values).unwrap_or_default()
}

/// Evaluates one condition against a request.
pub(crate) fn evaluate(condition: &Condition, request: &Request) -> Outcome {
    let head = format!("{} {}", condition.operator, quoted(&condition.key));
    let wanted = list(&condition.values);
    let undecided = |why: &str| {
        let text = format!("{head}: {wanted} ({why})");
        Outcome { tri: Tri::Unknown, line: text.clone(), unknown: Some(text) }
    };
    let op = match parse_operator(&condition.operator) {
        Ok(op) => op,
        Err(why) => return undecided(why),
    };
    let lookup = request.lookup(&condition.key);
    // Null asks only whether the key is there: decided when it does not matter (["true", "false"]).
    let null_holds =
        |absent: bool| condition.values.iter().any(|v| if absent { v.eq_ignore_ascii_case("true") } else { v.eq_ignore_ascii_case("false") });
    if op.base == Base::Null && lookup == Lookup::Unknown && null_holds(true) && null_holds(false) {
        return Outcome { tri: Tri::Holds, line: format!("{head} is {wanted}, which holds whether or not the request has the key"), unknown: None };
    }
    let present = match lookup {
        Lookup::Unknown => return undecided("key not known at plan time"),
        Lookup::Absent => None,
        Lookup::Values(values) => Some(values),
    };
    if op.base == Base::Null {
        let tri = Tri::from_bool(null_holds(present.is_none()));
        let has = present.as_deref().map_or("does not have the key".to_string(), |v| format!("has {}", list(v)));
        let verdict = if tri == Tri::Holds { ": holds" } else { "" };
        return Outcome { tri, line: format!("{head} is {wanted}, the request {has}{verdict}"), unknown: None };
    }
    let Some(values) = present else {
        let (tri, why) = match (op.if_exists, op.qualifier) {
            (true, _) => (Tri::Holds, "IfExists holds"),
            (false, Qualifier::AllValues) => (Tri::Holds, "ForAllValues holds on an empty set"),
            (false, Qualifier::AnyValue) => (Tri::Fails, ""),
            (false, Qualifier::Single) if op.base.negated() => (Tri::Holds, "a negated operator holds"),
            (false, Qualifier::Single) => (Tri::Fails, ""),
        };
        let line = if tri == Tri::Holds {
            format!("{head} is {wanted}, the request does not have the key, and without it {why}")
        } else {
            hints::with_hints(format!("{head} is {wanted}, the request does not have the key"), condition, op.base, None, request)
        };
        return Outcome { tri, line, unknown: None };
    };
    let mut why_unknown = None;
    let per_value: Vec<Tri> = values
        .iter()
        .map(|value| {
            Tri::any(condition.values.iter().map(|pattern| {
                let (tri, why) = op.base.matches(value, pattern, request);
                why_unknown = why_unknown.take().or(why);
                tri
            }))
        })
        .collect();
    let per_value = per_value.into_iter().map(|t| if op.base.negated() { t.not() } else { t });
    let tri = match (op.qualifier, op.base.negated()) {
        (Qualifier::AllValues, _) | (Qualifier::Single, true) => Tri::all(per_value),
        (Qualifier::AnyValue, _) | (Qualifier::Single, false) => Tri::any(per_value),
    };
    match tri {
        Tri::Unknown => undecided(why_unknown.as_deref().unwrap_or("not decidable at plan time")),
        Tri::Holds => Outcome { tri, line: format!("{head} is {wanted}, the request has {}: holds", list(&values)), unknown: None },
        Tri::Fails => {
            let line = format!("{head} is {wanted}, the request has {}", list(&values));
            Outcome { tri, line: hints::with_hints(line, condition, op.base, Some(&values), request), unknown: None }
        }
    }
}

#[cfg(test)]
#[path = "condition_tests.rs"]
mod tests;
