//! The IRSA trust lint: mistakes in web-identity trust policies (IAM roles for service accounts)
//! that IAM accepts, or rejects only when the role is created, and that otherwise show up as an
//! `AccessDenied` from `sts:AssumeRoleWithWebIdentity` inside a pod, or as a role any pod can assume.
//!
//! [`lint_trust`] is pure; `aws:iam:Role` runs it at plan time on its canonical trust policy for
//! every statement that allows `sts:AssumeRoleWithWebIdentity` or names a `Federated` principal.
//! The rules, and what they expect of a correct IRSA statement:
//!
//! ```json
//! {"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
//!  "Principal": {"Federated": "arn:aws:iam::<role account>:oidc-provider/<issuer host/path>"},
//!  "Condition": {"StringEquals": {"<issuer host/path>:sub": "system:serviceaccount:<ns>:<sa>",
//!                                 "<issuer host/path>:aud": "sts.amazonaws.com"}}}
//! ```
//!
//! Errors: no `:sub` condition; a wildcard in a `StringEquals` value; a condition key carrying
//! `https://` or the provider's ARN prefix; `:sub` and `:aud` swapped; an OIDC provider in another
//! account than the role; a condition key for another issuer than the trusted provider's; an OIDC
//! provider without the web-identity action, or the action without a `Federated` principal.
//! Warnings: no `:aud` condition; a `StringLike` `:sub` whose namespace is a wildcard.
//! The 2,048-character limit is [`crate::policy::validate`]'s, and not repeated here.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::policy::conditions;

/// The Role input the lint's paths start with.
pub const FIELD: &str = "assume_role_policy";
/// The call a pod's SDK makes with its projected service account token.
pub const WEB_IDENTITY_ACTION: &str = "sts:AssumeRoleWithWebIdentity";
/// The audience EKS service account tokens carry for STS.
pub const STS_AUDIENCE: &str = "sts.amazonaws.com";
/// The `sub` of a Kubernetes service account token: `system:serviceaccount:<namespace>:<name>`.
pub const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";

/// How bad a finding is: errors stop the plan (unless the role downgrades them), warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Stops the plan, unless the role sets `trust_lint_warnings_only`.
    Error,
    /// Reported; the plan goes on.
    Warning,
}

/// One problem in a trust policy: where (`assume_role_policy.Statement[0].Condition`), the rule
/// broken and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// The input path of the problem, e.g. `assume_role_policy.Statement[0].Condition`.
    pub path: String,
    /// The rule broken and the fix.
    pub message: String,
}

impl Finding {
    fn error(path: impl Into<String>, message: impl Into<String>) -> Self {
        Finding { severity: Severity::Error, path: path.into(), message: message.into() }
    }

    fn warning(path: impl Into<String>, message: impl Into<String>) -> Self {
        Finding { severity: Severity::Warning, path: path.into(), message: message.into() }
    }

    /// Whether this is an error, not a warning.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Lints the web-identity statements of a trust policy `doc` (a JSON object; canonical or as
/// written: single values or lists) for a role created in account `role_account` (empty: unknown,
/// and the cross-account rule is skipped). Paths index `Statement` as `doc` holds it.
pub fn lint_trust(doc: &Json, role_account: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (i, st) in statements(doc).into_iter().enumerate() {
        lint_statement(&format!("{FIELD}.Statement[{i}]"), st, role_account, &mut findings);
    }
    findings
}

/// A `:sub` condition of a web-identity statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectCondition {
    /// The issuer host/path of the key (`oidc.eks.us-east-1.amazonaws.com/id/ABC`).
    pub issuer: String,
    /// The operator as written (`StringEquals`, `StringLike`, ...).
    pub operator: String,
    /// The value, a pattern for `StringLike`.
    pub value: String,
}

impl SubjectCondition {
    /// Whether a token with this `sub` satisfies the condition.
    pub fn matches(&self, subject: &str) -> bool {
        match base_operator(&self.operator).as_str() {
            "StringEquals" => self.value == subject,
            "StringEqualsIgnoreCase" => self.value.eq_ignore_ascii_case(subject),
            "StringLike" => glob_match(&self.value, subject),
            _ => false,
        }
    }
}

