//! Bad input is caught at plan time, before anything changes: each mistake is a diagnostic naming
//! the resource, the field and the fix, all mistakes of a program are reported together, and
//! moto's request recorder proves that not one mutating request was sent (reads such as
//! GetCallerIdentity and AssumeRole are allowed).

use serde_json::json;
use strake::{Error, Program, Urn, Value};
use strake_aws::iam::{Policy, Role};
use strake_aws::{AwsProvider, PolicyDocument, Statement};
use strake_tests::aws::{program, trust_aws, urn};
use strake_tests::check::{assert_mentions, diagnostics, steps_failed};
use strake_tests::moto::{ACCOUNT_A, ACCOUNT_B, REGION, ROLE_IN_B};
use strake_tests::rig::MotoRig;

fn role_urn(name: &str) -> Urn {
    urn("aws:iam:Role", name)
}

fn policy_urn(name: &str) -> Urn {
    urn("aws:iam:Policy", name)
}

fn provider_urn(name: &str) -> Urn {
    urn("strake:provider:aws", name)
}

fn trust() -> PolicyDocument {
    trust_aws(format!("arn:aws:iam::{ACCOUNT_A}:root"))
}

/// One role `bad` in account B, shaped by `f`.
fn one_role(rig: &MotoRig, f: impl FnOnce(Role) -> Role) -> Program {
    rig.program(|stack, b| {
        f(Role::new(stack, "bad", b, trust()));
    })
}

/// One role `bad` in account B with this trust policy.
fn role_with_trust(rig: &MotoRig, policy: impl Into<strake::Output<Value>>) -> Program {
    rig.program(|stack, b| {
        Role::new(stack, "bad", b, policy).role_name("bad");
    })
}

/// Plans and applies `p` with the recorder on; both must fail. Returns the plan's error after
/// checking that moto saw the provider's reads (so the recorder was on) and no mutating request.
async fn fails_without_mutating(rig: &MotoRig, p: &Program) -> Error {
    fails_before_mutating(rig, p, true).await
}

async fn fails_before_mutating(rig: &MotoRig, p: &Program, identity_checked: bool) -> Error {
    rig.moto.start_recording();
    let planned = rig.try_plan(p).await.expect_err("the plan must fail");
    let applied = rig.try_up(p).await.expect_err("the apply must fail");
    assert_eq!(applied.to_string(), planned.to_string(), "apply stops where plan does");
    let recorded = rig.moto.recorded();
    assert_eq!(
        recorded.iter().any(|r| r.action().as_deref() == Some("GetCallerIdentity")),
        identity_checked,
        "the recorder saw the provider's identity check (or not): {recorded:?}"
    );
    let mutating: Vec<_> = recorded.iter().filter(|r| r.is_mutating()).collect();
    assert!(mutating.is_empty(), "mutating requests were sent: {mutating:?}");
    planned
}

