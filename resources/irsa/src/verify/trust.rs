//! Local evaluation of a role's trust policy for `sts:AssumeRoleWithWebIdentity`, explained line
//! by line. Real STS enforces this; emulators such as moto do not, so it is checked here.
//!
//! Covered: `Effect`, `Action`/`NotAction` (with `*`/`?` wildcards, case-insensitive),
//! `Principal`/`NotPrincipal` (`Federated`, `*`), and conditions with the `String*` operators
//! (`StringEquals`, `StringNotEquals`, `StringLike`, `StringNotLike` and their `IgnoreCase`
//! forms), `ForAnyValue:`/`ForAllValues:` prefixes, the `IfExists` suffix and `Null`, on the keys
//! `<issuer>:sub`, `<issuer>:aud` and `sts:RoleSessionName`. An explicit Deny wins over any Allow.
//! A condition this module cannot evaluate fails an Allow statement and holds for a Deny
//! statement, so the result never errs on the permissive side.

use serde_json::Value as Json;

/// The action a pod's SDK calls with its projected token.
pub const ACTION: &str = "sts:AssumeRoleWithWebIdentity";

/// What STS knows when the token is presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebIdentityRequest {
    /// `arn:<partition>:iam::<account>:oidc-provider/<issuer host/path>`.
    pub provider_arn: String,
    /// The issuer without `https://`: the condition keys' prefix.
    pub issuer: String,
    /// The token's `sub`.
    pub sub: String,
    /// The token's audience that the OIDC provider lists as a client id.
    pub aud: String,
    /// The role session name (`sts:RoleSessionName`).
    pub session_name: String,
}

impl WebIdentityRequest {
    /// The request context's value for a condition key (keys are case-insensitive).
    fn context(&self, key: &str) -> Option<&str> {
        let key = key.to_ascii_lowercase();
        let issuer = self.issuer.to_ascii_lowercase();
        if key == format!("{issuer}:sub") {
            Some(&self.sub)
        } else if key == format!("{issuer}:aud") {
            Some(&self.aud)
        } else if key == "sts:rolesessionname" {
            Some(&self.session_name)
        } else {
            None
        }
    }
}

/// The outcome, with one line per check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// Whether STS would let the token assume the role.
    pub allowed: bool,
    /// Human-readable lines, in policy order.
    pub lines: Vec<String>,
    /// Why it is denied (empty when allowed): the explicit Deny, or each Allow statement's first
    /// failed check.
    pub reasons: Vec<String>,
}

/// Three-valued outcome of a check: `Unknown` is what this module cannot evaluate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Holds,
    Fails,
    Unknown,
}

struct Lines {
    lines: Vec<String>,
    first_failure: Option<String>,
}

impl Lines {
    fn push(&mut self, check: Check, text: String) {
        let mark = match check {
            Check::Holds => "ok      ",
            Check::Fails => "MISMATCH",
            Check::Unknown => "UNKNOWN ",
        };
        if check != Check::Holds && self.first_failure.is_none() {
            self.first_failure = Some(text.clone());
        }
        self.lines.push(format!("    {mark} {text}"));
    }
}

