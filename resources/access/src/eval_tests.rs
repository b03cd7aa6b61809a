//! Unit tests of the decision's fields: what the evaluation names, beyond the decision itself.

use serde_json::json;

use super::*;
use crate::names_principal;

const APP: &str = "arn:aws:iam::111111111111:role/app";
const ISSUER: &str = "oidc.eks.us-east-1.amazonaws.com/id/X";
const PROVIDER: &str = "arn:aws:iam::111111111111:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/X";

fn app() -> Principal {
    Principal::Role { arn: APP.into() }
}

fn parse(name: &str, doc: serde_json::Value) -> Policy {
    Policy::parse(name, &doc).unwrap()
}

#[test]
fn allowed_names_each_side_and_quotes_statements_compactly() {
    let identity = parse("policy read", json!({"Statement": {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}}));
    let bucket =
        parse("bucket policy", json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "s3:*", "Resource": "*"}]}));
    let request = Request::new(app(), "s3:GetObject", "arn:aws:s3:::reports/a").resource_account("222222222222");
    let e = evaluate(&request, &Policies { identity: vec![&identity], boundary: None, resource: Some(&bucket) });
    assert!(e.is_allowed() && e.reason().is_none());
    let names: Vec<(&str, usize, Option<&str>)> = e.allowed_by.iter().map(|r| (r.policy.as_str(), r.index, r.sid.as_deref())).collect();
    assert_eq!(names, vec![("policy read", 0, Some("Read")), ("bucket policy", 0, None)]);
    assert!(!e.allowed_by[0].text.contains(' ') && e.allowed_by[0].text.contains("\"Sid\":\"Read\""));
    assert!(e.denied_by.is_empty() && e.conditional_on.is_empty());
}

#[test]
fn explicit_deny_names_the_deny_and_says_so_in_its_reason() {
    let policy = parse(
        "policy guard",
        json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}, {"Sid": "NoDelete", "Effect": "Deny", "Action": "s3:Delete*", "Resource": "*"}]}),
    );
    let e = evaluate(&Request::new(app(), "s3:DeleteObject", "arn:aws:s3:::b/k"), &Policies { identity: vec![&policy], ..Policies::default() });
    assert_eq!(e.decision, Decision::ExplicitDeny);
    assert_eq!((e.denied_by.len(), e.denied_by[0].index, e.denied_by[0].sid.as_deref()), (1, 1, Some("NoDelete")));
    assert!(e.allowed_by.is_empty());
    assert_eq!(e.reason().unwrap(), "explicit deny: policy guard Statement[1] (Sid NoDelete) denies s3:DeleteObject on arn:aws:s3:::b/k");
}

#[test]
fn conditional_deny_is_listed_with_its_condition() {
    let policy = parse(
        "policy vpc",
        json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"StringNotEquals": {"aws:SourceVpc": "vpc-1"}}}]}),
    );
    let e = evaluate(&Request::new(app(), "s3:GetObject", "arn:aws:s3:::b/k"), &Policies { identity: vec![&policy], ..Policies::default() });
    assert_eq!(e.decision, Decision::Conditional);
    assert_eq!(e.conditional_on, vec![r#"StringNotEquals "aws:SourceVpc": ["vpc-1"] (key not known at plan time)"#.to_string()]);
    assert_eq!(e.denied_by.len(), 1);
    assert_eq!(e.allowed_by.len(), 1);
    assert!(e.reason().unwrap().starts_with("conditional: depends on StringNotEquals"));
}

#[test]
fn irsa_mismatch_line_names_statement_element_and_both_sides() {
    let trust = parse(
        "trust of role s3",
        json!({"Statement": {"Effect": "Allow", "Principal": {"Federated": PROVIDER}, "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {format!("{ISSUER}:aud"): "system:serviceaccount:ns:sa"}}}}),
    );
    let request =
        Request::new(Principal::WebIdentity { provider: PROVIDER.into() }, "sts:AssumeRoleWithWebIdentity", "arn:aws:iam::111111111111:role/s3")
            .context(format!("{ISSUER}:aud"), ["sts.amazonaws.com"])
            .complete();
    let e = evaluate(&request, &Policies { resource: Some(&trust), ..Policies::default() });
    assert_eq!(e.decision, Decision::ImplicitDeny);
    let expected = format!(
        r#"trust of role s3 Statement[0]: StringEquals "{ISSUER}:aud" is ["system:serviceaccount:ns:sa"], the request has ["sts.amazonaws.com"]"#
    );
    assert!(e.explanation.iter().any(|l| l.starts_with(&expected)), "{:#?}", e.explanation);
    assert!(e.reason().unwrap().contains(&expected), "{:?}", e.reason());
}

#[test]
fn conditional_on_lists_only_undecided_parts_that_matter() {
    // The identity side holds outright, so the unknown condition of another identity statement does not matter.
    let identity = parse(
        "policy two",
        json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-1"}}},
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}),
    );
    let bucket = parse(
        "bucket policy",
        json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}}}),
    );
    let request = Request::new(app(), "s3:GetObject", "arn:aws:s3:::b/k").resource_account("222222222222");
    let e = evaluate(&request, &Policies { identity: vec![&identity], boundary: None, resource: Some(&bucket) });
    assert_eq!(e.decision, Decision::Conditional);
    assert_eq!(e.conditional_on, vec![r#"StringEquals "aws:PrincipalOrgID": ["o-1"] (key not known at plan time)"#.to_string()]);
}

#[test]
fn names_principal_reads_principal_and_not_principal() {
    let policy = parse(
        "p",
        json!({"Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "*"},
            {"Effect": "Deny", "NotPrincipal": {"AWS": APP}, "Action": "*"},
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "*"}
        ]}),
    );
    let named: Vec<bool> = policy.statements.iter().map(|s| names_principal(s, &app())).collect();
    assert_eq!(named, vec![true, true, false, false]);
}

#[test]
fn the_root_needs_no_policy_at_home_but_a_trust_must_name_it() {
    let root = Principal::Account { id: "111111111111".into() };
    let e = evaluate(&Request::new(root.clone(), "s3:GetObject", "arn:aws:s3:::b/k"), &Policies::default());
    assert_eq!(e.decision, Decision::Allowed);
    let trust = parse(
        "trust of role x",
        json!({"Statement": {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}}),
    );
    let request = Request::new(root, "sts:AssumeRole", "arn:aws:iam::111111111111:role/x");
    assert_eq!(evaluate(&request, &Policies { resource: Some(&trust), ..Policies::default() }).decision, Decision::ImplicitDeny);
}
