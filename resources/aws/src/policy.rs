//! IAM policy documents: a typed builder whose parts may be [`Output`]s, a canonical form so that
//! comparison is semantic (order, single value vs list, whitespace and key order make no diff),
//! and validation of the mistakes IAM would reject, or accept and silently not apply: actions
//! IAM does not have (against the [`catalog`]), principals of no form IAM knows.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json, json};
use strake::{Output, Value};

use crate::catalog;
use crate::validate::{check_account_id, check_arn};

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The statement grants its actions.
    Allow,
    /// The statement refuses its actions; an explicit `Deny` wins over any `Allow`.
    Deny,
}

/// One statement. Required parts are set by the constructor; the rest are chained.
#[derive(Clone)]
pub struct Statement {
    effect: Effect,
    sid: Option<String>,
    parts: Vec<(String, Output<Value>)>,
    principals: Vec<(String, Output<String>)>,
    conditions: Vec<(String, Output<String>, Vec<Output<String>>)>,
}

impl Statement {
    /// A statement with this effect and nothing else yet.
    pub fn new(effect: Effect) -> Self {
        Statement { effect, sid: None, parts: Vec::new(), principals: Vec::new(), conditions: Vec::new() }
    }

    /// An `Allow` statement.
    pub fn allow() -> Self {
        Statement::new(Effect::Allow)
    }

    /// A `Deny` statement.
    pub fn deny() -> Self {
        Statement::new(Effect::Deny)
    }

    /// The statement id (`Sid`).
    pub fn sid(mut self, sid: &str) -> Self {
        self.sid = Some(sid.to_string());
        self
    }

    fn list<S: Into<Output<String>>>(mut self, key: &str, items: impl IntoIterator<Item = S>) -> Self {
        let items: Vec<Output<String>> = items.into_iter().map(Into::into).collect();
        let joined = Output::all(items).map(|v| Value::List(v.into_iter().map(Value::from).collect()));
        self.parts.push((key.to_string(), joined));
        self
    }

    /// The actions the statement covers (`Action`), e.g. `s3:GetObject` or `s3:Get*`.
    pub fn actions<S: Into<Output<String>>>(self, actions: impl IntoIterator<Item = S>) -> Self {
        self.list("Action", actions)
    }

    /// Every action but these (`NotAction`).
    pub fn not_actions<S: Into<Output<String>>>(self, actions: impl IntoIterator<Item = S>) -> Self {
        self.list("NotAction", actions)
    }

    /// Resource ARNs (or `*`); outputs known only after apply are fine.
    pub fn resources<S: Into<Output<String>>>(self, resources: impl IntoIterator<Item = S>) -> Self {
        self.list("Resource", resources)
    }

    /// Every resource but these ARNs (`NotResource`).
    pub fn not_resources<S: Into<Output<String>>>(self, resources: impl IntoIterator<Item = S>) -> Self {
        self.list("NotResource", resources)
    }

    /// A principal of a kind: `AWS`, `Service`, `Federated`, `CanonicalUser`.
    pub fn principal(mut self, kind: &str, id: impl Into<Output<String>>) -> Self {
        self.principals.push((kind.to_string(), id.into()));
        self
    }

    /// A federated principal, e.g. an IAM OIDC provider's ARN.
    pub fn federated(self, arn: impl Into<Output<String>>) -> Self {
        self.principal("Federated", arn)
    }

    /// A condition: `operator` (e.g. `StringEquals`), `key` and its values.
    pub fn condition<S: Into<Output<String>>>(mut self, operator: &str, key: impl Into<Output<String>>, values: impl IntoIterator<Item = S>) -> Self {
        self.conditions.push((operator.to_string(), key.into(), values.into_iter().map(Into::into).collect()));
        self
    }

