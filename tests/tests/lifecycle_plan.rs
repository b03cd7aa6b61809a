//! Lifecycle spec, what plans say: invalid graphs, unknowns, saved plans, targets, the Data
//! resource, and drift found by refresh.

use strake::{Action, Data, Error, Plan, PlanOptions, ReplaceOrder, ResourceHandle, Value};
use strake_tests::fake::{Op, Thing, arn_of};
use strake_tests::harness::{Rig, actions, chain, s, urn};

fn round_trip(plan: &Plan) -> Plan {
    let file = serde_json::to_string(plan).expect("serializing the plan");
    serde_json::from_str(&file).expect("reading the plan back")
}

#[tokio::test]
async fn dependency_cycles_are_refused_at_plan_naming_the_members() {
    let rig = Rig::memory();
    let through_outputs = rig.program(|stack, _| {
        let ab = chain(stack, &["a", "b"]);
        ab[0].set_value(ab[1].arn());
        Thing::new(stack, "bystander");
    });
    let through_depends_on = rig.program(|stack, _| {
        let a = Thing::new(stack, "a");
        let b = Thing::new(stack, "b").depends_on(&a);
        drop(a.depends_on(&b));
    });
    for program in [&through_outputs, &through_depends_on] {
        let err = rig.plan(program).await.unwrap_err();
        let Error::Diagnostics(diags) = &err else { panic!("expected diagnostics, got {err:?}") };
        let cycles: Vec<_> = diags.iter().filter(|d| d.message.contains("cycle")).collect();
        assert_eq!(cycles.len(), 1, "{diags:?}");
        let msg = &cycles[0].message;
        assert!(msg.contains(urn("a").as_str()) && msg.contains(urn("b").as_str()), "{msg}");
        assert!(!msg.contains("bystander"), "{msg}");
        assert!(matches!(rig.up(program).await, Err(Error::Diagnostics(_))));
    }
    assert!(rig.cloud.calls().is_empty(), "{:?}", rig.cloud.calls());
    assert_eq!(rig.cloud.configured(), 0, "refused before any provider is configured");
}

#[tokio::test]
async fn duplicate_names_are_refused_at_plan_with_both_locations() {
    let rig = Rig::memory();
    let mut lines = Vec::new();
    let program = rig.program(|stack, _| {
        // Each declaration is on the line after its `line!()`.
        lines.push(line!() + 1);
        Thing::new(stack, "a");
        Thing::new(stack, "b");
        lines.push(line!() + 1);
        Thing::new(stack, "a").value("again");
    });
    let err = rig.plan(&program).await.unwrap_err();
    let Error::Diagnostics(diags) = &err else { panic!("expected diagnostics, got {err:?}") };
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].urn.as_ref(), Some(&urn("a")));
    let msg = err.to_string();
    for line in lines {
        let at = format!("{}:{line}:", file!());
        assert!(msg.contains(&at), "expected `{at}` in: {msg}");
    }
    assert!(rig.up(&program).await.is_err());
    assert!(rig.cloud.calls().is_empty());
    assert_eq!(rig.cloud.configured(), 0);
}

#[tokio::test]
async fn values_known_only_after_apply_show_as_unknown_then_resolve() {
    let rig = Rig::memory();
    let program = rig.program(|stack, _| {
        let a = Thing::new(stack, "a");
        Thing::new(stack, "b").value(a.arn());
    });
    let plan = rig.plan(&program).await.unwrap();
    let b = plan.step(&urn("b")).unwrap();
    assert_eq!(b.action, Action::Create);
    assert_eq!(b.after.as_ref().and_then(|v| v.get("value")), Some(&Value::Unknown));
    assert_eq!(b.after.as_ref().and_then(|v| v.get("name")), Some(&Value::from("b")));
    let shown = strake::plan::render_human(&plan, false);
    assert!(shown.contains("value = (known after apply)"), "{shown}");
    assert!(shown.contains("2 to create"), "{shown}");

    rig.up(&program).await.unwrap();
    let a = rig.record("a").unwrap();
    let arn = Value::from(&a.outputs).get("arn").cloned().unwrap();
    assert_eq!(arn, Value::from(arn_of(&a.id)));
    assert_eq!(Value::from(&rig.record("b").unwrap().inputs).get("value"), Some(&arn));
    assert_eq!(rig.cloud.named("b")[0].value(), arn);
}

