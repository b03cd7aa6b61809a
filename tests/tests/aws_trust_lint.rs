//! The IRSA trust lint at plan time, against moto with the role in account B: every broken
//! web-identity trust pattern is a diagnostic naming the Role, the field and the fix (an error that
//! stops the plan, or a warning that does not), a correct IRSA trust gives none,
//! `trust_lint_warnings_only` lets a broken trust through as warnings, and a ServiceAccount
//! annotated with a role whose trust names another service account is warned about.

use serde_json::json;
use strake::plan::Action;
use strake::{Diagnostic, Error, Output, PlanOptions, Program, Severity, Urn, Value};
use strake_aws::iam::Role;
use strake_aws::{PolicyDocument, Statement};
use strake_irsa::IrsaRoleOf;
use strake_kubernetes::service_account::ROLE_ARN;
use strake_kubernetes::{KubernetesProvider, Namespace, ServiceAccount};
use strake_tests::aws::{assert_identities, engine, iam_b, program, provider_b};
use strake_tests::moto::{ACCOUNT_A, ACCOUNT_B, Moto};

const ISSUER: &str = "oidc.eks.us-east-1.amazonaws.com/id/5C0FFEE5C0FFEE5C0FFEE5C0FFEE5C0F";
const SUBJECT: &str = "system:serviceaccount:apps:s3-reader";
const CONDITION: &str = "assume_role_policy.Statement[0].Condition";

fn provider_arn(account: &str) -> String {
    format!("arn:aws:iam::{account}:oidc-provider/{ISSUER}")
}

fn key(claim: &str) -> String {
    format!("{ISSUER}:{claim}")
}

fn role_urn() -> Urn {
    Urn::new("aws-test", "aws:iam:Role", "irsa")
}

/// A trust policy (as JSON, the way a user might paste it) with one web-identity statement.
fn web_trust(provider_account: &str, condition: serde_json::Value) -> serde_json::Value {
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Principal": {"Federated": provider_arn(provider_account)},
        "Condition": condition,
    }]})
}

/// The correct IRSA trust for `subjects`, built with the typed builder.
fn irsa_trust(subjects: &[&str]) -> PolicyDocument {
    PolicyDocument::new().statement(
        Statement::allow()
            .actions(["sts:AssumeRoleWithWebIdentity"])
            .federated(provider_arn(ACCOUNT_B))
            .condition("StringEquals", key("sub"), subjects.iter().map(|s| s.to_string()))
            .condition("StringEquals", key("aud"), ["sts.amazonaws.com"]),
    )
}

/// Role `irsa` in account B with `trust`.
fn role_program(moto: &Moto, trust: impl Into<Output<Value>>, warnings_only: bool) -> Program {
    let trust = trust.into();
    program(|stack| {
        let b = provider_b(stack, moto);
        let role = Role::new(stack, "irsa", &b, trust).role_name("irsa");
        if warnings_only {
            role.trust_lint_warnings_only();
        }
        Ok(())
    })
}

fn diagnostics(err: &Error) -> &[Diagnostic] {
    match err {
        Error::Diagnostics(d) => d,
        other => panic!("expected diagnostics, got {other:?}"),
    }
}

