//! A [`StateStore`] in an S3 bucket, for teams: no server of its own, no table, S3's conditional
//! writes as the only coordination.
//!
//! Under `s3://<bucket>/<prefix>/<stack>/` a stack has:
//! - `lock.json`: the lock, a lease. Taken with `If-None-Match: *`, renewed by its holder with
//!   `If-Match: <its ETag>` every third of the lease, released with `If-Match`. A lease that ran
//!   out, by the server's clock, is taken over with `If-Match: <the stale ETag>`, so exactly one
//!   taker wins.
//! - `journal/<seq>.json`: one object per write batch, numbered, written with `If-None-Match: *`
//!   and never deleted. A run writes entry `n + 1` only after reading entry `n`, so a run that
//!   lost the lock (another holder has written since) can never overwrite newer state: its write
//!   is refused. A new holder writes an empty entry first (its fence), so even a write the old
//!   holder has in flight fails.
//! - `state.json`, the manifest, with the immutable `snapshots/` and `deltas/` it names: at the
//!   end of a run (and every [`COMPACT_EVERY`] entries) the journal since the last manifest is
//!   folded into one delta, merged with the newer deltas of a similar size or into a new snapshot
//!   (`layout.rs` has the rule), and the manifest is written with `If-Match: <the ETag read>`. A
//!   load is the manifest's snapshot and deltas plus the entries after them. Uploads are deltas:
//!   one entry per batch and one delta per run, each the size of what changed; the snapshot is
//!   rewritten only once the deltas add up to half of it.
//! - `history/<seq>.json`: the manifest after every run that changed something, for
//!   `state history` and `state restore`; the parts it names are never deleted.
//!
//! At first use the store checks that the endpoint enforces the conditional headers (some
//! S3-compatible stores ignore them, which gives no mutual exclusion at all), and refuses to run
//! when it does not, unless told to accept that.

mod layout;
mod objects;
mod stack;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use self::layout::{Entry, entry_name};
use self::objects::{Condition, Objects, Refused};
use self::stack::Cached;
use crate::blocking::block_on;
use crate::content::Content;
use crate::records::{import_meta, validate_stack_name};
use crate::{LockInfo, RestorePoint, Snapshot, StackMeta, StateError, StateStore, Write};

/// Journal entries after which a run folds them into the manifest, to bound a load's reads.
pub const COMPACT_EVERY: u64 = 64;

/// The default lease of a lock.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(120);

/// Where and how to keep state in S3.
#[derive(Debug, Clone)]
pub struct S3Options {
    /// `s3://bucket` or `s3://bucket/prefix`.
    pub url: String,
    /// The bucket's region (default: the standard chain's, e.g. `AWS_REGION`).
    pub region: Option<String>,
    /// A named profile (default: the standard chain).
    pub profile: Option<String>,
    /// An endpoint other than AWS's (an S3-compatible store, or a local emulator); the standard
    /// `AWS_ENDPOINT_URL` is honoured too.
    pub endpoint: Option<String>,
    /// Credentials to use instead of the standard chain's (an embedding tool's own).
    pub credentials: Option<aws_sdk_s3::config::Credentials>,
    /// How long a lock lasts without renewal.
    pub lease: Duration,
    /// Keep state on an endpoint that ignores conditional writes. Unsafe: two runs at once can
    /// then overwrite each other's state.
    pub allow_unconditional_writes: bool,
}

impl S3Options {
    /// The options for `url` with the standard chain's credentials and region, and the default lease.
    pub fn new(url: impl Into<String>) -> Self {
        S3Options {
            url: url.into(),
            region: None,
            profile: None,
            endpoint: None,
            credentials: None,
            lease: DEFAULT_LEASE,
            allow_unconditional_writes: false,
        }
    }
}

/// `s3://bucket/prefix` as a bucket and a key prefix (empty, or ending in `/`).
pub fn parse_url(url: &str) -> Result<(String, String), StateError> {
    let rest = url.strip_prefix("s3://").ok_or_else(|| StateError::Backend(format!("`{url}` is not an S3 URL; use `s3://<bucket>/<prefix>`")))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(StateError::Backend(format!("`{url}` names no bucket; use `s3://<bucket>/<prefix>`")));
    }
    let prefix = prefix.trim_matches('/');
    Ok((bucket.to_string(), if prefix.is_empty() { String::new() } else { format!("{prefix}/") }))
}