/// Evaluates a (parsed) trust policy document for `request`.
pub fn evaluate(doc: &Json, request: &WebIdentityRequest) -> Evaluation {
    let statements: Vec<&Json> = match doc.get("Statement") {
        Some(Json::Array(items)) => items.iter().collect(),
        Some(single @ Json::Object(_)) => vec![single],
        _ => Vec::new(),
    };
    let mut lines = Vec::new();
    let mut allowed_by = None;
    let mut denied_by = None;
    let mut allow_failures = Vec::new();
    for (i, statement) in statements.iter().enumerate() {
        let name = match statement.get("Sid").and_then(Json::as_str) {
            Some(sid) if !sid.is_empty() => format!("Statement[{i}] ({sid})"),
            _ => format!("Statement[{i}]"),
        };
        let effect = statement.get("Effect").and_then(Json::as_str).unwrap_or("");
        let deny = match effect {
            "Allow" => false,
            "Deny" => true,
            other => {
                lines.push(format!("  {name}: Effect `{other}` is neither Allow nor Deny; ignored"));
                continue;
            }
        };
        lines.push(format!("  {name} {effect}"));
        let mut l = Lines { lines: Vec::new(), first_failure: None };
        let checks = [action(statement, &mut l), principal(statement, request, &mut l), conditions(statement, request, &mut l)];
        lines.append(&mut l.lines);
        let applies = if deny {
            // A Deny applies unless one of its checks surely fails.
            !checks.contains(&Check::Fails)
        } else {
            checks.iter().all(|c| *c == Check::Holds)
        };
        lines.push(format!("    => {}", if applies { format!("applies: {effect}") } else { "does not apply".to_string() }));
        match (applies, deny) {
            (true, true) => denied_by = denied_by.or(Some(name)),
            (true, false) => allowed_by = allowed_by.or(Some(name)),
            (false, false) => allow_failures.push(format!("{name}: {}", l.first_failure.unwrap_or_default())),
            (false, true) => {}
        }
    }
    let (allowed, reasons, result) = match (denied_by, allowed_by) {
        (Some(d), _) => (false, vec![format!("{d} explicitly denies {ACTION}")], format!("denied: {d} explicitly denies")),
        (None, Some(a)) => (true, Vec::new(), format!("allowed by {a}")),
        (None, None) if statements.is_empty() => (false, vec!["the trust policy has no statements".into()], "denied: no statements".into()),
        (None, None) if allow_failures.is_empty() => {
            (false, vec![format!("no Allow statement grants {ACTION}")], "denied: no Allow statement".into())
        }
        (None, None) => (false, allow_failures, "denied: no Allow statement applies".into()),
    };
    lines.push(format!("  result: {result}"));
    Evaluation { allowed, lines, reasons }
}

fn strings(v: &Json) -> Vec<String> {
    match v {
        Json::String(s) => vec![s.clone()],
        Json::Array(items) => items.iter().map(|i| i.as_str().map(str::to_string).unwrap_or_else(|| i.to_string())).collect(),
        Json::Bool(b) => vec![b.to_string()],
        Json::Number(n) => vec![n.to_string()],
        _ => Vec::new(),
    }
}

fn quoted(items: &[String]) -> String {
    items.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ")
}

/// IAM's glob: `*` any run of characters, `?` exactly one (the same matcher the trust lint uses).
pub use strake_aws::trust_lint::glob_match as glob;

fn action(statement: &Json, l: &mut Lines) -> Check {
    let matches = |patterns: &[String]| patterns.iter().find(|p| glob(&p.to_ascii_lowercase(), &ACTION.to_ascii_lowercase())).cloned();
    if let Some(v) = statement.get("Action") {
        let patterns = strings(v);
        return match matches(&patterns) {
            Some(p) => {
                l.push(Check::Holds, format!("Action: {ACTION} matches \"{p}\""));
                Check::Holds
            }
            None => {
                l.push(Check::Fails, format!("Action: {ACTION} is not in [{}]", quoted(&patterns)));
                Check::Fails
            }
        };
    }
    if let Some(v) = statement.get("NotAction") {
        let patterns = strings(v);
        return match matches(&patterns) {
            Some(p) => {
                l.push(Check::Fails, format!("NotAction: {ACTION} is excluded by \"{p}\""));
                Check::Fails
            }
            None => {
                l.push(Check::Holds, format!("NotAction: {ACTION} is not excluded by [{}]", quoted(&patterns)));
                Check::Holds
            }
        };
    }
    l.push(Check::Fails, "Action: the statement has no Action".into());
    Check::Fails
}

/// Whether a `Principal` value names the web identity's provider.
fn names_provider(principal: &Json, request: &WebIdentityRequest) -> (bool, String) {
    match principal {
        Json::String(s) if s == "*" => (true, "\"*\" (anyone)".into()),
        Json::Object(kinds) => {
            if kinds.get("AWS").is_some_and(|v| strings(v).iter().any(|s| s == "*")) {
                return (true, "AWS \"*\" (anyone)".into());
            }
            match kinds.get("Federated").map(strings) {
                Some(ids) if ids.iter().any(|id| id == &request.provider_arn) => (true, format!("Federated \"{}\"", request.provider_arn)),
                Some(ids) => (false, format!("Federated [{}]", quoted(&ids))),
                None => {
                    let kinds: Vec<String> = kinds.keys().cloned().collect();
                    (false, format!("no Federated principal (only {})", kinds.join(", ")))
                }
            }
        }
        other => (false, format!("{other}")),
    }
}

