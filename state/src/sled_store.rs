//! The default backend: a sled database plus one lock file per stack, in one private directory.
//!
//! Layout of the directory (the engine uses `<program dir>/.strake`):
//! - `<stack>.lock`: the stack's lock, see [`lock_file`].
//! - `db/`: the sled database, with one tree per stack named `stack/<name>` holding the keys
//!   `meta` ([`StackMeta`]), `r/<urn>` ([`ResourceRecord`]) and `p/<id>` ([`PendingOperation`]),
//!   all JSON.
//!
//! sled holds an exclusive OS lock on its database while it is open, so the database is opened
//! only when needed and closed again as soon as this store holds no stack lock and no call is
//! using it. Another process can thus always read the lock files and name the holder.

mod lock_file;

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, DirBuilder, Permissions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::records::{check_format_version, import_meta, validate_stack_name};
use crate::{LockInfo, Snapshot, StackMeta, StateError, StateStore, Write};

/// Mode of the store's directories.
const DIR_MODE: u32 = 0o700;
/// Mode of the store's files.
const FILE_MODE: u32 = 0o600;
/// How long opening the database waits for another process to close it.
const OPEN_TIMEOUT: Duration = Duration::from_secs(2);
const META_KEY: &str = "meta";
const RESOURCE_PREFIX: &str = "r/";
const PENDING_PREFIX: &str = "p/";

/// A [`StateStore`] kept in a directory: a sled database and per-stack lock files.
pub struct SledStore {
    dir: PathBuf,
    slot: Mutex<DbSlot>,
    /// Serializes read-modify-write of stack metadata (the database is exclusive to this store).
    write_order: Mutex<()>,
}

/// The open database, if any, and what keeps it open.
#[derive(Default)]
struct DbSlot {
    db: Option<sled::Db>,
    /// Calls currently using the database.
    users: usize,
    /// Stacks this store has locked, with their lock ids.
    held: HashMap<String, String>,
}

/// A database handle for the length of one call; closes the database when it was the last reason
/// to keep it open.
struct DbUse<'a> {
    store: &'a SledStore,
    db: Option<sled::Db>,
}

impl std::ops::Deref for DbUse<'_> {
    type Target = sled::Db;

    fn deref(&self) -> &sled::Db {
        // Only `Drop` takes the handle out.
        self.db.as_ref().unwrap_or_else(|| unreachable!("database handle used after release"))
    }
}

impl Drop for DbUse<'_> {
    fn drop(&mut self) {
        self.db = None;
        let mut slot = self.store.slot();
        slot.users -= 1;
        self.store.close_if_idle(slot);
    }
}

impl fmt::Debug for SledStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SledStore").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl SledStore {
    /// A store in `dir`, created with mode 0700 if missing. The database is not opened yet.
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self, StateError> {
        let dir = dir.into();
        DirBuilder::new().recursive(true).mode(DIR_MODE).create(&dir).map_err(|e| io_error(&dir, e))?;
        fs::set_permissions(&dir, Permissions::from_mode(DIR_MODE)).map_err(|e| io_error(&dir, e))?;
        Ok(SledStore { dir, slot: Mutex::default(), write_order: Mutex::default() })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn db_path(&self) -> PathBuf {
        self.dir.join("db")
    }

    /// Slot updates cannot be left half-done by a panic, so a poisoned mutex is safe to recover.
    fn slot(&self) -> MutexGuard<'_, DbSlot> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_order(&self) -> MutexGuard<'_, ()> {
        self.write_order.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The database, opened if needed, kept open until the returned handle is dropped.
    fn acquire(&self) -> Result<DbUse<'_>, StateError> {
        let mut slot = self.slot();
        let db = match &slot.db {
            Some(db) => db.clone(),
            None => {
                let db = self.open_db()?;
                slot.db = Some(db.clone());
                db
            }
        };
        slot.users += 1;
        Ok(DbUse { store: self, db: Some(db) })
    }

    /// Closes the database when no call uses it and this store holds no lock.
    fn close_if_idle(&self, mut slot: MutexGuard<'_, DbSlot>) {
        if slot.users == 0 && slot.held.is_empty() && slot.db.take().is_some() {
            // The database is closed now; best effort, the directory itself is private anyway.
            let _ = make_private(&self.dir);
        }
    }

    /// Opens the database, waiting up to [`OPEN_TIMEOUT`] for another process to close it.
    fn open_db(&self) -> Result<sled::Db, StateError> {
        let path = self.db_path();
        let deadline = Instant::now() + OPEN_TIMEOUT;
        let db = loop {
            match sled::Config::new().path(&path).open() {
                Ok(db) => break db,
                Err(e) if is_lock_contention(&e) && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) if is_lock_contention(&e) => {
                    return Err(StateError::Backend(format!(
                        "state database {} is in use by another process (is another Strake command running \
                         on this program?): {e}",
                        path.display()
                    )));
                }
                Err(e) => return Err(sled_error(format!("cannot open state database {}", path.display()), e)),
            }
        };
        make_private(&self.dir)?;
        Ok(db)
    }
}

