//! Lifecycle spec, where a real cloud differs from a calm one: replacements whose old objects
//! are still referenced (the fake cloud refuses to delete a parent, as IAM refuses a role with an
//! attached policy), answers lost after the cloud acted, reads failing at the worst moment,
//! interrupted operations resolved in dependency order, and types whose objects cannot be found.

use std::time::Duration;

use strake::{Action, EngineOptions, Error, ReplaceOrder};
use strake_state::PendingKind;
use strake_tests::events::Observed;
use strake_tests::fake::{Fault, Op, Thing};
use strake_tests::harness::{Rig, STACK, actions, s, test_options, urn};

/// A parent and a child attached to it (by the parent's arn), with the parent's name, and
/// whether the parent's replacements delete first.
fn family(rig: &Rig, parent_name: &str, unique: bool) -> strake::Program {
    let parent_name = parent_name.to_string();
    rig.program(move |stack, _| {
        let parent = Thing::new(stack, "parent").name(strake::Value::from(parent_name.as_str())).unique(unique);
        Thing::new(stack, "child").parent(parent.arn());
    })
}

/// The names of the objects in the cloud, sorted (duplicates show twice).
fn cloud_names(rig: &Rig) -> Vec<String> {
    let mut names: Vec<String> = rig.cloud.objects().iter().filter_map(|o| o.name().map(str::to_string)).collect();
    names.sort();
    names
}

/// Applies the family with parent `p1`, then plans the rename to `p2`: the child and the parent
/// are replaced in `order`. The rig (its calls cleared), the renamed program and the plan.
async fn renamed_family(order: ReplaceOrder) -> (Rig, strake::Program, strake::Plan) {
    let rig = Rig::local();
    let unique = order == ReplaceOrder::DeleteThenCreate;
    rig.apply_then_forget_calls(&family(&rig, "p1", unique)).await;
    let renamed = family(&rig, "p2", unique);
    let plan = rig.plan(&renamed).await.unwrap();
    let replace = Action::Replace(order);
    assert_eq!(actions(&plan), vec![(s("child"), replace), (s("parent"), replace)]);
    (rig, renamed, plan)
}

#[tokio::test]
async fn renaming_a_parent_deletes_the_old_child_before_the_old_parent_in_one_apply() {
    let (rig, renamed, _) = renamed_family(ReplaceOrder::CreateThenDelete).await;
    rig.up(&renamed).await.expect("one apply converges: no DeleteConflict");

    let deletes: Vec<String> = rig.cloud.calls().into_iter().filter(|c| c.op == Op::Delete).map(|c| c.name).collect();
    assert_eq!(deletes, vec![s("child"), s("parent")], "the old child lets go of the old parent first");
    assert_eq!(cloud_names(&rig), vec![s("child"), s("p2")]);
    assert!(rig.snapshot().pending.is_empty());
    assert!(!rig.plan(&renamed).await.unwrap().has_changes());
}

#[tokio::test]
async fn a_delete_first_replacement_replaces_its_children_first() {
    let (rig, renamed, plan) = renamed_family(ReplaceOrder::DeleteThenCreate).await;
    let child = plan.steps.iter().find(|s| s.urn == urn("child")).unwrap();
    assert!(child.reason.as_deref().unwrap_or("").contains("replaced delete-first"), "{:?}", child.reason);
    rig.up(&renamed).await.expect("one apply converges: no DeleteConflict");

    let mutations = rig.cloud.mutations();
    assert_eq!(mutations, vec![(Op::Delete, s("child")), (Op::Delete, s("parent")), (Op::Create, s("parent")), (Op::Create, s("child"))]);
    assert_eq!(cloud_names(&rig), vec![s("child"), s("p2")]);
    assert!(!rig.plan(&renamed).await.unwrap().has_changes());
}