    fn into_output(self) -> Output<Value> {
        let mut pieces: Vec<Output<Value>> = Vec::new();
        let effect = match self.effect {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        };
        pieces.push(Output::new(Value::from_pairs([("Effect", Value::from(effect))])));
        if let Some(sid) = self.sid {
            pieces.push(Output::new(Value::from_pairs([("Sid", Value::from(sid))])));
        }
        for (key, list) in self.parts {
            pieces.push(list.map(move |v| Value::from_pairs([(key.clone(), v)])));
        }
        for (kind, id) in self.principals {
            pieces.push(id.map(move |id| Value::from_pairs([("Principal", Value::from_pairs([(kind.clone(), Value::List(vec![id.into()]))]))])));
        }
        for (op, key, values) in self.conditions {
            let values = Output::all(values);
            pieces.push(key.zip(&values).map(move |(k, vs)| {
                let list = Value::List(vs.into_iter().map(Value::from).collect());
                Value::from_pairs([("Condition", Value::from_pairs([(op.clone(), Value::from_pairs([(k, list)]))]))])
            }));
        }
        Output::all(pieces).map(|pieces| {
            let mut merged = Value::map();
            for p in pieces {
                merge(&mut merged, p);
            }
            merged
        })
    }
}

/// Deep-merges maps; lists under the same key are concatenated.
fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Map(a), Value::Map(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (Value::List(a), Value::List(b)) => a.extend(b),
        (slot, v) => *slot = v,
    }
}

/// A policy document under construction.
#[derive(Clone, Default)]
pub struct PolicyDocument {
    statements: Vec<Statement>,
}

impl PolicyDocument {
    /// An empty document; add statements with [`Self::statement`].
    pub fn new() -> Self {
        PolicyDocument::default()
    }

    /// Adds `statement` to the document.
    pub fn statement(mut self, statement: Statement) -> Self {
        self.statements.push(statement);
        self
    }

    /// The document as a JSON object value (unknown until its outputs are known).
    pub fn to_output(&self) -> Output<Value> {
        let statements: Vec<Output<Value>> = self.statements.iter().cloned().map(Statement::into_output).collect();
        Output::all(statements).map(|s| Value::from_pairs([("Version", Value::from("2012-10-17")), ("Statement", Value::List(s))]))
    }
}

impl From<PolicyDocument> for Output<Value> {
    fn from(doc: PolicyDocument) -> Self {
        doc.to_output()
    }
}

impl From<&PolicyDocument> for Output<Value> {
    fn from(doc: &PolicyDocument) -> Self {
        doc.to_output()
    }
}

/// Which kind of policy a document is, for validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// Attached to an identity: needs `Resource`, has no `Principal`. Limit 6,144 characters.
    Identity,
    /// A role's trust policy: needs `Principal`, has no `Resource`. Limit 2,048 characters.
    Trust,
    /// A resource policy (bucket policy): needs `Principal` and `Resource`. Limit 20 KB.
    Resource,
}

impl PolicyKind {
    /// IAM's size limit for this kind of policy, in characters without white space.
    pub fn max_chars(self) -> usize {
        match self {
            PolicyKind::Identity => 6_144,
            PolicyKind::Trust => 2_048,
            PolicyKind::Resource => 20_480,
        }
    }
}

/// Parses a document given as a JSON object or a JSON string (possibly URL-encoded, as IAM returns it).
pub fn parse_document(value: &Json) -> Result<Json, String> {
    match value {
        Json::Object(_) => Ok(value.clone()),
        Json::String(s) => {
            let text = if s.trim_start().starts_with('%') || s.contains("%7B") || s.contains("%22") { url_decode(s) } else { s.clone() };
            serde_json::from_str::<Json>(&text)
                .map_err(|e| format!("is not valid JSON ({e}); write the document with `PolicyDocument` or check its quoting"))
        }
        other => Err(format!("must be a JSON object or a JSON string, not {other}")),
    }
}

