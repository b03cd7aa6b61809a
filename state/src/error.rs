use crate::lock::LockInfo;

/// Errors from a state backend. `Display` is complete; the CLI renders it once.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    #[error("{}", locked_message(.stack, .holder))]
    Locked { stack: String, holder: Box<LockInfo> },
    #[error("stack `{stack}` is not locked")]
    NotLocked { stack: String },
    #[error("stack `{stack}` is locked by {} (lock id {}), not by lock id {expected}", .holder.describe(), .holder.id)]
    LockMismatch { stack: String, expected: String, holder: Box<LockInfo> },
    #[error("state of stack `{stack}` has format version {found}, newer than this Strake understands ({supported}); upgrade Strake")]
    UnsupportedVersion { stack: String, found: u32, supported: u32 },
    #[error("state record `{key}` is corrupt: {message}")]
    Corrupt { key: String, message: String },
    #[error("state backend I/O error at {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid stack name `{stack}`: use 1 to 128 ASCII letters, digits, `-`, `_` or `.`, starting with a letter or digit")]
    InvalidStackName { stack: String },
    /// Stored state failed its checks. Nothing was read as current state, and nothing written.
    #[error(
        "the state of stack `{stack}` is damaged: {problem}. Nothing was changed. List the states it can be restored \
         to with `state history`, restore one with `state restore <generation>`, then `refresh` (objects made since \
         then can be adopted with `import`)"
    )]
    Damaged { stack: String, problem: String },
    #[error("state backend error: {0}")]
    Backend(String),
}

fn locked_message(stack: &str, holder: &LockInfo) -> String {
    let mut msg = format!("stack `{stack}` is locked by {} (lock id {})", holder.describe(), holder.id);
    if !crate::lock::holder_is_alive(holder) {
        msg.push_str(&format!(
            "; the holder process {} on this host is no longer running, so the lock is stale: \
             break it with `force-unlock {}`",
            holder.pid, holder.id
        ));
    } else {
        msg.push_str("; wait for it to finish, or if you are sure it is gone, run `force-unlock ");
        msg.push_str(&holder.id);
        msg.push('`');
    }
    msg
}
