//! A moto server on a free loopback port, one per test, with its request recorder.
//!
//! Account A is moto's default account (123456789012). Account B (222222222222) is reached the
//! way a user would: a provider that assumes a role ARN in B with A's credentials.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine as _;
use strake_aws::AwsProvider;

use crate::http::request;

pub const ACCOUNT_A: &str = "123456789012";
pub const ACCOUNT_B: &str = "222222222222";
pub const REGION: &str = "us-east-1";
/// Attempts per API call of the tests' providers, and their first backoff: quick, so injected
/// faults do not make the suites slow.
pub const TEST_ATTEMPTS: u32 = 6;
pub const TEST_BACKOFF: Duration = Duration::from_millis(10);
/// The role assumed in account B by the tests' account-B provider.
pub const ROLE_IN_B: &str = "arn:aws:iam::222222222222:role/strake-deployer";

/// A running moto server, killed on drop.
pub struct Moto {
    child: Child,
    /// `127.0.0.1:PORT`
    pub addr: String,
    _recording: tempfile::NamedTempFile,
}

/// One request moto received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub url: String,
    pub body: String,
}

impl Recorded {
    /// The query-protocol action (IAM, STS), if any: `Action=CreateRole&...`.
    pub fn action(&self) -> Option<String> {
        self.body.split('&').find_map(|kv| kv.strip_prefix("Action=")).map(str::to_string)
    }

    /// Whether the request changes something in the cloud.
    pub fn is_mutating(&self) -> bool {
        match self.action() {
            Some(a) => !(a.starts_with("Get") || a.starts_with("List") || a.starts_with("Describe") || a.starts_with("Assume")),
            None => !matches!(self.method.as_str(), "GET" | "HEAD"),
        }
    }
}

impl Moto {
    /// Starts moto (installs it first if `moto.server` is missing) and waits until it answers.
    pub fn start() -> Moto {
        ensure_installed();
        let recording = tempfile::NamedTempFile::new().expect("recording file");
        // moto's server through a launcher that frames a few S3 answers as S3 does (see the file).
        let launcher = crate::workspace_root().join("tests/moto/server.py");
        let mut child = Command::new("python3")
            .arg(launcher)
            .args(["-H", "127.0.0.1", "-p", "0"])
            .env("MOTO_RECORDER_FILEPATH", recording.path())
            .env_remove("MOTO_ACCOUNT_ID")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting moto's server");
        let (tx, rx) = mpsc::channel();
        for out in [
            child.stdout.take().map(|o| Box::new(o) as Box<dyn std::io::Read + Send>),
            child.stderr.take().map(|e| Box::new(e) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    if let Some(rest) = line.split("Running on http://").nth(1) {
                        let _ = tx.send(rest.trim().trim_end_matches('/').to_string());
                    }
                }
            });
        }
        let addr = rx.recv_timeout(Duration::from_secs(60)).expect("moto printed no address within 60 s");
        let moto = Moto { child, addr, _recording: recording };
        for _ in 0..100 {
            if request(&moto.addr, "POST", "/moto-api/reset", b"").is_ok_and(|r| r.status == 200) {
                return moto;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("moto at {} did not answer /moto-api/reset", moto.addr);
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Creates bucket `name` in account A, e.g. to keep state in.
    pub fn create_bucket(&self, name: &str) {
        let r = request(&self.addr, "PUT", &format!("/{name}"), b"").expect("creating a bucket in moto");
        assert_eq!(r.status, 200, "creating bucket {name}: {}", r.text());
    }

    /// The S3 state backend's options for `url` (`s3://bucket/prefix`), straight to this moto.
    pub fn state_options(&self, url: impl Into<String>) -> strake_state::s3::S3Options {
        state_options_at(&self.endpoint(), url)
    }

    /// Forgets everything (between scenarios of one test).
    pub fn reset(&self) {
        let r = request(&self.addr, "POST", "/moto-api/reset", b"").expect("moto reset");
        assert_eq!(r.status, 200, "moto reset: {}", r.text());
    }

    /// Account A: moto's default account, static test credentials.
    pub fn account_a(&self) -> AwsProvider {
        account_a_at(self.endpoint())
    }

    /// Account B: assumes a role in B with A's credentials, as a user would.
    pub fn account_b(&self) -> AwsProvider {
        account_b_at(self.endpoint())
    }

    /// Starts (and clears) the request recording.
    pub fn start_recording(&self) {
        for path in ["/moto-api/recorder/reset-recording", "/moto-api/recorder/start-recording"] {
            let r = request(&self.addr, "POST", path, b"").expect("moto recorder");
            assert_eq!(r.status, 200, "{path}: {}", r.text());
        }
    }

    /// Stops recording and asserts that nothing recorded since [`Moto::start_recording`] changed
    /// anything (reads such as GetCallerIdentity and AssumeRole are allowed); `why` says why not.
    pub fn assert_nothing_mutated(&self, why: &str) {
        let recorded = self.recorded();
        let mutating: Vec<_> = recorded.iter().filter(|r| r.is_mutating()).collect();
        assert!(mutating.is_empty(), "{why}: mutating requests were sent: {mutating:?}");
    }

    /// Stops recording and returns what was recorded.
    pub fn recorded(&self) -> Vec<Recorded> {
        request(&self.addr, "POST", "/moto-api/recorder/stop-recording", b"").expect("moto recorder");
        let r = request(&self.addr, "GET", "/moto-api/recorder/download-recording", b"").expect("moto recorder");
        r.text()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| {
                let raw = v["body"].as_str().unwrap_or_default();
                let body = if v["body_encoded"].as_bool().unwrap_or(false) {
                    base64::engine::general_purpose::STANDARD.decode(raw).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
                } else {
                    raw.to_string()
                };
                Recorded { method: v["method"].as_str().unwrap_or_default().into(), url: v["url"].as_str().unwrap_or_default().into(), body }
            })
            .collect()
    }
}