fn principal(statement: &Json, request: &WebIdentityRequest, l: &mut Lines) -> Check {
    if let Some(p) = statement.get("Principal") {
        let (ok, what) = names_provider(p, request);
        if ok {
            l.push(Check::Holds, format!("Principal: {what} is the token's OIDC provider"));
            return Check::Holds;
        }
        l.push(Check::Fails, format!("Principal: {what} does not name the token's OIDC provider \"{}\"", request.provider_arn));
        return Check::Fails;
    }
    if let Some(p) = statement.get("NotPrincipal") {
        let (named, what) = names_provider(p, request);
        if named {
            l.push(Check::Fails, format!("NotPrincipal: {what} excludes the token's OIDC provider"));
            return Check::Fails;
        }
        l.push(Check::Holds, format!("NotPrincipal: {what} does not exclude \"{}\"", request.provider_arn));
        return Check::Holds;
    }
    l.push(Check::Fails, "Principal: the statement has no Principal".into());
    Check::Fails
}

/// A parsed condition operator such as `ForAnyValue:StringLikeIfExists`.
struct Operator {
    set: Option<bool>, // Some(true) ForAllValues, Some(false) ForAnyValue
    base: String,
    if_exists: bool,
}

fn parse_operator(op: &str) -> Operator {
    let (set, rest) = if let Some(r) = op.strip_prefix("ForAllValues:") {
        (Some(true), r)
    } else if let Some(r) = op.strip_prefix("ForAnyValue:") {
        (Some(false), r)
    } else {
        (None, op)
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(b) => (b.to_string(), true),
        None => (rest.to_string(), false),
    };
    Operator { set, base, if_exists }
}

/// Matches one context value against one policy value for a positive string operator.
fn string_match(base: &str, value: &str, pattern: &str) -> Option<bool> {
    Some(match base {
        "StringEquals" | "StringNotEquals" => value == pattern,
        "StringEqualsIgnoreCase" | "StringNotEqualsIgnoreCase" => value.eq_ignore_ascii_case(pattern),
        "StringLike" | "StringNotLike" => glob(pattern, value),
        _ => return None,
    })
}

fn negated(base: &str) -> bool {
    base.starts_with("StringNot")
}

fn conditions(statement: &Json, request: &WebIdentityRequest, l: &mut Lines) -> Check {
    let Some(block) = statement.get("Condition") else {
        l.push(Check::Holds, "Condition: none".into());
        return Check::Holds;
    };
    let Json::Object(ops) = block else {
        l.push(Check::Unknown, format!("Condition: {block} is not an object"));
        return Check::Unknown;
    };
    let mut result = Check::Holds;
    for (op_name, keys) in ops {
        let Json::Object(keys) = keys else {
            l.push(Check::Unknown, format!("{op_name}: {keys} is not an object of keys"));
            result = worse(result, Check::Unknown);
            continue;
        };
        for (key, values) in keys {
            let check = condition(op_name, key, &strings(values), request, l);
            result = worse(result, check);
        }
    }
    result
}

fn worse(a: Check, b: Check) -> Check {
    match (a, b) {
        (Check::Fails, _) | (_, Check::Fails) => Check::Fails,
        (Check::Unknown, _) | (_, Check::Unknown) => Check::Unknown,
        _ => Check::Holds,
    }
}