/// The `:sub` conditions (`StringEquals`, `StringEqualsIgnoreCase` or `StringLike`) of the
/// statements that allow web-identity role assumption.
pub fn subject_conditions(doc: &Json) -> Vec<SubjectCondition> {
    let mut out = Vec::new();
    for st in statements(doc).into_iter().filter(|st| is_web_identity(st)) {
        for c in flat_conditions(st) {
            let Some(k) = issuer_key(&c.key) else { continue };
            if k.claim == "sub" && is_positive(&c.base) {
                out.extend(c.values.iter().map(|v| SubjectCondition { issuer: k.issuer.clone(), operator: c.op.clone(), value: v.clone() }));
            }
        }
    }
    out
}

/// Whether the trust lets a token with `subject` (e.g. `system:serviceaccount:apps:web`) assume
/// the role, as far as the `:sub` conditions say.
pub fn trust_names_subject(doc: &Json, subject: &str) -> bool {
    subject_conditions(doc).iter().any(|c| c.matches(subject))
}

/// Why a trust policy refuses the service account `namespace/name`, as the end of a sentence that
/// begins "the role": `None` when its `:sub` conditions name the account, or when `trust` is not
/// a policy (that is the role's own check failure). `trust` is a document or its JSON text.
pub fn service_account_refusal(trust: &Json, namespace: &str, name: &str) -> Option<String> {
    let doc = crate::policy::parse_document(trust).ok()?;
    let subject = format!("{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}");
    if trust_names_subject(&doc, &subject) {
        return None;
    }
    let named: Vec<String> = subject_conditions(&doc).into_iter().map(|c| format!("{} `{}:sub` = `{}`", c.operator, c.issuer, c.value)).collect();
    let named = if named.is_empty() { "no `:sub` condition at all".to_string() } else { named.join(", ") };
    let issuer = trusted_issuers(&doc).into_iter().next().unwrap_or_else(|| "<issuer host/path>".into());
    Some(format!(
        "whose trust policy does not name this service account: no web-identity statement has a `:sub` condition matching \
         `{subject}` (it has {named}), so its pods would get AccessDenied from sts:AssumeRoleWithWebIdentity; add StringEquals \
         `{issuer}:sub` = `{subject}` to the role's trust policy, or use the service account it names"
    ))
}

/// The issuers (host/path) of the OIDC providers the web-identity statements trust.
pub fn trusted_issuers(doc: &Json) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in statements(doc).into_iter().filter(|st| is_web_identity(st)).flat_map(federated).filter(|f| f.oidc) {
        if !out.contains(&f.issuer) {
            out.push(f.issuer);
        }
    }
    out
}

fn lint_statement(at: &str, st: &Json, role_account: &str, out: &mut Vec<Finding>) {
    if !is_web_identity(st) {
        return;
    }
    let feds = federated(st);
    let oidc: Vec<&Federated> = feds.iter().filter(|f| f.oidc).collect();
    let issuer_hint = oidc
        .first()
        .map(|f| f.issuer.clone())
        .or_else(|| flat_conditions(st).iter().find_map(|c| issuer_key(&c.key).map(|k| k.issuer)))
        .unwrap_or_else(|| "<issuer host/path>".into());
    let trusted = Trusted { at, feds: &feds, oidc, issuer_hint };
    lint_principal(&trusted, st, role_account, out);
    lint_conditions(&trusted, st, out);
}

/// What a web-identity statement trusts, as its checks share it.
struct Trusted<'a> {
    /// Where the statement is, e.g. `Statement[0]`.
    at: &'a str,
    feds: &'a [Federated],
    /// The Federated principals that are OIDC providers.
    oidc: Vec<&'a Federated>,
    /// The issuer the statement is about, for the fixes the findings suggest.
    issuer_hint: String,
}

/// The principal and the action: an OIDC provider of the role's own account, and the
/// web-identity action allowed.
fn lint_principal(t: &Trusted<'_>, st: &Json, role_account: &str, out: &mut Vec<Finding>) {
    let (at, issuer_hint) = (t.at, &t.issuer_hint);
    let account_hint = if role_account.is_empty() { "<role account>" } else { role_account };
    if t.feds.is_empty() {
        out.push(Finding::error(
            format!("{at}.Principal"),
            format!(
                "allows `{WEB_IDENTITY_ACTION}` but names no Federated principal, so no service account token can assume the role; \
                 name the IAM OIDC provider of the cluster's issuer: \"Principal\": {{\"Federated\": \"arn:aws:iam::{account_hint}:oidc-provider/{issuer_hint}\"}}"
            ),
        ));
    }
    for p in &t.oidc {
        if let Some(account) = p.account.as_deref()
            && !role_account.is_empty()
            && account != role_account
        {
            out.push(Finding::error(
                format!("{at}.Principal.Federated"),
                format!(
                    "names the OIDC provider `{}` in account {account}, but the role is in account {role_account}: a trust policy can only \
                     trust an OIDC provider of the role's own account (STS answers \"No OpenIDConnect provider found in your account\"); \
                     create the OIDC provider for `{}` in the role's account {role_account} (an `OpenIdConnectProvider` on that account's \
                     provider) and name `arn:{}:iam::{role_account}:oidc-provider/{}`",
                    p.raw, p.issuer, p.partition, p.issuer
                ),
            ));
        }
    }
    if !t.oidc.is_empty() && !allows_action(st, WEB_IDENTITY_ACTION) {
        out.push(Finding::error(
            format!("{at}.Action"),
            format!(
                "trusts the OIDC provider for `{issuer_hint}` but does not allow `{WEB_IDENTITY_ACTION}`, the call pods make with their \
                 service account token; add \"{WEB_IDENTITY_ACTION}\" to Action"
            ),
        ));
    }
}

