//! One stack in the bucket: reading it (manifest, snapshot, deltas, then the journal after them)
//! and checkpointing it (folding the journal into a delta or a snapshot, then the manifest).

use std::collections::BTreeSet;
use std::time::SystemTime;

use super::layout::{
    Delta, DeltaRef, Entry, Fold, Manifest, SnapshotRef, StateDoc, Unfolded, delta_name, entry_name, entry_seq, fold, history_name, manifest_name,
    snapshot_name,
};
use super::objects::{Condition, Got, Objects, Refused};
use super::{json, parse};
use crate::content::Content;
use crate::records::check_format_version;
use crate::{RestorePoint, StackMeta, StateError};

/// Objects read at once.
const READ_AHEAD: usize = 16;

/// A stack as this store last read or wrote it.
pub(super) struct Cached {
    pub content: Content,
    /// The last journal entry applied.
    pub seq: u64,
    /// The manifest read or last written, and its ETag.
    pub manifest: Option<Manifest>,
    pub manifest_etag: Option<String>,
    /// The manifest's deltas, for merging.
    pub deltas: Vec<Delta>,
    /// What the entries after the manifest change.
    pub unfolded: Unfolded,
    /// The pending operations of the state the manifest makes.
    pub folded_pending: BTreeSet<String>,
    /// Whether anything was ever written (a stack never written loads as `None`).
    pub exists: bool,
}

impl Cached {
    /// The last entry the manifest covers.
    pub fn folded_seq(&self) -> u64 {
        self.manifest.as_ref().map_or(0, |m| m.seq)
    }
}

fn damaged(stack: &str, problem: String) -> StateError {
    StateError::Damaged { stack: stack.to_string(), problem }
}

/// Reads `names` a few at a time, in order. A name listed or referenced but missing is damage.
async fn get_all(objects: &Objects, stack: &str, names: Vec<String>) -> Result<Vec<(String, Got)>, StateError> {
    let mut out = Vec::with_capacity(names.len());
    for chunk in names.chunks(READ_AHEAD) {
        let mut reads = tokio::task::JoinSet::new();
        for (i, name) in chunk.iter().enumerate() {
            let (objects, name) = (objects.clone(), name.clone());
            reads.spawn(async move { (i, objects.get(&name).await) });
        }
        let mut got: Vec<Option<Got>> = chunk.iter().map(|_| None).collect();
        while let Some(joined) = reads.join_next().await {
            let (i, read) = joined.map_err(|e| StateError::Backend(format!("reading the state of stack `{stack}`: {e}")))?;
            let body = read?.ok_or_else(|| damaged(stack, format!("{} is part of the state but is missing", objects.key(&chunk[i]))))?;
            got[i] = Some(body);
        }
        out.extend(chunk.iter().cloned().zip(got.into_iter().map(|b| b.expect("every read answered"))));
    }
    Ok(out)
}

/// The content a manifest describes, and its deltas.
pub(super) async fn load_manifest(objects: &Objects, stack: &str, manifest: &Manifest) -> Result<(Content, Vec<Delta>), StateError> {
    check_format_version(&manifest.meta)?;
    let mut names: Vec<String> = manifest.snapshot.iter().map(|s| snapshot_name(stack, s.seq)).collect();
    names.extend(manifest.deltas.iter().map(|d| delta_name(stack, d.from, d.to)));
    let mut parts = get_all(objects, stack, names).await?.into_iter();
    let mut content = Content::new(manifest.meta.clone());
    let mut at = 0;
    if let Some(wanted) = manifest.snapshot {
        let (name, got) = parts.next().expect("read above");
        let doc: StateDoc = parse(&objects.key(&name), &got.body)?;
        check_format_version(&doc.snapshot.meta)?;
        if doc.seq != wanted.seq {
            return Err(damaged(stack, format!("{} holds entry {} where the manifest says {}", objects.key(&name), doc.seq, wanted.seq)));
        }
        content = Content::from_snapshot(doc.snapshot);
        at = doc.seq;
    }
    let mut deltas = Vec::with_capacity(manifest.deltas.len());
    for ((name, got), wanted) in parts.zip(&manifest.deltas) {
        let delta: Delta = parse(&objects.key(&name), &got.body)?;
        check_format_version(&delta.meta)?;
        if (delta.from, delta.to) != (wanted.from, wanted.to) || delta.from != at + 1 {
            return Err(damaged(stack, format!("{} covers entries {}..={} after entry {at}", objects.key(&name), delta.from, delta.to)));
        }
        delta.changes.apply_to(&mut content);
        at = delta.to;
        deltas.push(delta);
    }
    if at > manifest.seq {
        return Err(damaged(stack, format!("the manifest covers entry {} but its parts reach entry {at}", manifest.seq)));
    }
    content.meta = manifest.meta.clone();
    Ok((content, deltas))
}