impl StateStore for SledStore {
    fn load(&self, stack: &str) -> Result<Option<Snapshot>, StateError> {
        validate_stack_name(stack)?;
        let db = self.acquire()?;
        let name = tree_name(stack);
        if !db.tree_names().iter().any(|existing| existing == name.as_bytes()) {
            return Ok(None);
        }
        let tree = open_tree(&db, stack)?;
        // A consistent view: no write of this store (the only writer) lands while reading.
        let _order = self.write_order();
        let Some(meta) = read_meta(&tree, stack)? else {
            return Ok(None);
        };
        Ok(Some(Snapshot {
            meta,
            resources: read_prefix(&tree, stack, RESOURCE_PREFIX)?,
            pending: read_prefix(&tree, stack, PENDING_PREFIX)?,
        }))
    }

    fn write(&self, stack: &str, batch: Vec<Write>) -> Result<StackMeta, StateError> {
        validate_stack_name(stack)?;
        let db = self.acquire()?;
        let tree = open_tree(&db, stack)?;
        let meta = {
            let _order = self.write_order();
            let mut meta = read_meta(&tree, stack)?.unwrap_or_else(|| StackMeta::new(stack));
            if batch.iter().any(Write::changes_resources) {
                meta.serial += 1;
            }
            let mut changes = sled::Batch::default();
            for write in &batch {
                match write {
                    Write::PutResource(record) => {
                        let key = format!("{RESOURCE_PREFIX}{}", record.urn);
                        changes.insert(key.as_bytes(), to_json(stack, &key, record)?);
                    }
                    Write::DeleteResource { urn } => changes.remove(format!("{RESOURCE_PREFIX}{urn}").as_bytes()),
                    Write::PutPending(op) => {
                        let key = format!("{PENDING_PREFIX}{}", op.id);
                        changes.insert(key.as_bytes(), to_json(stack, &key, op)?);
                    }
                    Write::ClearPending { id } => changes.remove(format!("{PENDING_PREFIX}{id}").as_bytes()),
                }
            }
            changes.insert(META_KEY, to_json(stack, META_KEY, &meta)?);
            tree.apply_batch(changes).map_err(|e| sled_error(format!("cannot write stack `{stack}`"), e))?;
            meta
        };
        flush(&db)?;
        Ok(meta)
    }

    fn import(&self, snapshot: Snapshot) -> Result<StackMeta, StateError> {
        let stack = snapshot.meta.stack.clone();
        validate_stack_name(&stack)?;
        let db = self.acquire()?;
        let tree = open_tree(&db, &stack)?;
        let meta = {
            let _order = self.write_order();
            let meta = import_meta(&snapshot.meta, read_meta(&tree, &stack)?.as_ref())?;
            let mut changes = sled::Batch::default();
            for key in tree.iter().keys() {
                changes.remove(key.map_err(|e| sled_error(format!("cannot read stack `{stack}`"), e))?);
            }
            for record in &snapshot.resources {
                let key = format!("{RESOURCE_PREFIX}{}", record.urn);
                changes.insert(key.as_bytes(), to_json(&stack, &key, record)?);
            }
            for op in &snapshot.pending {
                let key = format!("{PENDING_PREFIX}{}", op.id);
                changes.insert(key.as_bytes(), to_json(&stack, &key, op)?);
            }
            changes.insert(META_KEY, to_json(&stack, META_KEY, &meta)?);
            tree.apply_batch(changes).map_err(|e| sled_error(format!("cannot import stack `{stack}`"), e))?;
            meta
        };
        flush(&db)?;
        Ok(meta)
    }