/// The conditions: web-identity keys as STS sets them, wildcards under operators that take them,
/// `sub` and `aud` each where it belongs, and both present.
fn lint_conditions(t: &Trusted<'_>, st: &Json, out: &mut Vec<Finding>) {
    let (at, issuer_hint) = (t.at, &t.issuer_hint);
    let at_cond = format!("{at}.Condition");
    let (mut has_sub, mut has_aud, mut swapped) = (false, false, false);
    for c in flat_conditions(st) {
        literal_wildcards(&at_cond, &c, out);
        let Some(k) = issuer_key(&c.key) else { continue };
        lint_key(t, &at_cond, &c.key, &k, out);
        let positive = is_positive(&c.base);
        match k.claim.as_str() {
            "sub" => {
                has_sub |= positive;
                swapped |= lint_subjects(&at_cond, &c, &k, out);
            }
            "aud" => {
                has_aud |= positive;
                swapped |= lint_audiences(&at_cond, &c, &k, out);
            }
            _ => {}
        }
    }
    if t.oidc.is_empty() {
        return;
    }
    if !has_sub {
        out.push(Finding::error(
            &at_cond,
            format!(
                "has no `{issuer_hint}:sub` condition, so any service account in the cluster can assume the role; add StringEquals \
                 `{issuer_hint}:sub` = `{SERVICE_ACCOUNT_PREFIX}<namespace>:<service account>`"
            ),
        ));
    }
    if !has_aud && !swapped {
        out.push(Finding::warning(
            &at_cond,
            format!(
                "has no `{issuer_hint}:aud` condition, so tokens minted for any audience are accepted; add StringEquals \
                 `{issuer_hint}:aud` = `{STS_AUDIENCE}`"
            ),
        ));
    }
}

/// Wildcards under an operator that compares literally.
fn literal_wildcards(at_cond: &str, c: &Condition, out: &mut Vec<Finding>) {
    let (op, key) = (&c.op, &c.key);
    if matches!(c.base.as_str(), "StringEquals" | "StringEqualsIgnoreCase" | "StringNotEquals" | "StringNotEqualsIgnoreCase") {
        let (like, effect) = if c.base.contains("Not") { ("StringNotLike", "excludes") } else { ("StringLike", "matches") };
        for v in c.values.iter().filter(|v| v.contains(['*', '?'])) {
            out.push(Finding::error(
                at_cond,
                format!(
                    "`{op}` compares literally, so `{key}` = `{v}` only {effect} a value with a literal `*` or `?`, never a real \
                     token; use `{like}` for wildcards (or write the exact value)"
                ),
            ));
        }
    }
}

/// A web-identity key STS never sets: with a scheme or an ARN prefix, or for another issuer than
/// the one trusted.
fn lint_key(t: &Trusted<'_>, at_cond: &str, key: &str, k: &IssuerKey, out: &mut Vec<Finding>) {
    let issuer_hint = &t.issuer_hint;
    let trusted: Vec<&str> = t.feds.iter().filter(|f| f.oidc || !f.raw.starts_with("arn:")).map(|f| f.issuer.as_str()).collect();
    let fixed = format!("{}:{}", k.issuer, k.claim_as_written);
    match &k.fault {
        Some(KeyFault::Scheme(scheme)) => out.push(Finding::error(
            at_cond,
            format!(
                "the condition key `{key}` carries `{scheme}`; STS names web-identity keys by the issuer's host/path without a scheme, \
                 so this key is never set and the condition never matches; use `{fixed}`"
            ),
        )),
        Some(KeyFault::Arn(prefix)) => out.push(Finding::error(
            at_cond,
            format!(
                "the condition key `{key}` carries the provider ARN prefix `{prefix}`; the key is the issuer's host/path, not the \
                 provider's ARN, so this key is never set and the condition never matches; use `{fixed}`"
            ),
        )),
        None if !trusted.is_empty() && !trusted.iter().any(|i| i.eq_ignore_ascii_case(&k.issuer)) => out.push(Finding::error(
            at_cond,
            format!(
                "the condition key `{key}` is for the issuer `{}`, but the statement trusts the provider for `{}`; STS sets only the \
                 token issuer's keys, so this condition never matches; use `{issuer_hint}:{}`",
                k.issuer,
                trusted.join("`, `"),
                k.claim_as_written
            ),
        )),
        None => {}
    }
}