/// Account A at `endpoint` (moto, or a proxy in front of it): static test credentials, pinned to
/// account A, quick retries.
pub fn account_a_at(endpoint: impl Into<String>) -> AwsProvider {
    AwsProvider::new()
        .endpoint(endpoint.into())
        .region(REGION)
        .static_credentials("testing", "testing")
        .expect_account(ACCOUNT_A)
        .retries(TEST_ATTEMPTS, TEST_BACKOFF)
}

/// Account B at `endpoint`: assumes [`ROLE_IN_B`] with account A's credentials there, pinned to
/// account B, quick retries.
pub fn account_b_at(endpoint: impl Into<String>) -> AwsProvider {
    AwsProvider::new()
        .assume_role_from(&account_a_at(endpoint), ROLE_IN_B)
        .session_name("strake-tests")
        .expect_account(ACCOUNT_B)
        .retries(TEST_ATTEMPTS, TEST_BACKOFF)
}

/// Asserts that `a` resolves to account A and `b` to account B through the assumed role; `via`
/// says how they are reached, for the messages (`""`, `" through the proxy"`).
pub async fn assert_accounts(a: &AwsProvider, b: &AwsProvider, via: &str) {
    let (account, arn_a) = a.caller_identity().await.unwrap_or_else(|e| panic!("account A identity{via}: {e}"));
    assert_eq!(account, ACCOUNT_A, "account A{via} resolves to {arn_a}");
    let (account, arn_b) = b.caller_identity().await.unwrap_or_else(|e| panic!("account B identity{via}: {e}"));
    assert_eq!(account, ACCOUNT_B, "account B{via} resolves to {arn_b}");
    assert!(arn_b.contains(":assumed-role/strake-deployer/"), "{arn_b}");
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ensure_installed() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let present = Command::new("python3").args(["-c", "import moto.server"]).status().is_ok_and(|s| s.success());
        if !present {
            let ok = Command::new("python3").args(["-m", "pip", "install", "--quiet", "moto[server]==5.2.1"]).status().is_ok_and(|s| s.success());
            assert!(ok, "moto is not installed and `pip install 'moto[server]==5.2.1'` failed");
        }
    });
}

/// The S3 state backend's options for `url` at `endpoint` (moto, or a fault proxy in front of it),
/// with the tests' credentials and region.
pub fn state_options_at(endpoint: &str, url: impl Into<String>) -> strake_state::s3::S3Options {
    strake_state::s3::S3Options {
        region: Some(REGION.into()),
        endpoint: Some(endpoint.into()),
        credentials: Some(aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "test")),
        ..strake_state::s3::S3Options::new(url)
    }
}
