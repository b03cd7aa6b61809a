//! The conformance suite every [`StateStore`] backend must pass.
//!
//! Run it from a test of the backend:
//!
//! ```
//! # use strake_state::{MemoryStore, StateStore};
//! // In a `#[test]` of the backend:
//! strake_state::conformance::run_all(&|| Box::new(MemoryStore::new()) as Box<dyn StateStore>);
//! ```
//!
//! Each check takes a fresh, empty store and panics with a message naming what broke. The checks
//! are public so a backend can also run them one by one.

mod locks;

use serde_json::json;

pub use locks::{force_unlock_breaks_lock, lock_is_exclusive, lock_race_has_one_winner, unlock_checks_lock_id};

use crate::{FORMAT_VERSION, JsonText, LockInfo, PendingKind, PendingOperation, RecordKind, ResourceRecord, Snapshot, StateError, StateStore, Write};

/// A check of the suite.
pub type Check = fn(&dyn StateStore);

/// Every check, with its name.
pub const CHECKS: &[(&str, Check)] = &[
    ("load_unknown_stack_is_none", load_unknown_stack_is_none),
    ("first_write_creates_meta", first_write_creates_meta),
    ("serial_counts_resource_batches", serial_counts_resource_batches),
    ("put_and_delete_resources", put_and_delete_resources),
    ("put_and_clear_pending", put_and_clear_pending),
    ("batch_lands_together", batch_lands_together),
    ("load_sorts_records", load_sorts_records),
    ("stacks_are_isolated", stacks_are_isolated),
    ("import_keeps_lineage_and_bumps_serial", import_keeps_lineage_and_bumps_serial),
    ("import_refuses_newer_format", import_refuses_newer_format),
    ("invalid_stack_names_are_refused", invalid_stack_names_are_refused),
    ("lock_is_exclusive", lock_is_exclusive),
    ("unlock_checks_lock_id", unlock_checks_lock_id),
    ("force_unlock_breaks_lock", force_unlock_breaks_lock),
    ("lock_race_has_one_winner", lock_race_has_one_winner),
    ("concurrent_writes_all_land", concurrent_writes_all_land),
];

/// Runs every check, each on a fresh store from `make`.
pub fn run_all(make: &dyn Fn() -> Box<dyn StateStore>) {
    for (name, check) in CHECKS {
        eprintln!("conformance: {name}");
        let store = make();
        check(store.as_ref());
    }
}

/// A resource record of `stack` named `name`, with `value` in its inputs and outputs.
pub fn sample_resource(stack: &str, name: &str, value: u64) -> ResourceRecord {
    ResourceRecord {
        urn: format!("urn:strake:{stack}::strake:index:Data::{name}"),
        kind: RecordKind::Resource,
        type_token: "strake:index:Data".into(),
        id: format!("id-{name}"),
        inputs: json!({ "value": value, "secret": { "__strake_secret": "s3cr3t" } }).into(),
        outputs: json!({ "value": value, "nested": [1, 2, { "a": null }] }).into(),
        dependencies: vec![format!("urn:strake:{stack}::strake:index:Data::dep")],
        provider: Some(format!("urn:strake:{stack}::strake:providers:strake::default")),
        protect: value.is_multiple_of(2),
        retain_on_delete: false,
        schema_version: 0,
    }
}

/// A pending create with id `id` for `urn`.
pub fn sample_pending(id: &str, urn: &str) -> PendingOperation {
    PendingOperation {
        id: id.into(),
        urn: urn.into(),
        kind: PendingKind::Create,
        type_token: "strake:index:Data".into(),
        provider: None,
        inputs: json!({ "value": 1 }).into(),
        outputs: JsonText::null(),
        resource_id: None,
        started_at: 1_700_000_000,
    }
}

/// Unwraps `result`, panicking with `what` and the error.
fn ok<T>(what: &str, result: Result<T, StateError>) -> T {
    result.unwrap_or_else(|e| panic!("conformance: {what} failed: {e}"))
}

fn load(store: &dyn StateStore, stack: &str) -> Snapshot {
    ok(&format!("load `{stack}`"), store.load(stack)).unwrap_or_else(|| panic!("conformance: stack `{stack}` was written but load returned None"))
}

fn urns(snapshot: &Snapshot) -> Vec<&str> {
    snapshot.resources.iter().map(|r| r.urn.as_str()).collect()
}

