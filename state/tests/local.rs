//! [`LocalStore`]: the conformance suite, then what only a store on disk can show: a holder
//! killed mid-run, two stores on one directory, private files, durability (one sync per commit),
//! damaged state refused and restored, and migration from the earlier sled database.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use strake_state::conformance::{self, sample_pending, sample_resource};
use strake_state::{LocalStore, LockInfo, MemoryStore, Snapshot, StateError, StateStore, Write};

/// Set in the child process of [`killed_holder_leaves_state_and_its_lock_is_broken`] to its store directory.
const CHILD_ENV: &str = "STRAKE_STATE_CHILD";
const SIGABRT: i32 = 6;

#[test]
fn local_store_passes_conformance() {
    let root = tempfile::tempdir().unwrap();
    let count = AtomicUsize::new(0);
    conformance::run_all(&|| {
        let dir = root.path().join(format!("store-{}", count.fetch_add(1, Ordering::Relaxed)));
        Box::new(LocalStore::new(dir).unwrap()) as Box<dyn StateStore>
    });
}

/// What the child writes before it dies: resources over several batches, one still pending.
fn child_batches() -> Vec<Vec<Write>> {
    let mut batches: Vec<Vec<Write>> = (0..4).map(|n| vec![Write::PutResource(sample_resource("dev", &format!("r{n}"), n))]).collect();
    batches.push(vec![Write::DeleteResource { urn: sample_resource("dev", "r0", 0).urn }]);
    batches.push(vec![Write::PutPending(sample_pending("op-in-flight", &sample_resource("dev", "r9", 9).urn))]);
    batches
}

/// The child: lock, write, and die without unlocking.
fn run_child(dir: &Path) -> ! {
    let store = LocalStore::new(dir).unwrap();
    store.lock("dev", &LockInfo::for_current_process("apply")).unwrap();
    for batch in child_batches() {
        store.write("dev", batch).unwrap();
    }
    std::process::abort();
}

#[test]
fn killed_holder_leaves_state_and_its_lock_is_broken() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        run_child(Path::new(&dir));
    }
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "killed_holder_leaves_state_and_its_lock_is_broken", "--nocapture"])
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
    let store = LocalStore::new(dir.path()).unwrap();
    let got = store.load("dev").unwrap().expect("the child's state must survive it");
    assert_eq!(got.resources, want.resources);
    assert_eq!(got.pending, want.pending);
    assert_eq!(got.pending.len(), 1);
    assert_eq!(got.meta.serial, 5);

    // Nobody holds the lock any more (the OS dropped the dead child's): the next run takes it,
    // and learns whose lock it broke.
    assert_eq!(store.lock_holder("dev").unwrap(), None);
    let info = LockInfo::for_current_process("apply");
    let broken = store.lock("dev", &info).unwrap().expect("the dead child's lock is reported as broken");
    assert_eq!((broken.pid, broken.operation.as_str()), (pid, "apply"));
    let meta = store.write("dev", vec![Write::ClearPending { id: "op-in-flight".into() }]).unwrap();
    assert_eq!(meta.lineage, got.meta.lineage);
    store.unlock("dev", &info.id).unwrap();
}

