//! Secrets at rest: every value marked secret is stored encrypted, in every backend, in the
//! pending-operation journal, in saved plans and in exports.
//!
//! - Each stack has one random 256-bit **data key**. A secret value is sealed with AES-256-GCM
//!   under it, with associated data that names the stack, the key, the record (URN or pending
//!   operation) and the property path, so a ciphertext moved to another field, record or stack
//!   does not open.
//! - The data key is kept **wrapped** in a record of the stack's own state
//!   ([`RecordKind::SecretsKey`]), by a [`KeyProvider`]: a
//!   passphrase through Argon2id ([`Passphrase`]), an AWS KMS key (`AwsKms`, feature `kms`), or
//!   age recipients ([`AgeRecipients`]).
//! - A sealed value is `{"__strake_ciphertext": "v1:<base64 of nonce and ciphertext>"}` in place
//!   of `{"__strake_secret": <value>}`.
//!
//! [`SealedStore`] puts this in front of any [`StateStore`](crate::StateStore).

mod age;
#[cfg(feature = "kms")]
mod kms;
mod passphrase;
mod sealed;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use age::{AGE_KEY_ENV, AGE_KEY_FILE_ENV, AgeRecipients};
#[cfg(feature = "kms")]
pub use kms::AwsKms;
pub use passphrase::Passphrase;
pub use sealed::SealedStore;

use crate::{JsonText, RecordKind, ResourceRecord};

/// The marker of a secret value in clear: `{"__strake_secret": <value>}`.
pub const SECRET_MARKER: &str = "__strake_secret";
/// The marker of a sealed secret: `{"__strake_ciphertext": "v1:..."}`.
pub const CIPHERTEXT_MARKER: &str = "__strake_ciphertext";
/// The type token of the record that keeps a stack's wrapped data key.
pub const KEY_RECORD_TYPE: &str = "strake:internal:SecretsKey";

/// The URN of the record that keeps `stack`'s wrapped data key.
pub fn key_record_urn(stack: &str) -> String {
    format!("urn:strake:{stack}::{KEY_RECORD_TYPE}::data-key")
}

/// Why secrets could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SecretsError(pub String);

/// How a stack's data key is wrapped: kept in its state, readable by anyone, useful only to a
/// holder of the provider's secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrappedKey {
    /// The key provider: `passphrase`.
    pub provider: String,
    /// Random, fixed when the data key is made; part of every value's associated data.
    pub key_id: String,
    /// The provider's own parameters (for a passphrase: the KDF, its salt and costs).
    #[serde(default)]
    pub params: Value,
    /// `base64(nonce ‖ AES-256-GCM(data key))`.
    pub wrapped: String,
}

impl WrappedKey {
    /// The record that keeps it in the stack's state.
    pub fn record(&self, stack: &str) -> ResourceRecord {
        ResourceRecord {
            urn: key_record_urn(stack),
            kind: RecordKind::SecretsKey,
            type_token: KEY_RECORD_TYPE.into(),
            id: self.key_id.clone(),
            inputs: JsonText::encode(self),
            outputs: JsonText::null(),
            dependencies: Vec::new(),
            provider: None,
            protect: false,
            retain_on_delete: false,
            schema_version: 0,
        }
    }

    /// What `[secrets] provider` must say to open it: `passphrase`, `awskms://<key>`, `age:<recipients>`.
    pub fn setting(&self) -> String {
        match self.provider.as_str() {
            "awskms" => format!("awskms://{}", self.params.get("key").and_then(Value::as_str).unwrap_or("<key>")),
            "age" => {
                let recipients: Vec<&str> =
                    self.params.get("recipients").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
                format!("age:{}", recipients.join(","))
            }
            other => other.to_string(),
        }
    }

    /// The wrapped key's bytes, from their base64.
    pub(crate) fn sealed_bytes(&self, stack: &str) -> Result<Vec<u8>, SecretsError> {
        B64.decode(&self.wrapped).map_err(|e| SecretsError(format!("the wrapped data key of stack `{stack}` is damaged: {e}")))
    }

    /// The wrapped key a record keeps.
    pub fn from_record(record: &ResourceRecord) -> Result<WrappedKey, SecretsError> {
        record.inputs.decode().map_err(|e| SecretsError(format!("the record of the stack's data key is damaged: {e}")))
    }
}

/// Wraps and unwraps data keys: a passphrase, a KMS key, age recipients.
pub trait KeyProvider: Send + Sync {
    /// Its name in [`WrappedKey::provider`].
    fn name(&self) -> &str;
    /// Wraps `key` of stack `stack`.
    fn wrap(&self, stack: &str, key: &DataKey) -> Result<WrappedKey, SecretsError>;
    /// Unwraps `wrapped`; a wrong secret is an error that names the stack.
    fn unwrap(&self, stack: &str, wrapped: &WrappedKey) -> Result<DataKey, SecretsError>;
    /// A new data key for `stack`, and it wrapped (a KMS makes both in one call).
    fn generate(&self, stack: &str) -> Result<(DataKey, WrappedKey), SecretsError> {
        let key = DataKey::generate();
        let wrapped = self.wrap(stack, &key)?;
        Ok((key, wrapped))
    }
}

