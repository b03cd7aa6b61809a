//! [`SealedStore`]: any [`StateStore`] with its secrets sealed at rest.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::{CIPHERTEXT_MARKER, DataKey, KeyProvider, SECRET_MARKER, SecretsError, WrappedKey, has_clear_secret, holds_marker};
use crate::{JsonText, LockInfo, PendingOperation, RecordKind, ResourceRecord, RestorePoint, Snapshot, StackMeta, StateError, StateStore, Write};

/// A state store that seals every secret before it reaches `inner` and opens it on the way back.
///
/// - The engine sees values in clear and never the key record.
/// - The first time a stack is loaded with a key provider set, a stack that still holds secrets
///   in clear (or has no key yet) gets a data key and its records are sealed, in one batch.
/// - Without a key provider, a stack whose secrets are sealed is refused with a message saying
///   which provider it needs; one with none behaves as before.
pub struct SealedStore {
    inner: Arc<dyn StateStore>,
    provider: Option<Arc<dyn KeyProvider>>,
    /// The data key of each stack seen, unwrapped once.
    keys: Mutex<HashMap<String, DataKey>>,
    /// Held while a stack's key is looked up or made, so concurrent first writes share one.
    making: Mutex<()>,
    /// Seal every output, secret or not (the whole-state mode).
    all_outputs: bool,
}

fn secrets_error(stack: &str, e: SecretsError) -> StateError {
    let message = if e.0.contains(&format!("`{stack}`")) { e.0 } else { format!("stack `{stack}`: {}", e.0) };
    StateError::Secrets { stack: stack.to_string(), message }
}

/// Seals the secrets of `inputs` and `outputs` of `owner` (with `all_outputs`, all of `outputs`).
/// A value is parsed only when it may hold a secret, or when all of it is sealed.
fn seal_values(key: &DataKey, stack: &str, owner: &str, all_outputs: bool, inputs: &mut JsonText, outputs: &mut JsonText) {
    if inputs.may_have_key(SECRET_MARKER) {
        inputs.edit(|v| key.seal(stack, owner, "inputs", v));
    }
    if all_outputs && !outputs.is_null() {
        outputs.edit(|v| key.seal_whole(stack, owner, "outputs", v));
    } else if outputs.may_have_key(SECRET_MARKER) {
        outputs.edit(|v| key.seal(stack, owner, "outputs", v));
    }
}

/// Opens the sealed secrets of one recorded value; a value without any is not parsed.
fn open_value(key: &DataKey, stack: &str, owner: &str, path: &str, value: &mut JsonText) -> Result<(), StateError> {
    if !value.may_have_key(CIPHERTEXT_MARKER) {
        return Ok(());
    }
    value.edit(|v| key.open(stack, owner, path, v)).map_err(|e| secrets_error(stack, e))
}

fn seal_record(key: &DataKey, stack: &str, all_outputs: bool, mut record: ResourceRecord) -> ResourceRecord {
    if record.kind != RecordKind::SecretsKey {
        seal_values(key, stack, &record.urn, all_outputs, &mut record.inputs, &mut record.outputs);
    }
    record
}

/// A pending operation's outputs are its resource's last ones: sealed as the record's are.
fn seal_pending(key: &DataKey, stack: &str, all_outputs: bool, mut op: PendingOperation) -> PendingOperation {
    seal_values(key, stack, &format!("pending:{}", op.id), all_outputs, &mut op.inputs, &mut op.outputs);
    op
}

/// Whether any record or operation of `snapshot` holds a secret in clear.
fn holds_clear(snapshot: &Snapshot) -> bool {
    snapshot.resources.iter().any(|r| has_clear_secret(&r.inputs) || has_clear_secret(&r.outputs))
        || snapshot.pending.iter().any(|p| has_clear_secret(&p.inputs) || has_clear_secret(&p.outputs))
}

/// `clear` sealed under `key`, with `key`'s record.
fn sealed_under(key: &DataKey, stack: &str, all_outputs: bool, record: ResourceRecord, clear: Snapshot) -> Snapshot {
    let mut resources: Vec<ResourceRecord> = clear
        .resources
        .into_iter()
        .filter(|r| r.kind != RecordKind::SecretsKey)
        .map(|r| seal_record(key, stack, all_outputs, r))
        .chain([record])
        .collect();
    resources.sort_by(|a, b| a.urn.cmp(&b.urn));
    let pending = clear.pending.into_iter().map(|p| seal_pending(key, stack, all_outputs, p)).collect();
    Snapshot { meta: clear.meta, resources, pending }
}

