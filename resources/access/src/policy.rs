//! Policy documents: parsing IAM's JSON grammar into statements.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

/// A parsed policy document, with the name it is shown by (e.g. "policy s3_read", "trust of role s3").
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// The name the policy is shown by in explanations.
    pub name: String,
    /// The statements, in document order.
    pub statements: Vec<Statement>,
}

/// Whether a statement allows or denies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// `"Effect": "Allow"`.
    Allow,
    /// `"Effect": "Deny"`.
    Deny,
}

/// One statement of a policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// Its position in the document's `Statement` array (0 when `Statement` is a single object).
    pub index: usize,
    /// Its `Sid`, if any.
    pub sid: Option<String>,
    /// Allow or Deny.
    pub effect: Effect,
    /// `Principal`: whom a resource policy statement names.
    pub principal: Option<Principals>,
    /// `NotPrincipal`: whom a resource policy statement excludes.
    pub not_principal: Option<Principals>,
    /// `Action` patterns.
    pub action: Option<Vec<String>>,
    /// `NotAction` patterns.
    pub not_action: Option<Vec<String>>,
    /// `Resource` patterns.
    pub resource: Option<Vec<String>>,
    /// `NotResource` patterns.
    pub not_resource: Option<Vec<String>>,
    /// The `Condition` block, one entry per operator and key.
    pub conditions: Vec<Condition>,
    /// The statement as written, for quoting.
    pub source: Json,
}

/// The principals a `Principal` or `NotPrincipal` element lists.
#[derive(Debug, Clone, PartialEq)]
pub enum Principals {
    /// "*" or {"AWS": "*"}
    Any,
    /// kind ("AWS", "Federated", "Service", "CanonicalUser") → ids
    Map(BTreeMap<String, Vec<String>>),
}

/// One condition: an operator applied to one key with one or more values.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// as written, e.g. "ForAnyValue:StringLike", "StringEqualsIfExists"
    pub operator: String,
    /// The condition key as written, e.g. "aws:SourceVpc".
    pub key: String,
    /// The values; JSON booleans and numbers are kept as their text.
    pub values: Vec<String>,
}

/// The principal kinds IAM knows in a `Principal` element.
pub(crate) const PRINCIPAL_KINDS: [&str; 4] = ["AWS", "Federated", "Service", "CanonicalUser"];

const ELEMENTS: [&str; 9] = ["Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"];

impl Policy {
    /// Parses an IAM policy document (Statement as one object or an array; Action/Resource/Principal values as a string or an array).
    /// Errors name the statement and element: ``Statement[1]: Effect `Alow` is neither Allow nor Deny``.
    pub fn parse(name: impl Into<String>, doc: &Json) -> Result<Policy, String> {
        let Some(doc) = doc.as_object() else {
            return Err(format!("the policy document is not a JSON object: {}", compact(doc)));
        };
        let statements = match doc.get("Statement") {
            None => return Err("the policy document has no Statement".to_string()),
            Some(Json::Object(_)) => vec![&doc["Statement"]],
            Some(Json::Array(items)) => items.iter().collect(),
            Some(other) => return Err(format!("Statement is neither an object nor an array: {}", compact(other))),
        };
        let statements = statements.into_iter().enumerate().map(|(i, s)| parse_statement(i, s).map_err(|e| format!("Statement[{i}]: {e}")));
        Ok(Policy { name: name.into(), statements: statements.collect::<Result<_, _>>()? })
    }
}

impl Statement {
    /// The statement as compact JSON.
    pub fn text(&self) -> String {
        compact(&self.source)
    }
}

