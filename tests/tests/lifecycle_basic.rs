//! Lifecycle spec, the everyday paths: create, no-op, update, replace (both orders), protect,
//! ignore_changes, removal and destroy.

use strake::{Action, Error, ReplaceOrder, ResourceHandle, Value, value};
use strake_state::RecordKind;
use strake_tests::fake::{FakeProvider, Op, Thing, arn_of};
use strake_tests::harness::{Rig, actions, build, chain, position, provider_urn, s, urn};

#[tokio::test]
async fn create_from_empty_records_everything_and_replans_to_no_changes() {
    let rig = Rig::local();
    let program = rig.program(|stack, _| {
        let a = Thing::new(stack, "a").value(value!({"size": 1}));
        Thing::new(stack, "b").value(a.arn());
    });

    let plan = rig.plan(&program).await.unwrap();
    assert_eq!(actions(&plan), vec![(s("a"), Action::Create), (s("b"), Action::Create)]);
    assert!(plan.has_changes());
    assert!(rig.cloud.calls().is_empty(), "planning from empty state calls nothing: {:?}", rig.cloud.calls());

    let report = rig.up(&program).await.unwrap();
    assert_eq!(report.changed, 2);
    assert_eq!(rig.cloud.mutations(), vec![(Op::Create, s("a")), (Op::Create, s("b"))]);

    let (a, b) = (rig.record("a").unwrap(), rig.record("b").unwrap());
    let cloud_a = rig.cloud.named("a").pop().unwrap();
    let cloud_b = rig.cloud.named("b").pop().unwrap();
    assert_eq!(a.id, cloud_a.id);
    assert_eq!(b.id, cloud_b.id);
    assert_ne!(a.id, b.id);
    assert_eq!(a.kind, RecordKind::Resource);
    assert_eq!(a.type_token, "fake:index:Thing");
    assert_eq!(Value::from(&a.inputs), value!({"name": "a", "value": {"size": 1}}));
    assert_eq!(Value::from(&a.outputs), value!({"name": "a", "value": {"size": 1}, "arn": arn_of(&a.id)}));
    assert_eq!(Value::from(&b.inputs), value!({"name": "b", "value": arn_of(&a.id)}));
    assert!(a.dependencies.is_empty(), "{:?}", a.dependencies);
    assert_eq!(b.dependencies, vec![urn("a").to_string()]);
    let main = provider_urn("main").to_string();
    assert_eq!(a.provider.as_deref(), Some(main.as_str()));
    assert_eq!(b.provider.as_deref(), Some(main.as_str()));
    let snapshot = rig.snapshot();
    let provider = snapshot.resources.iter().find(|r| r.urn == main).expect("the provider's record");
    assert_eq!(provider.kind, RecordKind::Provider);
    assert_eq!(Value::from(&provider.inputs), value!({"account": "main"}));
    assert!(snapshot.pending.is_empty(), "{:?}", snapshot.pending);

    rig.cloud.clear_calls();
    let serial = rig.snapshot().meta.serial;
    let replan = rig.plan(&program).await.unwrap();
    assert_eq!(actions(&replan), vec![(s("a"), Action::NoOp), (s("b"), Action::NoOp)]);
    assert!(!replan.has_changes(), "{}", strake::plan::render_human(&replan, false));
    let report = rig.up(&program).await.unwrap();
    assert_eq!(report.changed, 0);
    assert_eq!(rig.cloud.mutations(), vec![], "a converged stack makes no mutating calls");
    assert_eq!(rig.snapshot().meta.serial, serial, "nothing to record");
}

#[tokio::test]
async fn changing_value_updates_in_place_and_keeps_the_id() {
    let rig = Rig::memory();
    rig.up(&rig.program(|stack, _| drop(Thing::new(stack, "a").value("one")))).await.unwrap();
    let id = rig.record("a").unwrap().id;
    rig.cloud.clear_calls();

    let program = rig.program(|stack, _| drop(Thing::new(stack, "a").value("two")));
    let plan = rig.plan(&program).await.unwrap();
    let step = plan.step(&urn("a")).unwrap();
    assert_eq!(step.action, Action::Update);
    assert_eq!(step.changes, vec![s("value")]);
    assert_eq!(step.before.as_ref().and_then(|b| b.get("value")), Some(&Value::from("one")));
    assert_eq!(step.after.as_ref().and_then(|a| a.get("value")), Some(&Value::from("two")));

    rig.up(&program).await.unwrap();
    assert_eq!(rig.cloud.mutations(), vec![(Op::Update, s("a"))]);
    let update = rig.cloud.calls().into_iter().find(|c| c.op == Op::Update).unwrap();
    assert_eq!(update.id.as_deref(), Some(id.as_str()));
    let rec = rig.record("a").unwrap();
    assert_eq!(rec.id, id, "an update keeps the id");
    assert_eq!(Value::from(&rec.outputs).get("value"), Some(&Value::from("two")));
    assert_eq!(rig.cloud.object(&id).unwrap().value(), Value::from("two"));
    assert_eq!(rig.cloud.objects().len(), 1);
}