/// `sub` values: an audience in its place, or any namespace. Returns whether `aud` and `sub`
/// look swapped.
fn lint_subjects(at_cond: &str, c: &Condition, k: &IssuerKey, out: &mut Vec<Finding>) -> bool {
    let (op, key) = (&c.op, &c.key);
    let mut swapped = false;
    for v in &c.values {
        if v.eq_ignore_ascii_case(STS_AUDIENCE) {
            swapped = true;
            out.push(Finding::error(
                at_cond,
                format!(
                    "`{key}` is `{v}`, which is the token's audience: `aud` and `sub` are swapped; set `{}:aud` to \
                     `{STS_AUDIENCE}` and `{}:sub` to `{SERVICE_ACCOUNT_PREFIX}<namespace>:<service account>`",
                    k.issuer, k.issuer
                ),
            ));
        }
        if c.base == "StringLike" && wildcard_namespace(v) {
            out.push(Finding::warning(
                at_cond,
                format!(
                    "`{op}` `{key}` is `{v}`, which matches service accounts of any namespace: whoever can create a \
                     matching service account in any namespace can assume the role; name the namespace: \
                     `{SERVICE_ACCOUNT_PREFIX}<namespace>:<service account>`"
                ),
            ));
        }
    }
    swapped
}

/// `aud` values: a service account subject in its place. Returns whether `aud` and `sub` look
/// swapped.
fn lint_audiences(at_cond: &str, c: &Condition, k: &IssuerKey, out: &mut Vec<Finding>) -> bool {
    let key = &c.key;
    let mut swapped = false;
    for v in c.values.iter().filter(|v| v.starts_with(SERVICE_ACCOUNT_PREFIX)) {
        swapped = true;
        out.push(Finding::error(
            at_cond,
            format!(
                "`{key}` is `{v}`, which is a service account subject: `aud` and `sub` are swapped; set `{}:sub` to `{v}` \
                 and `{}:aud` to `{STS_AUDIENCE}`",
                k.issuer, k.issuer
            ),
        ));
    }
    swapped
}

/// The statements, whether `Statement` is a list or a single object.
fn statements(doc: &Json) -> Vec<&Json> {
    match doc.get("Statement") {
        Some(Json::Array(items)) => items.iter().collect(),
        Some(single @ Json::Object(_)) => vec![single],
        _ => Vec::new(),
    }
}

