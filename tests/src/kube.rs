//! A real kube-apiserver for the Kubernetes suites.
//!
//! `tests/run.sh` starts one (tests/kube/start.sh) and exports `STRAKE_TEST_KUBE_DIR`; the suites
//! share it, each test in namespaces of its own. Without that variable (a single test run by
//! hand), [`Kube::get`] starts a private one and stops it on drop.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use strake_kubernetes::KubernetesProvider;

/// The issuer the test API server signs service-account tokens with.
pub const TEST_ISSUER: &str = "https://oidc.eks.us-east-1.amazonaws.com/id/STRAKETEST00000000000000000000000";

/// A running API server.
pub struct Kube {
    dir: PathBuf,
    env: BTreeMap<String, String>,
    owned: Option<tempfile::TempDir>,
}

impl Kube {
    /// The shared server, or a private one when none is running.
    pub fn get() -> Kube {
        match std::env::var_os("STRAKE_TEST_KUBE_DIR") {
            Some(dir) => Kube::open(PathBuf::from(dir), None),
            None => Kube::start(TEST_ISSUER),
        }
    }

    /// Starts a private server with `issuer` (stopped on drop).
    pub fn start(issuer: &str) -> Kube {
        let dir = tempfile::Builder::new().prefix("strake-kube-").tempdir().expect("temp dir");
        let out = Command::new("bash")
            .arg(crate::workspace_root().join("tests/kube/start.sh"))
            .arg(dir.path())
            .arg(issuer)
            .output()
            .expect("running tests/kube/start.sh");
        assert!(
            out.status.success(),
            "tests/kube/start.sh failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let path = dir.path().to_path_buf();
        Kube::open(path, Some(dir))
    }

    fn open(dir: PathBuf, owned: Option<tempfile::TempDir>) -> Kube {
        let text = std::fs::read_to_string(dir.join("env")).expect("the API server's env file");
        let env = text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Kube { dir, env, owned }
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    /// A kubeconfig for this server as user `nobody`, who may do nothing but authenticate.
    pub fn nobody_kubeconfig(&self) -> PathBuf {
        self.dir.join("nobody.kubeconfig")
    }

    /// A provider configuration for this server.
    pub fn provider(&self) -> KubernetesProvider {
        KubernetesProvider::from_kubeconfig().kubeconfig_path(self.kubeconfig().display().to_string())
    }

    /// Runs kubectl against this server.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        let kubectl = self.env.get("KUBECTL").cloned().unwrap_or_else(|| "kubectl".into());
        Command::new(kubectl).arg("--kubeconfig").arg(self.kubeconfig()).args(args).output().expect("running kubectl")
    }

    /// kubectl that must succeed; returns stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(out.status.success(), "kubectl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `kubectl get -o json`, parsed; `None` when not found.
    pub fn get_json(&self, args: &[&str]) -> Option<serde_json::Value> {
        let mut all = vec!["get", "-o", "json"];
        all.extend_from_slice(args);
        let out = self.kubectl(&all);
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("NotFound") || err.contains("not found"), "kubectl {all:?}: {err}");
            return None;
        }
        Some(serde_json::from_slice(&out.stdout).expect("kubectl printed JSON"))
    }

    /// A kubeconfig that reaches the server through a proxy counting the connections made.
    pub fn counted(&self) -> (KubernetesProvider, Arc<AtomicUsize>, tempfile::NamedTempFile) {
        let server = self.env.get("KUBE_API_URL").expect("KUBE_API_URL").trim_start_matches("https://").to_string();
        let (addr, count) = counting_proxy(&server);
        let text = std::fs::read_to_string(self.kubeconfig()).expect("kubeconfig");
        let file = tempfile::NamedTempFile::new().expect("temp kubeconfig");
        std::fs::write(file.path(), text.replace(&server, &addr)).expect("writing kubeconfig");
        let provider = KubernetesProvider::from_kubeconfig().kubeconfig_path(file.path().display().to_string());
        (provider, count, file)
    }
}

impl Drop for Kube {
    fn drop(&mut self) {
        if self.owned.is_some() {
            let _ = Command::new("bash").arg(crate::workspace_root().join("tests/kube/stop.sh")).arg(&self.dir).output();
        }
    }
}

/// A TCP proxy on loopback that forwards to `target` and counts accepted connections. TLS passes
/// through untouched, so zero connections proves zero API calls.
fn counting_proxy(target: &str) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding the counting proxy");
    let addr = listener.local_addr().expect("proxy address").to_string();
    let count = Arc::new(AtomicUsize::new(0));
    let (target, seen) = (target.to_string(), count.clone());
    std::thread::spawn(move || {
        for client in listener.incoming().map_while(Result::ok) {
            seen.fetch_add(1, Ordering::SeqCst);
            let Ok(server) = TcpStream::connect(&target) else { continue };
            pipe(client, server);
        }
    });
    (addr, count)
}

fn pipe(a: TcpStream, b: TcpStream) {
    let (Ok(a2), Ok(b2)) = (a.try_clone(), b.try_clone()) else { return };
    std::thread::spawn(move || copy(a, b2));
    std::thread::spawn(move || copy(b, a2));
}

fn copy(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}