#[tokio::test]
async fn a_saved_plan_is_refused_once_state_moved_and_applied_exactly_when_fresh() {
    let rig = Rig::memory();
    let v1 = rig.program(|stack, _| drop(Thing::new(stack, "a").value("one")));
    let other = rig.program(|stack, _| {
        Thing::new(stack, "a").value("other");
        Thing::new(stack, "c");
    });
    let saved = {
        let mut session = rig.engine.session(&v1, "plan").unwrap();
        round_trip(&session.plan(&PlanOptions::default()).await.unwrap().plan)
    };
    rig.apply_then_forget_calls(&other).await;

    let mut session = rig.engine.session(&v1, "apply").unwrap();
    let err = session.apply_saved(&saved).await.unwrap_err();
    assert!(matches!(err, Error::StalePlan(_)), "{err:?}");
    drop(session);
    assert_eq!(rig.cloud.mutations(), vec![], "a refused plan changes nothing");

    // A fresh saved plan is applied exactly: what it says, nothing else.
    let saved = {
        let mut session = rig.engine.session(&v1, "plan").unwrap();
        round_trip(&session.plan(&PlanOptions::default()).await.unwrap().plan)
    };
    assert_eq!(actions(&saved), vec![(s("a"), Action::Update), (s("c"), Action::Delete)]);
    let mut session = rig.engine.session(&v1, "apply").unwrap();
    let report = session.apply_saved(&saved).await.unwrap();
    drop(session);
    assert_eq!(report.changed, 2);
    let mut mutations = rig.cloud.mutations();
    mutations.sort();
    assert_eq!(mutations, vec![(Op::Update, s("a")), (Op::Delete, s("c"))]);
    assert_eq!(rig.names_in_state(), vec![s("a")]);
    assert_eq!(rig.cloud.named("a")[0].value(), Value::from("one"));

    // The same saved plan cannot be applied twice.
    let mut session = rig.engine.session(&v1, "apply").unwrap();
    assert!(matches!(session.apply_saved(&saved).await, Err(Error::StalePlan(_))));
}

#[tokio::test]
async fn a_saved_plan_is_refused_when_the_cloud_drifted_since() {
    let rig = Rig::memory();
    let program = rig.program(|stack, _| drop(Thing::new(stack, "a").value("one")));
    rig.up(&program).await.unwrap();
    let saved = {
        let mut session = rig.engine.session(&program, "plan").unwrap();
        round_trip(&session.plan(&PlanOptions::default()).await.unwrap().plan)
    };
    let id = rig.record("a").unwrap().id;
    rig.cloud.set_object_input(&id, "value", Value::from("drifted"));
    rig.cloud.clear_calls();
    let mut session = rig.engine.session(&program, "apply").unwrap();
    let err = session.apply_saved(&saved).await.unwrap_err();
    assert!(matches!(&err, Error::StalePlan(m) if m.contains("changed")), "{err:?}");
    assert_eq!(rig.cloud.mutations(), vec![]);
}

#[tokio::test]
async fn targets_plan_and_apply_only_the_target_and_its_dependencies() {
    let rig = Rig::memory();
    let program = rig.program(|stack, _| {
        let a = Thing::new(stack, "a");
        Thing::new(stack, "b");
        Thing::new(stack, "c").value(a.arn());
    });
    let targeted = PlanOptions { targets: vec![urn("c")], ..Default::default() };
    let plan = rig.engine.plan(&program, &targeted).await.unwrap();
    assert_eq!(actions(&plan), vec![(s("a"), Action::Create), (s("c"), Action::Create)]);
    assert_eq!(plan.targets, vec![urn("c")]);

    rig.engine.up(&program, &targeted).await.unwrap();
    assert_eq!(rig.cloud.mutations(), vec![(Op::Create, s("a")), (Op::Create, s("c"))]);
    assert_eq!(rig.names_in_state(), vec![s("a"), s("c")]);
    assert!(rig.cloud.named("b").is_empty());

    rig.cloud.clear_calls();
    let rest = rig.plan(&program).await.unwrap();
    assert_eq!(actions(&rest), vec![(s("a"), Action::NoOp), (s("b"), Action::Create), (s("c"), Action::NoOp)]);
}

#[tokio::test]
async fn data_outputs_are_known_at_plan_and_triggers_replace_it() {
    let rig = Rig::memory();
    let program = |trigger: &'static str| {
        rig.program(move |stack, _| {
            let d = Data::new(stack, "d", "hello").triggers_replace(trigger);
            Thing::new(stack, "t").value(d.output());
        })
    };
    let data = strake::Urn::new(strake_tests::harness::STACK, "strake:index:Data", "d");
    let plan = rig.plan(&program("v1")).await.unwrap();
    assert_eq!(plan.step(&data).unwrap().action, Action::Create);
    let t = plan.step(&urn("t")).unwrap();
    assert_eq!(t.after.as_ref().and_then(|v| v.get("value")), Some(&Value::from("hello")), "known at plan");
    rig.up(&program("v1")).await.unwrap();
    assert_eq!(rig.cloud.named("t")[0].value(), Value::from("hello"));
    let first = rig.snapshot().resources.into_iter().find(|r| r.urn == data.as_str()).unwrap();
    rig.cloud.clear_calls();

    let plan = rig.plan(&program("v2")).await.unwrap();
    let step = plan.step(&data).unwrap();
    assert_eq!(step.action, Action::Replace(ReplaceOrder::CreateThenDelete));
    assert_eq!(step.replace_paths, vec![s("triggers_replace")]);
    assert_eq!(plan.step(&urn("t")).unwrap().action, Action::NoOp, "the output stays `hello`");
    rig.up(&program("v2")).await.unwrap();
    let second = rig.snapshot().resources.into_iter().find(|r| r.urn == data.as_str()).unwrap();
    assert_ne!(second.id, first.id, "a new object");
    assert_eq!(rig.cloud.mutations(), vec![]);
    assert!(!rig.plan(&program("v2")).await.unwrap().has_changes());
}