/// Decodes `%XX` escapes (and `+` as space), as in IAM's returned documents.
pub fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 3 <= bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The canonical form: `Version` set, `Statement` a list sorted by content, every list-or-scalar
/// field a sorted, de-duplicated list, principals and conditions likewise.
pub fn canonical(doc: &Json) -> Json {
    let Json::Object(map) = doc else { return doc.clone() };
    let mut out = Map::new();
    out.insert("Version".into(), map.get("Version").cloned().unwrap_or_else(|| json!("2012-10-17")));
    if let Some(id) = map.get("Id") {
        out.insert("Id".into(), id.clone());
    }
    let statements = match map.get("Statement") {
        Some(Json::Array(items)) => items.clone(),
        Some(single @ Json::Object(_)) => vec![single.clone()],
        _ => Vec::new(),
    };
    let mut statements: Vec<Json> = statements.iter().map(canonical_statement).collect();
    statements.sort_by_key(|s| s.to_string());
    statements.dedup();
    out.insert("Statement".into(), Json::Array(statements));
    Json::Object(out)
}

fn sorted_list(v: &Json) -> Json {
    let mut items: Vec<Json> = match v {
        Json::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    items.sort_by_key(|i| i.to_string());
    items.dedup();
    Json::Array(items)
}

fn canonical_statement(s: &Json) -> Json {
    let Json::Object(map) = s else { return s.clone() };
    let mut out = Map::new();
    for (k, v) in map {
        let canon = match k.as_str() {
            "Action" | "NotAction" | "Resource" | "NotResource" => sorted_list(v),
            "Principal" | "NotPrincipal" => match v {
                Json::Object(p) => Json::Object(p.iter().map(|(kind, ids)| (kind.clone(), sorted_list(ids))).collect()),
                other => other.clone(),
            },
            "Condition" => match v {
                Json::Object(ops) => Json::Object(
                    ops.iter()
                        .map(|(op, keys)| {
                            let keys = match keys {
                                Json::Object(k) => Json::Object(k.iter().map(|(key, vals)| (key.clone(), sorted_list(vals))).collect()),
                                other => other.clone(),
                            };
                            (op.clone(), keys)
                        })
                        .collect(),
                ),
                other => other.clone(),
            },
            _ => v.clone(),
        };
        out.insert(k.clone(), canon);
    }
    Json::Object(out)
}

/// The document's size as IAM counts it (without white space).
pub fn size_without_whitespace(doc: &Json) -> usize {
    doc.to_string().chars().filter(|c| !c.is_whitespace()).count()
}

/// Checks a canonical document; returns problems, each with its fix.
pub fn validate(doc: &Json, kind: PolicyKind) -> Vec<String> {
    let mut problems = Vec::new();
    let Json::Object(map) = doc else {
        return vec!["must be a JSON object with `Version` and `Statement`".into()];
    };
    if let Some(v) = map.get("Version").and_then(Json::as_str)
        && v != "2012-10-17"
        && v != "2008-10-17"
    {
        problems.push(format!("has Version `{v}`; use \"2012-10-17\""));
    }
    let statements = map.get("Statement").and_then(Json::as_array).cloned().unwrap_or_default();
    if statements.is_empty() {
        problems.push("has no statements; add at least one `Statement`".into());
    }
    for (i, s) in statements.iter().enumerate() {
        let at = format!("Statement[{i}]");
        let Json::Object(st) = s else {
            problems.push(format!("{at} is not an object"));
            continue;
        };
        match st.get("Effect").and_then(Json::as_str) {
            Some("Allow" | "Deny") => {}
            Some(other) => problems.push(format!("{at} has Effect `{other}`; use \"Allow\" or \"Deny\"")),
            None => problems.push(format!("{at} has no Effect; add \"Effect\": \"Allow\" (or \"Deny\")")),
        }
        if !st.contains_key("Action") && !st.contains_key("NotAction") {
            problems.push(format!("{at} has no Action; list the actions it allows, e.g. \"s3:GetObject\""));
        }
        for key in ["Action", "NotAction"] {
            if let Some(v) = st.get(key) {
                for a in string_values(&format!("{at}.{key}"), v, &mut problems) {
                    if let Err(e) = check_action(a) {
                        problems.push(format!("{at}.{key} {e}"));
                    }
                }
            }
        }
        let has_resource = st.contains_key("Resource") || st.contains_key("NotResource");
        let has_principal = st.contains_key("Principal") || st.contains_key("NotPrincipal");
        if kind != PolicyKind::Identity {
            for key in ["Principal", "NotPrincipal"] {
                if let Some(p) = st.get(key) {
                    check_principal(&format!("{at}.{key}"), p, &mut problems);
                }
            }
        }
        match kind {
            PolicyKind::Identity if !has_resource => problems.push(format!("{at} has no Resource; name the ARNs it applies to, or \"*\"")),
            PolicyKind::Identity if has_principal => problems.push(format!("{at} has a Principal, which identity policies cannot have; remove it")),
            PolicyKind::Trust if !has_principal => problems.push(format!("{at} has no Principal; a trust policy must say who may assume the role")),
            PolicyKind::Resource if !has_principal || !has_resource => {
                problems.push(format!("{at} needs both Principal and Resource in a resource policy"))
            }
            _ => {}
        }
        for key in ["Resource", "NotResource"] {
            for r in st.get(key).map(strings).unwrap_or_default() {
                if r != "*"
                    && let Err(e) = check_arn(&r)
                {
                    problems.push(format!("{at}.{key} `{r}` {e}"));
                }
            }
        }
    }
    let size = size_without_whitespace(doc);
    if size > kind.max_chars() {
        problems.push(format!(
            "is {size} characters, over IAM's limit of {} for this kind of policy; merge statements or use wildcards",
            kind.max_chars()
        ));
    }
    problems
}

/// An `Action`/`NotAction` entry: `*`, or `service:Action` with a lowercase service prefix and
/// an action of letters and digits, `*` and `?` as wildcards. For the services of the
/// [`catalog`], the action must be one of theirs (a wildcard must match one).
pub fn check_action(action: &str) -> Result<(), String> {
    if action == "*" {
        return Ok(());
    }
    let form = "actions are `service:Action`: a service prefix of lowercase letters, digits and hyphens, and an action name of \
                letters and digits, with `*` and `?` as wildcards (e.g. \"s3:GetObject\", \"s3:Get*\"), or \"*\"";
    let Some((service, name)) = action.split_once(':') else {
        return Err(format!("`{action}` is not `service:Action`; {form}"));
    };
    if service.is_empty() || name.is_empty() {
        return Err(format!("`{action}` has an empty {}; {form}", if service.is_empty() { "service prefix" } else { "action name" }));
    }
    if let Some(bad) = service.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {
        let hint = if bad.is_ascii_uppercase() {
            format!(" (write `{}`)", action.replacen(service, &service.to_ascii_lowercase(), 1))
        } else {
            String::new()
        };
        return Err(format!("`{action}` has `{bad}` in its service prefix `{service}`{hint}; {form}"));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '*' || *c == '?')) {
        let shown = if bad == ' ' { "a space".to_string() } else { format!("`{bad}`") };
        return Err(format!("`{action}` has {shown} in its action name; {form}"));
    }
    if !catalog::is_catalogued(service) {
        // Not a service Strake catalogues: only the syntax is checked.
        return Ok(());
    }
    // Close to a known action: a typo, an error. Close to none: perhaps newer than the catalog,
    // so only a warning (see [`warnings`]).
    if name.contains(['*', '?']) {
        if let (true, Some(p)) = (catalog::matching(action).is_empty(), catalog::closest_pattern(action)) {
            return Err(format!("`{action}` matches no {service} action; did you mean `{p}`?"));
        }
        return Ok(());
    }
    match (catalog::exists(action), catalog::closest(action)) {
        (false, Some(meant)) => Err(format!("`{action}` is not an {service} action; did you mean `{meant}`?")),
        _ => Ok(()),
    }
}

