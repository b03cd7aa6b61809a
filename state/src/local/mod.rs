//! The default backend: state in a private directory beside the program (`.strake/`).
//!
//! Per stack it keeps a **journal** of committed batches on top of a **snapshot** of the whole
//! state (together, a *segment*), plus a **head** record and a lock file outside them:
//!
//! ```text
//! .strake/<stack>.lock                      the lock (see [`lock`])
//! .strake/<stack>.head                      where the history must have reached (see [`codec`])
//! .strake/stacks/<stack>/seg-<G>.snapshot   the whole state at generation G
//! .strake/stacks/<stack>/seg-<G>.journal    the batches after G, one checksummed frame each
//! ```
//!
//! **Durable** means: `write` returns once its frame is on stable storage (`fdatasync` of the
//! journal; a new file's directory entry is synced too). One batch is one frame and one sync,
//! whatever its size, so concurrent steps share a sync (the engine's state writer groups them).
//! The head is updated after every sync without one of its own: after an OS crash it may lag, and
//! a head behind the journal is accepted when the journal passes through it.
//!
//! **Verified** means: every frame's checksum chains all commits before it, and the journal must
//! reach the head's generation with the head's digest. State that is damaged (a flipped byte, a
//! truncated file, an older copy of the directory put back) is refused with what is wrong and
//! how to restore, never read as older or empty state. Only a frame torn by a crash *after* the
//! head (never acknowledged) is dropped.
//!
//! At the end of a run that wrote, a journal grown past half its snapshot is compacted into a
//! new segment; the last [`KEEP_SEGMENTS`] segments are kept, and every run's last commit in them
//! is a restore point (`state history`, `state restore`).

mod codec;
mod legacy;
mod lock;

use std::collections::HashMap;
use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{BufWriter, ErrorKind};
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use self::codec::{Digest, Frame, HEAD_SLOT, Head, NextFrame, SnapshotFile};
use crate::content::Content;
use crate::records::{check_format_version, import_meta, validate_stack_name};
use crate::{LockInfo, RestorePoint, Snapshot, StackMeta, StateError, StateStore, Write};

/// Mode of the store's directories.
const DIR_MODE: u32 = 0o700;
/// Mode of the store's files.
const FILE_MODE: u32 = 0o600;
/// Segments kept (the current one and older ones, for restore points).
pub const KEEP_SEGMENTS: usize = 5;
/// A journal smaller than this is never compacted.
const COMPACT_MIN_BYTES: u64 = 256 * 1024;

/// A [`StateStore`] in a local directory: journal, snapshots, head and locks per stack.
pub struct LocalStore {
    dir: PathBuf,
    inner: Mutex<Inner>,
    syncs: AtomicU64,
}

#[derive(Default)]
struct Inner {
    held: HashMap<String, lock::Held>,
    /// Open journals, kept only while this store holds the stack's lock (no other writer then).
    tails: HashMap<String, Tail>,
}

/// Where a stack's history ends, as this store last read or wrote it under the stack's lock (no
/// other writer then): the first write after a load appends without reading the history again.
struct Tail {
    segment: u64,
    journal_len: u64,
    snapshot_len: u64,
    generation: u64,
    digest: Digest,
    meta: StackMeta,
    /// The journal and the head, open for appending; opened by the first write.
    files: Option<TailFiles>,
    /// Whether a frame was appended since the lock was taken (compaction is then considered).
    wrote: bool,
}

struct TailFiles {
    journal: File,
    head: File,
}

impl Tail {
    fn at(replay: &Replay) -> Tail {
        Tail {
            segment: replay.segment,
            journal_len: replay.journal_len,
            snapshot_len: replay.snapshot_len,
            generation: replay.generation,
            digest: replay.digest,
            meta: replay.content.meta.clone(),
            files: None,
            wrote: false,
        }
    }
}