#[tokio::test]
async fn refresh_finds_objects_deleted_outside_and_the_next_plan_recreates_them() {
    let rig = Rig::memory();
    let program = rig.program(|stack, _| {
        Thing::new(stack, "a");
        Thing::new(stack, "b");
    });
    rig.up(&program).await.unwrap();
    let gone = rig.record("a").unwrap().id;
    rig.cloud.remove_object(&gone);

    let report = rig.engine.refresh(&program).await.unwrap();
    assert_eq!(report.gone, vec![urn("a")]);
    assert!(report.changed.is_empty(), "{report:?}");
    assert_eq!(rig.names_in_state(), vec![s("b")]);
    rig.cloud.clear_calls();
    let plan = rig.plan(&program).await.unwrap();
    assert_eq!(actions(&plan), vec![(s("a"), Action::Create), (s("b"), Action::NoOp)]);
    rig.up(&program).await.unwrap();
    assert_eq!(rig.cloud.mutations(), vec![(Op::Create, s("a"))]);

    // Without an explicit refresh, the plan's own refresh notices too.
    let again = rig.record("a").unwrap().id;
    rig.cloud.remove_object(&again);
    let plan = rig.plan(&program).await.unwrap();
    let step = plan.step(&urn("a")).unwrap();
    assert_eq!(step.action, Action::Create);
    assert!(step.reason.as_deref().is_some_and(|r| r.contains("deleted outside")), "{step:?}");
    assert!(plan.notes.iter().any(|n| n.contains("deleted outside Strake")), "{:?}", plan.notes);
}

#[tokio::test]
async fn drifted_values_are_planned_back_to_the_program_and_corrected() {
    let rig = Rig::memory();
    let program = rig.program(|stack, _| drop(Thing::new(stack, "a").value("one")));
    rig.up(&program).await.unwrap();
    let id = rig.record("a").unwrap().id;
    rig.cloud.set_object_input(&id, "value", Value::from("drifted"));
    rig.cloud.clear_calls();

    let unrefreshed = rig.engine.plan(&program, &PlanOptions { refresh: false, ..Default::default() }).await.unwrap();
    assert!(!unrefreshed.has_changes(), "without refresh the plan trusts state");

    let plan = rig.plan(&program).await.unwrap();
    let step = plan.step(&urn("a")).unwrap();
    assert_eq!(step.action, Action::Update);
    assert_eq!(step.before.as_ref().and_then(|v| v.get("value")), Some(&Value::from("drifted")));
    assert_eq!(step.after.as_ref().and_then(|v| v.get("value")), Some(&Value::from("one")));
    assert!(plan.notes.iter().any(|n| n.contains("changed outside Strake")), "{:?}", plan.notes);

    rig.up(&program).await.unwrap();
    assert_eq!(rig.cloud.mutations(), vec![(Op::Update, s("a"))]);
    assert_eq!(rig.cloud.object(&id).unwrap().value(), Value::from("one"));
    assert_eq!(rig.record("a").unwrap().id, id);
    assert!(!rig.plan(&program).await.unwrap().has_changes());
}

#[tokio::test]
async fn strict_makes_every_warning_an_error_and_nothing_is_applied() {
    let rig = Rig::memory();
    let program = rig.program(|stack, _| drop(Thing::new(stack, "a").value(strake::Value::from("deprecated"))));
    let plan = rig.plan(&program).await.unwrap();
    assert_eq!(plan.diagnostics.len(), 1, "a warning, and the plan goes on");
    assert!(!plan.diagnostics[0].is_error());

    let strict = Rig::memory().with_options(strake::EngineOptions { strict: true, ..strake_tests::harness::test_options() });
    let program = strict.program(|stack, _| drop(Thing::new(stack, "a").value(strake::Value::from("deprecated"))));
    let err = strict.up(&program).await.unwrap_err();
    let strake::Error::Diagnostics(d) = &err else { panic!("{err:?}") };
    assert!(d[0].is_error() && d[0].message.ends_with("(an error under --strict)"), "{d:?}");
    assert!(strict.cloud.calls().is_empty(), "nothing was called");
}

#[tokio::test]
async fn two_declarations_that_claim_one_name_are_refused_at_plan() {
    let rig = Rig::memory();
    let program = rig.program(|stack, _| {
        Thing::new(stack, "first").name("shared");
        Thing::new(stack, "second").name("shared");
        Thing::new(stack, "third");
    });
    let err = rig.plan(&program).await.unwrap_err();
    let Error::Diagnostics(d) = &err else { panic!("{err:?}") };
    let errors: Vec<String> = d.iter().filter(|d| d.is_error()).map(|d| d.to_string()).collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].contains(urn("first").as_str())
            && errors[0].contains("claims thing `shared` in fake account main, as")
            && errors[0].contains(urn("second").as_str()),
        "{errors:?}"
    );
    assert!(rig.cloud.mutations().is_empty());
}