/// What a document has that is not wrong for sure: actions of a catalogued service that
/// Strake's [`catalog`] does not know and that are close to none it does (newer than the
/// catalog, or misspelt beyond recognition). `--strict` makes them errors.
pub fn warnings(doc: &Json) -> Vec<String> {
    let mut out = Vec::new();
    let statements = doc.get("Statement").and_then(Json::as_array).cloned().unwrap_or_default();
    for (i, st) in statements.iter().enumerate() {
        for key in ["Action", "NotAction"] {
            for action in st.get(key).map(strings).unwrap_or_default() {
                let Some((service, _)) = action.split_once(':') else { continue };
                if !catalog::is_catalogued(service) || check_action(&action).is_err() {
                    continue;
                }
                let unknown = if action.contains(['*', '?']) { catalog::matching(&action).is_empty() } else { !catalog::exists(&action) };
                if unknown {
                    out.push(format!(
                        "Statement[{i}].{key} `{action}` is no {service} action Strake knows (its catalog: {}); if AWS added it since, \
                         this warning is out of date, else check the spelling in AWS's Service Authorization Reference",
                        catalog::provenance()
                    ));
                }
            }
        }
    }
    out
}

/// What each principal kind accepts, for messages.
const PRINCIPAL_KINDS: &str = "`AWS` (\"*\", a 12-digit account id or an IAM ARN, e.g. \"arn:aws:iam::123456789012:root\"), \
     `Service` (a service principal, e.g. \"ec2.amazonaws.com\"), `Federated` (an OIDC or SAML provider's ARN, or a web identity \
     provider such as \"accounts.google.com\") or `CanonicalUser` (a 64-hex-digit canonical user id)";

