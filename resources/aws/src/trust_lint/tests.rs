use serde_json::{Value as Json, json};

use super::*;
use crate::policy::{PolicyKind, canonical, validate};

const ISSUER: &str = "oidc.eks.us-east-1.amazonaws.com/id/ABC";
const ROLE_ACCOUNT: &str = "222222222222";
const OTHER_ACCOUNT: &str = "123456789012";
const SUBJECT: &str = "system:serviceaccount:apps:web";

fn provider(account: &str) -> String {
    format!("arn:aws:iam::{account}:oidc-provider/{ISSUER}")
}

fn key(claim: &str) -> String {
    format!("{ISSUER}:{claim}")
}

/// A web-identity statement trusting the provider in `account` with `condition`.
fn web(account: &str, condition: Json) -> Json {
    json!({
        "Effect": "Allow",
        "Action": ["sts:AssumeRoleWithWebIdentity"],
        "Principal": {"Federated": [provider(account)]},
        "Condition": condition,
    })
}

fn doc(statements: Vec<Json>) -> Json {
    json!({"Version": "2012-10-17", "Statement": statements})
}

fn correct() -> Json {
    web(ROLE_ACCOUNT, json!({"StringEquals": {key("sub"): [SUBJECT], key("aud"): ["sts.amazonaws.com"]}}))
}

const E: Severity = Severity::Error;
const W: Severity = Severity::Warning;
const COND: &str = "assume_role_policy.Statement[0].Condition";

struct Case {
    name: &'static str,
    doc: Json,
    /// (severity, path, substrings of the message), in order.
    expect: Vec<(Severity, &'static str, Vec<String>)>,
}

fn case(name: &'static str, doc: Json, expect: Vec<(Severity, &'static str, Vec<&str>)>) -> Case {
    Case { name, doc, expect: expect.into_iter().map(|(s, p, m)| (s, p, m.into_iter().map(str::to_string).collect())).collect() }
}