/// A run dies half-way through a rename: the old child's delete never answers (a time-out here)
/// and the old parent's delete, which waits for it, never starts. Both stay recorded as pending
/// deletes. The next run finishes them child first, whatever order their ids sort in, with
/// retries for a throttled read.
#[tokio::test]
async fn interrupted_replacement_deletes_resolve_children_first_with_retries() {
    let rig = Rig::local().with_options(EngineOptions { default_timeout: Duration::from_millis(300), ..test_options() });
    rig.up(&family(&rig, "p1", false)).await.unwrap();
    let old_ids: Vec<String> = rig.cloud.objects().iter().map(|o| o.id.clone()).collect();
    rig.cloud.fail("child", Op::Delete, Fault::Hang);

    let renamed = family(&rig, "p2", false);
    let err = rig.up(&renamed).await.unwrap_err();
    assert!(err.to_string().contains("timed out"), "{err}");
    let pending = rig.snapshot().pending;
    assert_eq!(pending.iter().map(|p| (p.urn.clone(), p.kind)).collect::<Vec<_>>().len(), 2, "{pending:?}");
    assert!(pending.iter().all(|p| p.kind == PendingKind::Delete), "{pending:?}");

    // Make the parent's pending delete sort first, as random ids may.
    let mut snapshot = rig.snapshot();
    for op in &mut snapshot.pending {
        op.id = if op.urn == urn("parent").as_str() { s("0-parent") } else { s("1-child") };
    }
    snapshot.pending.sort_by(|a, b| a.id.cmp(&b.id));
    rig.store.import(snapshot).unwrap();

    // Resolving them obeys the same time limit as an apply's calls: the hanging delete gives
    // up, stays recorded, and the parent's delete waits for it.
    let err = rig.up(&renamed).await.unwrap_err();
    assert!(err.to_string().contains("timed out"), "{err}");
    assert_eq!(rig.snapshot().pending.len(), 2, "both deletes stay recorded");

    rig.cloud.clear_faults();
    rig.cloud.fail("child", Op::Read, Fault::throttled(1));
    rig.cloud.clear_calls();
    rig.up(&renamed).await.expect("the next run resolves both and converges");
    let deletes: Vec<String> = rig.cloud.calls().into_iter().filter(|c| c.op == Op::Delete).map(|c| c.name).collect();
    assert_eq!(deletes, vec![s("child"), s("parent")]);
    assert!(old_ids.iter().all(|id| rig.cloud.object(id).is_none()), "both old objects are gone");
    assert_eq!(cloud_names(&rig), vec![s("child"), s("p2")]);
    assert!(rig.snapshot().pending.is_empty());
    let notes = rig.observer.notes();
    assert!(notes.iter().filter(|n| n.contains("deleted the old object")).count() == 2, "{notes:?}");
}

/// An old object that cannot be deleted yet (something outside Strake still refers to it) stays
/// recorded and its delete is reported as failed, but the stack moves on: the other changes are
/// applied. Once the reference is gone, the next run deletes it.
#[tokio::test]
async fn a_pending_delete_that_keeps_failing_does_not_stop_the_stack() {
    let rig = Rig::local().with_options(EngineOptions { default_timeout: Duration::from_millis(300), ..test_options() });
    rig.up(&family(&rig, "p1", false)).await.unwrap();
    let old_parent = rig.record("parent").unwrap();
    rig.cloud.fail("child", Op::Delete, Fault::Hang);
    let renamed = family(&rig, "p2", false);
    rig.up(&renamed).await.unwrap_err();
    rig.cloud.clear_faults();
    let outsider = rig.cloud.insert_object(strake::value!({ "name": "outsider", "parent": (strake_tests::fake::arn_of(&old_parent.id)) }));

    let more = rig.program(|stack, _| {
        let parent = Thing::new(stack, "parent").name(strake::Value::from("p2"));
        Thing::new(stack, "child").parent(parent.arn());
        Thing::new(stack, "extra");
    });
    let err = rig.up(&more).await.unwrap_err();
    let Error::StepsFailed(errors) = &err else { panic!("{err:?}") };
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!((errors[0].urn.clone(), errors[0].code.as_deref()), (urn("parent"), Some("DeleteConflict")), "{err}");
    assert!(rig.names_in_state().contains(&s("extra")), "the rest was applied");
    let pending = rig.snapshot().pending;
    assert_eq!(pending.len(), 1, "the old parent's delete stays recorded: {pending:?}");
    assert_eq!(pending[0].resource_id.as_deref(), Some(old_parent.id.as_str()));

    rig.cloud.remove_object(&outsider.id);
    rig.up(&more).await.unwrap();
    assert!(rig.snapshot().pending.is_empty());
    assert!(rig.cloud.object(&old_parent.id).is_none());
}

/// The create acted, its answer was lost, and the read-back fails too (an outage): nothing can
/// be concluded, so the pending create stays, and nothing is planned until it is resolved. When
/// reads work again, the object is adopted: never orphaned, never made twice.
#[tokio::test]
async fn a_lost_create_answer_with_failing_reads_stays_pending_then_is_adopted() {
    let rig = Rig::local();
    let program = rig.thing("a");
    rig.cloud.fail("a", Op::Create, Fault::answer_lost(1));
    rig.cloud.fail("a", Op::Read, Fault::outage());
    let err = rig.up(&program).await.unwrap_err();
    let Error::StepsFailed(errors) = &err else { panic!("{err:?}") };
    assert!(errors[0].message.contains("may have succeeded") && errors[0].message.contains("next run looks it up"), "{err}");
    assert_eq!(rig.cloud.named("a").len(), 1, "the create acted");
    assert_eq!(rig.snapshot().pending.len(), 1, "its pending record stays");
    assert!(rig.record("a").is_none());

    // Still failing reads: the next run refuses to plan rather than create `a` a second time.
    rig.cloud.clear_calls();
    let err = rig.up(&program).await.unwrap_err();
    assert!(matches!(err, Error::UnresolvedCreates(_)), "{err:?}");
    assert!(err.to_string().contains("a second time"), "{err}");
    assert!(rig.cloud.mutations().is_empty(), "nothing mutated while unresolved");

    rig.cloud.clear_faults();
    rig.up(&program).await.unwrap();
    assert_eq!(rig.cloud.named("a").len(), 1, "adopted, not made twice");
    assert_eq!(rig.cloud.count(Op::Create, "a"), 0);
    assert!(rig.snapshot().pending.is_empty());
    assert!(!rig.plan(&program).await.unwrap().has_changes());
}

