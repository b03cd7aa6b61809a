//! Unit tests of condition operators: absent keys, set qualifiers, IfExists, variables.

use super::*;
use crate::request::Principal;

fn request() -> Request {
    Request::new(Principal::Role { arn: "arn:aws:iam::111111111111:role/app".into() }, "s3:GetObject", "arn:aws:s3:::b/k")
}

fn check(operator: &str, key: &str, values: &[&str], request: &Request) -> Tri {
    let condition = Condition { operator: operator.into(), key: key.into(), values: values.iter().map(|v| v.to_string()).collect() };
    evaluate(&condition, request).tri
}

#[test]
fn operator_names_parse_with_qualifiers_and_if_exists() {
    let op = parse_operator("ForAnyValue:StringLikeIfExists").unwrap();
    assert_eq!((op.qualifier, op.base, op.if_exists), (Qualifier::AnyValue, Base::StringLike, true));
    assert_eq!(parse_operator("stringequals").unwrap().base, Base::StringEquals);
    assert_eq!(parse_operator("NumericLessThan"), Err("operator not modelled"));
    assert_eq!(parse_operator("IpAddressIfExists"), Err("operator not modelled"));
    assert_eq!(parse_operator("NullIfExists"), Err("operator not recognised"));
    assert_eq!(parse_operator("StringEqual"), Err("operator not recognised"));
}

#[test]
fn string_operators() {
    let r = request().context("k", ["Prod"]);
    assert_eq!(check("StringEquals", "k", &["prod", "Prod"], &r), Tri::Holds);
    assert_eq!(check("StringEquals", "k", &["prod"], &r), Tri::Fails);
    assert_eq!(check("StringEqualsIgnoreCase", "K", &["prod"], &r), Tri::Holds);
    assert_eq!(check("StringNotEquals", "k", &["dev", "test"], &r), Tri::Holds);
    assert_eq!(check("StringNotEquals", "k", &["dev", "Prod"], &r), Tri::Fails);
    assert_eq!(check("StringNotEqualsIgnoreCase", "k", &["PROD"], &r), Tri::Fails);
    assert_eq!(check("StringLike", "k", &["P*"], &r), Tri::Holds);
    assert_eq!(check("StringEquals", "k", &["P*"], &r), Tri::Fails);
    assert_eq!(check("StringNotLike", "k", &["p*"], &r), Tri::Holds);
}

#[test]
fn arn_and_bool_operators() {
    let r = request().context("aws:SourceArn", ["arn:aws:sns:us-east-1:111111111111:topic"]).context("aws:SecureTransport", ["TRUE"]);
    assert_eq!(check("ArnLike", "aws:SourceArn", &["arn:aws:sns:*:111111111111:*"], &r), Tri::Holds);
    assert_eq!(check("ArnEquals", "aws:SourceArn", &["arn:aws:sns:*:111111111111:*"], &r), Tri::Holds);
    assert_eq!(check("ArnNotLike", "aws:SourceArn", &["arn:aws:sns:*:222222222222:*"], &r), Tri::Holds);
    assert_eq!(check("ArnLike", "aws:SourceArn", &["arn:aws:sqs:*:111111111111:*"], &r), Tri::Fails);
    assert_eq!(check("Bool", "aws:SecureTransport", &["true"], &r), Tri::Holds);
    assert_eq!(check("Bool", "aws:SecureTransport", &["false"], &r), Tri::Fails);
}

#[test]
fn absent_keys_in_a_complete_context() {
    let r = request().complete();
    assert_eq!(check("StringEquals", "aws:SourceVpc", &["vpc-1"], &r), Tri::Fails);
    assert_eq!(check("StringNotEquals", "aws:SourceVpc", &["vpc-1"], &r), Tri::Holds);
    assert_eq!(check("ArnNotLike", "aws:SourceArn", &["arn:*"], &r), Tri::Holds);
    assert_eq!(check("StringEqualsIfExists", "aws:SourceVpc", &["vpc-1"], &r), Tri::Holds);
    assert_eq!(check("Null", "aws:SourceVpc", &["true"], &r), Tri::Holds);
    assert_eq!(check("Null", "aws:SourceVpc", &["false"], &r), Tri::Fails);
    assert_eq!(check("Bool", "aws:MultiFactorAuthPresent", &["false"], &r), Tri::Fails);
    assert_eq!(check("BoolIfExists", "aws:MultiFactorAuthPresent", &["false"], &r), Tri::Holds);
}

