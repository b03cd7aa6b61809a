//! `aws:iam:RolePolicyAttachment` against moto in account B: attach, replace, detach, drift,
//! re-plan, adoption of an interrupted create, and plan-time checks.

use strake::plan::{Action, ReplaceOrder};
use strake::{PlanOptions, Urn};
use strake_aws::iam::{Policy, Role, RolePolicyAttachment};
use strake_aws::{PolicyDocument, Statement};
use strake_tests::aws::{assert_identities, engine, iam_b, program, provider_b};
use strake_tests::moto::Moto;

fn attachment_urn() -> Urn {
    Urn::new("aws-test", "aws:iam:RolePolicyAttachment", "app-reads")
}

fn trust() -> PolicyDocument {
    PolicyDocument::new().statement(Statement::allow().actions(["sts:AssumeRole"]).principal("Service", "ec2.amazonaws.com"))
}

fn doc(action: &str) -> PolicyDocument {
    PolicyDocument::new().statement(Statement::allow().actions([action]).resources(["*"]))
}

/// A role, two policies, and an attachment of `attach` (`"read"` or `"write"`) to the role.
fn attachment_program(moto: &Moto, attach: &str) -> strake::Program {
    program(|stack| {
        let b = provider_b(stack, moto);
        let role = Role::new(stack, "app", &b, trust()).role_name("app");
        let read = Policy::new(stack, "read", &b, doc("s3:GetObject")).policy_name("read");
        let write = Policy::new(stack, "write", &b, doc("s3:PutObject")).policy_name("write");
        let policy = if attach == "read" { &read } else { &write };
        let a = RolePolicyAttachment::new(stack, "app-reads", &b, role.name(), policy.arn());
        stack.export("role", a.role());
        stack.export("policy_arn", a.policy_arn());
        stack.export("id", strake::ResourceHandle::id(&a));
        Ok(())
    })
}

async fn attached(iam: &aws_sdk_iam::Client, role: &str) -> Vec<String> {
    let out = iam.list_attached_role_policies().role_name(role).send().await.unwrap();
    let mut arns: Vec<String> = out.attached_policies().iter().filter_map(|p| p.policy_arn().map(str::to_string)).collect();
    arns.sort();
    arns
}

fn render(plan: &strake::Plan) -> String {
    strake::plan::render_human(plan, false)
}