/// The lock object.
#[derive(Serialize, Deserialize)]
struct LockDoc {
    info: LockInfo,
    lease_seconds: u64,
    /// Changes at every renewal.
    token: String,
}

/// A lock this store holds, renewed by its own thread.
struct Held {
    id: String,
    info: LockInfo,
    etag: Arc<Mutex<String>>,
    lost: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    renewer: Option<JoinHandle<()>>,
}

/// A state store in an S3 bucket. See the module documentation for its layout and invariants.
pub struct S3Store {
    objects: Objects,
    runtime: Option<tokio::runtime::Runtime>,
    lease: Duration,
    allow_unconditional_writes: bool,
    self_test: OnceLock<Result<(), String>>,
    stacks: Mutex<HashMap<String, Cached>>,
    held: Mutex<HashMap<String, Held>>,
}

fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("state documents serialize")
}

fn parse<T: for<'de> Deserialize<'de>>(key: &str, body: &[u8]) -> Result<T, StateError> {
    serde_json::from_slice(body).map_err(|e| StateError::Corrupt { key: key.to_string(), message: e.to_string() })
}

fn token() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Rewrites the lock `name` for `info`, conditional on its last ETag: the lease starts again.
async fn renew_lock(objects: &Objects, name: &str, info: &LockInfo, lease: Duration, etag: &str) -> Result<String, Refused> {
    let doc = LockDoc { info: info.clone(), lease_seconds: lease.as_secs(), token: token() };
    objects.put(name, &json(&doc), Some(Condition::Is(etag))).await
}

impl S3Store {
    /// Connects to the bucket (no request is made until the store is used).
    pub fn new(options: S3Options) -> Result<S3Store, StateError> {
        let (bucket, prefix) = parse_url(&options.url)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("strake-state-s3")
            .enable_all()
            .build()
            .map_err(|e| StateError::Backend(format!("cannot start the S3 state client: {e}")))?;
        let client = block_on(&runtime, client(&options));
        let objects = Objects { client, bucket, prefix };
        Ok(S3Store {
            objects,
            runtime: Some(runtime),
            lease: options.lease,
            allow_unconditional_writes: options.allow_unconditional_writes,
            self_test: OnceLock::new(),
            stacks: Mutex::new(HashMap::new()),
            held: Mutex::new(HashMap::new()),
        })
    }

    /// `s3://bucket/prefix/`, for messages.
    pub fn location(&self) -> String {
        format!("s3://{}/{}", self.objects.bucket, self.objects.prefix)
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().expect("the runtime lives as long as the store")
    }

    fn block<F: std::future::Future + Send>(&self, f: F) -> F::Output
    where
        F::Output: Send,
    {
        block_on(self.runtime(), f)
    }

    /// Proves once that the endpoint enforces `If-None-Match` and `If-Match` on writes and deletes.
    fn checked(&self) -> Result<(), StateError> {
        let result = self.self_test.get_or_init(|| if self.allow_unconditional_writes { Ok(()) } else { self.block(self_test(&self.objects)) });
        result.clone().map_err(StateError::Backend)
    }