#[test]
fn a_live_holder_is_never_broken_and_readers_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let first = LocalStore::new(dir.path()).unwrap();
    let second = LocalStore::new(dir.path()).unwrap();
    let (info1, info2) = (LockInfo::for_current_process("apply"), LockInfo::for_current_process("destroy"));

    assert_eq!(first.lock("dev", &info1).unwrap(), None);
    first.write("dev", vec![Write::PutResource(sample_resource("dev", "a", 1))]).unwrap();
    match second.lock("dev", &info2) {
        Err(StateError::Locked { stack, holder }) => assert_eq!((stack.as_str(), *holder), ("dev", info1.clone())),
        other => panic!("expected Locked, got {other:?}"),
    }
    assert_eq!(second.lock_holder("dev").unwrap(), Some(info1.clone()));
    // Reading needs no lock: the second store sees every acknowledged write.
    assert_eq!(second.load("dev").unwrap().unwrap().resources, vec![sample_resource("dev", "a", 1)]);

    first.unlock("dev", &info1.id).unwrap();
    assert_eq!(second.lock("dev", &info2).unwrap(), None, "a lock released normally is not reported as broken");
    second.write("dev", vec![Write::PutResource(sample_resource("dev", "b", 2))]).unwrap();
    second.unlock("dev", &info2.id).unwrap();
    assert_eq!(first.load("dev").unwrap().unwrap().resources.len(), 2);
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
    let store = LocalStore::new(&dir).unwrap();
    assert_eq!(store.dir(), dir);
    let info = LockInfo::for_current_process("apply");
    store.lock("dev", &info).unwrap();
    store.write("dev", vec![Write::PutResource(sample_resource("dev", "a", 1))]).unwrap();
    assert!(dir.join("dev.lock").is_file());
    assert!(dir.join("dev.head").is_file());
    assert_private(&dir);
    store.unlock("dev", &info.id).unwrap();
    assert_private(&dir);
}

#[test]
fn each_commit_is_one_sync() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path()).unwrap();
    let info = LockInfo::for_current_process("apply");
    store.lock("dev", &info).unwrap();
    store.write("dev", vec![Write::PutResource(sample_resource("dev", "first", 0))]).unwrap();
    let before = store.syncs();
    for n in 0..20 {
        // A batch as the engine's writer sends it: several steps' records at once.
        let batch = (0..5).map(|k| Write::PutResource(sample_resource("dev", &format!("r{n}-{k}"), k))).collect();
        store.write("dev", batch).unwrap();
    }
    assert_eq!(store.syncs() - before, 20, "one sync per commit, whatever the batch size");
    store.unlock("dev", &info.id).unwrap();
}

/// A stack with `runs` runs of three commits each, released after each run.
fn stack_with_runs(dir: &Path, runs: u64) -> LocalStore {
    let store = LocalStore::new(dir).unwrap();
    for run in 0..runs {
        let info = LockInfo::for_current_process(if run % 2 == 0 { "apply" } else { "destroy" });
        store.lock("dev", &info).unwrap();
        for k in 0..3 {
            store.write("dev", vec![Write::PutResource(sample_resource("dev", &format!("r{run}-{k}"), k))]).unwrap();
        }
        store.unlock("dev", &info.id).unwrap();
    }
    store
}

fn stack_dir(dir: &Path) -> PathBuf {
    dir.join("stacks").join("dev")
}

/// The newest journal file of the stack.
fn journal(dir: &Path) -> PathBuf {
    let mut journals: Vec<PathBuf> =
        std::fs::read_dir(stack_dir(dir)).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "journal")).collect();
    journals.sort();
    journals.pop().unwrap()
}

fn expect_damaged(result: Result<Option<Snapshot>, StateError>, says: &str) -> String {
    match result {
        Err(e @ StateError::Damaged { .. }) => {
            let message = e.to_string();
            assert!(message.contains(says), "{message}");
            assert!(message.contains("state history") && message.contains("state restore"), "{message}");
            message
        }
        other => panic!("expected the damage to be refused, got {other:?}"),
    }
}

#[test]
fn a_truncated_journal_is_refused_not_read_as_older_state() {
    let dir = tempfile::tempdir().unwrap();
    stack_with_runs(dir.path(), 2);
    let path = journal(dir.path());
    let len = std::fs::metadata(&path).unwrap().len();
    for cut in [len - 1, len / 2, 0] {
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..cut as usize]).unwrap();
        let store = LocalStore::new(dir.path()).unwrap();
        expect_damaged(store.load("dev"), "generation");
        assert!(matches!(store.write("dev", vec![]), Err(StateError::Damaged { .. })), "nothing is written onto damaged state");
        std::fs::write(&path, &bytes).unwrap();
    }
    assert_eq!(LocalStore::new(dir.path()).unwrap().load("dev").unwrap().unwrap().resources.len(), 6);
}