/// Reads a stack from the bucket: the manifest's parts, then the journal after them.
pub(super) async fn read(objects: &Objects, stack: &str) -> Result<Cached, StateError> {
    let manifest_key = objects.key(&manifest_name(stack));
    let (manifest, manifest_etag) = match objects.get(&manifest_name(stack)).await? {
        Some(got) => (Some(parse::<Manifest>(&manifest_key, &got.body)?), Some(got.etag)),
        None => (None, None),
    };
    let (mut content, deltas) = match &manifest {
        Some(manifest) => load_manifest(objects, stack, manifest).await?,
        None => (Content::new(StackMeta::new(stack)), Vec::new()),
    };
    let folded_pending = content.pending.keys().cloned().collect();
    let mut seq = manifest.as_ref().map_or(0, |m| m.seq);
    let mut exists = manifest.is_some();
    let mut unfolded = Unfolded::default();
    let names = objects.list(&format!("{stack}/journal/"), Some(&entry_name(stack, seq))).await?;
    // Only the entries after the manifest, should a store ignore `StartAfter`.
    let names = names.into_iter().filter(|n| entry_seq(n).is_some_and(|n| n > seq)).collect();
    for (name, got) in get_all(objects, stack, names).await? {
        let key = objects.key(&name);
        let entry: Entry = parse(&key, &got.body)?;
        if entry.seq != seq + 1 || entry_seq(&name) != Some(entry.seq) {
            return Err(damaged(stack, format!("journal entry {key} (number {}) follows entry {seq}: entries are missing", entry.seq)));
        }
        check_format_version(&entry.meta)?;
        unfolded.record(&entry);
        if let Some(replace) = entry.replace {
            content = Content::from_snapshot(replace);
        }
        for write in entry.writes {
            content.apply(write);
        }
        content.meta = entry.meta;
        seq = entry.seq;
        exists = true;
    }
    Ok(Cached { content, seq, manifest, manifest_etag, deltas, unfolded, folded_pending, exists })
}

/// Puts an immutable object; one already there is the same object (its name fixes its content).
async fn put_once(objects: &Objects, name: &str, body: &[u8]) -> Result<(), StateError> {
    match objects.put(name, body, Some(Condition::Absent)).await {
        Ok(_) | Err(Refused::Precondition) => Ok(()),
        Err(Refused::Failed(e)) => Err(e),
    }
}

/// Writes the manifest over the one this run read; refused when another run has gone further.
async fn put_manifest(objects: &Objects, stack: &str, manifest: &Manifest, read: Option<&str>) -> Result<String, StateError> {
    let name = manifest_name(stack);
    let body = json(manifest);
    let mut current = read.map(str::to_string);
    loop {
        let condition = current.as_deref().map_or(Condition::Absent, Condition::Is);
        match objects.put(&name, &body, Some(condition)).await {
            Ok(etag) => return Ok(etag),
            Err(Refused::Failed(e)) => return Err(e),
            Err(Refused::Precondition) => {}
        }
        // Journal entries never change, so a manifest up to an entry before ours holds nothing
        // ours lacks (and may be our own, its answer lost): put ours over it. One past ours means
        // another run has gone further.
        let Some(got) = objects.get(&name).await? else {
            current = None;
            continue;
        };
        if got.body == body {
            return Ok(got.etag);
        }
        let theirs: Manifest = parse(&objects.key(&name), &got.body)?;
        if theirs.seq > manifest.seq {
            return Err(StateError::Backend(format!(
                "the state of stack `{stack}` is ahead of this run (entry {} against {}); another run holds it now",
                theirs.seq, manifest.seq
            )));
        }
        current = Some(got.etag);
    }
}

/// What a checkpoint writes, worked out before any of it is.
struct Folding {
    manifest: Manifest,
    /// How many of the cached deltas stay as they are, and the delta after them, if any.
    kept: usize,
    added: Option<Delta>,
    /// Immutable objects to put, in order.
    objects: Vec<(String, Vec<u8>)>,
}