    /// The stack as cached, read first when it is not.
    fn cached<'a>(&self, stacks: &'a mut HashMap<String, Cached>, stack: &str) -> Result<&'a mut Cached, StateError> {
        if !stacks.contains_key(stack) {
            let read = self.block(stack::read(&self.objects, stack))?;
            stacks.insert(stack.to_string(), read);
        }
        Ok(stacks.get_mut(stack).expect("inserted above"))
    }

    /// Refuses to write for a run whose lock was taken from it.
    fn check_not_lost(&self, stack: &str) -> Result<(), StateError> {
        if let Some(held) = guard(&self.held).get(stack)
            && held.lost.load(Ordering::SeqCst)
        {
            return Err(StateError::Backend(format!(
                "this run lost the lock of stack `{stack}` in {} (another run took it over, or it could not be renewed in time); \
                 it writes nothing more: run again once the other run is done",
                self.location()
            )));
        }
        Ok(())
    }

    /// Appends one journal entry after the cached one; refused when another run wrote first.
    fn append(&self, stack: &str, cached: &mut Cached, writes: Vec<Write>, replace: Option<Snapshot>, meta: StackMeta) -> Result<(), StateError> {
        let entry = Entry { seq: cached.seq + 1, token: token(), writes, replace, meta };
        let name = entry_name(stack, entry.seq);
        let body = json(&entry);
        let objects = &self.objects;
        let written = self.block(async {
            match objects.put(&name, &body, Some(Condition::Absent)).await {
                Ok(_) => Ok(true),
                // Ours, if our first attempt landed and only its answer was lost.
                Err(Refused::Precondition) => {
                    let got = objects.get(&name).await?;
                    Ok(got.is_some_and(|g| serde_json::from_slice::<Entry>(&g.body).is_ok_and(|e| e.token == entry.token)))
                }
                Err(Refused::Failed(e)) => Err(e),
            }
        })?;
        if !written {
            return Err(StateError::Backend(format!(
                "stack `{stack}` in {} was written by another run (journal entry {} exists), so this run's state is no longer \
                 the latest and nothing was written; run again",
                self.location(),
                entry.seq
            )));
        }
        cached.unfolded.record(&entry);
        if let Some(replace) = entry.replace {
            cached.content = Content::from_snapshot(replace);
        }
        for write in entry.writes {
            cached.content.apply(write);
        }
        cached.content.meta = entry.meta;
        cached.seq = entry.seq;
        cached.exists = true;
        // The entry is committed: a checkpoint that fails here leaves the journal longer to read,
        // and the next one folds it.
        if cached.seq - cached.folded_seq() >= COMPACT_EVERY {
            let _ = self.checkpoint(stack, cached, "a long run, every 64 commits");
        }
        Ok(())
    }

    /// Folds the journal since the manifest into it; see [`stack::checkpoint`].
    fn checkpoint(&self, stack: &str, cached: &mut Cached, made_by: &str) -> Result<(), StateError> {
        self.block(stack::checkpoint(&self.objects, stack, cached, made_by))
    }

    /// Starts renewing a lock just taken.
    fn hold(&self, stack: &str, id: &str, etag: String, doc_info: LockInfo) {
        let info_for_held = doc_info.clone();
        let etag = Arc::new(Mutex::new(etag));
        let (lost, stop) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
        let renewer = {
            let (objects, handle, lease) = (self.objects.clone(), self.runtime().handle().clone(), self.lease);
            let (etag, lost, stop, name) = (etag.clone(), lost.clone(), stop.clone(), format!("{stack}/lock.json"));
            std::thread::Builder::new()
                .name("strake-state-lease".into())
                .spawn(move || renew(&objects, &handle, &name, doc_info, lease, &etag, &lost, &stop))
                .ok()
        };
        guard(&self.held).insert(stack.to_string(), Held { id: id.to_string(), info: info_for_held, etag, lost, stop, renewer });
    }

    /// Stops renewing `stack`'s lock: its id, last ETag and holder, and whether it was lost.
    fn release_held(&self, stack: &str) -> Option<(String, String, LockInfo, bool)> {
        let mut held = guard(&self.held).remove(stack)?;
        held.stop.store(true, Ordering::SeqCst);
        if let Some(renewer) = held.renewer.take() {
            renewer.thread().unpark();
            let _ = renewer.join();
        }
        let etag = guard(&held.etag).clone();
        Some((held.id, etag, held.info, held.lost.load(Ordering::SeqCst)))
    }

    /// Renews `stack`'s lock (last ETag `etag`) once: its new ETag, `None` when it was taken, the
    /// old one when the answer is unknown.
    fn renew_once(&self, stack: &str, info: &LockInfo, etag: String) -> Option<String> {
        match self.block(renew_lock(&self.objects, &format!("{stack}/lock.json"), info, self.lease, &etag)) {
            Ok(new) => Some(new),
            Err(Refused::Precondition) => None,
            Err(Refused::Failed(_)) => Some(etag),
        }
    }

    fn read_lock(&self, stack: &str) -> Result<Option<(LockDoc, String, Option<SystemTime>)>, StateError> {
        let name = format!("{stack}/lock.json");
        let got = self.block(self.objects.get(&name))?;
        got.map(|g| Ok((parse::<LockDoc>(&self.objects.key(&name), &g.body)?, g.etag, g.last_modified))).transpose()
    }

    /// The lease left of a lock last written at `written`, by the server's clock.
    fn lease_left(&self, stack: &str, doc: &LockDoc, written: Option<SystemTime>) -> Result<Duration, StateError> {
        let now = self.block(self.objects.server_now(&format!("{stack}/clock")))?;
        let age = written.and_then(|w| now.duration_since(w).ok()).unwrap_or_default();
        Ok(Duration::from_secs(doc.lease_seconds).saturating_sub(age))
    }
}