    fn lock(&self, stack: &str, info: &LockInfo) -> Result<(), StateError> {
        validate_stack_name(stack)?;
        lock_file::create(&self.dir, stack, info)?;
        self.slot().held.insert(stack.to_string(), info.id.clone());
        Ok(())
    }

    fn unlock(&self, stack: &str, lock_id: &str) -> Result<(), StateError> {
        validate_stack_name(stack)?;
        let result = lock_file::remove(&self.dir, stack, lock_id);
        // Even if the lock was broken meanwhile, this store no longer holds it.
        let mut slot = self.slot();
        if slot.held.get(stack).is_some_and(|id| id == lock_id) {
            slot.held.remove(stack);
        }
        self.close_if_idle(slot);
        result
    }

    fn lock_holder(&self, stack: &str) -> Result<Option<LockInfo>, StateError> {
        validate_stack_name(stack)?;
        lock_file::read(&self.dir, stack)
    }
}

fn tree_name(stack: &str) -> String {
    format!("stack/{stack}")
}

fn open_tree(db: &sled::Db, stack: &str) -> Result<sled::Tree, StateError> {
    db.open_tree(tree_name(stack)).map_err(|e| sled_error(format!("cannot open stack `{stack}`"), e))
}

fn flush(db: &sled::Db) -> Result<(), StateError> {
    db.flush().map(drop).map_err(|e| sled_error("cannot flush the state database to disk", e))
}

/// The stack's metadata, refusing a format newer than this crate understands.
fn read_meta(tree: &sled::Tree, stack: &str) -> Result<Option<StackMeta>, StateError> {
    let Some(bytes) = tree.get(META_KEY).map_err(|e| sled_error(format!("cannot read stack `{stack}`"), e))? else {
        return Ok(None);
    };
    let meta: StackMeta = from_json(stack, META_KEY.as_bytes(), &bytes)?;
    check_format_version(&meta)?;
    Ok(Some(meta))
}

/// All values under `prefix`, in key order.
fn read_prefix<T: DeserializeOwned>(tree: &sled::Tree, stack: &str, prefix: &str) -> Result<Vec<T>, StateError> {
    tree.scan_prefix(prefix)
        .map(|entry| {
            let (key, value) = entry.map_err(|e| sled_error(format!("cannot read stack `{stack}`"), e))?;
            from_json(stack, &key, &value)
        })
        .collect()
}

fn to_json<T: Serialize>(stack: &str, key: &str, value: &T) -> Result<Vec<u8>, StateError> {
    serde_json::to_vec(value).map_err(|e| StateError::Backend(format!("cannot encode `{stack}/{key}`: {e}")))
}

fn from_json<T: DeserializeOwned>(stack: &str, key: &[u8], bytes: &[u8]) -> Result<T, StateError> {
    serde_json::from_slice(bytes).map_err(|e| StateError::Corrupt {
        key: format!("{stack}/{}", String::from_utf8_lossy(key)),
        message: e.to_string(),
    })
}

/// Sets `dir` and every directory under it to 0700, and every regular file to 0600. Entries that
/// vanish meanwhile (sled removes old snapshots) are skipped.
fn make_private(dir: &Path) -> Result<(), StateError> {
    fs::set_permissions(dir, Permissions::from_mode(DIR_MODE)).map_err(|e| io_error(dir, e))?;
    for entry in fs::read_dir(dir).map_err(|e| io_error(dir, e))? {
        let path = entry.map_err(|e| io_error(dir, e))?.path();
        let file_type = match fs::symlink_metadata(&path) {
            Ok(metadata) => metadata.file_type(),
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(io_error(&path, e)),
        };
        if file_type.is_dir() {
            make_private(&path)?;
        } else if file_type.is_file() {
            match fs::set_permissions(&path, Permissions::from_mode(FILE_MODE)) {
                Err(e) if e.kind() != ErrorKind::NotFound => return Err(io_error(&path, e)),
                _ => {}
            }
        }
    }
    Ok(())
}

/// Whether opening failed because another process has the database open.
fn is_lock_contention(err: &sled::Error) -> bool {
    matches!(err, sled::Error::Io(io) if io.to_string().contains("could not acquire lock"))
}

fn sled_error(context: impl fmt::Display, err: sled::Error) -> StateError {
    StateError::Backend(format!("{context}: {err}"))
}

fn io_error(path: &Path, source: std::io::Error) -> StateError {
    StateError::Io { path: path.display().to_string(), source }
}
