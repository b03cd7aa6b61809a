//! The passphrase key provider: the data key wrapped under a key derived from a passphrase with
//! Argon2id (RFC 9106), with a random 16-byte salt per stack.

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use super::{DataKey, KeyProvider, SecretsError, WrappedKey, open_bytes, random, seal_bytes};

/// The Argon2id costs a new key is wrapped with: 64 MiB, 3 passes, one lane (RFC 9106's second
/// recommended option, with the lanes this machine class has).
const MEMORY_KIB: u32 = 64 * 1024;
const PASSES: u32 = 3;
const LANES: u32 = 1;

/// How the key-encryption key was derived; kept beside the wrapped key, so costs can rise later
/// without breaking older stacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Kdf {
    algorithm: String,
    salt: String,
    memory_kib: u32,
    passes: u32,
    lanes: u32,
}

/// A passphrase, from `STRAKE_PASSPHRASE` or a prompt (never from a file in the repository).
pub struct Passphrase {
    passphrase: String,
}

impl Passphrase {
    /// The provider for `passphrase`; an empty one is refused.
    pub fn new(passphrase: impl Into<String>) -> Result<Passphrase, SecretsError> {
        let passphrase = passphrase.into();
        if passphrase.is_empty() {
            return Err(SecretsError("the passphrase is empty; set STRAKE_PASSPHRASE to the stack's passphrase".into()));
        }
        Ok(Passphrase { passphrase })
    }

    fn derive(&self, kdf: &Kdf) -> Result<[u8; 32], SecretsError> {
        let bad = |what: String| SecretsError(format!("the passphrase key's parameters are damaged: {what}"));
        if kdf.algorithm != "argon2id" {
            return Err(bad(format!("unknown algorithm `{}`", kdf.algorithm)));
        }
        let salt = B64.decode(&kdf.salt).map_err(|e| bad(e.to_string()))?;
        let params = Params::new(kdf.memory_kib, kdf.passes, kdf.lanes, Some(32)).map_err(|e| bad(e.to_string()))?;
        let mut out = [0u8; 32];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(self.passphrase.as_bytes(), &salt, &mut out)
            .map_err(|e| bad(e.to_string()))?;
        Ok(out)
    }
}

fn aad(stack: &str, key_id: &str) -> Vec<u8> {
    format!("strake data key v1\0{stack}\0{key_id}\0passphrase").into_bytes()
}

impl KeyProvider for Passphrase {
    fn name(&self) -> &str {
        "passphrase"
    }

    fn wrap(&self, stack: &str, key: &DataKey) -> Result<WrappedKey, SecretsError> {
        let kdf = Kdf { algorithm: "argon2id".into(), salt: B64.encode(random::<16>()), memory_kib: MEMORY_KIB, passes: PASSES, lanes: LANES };
        let kek = self.derive(&kdf)?;
        Ok(WrappedKey {
            provider: self.name().into(),
            key_id: key.id().into(),
            params: serde_json::to_value(&kdf).expect("KDF parameters serialize"),
            wrapped: B64.encode(seal_bytes(&kek, &aad(stack, key.id()), key.bytes())),
        })
    }

    fn unwrap(&self, stack: &str, wrapped: &WrappedKey) -> Result<DataKey, SecretsError> {
        let kdf: Kdf =
            serde_json::from_value(wrapped.params.clone()).map_err(|e| SecretsError(format!("the passphrase key's parameters are damaged: {e}")))?;
        let kek = self.derive(&kdf)?;
        let sealed = wrapped.sealed_bytes(stack)?;
        open_bytes(&kek, &aad(stack, &wrapped.key_id), &sealed).and_then(|b| DataKey::from_parts(&wrapped.key_id, &b)).ok_or_else(|| {
            SecretsError(format!("the passphrase does not open the secrets of stack `{stack}`: check STRAKE_PASSPHRASE; nothing was read or written"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_right_passphrase_unwraps_and_a_wrong_one_is_refused() {
        let key = DataKey::generate();
        let wrapped = Passphrase::new("correct horse").unwrap().wrap("dev", &key).unwrap();
        assert!(!wrapped.wrapped.is_empty() && wrapped.params["salt"].as_str().is_some_and(|s| B64.decode(s).unwrap().len() == 16));
        let back = Passphrase::new("correct horse").unwrap().unwrap("dev", &wrapped).unwrap();
        assert_eq!((back.id(), back.bytes()), (key.id(), key.bytes()));

        let err = Passphrase::new("wrong horse").unwrap().unwrap("dev", &wrapped).unwrap_err();
        assert!(err.0.contains("does not open the secrets of stack `dev`"), "{err}");
        // The wrapped key is bound to its stack.
        assert!(Passphrase::new("correct horse").unwrap().unwrap("prod", &wrapped).is_err());
        assert!(Passphrase::new("").is_err());
    }
}
