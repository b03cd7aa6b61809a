//! Replacements against moto that a real cloud makes hard: IAM refuses to delete a role that
//! still has a policy attached (`DeleteConflict`), so the old role of a replacement can only go
//! after its old attachments. Each scenario converges in one apply, and moto's own view equals
//! state afterwards: nothing orphaned, nothing lost, nothing left pending.

use strake::plan::{Action, ReplaceOrder};
use strake::{Engine, PlanOptions, Program};
use strake_aws::iam::{Policy, Role, RolePolicyAttachment};
use strake_aws::{PolicyDocument, Statement};
use strake_tests::aws::{assert_identities, engine, program, provider_b};
use strake_tests::cloud_view::{CloudView, assert_state_is_cloud};
use strake_tests::moto::Moto;

fn trust() -> PolicyDocument {
    PolicyDocument::new().statement(Statement::allow().actions(["sts:AssumeRole"]).principal("Service", "ec2.amazonaws.com"))
}

fn doc(action: &str) -> PolicyDocument {
    PolicyDocument::new().statement(Statement::allow().actions([action]).resources(["*"]))
}

/// A role named `name` at `path`, with two managed policies attached.
fn role_with_attachments(moto: &Moto, name: &str, path: &str) -> Program {
    let (name, path) = (name.to_string(), path.to_string());
    program(|stack| {
        let b = provider_b(stack, moto);
        let role = Role::new(stack, "app", &b, trust()).role_name(name.as_str()).path(&path);
        for action in ["s3:GetObject", "s3:PutObject"] {
            let short = action.trim_start_matches("s3:").to_lowercase();
            let policy = Policy::new(stack, &short, &b, doc(action)).policy_name(format!("app-{short}"));
            RolePolicyAttachment::new(stack, &format!("app-{short}"), &b, role.name(), policy.arn());
        }
        Ok(())
    })
}

fn actions_of(plan: &strake::Plan) -> Vec<(String, Action)> {
    plan.steps.iter().filter(|s| s.action != Action::NoOp).map(|s| (s.urn.name().to_string(), s.action)).collect()
}

async fn state(engine: &Engine) -> strake_state::Snapshot {
    engine.store().load("aws-test").unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renaming_a_role_with_attachments_converges_in_one_apply() {
    let moto = Moto::start();
    assert_identities(&moto).await;
    let sdk = moto.account_b().sdk_config().await;
    let baseline = CloudView::read(&sdk).await;
    let engine = engine();
    engine.up(&role_with_attachments(&moto, "app-v1", "/"), &PlanOptions::default()).await.unwrap();

    let renamed = role_with_attachments(&moto, "app-v2", "/");
    let plan = engine.plan(&renamed, &PlanOptions::default()).await.unwrap();
    let create_first = Action::Replace(ReplaceOrder::CreateThenDelete);
    assert_eq!(actions_of(&plan), vec![("app".into(), create_first), ("app-getobject".into(), create_first), ("app-putobject".into(), create_first)]);
    engine.up(&renamed, &PlanOptions::default()).await.expect("the rename converges in one apply (no DeleteConflict)");

    let cloud = CloudView::read(&sdk).await.without(&baseline);
    assert_eq!(cloud.roles.keys().collect::<Vec<_>>(), vec!["app-v2"]);
    assert_eq!(cloud.attachments.len(), 2);
    assert_state_is_cloud(&sdk, &baseline, &state(&engine).await, "after the rename").await;
    assert!(!engine.plan(&renamed, &PlanOptions::default()).await.unwrap().has_changes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_a_fixed_name_role_deletes_its_attachments_first_and_converges_in_one_apply() {
    let moto = Moto::start();
    assert_identities(&moto).await;
    let sdk = moto.account_b().sdk_config().await;
    let baseline = CloudView::read(&sdk).await;
    let engine = engine();
    engine.up(&role_with_attachments(&moto, "app", "/"), &PlanOptions::default()).await.unwrap();

    // The path is part of the role's identity and the name stays: the old role must go first,
    // and before it, the attachments that hold it.
    let moved = role_with_attachments(&moto, "app", "/team/");
    let plan = engine.plan(&moved, &PlanOptions::default()).await.unwrap();
    let delete_first = Action::Replace(ReplaceOrder::DeleteThenCreate);
    assert_eq!(actions_of(&plan), vec![("app".into(), delete_first), ("app-getobject".into(), delete_first), ("app-putobject".into(), delete_first)]);
    engine.up(&moved, &PlanOptions::default()).await.expect("the move converges in one apply (no DeleteConflict)");

    let cloud = CloudView::read(&sdk).await.without(&baseline);
    assert_eq!(cloud.roles.iter().collect::<Vec<_>>(), vec![(&"app".to_string(), &"/team/".to_string())]);
    assert_eq!(cloud.attachments.len(), 2);
    assert_state_is_cloud(&sdk, &baseline, &state(&engine).await, "after the move").await;
    assert!(!engine.plan(&moved, &PlanOptions::default()).await.unwrap().has_changes());
}