#[tokio::test]
async fn renaming_replaces_create_first_and_repoints_dependents_before_deleting() {
    let rig = Rig::memory();
    let old = rig.apply_pair("a-1").await;

    let plan = rig.plan(&rig.pair("a-2")).await.unwrap();
    let step = plan.step(&urn("a")).unwrap();
    assert_eq!(step.action, Action::Replace(ReplaceOrder::CreateThenDelete));
    assert_eq!(step.replace_paths, vec![s("name")]);
    let dependent = plan.step(&urn("b")).unwrap();
    assert_eq!(dependent.action, Action::Update, "b uses a's arn, which the replacement changes");
    assert_eq!(dependent.after.as_ref().and_then(|v| v.get("value")), Some(&Value::Unknown));

    rig.up(&rig.pair("a-2")).await.unwrap();
    assert_eq!(rig.cloud.mutations(), vec![(Op::Create, s("a")), (Op::Update, s("b")), (Op::Delete, s("a"))]);
    let calls = rig.cloud.calls();
    let delete = calls.iter().find(|c| c.op == Op::Delete).unwrap();
    assert_eq!(delete.id.as_deref(), Some(old.as_str()), "the old object is the one deleted");
    let new = rig.record("a").unwrap().id;
    assert_ne!(new, old);
    assert_eq!(rig.cloud.named("a-2").len(), 1);
    assert!(rig.cloud.object(&old).is_none());
    let b = rig.record("b").unwrap();
    assert_eq!(Value::from(&b.inputs).get("value"), Some(&Value::from(arn_of(&new))));
    assert!(rig.snapshot().pending.is_empty(), "the deposed object's pending delete is cleared");
    assert!(!rig.plan(&rig.pair("a-2")).await.unwrap().has_changes());
}

#[tokio::test]
async fn delete_before_replace_deletes_first_by_option_or_by_provider() {
    for by_option in [true, false] {
        let rig = Rig::memory();
        let program = |name: &'static str| {
            rig.program(move |stack, _| {
                let a = Thing::new(stack, "a").name(name);
                if by_option { drop(a.delete_before_replace()) } else { drop(a.unique(true)) }
            })
        };
        rig.up(&program("a-1")).await.unwrap();
        let old = rig.record("a").unwrap().id;
        rig.cloud.clear_calls();

        let plan = rig.plan(&program("a-2")).await.unwrap();
        assert_eq!(plan.step(&urn("a")).unwrap().action, Action::Replace(ReplaceOrder::DeleteThenCreate), "by_option={by_option}");
        rig.up(&program("a-2")).await.unwrap();
        assert_eq!(rig.cloud.mutations(), vec![(Op::Delete, s("a")), (Op::Create, s("a"))], "by_option={by_option}");
        assert!(rig.cloud.object(&old).is_none());
        assert_eq!(rig.cloud.objects().len(), 1);
        assert_eq!(rig.cloud.objects()[0].id, rig.record("a").unwrap().id);
    }
}

#[tokio::test]
async fn protected_resources_refuse_replacement_and_removal() {
    let rig = Rig::memory();
    rig.apply_then_forget_calls(&rig.program(|stack, _| drop(Thing::new(stack, "a").protect()))).await;

    let rename = rig.program(|stack, _| drop(Thing::new(stack, "a").name("a-2").protect()));
    let removed = rig.program(|_, _| {});
    for program in [&rename, &removed] {
        let err = rig.plan(program).await.unwrap_err();
        let Error::Diagnostics(diags) = &err else { panic!("expected diagnostics, got {err:?}") };
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(diags[0].urn.as_ref(), Some(&urn("a")));
        let msg = err.to_string();
        assert!(msg.contains(urn("a").as_str()) && msg.contains("remove `protect`"), "{msg}");
        assert!(matches!(rig.up(program).await, Err(Error::Diagnostics(_))));
    }
    assert_eq!(rig.cloud.mutations(), vec![], "a refused plan mutates nothing");
    assert_eq!(rig.cloud.objects().len(), 1);
    assert!(rig.record("a").is_some());

    // An in-place update of a protected resource is fine.
    let update = rig.program(|stack, _| drop(Thing::new(stack, "a").value(Value::from(1i64)).protect()));
    rig.up(&update).await.unwrap();
    assert_eq!(rig.cloud.mutations(), vec![(Op::Update, s("a"))]);
}