/// A stack's state as read from one segment, up to where its journal is intact.
struct Replay {
    content: Content,
    segment: u64,
    snapshot_len: u64,
    generation: u64,
    digest: Digest,
    /// The journal's intact length.
    journal_len: u64,
    /// Why the journal stops before its end, if it does.
    damage: Option<String>,
}

impl std::fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStore").field("dir", &self.dir).finish_non_exhaustive()
    }
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn io_error(path: &Path, source: std::io::Error) -> StateError {
    StateError::Io { path: path.display().to_string(), source }
}

fn damaged(stack: &str, problem: impl Into<String>) -> StateError {
    StateError::Damaged { stack: stack.to_string(), problem: problem.into() }
}

fn segment_name(generation: u64, ext: &str) -> String {
    format!("seg-{generation:020}.{ext}")
}

impl LocalStore {
    /// A store in `dir`, created with mode 0700 if missing.
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self, StateError> {
        let dir = dir.into();
        if dir.is_file() {
            return Err(StateError::Backend(format!(
                "{} is a file, but Strake keeps state in a folder of that name beside the program; move the file away",
                dir.display()
            )));
        }
        DirBuilder::new().recursive(true).mode(DIR_MODE).create(&dir).map_err(|e| io_error(&dir, e))?;
        fs::set_permissions(&dir, Permissions::from_mode(DIR_MODE)).map_err(|e| io_error(&dir, e))?;
        Ok(LocalStore { dir, inner: Mutex::default(), syncs: AtomicU64::new(0) })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How many times this store has synced a file or directory to stable storage.
    pub fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    /// The inner maps are only touched in whole steps, so a poisoned mutex is safe to recover.
    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stack_dir(&self, stack: &str) -> PathBuf {
        self.dir.join("stacks").join(stack)
    }

    fn head_path(&self, stack: &str) -> PathBuf {
        self.dir.join(format!("{stack}.head"))
    }

    fn sync_data(&self, file: &File, path: &Path) -> Result<(), StateError> {
        self.syncs.fetch_add(1, Ordering::Relaxed);
        file.sync_data().map_err(|e| io_error(path, e))
    }

    fn sync_dir(&self, dir: &Path) -> Result<(), StateError> {
        self.syncs.fetch_add(1, Ordering::Relaxed);
        File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io_error(dir, e))
    }