/// The one diagnostic of `severity` about `urn` at `field` whose message contains every part.
fn find<'a>(diags: &'a [Diagnostic], severity: Severity, urn: &Urn, field: &str, parts: &[&str]) -> &'a Diagnostic {
    let hits: Vec<&Diagnostic> = diags
        .iter()
        .filter(|d| d.severity == severity && d.urn.as_ref() == Some(urn) && d.field.as_deref() == Some(field))
        .filter(|d| parts.iter().all(|p| d.message.contains(p)))
        .collect();
    assert_eq!(hits.len(), 1, "want one {severity:?} on {urn} at `{field}` containing {parts:?}; got {diags:#?}");
    hits[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_error_pattern_stops_the_plan_naming_the_role_the_field_and_the_fix() {
    let moto = Moto::start();
    assert_identities(&moto).await;
    let engine = engine();
    let aud = json!({key("aud"): "sts.amazonaws.com"});
    let with_aud = |extra: serde_json::Value| {
        let mut m = aud.as_object().unwrap().clone();
        m.extend(extra.as_object().unwrap().clone());
        json!({"StringEquals": m})
    };
    let sub_key = key("sub");
    let cases: Vec<(&str, serde_json::Value, &str, Vec<String>)> = vec![
        (
            "no :sub condition",
            web_trust(ACCOUNT_B, json!({"StringEquals": aud.clone()})),
            CONDITION,
            owned(&[
                "any service account in the cluster can assume the role",
                "add StringEquals",
                &sub_key,
                "system:serviceaccount:<namespace>:<service account>",
            ]),
        ),
        (
            "a wildcard in StringEquals",
            web_trust(ACCOUNT_B, with_aud(json!({key("sub"): "system:serviceaccount:apps:*"}))),
            CONDITION,
            owned(&["`StringEquals` compares literally", "never", "use `StringLike`"]),
        ),
        (
            "https:// in the condition key",
            web_trust(ACCOUNT_B, with_aud(json!({format!("https://{ISSUER}:sub"): SUBJECT}))),
            CONDITION,
            owned(&["carries `https://`", &format!("use `{ISSUER}:sub`")]),
        ),
        (
            "the provider ARN in the condition key",
            web_trust(ACCOUNT_B, with_aud(json!({format!("{}:sub", provider_arn(ACCOUNT_B)): SUBJECT}))),
            CONDITION,
            owned(&["carries the provider ARN prefix `arn:aws:iam::222222222222:oidc-provider/`", &format!("use `{ISSUER}:sub`")]),
        ),
        (
            "aud and sub swapped",
            web_trust(ACCOUNT_B, json!({"StringEquals": {key("sub"): "sts.amazonaws.com", key("aud"): SUBJECT}})),
            CONDITION,
            owned(&["the token's audience", "swapped", &format!("set `{ISSUER}:aud` to `sts.amazonaws.com`")]),
        ),
        (
            "the OIDC provider in account A",
            web_trust(ACCOUNT_A, with_aud(json!({key("sub"): SUBJECT}))),
            "assume_role_policy.Statement[0].Principal.Federated",
            owned(&[
                "in account 123456789012",
                "No OpenIDConnect provider found in your account",
                &format!("create the OIDC provider for `{ISSUER}` in the role's account 222222222222"),
            ]),
        ),
        (
            "condition keys for another issuer",
            web_trust(
                ACCOUNT_B,
                json!({"StringEquals": {"oidc.eks.us-east-1.amazonaws.com/id/OTHER:sub": SUBJECT, key("aud"): "sts.amazonaws.com"}}),
            ),
            CONDITION,
            owned(&["is for the issuer `oidc.eks.us-east-1.amazonaws.com/id/OTHER`", &format!("use `{ISSUER}:sub`")]),
        ),
        (
            "the web-identity action without a Federated principal",
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
                "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT_A}:root")}}]}),
            "assume_role_policy.Statement[0].Principal",
            owned(&["no Federated principal", "arn:aws:iam::222222222222:oidc-provider/"]),
        ),
        (
            "the OIDC provider without the web-identity action",
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                "Principal": {"Federated": provider_arn(ACCOUNT_B)},
                "Condition": {"StringEquals": {key("sub"): SUBJECT, key("aud"): "sts.amazonaws.com"}}}]}),
            "assume_role_policy.Statement[0].Action",
            owned(&["add \"sts:AssumeRoleWithWebIdentity\" to Action"]),
        ),
    ];
    moto.start_recording();
    for (name, trust, field, parts) in &cases {
        let err = engine.plan(&role_program(&moto, trust.clone(), false), &PlanOptions::default()).await.expect_err(name);
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        let d = find(diagnostics(&err), Severity::Error, &role_urn(), field, &parts);
        let shown = err.to_string();
        assert!(shown.contains(&format!("error: {}: `{field}`: {}", role_urn(), d.message)), "{name}: {shown}");
    }
    // Apply stops where plan does, and nothing was sent to IAM.
    let (_, trust, _, _) = &cases[0];
    let p = role_program(&moto, trust.clone(), false);
    let planned = engine.plan(&p, &PlanOptions::default()).await.unwrap_err();
    let applied = engine.up(&p, &PlanOptions::default()).await.unwrap_err();
    assert_eq!(applied.to_string(), planned.to_string());
    let mutating: Vec<_> = moto.recorded().into_iter().filter(|r| r.is_mutating()).collect();
    assert!(mutating.is_empty(), "{mutating:?}");
    assert!(iam_b(&moto).await.get_role().role_name("irsa").send().await.is_err(), "no role was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_trust_is_reported_once() {
    let moto = Moto::start();
    assert_identities(&moto).await;
    let subjects: Vec<String> = (0..40).map(|i| format!("system:serviceaccount:namespace-{i:03}:service-account-{i:03}")).collect();
    let subjects: Vec<&str> = subjects.iter().map(String::as_str).collect();
    let err = engine().plan(&role_program(&moto, irsa_trust(&subjects), false), &PlanOptions::default()).await.unwrap_err();
    let diags = diagnostics(&err);
    find(diags, Severity::Error, &role_urn(), "assume_role_policy", &["limit of 2048"]);
    assert_eq!(diags.len(), 1, "the size is reported once, by validation, and the lint finds nothing else: {diags:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warning_patterns_are_shown_and_the_plan_goes_on() {
    let moto = Moto::start();
    assert_identities(&moto).await;
    let engine = engine();
    let cases: Vec<(&str, serde_json::Value, Vec<&str>)> = vec![
        (
            "no :aud condition",
            web_trust(ACCOUNT_B, json!({"StringEquals": {key("sub"): SUBJECT}})),
            vec!["no `oidc.eks.us-east-1.amazonaws.com/id/5C0FFEE5C0FFEE5C0FFEE5C0FFEE5C0F:aud` condition", "add StringEquals", "sts.amazonaws.com"],
        ),
        (
            "StringLike with a wildcard namespace",
            web_trust(
                ACCOUNT_B,
                json!({"StringLike": {key("sub"): "system:serviceaccount:*:s3-reader"}, "StringEquals": {key("aud"): "sts.amazonaws.com"}}),
            ),
            vec!["matches service accounts of any namespace", "name the namespace", "system:serviceaccount:<namespace>:<service account>"],
        ),
    ];
    for (name, trust, parts) in cases {
        let plan = engine.plan(&role_program(&moto, trust, false), &PlanOptions::default()).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        find(&plan.diagnostics, Severity::Warning, &role_urn(), CONDITION, &parts);
        assert!(plan.diagnostics.iter().all(|d| !d.is_error()), "{name}: {:?}", plan.diagnostics);
        assert_eq!(plan.step(&role_urn()).map(|s| s.action), Some(Action::Create), "{name}");
        let shown = strake::plan::render_human(&plan, false);
        assert!(shown.contains(&format!("warning: {}: `{CONDITION}`", role_urn())), "{name}: {shown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correct_irsa_trust_gives_no_findings() {
    let moto = Moto::start();
    assert_identities(&moto).await;
    let engine = engine();
    let p = role_program(&moto, irsa_trust(&[SUBJECT]), false);
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert!(plan.diagnostics.is_empty(), "{:?}", plan.diagnostics);
    // Apply checks the trust again with every value known, and finds nothing either.
    engine.up(&p, &PlanOptions::default()).await.unwrap();
    let role = iam_b(&moto).await.get_role().role_name("irsa").send().await.unwrap().role.unwrap();
    assert!(role.assume_role_policy_document().unwrap_or_default().contains("5C0FFEE"));
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert!(!plan.has_changes() && plan.diagnostics.is_empty(), "{}", strake::plan::render_human(&plan, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_lint_warnings_only_lets_a_broken_trust_through() {
    let moto = Moto::start();
    assert_identities(&moto).await;
    let engine = engine();
    // Two errors: the provider is in account A, and there is no :sub condition.
    let broken = web_trust(ACCOUNT_A, json!({"StringEquals": {key("aud"): "sts.amazonaws.com"}}));

    let err = engine.plan(&role_program(&moto, broken.clone(), false), &PlanOptions::default()).await.unwrap_err();
    assert_eq!(diagnostics(&err).iter().filter(|d| d.is_error()).count(), 2, "{err}");

    let forced = role_program(&moto, broken.clone(), true);
    let plan = engine.plan(&forced, &PlanOptions::default()).await.unwrap();
    let downgraded = "reported as a warning because the role sets `trust_lint_warnings_only`";
    find(
        &plan.diagnostics,
        Severity::Warning,
        &role_urn(),
        "assume_role_policy.Statement[0].Principal.Federated",
        &["No OpenIDConnect provider", downgraded],
    );
    find(&plan.diagnostics, Severity::Warning, &role_urn(), CONDITION, &["any service account", downgraded]);
    assert_eq!(plan.diagnostics.len(), 2, "{:?}", plan.diagnostics);

    // Apply goes through too (its check of the known inputs stops only on errors).
    engine.up(&forced, &PlanOptions::default()).await.unwrap();
    let role = iam_b(&moto).await.get_role().role_name("irsa").send().await.unwrap().role.unwrap();
    let doc = strake_aws::policy::url_decode(role.assume_role_policy_document().unwrap_or_default());
    assert!(doc.contains(&provider_arn(ACCOUNT_A)), "{doc}");
    // The setting is the program's alone: a refreshed re-plan has no changes.
    let plan = engine.plan(&forced, &PlanOptions::default()).await.unwrap();
    assert!(!plan.has_changes(), "{}", strake::plan::render_human(&plan, false));

    // Dropping it brings the errors back.
    let err = engine.plan(&role_program(&moto, broken, false), &PlanOptions::default()).await.unwrap_err();
    assert_eq!(diagnostics(&err).iter().filter(|d| d.is_error()).count(), 2, "{err}");
}

/// The test API server (a plan's preflight reads its version and asks what it may do).
fn cluster_kubeconfig() -> (strake_tests::kube::Kube, String) {
    let kube = strake_tests::kube::Kube::get();
    let path = kube.kubeconfig().display().to_string();
    (kube, path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_account_whose_role_does_not_trust_it_is_warned_about() {
    let moto = Moto::start();
    assert_identities(&moto).await;
    let (_kube, path) = cluster_kubeconfig();
    let p = program(|stack| {
        let b = provider_b(stack, &moto);
        let k = stack.provider("cluster", KubernetesProvider::from_kubeconfig().kubeconfig_path(path));
        let role = Role::new(stack, "irsa", &b, irsa_trust(&[SUBJECT])).role_name("irsa");
        let namespace = Namespace::new(stack, "apps", &k);
        // Named by the trust: no warning.
        ServiceAccount::new(stack, "s3-reader", &k, &namespace).irsa_role_of(&role);
        // Not named by the trust.
        ServiceAccount::new(stack, "someone-else", &k, &namespace).irsa_role_of(&role);
        Ok(())
    });
    let plan = engine().plan(&p, &PlanOptions::default()).await.unwrap();
    let sa = Urn::new("aws-test", "kubernetes:core:ServiceAccount", "someone-else");
    find(
        &plan.diagnostics,
        Severity::Warning,
        &sa,
        &format!("annotations.{ROLE_ARN}"),
        &[
            "points to `arn:aws:iam::222222222222:role/irsa`",
            "does not name this service account",
            "system:serviceaccount:apps:someone-else",
            &format!("StringEquals `{ISSUER}:sub` = `{SUBJECT}`"),
            &format!("add StringEquals `{ISSUER}:sub` = `system:serviceaccount:apps:someone-else` to the role's trust policy"),
        ],
    );
    assert_eq!(plan.diagnostics.len(), 1, "only `someone-else` is warned about: {:?}", plan.diagnostics);
    // The annotation is set from the role, and why its trust refuses the account rides along as a program-only input.
    let step = plan.step(&sa).expect("the service account is planned");
    assert_eq!(step.action, Action::Create);
    let after = step.after.as_ref().unwrap();
    assert_eq!(after.get("annotations").and_then(|a| a.get(ROLE_ARN)).and_then(Value::as_str), Some("arn:aws:iam::222222222222:role/irsa"));
    assert!(after.get("irsa_refusal").is_some_and(|r| r.as_str().is_some_and(|r| r.contains("does not name this service account"))));
    // Kept for the check, not a property of the service account: not shown.
    let text = strake::plan::render_human(&plan, false);
    assert!(text.contains("# s3-reader will be created via cluster") && !text.contains("irsa_refusal"), "{text}");

    // A StringLike trust matching the name is no warning either.
    let (_kube, path) = cluster_kubeconfig();
    let p = program(|stack| {
        let b = provider_b(stack, &moto);
        let k = stack.provider("cluster", KubernetesProvider::from_kubeconfig().kubeconfig_path(path));
        let trust = PolicyDocument::new().statement(
            Statement::allow()
                .actions(["sts:AssumeRoleWithWebIdentity"])
                .federated(provider_arn(ACCOUNT_B))
                .condition("StringLike", key("sub"), ["system:serviceaccount:apps:some*"])
                .condition("StringEquals", key("aud"), ["sts.amazonaws.com"]),
        );
        let role = Role::new(stack, "irsa", &b, trust).role_name("irsa");
        let namespace = Namespace::new(stack, "apps", &k);
        ServiceAccount::new(stack, "someone-else", &k, &namespace).irsa_role_of(&role);
        Ok(())
    });
    let plan = engine().plan(&p, &PlanOptions::default()).await.unwrap();
    assert!(plan.diagnostics.is_empty(), "{:?}", plan.diagnostics);
}

fn owned(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|p| p.to_string()).collect()
}
