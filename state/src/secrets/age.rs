//! The age key provider, for teams without KMS (as SOPS uses it): the data key encrypted to one
//! or more age recipients (`age1...`), opened with any one of their identities, from
//! `STRAKE_AGE_KEY` (the `AGE-SECRET-KEY-1...` lines) or `STRAKE_AGE_KEY_FILE`.
//!
//! age has no associated data, so the stack and key id are encrypted with the key and checked
//! when it is opened: a wrapped key moved to another stack does not open there.

use std::io::{Read, Write};
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::{DataKey, KeyProvider, SecretsError, WrappedKey};

/// The environment variable that holds age identities.
pub const AGE_KEY_ENV: &str = "STRAKE_AGE_KEY";
/// The one that names a file of age identities.
pub const AGE_KEY_FILE_ENV: &str = "STRAKE_AGE_KEY_FILE";

/// age recipients, and the identities at hand to open what was sealed to them.
pub struct AgeRecipients {
    recipients: Vec<age::x25519::Recipient>,
    identities: Vec<Box<dyn age::Identity + Send + Sync>>,
}

fn binding(stack: &str, key_id: &str) -> Vec<u8> {
    format!("strake data key v1\0{stack}\0{key_id}\0age\0").into_bytes()
}

impl AgeRecipients {
    /// The provider for `spec` (`age:age1...,age1...`) with `identities` (the text of an age
    /// identity file; empty: this run can seal but not open).
    pub fn new(spec: &str, identities: &str) -> Result<AgeRecipients, SecretsError> {
        let list = spec.strip_prefix("age:").ok_or_else(|| SecretsError(format!("`{spec}` is not an age provider; use `age:age1...[,age1...]`")))?;
        let recipients = list
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(|r| age::x25519::Recipient::from_str(r).map_err(|e| SecretsError(format!("`{r}` is not an age recipient (`age1...`): {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        if recipients.is_empty() {
            return Err(SecretsError(format!("`{spec}` names no age recipient; use `age:age1...[,age1...]`")));
        }
        let identities = identities
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                age::x25519::Identity::from_str(l)
                    .map(|i| Box::new(i) as Box<dyn age::Identity + Send + Sync>)
                    .map_err(|e| SecretsError(format!("an age identity in {AGE_KEY_ENV} or {AGE_KEY_FILE_ENV} does not parse: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AgeRecipients { recipients, identities })
    }
}

impl KeyProvider for AgeRecipients {
    fn name(&self) -> &str {
        "age"
    }

    fn wrap(&self, stack: &str, key: &DataKey) -> Result<WrappedKey, SecretsError> {
        let failed = |e: String| SecretsError(format!("sealing the data key of stack `{stack}` to its age recipients failed: {e}"));
        let encryptor =
            age::Encryptor::with_recipients(self.recipients.iter().map(|r| r as &dyn age::Recipient)).map_err(|e| failed(e.to_string()))?;
        let mut sealed = Vec::new();
        let mut writer = encryptor.wrap_output(&mut sealed).map_err(|e| failed(e.to_string()))?;
        writer.write_all(&[binding(stack, key.id()).as_slice(), key.bytes()].concat()).map_err(|e| failed(e.to_string()))?;
        writer.finish().map_err(|e| failed(e.to_string()))?;
        let recipients: Vec<String> = self.recipients.iter().map(ToString::to_string).collect();
        Ok(WrappedKey {
            provider: self.name().into(),
            key_id: key.id().into(),
            params: serde_json::json!({ "recipients": recipients }),
            wrapped: B64.encode(sealed),
        })
    }

    fn unwrap(&self, stack: &str, wrapped: &WrappedKey) -> Result<DataKey, SecretsError> {
        let recipients = wrapped.params.get("recipients").map(ToString::to_string).unwrap_or_default();
        if self.identities.is_empty() {
            return Err(SecretsError(format!(
                "opening the secrets of stack `{stack}` takes the age identity of one of its recipients {recipients}: set {AGE_KEY_ENV} or {AGE_KEY_FILE_ENV}"
            )));
        }
        let refused = || {
            SecretsError(format!(
                "no age identity at hand opens the secrets of stack `{stack}` (sealed to {recipients}); nothing was read or written"
            ))
        };
        let sealed = wrapped.sealed_bytes(stack)?;
        let decryptor = age::Decryptor::new(&sealed[..]).map_err(|_| refused())?;
        let mut reader = decryptor.decrypt(self.identities.iter().map(|i| i.as_ref() as &dyn age::Identity)).map_err(|_| refused())?;
        let mut plain = Vec::new();
        reader.read_to_end(&mut plain).map_err(|_| refused())?;
        plain
            .strip_prefix(binding(stack, &wrapped.key_id).as_slice())
            .and_then(|b| DataKey::from_parts(&wrapped.key_id, b))
            .ok_or_else(|| SecretsError(format!("the age-sealed data key does not belong to stack `{stack}`")))
    }
}

#[cfg(test)]
mod tests {
    use age::secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn any_recipients_identity_opens_and_others_do_not() {
        let (alice, bob, eve) = (age::x25519::Identity::generate(), age::x25519::Identity::generate(), age::x25519::Identity::generate());
        let spec = format!("age:{},{}", alice.to_public(), bob.to_public());
        let key = DataKey::generate();
        let wrapped = AgeRecipients::new(&spec, "").unwrap().wrap("dev", &key).unwrap();

        for who in [&alice, &bob] {
            let back = AgeRecipients::new(&spec, who.to_string().expose_secret()).unwrap().unwrap("dev", &wrapped).unwrap();
            assert_eq!(back.bytes(), key.bytes());
        }
        let err = AgeRecipients::new(&spec, eve.to_string().expose_secret()).unwrap().unwrap("dev", &wrapped).unwrap_err();
        assert!(err.0.contains("no age identity at hand opens the secrets of stack `dev`"), "{err}");
        let err = AgeRecipients::new(&spec, "").unwrap().unwrap("dev", &wrapped).unwrap_err();
        assert!(err.0.contains(AGE_KEY_ENV), "{err}");
        // Bound to its stack.
        assert!(AgeRecipients::new(&spec, alice.to_string().expose_secret()).unwrap().unwrap("prod", &wrapped).is_err());
        assert!(AgeRecipients::new("age:nope", "").is_err());
    }
}
