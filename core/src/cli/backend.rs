//! Which state backend a run keeps its stack in: `--backend` (or `STRAKE_BACKEND`), else
//! `[backend]` in Strake.toml, else `.strake/` beside the program.
//!
//! ```toml
//! [backend]
//! url = "s3://team-state/infra"   # or a directory
//! region = "eu-west-1"            # the bucket's; default: the standard AWS chain's
//! profile = "state"               # default: the standard AWS chain
//! endpoint = "https://..."        # an S3-compatible store; AWS_ENDPOINT_URL works too
//! lease_seconds = 120             # how long a lock lasts unless renewed
//! allow_unconditional_writes = false
//! ```

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use strake_state::s3::{S3Options, S3Store};
use strake_state::secrets::{KeyProvider, SealedStore};
use strake_state::{LocalStore, StateStore};

use crate::config::Config;
use crate::error::Error;

/// The Strake.toml keys of the backend, read by Strake itself (never by the program).
pub(crate) const KEYS: [&str; 6] =
    ["backend.url", "backend.region", "backend.profile", "backend.endpoint", "backend.lease_seconds", "backend.allow_unconditional_writes"];

/// Opens the stack's backend, its secrets sealed by `secrets` (see [`super::secrets`]).
pub(crate) fn open(dir: &Path, flag: Option<&str>, config: &Config, secrets: Option<Arc<dyn KeyProvider>>) -> Result<Arc<SealedStore>, Error> {
    let all_outputs = super::secrets::all_outputs(config)?;
    Ok(Arc::new(SealedStore::new(open_raw(dir, flag, config)?, secrets).with_all_outputs(all_outputs)))
}

fn open_raw(dir: &Path, flag: Option<&str>, config: &Config) -> Result<Arc<dyn StateStore>, Error> {
    let url = flag.map(str::to_string).or_else(|| config.get("backend.url").map(str::to_string));
    let url = match url {
        Some(url) if url.starts_with("s3://") => url,
        other => return Ok(Arc::new(LocalStore::new(other.map_or_else(|| dir.join(".strake"), |u| dir.join(u)))?)),
    };
    let key = |k: &str| config.get(&format!("backend.{k}")).map(str::to_string);
    let lease = match key("lease_seconds") {
        None => strake_state::s3::DEFAULT_LEASE,
        Some(s) => match s.parse::<u64>() {
            Ok(n) if n >= 10 => Duration::from_secs(n),
            _ => return Err(Error::Config(format!("`backend.lease_seconds = {s}`: expected whole seconds, at least 10 (default 120)"))),
        },
    };
    let allow_unconditional_writes = match key("allow_unconditional_writes").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return Err(Error::Config(format!("`backend.allow_unconditional_writes = {other}`: expected true or false"))),
    };
    let options = S3Options {
        region: key("region"),
        profile: key("profile"),
        endpoint: key("endpoint"),
        lease,
        allow_unconditional_writes,
        ..S3Options::new(url)
    };
    Ok(Arc::new(S3Store::new(options)?))
}
