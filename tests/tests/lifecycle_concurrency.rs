//! Lifecycle spec, running together: stack locks (live and stale holders) and bounded parallelism.

use std::time::Duration;

use strake::{EngineOptions, Error};
use strake_state::{LockInfo, StateError};
use strake_tests::fake::Op;
use strake_tests::harness::{Rig, STACK, test_options};

#[tokio::test]
async fn a_second_session_on_a_locked_stack_is_refused_naming_the_holder() {
    for rig in [Rig::memory(), Rig::local()] {
        let program = rig.thing("a");
        let held = rig.engine.session(&program, "apply").unwrap();

        let err = match rig.engine.session(&program, "apply") {
            Ok(_) => panic!("a second session opened while the first holds the lock"),
            Err(e) => e,
        };
        let Error::State(StateError::Locked { stack, holder }) = &err else { panic!("expected Locked, got {err:?}") };
        assert_eq!(stack, STACK);
        assert_eq!(holder.pid, std::process::id());
        assert_eq!(holder.operation, "apply");
        let msg = err.to_string();
        assert!(msg.contains(&format!("pid {}", std::process::id())) && msg.contains(&holder.id), "{msg}");
        assert!(matches!(rig.up(&program).await, Err(Error::State(StateError::Locked { .. }))));
        assert!(rig.cloud.calls().is_empty(), "a refused run calls nothing");

        drop(held);
        rig.up(&program).await.expect("the lock is released when the session drops");
        assert_eq!(rig.cloud.mutations(), vec![(Op::Create, "a".to_string())]);
    }
}

#[tokio::test]
async fn a_lock_left_by_a_dead_process_says_how_to_break_it() {
    for rig in [Rig::memory(), Rig::local()] {
        let program = rig.thing("a");
        let mut child = std::process::Command::new("true").spawn().expect("spawning `true`");
        child.wait().expect("waiting for `true`");
        let stale = LockInfo { pid: child.id(), ..LockInfo::for_current_process("apply") };
        rig.store.lock(STACK, &stale).unwrap();

        let err = match rig.engine.session(&program, "apply") {
            Ok(_) => panic!("a session opened over a held lock"),
            Err(e) => e,
        };
        assert!(matches!(&err, Error::State(StateError::Locked { holder, .. }) if **holder == stale), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("no longer running"), "{msg}");
        assert!(msg.contains(&format!("force-unlock {}", stale.id)), "{msg}");
        assert!(msg.contains(&format!("pid {}", stale.pid)), "{msg}");

        rig.store.force_unlock(STACK, &stale.id).unwrap();
        let session = rig.engine.session(&program, "apply").expect("the broken lock no longer blocks");
        drop(session);
        assert!(rig.store.lock_holder(STACK).unwrap().is_none(), "the session released its own lock");
    }
}

/// On tokio's paused clock, so the overlap is exact: the clock moves only when every call waits.
#[tokio::test(start_paused = true)]
async fn independent_steps_run_in_parallel_up_to_the_limit() {
    let rig = Rig::memory().with_options(EngineOptions { parallelism: 5, ..test_options() });
    let program = rig.things(10);
    rig.cloud.set_latency(Duration::from_millis(50));
    let started = tokio::time::Instant::now();
    rig.up(&program).await.unwrap();
    let elapsed = started.elapsed();

    assert_eq!(rig.cloud.objects().len(), 10);
    assert_eq!(rig.names_in_state().len(), 10);
    assert_eq!(rig.cloud.max_in_flight(), 5, "independent creates overlap, `parallelism` at a time");
    // Two rounds of 50 ms. The paused clock also jumps while every task waits on the state
    // writer, a thread outside the runtime, so a loaded machine can add a round: the bound is
    // what one at a time could never meet (500 ms), not the exact two rounds.
    assert!(elapsed >= Duration::from_millis(100) && elapsed < Duration::from_millis(250), "10 calls of 50 ms, 5 at a time, took {elapsed:?}");
}

#[tokio::test(start_paused = true)]
async fn refresh_reads_are_bounded_by_parallelism_too() {
    let rig = Rig::memory().with_options(EngineOptions { parallelism: 3, ..test_options() });
    let program = rig.things(8);
    rig.up(&program).await.unwrap();
    rig.cloud.set_latency(Duration::from_millis(30));
    rig.cloud.clear_calls();
    assert!(!rig.plan(&program).await.unwrap().has_changes());
    assert_eq!(rig.cloud.calls().iter().filter(|c| c.op == Op::Read).count(), 8);
    let max = rig.cloud.max_in_flight();
    assert_eq!(max, 3, "reads overlap, `parallelism` at a time");
}
