//! Lifecycle spec, when things go wrong: a failing step, crashes around a create, retries.

use std::time::Duration;

use strake::builtin::DATA_TYPE;
use strake::events::Outcome;
use strake::{Action, Data, Error, PlanOptions, ResourceHandle, Timeouts, Urn};
use strake_state::{PendingKind, Write};
use strake_tests::events::Observed;
use strake_tests::fake::{Fault, Op, Thing, arn_of};
use strake_tests::harness::{Rig, STACK, actions, chain, provider_urn, s, test_options, urn};

#[tokio::test]
async fn a_failed_step_skips_its_dependents_keeps_the_rest_and_converges_on_reapply() {
    let rig = Rig::memory();
    let program = rig.program(|stack, _| {
        chain(stack, &["a", "b", "c"]);
        Thing::new(stack, "d");
    });
    rig.cloud.fail("b", Op::Create, Fault::access_denied("User is not authorized to perform: fake:CreateThing"));

    let err = rig.up(&program).await.unwrap_err();
    let Error::StepsFailed(errors) = &err else { panic!("expected failed steps, got {err:?}") };
    assert_eq!(errors.len(), 1, "reported once: {errors:?}");
    let e = &errors[0];
    assert_eq!(e.urn, urn("b"));
    assert_eq!(e.operation, "create");
    assert_eq!(e.code.as_deref(), Some("AccessDenied"));
    assert_eq!(e.message, "User is not authorized to perform: fake:CreateThing");
    let shown = err.to_string();
    assert!(shown.contains(urn("b").as_str()) && shown.contains("AccessDenied") && shown.contains("create"), "{shown}");

    let mut mutations = rig.cloud.mutations();
    mutations.sort();
    assert_eq!(mutations, vec![(Op::Create, s("a")), (Op::Create, s("b")), (Op::Create, s("d"))]);
    assert_eq!(rig.cloud.count(Op::Create, "c"), 0, "the dependent of the failure is not called");
    assert_eq!(rig.cloud.count(Op::Create, "b"), 1, "a permanent error is not retried");
    assert_eq!(rig.names_in_state(), vec![s("a"), s("d")]);
    assert!(rig.snapshot().pending.is_empty(), "a create that the provider refused leaves nothing pending");

    let finished: Vec<(String, Outcome)> = rig.observer.finished().into_iter().filter(|(_, outcome)| *outcome != Outcome::Succeeded).collect();
    assert_eq!(finished, vec![(s("b"), Outcome::Failed), (s("c"), Outcome::Skipped)]);

    rig.cloud.clear_faults();
    rig.cloud.clear_calls();
    let plan = rig.plan(&program).await.unwrap();
    assert_eq!(actions(&plan), vec![(s("a"), Action::NoOp), (s("b"), Action::Create), (s("c"), Action::Create), (s("d"), Action::NoOp)]);
    rig.up(&program).await.unwrap();
    assert_eq!(rig.cloud.mutations(), vec![(Op::Create, s("b")), (Op::Create, s("c"))]);
    assert_eq!(rig.names_in_state(), vec![s("a"), s("b"), s("c"), s("d")]);
    assert_eq!(rig.cloud.objects().len(), 4);
    assert!(!rig.plan(&program).await.unwrap().has_changes());
}