/// The writes that seal everything `snapshot` holds in clear under `key`.
fn reseal(key: &DataKey, stack: &str, all_outputs: bool, snapshot: &Snapshot) -> Vec<Write> {
    let records = snapshot.resources.iter().filter(|r| has_clear_secret(&r.inputs) || has_clear_secret(&r.outputs));
    let ops = snapshot.pending.iter().filter(|p| has_clear_secret(&p.inputs) || has_clear_secret(&p.outputs));
    records
        .map(|r| Write::PutResource(seal_record(key, stack, all_outputs, r.clone())))
        .chain(ops.map(|p| Write::PutPending(seal_pending(key, stack, all_outputs, p.clone()))))
        .collect()
}

impl SealedStore {
    /// `inner` with secrets sealed by `provider` (`None`: kept as they are, and a sealed stack is
    /// refused).
    pub fn new(inner: Arc<dyn StateStore>, provider: Option<Arc<dyn KeyProvider>>) -> SealedStore {
        SealedStore { inner, provider, keys: Mutex::new(HashMap::new()), making: Mutex::new(()), all_outputs: false }
    }

    /// Seals every output of every record, secret or not: for outputs nobody thought to mark
    /// secret (kubeconfigs, tokens). Applies to what is written from now on.
    pub fn with_all_outputs(mut self, all_outputs: bool) -> SealedStore {
        self.all_outputs = all_outputs;
        self
    }

