//! [`SealedStore`]: the conformance suite over a local store with a passphrase, then what
//! sealing must show: no secret in clear anywhere on disk, a wrong passphrase or a missing
//! provider refused with nothing written, a stack kept in clear sealed when a provider is set,
//! an export that carries its key and imports elsewhere, and the mode that seals every output.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use strake_state::conformance::{self, sample_pending, sample_resource};
use strake_state::secrets::{AgeRecipients, KeyProvider, Passphrase, SealedStore};
use strake_state::{LocalStore, MemoryStore, StateError, StateStore, Write};

/// The secret the samples hold (`conformance::sample_resource`).
const SECRET: &str = "s3cr3t";

fn passphrase(p: &str) -> Option<Arc<dyn KeyProvider>> {
    Some(Arc::new(Passphrase::new(p).unwrap()))
}

fn sealed(dir: &Path, p: &str) -> SealedStore {
    SealedStore::new(Arc::new(LocalStore::new(dir).unwrap()), passphrase(p))
}

/// Every file under `dir`, read raw.
fn files_contain(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            hits.extend(files_contain(&path, needle));
        } else if std::fs::read(&path).unwrap().windows(needle.len()).any(|w| w == needle) {
            hits.push(path.display().to_string());
        }
    }
    hits
}

#[test]
fn a_sealed_local_store_passes_conformance() {
    let root = tempfile::tempdir().unwrap();
    let count = AtomicUsize::new(0);
    conformance::run_all(&|| {
        let dir = root.path().join(format!("store-{}", count.fetch_add(1, Ordering::Relaxed)));
        Box::new(sealed(&dir, "correct horse")) as Box<dyn StateStore>
    });
    assert!(files_contain(root.path(), SECRET.as_bytes()).is_empty(), "a secret in clear on disk");
}

#[test]
fn preparing_a_sealed_stack_prepares_the_store_under_it() {
    let dir = tempfile::tempdir().unwrap();
    let inner = Arc::new(LocalStore::new(dir.path()).unwrap());
    let store = SealedStore::new(inner.clone(), passphrase("correct horse"));
    let info = strake_state::LockInfo::for_current_process("apply");
    store.lock("dev", &info).unwrap();
    store.prepare("dev").unwrap();
    assert!(inner.syncs() > 0 && inner.load("dev").unwrap().is_some(), "the local store created the stack");
    store.unlock("dev", &info.id).unwrap();
}

#[test]
fn secrets_never_reach_the_disk_in_clear_and_come_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = sealed(dir.path(), "correct horse");
    let mut pending = sample_pending("p1", "urn:strake:dev::strake:index:Data::a");
    pending.inputs = serde_json::json!({ "password": { "__strake_secret": SECRET } }).into();
    let written = vec![Write::PutResource(sample_resource("dev", "a", 1)), Write::PutPending(pending.clone())];
    store.write("dev", written).unwrap();
    assert!(files_contain(dir.path(), SECRET.as_bytes()).is_empty(), "records and the pending journal are sealed");

    // Another process with the passphrase reads them in clear; the key record stays hidden.
    let loaded = sealed(dir.path(), "correct horse").load("dev").unwrap().unwrap();
    assert_eq!(loaded.resources, vec![sample_resource("dev", "a", 1)]);
    assert_eq!(loaded.pending, vec![pending]);
    assert_eq!(loaded.meta.serial, 1, "making the data key changed no serial");
}