/// The lease's renewal loop: every third of the lease, rewrite the lock conditional on its ETag.
/// A refusal means the lock was taken; failing to renew for a whole lease means it may have been.
#[allow(clippy::too_many_arguments)]
fn renew(
    objects: &Objects,
    handle: &tokio::runtime::Handle,
    name: &str,
    info: LockInfo,
    lease: Duration,
    etag: &Mutex<String>,
    lost: &AtomicBool,
    stop: &AtomicBool,
) {
    let mut renewed = std::time::Instant::now();
    loop {
        std::thread::park_timeout(lease / 3);
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let current = guard(etag).clone();
        match handle.block_on(renew_lock(objects, name, &info, lease, &current)) {
            Ok(new) => {
                *guard(etag) = new;
                renewed = std::time::Instant::now();
            }
            Err(Refused::Precondition) => {
                lost.store(true, Ordering::SeqCst);
                return;
            }
            Err(Refused::Failed(_)) if renewed.elapsed() >= lease => {
                lost.store(true, Ordering::SeqCst);
                return;
            }
            Err(Refused::Failed(_)) => {}
        }
    }
}

/// The S3 client for the options: the standard chain, with the region, profile and endpoint
/// given; path-style addressing for a custom endpoint.
async fn client(options: &S3Options) -> aws_sdk_s3::Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = &options.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(profile) = &options.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(endpoint) = &options.endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    if let Some(credentials) = &options.credentials {
        loader = loader.credentials_provider(credentials.clone());
    }
    let sdk = loader.load().await;
    let custom_endpoint = sdk.endpoint_url().is_some();
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(custom_endpoint).build())
}

/// Checks that the endpoint refuses a second `If-None-Match: *` write, an `If-Match` write with a
/// wrong ETag and an `If-Match` delete with a wrong ETag.
async fn self_test(objects: &Objects) -> Result<(), String> {
    let name = format!(".strake-self-test/{}", token());
    let refused = |what: &str| {
        format!(
            "{what}; S3 refuses such a write with 412, but s3://{}/{} accepted it. Without conditional writes two runs can \
             overwrite each other's state, so Strake refuses to keep state there. Use a store that enforces them (AWS S3 does), \
             or, accepting the risk, set `allow_unconditional_writes`",
            objects.bucket, objects.prefix
        )
    };
    let failed = |e: Refused| match e {
        Refused::Failed(e) => e.to_string(),
        Refused::Precondition => refused("a first write with `If-None-Match: *` was refused"),
    };
    let result = async {
        objects.put(&name, b"1", Some(Condition::Absent)).await.map_err(failed)?;
        if objects.put(&name, b"2", Some(Condition::Absent)).await.is_ok() {
            return Err(refused("a second write with `If-None-Match: *` was accepted"));
        }
        if objects.put(&name, b"3", Some(Condition::Is("\"0\""))).await.is_ok() {
            return Err(refused("a write with `If-Match` and a wrong ETag was accepted"));
        }
        if objects.delete(&name, Some("\"0\"")).await.is_ok() {
            return Err(refused("a delete with `If-Match` and a wrong ETag was accepted"));
        }
        Ok(())
    }
    .await;
    let _ = objects.delete(&name, None).await;
    result
}

