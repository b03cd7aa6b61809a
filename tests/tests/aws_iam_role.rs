//! `aws:iam:Role` against moto in account B: create, update, replace, delete, drift, re-plan.

use strake::plan::Action;
use strake::{PlanOptions, ResourceHandle};
use strake_aws::iam::Role;
use strake_aws::{PolicyDocument, Statement};
use strake_tests::aws::{assert_identities, engine, iam_b, program, provider_b};
use strake_tests::moto::Moto;

fn trust(principal: &str) -> PolicyDocument {
    PolicyDocument::new().statement(Statement::allow().actions(["sts:AssumeRole"]).principal("AWS", principal))
}

fn role_program(moto: &Moto, description: &str, name: &str) -> strake::Program {
    program(|stack| {
        let b = provider_b(stack, moto);
        let role =
            Role::new(stack, "reader", &b, trust("arn:aws:iam::123456789012:root")).role_name(name).description(description).tags([("team", "data")]);
        stack.export("arn", role.arn());
        Ok(())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_create_update_replace_delete_in_account_b() {
    let moto = Moto::start();
    assert_identities(&moto).await;
    let engine = engine();
    let iam = iam_b(&moto).await;

    let report = engine.up(&role_program(&moto, "reads", "reader"), &PlanOptions::default()).await.unwrap();
    assert_eq!(report.outputs["arn"].as_str(), Some("arn:aws:iam::222222222222:role/reader"));
    let role = iam.get_role().role_name("reader").send().await.unwrap().role.unwrap();
    assert_eq!(role.description(), Some("reads"));
    assert_eq!(role.arn(), "arn:aws:iam::222222222222:role/reader");

    // Re-plan is empty.
    let plan = engine.plan(&role_program(&moto, "reads", "reader"), &PlanOptions::default()).await.unwrap();
    assert!(!plan.has_changes(), "{}", strake::plan::render_human(&plan, false));

    // Update in place.
    let plan = engine.plan(&role_program(&moto, "reads objects", "reader"), &PlanOptions::default()).await.unwrap();
    assert_eq!(plan.steps[0].action, Action::Update);
    engine.up(&role_program(&moto, "reads objects", "reader"), &PlanOptions::default()).await.unwrap();
    let role = iam.get_role().role_name("reader").send().await.unwrap().role.unwrap();
    assert_eq!(role.description(), Some("reads objects"));

    // A rename replaces it.
    let plan = engine.plan(&role_program(&moto, "reads objects", "reader2"), &PlanOptions::default()).await.unwrap();
    assert!(matches!(plan.steps[0].action, Action::Replace(_)), "{:?}", plan.steps[0].action);
    engine.up(&role_program(&moto, "reads objects", "reader2"), &PlanOptions::default()).await.unwrap();
    assert!(iam.get_role().role_name("reader").send().await.is_err(), "the old role is gone");
    assert!(iam.get_role().role_name("reader2").send().await.is_ok());

    // Destroy.
    engine.destroy(&role_program(&moto, "reads objects", "reader2")).await.unwrap();
    assert!(iam.get_role().role_name("reader2").send().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_drift_is_shown_and_repaired() {
    let moto = Moto::start();
    assert_identities(&moto).await;
    let engine = engine();
    let iam = iam_b(&moto).await;
    let p = role_program(&moto, "reads", "reader");
    engine.up(&p, &PlanOptions::default()).await.unwrap();

    // Trust policy rewritten outside Strake (other order, other principal).
    let doc =
        r#"{"Statement":[{"Principal":{"AWS":"arn:aws:iam::999999999999:root"},"Action":"sts:AssumeRole","Effect":"Allow"}],"Version":"2012-10-17"}"#;
    iam.update_assume_role_policy().role_name("reader").policy_document(doc).send().await.unwrap();
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(plan.steps[0].action, Action::Update);
    assert_eq!(plan.steps[0].changes, vec!["assume_role_policy"]);
    assert!(plan.notes.iter().any(|n| n.contains("changed outside Strake")), "{:?}", plan.notes);
    engine.up(&p, &PlanOptions::default()).await.unwrap();
    let role = iam.get_role().role_name("reader").send().await.unwrap().role.unwrap();
    assert!(role.assume_role_policy_document().unwrap().contains("123456789012"));

    // The same policy in another order is no change.
    let same = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["sts:AssumeRole"],"Principal":{"AWS":["arn:aws:iam::123456789012:root"]}}}"#;
    iam.update_assume_role_policy().role_name("reader").policy_document(same).send().await.unwrap();
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert!(!plan.has_changes(), "{}", strake::plan::render_human(&plan, false));

    // Deleted outside Strake: refresh shows it gone, apply creates it again.
    iam.delete_role().role_name("reader").send().await.unwrap();
    let report = engine.refresh(&p).await.unwrap();
    assert_eq!(report.gone.len(), 1);
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(plan.steps[0].action, Action::Create);
    engine.up(&p, &PlanOptions::default()).await.unwrap();
    assert!(iam.get_role().role_name("reader").send().await.is_ok());
    let _ = Role::urn; // handles are ResourceHandles
}