fn pending_ids(snapshot: &Snapshot) -> Vec<&str> {
    snapshot.pending.iter().map(|p| p.id.as_str()).collect()
}

/// `load` of a stack never written is `None`, and loading does not create it.
pub fn load_unknown_stack_is_none(store: &dyn StateStore) {
    assert_eq!(ok("load", store.load("never")), None, "conformance: load of an unknown stack must be None");
    assert_eq!(ok("second load", store.load("never")), None, "conformance: load must not create the stack");
}

/// The first write creates the meta: current format, non-empty lineage, serial 1.
pub fn first_write_creates_meta(store: &dyn StateStore) {
    let meta = ok("first write", store.write("dev", vec![Write::PutResource(sample_resource("dev", "a", 1))]));
    assert_eq!(meta.stack, "dev", "conformance: meta names the wrong stack");
    assert_eq!(meta.format_version, FORMAT_VERSION, "conformance: meta has the wrong format version");
    assert!(!meta.lineage.is_empty(), "conformance: first write must set a lineage");
    assert_eq!(meta.serial, 1, "conformance: first resource batch must give serial 1");
    assert_eq!(load(store, "dev").meta, meta, "conformance: load must return the meta that write returned");
}

/// The serial moves by one per batch changing resources, and not for pending-only or empty batches.
pub fn serial_counts_resource_batches(store: &dyn StateStore) {
    let a = sample_resource("dev", "a", 1);
    let pending = sample_pending("op-1", &a.urn);
    let steps: Vec<(Vec<Write>, u64)> = vec![
        (vec![Write::PutPending(pending.clone())], 0),
        (vec![Write::PutResource(a.clone()), Write::PutResource(sample_resource("dev", "b", 2))], 1),
        (vec![Write::ClearPending { id: pending.id.clone() }], 1),
        (vec![], 1),
        (vec![Write::DeleteResource { urn: a.urn.clone() }], 2),
        (vec![Write::PutPending(pending), Write::PutResource(a)], 3),
    ];
    let lineage = ok("first write", store.write("dev", vec![])).lineage;
    for (i, (batch, serial)) in steps.into_iter().enumerate() {
        let meta = ok(&format!("write #{i}"), store.write("dev", batch));
        assert_eq!(meta.serial, serial, "conformance: serial after batch #{i}");
        assert_eq!(meta.lineage, lineage, "conformance: lineage must not change on write");
    }
    assert_eq!(load(store, "dev").meta.serial, 3, "conformance: loaded serial");
}

/// Resources can be put, overwritten and deleted; deleting an unknown URN is not an error.
pub fn put_and_delete_resources(store: &dyn StateStore) {
    let a = sample_resource("dev", "a", 1);
    let b = sample_resource("dev", "b", 2);
    ok("put", store.write("dev", vec![Write::PutResource(a.clone()), Write::PutResource(b.clone())]));
    assert_eq!(load(store, "dev").resources, vec![a.clone(), b.clone()], "conformance: resources after put");

    let a2 = ResourceRecord { outputs: json!({ "value": 42 }).into(), ..a.clone() };
    ok("overwrite", store.write("dev", vec![Write::PutResource(a2.clone())]));
    assert_eq!(load(store, "dev").resources, vec![a2, b.clone()], "conformance: put must overwrite by URN");

    ok("delete", store.write("dev", vec![Write::DeleteResource { urn: a.urn.clone() }]));
    assert_eq!(load(store, "dev").resources, vec![b], "conformance: resources after delete");
    ok("delete unknown", store.write("dev", vec![Write::DeleteResource { urn: "urn:nothing".into() }]));
}

/// Pending operations can be put and cleared; clearing an unknown id is not an error.
pub fn put_and_clear_pending(store: &dyn StateStore) {
    let one = sample_pending("op-1", "urn:x");
    let two =
        PendingOperation { kind: PendingKind::Delete, outputs: JsonText::null(), resource_id: Some("i-2".into()), ..sample_pending("op-2", "urn:x") };
    ok("put pending", store.write("dev", vec![Write::PutPending(one.clone()), Write::PutPending(two.clone())]));
    let snapshot = load(store, "dev");
    assert_eq!(snapshot.pending, vec![one.clone(), two], "conformance: two pending operations for one URN");
    assert!(snapshot.resources.is_empty(), "conformance: pending writes must not create resources");

    ok("clear pending", store.write("dev", vec![Write::ClearPending { id: "op-2".into() }]));
    assert_eq!(load(store, "dev").pending, vec![one], "conformance: pending after clear");
    ok("clear unknown", store.write("dev", vec![Write::ClearPending { id: "op-9".into() }]));
}