fn string_list(v: Option<&Json>) -> Vec<String> {
    match v {
        Some(Json::String(s)) => vec![s.clone()],
        Some(Json::Array(items)) => items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

/// Whether `Action`/`NotAction` lets the statement apply to `action` (IAM actions ignore case).
fn allows_action(st: &Json, action: &str) -> bool {
    let action = action.to_ascii_lowercase();
    let matching = |key: &str| string_list(st.get(key)).iter().any(|p| glob_match(&p.to_ascii_lowercase(), &action));
    if st.get("Action").is_some() { matching("Action") } else { st.get("NotAction").is_some() && !matching("NotAction") }
}

/// Whether `Action` names `action` itself (not through a wildcard).
fn names_action(st: &Json, action: &str) -> bool {
    string_list(st.get("Action")).iter().any(|a| a.eq_ignore_ascii_case(action))
}

/// A `Federated` principal: an IAM OIDC provider ARN, or an identity provider's name
/// (`cognito-identity.amazonaws.com`, `accounts.google.com`), or a SAML provider ARN.
struct Federated {
    raw: String,
    /// An OIDC provider ARN.
    oidc: bool,
    /// Host/path for an OIDC provider, the name itself otherwise.
    issuer: String,
    account: Option<String>,
    partition: String,
}

fn federated(st: &Json) -> Vec<Federated> {
    let principal = st.get("Principal").and_then(|p| p.get("Federated"));
    string_list(principal)
        .into_iter()
        .map(|raw| match raw.split_once(":oidc-provider/") {
            Some((head, issuer)) => {
                let parts: Vec<&str> = head.split(':').collect();
                Federated {
                    issuer: issuer.trim_end_matches('/').to_string(),
                    account: parts.get(4).filter(|a| !a.is_empty()).map(|a| a.to_string()),
                    partition: parts.get(1).filter(|p| !p.is_empty()).unwrap_or(&"aws").to_string(),
                    oidc: true,
                    raw,
                }
            }
            None => Federated { issuer: raw.clone(), account: None, partition: "aws".into(), oidc: false, raw },
        })
        .collect()
}

/// An `Allow` statement for web identities: it names the web-identity action, or trusts an OIDC
/// provider, or has a Federated principal and allows the action through a wildcard.
fn is_web_identity(st: &Json) -> bool {
    if st.get("Effect").and_then(Json::as_str) != Some("Allow") {
        return false;
    }
    let feds = federated(st);
    names_action(st, WEB_IDENTITY_ACTION) || feds.iter().any(|f| f.oidc) || (!feds.is_empty() && allows_action(st, WEB_IDENTITY_ACTION))
}

struct Condition {
    op: String,
    /// The operator without `ForAnyValue:`/`ForAllValues:` and `IfExists`.
    base: String,
    key: String,
    values: Vec<String>,
}

fn flat_conditions(st: &Json) -> Vec<Condition> {
    let by_op: BTreeMap<String, BTreeMap<String, Vec<String>>> = conditions(st);
    by_op
        .into_iter()
        .flat_map(|(op, keys)| keys.into_iter().map(move |(key, values)| Condition { base: base_operator(&op), op: op.clone(), key, values }))
        .collect()
}

fn base_operator(op: &str) -> String {
    let op = op.strip_prefix("ForAnyValue:").or_else(|| op.strip_prefix("ForAllValues:")).unwrap_or(op);
    op.strip_suffix("IfExists").unwrap_or(op).to_string()
}

/// Operators that restrict a key to the values given.
fn is_positive(base: &str) -> bool {
    matches!(base, "StringEquals" | "StringEqualsIgnoreCase" | "StringLike")
}

enum KeyFault {
    /// `https://` or `http://`.
    Scheme(String),
    /// `arn:aws:iam::<account>:oidc-provider/`.
    Arn(String),
}

/// A condition key of the form `<issuer host/path>:<claim>`.
struct IssuerKey {
    issuer: String,
    /// Lower case.
    claim: String,
    claim_as_written: String,
    fault: Option<KeyFault>,
}

/// The issuer and claim of a key, if it looks like a web-identity key (its prefix is a host or a
/// path, unlike `aws:SourceIp` or `sts:RoleSessionName`).
fn issuer_key(key: &str) -> Option<IssuerKey> {
    let (prefix, claim) = key.rsplit_once(':')?;
    let (issuer, fault) = if let Some(scheme) = ["https://", "http://"].into_iter().find(|s| prefix.to_ascii_lowercase().starts_with(s)) {
        (&prefix[scheme.len()..], Some(KeyFault::Scheme(prefix[..scheme.len()].to_string())))
    } else if prefix.starts_with("arn:")
        && let Some(at) = prefix.find(":oidc-provider/")
    {
        let end = at + ":oidc-provider/".len();
        (&prefix[end..], Some(KeyFault::Arn(prefix[..end].to_string())))
    } else {
        (prefix, None)
    };
    if fault.is_none() && !issuer.contains(['.', '/']) {
        return None;
    }
    Some(IssuerKey {
        issuer: issuer.trim_end_matches('/').to_string(),
        claim: claim.to_ascii_lowercase(),
        claim_as_written: claim.to_string(),
        fault,
    })
}

/// Whether a `StringLike` `:sub` pattern leaves the namespace open (`system:serviceaccount:*:web`, `*`).
fn wildcard_namespace(pattern: &str) -> bool {
    let Some(first) = pattern.find(['*', '?']) else { return false };
    let literal = &pattern[..first];
    match literal.strip_prefix(SERVICE_ACCOUNT_PREFIX) {
        // The namespace is fixed when a `:` ends it before the first wildcard.
        Some(rest) => !rest.contains(':'),
        // A wildcard before the namespace (`system:service*`, `*`) covers every namespace.
        None => SERVICE_ACCOUNT_PREFIX.starts_with(literal),
    }
}

/// IAM's `StringLike` matching: `*` is any run of characters, `?` any one character.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests;