#[tokio::test]
async fn ignored_input_changes_are_no_ops() {
    let rig = Rig::memory();
    let program = |v: &'static str| rig.program(move |stack, _| drop(Thing::new(stack, "a").value(v).ignore_changes(&["value"])));
    rig.apply_then_forget_calls(&program("one")).await;

    let plan = rig.plan(&program("two")).await.unwrap();
    assert_eq!(actions(&plan), vec![(s("a"), Action::NoOp)]);
    assert!(!plan.has_changes());
    rig.up(&program("two")).await.unwrap();
    assert_eq!(rig.cloud.mutations(), vec![]);
    assert_eq!(rig.cloud.named("a")[0].value(), Value::from("one"));
}

#[tokio::test]
async fn removed_resources_are_deleted_dependents_first_with_their_recorded_provider() {
    let rig = Rig::memory();
    let chain = rig.program(|stack, _| drop(chain(stack, &["a", "b", "c"])));
    rig.apply_then_forget_calls(&chain).await;

    // The program now declares only another account's provider: the removed resources must be
    // deleted with the configuration state recorded for them (account `main`).
    let cloud = rig.cloud.clone();
    let emptied = build(move |stack| drop(stack.provider("other", FakeProvider::new(&cloud).account("other"))));
    let plan = rig.plan(&emptied).await.unwrap();
    assert_eq!(actions(&plan), vec![(s("a"), Action::Delete), (s("b"), Action::Delete), (s("c"), Action::Delete)]);
    rig.up(&emptied).await.unwrap();
    assert_eq!(rig.cloud.mutations(), vec![(Op::Delete, s("c")), (Op::Delete, s("b")), (Op::Delete, s("a"))]);
    let accounts: Vec<String> = rig.cloud.calls().into_iter().filter(|c| c.op == Op::Delete).map(|c| c.account).collect();
    assert_eq!(accounts, vec![s("main"); 3], "deleted through the recorded provider");
    assert!(rig.cloud.objects().is_empty());
    assert_eq!(rig.names_in_state(), Vec::<String>::new());
    let main = provider_urn("main").to_string();
    assert!(!rig.snapshot().resources.iter().any(|r| r.urn == main), "the idle provider record is dropped");
}

/// The stack's outputs go with its last resource: a destroy that stops part-way, interrupted
/// before any provider call, leaves every resource and the outputs recorded.
#[tokio::test]
async fn an_interrupted_destroy_keeps_the_outputs_of_what_it_did_not_delete() {
    let rig = Rig::local();
    let program = rig.program(|stack, _| {
        let d = Thing::new(stack, "d");
        stack.export("d_arn", d.arn());
    });
    rig.up(&program).await.unwrap();
    let has_outputs = || rig.snapshot().resources.iter().any(|r| r.kind == RecordKind::StackOutputs);
    assert!(has_outputs(), "{:?}", rig.snapshot().resources);

    rig.engine.cancel_flag().cancel();
    let err = rig.engine.destroy(&program).await.unwrap_err();
    assert!(matches!(err, Error::Interrupted { .. }), "{err:?}");
    assert_eq!(rig.names_in_state(), vec![s("d")]);
    assert!(has_outputs(), "the outputs stay with the resources left: {:?}", rig.snapshot().resources);
}

#[tokio::test]
async fn destroy_deletes_everything_dependents_first_and_empties_state() {
    let rig = Rig::local();
    let program = rig.program(|stack, _| {
        chain(stack, &["a", "b", "c"]);
        let d = Thing::new(stack, "d");
        stack.export("d_arn", d.arn());
    });
    rig.up(&program).await.unwrap();
    assert_eq!(rig.names_in_state(), vec![s("a"), s("b"), s("c"), s("d")]);
    rig.cloud.clear_calls();

    let plan = rig.engine.plan(&program, &strake::PlanOptions::destroy()).await.unwrap();
    assert!(plan.steps.iter().all(|s| s.action == Action::Delete), "{:?}", actions(&plan));
    assert_eq!(plan.steps.len(), 4);
    rig.engine.destroy(&program).await.unwrap();

    let deletes: Vec<(Op, String)> = rig.cloud.mutations();
    assert_eq!(deletes.len(), 4, "{deletes:?}");
    assert!(deletes.iter().all(|(op, _)| *op == Op::Delete), "{deletes:?}");
    let at = |n: &str| position(&deletes, &(Op::Delete, s(n)));
    assert!(at("c") < at("b") && at("b") < at("a"), "{deletes:?}");
    assert!(rig.cloud.objects().is_empty());
    let snapshot = rig.snapshot();
    assert!(snapshot.resources.is_empty(), "state keeps no records after destroy: {:?}", snapshot.resources);
    assert!(snapshot.pending.is_empty());
}
