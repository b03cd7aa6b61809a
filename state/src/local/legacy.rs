//! Migration from the sled database earlier Strake versions kept in `.strake/db`: one tree per
//! stack (`stack/<name>`) holding `meta`, `r/<urn>` and `p/<id>` as JSON.
//!
//! The first time the store looks at a stack it has no state for while `db/` exists, every stack
//! in the database is imported (lineage and serial kept), and the database is renamed to
//! `db.migrated`, so it can never be read as current state again.

use std::path::Path;

use serde::de::DeserializeOwned;

use super::LocalStore;
use crate::records::check_format_version;
use crate::{PendingOperation, ResourceRecord, Snapshot, StackMeta, StateError};

const LEGACY_DIR: &str = "db";
const MIGRATED_DIR: &str = "db.migrated";

/// Imports every stack of a legacy database in the store's directory, if there is one and
/// `stack` has no state yet.
pub(super) fn migrate(store: &LocalStore, stack: &str) -> Result<(), StateError> {
    let db_path = store.dir().join(LEGACY_DIR);
    if !db_path.is_dir() || !store.segments(stack)?.is_empty() {
        return Ok(());
    }
    let snapshots = read_all(&db_path)?;
    for snapshot in snapshots {
        let name = snapshot.meta.stack.clone();
        if store.segments(&name)?.is_empty() {
            store.import_as(snapshot, "migration from the earlier database")?;
        }
    }
    let target = store.dir().join(MIGRATED_DIR);
    std::fs::rename(&db_path, &target).map_err(|e| StateError::Io { path: db_path.display().to_string(), source: e })
}

fn legacy_error(db: &Path, e: impl std::fmt::Display) -> StateError {
    StateError::Backend(format!("cannot read the earlier state database {} to migrate it: {e}", db.display()))
}

/// Every stack the legacy database holds.
fn read_all(db_path: &Path) -> Result<Vec<Snapshot>, StateError> {
    let db = sled::Config::new().path(db_path).open().map_err(|e| legacy_error(db_path, e))?;
    let mut out = Vec::new();
    for name in db.tree_names() {
        let Some(stack) = std::str::from_utf8(&name).ok().and_then(|n| n.strip_prefix("stack/")).map(str::to_string) else { continue };
        let tree = db.open_tree(&name).map_err(|e| legacy_error(db_path, e))?;
        let Some(meta_bytes) = tree.get("meta").map_err(|e| legacy_error(db_path, e))? else { continue };
        let meta: StackMeta = decode(&stack, "meta", &meta_bytes)?;
        check_format_version(&meta)?;
        let mut resources: Vec<ResourceRecord> = Vec::new();
        let mut pending: Vec<PendingOperation> = Vec::new();
        for entry in tree.iter() {
            let (key, value) = entry.map_err(|e| legacy_error(db_path, e))?;
            let key = String::from_utf8_lossy(&key).into_owned();
            if key.starts_with("r/") {
                resources.push(decode(&stack, &key, &value)?);
            } else if key.starts_with("p/") {
                pending.push(decode(&stack, &key, &value)?);
            }
        }
        out.push(Snapshot { meta, resources, pending });
    }
    Ok(out)
}

fn decode<T: DeserializeOwned>(stack: &str, key: &str, bytes: &[u8]) -> Result<T, StateError> {
    serde_json::from_slice(bytes).map_err(|e| StateError::Corrupt { key: format!("{stack}/{key}"), message: e.to_string() })
}