/// A result and the clearing of its pending operation land together; changes apply in order.
pub fn batch_lands_together(store: &dyn StateStore) {
    let a = sample_resource("dev", "a", 1);
    ok("put pending", store.write("dev", vec![Write::PutPending(sample_pending("op-1", &a.urn))]));
    let meta = ok("record result", store.write("dev", vec![Write::PutResource(a.clone()), Write::ClearPending { id: "op-1".into() }]));
    let snapshot = load(store, "dev");
    assert_eq!(snapshot.resources, vec![a.clone()], "conformance: the result must land");
    assert!(snapshot.pending.is_empty(), "conformance: the pending operation must be cleared in the same batch");
    assert_eq!(snapshot.meta, meta, "conformance: meta must land with the batch");

    let b = sample_resource("dev", "b", 2);
    let b2 = ResourceRecord { inputs: json!("second").into(), ..b.clone() };
    let batch = vec![
        Write::PutResource(b.clone()),
        Write::PutResource(b2.clone()),
        Write::DeleteResource { urn: a.urn.clone() },
        Write::PutResource(a.clone()),
        Write::PutPending(sample_pending("op-2", &b.urn)),
        Write::ClearPending { id: "op-2".into() },
    ];
    ok("ordered batch", store.write("dev", batch));
    let snapshot = load(store, "dev");
    assert_eq!(snapshot.resources, vec![a, b2], "conformance: later changes in a batch must win");
    assert!(snapshot.pending.is_empty(), "conformance: a pending operation put then cleared in one batch must be gone");
}

/// `load` sorts resources by URN and pending operations by id, whatever the write order.
pub fn load_sorts_records(store: &dyn StateStore) {
    let names = ["m", "z", "a", "b10", "b2", "B"];
    let batch: Vec<Write> = names.iter().map(|n| Write::PutResource(sample_resource("dev", n, 1))).collect();
    ok("put", store.write("dev", batch));
    let ids = ["op-c", "op-a", "op-b"];
    for id in ids {
        ok("put pending", store.write("dev", vec![Write::PutPending(sample_pending(id, "urn:x"))]));
    }
    let snapshot = load(store, "dev");
    let mut want: Vec<String> = names.iter().map(|n| sample_resource("dev", n, 1).urn).collect();
    want.sort();
    assert_eq!(urns(&snapshot), want, "conformance: resources must be sorted by URN");
    assert_eq!(pending_ids(&snapshot), ["op-a", "op-b", "op-c"], "conformance: pending must be sorted by id");
}

/// Stacks share nothing: content, serials, lineages and locks are per stack.
pub fn stacks_are_isolated(store: &dyn StateStore) {
    let a = sample_resource("dev", "a", 1);
    let b = sample_resource("dev-2", "b", 2);
    ok("write dev", store.write("dev", vec![Write::PutResource(a.clone())]));
    ok("write dev again", store.write("dev", vec![Write::PutResource(a.clone())]));
    ok("write dev-2", store.write("dev-2", vec![Write::PutResource(b.clone()), Write::PutPending(sample_pending("p", "u"))]));
    let (dev, dev2) = (load(store, "dev"), load(store, "dev-2"));
    assert_eq!((dev.resources, dev2.resources), (vec![a], vec![b]), "conformance: stacks must not share resources");
    assert!(dev.pending.is_empty(), "conformance: stacks must not share pending operations");
    assert_eq!((dev.meta.serial, dev2.meta.serial), (2, 1), "conformance: serials are per stack");
    assert_ne!(dev.meta.lineage, dev2.meta.lineage, "conformance: each stack gets its own lineage");
    assert_eq!(ok("load prefix", store.load("de")), None, "conformance: a prefix of a stack name is another stack");

    let info = LockInfo::for_current_process("apply");
    ok("lock dev", store.lock("dev", &info));
    ok("lock dev-2 while dev is locked", store.lock("dev-2", &LockInfo::for_current_process("apply")));
    assert_eq!(ok("holder", store.lock_holder("de")), None, "conformance: locks are per stack");
}