#[tokio::test]
async fn a_lost_create_answer_is_read_back_and_adopted_at_once() {
    let rig = Rig::memory();
    let program = rig.thing("a");
    rig.cloud.fail("a", Op::Create, Fault::answer_lost(1));
    rig.up(&program).await.unwrap();
    assert_eq!(rig.cloud.count(Op::Create, "a"), 1, "not created again");
    assert_eq!(rig.cloud.named("a").len(), 1);
    assert_eq!(rig.record("a").unwrap().id, rig.cloud.named("a")[0].id);
    assert!(rig.observer.notes().iter().any(|n| n.contains("answer was lost; adopted")), "{:?}", rig.observer.notes());
}

/// A type whose objects get cloud-assigned ids cannot be looked up: an interrupted create stays
/// pending, with what to do, until the user imports the object or drops the record.
/// A Thing `a` of a type that cannot be found from its inputs, whose create made the object but
/// lost its answer. The rig, the program and the failed apply's error.
async fn interrupted_unfindable_create() -> (Rig, strake::Program, Error) {
    let rig = Rig::local();
    rig.cloud.make_unfindable();
    let program = rig.thing("a");
    rig.cloud.fail("a", Op::Create, Fault::answer_lost(1));
    let err = rig.up(&program).await.unwrap_err();
    (rig, program, err)
}

#[tokio::test]
async fn an_unfindable_type_keeps_its_interrupted_create_until_the_user_settles_it() {
    let (rig, program, err) = interrupted_unfindable_create().await;
    assert!(err.to_string().contains("cannot be found from their inputs"), "{err}");
    assert_eq!(rig.snapshot().pending.len(), 1);

    rig.cloud.clear_calls();
    let err = rig.up(&program).await.unwrap_err();
    let shown = err.to_string();
    assert!(matches!(err, Error::UnresolvedCreates(_)), "{err:?}");
    assert!(shown.contains(&format!("import {}", urn("a"))) && shown.contains("state pending rm"), "{shown}");
    assert!(rig.cloud.calls().is_empty(), "not even read: it cannot be found");

    let made = rig.cloud.named("a")[0].id.clone();
    let mut session = rig.engine.session(&program, "import").unwrap();
    session.import(&urn("a"), &made).await.unwrap();
    drop(session);
    assert!(rig.snapshot().pending.is_empty(), "the import settles the interrupted create");
    assert!(!rig.plan(&program).await.unwrap().has_changes());
    assert_eq!(rig.cloud.named("a").len(), 1);
}

#[tokio::test]
async fn dropping_a_pending_record_is_the_other_way_to_settle_it() {
    let (rig, program, _) = interrupted_unfindable_create().await;
    let made = rig.cloud.named("a")[0].id.clone();
    rig.cloud.remove_object(&made); // the user deleted it by hand
    let id = rig.snapshot().pending[0].id.clone();
    rig.engine.session(&program, "state").unwrap().drop_pending(&id).unwrap();
    rig.up(&program).await.unwrap();
    assert_eq!(rig.cloud.named("a").len(), 1);
}

/// Refresh reads need only recorded ids, so a chain refreshes at full parallelism, not one
/// link at a time.
#[tokio::test]
async fn refresh_reads_do_not_wait_for_dependencies() {
    let rig = Rig::memory();
    let program = rig.program(|stack, _| {
        let mut previous = Thing::new(stack, "t0");
        for i in 1..10 {
            previous = Thing::new(stack, &format!("t{i}")).value(previous.arn());
        }
    });
    rig.up(&program).await.unwrap();
    rig.cloud.set_latency(Duration::from_millis(50));
    rig.cloud.clear_calls();
    assert!(!rig.plan(&program).await.unwrap().has_changes());
    assert_eq!(rig.cloud.calls().iter().filter(|c| c.op == Op::Read).count(), 10);
    assert_eq!(rig.cloud.max_in_flight(), 10, "all ten reads ran at once");
}

#[tokio::test]
async fn the_stale_lock_of_a_dead_run_is_broken_and_the_plan_says_so() {
    let rig = Rig::local();
    let program = rig.thing("a");
    // A lock file naming a run that is gone, and no OS lock: what a killed run leaves.
    let dead = strake_state::LockInfo { pid: 999_999, ..strake_state::LockInfo::for_current_process("apply") };
    let dir = tempfile::tempdir().unwrap();
    let store = strake_state::LocalStore::new(dir.path()).unwrap();
    std::fs::write(dir.path().join(format!("{STACK}.lock")), serde_json::to_vec(&dead).unwrap()).unwrap();
    let engine = strake::Engine::new(std::sync::Arc::new(store)).with_options(test_options());
    let plan = engine.plan(&program, &strake::PlanOptions::default()).await.unwrap();
    assert!(plan.notes[0].contains("broke the lock of `apply`") && plan.notes[0].contains("pid 999999"), "{:?}", plan.notes);
    drop(rig);
}
