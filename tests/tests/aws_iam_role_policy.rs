//! `aws:iam:RolePolicy` (an inline policy, a type added on the typed framework) against moto in
//! account B: create, update in place, drift, rename, import, destroy, and plan-time checks.

use strake::Urn;
use strake::plan::{Action, ReplaceOrder};
use strake_aws::iam::{Role, RolePolicy};
use strake_aws::policy::url_decode;
use strake_tests::aws::{allow as doc, trust_service, urn};
use strake_tests::check::{diagnostics, render};
use strake_tests::rig::MotoRig;

fn policy_urn() -> Urn {
    urn("aws:iam:RolePolicy", "reads")
}

/// A role `app` with an inline policy named `name` allowing `action`.
fn inline_program(rig: &MotoRig, name: &str, action: &str) -> strake::Program {
    rig.program(|stack, b| {
        let role = Role::new(stack, "app", b, trust_service("ec2.amazonaws.com")).role_name("app");
        let p = RolePolicy::new(stack, "reads", b, role.name(), doc(action)).policy_name(name);
        stack.export("id", strake::ResourceHandle::id(&p));
    })
}

/// The inline policies of role `app`, each with the actions of its document.
async fn inline_policies(iam: &aws_sdk_iam::Client) -> Vec<(String, String)> {
    let names = iam.list_role_policies().role_name("app").send().await.unwrap().policy_names().to_vec();
    let mut out = Vec::new();
    for name in names {
        let got = iam.get_role_policy().role_name("app").policy_name(&name).send().await.unwrap();
        let text = url_decode(got.policy_document()); // IAM returns documents URL-encoded
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        out.push((name, doc["Statement"][0]["Action"].to_string()));
    }
    out.sort();
    out
}

/// How the actions of a canonical document's statement read.
fn actions(action: &str) -> String {
    format!("[\"{action}\"]")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inline_policy_is_created_updated_renamed_and_destroyed_with_its_role() {
    let rig = MotoRig::start().await;
    let iam = &rig.iam;

    let report = rig.up(&inline_program(&rig, "reads", "s3:GetObject")).await;
    assert_eq!(report.outputs["id"].as_str(), Some("app:reads"));
    assert_eq!(inline_policies(iam).await, [("reads".to_string(), actions("s3:GetObject"))]);
    rig.assert_no_changes(&inline_program(&rig, "reads", "s3:GetObject")).await;

    // A new document is put in place.
    let p = inline_program(&rig, "reads", "s3:ListBucket");
    let plan = rig.plan(&p).await;
    assert_eq!(plan.step(&policy_urn()).unwrap().action, Action::Update, "{}", render(&plan));
    rig.up(&p).await;
    assert_eq!(inline_policies(iam).await, [("reads".to_string(), actions("s3:ListBucket"))]);

    // Changed outside Strake: the plan shows it and puts it back.
    iam.put_role_policy()
        .role_name("app")
        .policy_name("reads")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let plan = rig.plan(&p).await;
    assert_eq!(plan.step(&policy_urn()).unwrap().action, Action::Update, "{}", render(&plan));
    rig.up(&p).await;
    assert_eq!(inline_policies(iam).await, [("reads".to_string(), actions("s3:ListBucket"))]);

    // Another name is another policy: the new one is put first, then the old one goes.
    let renamed = inline_program(&rig, "lists", "s3:ListBucket");
    let plan = rig.plan(&renamed).await;
    let step = plan.step(&policy_urn()).unwrap();
    assert_eq!(
        (step.action, step.replace_paths.clone()),
        (Action::Replace(ReplaceOrder::CreateThenDelete), vec!["name".to_string()]),
        "{}",
        render(&plan)
    );
    rig.up(&renamed).await;
    assert_eq!(inline_policies(iam).await, [("lists".to_string(), actions("s3:ListBucket"))]);

    // Forgotten and imported by its id: nothing to change.
    rig.reimport(&renamed, &policy_urn(), "app:lists").await.unwrap();
    rig.assert_no_changes(&renamed).await;

    // IAM deletes a role only without inline policies: the policy goes first.
    rig.destroy(&renamed).await;
    assert!(iam.get_role().role_name("app").send().await.is_err(), "the role is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inline_policies_are_refused_at_plan_with_zero_calls() {
    let rig = MotoRig::start().await;
    rig.moto.start_recording();
    let p = rig.program(|stack, b| {
        RolePolicy::new(stack, "by-arn", b, "arn:aws:iam::222222222222:role/app", doc("s3:GetObject"));
        RolePolicy::new(stack, "bad-name", b, "app", doc("s3:GetObject")).policy_name("no spaces allowed");
        RolePolicy::new(stack, "misspelt", b, "app", doc("s3:GetObjects"));
    });
    let err = rig.try_plan(&p).await.expect_err("the plan must fail");
    let text: Vec<String> = diagnostics(&err).iter().filter(|d| d.is_error()).map(|d| d.to_string()).collect();
    let says = |name: &str, field: &str, what: &str| {
        text.iter().any(|t| t.contains(&format!("aws:iam:RolePolicy::{name}")) && t.contains(&format!("`{field}`")) && t.contains(what))
    };
    assert!(says("by-arn", "role", "is an ARN; pass the role's name"), "{text:#?}");
    assert!(says("bad-name", "name", "no spaces allowed"), "{text:#?}");
    assert!(says("misspelt", "policy", "did you mean `s3:GetObject`?"), "{text:#?}");
    rig.moto.assert_nothing_mutated("a refused plan changes nothing");
}
