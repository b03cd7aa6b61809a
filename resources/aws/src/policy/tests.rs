use serde_json::json;
use strake::output::EmptyEnv;
use strake::{Output, Urn};

use super::*;

#[test]
fn canonical_form_ignores_order_and_single_vs_list() {
    let a = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": "arn:aws:s3:::b"},
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"], "Resource": ["arn:aws:s3:::b/*"]}
        ]
    });
    let b = json!({
        "Statement": [
            {"Resource": ["arn:aws:s3:::b/*"], "Action": ["s3:GetObjectVersion", "s3:GetObject"], "Effect": "Allow"},
            {"Effect": "Allow", "Resource": ["arn:aws:s3:::b"], "Action": "s3:ListBucket"}
        ],
        "Version": "2012-10-17"
    });
    assert_eq!(canonical(&a), canonical(&b));
    let c = json!({"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}});
    assert_ne!(canonical(&a), canonical(&c));
}

#[test]
fn url_encoded_documents_from_iam_parse() {
    let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3A*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D";
    let doc = parse_document(&json!(encoded)).unwrap();
    assert_eq!(doc["Statement"][0]["Action"], "s3:*");
    assert!(parse_document(&json!("{not json")).unwrap_err().contains("not valid JSON"));
}

#[test]
fn validation_names_the_rule_and_the_fix() {
    let no_effect = json!({"Version": "2012-10-17", "Statement": [{"Action": "s3:GetObject", "Resource": "*"}]});
    assert!(validate(&no_effect, PolicyKind::Identity)[0].contains("no Effect"));
    let no_action = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*"}]});
    assert!(validate(&no_action, PolicyKind::Identity)[0].contains("no Action"));
    let bad_resource = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "my-bucket/*"}]});
    assert!(validate(&bad_resource, PolicyKind::Identity)[0].contains("not an ARN"));
    let trust_without_principal = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]});
    assert!(validate(&trust_without_principal, PolicyKind::Trust)[0].contains("no Principal"));
    let big = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
        "Resource": (0..60).map(|i| format!("arn:aws:s3:::bucket-number-{i:03}/some/long/prefix/*")).collect::<Vec<_>>()}]});
    let problems = validate(&big, PolicyKind::Trust);
    assert!(problems.iter().any(|p| p.contains("limit of 2048")), "{problems:?}");
    assert!(!validate(&big, PolicyKind::Identity).iter().any(|p| p.contains("limit")));
}

#[test]
fn builder_accepts_outputs_and_stays_unknown_until_they_are_known() {
    let urn = Urn::new("s", "aws:iam:OpenIdConnectProvider", "oidc");
    let arn = Output::property(&urn, "arn").typed::<String>();
    let issuer = Output::property(&urn, "issuer").typed::<String>();
    let doc = PolicyDocument::new().statement(
        Statement::allow()
            .actions(["sts:AssumeRoleWithWebIdentity"])
            .federated(arn)
            .condition("StringEquals", issuer.map(|i| format!("{i}:sub")), ["system:serviceaccount:default:s3-sa"]),
    );
    let out = doc.to_output();
    assert!(out.dependencies().contains(&urn));
    assert_eq!(out.resolve(&EmptyEnv).unwrap().value, None);
    let env = std::collections::BTreeMap::from([(urn, strake::value!({"arn": "arn:aws:iam::222222222222:oidc-provider/x", "issuer": "oidc.example/id/1"}))]);
    let v = out.resolve(&env).unwrap().value.unwrap().to_plain_json().unwrap();
    assert_eq!(v["Statement"][0]["Principal"]["Federated"][0], "arn:aws:iam::222222222222:oidc-provider/x");
    assert_eq!(v["Statement"][0]["Condition"]["StringEquals"]["oidc.example/id/1:sub"][0], "system:serviceaccount:default:s3-sa");
    assert!(validate(&canonical(&v), PolicyKind::Trust).is_empty());
}