    fn cached(&self, stack: &str) -> Option<DataKey> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner).get(stack).cloned()
    }

    fn forget(&self, stack: &str) {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner).remove(stack);
    }

    fn provider(&self, stack: &str, wrapped: &WrappedKey) -> Result<&Arc<dyn KeyProvider>, StateError> {
        self.provider.as_ref().ok_or_else(|| StateError::Secrets {
            stack: stack.to_string(),
            message: format!(
                "the secrets of stack `{stack}` are sealed with the `{}` key provider, but none is set: add `provider = \"{}\"` under [secrets] in Strake.toml{}",
                wrapped.provider,
                wrapped.setting(),
                match wrapped.provider.as_str() {
                    "passphrase" => " and set STRAKE_PASSPHRASE",
                    "age" => " and set STRAKE_AGE_KEY or STRAKE_AGE_KEY_FILE",
                    _ => "",
                }
            ),
        })
    }

    /// The key a raw snapshot's key record wraps, unwrapped (once per key).
    fn unwrap_key(&self, stack: &str, raw: &Snapshot) -> Result<Option<DataKey>, StateError> {
        let Some(record) = raw.resources.iter().find(|r| r.kind == RecordKind::SecretsKey) else {
            // No key (a stack restored to before it was sealed): none cached may be used.
            self.forget(stack);
            return Ok(None);
        };
        let wrapped = WrappedKey::from_record(record).map_err(|e| secrets_error(stack, e))?;
        if let Some(key) = self.cached(stack).filter(|k| k.id() == wrapped.key_id) {
            return Ok(Some(key));
        }
        let provider = self.provider(stack, &wrapped)?;
        if wrapped.provider != provider.name() {
            return Err(secrets_error(
                stack,
                SecretsError(format!(
                    "the secrets of stack `{stack}` are sealed with the `{}` key provider, not `{}`: set `provider = \"{}\"` under [secrets] in Strake.toml",
                    wrapped.provider,
                    provider.name(),
                    wrapped.setting()
                )),
            ));
        }
        let key = provider.unwrap(stack, &wrapped).map_err(|e| secrets_error(stack, e))?;
        self.keys.lock().unwrap_or_else(PoisonError::into_inner).insert(stack.to_string(), key.clone());
        Ok(Some(key))
    }

    /// A new data key for `stack`, wrapped: the key and its record.
    fn new_key(&self, stack: &str, provider: &Arc<dyn KeyProvider>) -> Result<(DataKey, ResourceRecord), StateError> {
        let (key, wrapped) = provider.generate(stack).map_err(|e| secrets_error(stack, e))?;
        Ok((key, wrapped.record(stack)))
    }

    /// The stack in clear, without its key record.
    fn open(&self, stack: &str, key: Option<&DataKey>, mut snapshot: Snapshot) -> Result<Snapshot, StateError> {
        snapshot.resources.retain(|r| r.kind != RecordKind::SecretsKey);
        let Some(key) = key else {
            let sealed = snapshot
                .resources
                .iter()
                .filter(|r| holds_marker(&r.inputs, CIPHERTEXT_MARKER) || holds_marker(&r.outputs, CIPHERTEXT_MARKER))
                .map(|r| &r.urn);
            let sealed_ops = snapshot
                .pending
                .iter()
                .filter(|p| holds_marker(&p.inputs, CIPHERTEXT_MARKER) || holds_marker(&p.outputs, CIPHERTEXT_MARKER))
                .map(|p| &p.id);
            if let Some(owner) = sealed.chain(sealed_ops).next() {
                return Err(secrets_error(
                    stack,
                    SecretsError(format!("{owner} in stack `{stack}` holds sealed secrets, but the stack has no data key")),
                ));
            }
            return Ok(snapshot);
        };
        for r in &mut snapshot.resources {
            open_value(key, stack, &r.urn, "inputs", &mut r.inputs)?;
            open_value(key, stack, &r.urn, "outputs", &mut r.outputs)?;
        }
        for p in &mut snapshot.pending {
            let owner = format!("pending:{}", p.id);
            open_value(key, stack, &owner, "inputs", &mut p.inputs)?;
            open_value(key, stack, &owner, "outputs", &mut p.outputs)?;
        }
        Ok(snapshot)
    }

    /// The stack's data key, made (and recorded, without changing the serial) if it has none yet;
    /// `None` without a key provider. Saved plans are sealed with it.
    pub fn data_key(&self, stack: &str) -> Result<Option<DataKey>, StateError> {
        let Some(provider) = &self.provider else { return Ok(None) };
        if let Some(key) = self.cached(stack) {
            return Ok(Some(key));
        }
        let _making = self.making.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(key) = self.cached(stack) {
            return Ok(Some(key));
        }
        if let Some(raw) = self.inner.load(stack)?
            && let Some(key) = self.unwrap_key(stack, &raw)?
        {
            return Ok(Some(key));
        }
        let (key, record) = self.new_key(stack, provider)?;
        self.inner.write(stack, vec![Write::PutResource(record)])?;
        self.keys.lock().unwrap_or_else(PoisonError::into_inner).insert(stack.to_string(), key.clone());
        Ok(Some(key))
    }

    /// The stack as stored: sealed, with its key record (for `state export`). A stack still in
    /// clear is sealed first.
    pub fn export(&self, stack: &str) -> Result<Option<Snapshot>, StateError> {
        let Some(raw) = self.inner.load(stack)? else { return Ok(None) };
        if self.provider.is_none() || !holds_clear(&raw) {
            return Ok(Some(raw));
        }
        self.seal_what_is_clear(stack, raw)?;
        self.inner.load(stack)
    }

    /// The stack's key, and `raw` as it now stands: with a provider set, a stack with secrets in
    /// clear is sealed first, under its key or a new one, in one batch (the engine loads under
    /// the stack's lock). The values of the `raw` returned are as they were (open passes values
    /// in clear through); its meta is the stack's after the batch.
    fn seal_what_is_clear(&self, stack: &str, mut raw: Snapshot) -> Result<(Option<DataKey>, Snapshot), StateError> {
        let key = self.unwrap_key(stack, &raw)?;
        let Some(provider) = self.provider.as_ref().filter(|_| holds_clear(&raw)) else { return Ok((key, raw)) };
        let (key, mut batch) = match key {
            Some(key) => (key, Vec::new()),
            None => {
                let (key, record) = self.new_key(stack, provider)?;
                (key, vec![Write::PutResource(record)])
            }
        };
        batch.extend(reseal(&key, stack, self.all_outputs, &raw));
        raw.meta = self.inner.write(stack, batch)?;
        self.keys.lock().unwrap_or_else(PoisonError::into_inner).insert(stack.to_string(), key.clone());
        Ok((Some(key), raw))
    }
}