/// Crash after the provider created `b` but before its record was written: the write batch
/// recording it fails, so state holds exactly the pending create.
#[tokio::test]
async fn a_create_interrupted_after_the_cloud_acted_is_adopted_not_repeated() {
    let rig = Rig::local();
    let (failing, crashing) = rig.crashing();
    let program = rig.program(|stack, _| {
        let a = Thing::new(stack, "a");
        Thing::new(stack, "b").value(a.arn());
    });
    failing.fail_put_of(&urn("b"));
    let err = crashing.up(&program, &PlanOptions::default()).await.unwrap_err();
    assert!(failing.has_failed());
    assert!(matches!(&err, Error::StepsFailed(e) if e.len() == 1 && e[0].urn == urn("b")), "{err:?}");
    let b_cloud = rig.cloud.named("b");
    assert_eq!(b_cloud.len(), 1, "the cloud did create b");

    let snapshot = rig.snapshot();
    assert_eq!(rig.names_in_state(), vec![s("a")]);
    assert_eq!(snapshot.pending.len(), 1, "{:?}", snapshot.pending);
    assert_eq!(snapshot.pending[0].urn, urn("b").as_str());
    assert_eq!(snapshot.pending[0].kind, PendingKind::Create);
    assert_eq!(snapshot.pending[0].provider.as_deref(), Some(provider_urn("main").as_str()));

    // A new run, on the real store.
    let mut session = rig.engine.session(&program, "apply").unwrap();
    let plan = session.plan(&PlanOptions::default()).await.unwrap().plan;
    assert!(plan.notes.iter().any(|n| n.contains("interrupted") && n.contains("create") && n.contains(urn("b").as_str())), "{:?}", plan.notes);
    let notes = session.resolve_pending().await.unwrap();
    assert_eq!(notes.len(), 1);
    assert!(notes[0].contains("adopted") && notes[0].contains(&b_cloud[0].id), "{notes:?}");
    drop(session);

    let b = rig.record("b").expect("b adopted into state");
    assert_eq!(b.id, b_cloud[0].id);
    assert_eq!(b.dependencies, vec![urn("a").to_string()], "the adopted record keeps b's dependencies");
    assert_eq!(b.provider.as_deref(), Some(provider_urn("main").as_str()));
    assert!(rig.snapshot().pending.is_empty());

    let replan = rig.plan(&program).await.unwrap();
    assert!(!replan.has_changes(), "{}", strake::plan::render_human(&replan, false));
    rig.up(&program).await.unwrap();
    assert_eq!(rig.cloud.named("b").len(), 1, "no duplicate");
    assert_eq!(rig.cloud.count(Op::Create, "b"), 1);
    assert_eq!(rig.cloud.count(Op::Create, "a"), 1);

    // The adopted record orders deletes like any other: b (the dependent) first.
    rig.cloud.clear_calls();
    rig.engine.destroy(&program).await.unwrap();
    assert_eq!(rig.cloud.mutations(), vec![(Op::Delete, s("b")), (Op::Delete, s("a"))]);
    assert!(rig.cloud.objects().is_empty());
}

/// A `strake::Data` object lives only in state, so its steps write no pending record (one commit
/// each, where a cloud resource's step takes two), and its dependents do not wait for its record:
/// a cloud resource after it waits for its own pending record, which commits after the Data
/// record or with it. A crash before a Data record is written loses nothing, since nothing was
/// made anywhere: the next run creates it, with nothing pending.
#[tokio::test]
async fn state_only_objects_commit_once_and_a_crash_before_their_record_converges() {
    let rig = Rig::local();
    let (failing, crashing) = rig.crashing();
    let program = rig.program(|stack, _| {
        let thing = Thing::new(stack, "thing");
        let first = Data::new(stack, "first", thing.arn());
        let later = Thing::new(stack, "later").value(first.output());
        Data::new(stack, "second", later.arn());
    });
    let data = |name: &str| Urn::new(STACK, DATA_TYPE, name);
    failing.fail_put_of(&data("second"));
    let err = crashing.up(&program, &PlanOptions::default()).await.unwrap_err();
    assert!(failing.has_failed());
    assert!(matches!(&err, Error::StepsFailed(e) if e.len() == 1 && e[0].urn == data("second")), "{err:?}");

    let committed = failing.committed();
    let pending_of = |name: &str| {
        committed.iter().position(|b| b.iter().any(|w| matches!(w, Write::PutPending(p) if p.urn == urn(name).as_str()))).expect("a pending record")
    };
    let pending_urns: Vec<String> =
        committed.iter().flatten().filter_map(|w| if let Write::PutPending(p) = w { Some(p.urn.clone()) } else { None }).collect();
    assert_eq!(pending_urns, vec![urn("thing").to_string(), urn("later").to_string()], "only the cloud resources ran under pending records");
    let first_batches: Vec<usize> = (0..committed.len())
        .filter(|&i| committed[i].iter().any(|w| matches!(w, Write::PutResource(r) if r.urn == data("first").as_str())))
        .collect();
    assert_eq!(first_batches.len(), 1, "one commit records `first`");
    assert!(first_batches[0] <= pending_of("later"), "`later` acted only once the record of `first` was durable");
    assert!(rig.snapshot().pending.is_empty(), "{:?}", rig.snapshot().pending);
    assert_eq!(rig.names_in_state(), vec![s("first"), s("later"), s("thing")]);

    rig.up(&program).await.unwrap();
    assert_eq!(rig.names_in_state(), vec![s("first"), s("later"), s("second"), s("thing")]);
    let second = rig.snapshot().resources.into_iter().find(|r| r.urn == data("second").as_str()).expect("second recorded");
    assert_eq!(second.outputs.to_value(), serde_json::json!({ "output": arn_of(&rig.cloud.named("later")[0].id) }));
    assert!(rig.snapshot().pending.is_empty());
    assert!(!rig.plan(&program).await.unwrap().has_changes());
    assert_eq!((rig.cloud.count(Op::Create, "thing"), rig.cloud.count(Op::Create, "later")), (1, 1));
}

