//! Lock checks of the conformance suite.

use super::ok;
use crate::{LockInfo, StateError, StateStore};

/// A second `lock` fails with `Locked` naming the first holder; unlock makes it free again.
pub fn lock_is_exclusive(store: &dyn StateStore) {
    let first = LockInfo::for_current_process("apply");
    let second = LockInfo::for_current_process("destroy");
    assert_eq!(ok("holder", store.lock_holder("dev").map(|h| h.map(without_lease))), None, "conformance: a new stack is unlocked");
    ok("lock", store.lock("dev", &first));
    assert_eq!(
        ok("holder", store.lock_holder("dev").map(|h| h.map(without_lease))),
        Some(first.clone()),
        "conformance: lock_holder names the holder"
    );
    match store.lock("dev", &second) {
        Err(StateError::Locked { stack, holder }) => {
            assert_eq!((stack.as_str(), &without_lease(*holder)), ("dev", &first), "conformance: Locked must carry the holder")
        }
        other => panic!("conformance: a second lock must fail with Locked, got {other:?}"),
    }
    assert!(matches!(store.lock("dev", &first), Err(StateError::Locked { .. })), "conformance: locking is not reentrant");
    ok("unlock", store.unlock("dev", &first.id));
    assert_eq!(ok("holder", store.lock_holder("dev").map(|h| h.map(without_lease))), None, "conformance: unlocked stack has no holder");
    ok("relock", store.lock("dev", &second));
    assert_eq!(ok("holder", store.lock_holder("dev").map(|h| h.map(without_lease))), Some(second.clone()), "conformance: holder after relock");
    ok("unlock", store.unlock("dev", &second.id));
}

/// `unlock` needs the holder's id and a held lock.
pub fn unlock_checks_lock_id(store: &dyn StateStore) {
    let info = LockInfo::for_current_process("apply");
    assert!(matches!(store.unlock("dev", &info.id), Err(StateError::NotLocked { .. })), "conformance: unlock of an unlocked stack must be NotLocked");
    ok("lock", store.lock("dev", &info));
    match store.unlock("dev", "wrong-id") {
        Err(StateError::LockMismatch { expected, holder, .. }) => {
            assert_eq!((expected.as_str(), &without_lease(*holder)), ("wrong-id", &info), "conformance: LockMismatch details")
        }
        other => panic!("conformance: unlock with a wrong id must be LockMismatch, got {other:?}"),
    }
    assert_eq!(ok("holder", store.lock_holder("dev").map(|h| h.map(without_lease))), Some(info), "conformance: a failed unlock keeps the lock");
}

/// `force_unlock` breaks a lock given its id, and only then.
pub fn force_unlock_breaks_lock(store: &dyn StateStore) {
    let info = LockInfo::for_current_process("apply");
    assert!(
        matches!(store.force_unlock("dev", &info.id), Err(StateError::NotLocked { .. })),
        "conformance: force_unlock of an unlocked stack must be NotLocked"
    );
    ok("lock", store.lock("dev", &info));
    assert!(
        matches!(store.force_unlock("dev", "wrong-id"), Err(StateError::LockMismatch { .. })),
        "conformance: force_unlock with a wrong id must be LockMismatch"
    );
    ok("force_unlock", store.force_unlock("dev", &info.id));
    assert_eq!(ok("holder", store.lock_holder("dev").map(|h| h.map(without_lease))), None, "conformance: force_unlock must free the stack");
    ok("lock after force_unlock", store.lock("dev", &LockInfo::for_current_process("apply")));
}

/// Threads racing for one stack's lock: exactly one wins, the others see it as holder.
pub fn lock_race_has_one_winner(store: &dyn StateStore) {
    let infos: Vec<LockInfo> = (0..8).map(|_| LockInfo::for_current_process("apply")).collect();
    let results: Vec<Result<Option<LockInfo>, StateError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = infos.iter().map(|info| scope.spawn(move || store.lock("dev", info))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| panic!("conformance: lock thread panicked"))).collect()
    });
    let winners: Vec<&LockInfo> = infos.iter().zip(&results).filter(|(_, r)| r.is_ok()).map(|(i, _)| i).collect();
    assert_eq!(winners.len(), 1, "conformance: exactly one of 8 racing locks must win, results {results:?}");
    for result in &results {
        match result {
            Ok(_) => {}
            Err(StateError::Locked { holder, .. }) => {
                assert_eq!(&without_lease((**holder).clone()), winners[0], "conformance: losers must see the winner as holder")
            }
            Err(e) => panic!("conformance: a losing lock must be Locked, got {e:?}"),
        }
    }
}

/// A holder as the program gave it: a lease backend adds the time left when it reads a lock.
fn without_lease(holder: LockInfo) -> LockInfo {
    LockInfo { lease_left: None, ..holder }
}
