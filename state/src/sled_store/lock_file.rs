//! Stack lock files: `<dir>/<stack>.lock` holds the holder's [`LockInfo`] as JSON.
//!
//! A lock file is written completely under a temporary name (created with `create_new`, mode
//! 0600) and then hard-linked to its final name. The link fails if the lock file exists, so taking
//! a lock is atomic across threads and processes, and a lock file is never seen half-written, even
//! after a crash.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write as _};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{FILE_MODE, io_error};
use crate::{LockInfo, StateError};

/// How often `create` retries when a lock file disappears between failing to link and reading it.
const CREATE_ATTEMPTS: usize = 5;

/// Distinguishes temporary files of concurrent `create` calls in one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn lock_path(dir: &Path, stack: &str) -> PathBuf {
    dir.join(format!("{stack}.lock"))
}

/// Takes the lock of `stack` for `info`, or fails with [`StateError::Locked`] naming the holder.
pub(super) fn create(dir: &Path, stack: &str, info: &LockInfo) -> Result<(), StateError> {
    let path = lock_path(dir, stack);
    let json = serde_json::to_vec_pretty(info)
        .map_err(|e| StateError::Backend(format!("cannot encode lock info for stack `{stack}`: {e}")))?;
    for _ in 0..CREATE_ATTEMPTS {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = dir.join(format!(".{stack}.lock.{}.{n}.tmp", std::process::id()));
        write_new_private(&temp, &json)?;
        let linked = fs::hard_link(&temp, &path);
        // Best effort: a leftover temporary file is harmless.
        let _ = fs::remove_file(&temp);
        match linked {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                if let Some(holder) = read(dir, stack)? {
                    return Err(StateError::Locked { stack: stack.to_string(), holder: Box::new(holder) });
                }
                // Unlocked in the meantime: try again.
            }
            Err(e) => return Err(io_error(&path, e)),
        }
    }
    Err(StateError::Backend(format!(
        "could not take the lock {}: it was taken and released {CREATE_ATTEMPTS} times while trying",
        path.display()
    )))
}

/// Writes `contents` to a new file with mode 0600 and syncs it.
fn write_new_private(path: &Path, contents: &[u8]) -> Result<(), StateError> {
    let mut file =
        OpenOptions::new().write(true).create_new(true).mode(FILE_MODE).open(path).map_err(|e| io_error(path, e))?;
    file.write_all(contents).and_then(|()| file.sync_all()).map_err(|e| io_error(path, e))
}

/// The current holder of `stack`'s lock, if any.
pub(super) fn read(dir: &Path, stack: &str) -> Result<Option<LockInfo>, StateError> {
    let path = lock_path(dir, stack);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(&path, e)),
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| StateError::Corrupt {
        key: path.display().to_string(),
        message: format!("{e}; if no Strake process holds this stack, delete the file"),
    })
}

/// Removes `stack`'s lock if its id is `lock_id`.
pub(super) fn remove(dir: &Path, stack: &str, lock_id: &str) -> Result<(), StateError> {
    let not_locked = || StateError::NotLocked { stack: stack.to_string() };
    let holder = read(dir, stack)?.ok_or_else(not_locked)?;
    if holder.id != lock_id {
        return Err(StateError::LockMismatch { stack: stack.to_string(), expected: lock_id.to_string(), holder: Box::new(holder) });
    }
    let path = lock_path(dir, stack);
    match fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Err(not_locked()),
        Err(e) => Err(io_error(&path, e)),
    }
}