const READ: &str = "arn:aws:iam::222222222222:policy/read";
const WRITE: &str = "arn:aws:iam::222222222222:policy/write";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachment_create_replace_delete_in_account_b() {
    let moto = Moto::start();
    assert_identities(&moto).await;
    let engine = engine();
    let iam = iam_b(&moto).await;

    // Everything is known at plan time: role name and policy ARN come from previews.
    let plan = engine.plan(&attachment_program(&moto, "read"), &PlanOptions::default()).await.unwrap();
    assert_eq!(plan.outputs["id"], strake::Value::Unknown);
    assert_eq!(plan.outputs["policy_arn"].as_str(), Some(READ));
    let report = engine.up(&attachment_program(&moto, "read"), &PlanOptions::default()).await.unwrap();
    assert_eq!(report.outputs["id"].as_str(), Some(format!("app/{READ}").as_str()));
    assert_eq!(report.outputs["role"].as_str(), Some("app"));
    assert_eq!(attached(&iam, "app").await, [READ]);

    // Re-plan is empty.
    let plan = engine.plan(&attachment_program(&moto, "read"), &PlanOptions::default()).await.unwrap();
    assert!(!plan.has_changes(), "{}", render(&plan));

    // Another policy replaces the attachment: the new one first, as the pair differs.
    let plan = engine.plan(&attachment_program(&moto, "write"), &PlanOptions::default()).await.unwrap();
    let step = plan.step(&attachment_urn()).unwrap();
    assert_eq!(step.action, Action::Replace(ReplaceOrder::CreateThenDelete), "{}", render(&plan));
    assert_eq!(step.replace_paths, vec!["policy_arn"]);
    let report = engine.up(&attachment_program(&moto, "write"), &PlanOptions::default()).await.unwrap();
    assert_eq!(report.outputs["id"].as_str(), Some(format!("app/{WRITE}").as_str()));
    assert_eq!(attached(&iam, "app").await, [WRITE]);
    let plan = engine.plan(&attachment_program(&moto, "write"), &PlanOptions::default()).await.unwrap();
    assert!(!plan.has_changes(), "{}", render(&plan));

    // Destroy detaches before the role and the policy go (moto refuses to delete an attached role).
    engine.destroy(&attachment_program(&moto, "write")).await.unwrap();
    assert!(iam.get_role().role_name("app").send().await.is_err());
    assert!(iam.get_policy().policy_arn(WRITE).send().await.is_err());
    assert!(iam.get_policy().policy_arn(READ).send().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachment_drift_is_shown_and_repaired() {
    let moto = Moto::start();
    assert_identities(&moto).await;
    let engine = engine();
    let iam = iam_b(&moto).await;
    let p = attachment_program(&moto, "read");
    engine.up(&p, &PlanOptions::default()).await.unwrap();

    // Another policy attached outside Strake is not this attachment's business.
    iam.attach_role_policy().role_name("app").policy_arn(WRITE).send().await.unwrap();
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert!(!plan.has_changes(), "{}", render(&plan));
    iam.detach_role_policy().role_name("app").policy_arn(WRITE).send().await.unwrap();

    // Detached outside Strake: the plan attaches it again.
    iam.detach_role_policy().role_name("app").policy_arn(READ).send().await.unwrap();
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(plan.step(&attachment_urn()).unwrap().action, Action::Create, "{}", render(&plan));
    assert!(plan.notes.iter().any(|n| n.contains("deleted outside Strake")), "{:?}", plan.notes);
    engine.up(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(attached(&iam, "app").await, [READ]);
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert!(!plan.has_changes(), "{}", render(&plan));

    // A delete of an attachment that is already gone succeeds.
    iam.detach_role_policy().role_name("app").policy_arn(READ).send().await.unwrap();
    engine.destroy(&p).await.unwrap();
    assert!(iam.get_role().role_name("app").send().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachment_is_imported_by_id() {
    let moto = Moto::start();
    assert_identities(&moto).await;
    let engine = engine();
    let iam = iam_b(&moto).await;
    let p = attachment_program(&moto, "read");
    engine.up(&p, &PlanOptions::default()).await.unwrap();

    // Forget the attachment, then import it by its id: the plan is empty.
    let mut session = engine.session(&p, "import").unwrap();
    session.forget(attachment_urn().as_str()).unwrap();
    session.import(&attachment_urn(), &format!("app/{READ}")).await.unwrap();
    drop(session);
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert!(!plan.has_changes(), "{}", render(&plan));

    // An id that is not attached is reported as missing.
    let mut session = engine.session(&p, "import").unwrap();
    session.forget(attachment_urn().as_str()).unwrap();
    let err = session.import(&attachment_urn(), &format!("app/{WRITE}")).await.unwrap_err().to_string();
    assert!(err.contains("no object"), "{err}");
    drop(session);
    // Without a record, the plan creates it, and attaching an attached policy is harmless.
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(plan.step(&attachment_urn()).unwrap().action, Action::Create);
    engine.up(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(attached(&iam, "app").await, [READ]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachment_inputs_are_checked_at_plan_time() {
    let moto = Moto::start();
    assert_identities(&moto).await;
    let engine = engine();
    let bad = program(|stack| {
        let b = provider_b(stack, &moto);
        RolePolicyAttachment::new(stack, "bad", &b, "arn:aws:iam::222222222222:role/app", "arn:aws:s3:::bucket");
        Ok(())
    });
    let err = engine.plan(&bad, &PlanOptions::default()).await.unwrap_err().to_string();
    for expected in ["role", "is an ARN; pass the role's name", "\"app\"", "policy_arn", "is not a managed policy ARN"] {
        assert!(err.contains(expected), "missing `{expected}` in: {err}");
    }
}

/// Every IAM type, for the interrupted-create test.
fn all_types_program(moto: &Moto) -> strake::Program {
    program(|stack| {
        let b = provider_b(stack, moto);
        let oidc = strake_aws::iam::OpenIdConnectProvider::new(stack, "eks", &b, "https://oidc.example.com/id/PENDING/");
        let role = Role::new(stack, "app", &b, trust()).role_name("app");
        let read = Policy::new(stack, "read", &b, doc("s3:GetObject")).policy_name("read");
        RolePolicyAttachment::new(stack, "app-reads", &b, role.name(), read.arn());
        stack.export("oidc", oidc.arn());
        Ok(())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_creates_are_found_from_their_inputs() {
    use strake_state::{PendingKind, PendingOperation};

    let moto = Moto::start();
    assert_identities(&moto).await;
    let engine = engine();
    let p = all_types_program(&moto);
    engine.up(&p, &PlanOptions::default()).await.unwrap();

    // As if each create had been sent and the run died before recording it: a pending create
    // with the planned inputs and no id. One more names a policy that was never made.
    let urns = [
        "urn:strake:aws-test::aws:iam:OpenIdConnectProvider::eks",
        "urn:strake:aws-test::aws:iam:Policy::read",
        "urn:strake:aws-test::aws:iam:RolePolicyAttachment::app-reads",
    ];
    let mut session = engine.session(&p, "test").unwrap();
    let mut snapshot = session.snapshot().clone();
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
            outputs: serde_json::Value::Null,
            resource_id: None,
            started_at: 0,
        });
        if *urn == urns[1] {
            let mut never = rec.inputs.clone();
            never["name"] = "never-made".into();
            snapshot.pending.push(PendingOperation { id: "op-9".into(), inputs: never, ..snapshot.pending.last().unwrap().clone() });
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
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert!(!plan.has_changes(), "{}", render(&plan));
    engine.destroy(&p).await.unwrap();
    let iam = iam_b(&moto).await;
    assert!(iam.list_open_id_connect_providers().send().await.unwrap().open_id_connect_provider_list().is_empty());
    assert!(iam.get_role().role_name("app").send().await.is_err());
}
