//! `aws:iam:RolePolicyAttachment` against moto in account B: attach, replace, detach, drift,
//! re-plan, adoption of an interrupted create, and plan-time checks.

use strake::Urn;
use strake::plan::{Action, ReplaceOrder};
use strake_aws::iam::{Policy, Role, RolePolicyAttachment};
use strake_tests::aws::{allow as doc, trust_service, urn};
use strake_tests::check::{assert_mentions, render};
use strake_tests::rig::MotoRig;

fn attachment_urn() -> Urn {
    urn("aws:iam:RolePolicyAttachment", "app-reads")
}

fn trust() -> strake_aws::PolicyDocument {
    trust_service("ec2.amazonaws.com")
}

/// A role, two policies, and an attachment of `attach` (`"read"` or `"write"`) to the role.
fn attachment_program(rig: &MotoRig, attach: &str) -> strake::Program {
    rig.program(|stack, b| {
        let role = Role::new(stack, "app", b, trust()).role_name("app");
        let read = Policy::new(stack, "read", b, doc("s3:GetObject")).policy_name("read");
        let write = Policy::new(stack, "write", b, doc("s3:PutObject")).policy_name("write");
        let policy = if attach == "read" { &read } else { &write };
        let a = RolePolicyAttachment::new(stack, "app-reads", b, role.name(), policy.arn());
        stack.export("role", a.role());
        stack.export("policy_arn", a.policy_arn());
        stack.export("id", strake::ResourceHandle::id(&a));
    })
}

async fn attached(iam: &aws_sdk_iam::Client, role: &str) -> Vec<String> {
    let out = iam.list_attached_role_policies().role_name(role).send().await.unwrap();
    let mut arns: Vec<String> = out.attached_policies().iter().filter_map(|p| p.policy_arn().map(str::to_string)).collect();
    arns.sort();
    arns
}