#[test]
fn random_bytes_in_any_file_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    stack_with_runs(dir.path(), 2);
    let mut files: Vec<PathBuf> = std::fs::read_dir(stack_dir(dir.path())).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for path in &files {
        let original = std::fs::read(path).unwrap();
        for _ in 0..20 {
            let mut damaged = original.clone();
            let at = (next() % damaged.len() as u64) as usize;
            damaged[at] ^= (next() % 255 + 1) as u8;
            std::fs::write(path, &damaged).unwrap();
            let store = LocalStore::new(dir.path()).unwrap();
            expect_damaged(store.load("dev"), "stack `dev`");
        }
        std::fs::write(path, &original).unwrap();
    }
    assert_eq!(LocalStore::new(dir.path()).unwrap().load("dev").unwrap().unwrap().resources.len(), 6);
}

#[test]
fn an_older_copy_of_the_data_is_refused_and_a_kept_state_restores() {
    let dir = tempfile::tempdir().unwrap();
    let store = stack_with_runs(dir.path(), 2);
    let old_copy = tempfile::tempdir().unwrap();
    copy_dir(&stack_dir(dir.path()), old_copy.path());
    drop(store);
    let store = stack_with_runs(dir.path(), 0);
    let info = LockInfo::for_current_process("apply");
    store.lock("dev", &info).unwrap();
    store.write("dev", vec![Write::PutResource(sample_resource("dev", "late", 7))]).unwrap();
    store.unlock("dev", &info.id).unwrap();
    let lineage = store.load("dev").unwrap().unwrap().meta.lineage;

    // Put the older data back (a backup, a checkout): its head record says it is behind.
    std::fs::remove_dir_all(stack_dir(dir.path())).unwrap();
    copy_dir(old_copy.path(), &stack_dir(dir.path()));
    let store = LocalStore::new(dir.path()).unwrap();
    expect_damaged(store.load("dev"), "older than the record of it");

    // Every run's end is a restore point; restoring one makes it current (lineage kept).
    let points = store.history("dev").unwrap();
    let ends: Vec<(u64, usize)> = points.iter().map(|p| (p.generation, p.resources)).collect();
    assert!(ends.contains(&(3, 3)) && ends.contains(&(6, 6)), "restore points {points:?}");
    let meta = store.restore("dev", 6).unwrap();
    assert_eq!(meta.lineage, lineage);
    let restored = store.load("dev").unwrap().unwrap();
    assert_eq!(restored.resources.len(), 6);
    assert!(restored.meta.serial > 7, "the serial moves past everything recorded: {}", restored.meta.serial);
}

#[test]
fn a_torn_frame_after_the_head_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    stack_with_runs(dir.path(), 1);
    // A crash in the middle of appending a commit that was never acknowledged.
    let path = journal(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(&[200, 1, 0, 0, b'{', b'"']);
    std::fs::write(&path, &bytes).unwrap();
    let store = LocalStore::new(dir.path()).unwrap();
    assert_eq!(store.load("dev").unwrap().unwrap().resources.len(), 3);
    let info = LockInfo::for_current_process("apply");
    store.lock("dev", &info).unwrap();
    // As a run does: the load under the lock is where the first write appends.
    assert_eq!(store.load("dev").unwrap().unwrap().resources.len(), 3);
    store.write("dev", vec![Write::PutResource(sample_resource("dev", "after", 1))]).unwrap();
    store.unlock("dev", &info.id).unwrap();
    assert_eq!(LocalStore::new(dir.path()).unwrap().load("dev").unwrap().unwrap().resources.len(), 4);
}

