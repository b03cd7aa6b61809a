use serde::{Deserialize, Serialize};

/// Who holds a stack's lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// Random id; `force-unlock` takes it.
    pub id: String,
    /// What the holder is doing, e.g. `apply`.
    pub operation: String,
    /// `user@host`.
    pub holder: String,
    /// The holder's host name; a holder on this host is checked for being alive.
    pub host: String,
    /// The holder's process id on `host`.
    pub pid: u32,
    /// Unix seconds.
    pub created_at: u64,
    /// For a lease (the S3 backend's lock): the seconds left of it when it was read, by the
    /// server's clock. A holder that stops renewing loses the lock once this runs out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_left: Option<u64>,
}

impl LockInfo {
    /// A lock for the current process.
    pub fn for_current_process(operation: &str) -> Self {
        let host = gethostname::gethostname().to_string_lossy().into_owned();
        let user = std::env::var("USER").or_else(|_| std::env::var("USERNAME")).unwrap_or_else(|_| "unknown".into());
        LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            operation: operation.to_string(),
            holder: format!("{user}@{host}"),
            host,
            pid: std::process::id(),
            created_at: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
            lease_left: None,
        }
    }

    /// One line for error messages: `apply by alice@box (pid 42) since 1700000000`.
    pub fn describe(&self) -> String {
        format!("`{}` by {} (pid {}, since unix time {})", self.operation, self.holder, self.pid, self.created_at)
    }
}

/// Whether the lock's holder may still be running. A holder on another host is always presumed
/// alive; on this host, a pid that no longer exists means the lock is stale.
pub fn holder_is_alive(info: &LockInfo) -> bool {
    if info.lease_left.is_some() {
        // A lease says itself whether its holder is alive: it renews it.
        return true;
    }
    let this_host = gethostname::gethostname().to_string_lossy().into_owned();
    if info.host != this_host {
        return true;
    }
    if info.pid == std::process::id() {
        return true;
    }
    let proc_root = std::path::Path::new("/proc");
    if !proc_root.join("self").exists() {
        // No procfs: we cannot tell, so presume alive.
        return true;
    }
    proc_root.join(info.pid.to_string()).exists()
}
