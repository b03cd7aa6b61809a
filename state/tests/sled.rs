//! [`SledStore`]: the conformance suite, then what only a store on disk can show: a holder killed
//! mid-run, two stores on one directory, private files, and records it must refuse.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use strake_state::conformance::{self, sample_pending, sample_resource};
use strake_state::{
    FORMAT_VERSION, LockInfo, MemoryStore, SledStore, StackMeta, StateError, StateStore, Write, holder_is_alive,
};

/// Set in the child process of [`killed_holder_leaves_state_and_a_stale_lock`] to its store directory.
const CHILD_ENV: &str = "STRAKE_STATE_CHILD";
const SIGABRT: i32 = 6;

#[test]
fn sled_store_passes_conformance() {
    let root = tempfile::tempdir().unwrap();
    let count = AtomicUsize::new(0);
    conformance::run_all(&|| {
        let dir = root.path().join(format!("store-{}", count.fetch_add(1, Ordering::Relaxed)));
        Box::new(SledStore::new(dir).unwrap()) as Box<dyn StateStore>
    });
}

/// What the child writes before it dies: resources over several batches, one still pending.
fn child_batches() -> Vec<Vec<Write>> {
    let mut batches: Vec<Vec<Write>> =
        (0..4).map(|n| vec![Write::PutResource(sample_resource("dev", &format!("r{n}"), n))]).collect();
    batches.push(vec![Write::DeleteResource { urn: sample_resource("dev", "r0", 0).urn }]);
    batches.push(vec![Write::PutPending(sample_pending("op-in-flight", &sample_resource("dev", "r9", 9).urn))]);
    batches
}

/// The child: lock, write, and die without unlocking.
fn run_child(dir: &Path) -> ! {
    let store = SledStore::new(dir).unwrap();
    store.lock("dev", &LockInfo::for_current_process("apply")).unwrap();
    for batch in child_batches() {
        store.write("dev", batch).unwrap();
    }
    std::process::abort();
}

#[test]
fn killed_holder_leaves_state_and_a_stale_lock() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        run_child(Path::new(&dir));
    }
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "killed_holder_leaves_state_and_a_stale_lock", "--nocapture"])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.signal(),
        Some(SIGABRT),
        "the child must abort after writing; status {:?}, stdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    // The state is exactly what the child wrote, as the same batches give in memory.
    let reference = MemoryStore::new();
    for batch in child_batches() {
        reference.write("dev", batch).unwrap();
    }
    let want = reference.load("dev").unwrap().unwrap();
    let store = SledStore::new(dir.path()).unwrap();
    let got = store.load("dev").unwrap().expect("the child's state must survive it");
    assert_eq!(got.resources, want.resources);
    assert_eq!(got.pending, want.pending);
    assert_eq!(got.pending.len(), 1);
    assert_eq!(got.meta.serial, 5);

    // The lock is still there, names the dead child, and says how to break it.
    let err = store.lock("dev", &LockInfo::for_current_process("apply")).unwrap_err();
    let StateError::Locked { ref holder, .. } = err else { panic!("expected Locked, got {err:?}") };
    assert_eq!(holder.pid, pid);
    assert_eq!(holder.operation, "apply");
    assert!(!holder_is_alive(holder), "the child was reaped, so its lock is stale");
    let message = err.to_string();
    assert!(message.contains("force-unlock"), "{message}");
    assert!(message.contains(&holder.id), "{message}");
    assert!(message.contains("no longer running"), "{message}");

    store.force_unlock("dev", &holder.id).unwrap();
    let info = LockInfo::for_current_process("apply");
    store.lock("dev", &info).unwrap();
    let meta = store.write("dev", vec![Write::ClearPending { id: "op-in-flight".into() }]).unwrap();
    assert_eq!(meta.lineage, got.meta.lineage);
    store.unlock("dev", &info.id).unwrap();
}

#[test]
fn second_store_on_the_same_dir_sees_the_first_holder() {
    let dir = tempfile::tempdir().unwrap();
    let first = SledStore::new(dir.path()).unwrap();
    let second = SledStore::new(dir.path()).unwrap();
    let (info1, info2) = (LockInfo::for_current_process("apply"), LockInfo::for_current_process("destroy"));

    first.lock("dev", &info1).unwrap();
    first.write("dev", vec![Write::PutResource(sample_resource("dev", "a", 1))]).unwrap();
    match second.lock("dev", &info2) {
        Err(StateError::Locked { stack, holder }) => assert_eq!((stack.as_str(), *holder), ("dev", info1.clone())),
        other => panic!("expected Locked, got {other:?}"),
    }
    assert_eq!(second.lock_holder("dev").unwrap(), Some(info1.clone()));

    // While the first store has the database open, the second cannot, and says why.
    let err = second.load("dev").unwrap_err();
    assert!(err.to_string().contains("in use by another process"), "{err}");

    // Unlocking closes the database, so the second store can take over.
    first.unlock("dev", &info1.id).unwrap();
    second.lock("dev", &info2).unwrap();
    let snapshot = second.load("dev").unwrap().unwrap();
    assert_eq!(snapshot.resources, vec![sample_resource("dev", "a", 1)]);
    second.unlock("dev", &info2.id).unwrap();
    assert!(first.load("dev").unwrap().is_some(), "the first store can open the database again");
}

fn assert_private(dir: &Path) {
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(dir), 0o700, "{}", dir.display());
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            assert_private(&path);
        } else {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
}

#[test]
fn files_are_private() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("program").join(".strake");
    let store = SledStore::new(&dir).unwrap();
    assert_eq!(store.dir(), dir);
    let info = LockInfo::for_current_process("apply");
    store.lock("dev", &info).unwrap();
    store.write("dev", vec![Write::PutResource(sample_resource("dev", "a", 1))]).unwrap();
    assert!(dir.join("dev.lock").is_file());
    assert_private(&dir);
    store.unlock("dev", &info.id).unwrap();
    assert_private(&dir);
}

/// Plants `value` under `key` in the stack's tree, the way a newer or broken Strake might have.
fn plant(dir: &Path, stack: &str, key: &str, value: &[u8]) {
    let db = sled::open(dir.join("db")).unwrap();
    db.open_tree(format!("stack/{stack}")).unwrap().insert(key, value).unwrap();
    db.flush().unwrap();
}

#[test]
fn newer_or_corrupt_records_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let newer = StackMeta { format_version: FORMAT_VERSION + 1, ..StackMeta::new("dev") };
    plant(dir.path(), "dev", "meta", &serde_json::to_vec(&newer).unwrap());
    plant(dir.path(), "bad", "meta", b"{not json");
    let store = SledStore::new(dir.path()).unwrap();

    for result in [store.load("dev").map(drop), store.write("dev", vec![]).map(drop)] {
        match result {
            Err(StateError::UnsupportedVersion { stack, found, supported }) => {
                assert_eq!((stack.as_str(), found, supported), ("dev", FORMAT_VERSION + 1, FORMAT_VERSION))
            }
            other => panic!("expected UnsupportedVersion, got {other:?}"),
        }
    }
    match store.load("bad") {
        Err(StateError::Corrupt { key, .. }) => assert_eq!(key, "bad/meta"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    drop(store);

    std::fs::write(dir.path().join("dev.lock"), b"").unwrap();
    let store = SledStore::new(dir.path()).unwrap();
    assert!(matches!(store.lock_holder("dev"), Err(StateError::Corrupt { .. })));
}
