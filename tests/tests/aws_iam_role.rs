//! `aws:iam:Role` against moto in account B: create, update, replace, delete, drift, re-plan.

use strake::ResourceHandle;
use strake::plan::Action;
use strake_aws::iam::Role;
use strake_tests::aws::{trust_aws, urn};
use strake_tests::rig::MotoRig;

fn role_program(rig: &MotoRig, description: &str, name: &str) -> strake::Program {
    rig.program(|stack, b| {
        let role = Role::new(stack, "reader", b, trust_aws("arn:aws:iam::123456789012:root"))
            .role_name(name)
            .description(description)
            .tags([("team", "data")]);
        stack.export("arn", role.arn());
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_create_update_replace_delete_in_account_b() {
    let rig = MotoRig::start().await;
    let iam = &rig.iam;

    let report = rig.up(&role_program(&rig, "reads", "reader")).await;
    assert_eq!(report.outputs["arn"].as_str(), Some("arn:aws:iam::222222222222:role/reader"));
    let role = iam.get_role().role_name("reader").send().await.unwrap().role.unwrap();
    assert_eq!(role.description(), Some("reads"));
    assert_eq!(role.arn(), "arn:aws:iam::222222222222:role/reader");

    // Re-plan is empty.
    rig.assert_no_changes(&role_program(&rig, "reads", "reader")).await;

    // Update in place.
    let plan = rig.plan(&role_program(&rig, "reads objects", "reader")).await;
    assert_eq!(plan.steps[0].action, Action::Update);
    rig.up(&role_program(&rig, "reads objects", "reader")).await;
    let role = iam.get_role().role_name("reader").send().await.unwrap().role.unwrap();
    assert_eq!(role.description(), Some("reads objects"));

    // A rename replaces it.
    let plan = rig.plan(&role_program(&rig, "reads objects", "reader2")).await;
    assert!(matches!(plan.steps[0].action, Action::Replace(_)), "{:?}", plan.steps[0].action);
    rig.up(&role_program(&rig, "reads objects", "reader2")).await;
    assert!(iam.get_role().role_name("reader").send().await.is_err(), "the old role is gone");
    assert!(iam.get_role().role_name("reader2").send().await.is_ok());

    // Destroy.
    rig.destroy(&role_program(&rig, "reads objects", "reader2")).await;
    assert!(iam.get_role().role_name("reader2").send().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_drift_is_shown_and_repaired() {
    let rig = MotoRig::start().await;
    let iam = &rig.iam;
    let p = role_program(&rig, "reads", "reader");
    rig.up(&p).await;

    // Trust policy rewritten outside Strake (other order, other principal).
    let doc =
        r#"{"Statement":[{"Principal":{"AWS":"arn:aws:iam::999999999999:root"},"Action":"sts:AssumeRole","Effect":"Allow"}],"Version":"2012-10-17"}"#;
    iam.update_assume_role_policy().role_name("reader").policy_document(doc).send().await.unwrap();
    rig.repair_drift(&p, "reader", &["assume_role_policy"]).await;
    let role = iam.get_role().role_name("reader").send().await.unwrap().role.unwrap();
    assert!(role.assume_role_policy_document().unwrap().contains("123456789012"));

    // The same policy in another order is no change.
    let same = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["sts:AssumeRole"],"Principal":{"AWS":["arn:aws:iam::123456789012:root"]}}}"#;
    iam.update_assume_role_policy().role_name("reader").policy_document(same).send().await.unwrap();
    rig.assert_no_changes(&p).await;

    // Deleted outside Strake: refresh shows it gone, apply creates it again.
    iam.delete_role().role_name("reader").send().await.unwrap();
    rig.recreate_deleted(&p, &urn("aws:iam:Role", "reader")).await;
    assert!(iam.get_role().role_name("reader").send().await.is_ok());
    let _ = Role::urn; // handles are ResourceHandles
}