/// Nothing waits for the results of objects that live only in state, so they are not committed
/// on their own: they join the batch of the stack's outputs, and a stack of them takes one
/// commit. When that commit fails, nothing of it is recorded, the outputs included, and each
/// object's error says why; the next run converges.
#[tokio::test]
async fn state_only_results_and_the_outputs_share_one_commit_and_fail_together() {
    let rig = Rig::local();
    let (failing, crashing) = rig.crashing();
    let program = rig.program(|stack, _| {
        let first = Data::new(stack, "first", strake::Value::from("one"));
        let second = Data::new(stack, "second", first.output());
        Data::new(stack, "third", strake::Value::from("three"));
        stack.export("second", second.output());
    });
    let data = |name: &str| Urn::new(STACK, DATA_TYPE, name);
    failing.fail_put_of(&data("third"));
    let err = crashing.up(&program, &PlanOptions::default()).await.unwrap_err();
    let Error::StepsFailed(errors) = &err else { panic!("{err:?}") };
    let mut failed: Vec<&Urn> = errors.iter().map(|e| &e.urn).collect();
    failed.sort();
    assert_eq!(failed, vec![&data("first"), &data("second"), &data("third")], "every result in the failed commit says so");
    assert!(failing.committed().is_empty(), "{:?}", failing.committed());
    assert!(rig.store.load(STACK).unwrap().is_none_or(|s| s.resources.is_empty()), "nothing recorded, the outputs included");

    let report = crashing.up(&program, &PlanOptions::default()).await.unwrap();
    assert_eq!(report.outputs.get("second"), Some(&strake::Value::from("one")));
    let committed = failing.committed();
    assert_eq!(committed.len(), 1, "one commit for the three results and the outputs: {committed:?}");
    let recorded: Vec<&str> = committed[0].iter().filter_map(|w| if let Write::PutResource(r) = w { Some(r.urn.as_str()) } else { None }).collect();
    assert_eq!(recorded.len(), 4, "{recorded:?}");
    assert!(!rig.plan(&program).await.unwrap().has_changes());
}

/// The provider stored the object but its answer never came (a crash after create, seen as a
/// timeout): the pending create stays and the next `up` adopts the object.
#[tokio::test]
async fn a_create_that_never_answered_is_adopted_by_the_next_up() {
    let rig = Rig::memory();
    let program = rig.program(|stack, _| {
        Thing::new(stack, "a").timeouts(Timeouts { create: Some(Duration::from_millis(200)), ..Default::default() });
    });
    rig.cloud.crash_after_create("a");
    let err = rig.up(&program).await.unwrap_err();
    assert!(matches!(&err, Error::StepsFailed(e) if e[0].message.contains("timed out")), "{err:?}");
    assert_eq!(rig.snapshot().pending.len(), 1);
    assert_eq!(rig.names_in_state(), Vec::<String>::new());

    rig.cloud.clear_faults();
    let plan = rig.plan(&program).await.unwrap();
    assert!(plan.notes.iter().any(|n| n.contains("interrupted") && n.contains(urn("a").as_str())), "{:?}", plan.notes);
    rig.up(&program).await.unwrap();
    let objects = rig.cloud.named("a");
    assert_eq!(objects.len(), 1, "adopted, not created again");
    assert_eq!(rig.cloud.count(Op::Create, "a"), 1);
    assert_eq!(rig.record("a").unwrap().id, objects[0].id);
    assert!(rig.snapshot().pending.is_empty());
    assert!(!rig.plan(&program).await.unwrap().has_changes());
}