/// `err` has an error diagnostic for `urn`'s `field` whose message has each of `says`, and the
/// rendered error shows them all.
fn assert_diagnosed(err: &Error, urn: &Urn, field: &str, says: &[&str]) {
    let found = diagnostics(err)
        .iter()
        .find(|d| d.is_error() && d.urn.as_ref() == Some(urn) && d.field.as_deref() == Some(field) && says.iter().all(|s| d.message.contains(s)));
    assert!(found.is_some(), "no diagnostic for {urn} `{field}` saying {says:?} in:\n{err}");
    let field = format!("`{field}`");
    assert_mentions(&err.to_string(), &[&[urn.as_str(), field.as_str()], says].concat());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_role_names_are_rejected_before_any_call() {
    let rig = MotoRig::start().await;
    let long = "r".repeat(65);
    for (name, says) in [
        ("has space", vec!["`has space` contains ` `", "may only use letters, digits and + = , . @ _ -"]),
        (long.as_str(), vec!["must be 1 to 64 characters long"]),
        ("slash/name", vec!["contains `/`"]),
    ] {
        let name = name.to_string();
        let err = fails_without_mutating(&rig, &one_role(&rig, move |r| r.role_name(name.as_str()))).await;
        assert_diagnosed(&err, &role_urn("bad"), "name", &says);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_iam_paths_are_rejected_before_any_call() {
    let rig = MotoRig::start().await;
    for (path, says) in [
        ("teams", "must begin and end with `/` (e.g. \"/\" or \"/teams/data/\")"),
        ("/a//b/", "has an empty segment"),
        ("/a b/", "use printable ASCII without spaces"),
    ] {
        let err = fails_without_mutating(&rig, &one_role(&rig, move |r| r.role_name("bad").path(path))).await;
        assert_diagnosed(&err, &role_urn("bad"), "path", &[path, says]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trust_policy_that_is_not_json_is_rejected_before_any_call() {
    let rig = MotoRig::start().await;
    let err = fails_without_mutating(&rig, &role_with_trust(&rig, Value::from("{not json"))).await;
    assert_diagnosed(&err, &role_urn("bad"), "assume_role_policy", &["is not valid JSON", "write the document with `PolicyDocument`"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_statements_without_effect_or_action_or_with_a_resource_that_is_no_arn_are_rejected() {
    let rig = MotoRig::start().await;
    let principal = json!({"AWS": format!("arn:aws:iam::{ACCOUNT_A}:root")});
    for (statement, says) in [
        (json!({"Action": "sts:AssumeRole", "Principal": principal}), vec!["Statement[0] has no Effect", "add \"Effect\": \"Allow\" (or \"Deny\")"]),
        (json!({"Effect": "Allow", "Principal": principal}), vec!["Statement[0] has no Action", "list the actions it allows"]),
        (
            json!({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": principal, "Resource": "my-bucket/*"}),
            vec!["Statement[0].Resource `my-bucket/*` is not an ARN", "`arn:partition:service:region:account:resource`"],
        ),
        (json!({"Effect": "Allow", "Action": "sts:AssumeRole"}), vec!["Statement[0] has no Principal", "must say who may assume the role"]),
    ] {
        let doc = json!({"Version": "2012-10-17", "Statement": [statement]});
        let err = fails_without_mutating(&rig, &role_with_trust(&rig, doc)).await;
        assert_diagnosed(&err, &role_urn("bad"), "assume_role_policy", &says);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trust_policy_over_2048_characters_is_rejected_before_any_call() {
    let rig = MotoRig::start().await;
    let mut statement = Statement::allow().actions(["sts:AssumeRole"]);
    for i in 0..40 {
        statement = statement.principal("AWS", format!("arn:aws:iam::{ACCOUNT_A}:role/a-rather-long-role-name-number-{i:03}"));
    }
    let doc = PolicyDocument::new().statement(statement);
    let err = fails_without_mutating(&rig, &role_with_trust(&rig, doc)).await;
    assert_diagnosed(&err, &role_urn("bad"), "assume_role_policy", &["over IAM's limit of 2048", "merge statements or use wildcards"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_of_a_program_is_reported_together() {
    let rig = MotoRig::start().await;
    let p = rig.program(|stack, b| {
        Role::new(stack, "one", b, trust()).role_name("has space");
        Role::new(stack, "two", b, Value::from("{not json")).role_name("two");
        Role::new(stack, "three", b, trust()).role_name(&*"x".repeat(70)).path("no-slashes");
        // A good one next to them is not created either.
        Role::new(stack, "fine", b, trust()).role_name("fine");
    });
    let err = fails_without_mutating(&rig, &p).await;
    assert_diagnosed(&err, &role_urn("one"), "name", &["contains ` `"]);
    assert_diagnosed(&err, &role_urn("two"), "assume_role_policy", &["is not valid JSON"]);
    assert_diagnosed(&err, &role_urn("three"), "name", &["must be 1 to 64 characters long"]);
    assert_diagnosed(&err, &role_urn("three"), "path", &["must begin and end with `/`"]);
    let errors = diagnostics(&err).iter().filter(|d| d.is_error()).count();
    assert_eq!(errors, 4, "{err}");
    assert!(err.to_string().starts_with("the program has 4 errors:"), "{err}");
    assert!(!err.to_string().contains(role_urn("fine").as_str()), "{err}");
    let names: Vec<String> = rig.iam.list_roles().send().await.unwrap().roles().iter().map(|r| r.role_name().to_string()).collect();
    assert!(names.is_empty(), "{names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_pinned_provider_whose_credentials_land_elsewhere_fails_at_plan_time() {
    let rig = MotoRig::start().await;
    let wrong = "999999999999";
    let a_creds = AwsProvider::new().endpoint(rig.moto.endpoint()).region(REGION).static_credentials("testing", "testing");
    let b_creds = AwsProvider::new().assume_role_from(&a_creds, ROLE_IN_B).session_name("strake-tests");
    // The credentials themselves work; they just land in another account than the pin says.
    assert_eq!(a_creds.caller_identity().await.expect("identity").0, ACCOUNT_A);
    assert_eq!(b_creds.caller_identity().await.expect("identity").0, ACCOUNT_B);

    for (provider, lands_in) in [(a_creds.clone(), ACCOUNT_A), (b_creds.clone(), ACCOUNT_B)] {
        let pinned = provider.expect_account(wrong);
        let p = program(move |stack| {
            let pinned = stack.provider("pinned", pinned);
            Role::new(stack, "reader", &pinned, trust()).role_name("reader");
            Ok(())
        });
        let err = fails_without_mutating(&rig, &p).await;
        let errors = steps_failed(&err);
        assert_eq!(errors.len(), 1, "{err}");
        assert_eq!((&errors[0].urn, errors[0].operation.as_str()), (&provider_urn("pinned"), "configure"));
        let shown = err.to_string();
        assert_mentions(&shown, &[lands_in, wrong, provider_urn("pinned").as_str(), "the credentials (", "check that source"]);
        assert!(!shown.contains(role_urn("reader").as_str()), "the role is not reported on its own: {shown}");
    }

    // A pin that is no account id at all is a diagnostic of the provider's `account_id`.
    let p = program(move |stack| {
        let pinned = stack.provider("pinned", a_creds.expect_account("12345"));
        Role::new(stack, "reader", &pinned, trust()).role_name("reader");
        Ok(())
    });
    let err = fails_before_mutating(&rig, &p, false).await;
    assert_diagnosed(&err, &provider_urn("pinned"), "account_id", &["`12345` is not a 12-digit AWS account id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn principals_of_no_known_form_and_actions_iam_does_not_have_are_rejected_before_any_call() {
    let rig = MotoRig::start().await;
    let p = rig.program(|stack, b| {
        // Raw JSON, as a user may write it: a principal that is no account, ARN or `*`.
        let bob = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "bob"}}]});
        Role::new(stack, "bob", b, bob).role_name("bob");
        let misspelt = PolicyDocument::new().statement(Statement::allow().actions(["s3:GetObjects"]).resources(["arn:aws:s3:::bucket-a/*"]));
        Policy::new(stack, "misspelt", b, misspelt).policy_name("misspelt");
        let spaced = PolicyDocument::new().statement(Statement::allow().actions(["s3:Get Object"]).resources(["arn:aws:s3:::bucket-a/*"]));
        Policy::new(stack, "spaced", b, spaced).policy_name("spaced");
        // A good policy next to them is not created either.
        let fine = PolicyDocument::new().statement(Statement::allow().actions(["s3:GetObject", "s3:List*"]).resources(["*"]));
        Policy::new(stack, "fine", b, fine).policy_name("fine");
    });
    let err = fails_without_mutating(&rig, &p).await;
    assert_diagnosed(
        &err,
        &role_urn("bob"),
        "assume_role_policy",
        &["Statement[0].Principal.AWS `bob` is not an account id or an ARN", "an AWS principal is \"*\", a 12-digit account id", "or an IAM ARN"],
    );
    assert_diagnosed(
        &err,
        &policy_urn("misspelt"),
        "document",
        &["Statement[0].Action `s3:GetObjects` is not an s3 action; did you mean `s3:GetObject`?"],
    );
    assert_diagnosed(
        &err,
        &policy_urn("spaced"),
        "document",
        &["Statement[0].Action `s3:Get Object` has a space in its action name", "actions are `service:Action`"],
    );
    assert_eq!(diagnostics(&err).iter().filter(|d| d.is_error()).count(), 3, "{err}");
    assert!(!err.to_string().contains(policy_urn("fine").as_str()), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_that_does_not_exist_fails_the_plan_unless_an_endpoint_is_set() {
    let rig = MotoRig::start().await;
    // No endpoint: the region must be one AWS has. Caught in the provider's configuration, so
    // not even the identity check is made.
    let lost = AwsProvider::new().region("us-east-7").static_credentials("testing", "testing");
    let p = program(move |stack| {
        let lost = stack.provider("lost", lost);
        Role::new(stack, "reader", &lost, trust()).role_name("reader");
        Ok(())
    });
    let err = fails_before_mutating(&rig, &p, false).await;
    assert_diagnosed(
        &err,
        &provider_urn("lost"),
        "region",
        &["`us-east-7` is not an AWS region; did you mean \"us-east-1\"?", "set the provider's `endpoint`"],
    );

    // With an endpoint (an emulator here; a region newer than Strake's list in real life), the
    // same region is accepted.
    let p = program(|stack| {
        let a = stack.provider("a", rig.moto.account_a().region("us-east-7"));
        Role::new(stack, "reader", &a, trust()).role_name("reader");
        Ok(())
    });
    rig.try_plan(&p).await.expect("a custom endpoint exempts the region");
}

/// Two roles that both take the name `s3`: which one fails at apply would be a race, so the plan
/// refuses both, naming each other, and nothing is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_roles_claiming_one_name_are_refused_at_plan() {
    let rig = MotoRig::start().await;
    let p = rig.program(|stack, b| {
        Role::new(stack, "reader", b, trust()).role_name("s3");
        Role::new(stack, "writer", b, trust()).role_name("s3");
    });
    let err = fails_without_mutating(&rig, &p).await;
    let shown = err.to_string();
    assert!(shown.contains(&format!("claims IAM role `s3` in account {ACCOUNT_B}")), "{shown}");
    assert!(shown.contains("aws:iam:Role::reader") && shown.contains("aws:iam:Role::writer"), "{shown}");
}
