//! The S3 state backend against moto: the conformance suite, racing locks, leases that run out or
//! are taken, fenced writes, uploads that follow what changed, kept states that restore, and
//! endpoints that ignore conditional writes.

use std::time::Duration;

use strake_state::conformance::sample_resource;
use strake_state::s3::{S3Options, S3Store};
use strake_state::{LockInfo, StateError, StateStore, Write};
use strake_tests::fault_proxy::{Fault, FaultProxy, Match, Rule};
use strake_tests::moto::{Moto, state_options_at};

const BUCKET: &str = "team-state";

fn options(moto: &Moto, prefix: &str) -> S3Options {
    moto.state_options(format!("s3://{BUCKET}/{prefix}"))
}

fn options_at(endpoint: &str, prefix: &str) -> S3Options {
    state_options_at(endpoint, format!("s3://{BUCKET}/{prefix}"))
}

fn store(moto: &Moto, prefix: &str) -> S3Store {
    S3Store::new(options(moto, prefix)).expect("an S3 store")
}

/// moto with the state bucket.
fn moto() -> Moto {
    let moto = Moto::start();
    moto.create_bucket(BUCKET);
    moto
}

#[test]
fn the_s3_store_passes_the_conformance_suite() {
    let moto = moto();
    let n = std::sync::atomic::AtomicUsize::new(0);
    strake_state::conformance::run_all(&|| {
        let prefix = format!("conformance-{}", n.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
        Box::new(store(&moto, &prefix)) as Box<dyn StateStore>
    });
}

/// The holder of `STRAKE_TEST_LEASE_HOLDER`'s lock, run as a child process by the test below:
/// it takes the lock, says so, and waits to be killed.
#[test]
#[ignore = "a child process of a_killed_holders_lease_runs_out_and_the_lock_is_taken_over"]
fn lease_holder_child() {
    let Ok(config) = std::env::var("STRAKE_TEST_LEASE_HOLDER") else { return };
    let (endpoint, id) = config.split_once(' ').expect("endpoint and lock id");
    let store = S3Store::new(S3Options { endpoint: Some(endpoint.into()), lease: LEASE, ..options_at(endpoint, "lease") }).unwrap();
    store.lock("dev", &LockInfo { id: id.into(), ..LockInfo::for_current_process("apply") }).unwrap();
    store.write("dev", vec![Write::PutResource(sample_resource("dev", "a", 1))]).unwrap();
    println!("locked");
    // Holds the lock, renewing it, until the parent kills this process.
    loop {
        std::thread::park();
    }
}

const LEASE: Duration = Duration::from_secs(2);

#[test]
fn a_killed_holders_lease_runs_out_and_the_lock_is_taken_over() {
    let moto = moto();
    let endpoint = format!("http://{}", moto.addr);
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "lease_holder_child", "--nocapture", "--test-threads", "1"])
        .env("STRAKE_TEST_LEASE_HOLDER", format!("{endpoint} killed-holder"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("locked") {
        line.clear();
        assert!(std::io::BufRead::read_line(&mut out, &mut line).unwrap() > 0, "the holder exited before taking the lock");
    }
    child.kill().unwrap();
    child.wait().unwrap();

    // At first the lease still runs: the next run is refused, told who holds it and for how long.
    let next = S3Store::new(S3Options { lease: LEASE, ..options(&moto, "lease") }).unwrap();
    let taker = LockInfo::for_current_process("apply");
    // Polled until the lease runs out (each attempt is a few requests to moto), within a deadline.
    let deadline = std::time::Instant::now() + LEASE * 10;
    let mut attempts = 0;
    let broken = loop {
        attempts += 1;
        match next.lock("dev", &taker) {
            Ok(broken) => break broken,
            Err(StateError::Locked { holder, .. }) => {
                assert_eq!(holder.id, "killed-holder");
                assert!(holder.lease_left.is_some_and(|s| s <= LEASE.as_secs()), "{holder:?}");
                assert!(std::time::Instant::now() < deadline, "the lease never ran out");
            }
            Err(e) => panic!("{e}"),
        }
    };
    // Taken over with no force-unlock, and the killed holder's write is there.
    let broken = broken.expect("the killed holder's lock is returned as broken");
    assert_eq!((broken.id.as_str(), broken.lease_left), ("killed-holder", Some(0)), "broken because its lease ran out");
    assert!(attempts > 1, "the lease was honoured for a while");
    let snapshot = next.load("dev").unwrap().unwrap();
    assert_eq!(snapshot.resources.len(), 1);
    next.unlock("dev", &taker.id).unwrap();
}

#[test]
fn a_holder_whose_lock_was_taken_writes_nothing_more() {
    let moto = moto();
    let old = store(&moto, "fence");
    let holder = LockInfo::for_current_process("apply");
    old.lock("dev", &holder).unwrap();
    old.write("dev", vec![Write::PutResource(sample_resource("dev", "a", 1))]).unwrap();

    // Another run breaks the lock (force-unlock) and takes it.
    let new = store(&moto, "fence");
    new.force_unlock("dev", &holder.id).unwrap();
    let taker = LockInfo::for_current_process("apply");
    new.lock("dev", &taker).unwrap();

    // The old holder's next write is refused by the new holder's fence, and so is its unlock.
    let late = old.write("dev", vec![Write::PutResource(sample_resource("dev", "late", 2))]);
    assert!(matches!(&late, Err(StateError::Backend(m)) if m.contains("another run")), "{late:?}");
    assert!(old.unlock("dev", &holder.id).is_err(), "the old holder cannot release the new holder's lock");
    new.write("dev", vec![Write::PutResource(sample_resource("dev", "b", 3))]).unwrap();
    new.unlock("dev", &taker.id).unwrap();
    // The new holder's run has ended and folded its journal; the entries stay, so the old
    // holder's numbers are still taken.
    let later = old.write("dev", vec![Write::PutResource(sample_resource("dev", "later", 4))]);
    assert!(matches!(&later, Err(StateError::Backend(m)) if m.contains("another run")), "{later:?}");

    let loaded = store(&moto, "fence").load("dev").unwrap().unwrap();
    let urns: Vec<&str> = loaded.resources.iter().map(|r| r.urn.as_str()).collect();
    assert_eq!(urns, ["urn:strake:dev::strake:index:Data::a", "urn:strake:dev::strake:index:Data::b"]);
    assert_eq!(loaded.meta.serial, 2);
}

/// Thirty runs that each change one record of a 200-record stack, with plans between some of
/// them, upload what changed, not the stack (moto's recorder counts the bytes); every state reads
/// back from the bucket, and every state they leave in the history restores exactly, rebuilt from
/// a snapshot and deltas.
#[test]
fn small_changes_upload_deltas_and_every_kept_state_restores() {
    let moto = moto();
    let store = store(&moto, "tiers");
    let run = |writes: Vec<Write>| -> (usize, usize) {
        moto.start_recording();
        let lock = LockInfo::for_current_process("apply");
        store.lock("dev", &lock).unwrap();
        store.write("dev", writes).unwrap();
        store.unlock("dev", &lock.id).unwrap();
        let puts: Vec<_> = moto.recorded().into_iter().filter(|r| r.method == "PUT" && r.url.contains("/tiers/")).collect();
        let snapshot = puts.iter().filter(|r| r.url.contains("/snapshots/")).map(|r| r.body.len()).sum();
        (puts.iter().map(|r| r.body.len()).sum(), snapshot)
    };
    let (_, snapshot) = run((0..200).map(|i| Write::PutResource(sample_resource("dev", &format!("r{i}"), i))).collect());
    assert!(snapshot > 50_000, "the first run writes the whole stack as a snapshot: {snapshot} bytes");

    let mut kept = Vec::new();
    let mut uploaded = 0;
    for round in 0..30 {
        // A run that writes nothing (a plan) between some of them: the manifest moves past its
        // fence, and the next delta must still follow the last one.
        if round % 4 == 1 {
            let lock = LockInfo::for_current_process("plan");
            store.lock("dev", &lock).unwrap();
            store.unlock("dev", &lock.id).unwrap();
        }
        let (bytes, rewritten) = run(vec![Write::PutResource(sample_resource("dev", &format!("r{}", round % 3), 1000 + round))]);
        assert_eq!(rewritten, 0, "run {round} rewrote the snapshot for a one-record change");
        uploaded += bytes;
        let generation = store.history("dev").unwrap().last().unwrap().generation;
        // Read back by another store, from the bucket.
        kept.push((generation, S3Store::new(options(&moto, "tiers")).unwrap().load("dev").unwrap().unwrap()));
    }
    let per_run = uploaded / 30;
    assert!(per_run * 10 < snapshot, "a one-record change uploads {per_run} bytes a run against a {snapshot}-byte stack");

    // Every kept state restores to exactly what it was, whatever the deltas were merged into since.
    for (generation, then) in [&kept[0], &kept[13], &kept[29]] {
        let lock = LockInfo::for_current_process("state restore");
        store.lock("dev", &lock).unwrap();
        store.restore("dev", *generation).unwrap();
        store.unlock("dev", &lock.id).unwrap();
        let now = S3Store::new(options(&moto, "tiers")).unwrap().load("dev").unwrap().unwrap();
        assert_eq!(now.resources, then.resources, "generation {generation}");
        assert_eq!(now.meta.lineage, then.meta.lineage);
    }
}

/// The store reached through the fault proxy in front of `moto`.
fn proxied(proxy: &FaultProxy, prefix: &str, allow_unconditional_writes: bool) -> Result<S3Store, StateError> {
    S3Store::new(S3Options { allow_unconditional_writes, ..options_at(&proxy.endpoint(), prefix) })
}

#[test]
fn throttling_server_errors_lost_connections_and_conflicts_on_state_calls_are_retried_and_nothing_is_lost() {
    let moto = moto();
    let proxy = FaultProxy::start(&moto);
    // Every kind of call fails now and then: S3's 503 SlowDown and 500s, dropped connections, and
    // the 409 ConditionalRequestConflict S3 sends for a conditional write racing another.
    let conflicts = proxy.inject(
        Rule::new(
            Match::s3("PUT", &format!("/{BUCKET}/faults/dev/journal")),
            Fault::s3_error(409, "ConditionalRequestConflict", "A conflicting conditional operation is in progress"),
        )
        .every(3),
    );
    let slow_downs = proxy.inject(Rule::new(Match::s3("GET", &format!("/{BUCKET}")), Fault::s3_slow_down()).times(2));
    let server_errors = proxy.inject(
        Rule::new(
            Match::s3("PUT", &format!("/{BUCKET}/faults/dev/lock")),
            Fault::s3_error(500, "InternalError", "We encountered an internal error."),
        )
        .times(1),
    );
    let disconnects = proxy.inject(Rule::new(Match::s3("DELETE", &format!("/{BUCKET}")), Fault::disconnect()).times(1));
    let faulty = proxied(&proxy, "faults", false).unwrap();
    let holder = LockInfo::for_current_process("apply");
    faulty.lock("dev", &holder).unwrap();
    for n in 0..20 {
        faulty.write("dev", vec![Write::PutResource(sample_resource("dev", &format!("r{n:02}"), n))]).unwrap();
    }
    faulty.unlock("dev", &holder.id).unwrap();
    for (what, rule, at_least) in
        [("409 conflicts", conflicts, 5), ("503 SlowDown", slow_downs, 1), ("500", server_errors, 1), ("disconnects", disconnects, 1)]
    {
        assert!(proxy.fired(rule) >= at_least, "{what} injected: {}", proxy.log_text());
    }

    let loaded = store(&moto, "faults").load("dev").unwrap().unwrap();
    assert_eq!(loaded.resources.len(), 20, "every write landed once");
    assert_eq!(loaded.meta.serial, 20);
    assert_eq!(store(&moto, "faults").lock_holder("dev").unwrap(), None, "the lock was released");
}

#[test]
fn an_endpoint_that_ignores_conditional_writes_is_refused_unless_the_user_accepts_it() {
    let moto = moto();
    let proxy = FaultProxy::start(&moto);
    proxy.inject(Rule::new(Match::any(), Fault::ignore(&["If-None-Match", "If-Match"])));
    let err = proxied(&proxy, "unsafe", false).unwrap().load("dev").unwrap_err().to_string();
    assert!(err.contains("a second write with `If-None-Match: *` was accepted") && err.contains("refuses to keep state there"), "{err}");
    assert!(err.contains("allow_unconditional_writes"), "the way out is named: {err}");
    // Nothing of a stack was written.
    assert!(store(&moto, "unsafe").load("dev").unwrap().is_none());

    let accepted = proxied(&proxy, "unsafe", true).unwrap();
    accepted.write("dev", vec![Write::PutResource(sample_resource("dev", "a", 1))]).unwrap();
    assert_eq!(store(&moto, "unsafe").load("dev").unwrap().unwrap().resources.len(), 1);
}