/// The crash came before the request reached the cloud: the pending create finds nothing, is
/// cleared, and the resource is created exactly once.
#[tokio::test]
async fn a_create_interrupted_before_the_cloud_acted_is_cleared_and_created_once() {
    let rig = Rig::memory();
    let program = rig.program(|stack, _| {
        Thing::new(stack, "a").timeouts(Timeouts { create: Some(Duration::from_millis(200)), ..Default::default() });
    });
    rig.cloud.fail("a", Op::Create, Fault::Hang);
    assert!(rig.up(&program).await.is_err());
    assert!(rig.cloud.objects().is_empty());
    let pending = rig.snapshot().pending;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].kind, PendingKind::Create);

    rig.cloud.clear_faults();
    rig.cloud.clear_calls();
    let mut session = rig.engine.session(&program, "apply").unwrap();
    let notes = session.resolve_pending().await.unwrap();
    assert!(notes.len() == 1 && notes[0].contains("cleared"), "{notes:?}");
    assert!(session.snapshot().unwrap().pending.is_empty());
    assert_eq!(rig.cloud.mutations(), vec![], "resolving only reads");
    let planned = session.plan(&PlanOptions::default()).await.unwrap();
    // The plan carries what the resolution found, and nothing is left interrupted.
    assert_eq!(planned.plan.notes, notes, "{:?}", planned.plan.notes);
    assert_eq!(actions(&planned.plan), vec![(s("a"), Action::Create)]);
    session.apply(&planned).await.unwrap();
    drop(session);
    assert_eq!(rig.cloud.mutations(), vec![(Op::Create, s("a"))]);
    assert_eq!(rig.cloud.objects().len(), 1);
    assert_eq!(rig.record("a").unwrap().id, rig.cloud.objects()[0].id);
}

#[tokio::test]
async fn throttled_calls_are_retried_and_observed() {
    let rig = Rig::memory();
    let program = rig.thing("a");
    rig.cloud.fail("a", Op::Create, Fault::throttled(2));
    rig.up(&program).await.unwrap();
    assert_eq!(rig.cloud.count(Op::Create, "a"), 3);
    assert_eq!(rig.cloud.objects().len(), 1);
    assert!(rig.record("a").is_some());
    let retries = rig.observer.retries();
    assert!(retries.iter().all(|r| r.3.contains("Throttling")), "{retries:?}");
    let retries: Vec<(String, String, u32)> =
        retries.into_iter().map(|(urn, operation, attempt, _)| (urn.name().to_string(), operation, attempt)).collect();
    assert_eq!(retries, vec![(s("a"), s("create"), 1), (s("a"), s("create"), 2)]);

    // Transient errors of an update are retried the same way.
    let program = rig.program(|stack, _| drop(Thing::new(stack, "a").value("two")));
    rig.cloud.fail("a", Op::Update, Fault::transient(1));
    rig.up(&program).await.unwrap();
    assert_eq!(rig.cloud.count(Op::Update, "a"), 2);
    assert_eq!(rig.cloud.named("a")[0].value(), strake::Value::from("two"));
}

#[tokio::test]
async fn retries_give_up_after_the_policy_limit() {
    let rig = Rig::memory();
    let program = rig.thing("a");
    rig.cloud.fail("a", Op::Create, Fault::throttled(100));
    let err = rig.up(&program).await.unwrap_err();
    let Error::StepsFailed(errors) = &err else { panic!("{err:?}") };
    assert_eq!(errors[0].code.as_deref(), Some("Throttling"));
    assert_eq!(rig.cloud.count(Op::Create, "a") as u32, test_options().retry.max_attempts);
    assert!(rig.cloud.objects().is_empty());
    assert!(rig.snapshot().pending.is_empty());
}