fn cases() -> Vec<Case> {
    vec![
        case("a correct IRSA trust", doc(vec![correct()]), vec![]),
        case(
            "a StringLike sub with a fixed namespace",
            doc(vec![web(
                ROLE_ACCOUNT,
                json!({"StringLike": {key("sub"): ["system:serviceaccount:apps:web-*"]}, "StringEquals": {key("aud"): ["sts.amazonaws.com"]}}),
            )]),
            vec![],
        ),
        case(
            "single values instead of lists, Statement an object",
            json!({"Version": "2012-10-17", "Statement": {
                "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity", "Principal": {"Federated": provider(ROLE_ACCOUNT)},
                "Condition": {"StringEquals": {key("sub"): SUBJECT, key("aud"): "sts.amazonaws.com"}}}}),
            vec![],
        ),
        case(
            "missing sub",
            doc(vec![web(ROLE_ACCOUNT, json!({"StringEquals": {key("aud"): ["sts.amazonaws.com"]}}))]),
            vec![(E, COND, vec!["any service account", "add StringEquals", &key("sub"), "system:serviceaccount:<namespace>:<service account>"])],
        ),
        case(
            "no condition at all",
            doc(vec![json!({"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity", "Principal": {"Federated": provider(ROLE_ACCOUNT)}})]),
            vec![(E, COND, vec!["any service account"]), (W, COND, vec![&key("aud"), "sts.amazonaws.com"])],
        ),
        case(
            "sub only under StringNotEquals does not restrict",
            doc(vec![web(
                ROLE_ACCOUNT,
                json!({"StringNotEquals": {key("sub"): ["system:serviceaccount:kube-system:default"]}, "StringEquals": {key("aud"): ["sts.amazonaws.com"]}}),
            )]),
            vec![(E, COND, vec!["any service account"])],
        ),
        case(
            "a wildcard in StringEquals",
            doc(vec![web(ROLE_ACCOUNT, json!({"StringEquals": {key("sub"): ["system:serviceaccount:apps:*"], key("aud"): ["sts.amazonaws.com"]}}))]),
            vec![(E, COND, vec!["`StringEquals` compares literally", "system:serviceaccount:apps:*", "use `StringLike`"])],
        ),
        case(
            "a ? wildcard in StringNotEquals",
            doc(vec![web(
                ROLE_ACCOUNT,
                json!({"StringEquals": {key("sub"): [SUBJECT], key("aud"): ["sts.amazonaws.com"]}, "StringNotEquals": {key("sub"): ["system:serviceaccount:apps:web?"]}}),
            )]),
            vec![(E, COND, vec!["use `StringNotLike`"])],
        ),
        case(
            "https:// in the key",
            doc(vec![web(ROLE_ACCOUNT, json!({"StringEquals": {format!("https://{ISSUER}:sub"): [SUBJECT], key("aud"): ["sts.amazonaws.com"]}}))]),
            vec![(E, COND, vec!["carries `https://`", &format!("use `{ISSUER}:sub`")])],
        ),
        case(
            "the provider ARN in the key",
            doc(vec![web(
                ROLE_ACCOUNT,
                json!({"StringEquals": {format!("{}:sub", provider(ROLE_ACCOUNT)): [SUBJECT], key("aud"): ["sts.amazonaws.com"]}}),
            )]),
            vec![(E, COND, vec!["ARN prefix `arn:aws:iam::222222222222:oidc-provider/`", &format!("use `{ISSUER}:sub`")])],
        ),
        case(
            "aud and sub swapped",
            doc(vec![web(ROLE_ACCOUNT, json!({"StringEquals": {key("sub"): ["sts.amazonaws.com"], key("aud"): [SUBJECT]}}))]),
            vec![
                (E, COND, vec!["is a service account subject", "swapped", &format!("`{}` to `{SUBJECT}`", key("sub"))]),
                (E, COND, vec!["the token's audience", "swapped", &format!("`{}` to `sts.amazonaws.com`", key("aud"))]),
            ],
        ),
        case(
            "sub set to the audience, no aud",
            doc(vec![web(ROLE_ACCOUNT, json!({"StringEquals": {key("sub"): ["sts.amazonaws.com"]}}))]),
            vec![(E, COND, vec!["swapped"])],
        ),
        case(
            "the OIDC provider in another account",
            doc(vec![web(OTHER_ACCOUNT, json!({"StringEquals": {key("sub"): [SUBJECT], key("aud"): ["sts.amazonaws.com"]}}))]),
            vec![(
                E,
                "assume_role_policy.Statement[0].Principal.Federated",
                vec![
                    "in account 123456789012",
                    "No OpenIDConnect provider found in your account",
                    "create the OIDC provider",
                    "in the role's account 222222222222",
                    "arn:aws:iam::222222222222:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC",
                ],
            )],
        ),
        case(
            "condition keys for another issuer",
            doc(vec![web(
                ROLE_ACCOUNT,
                json!({"StringEquals": {"oidc.eks.us-east-1.amazonaws.com/id/OTHER:sub": [SUBJECT], "oidc.eks.us-east-1.amazonaws.com/id/OTHER:aud": ["sts.amazonaws.com"]}}),
            )]),
            vec![
                (E, COND, vec!["for the issuer `oidc.eks.us-east-1.amazonaws.com/id/OTHER`", &format!("use `{}`", key("aud"))]),
                (E, COND, vec!["never matches", &format!("use `{}`", key("sub"))]),
            ],
        ),
        case(
            "missing aud",
            doc(vec![web(ROLE_ACCOUNT, json!({"StringEquals": {key("sub"): [SUBJECT]}}))]),
            vec![(W, COND, vec!["no `oidc.eks.us-east-1.amazonaws.com/id/ABC:aud` condition", "add StringEquals", "sts.amazonaws.com"])],
        ),
        case(
            "StringLike with a wildcard namespace",
            doc(vec![web(
                ROLE_ACCOUNT,
                json!({"StringLike": {key("sub"): ["system:serviceaccount:*:web"]}, "StringEquals": {key("aud"): ["sts.amazonaws.com"]}}),
            )]),
            vec![(W, COND, vec!["any namespace", "system:serviceaccount:<namespace>:<service account>"])],
        ),
        case(
            "ForAnyValue:StringLike with a bare *",
            doc(vec![web(ROLE_ACCOUNT, json!({"ForAnyValue:StringLike": {key("sub"): ["*"]}, "StringEquals": {key("aud"): ["sts.amazonaws.com"]}}))]),
            vec![(W, COND, vec!["any namespace"])],
        ),
        case(
            "the web-identity action without a Federated principal",
            doc(vec![json!({"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity", "Principal": {"AWS": "arn:aws:iam::222222222222:root"}})]),
            vec![(E, "assume_role_policy.Statement[0].Principal", vec!["no Federated principal", "arn:aws:iam::222222222222:oidc-provider/"])],
        ),
        case(
            "an OIDC provider without the web-identity action",
            doc(vec![json!({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Federated": provider(ROLE_ACCOUNT)},
                "Condition": {"StringEquals": {key("sub"): SUBJECT, key("aud"): "sts.amazonaws.com"}}})]),
            vec![(E, "assume_role_policy.Statement[0].Action", vec!["add \"sts:AssumeRoleWithWebIdentity\""])],
        ),
        case(
            "the second statement is the broken one",
            doc(vec![
                json!({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ec2.amazonaws.com"}}),
                web(ROLE_ACCOUNT, json!({"StringEquals": {key("aud"): ["sts.amazonaws.com"]}})),
            ]),
            vec![(E, "assume_role_policy.Statement[1].Condition", vec!["any service account"])],
        ),
        case(
            "not web identity: an AWS principal, a SAML provider, a Deny",
            doc(vec![
                json!({"Effect": "Allow", "Action": "sts:*", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}),
                json!({"Effect": "Allow", "Action": "sts:AssumeRoleWithSAML", "Principal": {"Federated": "arn:aws:iam::123456789012:saml-provider/okta"},
                    "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}}}),
                json!({"Effect": "Deny", "Action": "sts:AssumeRoleWithWebIdentity", "Principal": {"Federated": provider(OTHER_ACCOUNT)}}),
            ]),
            vec![],
        ),
        case(
            "a Cognito identity pool needs no sub",
            doc(vec![
                json!({"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
                "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": "us-east-1:1234"}, "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}}}),
            ]),
            vec![],
        ),
        case(
            "other condition keys are left alone",
            doc(vec![web(
                ROLE_ACCOUNT,
                json!({"StringEquals": {key("sub"): [SUBJECT], key("aud"): ["sts.amazonaws.com"], "aws:PrincipalTag/team": ["data"]}, "IpAddress": {"aws:SourceIp": ["10.0.0.0/8"]}}),
            )]),
            vec![],
        ),
    ]
}

#[test]
fn every_pattern_gives_its_findings() {
    for c in cases() {
        // As written and in canonical form (what `aws:iam:Role` lints) alike.
        for (form, d) in [("as written", c.doc.clone()), ("canonical", canonical(&c.doc))] {
            let found = lint_trust(&d, ROLE_ACCOUNT);
            let mut left = found.clone();
            for (severity, path, parts) in &c.expect {
                let hit =
                    left.iter().position(|f| f.severity == *severity && f.path == *path && parts.iter().all(|p| f.message.contains(p.as_str())));
                match hit {
                    Some(i) => {
                        left.remove(i);
                    }
                    None => panic!("{} ({form}): no {severity:?} at {path} containing {parts:?}; found {found:#?}", c.name),
                }
            }
            assert!(left.is_empty(), "{} ({form}): unexpected findings {left:#?}", c.name);
        }
    }
}

#[test]
fn every_finding_names_the_field() {
    for c in cases() {
        for f in lint_trust(&c.doc, ROLE_ACCOUNT) {
            assert!(f.path.starts_with("assume_role_policy.Statement["), "{}: {f:?}", c.name);
        }
    }
}

#[test]
fn an_unknown_role_account_skips_the_cross_account_rule() {
    let d = doc(vec![web(OTHER_ACCOUNT, json!({"StringEquals": {key("sub"): [SUBJECT], key("aud"): ["sts.amazonaws.com"]}}))]);
    assert_eq!(lint_trust(&d, ""), vec![]);
    assert_eq!(lint_trust(&d, OTHER_ACCOUNT), vec![]);
}

#[test]
fn the_size_limit_is_left_to_validate() {
    let subjects: Vec<String> = (0..40).map(|i| format!("system:serviceaccount:namespace-{i:03}:service-account-{i:03}")).collect();
    let d = canonical(&doc(vec![web(ROLE_ACCOUNT, json!({"StringEquals": {key("sub"): subjects, key("aud"): ["sts.amazonaws.com"]}}))]));
    assert!(validate(&d, PolicyKind::Trust).iter().any(|p| p.contains("limit of 2048")));
    assert_eq!(lint_trust(&d, ROLE_ACCOUNT), vec![]);
}

#[test]
fn documents_without_statements_give_nothing() {
    for d in [json!({}), json!("not an object"), json!({"Statement": "x"}), json!(null)] {
        assert_eq!(lint_trust(&d, ROLE_ACCOUNT), vec![], "{d}");
    }
}

#[test]
fn subjects_match_like_iam() {
    let d = doc(vec![
        web(ROLE_ACCOUNT, json!({"StringEquals": {key("sub"): [SUBJECT], key("aud"): ["sts.amazonaws.com"]}})),
        web(ROLE_ACCOUNT, json!({"StringLike": {key("sub"): ["system:serviceaccount:jobs:batch-*"]}})),
        web(ROLE_ACCOUNT, json!({"StringEqualsIgnoreCase": {key("sub"): ["system:serviceaccount:Ops:Tool"]}})),
        json!({"Effect": "Deny", "Action": "sts:AssumeRoleWithWebIdentity", "Principal": {"Federated": provider(ROLE_ACCOUNT)},
            "Condition": {"StringEquals": {key("sub"): "system:serviceaccount:denied:sa"}}}),
    ]);
    for (subject, named) in [
        (SUBJECT, true),
        ("system:serviceaccount:apps:web2", false),
        ("system:serviceaccount:apps:other", false),
        ("system:serviceaccount:jobs:batch-1", true),
        ("system:serviceaccount:jobs:batch-", true),
        ("system:serviceaccount:jobs:other", false),
        ("system:serviceaccount:ops:tool", true),
        ("system:serviceaccount:denied:sa", false),
    ] {
        assert_eq!(trust_names_subject(&d, subject), named, "{subject}");
    }
    assert_eq!(subject_conditions(&d).len(), 3);
    assert_eq!(subject_conditions(&d)[0].issuer, ISSUER);
    assert_eq!(trusted_issuers(&d), vec![ISSUER.to_string()]);
}

#[test]
fn glob_matching() {
    for (pattern, text, matches) in [
        ("*", "", true),
        ("*", "anything", true),
        ("a*c", "abbbc", true),
        ("a*c", "abbb", false),
        ("a?c", "abc", true),
        ("a?c", "ac", false),
        ("sts:*", "sts:assumerolewithwebidentity", true),
        ("*:assume*", "sts:assumerole", true),
        ("abc", "abc", true),
        ("abc", "abcd", false),
        ("a**b", "ab", true),
    ] {
        assert_eq!(glob_match(pattern, text), matches, "{pattern} ~ {text}");
    }
}

#[test]
fn wildcard_namespaces() {
    for (pattern, open) in [
        ("system:serviceaccount:*:web", true),
        ("system:serviceaccount:team-*:web", true),
        ("system:serviceaccount:apps:*", false),
        ("system:serviceaccount:apps:web-?", false),
        ("system:serviceaccount:apps:web", false),
        ("system:service*", true),
        ("*", true),
        ("repo:org/*", false),
    ] {
        assert_eq!(wildcard_namespace(pattern), open, "{pattern}");
    }
}

#[test]
fn a_service_account_is_refused_unless_a_sub_condition_names_it() {
    let trust = |op: &str, sub: &str| doc(vec![web(ROLE_ACCOUNT, json!({op: {key("sub"): sub, key("aud"): STS_AUDIENCE}}))]);
    let named = trust("StringEquals", SUBJECT);
    let cases: Vec<(&str, Json, &str, bool)> = vec![
        ("named", named.clone(), "web", false),
        ("another name", named.clone(), "api", true),
        ("StringLike match", trust("StringLike", "system:serviceaccount:apps:web-*"), "web-1", false),
        ("StringLike miss", trust("StringLike", "system:serviceaccount:apps:web-*"), "api", true),
        ("another namespace", trust("StringEquals", "system:serviceaccount:other:web"), "web", true),
        ("trust given as JSON text", Json::String(named.to_string()), "web", false),
        ("no :sub at all", doc(vec![web(ROLE_ACCOUNT, json!({"StringEquals": {key("aud"): STS_AUDIENCE}}))]), "web", true),
        ("not a policy", Json::String("{not json".into()), "api", false),
    ];
    for (case, trust, name, refused) in cases {
        let refusal = service_account_refusal(&trust, "apps", name);
        assert_eq!(refusal.is_some(), refused, "{case}: {refusal:?}");
        if let Some(r) = refusal {
            let subject = format!("system:serviceaccount:apps:{name}");
            assert!(r.contains("does not name this service account"), "{case}: {r}");
            assert!(r.contains(&format!("add StringEquals `{ISSUER}:sub` = `{subject}`")), "{case}: {r}");
        }
    }
}