/// Works out how `cached`'s unfolded entries fold into its manifest.
fn folding(stack: &str, cached: &Cached, made_by: &str) -> Folding {
    let prior = cached.manifest.as_ref();
    let meta = cached.content.meta.clone();
    let mut manifest = Manifest {
        seq: cached.seq,
        snapshot: prior.and_then(|m| m.snapshot),
        deltas: prior.map(|m| m.deltas.clone()).unwrap_or_default(),
        meta: meta.clone(),
        resources: cached.content.resources.len(),
        pending: cached.content.pending.len(),
        made_by: made_by.to_string(),
    };
    let unfolded = &cached.unfolded;
    let Some(snapshot) = manifest.snapshot.filter(|_| unfolded.replace.is_none()) else { return snapshot_folding(stack, cached, manifest) };
    let changes = unfolded.changes.clone().over(&cached.folded_pending);
    if changes.is_empty() {
        // Only fences (or operations started and cleared) since: the manifest moves past them.
        return Folding { manifest, kept: cached.deltas.len(), added: None, objects: Vec::new() };
    }
    // From the entry after the last part: the manifest may have moved past entries that held no
    // changes (a plan's fence), and the parts must stay contiguous.
    let after = manifest.deltas.last().map_or(snapshot.seq, |d| d.to);
    let new = Delta { from: after + 1, to: cached.seq, changes, meta };
    let body = json(&new);
    let sizes: Vec<u64> = manifest.deltas.iter().map(|d| d.bytes).chain([body.len() as u64]).collect();
    let (kept, delta, body) = match fold(Some(snapshot.bytes), &sizes) {
        Fold::Snapshot => return snapshot_folding(stack, cached, manifest),
        Fold::Keep => (cached.deltas.len(), new, body),
        Fold::Merge(n) => {
            let kept = cached.deltas.len() + 1 - n;
            let mut merged = cached.deltas[kept].clone();
            for later in cached.deltas[kept + 1..].iter().chain([&new]) {
                merged.changes.then(&later.changes);
                merged.to = later.to;
                merged.meta = later.meta.clone();
            }
            let body = json(&merged);
            (kept, merged, body)
        }
    };
    manifest.deltas.truncate(kept);
    manifest.deltas.push(DeltaRef { from: delta.from, to: delta.to, bytes: body.len() as u64 });
    Folding { manifest, kept, objects: vec![(delta_name(stack, delta.from, delta.to), body)], added: Some(delta) }
}

/// The folding that writes a whole new snapshot: no deltas are left.
fn snapshot_folding(stack: &str, cached: &Cached, mut manifest: Manifest) -> Folding {
    let body = json(&StateDoc { seq: cached.seq, snapshot: cached.content.snapshot() });
    manifest.snapshot = Some(SnapshotRef { seq: cached.seq, bytes: body.len() as u64 });
    manifest.deltas.clear();
    Folding { manifest, kept: 0, added: None, objects: vec![(snapshot_name(stack, cached.seq), body)] }
}

/// Folds the entries after the manifest into it (a delta, merged or not, or a new snapshot),
/// writes the manifest conditional on the one read, and, when something changed, keeps it in the
/// history.
pub(super) async fn checkpoint(objects: &Objects, stack: &str, cached: &mut Cached, made_by: &str) -> Result<(), StateError> {
    if cached.manifest.is_some() && cached.seq == cached.folded_seq() {
        return Ok(());
    }
    let Folding { manifest, kept, added, objects: parts } = folding(stack, cached, made_by);
    let changed = !parts.is_empty();
    for (name, body) in &parts {
        put_once(objects, name, body).await?;
    }
    let etag = put_manifest(objects, stack, &manifest, cached.manifest_etag.as_deref()).await?;
    if changed {
        put_once(objects, &history_name(stack, manifest.seq), &json(&manifest)).await?;
    }
    cached.manifest = Some(manifest);
    cached.manifest_etag = Some(etag);
    cached.deltas.truncate(kept);
    cached.deltas.extend(added);
    cached.unfolded = Unfolded::default();
    cached.folded_pending = cached.content.pending.keys().cloned().collect();
    Ok(())
}

/// The kept states of a stack, oldest first.
pub(super) async fn history(objects: &Objects, stack: &str) -> Result<Vec<RestorePoint>, StateError> {
    let names = objects.list(&format!("{stack}/history/"), None).await?;
    let mut points = Vec::new();
    for (name, got) in get_all(objects, stack, names).await? {
        let manifest: Manifest = parse(&objects.key(&name), &got.body)?;
        points.push(RestorePoint {
            generation: manifest.seq,
            serial: manifest.meta.serial,
            // By the server's clock.
            time: got.last_modified.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs()),
            made_by: manifest.made_by,
            resources: manifest.resources,
            pending: manifest.pending,
        });
    }
    Ok(points)
}

/// The content of kept state `generation`.
pub(super) async fn kept(objects: &Objects, stack: &str, generation: u64) -> Result<Option<Content>, StateError> {
    let name = history_name(stack, generation);
    let Some(got) = objects.get(&name).await? else { return Ok(None) };
    let manifest: Manifest = parse(&objects.key(&name), &got.body)?;
    Ok(Some(load_manifest(objects, stack, &manifest).await?.0))
}