#[test]
fn a_wrong_passphrase_another_provider_or_none_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    sealed(dir.path(), "correct horse").write("dev", vec![Write::PutResource(sample_resource("dev", "a", 1))]).unwrap();
    let before = LocalStore::new(dir.path()).unwrap().load("dev").unwrap();

    let wrong = sealed(dir.path(), "wrong horse").load("dev").unwrap_err();
    assert!(matches!(&wrong, StateError::Secrets { .. }), "{wrong:?}");
    assert!(wrong.to_string().contains("passphrase does not open the secrets of stack `dev`"), "{wrong}");

    let age = format!("age:{}", age::x25519::Identity::generate().to_public());
    let other = SealedStore::new(Arc::new(LocalStore::new(dir.path()).unwrap()), Some(Arc::new(AgeRecipients::new(&age, "").unwrap())));
    let other = other.load("dev").unwrap_err().to_string();
    assert!(other.contains("sealed with the `passphrase` key provider, not `age`: set `provider = \"passphrase\"`"), "{other}");

    let none = SealedStore::new(Arc::new(LocalStore::new(dir.path()).unwrap()), None).load("dev").unwrap_err();
    assert!(none.to_string().contains("add `provider = \"passphrase\"` under [secrets]"), "{none}");
    assert_eq!(LocalStore::new(dir.path()).unwrap().load("dev").unwrap(), before, "nothing was written");
}

#[test]
fn a_stack_kept_in_clear_is_sealed_once_a_provider_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let clear = SealedStore::new(Arc::new(LocalStore::new(dir.path()).unwrap()), None);
    clear.write("dev", vec![Write::PutResource(sample_resource("dev", "a", 1))]).unwrap();
    drop(clear);
    let inner = LocalStore::new(dir.path()).unwrap();
    assert!(inner.load("dev").unwrap().unwrap().resources[0].inputs.to_string().contains(SECRET));
    drop(inner);

    let loaded = sealed(dir.path(), "correct horse").load("dev").unwrap().unwrap();
    assert_eq!(loaded.resources, vec![sample_resource("dev", "a", 1)]);
    let raw = LocalStore::new(dir.path()).unwrap().load("dev").unwrap().unwrap();
    assert!(!serde_json::to_string(&raw.resources).unwrap().contains(SECRET), "the records are sealed now");
}

#[test]
fn an_export_carries_its_key_and_imports_into_another_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = sealed(dir.path(), "correct horse");
    store.write("dev", vec![Write::PutResource(sample_resource("dev", "a", 1))]).unwrap();
    let export = store.export("dev").unwrap().unwrap();
    assert!(!serde_json::to_string(&export).unwrap().contains(SECRET));

    let elsewhere = SealedStore::new(Arc::new(MemoryStore::new()), passphrase("correct horse"));
    elsewhere.import(export.clone()).unwrap();
    assert_eq!(elsewhere.load("dev").unwrap().unwrap().resources, vec![sample_resource("dev", "a", 1)]);

    // A value moved to another record does not open, and nothing is imported.
    let mut moved = export.clone();
    let a = moved.resources.iter().position(|r| r.urn.ends_with("::a")).unwrap();
    let mut b = moved.resources[a].clone();
    b.urn = b.urn.replace("::a", "::b");
    moved.resources.insert(a + 1, b);
    let target = SealedStore::new(Arc::new(MemoryStore::new()), passphrase("correct horse"));
    let err = target.import(moved).unwrap_err();
    assert!(err.to_string().contains("does not open"), "{err}");
    assert!(target.load("dev").unwrap().is_none());
}

#[test]
fn the_whole_state_mode_seals_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let store = sealed(dir.path(), "correct horse").with_all_outputs(true);
    // A pending operation carries its resource's last outputs: sealed whole too.
    let mut op = sample_pending("p1", "urn:strake:dev::strake:index:Data::a");
    op.outputs = serde_json::json!({ "kubeconfig": "token-in-clear" }).into();
    store.write("dev", vec![Write::PutResource(sample_resource("dev", "a", 1)), Write::PutPending(op.clone())]).unwrap();
    assert!(files_contain(dir.path(), b"token-in-clear").is_empty(), "an output in clear in a pending operation");
    let raw = LocalStore::new(dir.path()).unwrap().load("dev").unwrap().unwrap();
    let a = raw.resources.iter().find(|r| r.urn.ends_with("::a")).unwrap();
    assert!(a.outputs.to_value().get("__strake_ciphertext").is_some() && !a.outputs.to_string().contains("nested"), "{}", a.outputs);
    let loaded = sealed(dir.path(), "correct horse").load("dev").unwrap().unwrap();
    assert_eq!((loaded.resources, loaded.pending), (vec![sample_resource("dev", "a", 1)], vec![op]));
}