#[test]
fn absent_keys_in_an_incomplete_context_are_unknown_except_principal_keys() {
    let r = request();
    let condition = Condition { operator: "StringEquals".into(), key: "aws:SourceVpc".into(), values: vec!["vpc-1".into()] };
    let outcome = evaluate(&condition, &r);
    assert_eq!(outcome.tri, Tri::Unknown);
    assert_eq!(outcome.unknown.as_deref(), Some(r#"StringEquals "aws:SourceVpc": ["vpc-1"] (key not known at plan time)"#));
    assert_eq!(check("StringEqualsIfExists", "aws:SourceVpc", &["vpc-1"], &r), Tri::Unknown);
    assert_eq!(check("Null", "aws:SourceVpc", &["true"], &r), Tri::Unknown);
    assert_eq!(check("StringEquals", "aws:PrincipalAccount", &["111111111111"], &r), Tri::Holds);
    assert_eq!(check("Null", "aws:PrincipalServiceName", &["true"], &r), Tri::Holds);
}

#[test]
fn for_all_values_is_true_on_an_empty_set_and_for_any_value_false() {
    let r = request().complete();
    assert_eq!(check("ForAllValues:StringEquals", "aws:TagKeys", &["env"], &r), Tri::Holds);
    assert_eq!(check("ForAnyValue:StringEquals", "aws:TagKeys", &["env"], &r), Tri::Fails);
    let empty = request().context("aws:TagKeys", Vec::<String>::new()).complete();
    assert_eq!(check("ForAllValues:StringEquals", "aws:TagKeys", &["env"], &empty), Tri::Holds);
}

#[test]
fn set_qualifiers_over_several_values() {
    let r = request().context("aws:TagKeys", ["env", "team"]);
    assert_eq!(check("ForAllValues:StringEquals", "aws:TagKeys", &["env", "team", "cost"], &r), Tri::Holds);
    assert_eq!(check("ForAllValues:StringEquals", "aws:TagKeys", &["env"], &r), Tri::Fails);
    assert_eq!(check("ForAnyValue:StringEquals", "aws:TagKeys", &["team"], &r), Tri::Holds);
    assert_eq!(check("ForAnyValue:StringEquals", "aws:TagKeys", &["cost"], &r), Tri::Fails);
    // Negated: ForAnyValue holds when some value is outside the list, ForAllValues when every value is.
    assert_eq!(check("ForAnyValue:StringNotEquals", "aws:TagKeys", &["env"], &r), Tri::Holds);
    assert_eq!(check("ForAnyValue:StringNotEquals", "aws:TagKeys", &["env", "team"], &r), Tri::Fails);
    assert_eq!(check("ForAllValues:StringNotEquals", "aws:TagKeys", &["cost"], &r), Tri::Holds);
    assert_eq!(check("ForAllValues:StringNotEquals", "aws:TagKeys", &["env"], &r), Tri::Fails);
    assert_eq!(check("ForAllValues:StringLike", "aws:TagKeys", &["e*", "t*"], &r), Tri::Holds);
}

#[test]
fn variables_in_values() {
    let alice = Request::new(Principal::User { arn: "arn:aws:iam::111111111111:user/alice".into() }, "s3:ListBucket", "arn:aws:s3:::b");
    let r = alice.clone().context("s3:prefix", ["home/alice/"]);
    assert_eq!(check("StringLike", "s3:prefix", &["home/${aws:username}/*"], &r), Tri::Holds);
    assert_eq!(check("StringEquals", "s3:prefix", &["home/${aws:username}/"], &r), Tri::Holds);
    let tagged = alice.context("s3:prefix", ["home/x/"]);
    let condition = Condition { operator: "StringLike".into(), key: "s3:prefix".into(), values: vec!["home/${aws:PrincipalTag/team}/*".into()] };
    let outcome = evaluate(&condition, &tagged);
    assert_eq!(outcome.tri, Tri::Unknown);
    assert!(outcome.unknown.unwrap().contains("policy variable ${aws:PrincipalTag/team} not known at plan time"));
    // An unknown variable in one value does not hide a definite match in another.
    assert_eq!(check("StringLike", "s3:prefix", &["home/${aws:PrincipalTag/team}/*", "home/*"], &tagged), Tri::Holds);
}

#[test]
fn unmodelled_operators_are_never_decided() {
    let r = request().context("aws:SourceIp", ["10.0.0.1"]).complete();
    assert_eq!(check("IpAddress", "aws:SourceIp", &["10.0.0.0/8"], &r), Tri::Unknown);
    assert_eq!(check("NotIpAddress", "aws:SourceIp", &["10.0.0.0/8"], &r), Tri::Unknown);
    assert_eq!(check("NumericLessThan", "s3:max-keys", &["10"], &r), Tri::Unknown);
}

#[test]
fn lines_show_both_sides_and_hints() {
    let issuer = "oidc.eks.us-east-1.amazonaws.com/id/X";
    let r = request().context(format!("{issuer}:aud"), ["sts.amazonaws.com"]);
    let aud = Condition { operator: "StringEquals".into(), key: format!("{issuer}:aud"), values: vec!["system:serviceaccount:ns:sa".into()] };
    let line = evaluate(&aud, &r).line;
    assert!(
        line.starts_with(&format!("StringEquals \"{issuer}:aud\" is [\"system:serviceaccount:ns:sa\"], the request has [\"sts.amazonaws.com\"]")),
        "{line}"
    );
    assert!(line.contains("swapped"), "{line}");
    let r = request().context(format!("{issuer}:sub"), ["system:serviceaccount:ns:sa"]);
    let starry = Condition { operator: "StringEquals".into(), key: format!("{issuer}:sub"), values: vec!["system:serviceaccount:ns:*".into()] };
    assert!(evaluate(&starry, &r).line.contains("compares literally"));
}