/// Compact JSON text of a value.
pub(crate) fn compact(value: &Json) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn parse_statement(index: usize, source: &Json) -> Result<Statement, String> {
    let Some(s) = source.as_object() else {
        return Err(format!("is not a JSON object: {}", compact(source)));
    };
    if let Some(unknown) = s.keys().find(|k| !ELEMENTS.contains(&k.as_str())) {
        return Err(format!("unknown element `{unknown}` (a statement has {})", ELEMENTS.join(", ")));
    }
    let sid = match s.get("Sid") {
        None => None,
        Some(Json::String(sid)) => Some(sid.clone()),
        Some(other) => return Err(format!("Sid {} is not a string", compact(other))),
    };
    let effect = match s.get("Effect") {
        Some(Json::String(e)) if e == "Allow" => Effect::Allow,
        Some(Json::String(e)) if e == "Deny" => Effect::Deny,
        Some(Json::String(e)) => return Err(format!("Effect `{e}` is neither Allow nor Deny")),
        Some(other) => return Err(format!("Effect {} is neither Allow nor Deny", compact(other))),
        None => return Err("has no Effect".to_string()),
    };
    let (action, not_action) = pair(s, "Action", "NotAction", strings)?;
    if action.is_none() && not_action.is_none() {
        return Err("has neither Action nor NotAction".to_string());
    }
    let (resource, not_resource) = pair(s, "Resource", "NotResource", strings)?;
    let (principal, not_principal) = pair(s, "Principal", "NotPrincipal", principals)?;
    let conditions = match s.get("Condition") {
        None => Vec::new(),
        Some(block) => conditions(block)?,
    };
    Ok(Statement { index, sid, effect, principal, not_principal, action, not_action, resource, not_resource, conditions, source: source.clone() })
}

/// An element and its `Not` form, at most one of which may be present.
type Parsed<T> = (Option<T>, Option<T>);

fn pair<T>(s: &Map<String, Json>, yes: &str, no: &str, parse: fn(&str, &Json) -> Result<T, String>) -> Result<Parsed<T>, String> {
    if s.contains_key(yes) && s.contains_key(no) {
        return Err(format!("has both {yes} and {no}"));
    }
    let yes_value = s.get(yes).map(|v| parse(yes, v)).transpose()?;
    let no_value = s.get(no).map(|v| parse(no, v)).transpose()?;
    Ok((yes_value, no_value))
}

/// A string or an array of strings.
fn strings(element: &str, value: &Json) -> Result<Vec<String>, String> {
    match value {
        Json::String(s) => Ok(vec![s.clone()]),
        Json::Array(items) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string).ok_or_else(|| format!("{element} value {} is not a string", compact(item))))
            .collect(),
        other => Err(format!("{element} {} is neither a string nor an array of strings", compact(other))),
    }
}

fn principals(element: &str, value: &Json) -> Result<Principals, String> {
    let map = match value {
        Json::String(s) if s == "*" => return Ok(Principals::Any),
        Json::Object(map) => map,
        other => return Err(format!("{element} {} is neither \"*\" nor an object of principal kinds", compact(other))),
    };
    let mut kinds = BTreeMap::new();
    for (kind, ids) in map {
        if !PRINCIPAL_KINDS.contains(&kind.as_str()) {
            return Err(format!("{element} kind `{kind}` is not one of {}", PRINCIPAL_KINDS.join(", ")));
        }
        kinds.insert(kind.clone(), strings(&format!("{element} {kind}"), ids)?);
    }
    let only_aws_star = kinds.len() == 1 && kinds.get("AWS").is_some_and(|ids| !ids.is_empty() && ids.iter().all(|id| id == "*"));
    Ok(if only_aws_star { Principals::Any } else { Principals::Map(kinds) })
}

fn conditions(block: &Json) -> Result<Vec<Condition>, String> {
    let Some(operators) = block.as_object() else {
        return Err(format!("Condition {} is not an object of operators", compact(block)));
    };
    let mut out = Vec::new();
    for (operator, keys) in operators {
        let Some(keys) = keys.as_object() else {
            return Err(format!("Condition operator `{operator}` is not an object of keys: {}", compact(keys)));
        };
        for (key, values) in keys {
            let values = match values {
                Json::Array(items) => items.iter().map(|v| scalar(operator, key, v)).collect::<Result<_, _>>()?,
                single => vec![scalar(operator, key, single)?],
            };
            out.push(Condition { operator: operator.clone(), key: key.clone(), values });
        }
    }
    Ok(out)
}