    /// The segments of `stack` (their base generations), oldest first.
    fn segments(&self, stack: &str) -> Result<Vec<u64>, StateError> {
        let dir = self.stack_dir(stack);
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error(&dir, e)),
        };
        let mut segments = Vec::new();
        for entry in entries {
            let name = entry.map_err(|e| io_error(&dir, e))?.file_name();
            let name = name.to_string_lossy();
            if let Some(g) = name.strip_prefix("seg-").and_then(|r| r.strip_suffix(".snapshot")).and_then(|g| g.parse().ok()) {
                segments.push(g);
            }
        }
        segments.sort_unstable();
        Ok(segments)
    }

    fn read_head(&self, stack: &str) -> Result<Option<Head>, StateError> {
        let path = self.head_path(stack);
        match fs::read(&path) {
            Ok(bytes) => {
                codec::decode_head(&bytes).map(Some).map_err(|e| damaged(stack, format!("its head record {} is unreadable: {e}", path.display())))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(&path, e)),
        }
    }

    /// Reads segment `segment` and its journal up to generation `stop` (or its intact end),
    /// calling `each` after every frame applied (with the frame's writes taken out).
    fn replay(&self, stack: &str, segment: u64, stop: Option<u64>, each: &mut dyn FnMut(&Content, &Frame)) -> Result<Replay, StateError> {
        let dir = self.stack_dir(stack);
        let snapshot_path = dir.join(segment_name(segment, "snapshot"));
        let bytes = fs::read(&snapshot_path).map_err(|e| io_error(&snapshot_path, e))?;
        let base: SnapshotFile = codec::unseal(&bytes)
            .map_err(|e| damaged(stack, format!("its snapshot at generation {segment} ({}) is damaged: {e}", snapshot_path.display())))?;
        check_format_version(&base.snapshot.meta)?;
        let mut digest =
            parse_digest(&base.digest).ok_or_else(|| damaged(stack, format!("its snapshot at generation {segment} has a bad digest")))?;
        let snapshot_len = bytes.len() as u64;
        drop(bytes);
        let mut content = Content::from_snapshot(base.snapshot);
        let mut generation = base.generation;
        let journal_path = dir.join(segment_name(segment, "journal"));
        let journal = match fs::read(&journal_path) {
            Ok(j) => j,
            Err(e) if e.kind() == ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_error(&journal_path, e)),
        };
        let mut at = 0usize;
        let mut damage = None;
        while stop.is_none_or(|s| generation < s) {
            match codec::decode_frame(&journal[at..], &digest) {
                NextFrame::End => break,
                NextFrame::Bad(why) => {
                    damage = Some(format!("after generation {generation}, {why} (byte {at} of {})", journal_path.display()));
                    break;
                }
                NextFrame::Frame { mut frame, digest: d, len } => {
                    if frame.generation != generation + 1 {
                        damage = Some(format!("after generation {generation} comes generation {}", frame.generation));
                        break;
                    }
                    for w in std::mem::take(&mut frame.writes) {
                        content.apply(w);
                    }
                    content.meta.serial = frame.serial;
                    generation = frame.generation;
                    digest = d;
                    at += len;
                    each(&content, &frame);
                }
            }
        }
        Ok(Replay { content, segment, snapshot_len, generation, digest, journal_len: at as u64, damage })
    }

    /// The current state of `stack`, checked against its head; `None` if it has none. A stack
    /// an earlier Strake kept in its database is migrated first.
    fn current(&self, stack: &str) -> Result<Option<Replay>, StateError> {
        legacy::migrate(self, stack)?;
        self.verified(stack)
    }

    /// The current state of `stack` in this store's own files, checked against its head.
    fn verified(&self, stack: &str) -> Result<Option<Replay>, StateError> {
        let segments = self.segments(stack)?;
        let head = self.read_head(stack)?;
        let (Some(&segment), Some(head)) = (segments.last(), head.as_ref()) else {
            return match (segments.is_empty(), head) {
                (true, None) => Ok(None),
                (true, Some(h)) => Err(damaged(
                    stack,
                    format!(
                        "its head record says it reached generation {}, but its data directory {} holds nothing",
                        h.generation,
                        self.stack_dir(stack).display()
                    ),
                )),
                (false, _) => Err(damaged(stack, format!("its head record {} is missing", self.head_path(stack).display()))),
            };
        };
        let replay = self.replay(stack, segment, None, &mut |_, _| {})?;
        self.check_against_head(stack, &replay, head)?;
        Ok(Some(replay))
    }

    /// Refuses a replay that does not reach the head, or reaches it elsewhere.
    fn check_against_head(&self, stack: &str, replay: &Replay, head: &Head) -> Result<(), StateError> {
        if replay.content.meta.lineage != head.lineage {
            return Err(damaged(
                stack,
                format!(
                    "its data belongs to another history (lineage {}) than its head record (lineage {})",
                    replay.content.meta.lineage, head.lineage
                ),
            ));
        }
        if replay.generation < head.generation {
            let why = match &replay.damage {
                Some(d) => format!("it is damaged {d}"),
                None => format!(
                    "it ends at generation {} (serial {}), but its head record says generation {} (serial {}) was committed: the data is older than the record of it",
                    replay.generation, replay.content.meta.serial, head.generation, head.serial
                ),
            };
            return Err(damaged(stack, why));
        }
        if head.generation < replay.segment {
            return Err(damaged(
                stack,
                format!("its head record (generation {}) is older than its newest snapshot (generation {})", head.generation, replay.segment),
            ));
        }
        // The head is at or behind the end: the digest there must be the head's.
        let digest = if head.generation == replay.generation {
            replay.digest
        } else {
            self.replay(stack, replay.segment, Some(head.generation), &mut |_, _| {})?.digest
        };
        if codec::hex(&digest) != head.digest {
            return Err(damaged(stack, format!("its data at generation {} does not match its head record's checksum", head.generation)));
        }
        Ok(())
    }

    /// Where `stack`'s history ends, read from its files; a stack with no state is created.
    fn read_tail(&self, stack: &str) -> Result<Tail, StateError> {
        let replay = match self.current(stack)? {
            Some(r) => r,
            None => {
                let meta = StackMeta::new(stack);
                let digest = codec::genesis(&meta.lineage);
                self.write_segment(stack, 0, digest, "new", Content::new(meta).snapshot())?;
                self.current(stack)?.ok_or_else(|| damaged(stack, "it vanished while being created"))?
            }
        };
        Ok(Tail::at(&replay))
    }

    /// Opens the tail's journal and head for appending, first cutting off a frame torn by a crash
    /// after the head (it was never acknowledged).
    fn open_files(&self, stack: &str, tail: &Tail) -> Result<TailFiles, StateError> {
        let journal_path = self.stack_dir(stack).join(segment_name(tail.segment, "journal"));
        let journal = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(FILE_MODE)
            .open(&journal_path)
            .map_err(|e| io_error(&journal_path, e))?;
        if journal.metadata().map_err(|e| io_error(&journal_path, e))?.len() != tail.journal_len {
            journal.set_len(tail.journal_len).map_err(|e| io_error(&journal_path, e))?;
            self.sync_data(&journal, &journal_path)?;
        }
        let head_path = self.head_path(stack);
        let head = OpenOptions::new().write(true).open(&head_path).map_err(|e| io_error(&head_path, e))?;
        Ok(TailFiles { journal, head })
    }

    /// Writes the head record (slot by generation), and syncs it when asked.
    fn write_head(&self, stack: &str, file: &File, head: &Head, sync: bool) -> Result<(), StateError> {
        let path = self.head_path(stack);
        let bytes = codec::encode_head(head).map_err(StateError::Backend)?;
        file.write_all_at(&bytes, (head.generation % 2) * HEAD_SLOT as u64).map_err(|e| io_error(&path, e))?;
        if sync { self.sync_data(file, &path) } else { Ok(()) }
    }

    /// Starts a segment at `generation` with `snapshot` (durably), points the head at it, and
    /// prunes segments beyond [`KEEP_SEGMENTS`].
    fn write_segment(&self, stack: &str, generation: u64, digest: Digest, reason: &str, snapshot: Snapshot) -> Result<(), StateError> {
        let dir = self.stack_dir(stack);
        let created = !dir.exists();
        DirBuilder::new().recursive(true).mode(DIR_MODE).create(&dir).map_err(|e| io_error(&dir, e))?;
        if created {
            self.sync_dir(&self.dir.join("stacks"))?;
            self.sync_dir(&self.dir)?;
        }
        let head = Head { lineage: snapshot.meta.lineage.clone(), generation, serial: snapshot.meta.serial, digest: codec::hex(&digest) };
        let file = SnapshotFile { generation, digest: codec::hex(&digest), time: now(), reason: reason.to_string(), snapshot };
        let final_path = dir.join(segment_name(generation, "snapshot"));
        let temp = dir.join(format!("{}.tmp", segment_name(generation, "snapshot")));
        {
            let f = OpenOptions::new().write(true).create(true).truncate(true).mode(FILE_MODE).open(&temp).map_err(|e| io_error(&temp, e))?;
            let written = codec::seal_to(&file, BufWriter::with_capacity(1 << 20, f));
            let f = written.and_then(|w| w.into_inner().map_err(|e| e.into_error())).map_err(|e| io_error(&temp, e))?;
            self.sync_data(&f, &temp)?;
        }
        let journal = dir.join(segment_name(generation, "journal"));
        File::create(&journal).and_then(|f| f.set_permissions(Permissions::from_mode(FILE_MODE))).map_err(|e| io_error(&journal, e))?;
        fs::rename(&temp, &final_path).map_err(|e| io_error(&final_path, e))?;
        self.sync_dir(&dir)?;
        let head_path = self.head_path(stack);
        let head_file =
            OpenOptions::new().write(true).create(true).truncate(false).mode(FILE_MODE).open(&head_path).map_err(|e| io_error(&head_path, e))?;
        self.write_head(stack, &head_file, &head, true)?;
        if created {
            self.sync_dir(&self.dir)?;
        }
        self.prune(stack)
    }

    /// Removes segments beyond the newest [`KEEP_SEGMENTS`], and leftovers of interrupted writes.
    fn prune(&self, stack: &str) -> Result<(), StateError> {
        let segments = self.segments(stack)?;
        let dir = self.stack_dir(stack);
        let old = segments.len().saturating_sub(KEEP_SEGMENTS);
        for &g in &segments[..old] {
            for ext in ["journal", "snapshot"] {
                let path = dir.join(segment_name(g, ext));
                match fs::remove_file(&path) {
                    Err(e) if e.kind() != ErrorKind::NotFound => return Err(io_error(&path, e)),
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Compacts the journal of a stack this store is releasing, when it has grown enough.
    fn compact_if_grown(&self, stack: &str, tail: Tail) -> Result<(), StateError> {
        if !tail.wrote || tail.journal_len < COMPACT_MIN_BYTES.max(tail.snapshot_len / 2) {
            return Ok(());
        }
        // The head becomes durable first, so it is never older than the new snapshot.
        if let Some(files) = &tail.files {
            self.sync_data(&files.head, &self.head_path(stack))?;
        }
        let replay = self.replay(stack, tail.segment, None, &mut |_, _| {})?;
        if replay.generation != tail.generation {
            return Err(damaged(
                stack,
                format!("its journal read back ends at generation {}, not {} as written", replay.generation, tail.generation),
            ));
        }
        self.write_segment(stack, tail.generation, tail.digest, "compaction", replay.content.into_snapshot())
    }

    /// Replaces a stack's state with `snapshot` (lineage kept, serial past both), as a new
    /// segment made for `reason`.
    fn import_as(&self, snapshot: Snapshot, reason: &str) -> Result<StackMeta, StateError> {
        let stack = snapshot.meta.stack.clone();
        let current = self.verified(&stack).ok().flatten().map(|r| r.content.meta);
        let meta = import_meta(&snapshot.meta, current.as_ref())?;
        let snapshot = Snapshot { meta: meta.clone(), ..snapshot };
        let (generation, previous) = self.next_base(&stack)?;
        let digest = codec::chain(&previous, &serde_json::to_vec(&snapshot).map_err(|e| StateError::Backend(e.to_string()))?);
        self.write_segment(&stack, generation, digest, reason, snapshot)?;
        Ok(meta)
    }

    /// The next generation and digest for a whole new segment (import, restore), after what
    /// exists (the current state, or whatever the head and the segments say if it is damaged).
    fn next_base(&self, stack: &str) -> Result<(u64, Digest), StateError> {
        let head = self.read_head(stack).ok().flatten();
        let last_segment = self.segments(stack)?.last().copied().unwrap_or(0);
        let journal_end = self.segments(stack)?.last().and_then(|&s| self.replay(stack, s, None, &mut |_, _| {}).ok()).map(|r| r.generation);
        let generation = head.as_ref().map_or(0, |h| h.generation).max(last_segment).max(journal_end.unwrap_or(0)) + 1;
        let previous = head.and_then(|h| parse_digest(&h.digest)).unwrap_or([0; 32]);
        Ok((generation, previous))
    }
}

fn parse_digest(hex: &str) -> Option<Digest> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

impl StateStore for LocalStore {
    fn load(&self, stack: &str) -> Result<Option<Snapshot>, StateError> {
        validate_stack_name(stack)?;
        let mut inner = self.inner();
        let Some(replay) = self.current(stack)? else { return Ok(None) };
        if inner.held.contains_key(stack) {
            inner.tails.entry(stack.to_string()).or_insert_with(|| Tail::at(&replay));
        }
        Ok(Some(replay.content.into_snapshot()))
    }

    fn prepare(&self, stack: &str) -> Result<(), StateError> {
        validate_stack_name(stack)?;
        let mut inner = self.inner();
        if !inner.held.contains_key(stack) {
            return Ok(());
        }
        let mut tail = match inner.tails.remove(stack) {
            Some(t) => t,
            None => self.read_tail(stack)?,
        };
        if tail.files.is_none() {
            tail.files = Some(self.open_files(stack, &tail)?);
        }
        inner.tails.insert(stack.to_string(), tail);
        Ok(())
    }

    fn write(&self, stack: &str, batch: Vec<Write>) -> Result<StackMeta, StateError> {
        validate_stack_name(stack)?;
        let mut inner = self.inner();
        let (lock_id, operation) = inner.held.get(stack).map(|h| (h.info.id.clone(), h.info.operation.clone())).unwrap_or_default();
        let locked = !lock_id.is_empty();
        let mut tail = match inner.tails.remove(stack) {
            Some(t) => t,
            None => self.read_tail(stack)?,
        };
        let files = match tail.files.take() {
            Some(f) => f,
            None => self.open_files(stack, &tail)?,
        };
        let serial = tail.meta.serial + u64::from(batch.iter().any(Write::changes_resources));
        let frame = Frame { generation: tail.generation + 1, serial, time: now(), lock: lock_id, operation, writes: batch };
        let (bytes, digest) = codec::encode_frame(&frame, &tail.digest).map_err(StateError::Backend)?;
        let journal_path = self.stack_dir(stack).join(segment_name(tail.segment, "journal"));
        // On any failure the tail is dropped: the next write reopens the journal and cuts a
        // partly written frame off.
        files.journal.write_all_at(&bytes, tail.journal_len).map_err(|e| io_error(&journal_path, e))?;
        self.sync_data(&files.journal, &journal_path)?;
        tail.journal_len += bytes.len() as u64;
        tail.generation = frame.generation;
        tail.digest = digest;
        tail.meta.serial = serial;
        tail.wrote = true;
        let head = Head { lineage: tail.meta.lineage.clone(), generation: tail.generation, serial, digest: codec::hex(&digest) };
        self.write_head(stack, &files.head, &head, false)?;
        tail.files = Some(files);
        let meta = tail.meta.clone();
        if locked {
            inner.tails.insert(stack.to_string(), tail);
        }
        Ok(meta)
    }

    fn import(&self, snapshot: Snapshot) -> Result<StackMeta, StateError> {
        validate_stack_name(&snapshot.meta.stack)?;
        let mut inner = self.inner();
        inner.tails.remove(&snapshot.meta.stack);
        legacy::migrate(self, &snapshot.meta.stack)?;
        self.import_as(snapshot, "import")
    }

    fn lock(&self, stack: &str, info: &LockInfo) -> Result<Option<LockInfo>, StateError> {
        validate_stack_name(stack)?;
        let (held, stale) = lock::take(&self.dir, stack, info)?;
        let mut inner = self.inner();
        inner.held.insert(stack.to_string(), held);
        inner.tails.remove(stack);
        Ok(stale)
    }

    fn unlock(&self, stack: &str, lock_id: &str) -> Result<(), StateError> {
        validate_stack_name(stack)?;
        let mut inner = self.inner();
        match inner.held.get(stack) {
            Some(h) if h.info.id == lock_id => {}
            Some(h) => {
                return Err(StateError::LockMismatch { stack: stack.into(), expected: lock_id.into(), holder: Box::new(h.info.clone()) });
            }
            None => {
                return match lock::holder(&self.dir, stack)? {
                    Some(holder) => Err(StateError::LockMismatch { stack: stack.into(), expected: lock_id.into(), holder: Box::new(holder) }),
                    None => Err(StateError::NotLocked { stack: stack.into() }),
                };
            }
        }
        // Compaction failing leaves the journal as it is, which is still correct state.
        let compacted = match inner.tails.remove(stack) {
            Some(tail) => self.compact_if_grown(stack, tail),
            None => Ok(()),
        };
        if let Some(held) = inner.held.remove(stack) {
            lock::release(&self.dir, stack, held)?;
        }
        compacted
    }

    fn lock_holder(&self, stack: &str) -> Result<Option<LockInfo>, StateError> {
        validate_stack_name(stack)?;
        lock::holder(&self.dir, stack)
    }

    fn force_unlock(&self, stack: &str, lock_id: &str) -> Result<(), StateError> {
        validate_stack_name(stack)?;
        lock::force_remove(&self.dir, stack, lock_id)?;
        let mut inner = self.inner();
        if inner.held.get(stack).is_some_and(|h| h.info.id == lock_id) {
            inner.held.remove(stack);
            inner.tails.remove(stack);
        }
        Ok(())
    }

    fn history(&self, stack: &str) -> Result<Vec<RestorePoint>, StateError> {
        validate_stack_name(stack)?;
        legacy::migrate(self, stack)?;
        let mut points = Vec::new();
        for segment in self.segments(stack)? {
            let dir = self.stack_dir(stack);
            let base: Option<SnapshotFile> = fs::read(dir.join(segment_name(segment, "snapshot"))).ok().and_then(|b| codec::unseal(&b).ok());
            if let Some(base) = &base {
                points.push(RestorePoint {
                    generation: segment,
                    serial: base.snapshot.meta.serial,
                    time: base.time,
                    made_by: base.reason.clone(),
                    resources: base.snapshot.resources.len(),
                    pending: base.snapshot.pending.len(),
                });
            }
            let mut last: Option<RestorePoint> = None;
            let mut last_lock = String::new();
            let replay = self.replay(stack, segment, None, &mut |content, frame| {
                let point = RestorePoint {
                    generation: frame.generation,
                    serial: frame.serial,
                    time: frame.time,
                    made_by: if frame.operation.is_empty() { "a write without a lock".into() } else { format!("`{}`", frame.operation) },
                    resources: content.resources.len(),
                    pending: content.pending.len(),
                };
                if let Some(previous) = last.take()
                    && frame.lock != last_lock
                {
                    points.push(previous);
                }
                last_lock = frame.lock.clone();
                last = Some(point);
            });
            // A damaged journal still gives the points before the damage.
            let _ = replay;
            points.extend(last);
        }
        points.sort_by_key(|p| p.generation);
        points.dedup_by_key(|p| p.generation);
        Ok(points)
    }

    fn restore(&self, stack: &str, generation: u64) -> Result<StackMeta, StateError> {
        validate_stack_name(stack)?;
        let mut inner = self.inner();
        inner.tails.remove(stack);
        let Some(&segment) = self.segments(stack)?.iter().rev().find(|&&s| s <= generation) else {
            return Err(StateError::Backend(format!("stack `{stack}` keeps no state as old as generation {generation}; see `state history`")));
        };
        let replay = self.replay(stack, segment, Some(generation), &mut |_, _| {})?;
        if replay.generation != generation {
            return Err(StateError::Backend(format!(
                "stack `{stack}` cannot be restored to generation {generation}: its journal is intact only up to generation {}; see `state history`",
                replay.generation
            )));
        }
        let (next, previous) = self.next_base(stack)?;
        let serial = self.read_head(stack).ok().flatten().map_or(0, |h| h.serial).max(replay.content.meta.serial) + 1;
        let meta = StackMeta { serial, ..replay.content.meta.clone() };
        let snapshot = Snapshot { meta: meta.clone(), ..replay.content.into_snapshot() };
        let digest = codec::chain(&previous, &serde_json::to_vec(&snapshot).map_err(|e| StateError::Backend(e.to_string()))?);
        self.write_segment(stack, next, digest, &format!("restore of generation {generation}"), snapshot)?;
        Ok(meta)
    }
}