/// One stack's data key.
#[derive(Clone)]
pub struct DataKey {
    id: String,
    bytes: [u8; 32],
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKey").field("id", &self.id).finish_non_exhaustive()
    }
}

/// `n` random bytes from the system's generator.
pub(crate) fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system's random generator works");
    bytes
}

/// AES-256-GCM of `plaintext` under `key` with `aad`: `nonce ‖ ciphertext ‖ tag`.
pub(crate) fn seal_bytes(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("a 32-byte key"));
    let nonce = random::<NONCE_LEN>();
    let mut sealed = plaintext.to_vec();
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut sealed).expect("sealing cannot fail");
    [nonce.as_slice(), &sealed].concat()
}

/// The inverse of [`seal_bytes`]; `None` when the key, the data or the associated data differ.
pub(crate) fn open_bytes(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).ok()?);
    if sealed.len() < NONCE_LEN {
        return None;
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let mut body = body.to_vec();
    let plain = key.open_in_place(Nonce::try_assume_unique_for_key(nonce).ok()?, Aad::from(aad), &mut body).ok()?;
    Some(plain.to_vec())
}

impl DataKey {
    /// A new random key.
    pub fn generate() -> DataKey {
        DataKey { id: uuid::Uuid::new_v4().to_string(), bytes: random() }
    }

