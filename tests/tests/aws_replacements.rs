//! Replacements against moto that a real cloud makes hard: IAM refuses to delete a role that
//! still has a policy attached (`DeleteConflict`), so the old role of a replacement can only go
//! after its old attachments. Each scenario converges in one apply, and moto's own view equals
//! state afterwards: nothing orphaned, nothing lost, nothing left pending.

use strake::Program;
use strake::plan::{Action, ReplaceOrder};
use strake_aws::iam::{Policy, Role, RolePolicyAttachment};
use strake_tests::aws::{allow, trust_service};
use strake_tests::check::changes;
use strake_tests::rig::MotoRig;

/// A role named `name` at `path`, with two managed policies attached.
fn role_with_attachments(rig: &MotoRig, name: &str, path: &str) -> Program {
    rig.program(|stack, b| {
        let role = Role::new(stack, "app", b, trust_service("ec2.amazonaws.com")).role_name(name).path(path);
        for action in ["s3:GetObject", "s3:PutObject"] {
            let short = action.trim_start_matches("s3:").to_lowercase();
            let policy = Policy::new(stack, &short, b, allow(action)).policy_name(format!("app-{short}"));
            RolePolicyAttachment::new(stack, &format!("app-{short}"), b, role.name(), policy.arn());
        }
    })
}

/// Applies the role `from` (name, path), then replaces it with `to` in one apply: the role and
/// both attachments are replaced in `order`, the attachments holding the old role go in time (no
/// `DeleteConflict`), state equals the cloud and a second plan is empty. The roles (name → path)
/// moto holds then.
async fn replaced_in_one_apply(from: (&str, &str), to: (&str, &str), order: ReplaceOrder, what: &str) -> Vec<(String, String)> {
    let rig = MotoRig::start().await;
    let baseline = rig.cloud_b().await;
    rig.up(&role_with_attachments(&rig, from.0, from.1)).await;

    let next = role_with_attachments(&rig, to.0, to.1);
    let plan = rig.plan(&next).await;
    let replace = Action::Replace(order);
    assert_eq!(changes(&plan), vec![("app".into(), replace), ("app-getobject".into(), replace), ("app-putobject".into(), replace)]);
    rig.try_up(&next).await.unwrap_or_else(|e| panic!("the {what} converges in one apply (no DeleteConflict): {e}"));

    let cloud = rig.cloud_b().await.without(&baseline);
    assert_eq!(cloud.attachments.len(), 2);
    rig.assert_state_is_cloud(&baseline, &format!("after the {what}")).await;
    rig.assert_no_changes(&next).await;
    cloud.roles.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renaming_a_role_with_attachments_converges_in_one_apply() {
    let roles = replaced_in_one_apply(("app-v1", "/"), ("app-v2", "/"), ReplaceOrder::CreateThenDelete, "rename").await;
    assert_eq!(roles.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>(), vec!["app-v2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_a_fixed_name_role_deletes_its_attachments_first_and_converges_in_one_apply() {
    // The path is part of the role's identity and the name stays: the old role must go first,
    // and before it, the attachments that hold it.
    let roles = replaced_in_one_apply(("app", "/"), ("app", "/team/"), ReplaceOrder::DeleteThenCreate, "move").await;
    assert_eq!(roles, vec![("app".to_string(), "/team/".to_string())]);
}