/// The web identity providers a `Federated` principal may name without an ARN.
pub const WEB_IDENTITY_PROVIDERS: [&str; 4] = ["cognito-identity.amazonaws.com", "www.amazon.com", "graph.facebook.com", "accounts.google.com"];

/// A `Principal`/`NotPrincipal` value (`at` is its path): `"*"`, or an object of kinds, each
/// with one or more ids of that kind's form.
fn check_principal(at: &str, principal: &Json, problems: &mut Vec<String>) {
    let kinds = match principal {
        Json::String(s) if s == "*" => return,
        Json::Object(kinds) if !kinds.is_empty() => kinds,
        other => {
            problems.push(format!(
                "{at} is {other}; a principal is \"*\" (anyone) or an object naming who by kind: {PRINCIPAL_KINDS} \
                 (e.g. {{\"AWS\": \"arn:aws:iam::123456789012:root\"}})"
            ));
            return;
        }
    };
    for (kind, ids) in kinds {
        let at = format!("{at}.{kind}");
        let rule: fn(&str) -> Result<(), String> = match kind.as_str() {
            "AWS" => check_aws_principal,
            "Service" => check_service_principal,
            "Federated" => check_federated_principal,
            "CanonicalUser" => check_canonical_user,
            other => {
                let hint = ["AWS", "Service", "Federated", "CanonicalUser"]
                    .into_iter()
                    .find(|k| k.eq_ignore_ascii_case(other))
                    .map(|k| format!(" (kinds are case-sensitive: write `{k}`)"))
                    .unwrap_or_default();
                problems.push(format!("{at}: `{other}` is not a principal kind{hint}; use {PRINCIPAL_KINDS}"));
                continue;
            }
        };
        let values = string_values(&at, ids, problems);
        if matches!(ids, Json::Array(items) if items.is_empty()) {
            problems.push(format!("{at} is empty; name at least one principal"));
        }
        for id in values {
            if let Err(e) = rule(id) {
                problems.push(format!("{at} `{id}` {e}"));
            }
        }
    }
}