    /// The key with this id and material (an unwrapped key); `None` unless it is 256 bits.
    pub(crate) fn from_parts(id: &str, bytes: &[u8]) -> Option<DataKey> {
        Some(DataKey { id: id.to_string(), bytes: bytes.try_into().ok()? })
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// Its id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The associated data of a value sealed as `form` (`v1`: a secret; `w1`: a whole value).
    fn aad(&self, form: &str, stack: &str, owner: &str, path: &str) -> Vec<u8> {
        let what = if form == "v1" { "secret v1" } else { "whole value w1" };
        format!("strake {what}\0{stack}\0{}\0{owner}\0{path}", self.id).into_bytes()
    }

    /// Seals all of `value` (secret or not) as one ciphertext: the whole-state mode's outputs.
    pub fn seal_whole(&self, stack: &str, owner: &str, path: &str, value: &mut Value) {
        let sealed = seal_bytes(&self.bytes, &self.aad("w1", stack, owner, path), &serde_json::to_vec(value).expect("JSON serializes"));
        *value = marker(CIPHERTEXT_MARKER, Value::String(format!("w1:{}", B64.encode(sealed))));
    }

    /// Seals every secret in `value`, a property of `owner` (a URN, or `pending:<id>`) at `path`.
    pub fn seal(&self, stack: &str, owner: &str, path: &str, value: &mut Value) {
        walk(value, path, &mut |inner, path| {
            let Some(plain) = inner.as_object().filter(|m| m.len() == 1).and_then(|m| m.get(SECRET_MARKER)) else { return Ok(false) };
            let sealed = seal_bytes(&self.bytes, &self.aad("v1", stack, owner, path), &serde_json::to_vec(plain).expect("JSON serializes"));
            *inner = marker(CIPHERTEXT_MARKER, Value::String(format!("v1:{}", B64.encode(sealed))));
            Ok(true)
        })
        .expect("sealing cannot fail");
    }

    /// Opens every sealed secret in `value`; a value that does not open (tampered, moved, or
    /// sealed under another key) is an error naming where it is.
    pub fn open(&self, stack: &str, owner: &str, path: &str, value: &mut Value) -> Result<(), SecretsError> {
        walk(value, path, &mut |inner, path| {
            let Some(text) = inner.as_object().filter(|m| m.len() == 1).and_then(|m| m.get(CIPHERTEXT_MARKER)) else { return Ok(false) };
            let fail = || {
                SecretsError(format!(
                    "the secret at `{path}` of {owner} in stack `{stack}` does not open: it was altered, moved from another place, or sealed under another key"
                ))
            };
            let (form, sealed) = text.as_str().and_then(|t| t.split_once(':')).ok_or_else(fail)?;
            if form != "v1" && form != "w1" {
                return Err(fail());
            }
            let sealed = B64.decode(sealed).map_err(|_| fail())?;
            let plain = open_bytes(&self.bytes, &self.aad(form, stack, owner, path), &sealed).ok_or_else(fail)?;
            let plain: Value = serde_json::from_slice(&plain).map_err(|_| fail())?;
            *inner = if form == "v1" { marker(SECRET_MARKER, plain) } else { plain };
            Ok(true)
        })
    }
}

fn marker(key: &str, value: Value) -> Value {
    Value::Object(Map::from_iter([(key.to_string(), value)]))
}

/// Calls `f` on every node of `value` (with its path) until it says it took the node.
fn walk(value: &mut Value, path: &str, f: &mut dyn FnMut(&mut Value, &str) -> Result<bool, SecretsError>) -> Result<(), SecretsError> {
    if f(value, path)? {
        return Ok(());
    }
    match value {
        // JSON Pointer's escapes, so `{"a/b": x}` and `{"a": {"b": x}}` are different places.
        Value::Object(map) => map.iter_mut().try_for_each(|(k, v)| walk(v, &format!("{path}/{}", k.replace('~', "~0").replace('/', "~1")), f)),
        Value::Array(items) => items.iter_mut().enumerate().try_for_each(|(i, v)| walk(v, &format!("{path}/{i}"), f)),
        _ => Ok(()),
    }
}

/// Whether a recorded value holds a secret in clear.
pub fn has_clear_secret(value: &JsonText) -> bool {
    holds_marker(value, SECRET_MARKER)
}

/// Whether a recorded value holds a single-key object `{marker: ...}` anywhere. Only a text that
/// may have the key is parsed.
pub(crate) fn holds_marker(value: &JsonText, marker: &str) -> bool {
    value.may_have_key(marker) && tree_holds_marker(&value.to_value(), marker)
}

fn tree_holds_marker(value: &Value, marker: &str) -> bool {
    match value {
        Value::Object(map) => map.len() == 1 && map.contains_key(marker) || map.values().any(|v| tree_holds_marker(v, marker)),
        Value::Array(items) => items.iter().any(|v| tree_holds_marker(v, marker)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sample() -> Value {
        json!({ "name": "db", "password": { "__strake_secret": "hunter2" }, "list": [1, { "__strake_secret": { "token": "t0k" } }] })
    }

    #[test]
    fn secrets_round_trip_and_nothing_else_changes() {
        let key = DataKey::generate();
        let mut v = sample();
        key.seal("dev", "urn:a", "inputs", &mut v);
        let text = v.to_string();
        assert!(!text.contains("hunter2") && !text.contains("t0k") && !tree_holds_marker(&v, SECRET_MARKER), "{text}");
        assert_eq!(v["name"], "db");
        key.open("dev", "urn:a", "inputs", &mut v).unwrap();
        assert_eq!(v, sample());
    }

    #[test]
    fn a_tampered_moved_or_foreign_ciphertext_does_not_open() {
        let key = DataKey::generate();
        let mut v = sample();
        key.seal("dev", "urn:a", "inputs", &mut v);

        // Another record, another path, another stack, another key.
        for (stack, owner, path) in [("dev", "urn:b", "inputs"), ("dev", "urn:a", "outputs"), ("prod", "urn:a", "inputs")] {
            let err = key.open(stack, owner, path, &mut v.clone()).unwrap_err();
            assert!(err.0.contains("does not open") && err.0.contains(stack), "{err}");
        }
        assert!(DataKey::generate().open("dev", "urn:a", "inputs", &mut v.clone()).is_err());

        // Two fields swapped within one record.
        let mut swapped = v.clone();
        let a = swapped["password"].clone();
        swapped["password"] = swapped["list"][1].clone();
        swapped["list"][1] = a;
        assert!(key.open("dev", "urn:a", "inputs", &mut swapped).is_err());

        // One bit flipped.
        let mut flipped = v.clone();
        let text = flipped["password"][CIPHERTEXT_MARKER].as_str().unwrap().to_string();
        let mut bytes = B64.decode(&text[3..]).unwrap();
        bytes[20] ^= 1;
        flipped["password"][CIPHERTEXT_MARKER] = Value::String(format!("v1:{}", B64.encode(bytes)));
        let err = key.open("dev", "urn:a", "inputs", &mut flipped).unwrap_err();
        assert!(err.0.contains("/password"), "{err}");
    }

    #[test]
    fn a_whole_value_seals_as_one_and_opens_as_it_was() {
        let key = DataKey::generate();
        let mut v = sample();
        key.seal_whole("dev", "urn:a", "outputs", &mut v);
        assert!(!v.to_string().contains("db"), "{v}");
        key.open("dev", "urn:a", "outputs", &mut v).unwrap();
        assert_eq!(v, sample());
        // Sealed whole, it does not open as a secret of the same place.
        let mut whole = json!("x");
        key.seal_whole("dev", "urn:a", "outputs", &mut whole);
        let mut forged = json!({ CIPHERTEXT_MARKER: whole[CIPHERTEXT_MARKER].as_str().unwrap().replacen("w1:", "v1:", 1) });
        assert!(key.open("dev", "urn:a", "outputs", &mut forged).is_err());
    }

    #[test]
    fn a_key_with_a_slash_is_another_place_than_a_nested_key() {
        let key = DataKey::generate();
        let mut flat = json!({ "a/b": { "__strake_secret": 1 } });
        key.seal("dev", "urn:a", "inputs", &mut flat);
        let mut nested = json!({ "a": { "b": flat["a/b"].clone() } });
        assert!(key.open("dev", "urn:a", "inputs", &mut nested).is_err());
        key.open("dev", "urn:a", "inputs", &mut flat).unwrap();
    }

    #[test]
    fn two_seals_of_one_value_differ() {
        let key = DataKey::generate();
        let (mut a, mut b) = (sample(), sample());
        key.seal("dev", "urn:a", "inputs", &mut a);
        key.seal("dev", "urn:a", "inputs", &mut b);
        assert_ne!(a, b, "a fresh nonce per seal");
    }
}