/// `import` replaces the content, keeps the lineage and moves the serial past both serials.
pub fn import_keeps_lineage_and_bumps_serial(store: &dyn StateStore) {
    for n in 0..3 {
        ok("write", store.write("dev", vec![Write::PutResource(sample_resource("dev", &format!("old{n}"), n))]));
    }
    let mut snapshot = Snapshot::empty("dev");
    snapshot.meta.serial = 1;
    snapshot.meta.lineage = "imported-lineage".into();
    snapshot.resources = vec![sample_resource("dev", "new", 7)];
    snapshot.pending = vec![sample_pending("op-1", "urn:x")];
    let meta = ok("import", store.import(snapshot.clone()));
    assert_eq!(meta.lineage, "imported-lineage", "conformance: import must keep the snapshot's lineage");
    assert_eq!(meta.serial, 4, "conformance: import over serial 3 of a snapshot at serial 1 must give 4");
    let loaded = load(store, "dev");
    assert_eq!(loaded.meta, meta, "conformance: load after import");
    assert_eq!((loaded.resources, loaded.pending), (snapshot.resources, snapshot.pending), "conformance: import replaces content");

    let mut ahead = Snapshot::empty("dev");
    ahead.meta.serial = 10;
    assert_eq!(ok("import ahead", store.import(ahead.clone())).serial, 10, "conformance: a larger imported serial wins");
    assert!(load(store, "dev").resources.is_empty(), "conformance: importing an empty snapshot empties the stack");
    let meta = ok("write after import", store.write("dev", vec![Write::DeleteResource { urn: "u".into() }]));
    assert_eq!((meta.serial, meta.lineage), (11, ahead.meta.lineage), "conformance: writes continue the imported history");

    let fresh = Snapshot::empty("fresh");
    let meta = ok("import new stack", store.import(fresh.clone()));
    assert_eq!((meta.serial, meta.lineage), (1, fresh.meta.lineage), "conformance: import into a new stack");
}

/// `import` refuses a snapshot from a newer format.
pub fn import_refuses_newer_format(store: &dyn StateStore) {
    let mut snapshot = Snapshot::empty("dev");
    snapshot.meta.format_version = FORMAT_VERSION + 1;
    match store.import(snapshot) {
        Err(StateError::UnsupportedVersion { found, supported, .. }) => {
            assert_eq!((found, supported), (FORMAT_VERSION + 1, FORMAT_VERSION), "conformance: version numbers")
        }
        other => panic!("conformance: import of a newer format must be UnsupportedVersion, got {other:?}"),
    }
    assert_eq!(ok("load", store.load("dev")), None, "conformance: a refused import must not create the stack");
}

/// Names that could escape a directory or a key space are refused everywhere.
pub fn invalid_stack_names_are_refused(store: &dyn StateStore) {
    let info = LockInfo::for_current_process("apply");
    for name in ["", "../x", "a/b", ".hidden", "-x", "a b", "é"] {
        let refused = |what: &str, result: Result<(), StateError>| {
            assert!(
                matches!(result, Err(StateError::InvalidStackName { .. })),
                "conformance: {what} of stack name {name:?} must be InvalidStackName, got {result:?}"
            );
        };
        refused("load", store.load(name).map(drop));
        refused("write", store.write(name, vec![]).map(drop));
        refused("import", store.import(Snapshot::empty(name)).map(drop));
        refused("lock", store.lock(name, &info).map(drop));
        refused("lock_holder", store.lock_holder(name).map(drop));
    }
}

/// Writes from 8 threads (50 each, a pending-only batch every 10th) all land, and the serial counts
/// exactly the resource batches.
pub fn concurrent_writes_all_land(store: &dyn StateStore) {
    const THREADS: u64 = 8;
    const WRITES: u64 = 50;
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            scope.spawn(move || {
                for n in 0..WRITES {
                    let record = sample_resource("dev", &format!("t{t}-{n:02}"), n);
                    let op = sample_pending(&format!("op-t{t}-{n:02}"), &record.urn);
                    if n % 10 == 0 {
                        ok("pending-only write", store.write("dev", vec![Write::PutPending(op.clone())]));
                    }
                    ok("resource write", store.write("dev", vec![Write::PutResource(record), Write::ClearPending { id: op.id }]));
                }
            });
        }
    });
    let snapshot = load(store, "dev");
    assert_eq!(snapshot.meta.serial, THREADS * WRITES, "conformance: serial must count every resource batch");
    assert_eq!(snapshot.resources.len() as u64, THREADS * WRITES, "conformance: every concurrent write must land");
    assert!(snapshot.pending.is_empty(), "conformance: every pending operation was cleared");
}
