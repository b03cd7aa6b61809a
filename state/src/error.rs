use crate::lock::LockInfo;

/// Errors from a state backend. `Display` is complete; the CLI renders it once.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The stack's lock is held by someone else.
    #[error("{}", locked_message(.stack, .holder))]
    Locked {
        /// The stack asked for.
        stack: String,
        /// Who holds the lock.
        holder: Box<LockInfo>,
    },
    /// An unlock of a stack that has no lock.
    #[error("stack `{stack}` is not locked")]
    NotLocked {
        /// The stack asked for.
        stack: String,
    },
    /// An unlock with a lock id that is not the current holder's.
    #[error("stack `{stack}` is locked by {} (lock id {}), not by lock id {expected}", .holder.describe(), .holder.id)]
    LockMismatch {
        /// The stack asked for.
        stack: String,
        /// The lock id given.
        expected: String,
        /// Who actually holds the lock.
        holder: Box<LockInfo>,
    },
    /// The state was written by a newer Strake, in a format version this one does not know.
    #[error("state of stack `{stack}` has format version {found}, newer than this Strake understands ({supported}); upgrade Strake")]
    UnsupportedVersion {
        /// The stack read.
        stack: String,
        /// The format version found in its state.
        found: u32,
        /// The newest format version this Strake reads ([`FORMAT_VERSION`](crate::FORMAT_VERSION)).
        supported: u32,
    },
    /// A stack's secrets could not be sealed or opened (wrong passphrase, no key provider, a
    /// tampered value). Nothing was written.
    #[error("{message}")]
    Secrets {
        /// The stack.
        stack: String,
        /// What went wrong and what to do, naming the stack.
        message: String,
    },
    /// A stored record (or lock file) could not be decoded.
    #[error("state record `{key}` is corrupt: {message}")]
    Corrupt {
        /// Which record: its key, or the file's path.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// Reading or writing the backend's files failed.
    #[error("state backend I/O error at {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A stack name that [`validate_stack_name`](crate::validate_stack_name) refuses.
    #[error("invalid stack name `{stack}`: use 1 to 128 ASCII letters, digits, `-`, `_` or `.`, starting with a letter or digit")]
    InvalidStackName {
        /// The name given.
        stack: String,
    },
    /// Stored state failed its checks. Nothing was read as current state, and nothing written.
    #[error(
        "the state of stack `{stack}` is damaged: {problem}. Nothing was changed. List the states it can be restored \
         to with `state history`, restore one with `state restore <generation>`, then `refresh` (objects made since \
         then can be adopted with `import`)"
    )]
    Damaged {
        /// The stack read.
        stack: String,
        /// What failed its check.
        problem: String,
    },
    /// Any other backend failure, as a complete message.
    #[error("state backend error: {0}")]
    Backend(String),
}

fn locked_message(stack: &str, holder: &LockInfo) -> String {
    let mut msg = format!("stack `{stack}` is locked by {} (lock id {})", holder.describe(), holder.id);
    if let Some(left) = holder.lease_left {
        msg.push_str(&format!(
            "; its lease runs out in {left} s unless the holder renews it, and a later run then takes the lock over \
             (if the holder is surely gone and you cannot wait, run `force-unlock {}`)",
            holder.id
        ));
    } else if !crate::lock::holder_is_alive(holder) {
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