#[test]
fn a_prepared_stack_takes_its_first_commit_in_one_sync() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path()).unwrap();
    // Without the lock, nothing is prepared: the stack is not created.
    store.prepare("dev").unwrap();
    assert!(store.load("dev").unwrap().is_none());
    assert_eq!(store.syncs(), 0);
    let info = LockInfo::for_current_process("apply");
    store.lock("dev", &info).unwrap();
    assert!(store.load("dev").unwrap().is_none());
    store.prepare("dev").unwrap();
    let created = store.syncs();
    assert!(created > 0, "preparing a new stack creates it durably");
    store.write("dev", vec![Write::PutResource(sample_resource("dev", "first", 0))]).unwrap();
    assert_eq!(store.syncs() - created, 1, "the first commit is one sync: the stack was ready");
    store.unlock("dev", &info.id).unwrap();
    let loaded = LocalStore::new(dir.path()).unwrap().load("dev").unwrap().unwrap();
    assert_eq!(loaded.resources.len(), 1);
    assert_eq!(loaded.meta.serial, 1);
}

#[test]
fn compaction_keeps_state_and_restore_points() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path()).unwrap();
    // Runs big enough to compact (the journal passes 256 KiB).
    let big = "x".repeat(4096);
    for run in 0..12u64 {
        let info = LockInfo::for_current_process("apply");
        store.lock("dev", &info).unwrap();
        for k in 0..10 {
            let mut r = sample_resource("dev", &format!("r{k}"), run);
            r.outputs = serde_json::json!({ "blob": big, "run": run }).into();
            store.write("dev", vec![Write::PutResource(r)]).unwrap();
        }
        store.unlock("dev", &info.id).unwrap();
    }
    let snapshots =
        std::fs::read_dir(stack_dir(dir.path())).unwrap().filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "snapshot")).count();
    assert!((2..=strake_state::KEEP_SEGMENTS).contains(&snapshots), "{snapshots} snapshots kept");
    let state = LocalStore::new(dir.path()).unwrap().load("dev").unwrap().unwrap();
    assert_eq!(state.resources.len(), 10);
    assert!(state.resources.iter().all(|r| r.outputs.to_value()["run"] == 11));
    let points = store.history("dev").unwrap();
    assert!(points.len() >= 3, "{points:?}");
    let oldest = points[0].generation;
    store.restore("dev", oldest).unwrap();
    assert!(store.load("dev").unwrap().is_some());
}

#[test]
fn a_stack_in_the_earlier_sled_database_is_migrated_once() {
    let dir = tempfile::tempdir().unwrap();
    let meta = strake_state::StackMeta { serial: 41, ..strake_state::StackMeta::new("dev") };
    {
        let db = sled::open(dir.path().join("db")).unwrap();
        let tree = db.open_tree("stack/dev").unwrap();
        tree.insert("meta", serde_json::to_vec(&meta).unwrap()).unwrap();
        let r = sample_resource("dev", "old", 1);
        tree.insert(format!("r/{}", r.urn), serde_json::to_vec(&r).unwrap()).unwrap();
        let p = sample_pending("op-1", &r.urn);
        tree.insert("p/op-1", serde_json::to_vec(&p).unwrap()).unwrap();
        db.flush().unwrap();
    }
    // sled's background thread lets go of the database's file lock a moment after the drop.
    let lock_file = std::fs::File::open(dir.path().join("db").join("db")).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while lock_file.try_lock().is_err() {
        assert!(std::time::Instant::now() < deadline, "sled still holds its lock after 10 s");
        std::thread::yield_now();
    }
    lock_file.unlock().unwrap();
    let store = LocalStore::new(dir.path()).unwrap();
    let state = store.load("dev").unwrap().expect("the earlier state is found");
    assert_eq!(state.meta.lineage, meta.lineage);
    assert!(state.meta.serial >= 41);
    assert_eq!((state.resources.len(), state.pending.len()), (1, 1));
    assert!(!dir.path().join("db").exists() && dir.path().join("db.migrated").is_dir());
    assert_eq!(LocalStore::new(dir.path()).unwrap().load("dev").unwrap().unwrap().resources, state.resources);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
    }
}
