//! How a stack's secrets are kept at rest: `[secrets]` in Strake.toml.
//!
//! ```toml
//! [secrets]
//! provider = "passphrase"   # the passphrase comes from STRAKE_PASSPHRASE, or a prompt
//! # provider = "awskms://alias/team-secrets"   # an AWS KMS key (`?region=...` optional)
//! # provider = "age:age1...,age1..."   # age recipients; identity from STRAKE_AGE_KEY(_FILE)
//! all_outputs = false       # true: every output is sealed, secret or not
//! ```
//!
//! Without it, secrets are kept as they were (in clear, never printed), and a stack whose secrets
//! are sealed is refused with a message that says which provider it needs.

use std::io::IsTerminal;
use std::sync::Arc;

use strake_state::secrets::{AGE_KEY_ENV, AGE_KEY_FILE_ENV, AgeRecipients, AwsKms, KeyProvider, Passphrase};

use crate::config::Config;
use crate::error::Error;

/// The Strake.toml keys of secrets at rest, read by Strake itself (never by the program).
pub(crate) const KEYS: [&str; 2] = ["secrets.provider", "secrets.all_outputs"];

/// The environment variable that holds the passphrase.
pub(crate) const PASSPHRASE_ENV: &str = "STRAKE_PASSPHRASE";
/// The one that holds the new passphrase of `secrets change-provider passphrase`.
pub(crate) const NEW_PASSPHRASE_ENV: &str = "STRAKE_NEW_PASSPHRASE";

/// `all_outputs = true`: every output is sealed, secret or not.
pub(crate) fn all_outputs(config: &Config) -> Result<bool, Error> {
    match config.get("secrets.all_outputs") {
        None | Some("false") => Ok(false),
        Some("true") if config.get("secrets.provider").is_some() => Ok(true),
        Some("true") => Err(Error::Config("`secrets.all_outputs = true` needs a key provider: set `provider` under [secrets] too".into())),
        Some(other) => Err(Error::Config(format!("`secrets.all_outputs = {other}`: expected true or false"))),
    }
}

/// The key provider `[secrets]` names, if any.
pub(crate) fn provider(config: &Config, stack: &str) -> Result<Option<Arc<dyn KeyProvider>>, Error> {
    config.get("secrets.provider").map(|name| named(name, stack, PASSPHRASE_ENV)).transpose()
}

/// The key provider `name` (`passphrase`, its passphrase from `passphrase_env` or a prompt;
/// `awskms://...`; `age:...`).
pub(crate) fn named(name: &str, stack: &str, passphrase_env: &str) -> Result<Arc<dyn KeyProvider>, Error> {
    match name {
        "passphrase" => {
            let passphrase = match std::env::var(passphrase_env) {
                Ok(p) => p,
                Err(_) if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() => prompt(stack, passphrase_env == NEW_PASSPHRASE_ENV)?,
                Err(_) => {
                    return Err(Error::Config(format!(
                        "`secrets.provider = \"passphrase\"`: set {passphrase_env} to the passphrase of stack `{stack}` (there is no terminal to ask on)"
                    )));
                }
            };
            let provider = Passphrase::new(passphrase).map_err(|e| Error::Config(format!("`secrets.provider = \"passphrase\"`: {e}")))?;
            Ok(Arc::new(provider))
        }
        age if age.starts_with("age:") => {
            let identities = match (std::env::var(AGE_KEY_ENV), std::env::var(AGE_KEY_FILE_ENV)) {
                (Ok(keys), _) => keys,
                (_, Ok(file)) => std::fs::read_to_string(&file).map_err(|e| Error::Config(format!("{AGE_KEY_FILE_ENV}: cannot read {file}: {e}")))?,
                _ => String::new(),
            };
            let provider = AgeRecipients::new(age, &identities).map_err(|e| Error::Config(format!("`secrets.provider = \"{age}\"`: {e}")))?;
            Ok(Arc::new(provider))
        }
        kms if kms.starts_with("awskms://") => {
            let provider = AwsKms::new(kms).map_err(|e| Error::Config(format!("`secrets.provider = \"{kms}\"`: {e}")))?;
            Ok(Arc::new(provider))
        }
        other => Err(Error::Config(format!(
            "`secrets.provider = \"{other}\"` is not a key provider this Strake knows; use `passphrase` (with {PASSPHRASE_ENV}), \
             `awskms://alias/<name>` (an AWS KMS key, through the standard AWS chain) or `age:age1...[,age1...]` (age recipients; \
             the identity from {AGE_KEY_ENV} or {AGE_KEY_FILE_ENV})"
        ))),
    }
}

/// Asks for the passphrase of `stack` at the terminal; a new one twice, so a typo cannot lock the
/// stack's secrets away.
fn prompt(stack: &str, new: bool) -> Result<String, Error> {
    let term = console::Term::stderr();
    let read = |what: &str| {
        eprint!("{what}: ");
        term.read_secure_line().map_err(|e| Error::Config(format!("reading the passphrase: {e}")))
    };
    if !new {
        return read(&format!("Passphrase of the secrets of stack `{stack}`"));
    }
    let first = read(&format!("New passphrase for the secrets of stack `{stack}`"))?;
    if read("The new passphrase again")? != first {
        return Err(Error::Config("the two new passphrases differ; nothing was changed".into()));
    }
    Ok(first)
}
