//! Stack locks: `<dir>/<stack>.lock`, held with an exclusive OS file lock (`flock`) for as long
//! as a run holds the stack, and holding the holder's [`LockInfo`] as JSON (empty when free).
//!
//! The OS releases a file lock when its process dies, however it dies. So a lock file whose OS
//! lock can be taken while it still names a holder was left by a crashed run: taking the lock
//! then breaks it, and says whose it was. A live holder is never disturbed. The file is never
//! removed on unlock (only emptied), so two runs can never lock two different files of one name.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write as _};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::{FILE_MODE, io_error};
use crate::{LockInfo, StateError};

/// A lock this store holds: the open, OS-locked file.
pub(super) struct Held {
    pub info: LockInfo,
    _file: File,
}

/// How long (in 2 ms rounds) to wait for a new holder to write its info.
const INFO_WAIT_ROUNDS: usize = 500;

fn lock_path(dir: &Path, stack: &str) -> PathBuf {
    dir.join(format!("{stack}.lock"))
}

fn open(path: &Path) -> Result<File, StateError> {
    OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(FILE_MODE).open(path).map_err(|e| io_error(path, e))
}

fn read_info(file: &mut File, path: &Path) -> Result<Option<LockInfo>, StateError> {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0)).and_then(|_| file.read_to_end(&mut bytes)).map_err(|e| io_error(path, e))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(&bytes).map(Some).map_err(|e| StateError::Corrupt {
        key: path.display().to_string(),
        message: format!("{e}; if no Strake process holds this stack, delete the file"),
    })
}

/// Whether `file` is still the file at `path` (a `force-unlock` may have removed it meanwhile).
fn is_current(file: &File, path: &Path) -> bool {
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    }
}

/// Takes `stack`'s lock for `info`. Returns the lock and the stale holder it broke, if any; fails
/// with [`StateError::Locked`] while a live run holds it.
pub(super) fn take(dir: &Path, stack: &str, info: &LockInfo) -> Result<(Held, Option<LockInfo>), StateError> {
    let path = lock_path(dir, stack);
    let mut unnamed_rounds = 0;
    loop {
        let mut file = open(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                // Held by a live run, which writes its info right after taking the lock. A lock
                // without info is being taken or released right now: try again shortly.
                if let Some(holder) = read_info(&mut file, &path)? {
                    return Err(StateError::Locked { stack: stack.to_string(), holder: Box::new(holder) });
                }
                unnamed_rounds += 1;
                if unnamed_rounds > INFO_WAIT_ROUNDS {
                    return Err(StateError::Backend(format!(
                        "stack `{stack}` is locked by a process that has not said who it is ({}); try again",
                        path.display()
                    )));
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
                continue;
            }
            Err(fs::TryLockError::Error(e)) => return Err(io_error(&path, e)),
        }
        if !is_current(&file, &path) {
            continue; // removed by a force-unlock between open and lock: take the new file
        }
        // Whatever the file still says was written by a run that is gone (unreadable: by a
        // Strake that wrote it differently); it is overwritten.
        let stale = read_info(&mut file, &path).ok().flatten();
        let json = serde_json::to_vec_pretty(info).map_err(|e| StateError::Backend(format!("cannot encode lock info for stack `{stack}`: {e}")))?;
        (|| {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            file.write_all(&json)?;
            file.flush()
        })()
        .map_err(|e| io_error(&path, e))?;
        return Ok((Held { info: info.clone(), _file: file }, stale));
    }
}

/// Releases a held lock: empties the file, then closes it (which drops the OS lock).
pub(super) fn release(dir: &Path, stack: &str, held: Held) -> Result<(), StateError> {
    let path = lock_path(dir, stack);
    if is_current(&held._file, &path) {
        held._file.set_len(0).map_err(|e| io_error(&path, e))?;
    }
    Ok(())
}

/// The live holder of `stack`'s lock, if any (a file naming a dead holder is free).
pub(super) fn holder(dir: &Path, stack: &str) -> Result<Option<LockInfo>, StateError> {
    let path = lock_path(dir, stack);
    let mut file = match OpenOptions::new().read(true).open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(&path, e)),
    };
    match file.try_lock_shared() {
        Ok(()) => Ok(None),
        Err(fs::TryLockError::WouldBlock) => read_info(&mut file, &path),
        Err(fs::TryLockError::Error(e)) => Err(io_error(&path, e)),
    }
}

/// Breaks the lock whose id is `lock_id` whatever its holder: removes the lock file, so the next
/// run takes a new one. (The old holder, if it still runs, keeps believing it holds the lock:
/// that is what forcing means.)
pub(super) fn force_remove(dir: &Path, stack: &str, lock_id: &str) -> Result<(), StateError> {
    let path = lock_path(dir, stack);
    let current = match holder(dir, stack)? {
        Some(h) => h,
        None => return Err(StateError::NotLocked { stack: stack.to_string() }),
    };
    if current.id != lock_id {
        return Err(StateError::LockMismatch { stack: stack.to_string(), expected: lock_id.to_string(), holder: Box::new(current) });
    }
    fs::remove_file(&path).map_err(|e| io_error(&path, e))
}