fn scalar(operator: &str, key: &str, value: &Json) -> Result<String, String> {
    match value {
        Json::String(s) => Ok(s.clone()),
        Json::Bool(b) => Ok(b.to_string()),
        Json::Number(n) => Ok(n.to_string()),
        other => Err(format!("Condition {operator} \"{key}\" value {} is not a string, number or boolean", compact(other))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn single_statement_object_and_string_values() {
        let doc = json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}});
        let policy = Policy::parse("policy p", &doc).unwrap();
        assert_eq!(policy.name, "policy p");
        let s = &policy.statements[0];
        assert_eq!((s.index, s.effect), (0, Effect::Allow));
        assert_eq!(s.action.as_deref(), Some(&["s3:GetObject".to_string()][..]));
        assert_eq!(s.resource.as_deref(), Some(&["arn:aws:s3:::b/*".to_string()][..]));
        assert!(!s.text().contains(' '));
        assert_eq!(serde_json::from_str::<Json>(&s.text()).unwrap(), doc["Statement"]);
    }

    #[test]
    fn errors_name_the_statement_and_element() {
        let doc = json!({"Statement": [{"Effect": "Allow", "Action": "*"}, {"Effect": "Alow", "Action": "*"}]});
        assert_eq!(Policy::parse("p", &doc).unwrap_err(), "Statement[1]: Effect `Alow` is neither Allow nor Deny");
        let both = json!({"Statement": [{"Effect": "Deny", "Action": "*", "NotAction": "s3:*"}]});
        assert_eq!(Policy::parse("p", &both).unwrap_err(), "Statement[0]: has both Action and NotAction");
        let typo = json!({"Statement": {"Effect": "Allow", "Actions": "*"}});
        assert!(Policy::parse("p", &typo).unwrap_err().starts_with("Statement[0]: unknown element `Actions`"));
        let kind = json!({"Statement": {"Effect": "Allow", "Action": "*", "Principal": {"Aws": "*"}}});
        assert!(Policy::parse("p", &kind).unwrap_err().contains("Principal kind `Aws`"));
        let nested = json!({"Statement": {"Effect": "Allow", "Action": "*", "Condition": {"Bool": {"k": [{}]}}}});
        assert!(Policy::parse("p", &nested).unwrap_err().contains("Condition Bool \"k\" value {}"));
        assert!(Policy::parse("p", &json!({"Version": "2012-10-17"})).unwrap_err().contains("no Statement"));
        assert!(Policy::parse("p", &json!({"Statement": {"Action": "*"}})).unwrap_err().contains("has no Effect"));
        assert!(Policy::parse("p", &json!({"Statement": {"Effect": "Allow"}})).unwrap_err().contains("neither Action nor NotAction"));
    }

    #[test]
    fn principal_forms() {
        let parse = |p: Json| {
            let doc = json!({"Statement": {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": p}});
            Policy::parse("p", &doc).unwrap().statements[0].principal.clone().unwrap()
        };
        assert_eq!(parse(json!("*")), Principals::Any);
        assert_eq!(parse(json!({"AWS": "*"})), Principals::Any);
        assert_eq!(parse(json!({"AWS": ["*"]})), Principals::Any);
        let Principals::Map(map) = parse(json!({"AWS": "111111111111", "Service": ["ec2.amazonaws.com", "ecs.amazonaws.com"]})) else {
            panic!("expected a map")
        };
        assert_eq!(map["AWS"], vec!["111111111111"]);
        assert_eq!(map["Service"].len(), 2);
    }

    #[test]
    fn conditions_flatten_per_operator_and_key_and_keep_scalars_as_text() {
        let doc = json!({"Statement": {"Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": {
            "Bool": {"aws:SecureTransport": false},
            "StringEquals": {"a:x": ["1", "2"], "a:y": 3}
        }}});
        let conditions = &Policy::parse("p", &doc).unwrap().statements[0].conditions;
        assert_eq!(conditions.len(), 3);
        assert_eq!(conditions[0], Condition { operator: "Bool".into(), key: "aws:SecureTransport".into(), values: vec!["false".into()] });
        assert_eq!(conditions[1].values, vec!["1", "2"]);
        assert_eq!(conditions[2].values, vec!["3"]);
    }
}
