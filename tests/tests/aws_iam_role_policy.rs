//! `aws:iam:RolePolicy` (an inline policy, a type added on the typed framework) against moto in
//! account B: create, update in place, drift, rename, import, destroy, and plan-time checks.

use strake::plan::{Action, ReplaceOrder};
use strake::{Error, PlanOptions, Urn};
use strake_aws::iam::{Role, RolePolicy};
use strake_aws::{PolicyDocument, Statement};
use strake_tests::aws::{assert_identities, engine, iam_b, program, provider_b};
use strake_tests::moto::Moto;

fn policy_urn() -> Urn {
    Urn::new("aws-test", "aws:iam:RolePolicy", "reads")
}

fn trust() -> PolicyDocument {
    PolicyDocument::new().statement(Statement::allow().actions(["sts:AssumeRole"]).principal("Service", "ec2.amazonaws.com"))
}

fn doc(action: &str) -> PolicyDocument {
    PolicyDocument::new().statement(Statement::allow().actions([action]).resources(["*"]))
}

/// A role `app` with an inline policy named `name` allowing `action`.
fn inline_program(moto: &Moto, name: &str, action: &str) -> strake::Program {
    let (name, action) = (name.to_string(), action.to_string());
    program(move |stack| {
        let b = provider_b(stack, moto);
        let role = Role::new(stack, "app", &b, trust()).role_name("app");
        let p = RolePolicy::new(stack, "reads", &b, role.name(), doc(&action)).policy_name(name);
        stack.export("id", strake::ResourceHandle::id(&p));
        Ok(())
    })
}

/// The inline policies of role `app`, each with the actions of its document.
async fn inline_policies(iam: &aws_sdk_iam::Client) -> Vec<(String, String)> {
    let names = iam.list_role_policies().role_name("app").send().await.unwrap().policy_names().to_vec();
    let mut out = Vec::new();
    for name in names {
        let got = iam.get_role_policy().role_name("app").policy_name(&name).send().await.unwrap();
        let text = urlencoding_decode(got.policy_document());
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        out.push((name, doc["Statement"][0]["Action"].to_string()));
    }
    out.sort();
    out
}

/// IAM returns documents URL-encoded.
fn urlencoding_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(Ok(b)) = text.get(i + 1..i + 3).map(|h| u8::from_str_radix(h, 16))
        {
            out.push(b);
            i += 3;
        } else {
            out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// How the actions of a canonical document's statement read.
fn actions(action: &str) -> String {
    format!("[\"{action}\"]")
}

fn render(plan: &strake::Plan) -> String {
    strake::plan::render_human(plan, false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inline_policy_is_created_updated_renamed_and_destroyed_with_its_role() {
    let moto = Moto::start();
    assert_identities(&moto).await;
    let engine = engine();
    let iam = iam_b(&moto).await;

    let report = engine.up(&inline_program(&moto, "reads", "s3:GetObject"), &PlanOptions::default()).await.unwrap();
    assert_eq!(report.outputs["id"].as_str(), Some("app:reads"));
    assert_eq!(inline_policies(&iam).await, [("reads".to_string(), actions("s3:GetObject"))]);
    let plan = engine.plan(&inline_program(&moto, "reads", "s3:GetObject"), &PlanOptions::default()).await.unwrap();
    assert!(!plan.has_changes(), "{}", render(&plan));

    // A new document is put in place.
    let p = inline_program(&moto, "reads", "s3:ListBucket");
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(plan.step(&policy_urn()).unwrap().action, Action::Update, "{}", render(&plan));
    engine.up(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(inline_policies(&iam).await, [("reads".to_string(), actions("s3:ListBucket"))]);

    // Changed outside Strake: the plan shows it and puts it back.
    iam.put_role_policy()
        .role_name("app")
        .policy_name("reads")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let plan = engine.plan(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(plan.step(&policy_urn()).unwrap().action, Action::Update, "{}", render(&plan));
    engine.up(&p, &PlanOptions::default()).await.unwrap();
    assert_eq!(inline_policies(&iam).await, [("reads".to_string(), actions("s3:ListBucket"))]);

    // Another name is another policy: the new one is put first, then the old one goes.
    let renamed = inline_program(&moto, "lists", "s3:ListBucket");
    let plan = engine.plan(&renamed, &PlanOptions::default()).await.unwrap();
    let step = plan.step(&policy_urn()).unwrap();
    assert_eq!(
        (step.action, step.replace_paths.clone()),
        (Action::Replace(ReplaceOrder::CreateThenDelete), vec!["name".to_string()]),
        "{}",
        render(&plan)
    );
    engine.up(&renamed, &PlanOptions::default()).await.unwrap();
    assert_eq!(inline_policies(&iam).await, [("lists".to_string(), actions("s3:ListBucket"))]);

    // Forgotten and imported by its id: nothing to change.
    let mut session = engine.session(&renamed, "import").unwrap();
    session.forget(policy_urn().as_str()).unwrap();
    session.import(&policy_urn(), "app:lists").await.unwrap();
    drop(session);
    let plan = engine.plan(&renamed, &PlanOptions::default()).await.unwrap();
    assert!(!plan.has_changes(), "{}", render(&plan));

    // IAM deletes a role only without inline policies: the policy goes first.
    engine.destroy(&renamed).await.unwrap();
    assert!(iam.get_role().role_name("app").send().await.is_err(), "the role is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inline_policies_are_refused_at_plan_with_zero_calls() {
    let moto = Moto::start();
    let engine = engine();
    moto.start_recording();
    let p = program(|stack| {
        let b = provider_b(stack, &moto);
        RolePolicy::new(stack, "by-arn", &b, "arn:aws:iam::222222222222:role/app", doc("s3:GetObject"));
        RolePolicy::new(stack, "bad-name", &b, "app", doc("s3:GetObject")).policy_name("no spaces allowed");
        RolePolicy::new(stack, "misspelt", &b, "app", doc("s3:GetObjects"));
        Ok(())
    });
    let Err(Error::Diagnostics(diags)) = engine.plan(&p, &PlanOptions::default()).await else { panic!("the plan must fail") };
    let text: Vec<String> = diags.iter().filter(|d| d.is_error()).map(|d| d.to_string()).collect();
    let says = |name: &str, field: &str, what: &str| {
        text.iter().any(|t| t.contains(&format!("aws:iam:RolePolicy::{name}")) && t.contains(&format!("`{field}`")) && t.contains(what))
    };
    assert!(says("by-arn", "role", "is an ARN; pass the role's name"), "{text:#?}");
    assert!(says("bad-name", "name", "no spaces allowed"), "{text:#?}");
    assert!(says("misspelt", "policy", "did you mean `s3:GetObject`?"), "{text:#?}");
    assert!(moto.recorded().iter().all(|r| !r.is_mutating()), "a refused plan changes nothing: {:?}", moto.recorded());
}