impl SealedStore {
    /// Re-encrypts every secret of `stack` under a new data key made by `provider` (the same
    /// provider rotates the key; another one moves the stack to it). One import: an interruption
    /// leaves the old state or the new one, never a mix.
    pub fn rekey(&self, stack: &str, provider: &Arc<dyn KeyProvider>) -> Result<StackMeta, StateError> {
        let raw = self.inner.load(stack)?.ok_or_else(|| StateError::Secrets {
            stack: stack.into(),
            message: format!("stack `{stack}` has no state yet; there is nothing to re-encrypt"),
        })?;
        let key = self.unwrap_key(stack, &raw)?;
        let clear = self.open(stack, key.as_ref(), raw)?;
        let (key, record) = self.new_key(stack, provider)?;
        self.forget(stack);
        self.inner.import(sealed_under(&key, stack, self.all_outputs, record, clear))
    }

    /// `import`: a sealed export brings its key, which must open here, as must every value under
    /// it; one in clear is sealed under a new key.
    fn import_sealed(&self, stack: &str, snapshot: Snapshot) -> Result<StackMeta, StateError> {
        let key = self.unwrap_key(stack, &snapshot)?;
        let snapshot = match (key, &self.provider) {
            (Some(key), _) => {
                self.open(stack, Some(&key), snapshot.clone())?;
                snapshot
            }
            (None, Some(provider)) => {
                let opened = self.open(stack, None, snapshot)?;
                let (key, record) = self.new_key(stack, provider)?;
                sealed_under(&key, stack, self.all_outputs, record, opened)
            }
            (None, None) => self.open(stack, None, snapshot)?,
        };
        self.inner.import(snapshot)
    }
}

impl StateStore for SealedStore {
    fn load(&self, stack: &str) -> Result<Option<Snapshot>, StateError> {
        let Some(raw) = self.inner.load(stack)? else { return Ok(None) };
        let (key, raw) = self.seal_what_is_clear(stack, raw)?;
        self.open(stack, key.as_ref(), raw).map(Some)
    }

    fn write(&self, stack: &str, batch: Vec<Write>) -> Result<StackMeta, StateError> {
        // Without a provider, a sealed stack was refused at load: what is written is in clear.
        let Some(key) = self.data_key(stack)? else { return self.inner.write(stack, batch) };
        let sealed = batch
            .into_iter()
            .map(|w| match w {
                Write::PutResource(r) => Write::PutResource(seal_record(&key, stack, self.all_outputs, r)),
                Write::PutPending(p) => Write::PutPending(seal_pending(&key, stack, self.all_outputs, p)),
                other => other,
            })
            .collect();
        self.inner.write(stack, sealed)
    }

    fn prepare(&self, stack: &str) -> Result<(), StateError> {
        self.inner.prepare(stack)
    }

    fn import(&self, snapshot: Snapshot) -> Result<StackMeta, StateError> {
        let stack = snapshot.meta.stack.clone();
        self.forget(&stack);
        let imported = self.import_sealed(&stack, snapshot);
        // The next load unwraps whatever key the stack holds now, whether the import landed or not.
        self.forget(&stack);
        imported
    }

    fn lock(&self, stack: &str, info: &LockInfo) -> Result<Option<LockInfo>, StateError> {
        self.inner.lock(stack, info)
    }

    fn unlock(&self, stack: &str, lock_id: &str) -> Result<(), StateError> {
        self.inner.unlock(stack, lock_id)
    }

    fn lock_holder(&self, stack: &str) -> Result<Option<LockInfo>, StateError> {
        self.inner.lock_holder(stack)
    }

    fn force_unlock(&self, stack: &str, lock_id: &str) -> Result<(), StateError> {
        self.inner.force_unlock(stack, lock_id)
    }

    fn history(&self, stack: &str) -> Result<Vec<RestorePoint>, StateError> {
        self.inner.history(stack)
    }

    fn restore(&self, stack: &str, generation: u64) -> Result<StackMeta, StateError> {
        self.forget(stack);
        self.inner.restore(stack, generation)
    }
}