#[tokio::test]
async fn invalid_inputs_are_refused_at_plan_with_the_fix() {
    let rig = Rig::memory();
    for (bad, fix) in [("", "must not be empty"), ("my thing", "use dashes")] {
        let program = rig.program(move |stack, _| drop(Thing::new(stack, "a").name(bad)));
        let err = rig.plan(&program).await.unwrap_err();
        let Error::Diagnostics(diags) = &err else { panic!("{err:?}") };
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].field.as_deref(), Some("name"));
        assert!(diags[0].message.contains(fix), "{}", diags[0].message);
    }
    assert!(rig.cloud.calls().is_empty());
    assert!(rig.store.load(STACK).unwrap().is_none(), "nothing was recorded");
}

/// A replacement whose dependent fails to repoint keeps the old object (a dependent may still
/// use it); it stays recorded as a pending delete, which the next run finishes.
#[tokio::test]
async fn a_replacement_whose_dependent_fails_keeps_the_old_object_until_the_next_run() {
    let rig = Rig::memory();
    let old = rig.apply_pair("a-1").await;
    rig.cloud.fail("b", Op::Update, Fault::access_denied("no"));

    let err = rig.up(&rig.pair("a-2")).await.unwrap_err();
    assert!(matches!(&err, Error::StepsFailed(e) if e.len() == 1 && e[0].urn == urn("b") && e[0].operation == "update"), "{err:?}");
    assert_eq!(rig.cloud.mutations(), vec![(Op::Create, s("a")), (Op::Update, s("b"))], "the old object is not deleted");
    assert!(rig.cloud.object(&old).is_some());
    let new = rig.record("a").unwrap().id;
    assert_ne!(new, old);
    let pending = rig.snapshot().pending;
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!((pending[0].kind, pending[0].resource_id.as_deref()), (PendingKind::Delete, Some(old.as_str())));

    rig.cloud.clear_faults();
    rig.cloud.clear_calls();
    rig.up(&rig.pair("a-2")).await.unwrap();
    let mut mutations = rig.cloud.mutations();
    mutations.sort();
    assert_eq!(mutations, vec![(Op::Update, s("b")), (Op::Delete, s("a"))]);
    let delete = rig.cloud.calls().into_iter().find(|c| c.op == Op::Delete).unwrap();
    assert_eq!(delete.id.as_deref(), Some(old.as_str()));
    assert!(rig.cloud.object(&old).is_none() && rig.cloud.object(&new).is_some());
    assert!(rig.snapshot().pending.is_empty());
    assert!(!rig.plan(&rig.pair("a-2")).await.unwrap().has_changes());
}

#[tokio::test]
async fn a_failed_delete_keeps_what_its_dependencies_still_serve() {
    let rig = Rig::memory();
    let chain = rig.program(|stack, _| drop(chain(stack, &["a", "b", "c"])));
    rig.apply_then_forget_calls(&chain).await;
    rig.cloud.fail("b", Op::Delete, Fault::access_denied("no"));

    let emptied = rig.program(|_, _| {});
    let err = rig.up(&emptied).await.unwrap_err();
    assert!(matches!(&err, Error::StepsFailed(e) if e.len() == 1 && e[0].urn == urn("b") && e[0].operation == "delete"), "{err:?}");
    assert_eq!(rig.cloud.mutations(), vec![(Op::Delete, s("c")), (Op::Delete, s("b"))], "a is not deleted under b");
    assert_eq!(rig.names_in_state(), vec![s("a"), s("b")]);
    assert!(rig.snapshot().pending.is_empty());

    rig.cloud.clear_faults();
    rig.cloud.clear_calls();
    rig.up(&emptied).await.unwrap();
    assert_eq!(rig.cloud.mutations(), vec![(Op::Delete, s("b")), (Op::Delete, s("a"))]);
    assert!(rig.cloud.objects().is_empty());
    assert_eq!(rig.names_in_state(), Vec::<String>::new());
}