/// An `AWS` principal: `*`, an account id, or an ARN (a root, role, user, assumed-role session).
pub fn check_aws_principal(id: &str) -> Result<(), String> {
    let accepted = "an AWS principal is \"*\", a 12-digit account id (\"123456789012\") or an IAM ARN \
                    (\"arn:aws:iam::123456789012:root\", \"arn:aws:iam::123456789012:role/name\")";
    if id == "*" || check_account_id(id).is_ok() {
        return Ok(());
    }
    if id.starts_with("arn:") {
        return check_arn(id).map_err(|e| format!("{e}; {accepted}"));
    }
    if !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("is {} digits, not an account id's 12; {accepted}", id.len()));
    }
    Err(format!("is not an account id or an ARN; {accepted}"))
}

/// A `Service` principal: `<service>.amazonaws.com` (`.amazonaws.com.cn` in China).
pub fn check_service_principal(id: &str) -> Result<(), String> {
    let accepted = "a Service principal is the service's name ending in `.amazonaws.com` (`.amazonaws.com.cn` in China), \
                    e.g. \"ec2.amazonaws.com\", \"lambda.amazonaws.com\"";
    let name = id.strip_suffix(".amazonaws.com").or_else(|| id.strip_suffix(".amazonaws.com.cn"));
    match name {
        Some(name) if !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-') => Ok(()),
        Some(_) => Err(format!("has an invalid service name; {accepted}")),
        None => Err(format!("is not a service principal; {accepted}")),
    }
}

/// A `Federated` principal: an IAM OIDC or SAML provider's ARN, or a well-known web identity provider.
pub fn check_federated_principal(id: &str) -> Result<(), String> {
    let accepted = format!(
        "a Federated principal is an IAM OIDC or SAML provider's ARN (\"arn:aws:iam::123456789012:oidc-provider/<issuer host/path>\", \
         \"arn:aws:iam::123456789012:saml-provider/<name>\") or a web identity provider: {}",
        WEB_IDENTITY_PROVIDERS.join(", ")
    );
    if WEB_IDENTITY_PROVIDERS.contains(&id) {
        return Ok(());
    }
    if !id.starts_with("arn:") {
        return Err(format!("is not an ARN or a web identity provider; {accepted}"));
    }
    check_arn(id).map_err(|e| format!("{e}; {accepted}"))?;
    let parts: Vec<&str> = id.splitn(6, ':').collect();
    if parts[2] != "iam" || !(parts[5].starts_with("oidc-provider/") || parts[5].starts_with("saml-provider/")) {
        return Err(format!("is not an OIDC or SAML provider's ARN; {accepted}"));
    }
    Ok(())
}

/// A `CanonicalUser` principal: a canonical user id, 64 hex digits.
pub fn check_canonical_user(id: &str) -> Result<(), String> {
    if id.len() == 64 && id.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err("is not a canonical user id; a CanonicalUser principal is 64 hex digits (S3's canonical id of an account)".into())
    }
}

/// The strings of a single-string-or-list field at `at`, reporting the items that are not strings.
fn string_values<'a>(at: &str, v: &'a Json, problems: &mut Vec<String>) -> Vec<&'a str> {
    let items: Vec<&Json> = match v {
        Json::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut out = Vec::new();
    for item in items {
        match item {
            Json::String(s) => out.push(s.as_str()),
            other => problems.push(format!("{at} has {other}, which is not a string; write each entry as a JSON string")),
        }
    }
    out
}

fn strings(v: &Json) -> Vec<String> {
    match v {
        Json::String(s) => vec![s.clone()],
        Json::Array(items) => items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

/// The `StringEquals`-style conditions of a statement, as operator → key → values.
pub fn conditions(statement: &Json) -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let mut out = BTreeMap::new();
    if let Some(Json::Object(ops)) = statement.get("Condition") {
        for (op, keys) in ops {
            if let Json::Object(keys) = keys {
                let entry: &mut BTreeMap<String, Vec<String>> = out.entry(op.clone()).or_default();
                for (k, vals) in keys {
                    entry.insert(k.clone(), strings(vals));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