impl Drop for S3Store {
    fn drop(&mut self) {
        let stacks: Vec<String> = guard(&self.held).keys().cloned().collect();
        for stack in stacks {
            self.release_held(&stack);
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl StateStore for S3Store {
    fn load(&self, stack: &str) -> Result<Option<Snapshot>, StateError> {
        validate_stack_name(stack)?;
        self.checked()?;
        // While this store holds the lock, nobody else writes: what it has is the stack.
        let holding = guard(&self.held).get(stack).is_some_and(|h| !h.lost.load(Ordering::SeqCst));
        let mut stacks = guard(&self.stacks);
        if holding && let Some(cached) = stacks.get(stack) {
            return Ok(cached.exists.then(|| cached.content.snapshot()));
        }
        let read = self.block(stack::read(&self.objects, stack))?;
        let snapshot = read.exists.then(|| read.content.snapshot());
        stacks.insert(stack.to_string(), read);
        Ok(snapshot)
    }

    fn write(&self, stack: &str, batch: Vec<Write>) -> Result<StackMeta, StateError> {
        validate_stack_name(stack)?;
        self.checked()?;
        self.check_not_lost(stack)?;
        let mut stacks = guard(&self.stacks);
        let cached = self.cached(&mut stacks, stack)?;
        let mut meta = cached.content.meta.clone();
        if batch.iter().any(Write::changes_resources) {
            meta.serial += 1;
        }
        self.append(stack, cached, batch, None, meta)?;
        Ok(cached.content.meta.clone())
    }

    fn import(&self, snapshot: Snapshot) -> Result<StackMeta, StateError> {
        let stack = snapshot.meta.stack.clone();
        validate_stack_name(&stack)?;
        self.checked()?;
        self.check_not_lost(&stack)?;
        let mut stacks = guard(&self.stacks);
        let cached = self.cached(&mut stacks, &stack)?;
        let meta = import_meta(&snapshot.meta, cached.exists.then_some(&cached.content.meta))?;
        let replace = Snapshot { meta: meta.clone(), ..snapshot };
        self.append(&stack, cached, Vec::new(), Some(replace), meta.clone())?;
        self.checkpoint(&stack, cached, "an import or a restore")?;
        Ok(meta)
    }

    fn lock(&self, stack: &str, info: &LockInfo) -> Result<Option<LockInfo>, StateError> {
        validate_stack_name(stack)?;
        self.checked()?;
        let name = format!("{stack}/lock.json");
        let doc = LockDoc { info: LockInfo { lease_left: None, ..info.clone() }, lease_seconds: self.lease.as_secs(), token: token() };
        let body = json(&doc);
        for _ in 0..5 {
            let taken = self.block(self.objects.put(&name, &body, Some(Condition::Absent)));
            let (etag, broken) = match taken {
                Ok(etag) => (etag, None),
                Err(Refused::Failed(e)) => return Err(e),
                Err(Refused::Precondition) => {
                    let Some((held, held_etag, written)) = self.read_lock(stack)? else { continue };
                    if held.token == doc.token {
                        (held_etag, None)
                    } else {
                        let left = self.lease_left(stack, &held, written)?;
                        if !left.is_zero() {
                            let holder = LockInfo { lease_left: Some(left.as_secs().max(1)), ..held.info };
                            return Err(StateError::Locked { stack: stack.to_string(), holder: Box::new(holder) });
                        }
                        // The lease ran out: take it over, conditional on the stale lock, so one taker wins.
                        match self.block(self.objects.put(&name, &body, Some(Condition::Is(&held_etag)))) {
                            Ok(etag) => (etag, Some(LockInfo { lease_left: Some(0), ..held.info })),
                            Err(Refused::Precondition) => continue,
                            Err(Refused::Failed(e)) => return Err(e),
                        }
                    }
                }
            };
            self.hold(stack, &info.id, etag, doc.info.clone());
            // The fence: an entry of its own after the latest, so a write the previous holder
            // still has in flight is refused.
            let fenced = {
                let mut stacks = guard(&self.stacks);
                stacks.remove(stack);
                self.cached(&mut stacks, stack).and_then(|cached| {
                    if cached.exists {
                        let meta = cached.content.meta.clone();
                        self.append(stack, cached, Vec::new(), None, meta)
                    } else {
                        Ok(())
                    }
                })
            };
            if let Err(e) = fenced {
                let _ = self.unlock(stack, &info.id);
                return Err(e);
            }
            return Ok(broken);
        }
        Err(StateError::Backend(format!("the lock of stack `{stack}` in {} kept changing hands; run again", self.location())))
    }

    fn unlock(&self, stack: &str, lock_id: &str) -> Result<(), StateError> {
        validate_stack_name(stack)?;
        let name = format!("{stack}/lock.json");
        let ours = guard(&self.held).get(stack).is_some_and(|h| h.id == lock_id);
        if ours {
            let (_, etag, info, lost) = self.release_held(stack).expect("held above");
            // Renewed once more, so the compaction runs under a lease surely held; a run that
            // lost the lock writes nothing.
            let Some(etag) = (!lost).then(|| self.renew_once(stack, &info, etag)).flatten() else {
                return Err(StateError::Backend(format!(
                    "the lock of stack `{stack}` was taken by another run before this one released it; this run's state writes after that were refused"
                )));
            };
            // A checkpoint that fails leaves every entry in the journal (the next run folds it);
            // the lock is released all the same, and the failure reported after.
            let folded = {
                let mut stacks = guard(&self.stacks);
                match stacks.get_mut(stack).filter(|c| c.exists) {
                    Some(cached) => self.checkpoint(stack, cached, "a run's end"),
                    None => Ok(()),
                }
            };
            return match self.block(self.objects.delete(&name, Some(&etag))) {
                Ok(()) => folded,
                Err(Refused::Precondition) => Err(StateError::Backend(format!(
                    "the lock of stack `{stack}` was taken by another run before this one released it; this run's state writes after that were refused"
                ))),
                Err(Refused::Failed(e)) => Err(e),
            };
        }
        let Some((held, etag, _)) = self.read_lock(stack)? else { return Err(StateError::NotLocked { stack: stack.to_string() }) };
        if held.info.id != lock_id {
            return Err(StateError::LockMismatch { stack: stack.to_string(), expected: lock_id.to_string(), holder: Box::new(held.info) });
        }
        match self.block(self.objects.delete(&name, Some(&etag))) {
            Ok(()) => Ok(()),
            Err(Refused::Precondition) => {
                Err(StateError::Backend(format!("the lock of stack `{stack}` changed while it was being released; look again")))
            }
            Err(Refused::Failed(e)) => Err(e),
        }
    }

    fn lock_holder(&self, stack: &str) -> Result<Option<LockInfo>, StateError> {
        validate_stack_name(stack)?;
        let Some((held, _, written)) = self.read_lock(stack)? else { return Ok(None) };
        let left = self.lease_left(stack, &held, written)?;
        Ok(Some(LockInfo { lease_left: Some(left.as_secs()), ..held.info }))
    }

    fn history(&self, stack: &str) -> Result<Vec<RestorePoint>, StateError> {
        validate_stack_name(stack)?;
        self.block(stack::history(&self.objects, stack))
    }

    fn restore(&self, stack: &str, generation: u64) -> Result<StackMeta, StateError> {
        validate_stack_name(stack)?;
        let content = self.block(stack::kept(&self.objects, stack, generation))?.ok_or_else(|| {
            StateError::Backend(format!("stack `{stack}` has no kept state of generation {generation}; `state history` lists them"))
        })?;
        self.import(content.snapshot())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_bucket_and_a_prefix() {
        assert_eq!(parse_url("s3://team-state").unwrap(), ("team-state".into(), String::new()));
        assert_eq!(parse_url("s3://team-state/").unwrap(), ("team-state".into(), String::new()));
        assert_eq!(parse_url("s3://team-state/infra/prod/").unwrap(), ("team-state".into(), "infra/prod/".into()));
        assert!(parse_url("https://team-state").is_err());
        assert!(parse_url("s3:///x").is_err());
    }
}