fn condition(op_name: &str, key: &str, wanted: &[String], request: &WebIdentityRequest, l: &mut Lines) -> Check {
    let op = parse_operator(op_name);
    let value = request.context(key);
    let at = format!("{op_name} {key}");
    if op.base == "Null" {
        let want_absent = wanted.iter().any(|w| w.eq_ignore_ascii_case("true"));
        let holds = value.is_none() == want_absent;
        let state = if value.is_some() { "present" } else { "absent" };
        let check = if holds { Check::Holds } else { Check::Fails };
        l.push(check, format!("{at} = {}: the key is {state} in the request", quoted(wanted)));
        return check;
    }
    if string_match(&op.base, "", "").is_none() {
        l.push(Check::Unknown, format!("{at}: operator `{}` is not evaluated here", op.base));
        return Check::Unknown;
    }
    let Some(value) = value else {
        // A missing key: positive operators fail, negated ones hold; IfExists and ForAllValues hold.
        let holds = op.if_exists || op.set == Some(true) || (negated(&op.base) && op.set.is_none());
        let check = if holds { Check::Holds } else { Check::Fails };
        let why = if key.contains(':') && !key.starts_with("aws:") && !key.starts_with("sts:") {
            format!("the request has no key `{key}` (the token's keys are `{}:sub` and `{}:aud`)", request.issuer, request.issuer)
        } else {
            format!("the request has no key `{key}`")
        };
        l.push(check, format!("{at} [{}]: {why}", quoted(wanted)));
        return check;
    };
    let matched = wanted.iter().find(|w| string_match(&op.base, value, w) == Some(true));
    // With one context value, ForAnyValue/ForAllValues reduce to the plain operator.
    let holds = if negated(&op.base) { matched.is_none() } else { matched.is_some() };
    let claim = key.rsplit(':').next().unwrap_or(key);
    let wants = match wanted {
        [one] => format!("\"{one}\""),
        many => format!("one of [{}]", quoted(many)),
    };
    let text = match (negated(&op.base), holds) {
        (false, true) => format!("{at}: the token's {claim} \"{value}\" matches \"{}\"", matched.map(String::as_str).unwrap_or_default()),
        (false, false) => format!("{at}: the token's {claim} is \"{value}\", the policy wants {wants}"),
        (true, true) => format!("{at}: the token's {claim} \"{value}\" is not {wants}"),
        (true, false) => format!("{at}: the token's {claim} \"{value}\" is excluded by \"{}\"", matched.map(String::as_str).unwrap_or_default()),
    };
    let check = if holds { Check::Holds } else { Check::Fails };
    l.push(check, text);
    check
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ISSUER: &str = "oidc.eks.us-east-1.amazonaws.com/id/ABC";
    const PROVIDER: &str = "arn:aws:iam::222222222222:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC";

    fn request() -> WebIdentityRequest {
        WebIdentityRequest {
            provider_arn: PROVIDER.into(),
            issuer: ISSUER.into(),
            sub: "system:serviceaccount:apps:reader".into(),
            aud: "sts.amazonaws.com".into(),
            session_name: "botocore-session-1".into(),
        }
    }

    fn statement(conditions: Json) -> Json {
        json!({
            "Effect": "Allow",
            "Principal": {"Federated": PROVIDER},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": conditions,
        })
    }

    fn policy(statements: Vec<Json>) -> Json {
        json!({"Version": "2012-10-17", "Statement": statements})
    }

    fn irsa(sub: &str, aud: &str) -> Json {
        policy(vec![statement(json!({"StringEquals": {format!("{ISSUER}:sub"): sub, format!("{ISSUER}:aud"): aud}}))])
    }

    #[test]
    fn the_eks_trust_policy_allows_its_service_account() {
        let e = evaluate(&irsa("system:serviceaccount:apps:reader", "sts.amazonaws.com"), &request());
        assert!(e.allowed, "{:#?}", e.lines);
        assert!(e.reasons.is_empty());
        let text = e.lines.join("\n");
        assert!(text.contains("ok       Action: sts:AssumeRoleWithWebIdentity matches"), "{text}");
        assert!(text.contains(&format!("ok       Principal: Federated \"{PROVIDER}\"")), "{text}");
        assert!(
            text.contains(&format!("ok       StringEquals {ISSUER}:sub: the token's sub \"system:serviceaccount:apps:reader\" matches")),
            "{text}"
        );
        assert!(text.ends_with("result: allowed by Statement[0]"), "{text}");
    }

    #[test]
    fn another_service_account_in_sub_is_a_named_mismatch() {
        let e = evaluate(&irsa("system:serviceaccount:apps:writer", "sts.amazonaws.com"), &request());
        assert!(!e.allowed);
        let line = e.lines.iter().find(|l| l.contains("MISMATCH")).unwrap();
        assert!(
            line.contains(&format!("StringEquals {ISSUER}:sub: the token's sub is \"system:serviceaccount:apps:reader\", the policy wants \"system:serviceaccount:apps:writer\"")),
            "{line}"
        );
        assert_eq!(e.reasons.len(), 1);
        assert!(e.reasons[0].starts_with("Statement[0]: StringEquals"), "{:?}", e.reasons);
    }

    #[test]
    fn a_wrong_audience_is_a_named_mismatch() {
        let e = evaluate(&irsa("system:serviceaccount:apps:reader", "sts.amazonaws.com.cn"), &request());
        assert!(!e.allowed);
        assert!(
            e.reasons[0].contains(":aud: the token's aud is \"sts.amazonaws.com\", the policy wants \"sts.amazonaws.com.cn\""),
            "{:?}",
            e.reasons
        );
    }

    #[test]
    fn string_like_wildcards_and_negations() {
        let like = |p: &str| policy(vec![statement(json!({"StringLike": {format!("{ISSUER}:sub"): p}}))]);
        assert!(evaluate(&like("system:serviceaccount:apps:*"), &request()).allowed);
        assert!(evaluate(&like("system:serviceaccount:app?:reader"), &request()).allowed);
        assert!(!evaluate(&like("system:serviceaccount:other:*"), &request()).allowed);
        // StringEquals does not expand wildcards.
        let equals = policy(vec![statement(json!({"StringEquals": {format!("{ISSUER}:sub"): "system:serviceaccount:apps:*"}}))]);
        assert!(!evaluate(&equals, &request()).allowed);
        let not = |v: &str| policy(vec![statement(json!({"StringNotEquals": {format!("{ISSUER}:sub"): v}}))]);
        assert!(evaluate(&not("system:serviceaccount:apps:writer"), &request()).allowed);
        let e = evaluate(&not("system:serviceaccount:apps:reader"), &request());
        assert!(!e.allowed && e.reasons[0].contains("is excluded by"), "{:?}", e.reasons);
        // Condition keys are case-insensitive; values of StringEquals are not.
        let upper = policy(vec![statement(json!({"StringEquals": {format!("{}:SUB", ISSUER.to_uppercase()): "system:serviceaccount:apps:reader"}}))]);
        assert!(evaluate(&upper, &request()).allowed);
        // Several values: any one matches.
        let list = policy(vec![statement(
            json!({"StringEquals": {format!("{ISSUER}:sub"): ["system:serviceaccount:a:b", "system:serviceaccount:apps:reader"]}}),
        )]);
        assert!(evaluate(&list, &request()).allowed);
    }

    #[test]
    fn principal_action_and_missing_keys() {
        let mut s = statement(json!({}));
        s["Principal"] = json!({"Federated": "arn:aws:iam::222222222222:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/OTHER"});
        let e = evaluate(&policy(vec![s]), &request());
        assert!(!e.allowed && e.reasons[0].contains("does not name the token's OIDC provider"), "{:?}", e.reasons);

        let mut s = statement(json!({}));
        s["Action"] = json!("sts:AssumeRole");
        assert!(!evaluate(&policy(vec![s.clone()]), &request()).allowed);
        s["Action"] = json!(["sts:Assume*"]);
        assert!(evaluate(&policy(vec![s.clone()]), &request()).allowed);
        s["Action"] = json!("STS:assumerolewithwebidentity");
        assert!(evaluate(&policy(vec![s]), &request()).allowed);

        // A key of another issuer is absent: StringEquals fails, StringEqualsIfExists holds.
        let other = "oidc.eks.eu-west-1.amazonaws.com/id/XYZ:sub";
        let e = evaluate(&policy(vec![statement(json!({"StringEquals": {other: "x"}}))]), &request());
        assert!(!e.allowed && e.reasons[0].contains("the request has no key"), "{:?}", e.reasons);
        assert!(evaluate(&policy(vec![statement(json!({"StringEqualsIfExists": {other: "x"}}))]), &request()).allowed);
        assert!(evaluate(&policy(vec![statement(json!({"Null": {other: "true"}}))]), &request()).allowed);
    }

    #[test]
    fn an_explicit_deny_wins_and_unknown_operators_are_conservative() {
        let allow = statement(json!({"StringEquals": {format!("{ISSUER}:aud"): "sts.amazonaws.com"}}));
        let deny = json!({
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sts:*",
            "Condition": {"StringLike": {format!("{ISSUER}:sub"): "system:serviceaccount:apps:*"}},
        });
        let e = evaluate(&policy(vec![allow.clone(), deny]), &request());
        assert!(!e.allowed, "{:#?}", e.lines);
        assert!(e.reasons[0].contains("Statement[1] explicitly denies"), "{:?}", e.reasons);

        // An operator not evaluated here fails an Allow and holds for a Deny.
        let date = json!({"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}});
        assert!(!evaluate(&policy(vec![statement(date.clone())]), &request()).allowed);
        let deny = json!({"Effect": "Deny", "Principal": "*", "Action": "*", "Condition": date});
        assert!(!evaluate(&policy(vec![allow, deny]), &request()).allowed);
    }

    #[test]
    fn globs() {
        assert!(glob("*", ""));
        assert!(glob("a*c", "abbbc"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
        assert!(glob("*:apps:*", "system:serviceaccount:apps:reader"));
        assert!(!glob("abc", "abcd"));
    }
}