const READ: &str = "arn:aws:iam::222222222222:policy/read";
const WRITE: &str = "arn:aws:iam::222222222222:policy/write";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachment_create_replace_delete_in_account_b() {
    let rig = MotoRig::start().await;
    let iam = &rig.iam;

    // Everything is known at plan time: role name and policy ARN come from previews.
    let plan = rig.plan(&attachment_program(&rig, "read")).await;
    assert_eq!(plan.outputs["id"], strake::Value::Unknown);
    assert_eq!(plan.outputs["policy_arn"].as_str(), Some(READ));
    let report = rig.up(&attachment_program(&rig, "read")).await;
    assert_eq!(report.outputs["id"].as_str(), Some(format!("app/{READ}").as_str()));
    assert_eq!(report.outputs["role"].as_str(), Some("app"));
    assert_eq!(attached(iam, "app").await, [READ]);

    // Re-plan is empty.
    rig.assert_no_changes(&attachment_program(&rig, "read")).await;

    // Another policy replaces the attachment: the new one first, as the pair differs.
    let plan = rig.plan(&attachment_program(&rig, "write")).await;
    let step = plan.step(&attachment_urn()).unwrap();
    assert_eq!(step.action, Action::Replace(ReplaceOrder::CreateThenDelete), "{}", render(&plan));
    assert_eq!(step.replace_paths, vec!["policy_arn"]);
    let report = rig.up(&attachment_program(&rig, "write")).await;
    assert_eq!(report.outputs["id"].as_str(), Some(format!("app/{WRITE}").as_str()));
    assert_eq!(attached(iam, "app").await, [WRITE]);
    rig.assert_no_changes(&attachment_program(&rig, "write")).await;

    // Destroy detaches before the role and the policy go (moto refuses to delete an attached role).
    rig.destroy(&attachment_program(&rig, "write")).await;
    assert!(iam.get_role().role_name("app").send().await.is_err());
    assert!(iam.get_policy().policy_arn(WRITE).send().await.is_err());
    assert!(iam.get_policy().policy_arn(READ).send().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachment_drift_is_shown_and_repaired() {
    let rig = MotoRig::start().await;
    let iam = &rig.iam;
    let p = attachment_program(&rig, "read");
    rig.up(&p).await;

    // Another policy attached outside Strake is not this attachment's business.
    iam.attach_role_policy().role_name("app").policy_arn(WRITE).send().await.unwrap();
    rig.assert_no_changes(&p).await;
    iam.detach_role_policy().role_name("app").policy_arn(WRITE).send().await.unwrap();

    // Detached outside Strake: the plan attaches it again.
    iam.detach_role_policy().role_name("app").policy_arn(READ).send().await.unwrap();
    let plan = rig.plan(&p).await;
    assert_eq!(plan.step(&attachment_urn()).unwrap().action, Action::Create, "{}", render(&plan));
    assert!(plan.notes.iter().any(|n| n.contains("deleted outside Strake")), "{:?}", plan.notes);
    rig.up(&p).await;
    assert_eq!(attached(iam, "app").await, [READ]);
    rig.assert_no_changes(&p).await;

    // A delete of an attachment that is already gone succeeds.
    iam.detach_role_policy().role_name("app").policy_arn(READ).send().await.unwrap();
    rig.destroy(&p).await;
    assert!(iam.get_role().role_name("app").send().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachment_is_imported_by_id() {
    let rig = MotoRig::start().await;
    let p = attachment_program(&rig, "read");
    rig.up(&p).await;

    // Forget the attachment, then import it by its id: the plan is empty.
    rig.reimport(&p, &attachment_urn(), &format!("app/{READ}")).await.unwrap();
    rig.assert_no_changes(&p).await;

    // An id that is not attached is reported as missing.
    let err = rig.reimport(&p, &attachment_urn(), &format!("app/{WRITE}")).await.unwrap_err().to_string();
    assert!(err.contains("no object"), "{err}");
    // Without a record, the plan creates it, and attaching an attached policy is harmless.
    let plan = rig.plan(&p).await;
    assert_eq!(plan.step(&attachment_urn()).unwrap().action, Action::Create);
    rig.up(&p).await;
    assert_eq!(attached(&rig.iam, "app").await, [READ]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachment_inputs_are_checked_at_plan_time() {
    let rig = MotoRig::start().await;
    let bad = rig.program(|stack, b| {
        RolePolicyAttachment::new(stack, "bad", b, "arn:aws:iam::222222222222:role/app", "arn:aws:s3:::bucket");
    });
    let err = rig.try_plan(&bad).await.unwrap_err().to_string();
    assert_mentions(&err, &["role", "is an ARN; pass the role's name", "\"app\"", "policy_arn", "is not a managed policy ARN"]);
}

/// Every IAM type, for the interrupted-create test.
fn all_types_program(rig: &MotoRig) -> strake::Program {
    rig.program(|stack, b| {
        let oidc = strake_aws::iam::OpenIdConnectProvider::new(stack, "eks", b, "https://oidc.example.com/id/PENDING/");
        let role = Role::new(stack, "app", b, trust()).role_name("app");
        let read = Policy::new(stack, "read", b, doc("s3:GetObject")).policy_name("read");
        RolePolicyAttachment::new(stack, "app-reads", b, role.name(), read.arn());
        stack.export("oidc", oidc.arn());
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_creates_are_found_from_their_inputs() {
    use strake_state::{PendingKind, PendingOperation};

    let rig = MotoRig::start().await;
    let p = all_types_program(&rig);
    rig.up(&p).await;

    // As if each create had been sent and the run died before recording it: a pending create
    // with the planned inputs and no id. One more names a policy that was never made.
    let urns = [
        "urn:strake:aws-test::aws:iam:OpenIdConnectProvider::eks",
        "urn:strake:aws-test::aws:iam:Policy::read",
        "urn:strake:aws-test::aws:iam:RolePolicyAttachment::app-reads",
    ];
    let mut session = rig.engine.session(&p, "test").unwrap();
    let mut snapshot = session.snapshot().unwrap().clone();
    let mut ids = Vec::new();
    for (n, urn) in urns.iter().enumerate() {
        let rec = snapshot.resources.iter().find(|r| r.urn == *urn).unwrap().clone();
        ids.push(rec.id.clone());
        snapshot.resources.retain(|r| r.urn != *urn);
        snapshot.pending.push(PendingOperation {
            id: format!("op-{n}"),
            urn: rec.urn.clone(),
            kind: PendingKind::Create,
            type_token: rec.type_token.clone(),
            provider: rec.provider.clone(),
            inputs: rec.inputs.clone(),
            outputs: Default::default(),
            resource_id: None,
            started_at: 0,
        });
        if *urn == urns[1] {
            let mut never = rec.inputs.to_value();
            never["name"] = "never-made".into();
            snapshot.pending.push(PendingOperation { id: "op-9".into(), inputs: never.into(), ..snapshot.pending.last().unwrap().clone() });
        }
    }
    session.replace_state(snapshot).unwrap();
    let notes = session.resolve_pending().await.unwrap();
    drop(session);
    for id in &ids {
        assert!(notes.iter().any(|n| n.contains("had succeeded") && n.contains(&format!("`{id}`"))), "{id}: {notes:?}");
    }
    assert!(notes.iter().any(|n| n.contains("had not created anything")), "{notes:?}");
    assert!(ids.contains(&format!("app/{READ}")) && ids.contains(&READ.to_string()), "{ids:?}");
    assert!(ids.contains(&"arn:aws:iam::222222222222:oidc-provider/oidc.example.com/id/PENDING".to_string()), "{ids:?}");
    rig.assert_no_changes(&p).await;
    rig.destroy(&p).await;
    let iam = &rig.iam;
    assert!(iam.list_open_id_connect_providers().send().await.unwrap().open_id_connect_provider_list().is_empty());
    assert!(iam.get_role().role_name("app").send().await.is_err());
}
