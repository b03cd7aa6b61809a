//! A fault-injecting HTTP/1.1 proxy in front of moto, for tests only.
//!
//! It listens on a free loopback port and forwards each request to moto, except where the
//! [rules](Rule) of its shared, changeable plan say otherwise: answer with an AWS error instead
//! (throttling, access denied, 5xx, ...), answer with an error *after* moto acted on the request,
//! add latency, drop the connection (before or after moto acted), cut moto's answer short, or hold
//! the connection unanswered until told to let go. It records every exchange.
//!
//! Client connections are kept alive (each request is read fully by `Content-Length` or chunked
//! framing and answered with a `Content-Length`); every forwarded request goes to moto on a
//! fresh connection with `Connection: close`, and moto's answer is read to the end.
//!
//! Rules are tried in the order they were added. A latency rule that applies adds its delay and
//! evaluation goes on; the first other rule that applies decides the answer. A rule counts only
//! the requests it is tried on; exhausted rules are skipped. A rule can be limited to some of its
//! matching requests: the first few ([`Rule::after`]), every `n`th ([`Rule::every`]), a
//! seeded pseudo-random fraction ([`Rule::rate`]), at most `n` ([`Rule::times`]).
//!
//! ```no_run
//! # use strake_tests::{fault_proxy::*, moto::Moto};
//! let moto = Moto::start();
//! let proxy = FaultProxy::start(&moto);
//! proxy.inject(Rule::new(Match::action("CreateRole"), Fault::throttling()).times(2));
//! let provider = proxy.account_b(); // an AwsProvider whose every call goes through the proxy
//! ```

use std::io::BufReader;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use strake_aws::AwsProvider;

use crate::moto::{Moto, account_a_at, account_b_at, assert_accounts};

mod rules;
mod wire;

pub use rules::{Canned, Fault, Match, Rule, RuleId};
use wire::*;

/// How long a kept-alive client connection may stay idle (longer than the SDK's pool keeps it).
const IDLE: Duration = Duration::from_secs(300);
/// How long moto may take to answer.
const UPSTREAM: Duration = Duration::from_secs(60);
/// The `Content-Length` a cut-short answer with an empty body claims.
const CLAIMED_WHEN_EMPTY: usize = 64;

/// One request as the proxy received it (chunked bodies decoded).
#[derive(Debug, Clone)]
pub struct ProxiedRequest {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl ProxiedRequest {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A parameter of a query-protocol request (IAM, STS): from the form body, else the query string.
    pub fn param(&self, name: &str) -> Option<String> {
        let query = self.target.split_once('?').map(|(_, q)| q).unwrap_or("");
        let form = if self.header("content-type").is_some_and(|c| c.contains("x-www-form-urlencoded")) { self.body_text() } else { String::new() };
        [form.as_str(), query].into_iter().flat_map(|s| s.split('&')).find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (url_decode(k) == name).then(|| url_decode(v))
        })
    }

    /// The query-protocol action: `CreateRole`, `GetCallerIdentity`, ...
    pub fn action(&self) -> Option<String> {
        self.param("Action")
    }

    /// The service the request is signed for (`iam`, `sts`, `s3`), from its SigV4 credential scope.
    pub fn service(&self) -> Option<String> {
        let auth = self.header("authorization")?;
        let scope = auth.split("Credential=").nth(1)?.split(',').next()?;
        scope.split('/').nth(3).map(str::to_string)
    }

    /// The path without the query string.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

/// One request and what the proxy did with it.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// 0-based order of arrival.
    pub seq: usize,
    pub method: String,
    pub target: String,
    pub action: Option<String>,
    pub service: Option<String>,
    /// Added latency.
    pub delay: Duration,
    /// The label of the fault that decided the answer, if any.
    pub fault: Option<String>,
    /// Whether moto received the request.
    pub forwarded: bool,
    /// The status the client got (`None`: the connection was dropped, or moto could not be reached).
    pub status: Option<u16>,
}

impl Exchange {
    pub fn is_injected(&self) -> bool {
        self.fault.is_some()
    }
}

impl std::fmt::Display for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{} {} {}", self.seq, self.method, self.target)?;
        if let Some(a) = &self.action {
            write!(f, " Action={a}")?;
        }
        if !self.delay.is_zero() {
            write!(f, " +{}ms", self.delay.as_millis())?;
        }
        match (&self.fault, self.forwarded) {
            (Some(fault), _) => write!(f, " -> injected {fault}")?,
            (None, true) => write!(f, " -> forwarded")?,
            (None, false) => write!(f, " -> not forwarded")?,
        }
        match self.status {
            Some(s) => write!(f, " ({s})"),
            None => write!(f, " (no answer)"),
        }
    }
}

#[derive(Default)]
struct Shared {
    rules: Mutex<Vec<Rule>>,
    /// Signalled each time a firing of a rule takes effect (for [`FaultProxy::wait_fired`]).
    applied: Condvar,
    log: Mutex<Vec<Exchange>>,
    /// Open client connections (by sequence number), to close them when the proxy stops.
    conns: Mutex<Vec<(usize, TcpStream)>>,
    next_conn: AtomicUsize,
    next_rule: AtomicUsize,
    stop: AtomicBool,
    /// Sequence numbers, in order of arrival.
    next: AtomicUsize,
    /// Connections held by [`Fault::Hold`]; `released` is signalled when they may go.
    held: Mutex<Held>,
    released: Condvar,
}

/// The connections held unanswered.
#[derive(Default)]
struct Held {
    /// How many are held now.
    count: usize,
    /// Bumped by each [`FaultProxy::release_held`]: a hold ends when this changes.
    generation: u64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What to do with one request.
#[derive(Default)]
struct Decision {
    delay: Duration,
    /// The latency rules that fired.
    latency_rules: Vec<usize>,
    fault: Option<Fault>,
    /// The rule that decided the answer.
    rule: Option<usize>,
}

impl Shared {
    fn decide(&self, r: &ProxiedRequest) -> Decision {
        let mut rules = lock(&self.rules);
        let mut decision = Decision::default();
        for rule in rules.iter_mut() {
            if !rule.fires(r) {
                continue;
            }
            match &rule.fault {
                Fault::Latency(d) => {
                    decision.delay += *d;
                    decision.latency_rules.push(rule.id);
                }
                other => {
                    decision.fault = Some(other.clone());
                    decision.rule = Some(rule.id);
                    break;
                }
            }
        }
        decision
    }

    /// Notes that a firing of rule `id` has taken effect.
    fn mark_applied(&self, id: usize) {
        if let Some(rule) = lock(&self.rules).iter_mut().find(|r| r.id == id) {
            rule.applied += 1;
        }
        self.applied.notify_all();
    }

    /// Blocks until [`FaultProxy::release_held`] is called or the proxy stops.
    fn hold(&self) {
        let mut held = lock(&self.held);
        let generation = held.generation;
        held.count += 1;
        while held.generation == generation && !self.stop.load(Ordering::SeqCst) {
            held = self.released.wait(held).unwrap_or_else(PoisonError::into_inner);
        }
        held.count -= 1;
    }

    /// Ends every hold in progress.
    fn release(&self) {
        lock(&self.held).generation += 1;
        self.released.notify_all();
    }
}

/// The proxy. Stops (and drops its client connections) when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// A proxy in front of `moto`.
    pub fn start(moto: &Moto) -> FaultProxy {
        FaultProxy::start_to(&moto.addr)
    }

    /// A proxy in front of `upstream` (`host:port`).
    pub fn start_to(upstream: &str) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the fault proxy");
        let addr = listener.local_addr().expect("fault proxy address");
        let shared = Arc::new(Shared::default());
        let (s, upstream) = (shared.clone(), upstream.to_string());
        let accept = std::thread::Builder::new()
            .name("fault-proxy".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if s.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let id = s.next_conn.fetch_add(1, Ordering::SeqCst);
                    if let Ok(c) = conn.try_clone() {
                        lock(&s.conns).push((id, c));
                    }
                    let (s, upstream) = (s.clone(), upstream.clone());
                    let _ = std::thread::Builder::new().name("fault-proxy-conn".into()).spawn(move || {
                        serve(conn, &s, &upstream);
                        lock(&s.conns).retain(|(c, _)| *c != id);
                    });
                }
            })
            .expect("starting the fault proxy");
        FaultProxy { addr, shared, accept: Some(accept) }
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Adds a rule to the plan (after the existing ones).
    pub fn inject(&self, mut rule: Rule) -> RuleId {
        rule.id = self.shared.next_rule.fetch_add(1, Ordering::SeqCst);
        let id = RuleId(rule.id);
        lock(&self.shared.rules).push(rule);
        id
    }

    /// How often a rule has fired (0 once it has been cleared).
    pub fn fired(&self, id: RuleId) -> usize {
        lock(&self.shared.rules).iter().find(|r| r.id == id.0).map(|r| r.fired).unwrap_or(0)
    }

    /// Waits until rule `id` has fired `n` times *and* each of those faults has taken effect:
    /// for [`Fault::Hold`], the request forwarded (if asked) and the connection being held; for
    /// latency, the delay over; otherwise the (made-up, cut-short or no) answer given. Woken by
    /// each firing that takes effect; `false` if that is not so within `timeout` (or the rule was
    /// cleared). Blocks the calling thread: from async code, call it where blocking is fine (the
    /// body of a multi-thread `#[tokio::test]`, or `spawn_blocking`).
    pub fn wait_fired(&self, id: RuleId, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut rules = lock(&self.shared.rules);
        loop {
            // Firings of rule `id` that have taken effect (none once it has been cleared).
            if rules.iter().find(|r| r.id == id.0).map_or(0, |r| r.applied) >= n {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            rules = self.shared.applied.wait_timeout(rules, left).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    /// How many connections [`Fault::Hold`] is holding now.
    pub fn held(&self) -> usize {
        lock(&self.shared.held).count
    }

    /// Lets every connection held by [`Fault::Hold`] go: each is closed without an answer, shortly
    /// after (by its own thread). Requests held later are held again.
    pub fn release_held(&self) {
        self.shared.release();
    }

    /// Removes every rule: from now on everything is forwarded as is.
    pub fn clear_faults(&self) {
        lock(&self.shared.rules).clear();
    }

    /// Every exchange so far, in order of arrival.
    pub fn log(&self) -> Vec<Exchange> {
        let mut log = lock(&self.shared.log).clone();
        log.sort_by_key(|e| e.seq);
        log
    }

    pub fn clear_log(&self) {
        lock(&self.shared.log).clear();
    }

    /// The log, one exchange a line (for assertion messages).
    pub fn log_text(&self) -> String {
        self.log().iter().map(|e| format!("{e}\n")).collect()
    }

    /// Requests with `Action=<action>` that reached moto.
    pub fn forwarded(&self, action: &str) -> usize {
        self.log().iter().filter(|e| e.forwarded && e.action.as_deref() == Some(action)).count()
    }

    /// Requests with `Action=<action>` that got an injected answer.
    pub fn injected(&self, action: &str) -> usize {
        self.log().iter().filter(|e| e.is_injected() && e.action.as_deref() == Some(action)).count()
    }

    /// Account A through the proxy: static test credentials, pinned to account A.
    pub fn account_a(&self) -> AwsProvider {
        account_a_at(self.endpoint())
    }

    /// Account B through the proxy: assumes [`ROLE_IN_B`](crate::moto::ROLE_IN_B) with account A's
    /// (proxied) credentials.
    pub fn account_b(&self) -> AwsProvider {
        account_b_at(self.endpoint())
    }

    /// Asserts that the proxied providers of account A and B resolve to those accounts.
    pub async fn assert_identities(&self) {
        assert_accounts(&self.account_a(), &self.account_b(), " through the proxy").await;
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Held connections see `stop` (checked under the same lock) and close.
        self.shared.release();
        for (_, c) in lock(&self.shared.conns).drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
        // Wakes the accept loop, which then sees `stop`.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// Serves one client connection: request after request until it closes.
fn serve(conn: TcpStream, shared: &Shared, upstream: &str) {
    let _ = conn.set_read_timeout(Some(IDLE));
    let _ = conn.set_nodelay(true);
    let Ok(read_half) = conn.try_clone() else { return };
    let mut reader = BufReader::new(read_half);
    let mut writer = conn;
    while !shared.stop.load(Ordering::SeqCst) {
        let request = match read_request(&mut reader, &mut writer) {
            Ok(Some(r)) => r,
            Ok(None) | Err(_) => break,
        };
        let seq = shared.next.fetch_add(1, Ordering::SeqCst);
        let decision = shared.decide(&request);
        if !decision.delay.is_zero() {
            std::thread::sleep(decision.delay);
        }
        decision.latency_rules.iter().for_each(|id| shared.mark_applied(*id));
        let close = request.header("connection").is_some_and(|c| c.eq_ignore_ascii_case("close"));
        let mut exchange = Exchange {
            seq,
            method: request.method.clone(),
            target: request.target.clone(),
            action: request.action(),
            service: request.service(),
            delay: decision.delay,
            fault: decision.fault.as_ref().map(Fault::label),
            forwarded: false,
            status: None,
        };
        let reply = reply(decision.fault.as_ref(), upstream, &request, &mut exchange);
        exchange.status = match &reply {
            Reply::Full(a) | Reply::Truncated(a) => Some(a.status),
            Reply::Nothing | Reply::Held => None,
        };
        lock(&shared.log).push(exchange);
        let keep_open = match reply {
            Reply::Held => {
                decision.rule.into_iter().for_each(|id| shared.mark_applied(id));
                shared.hold();
                false
            }
            other => {
                let keep_open = deliver(&mut writer, &request.method, other, close);
                decision.rule.into_iter().for_each(|id| shared.mark_applied(id));
                keep_open
            }
        };
        if !keep_open {
            let _ = writer.shutdown(Shutdown::Both);
            break;
        }
    }
}

/// What the client gets.
enum Reply {
    /// A whole answer.
    Full(Upstream),
    /// The head of this answer and part of its body, then the end of the connection.
    Truncated(Upstream),
    /// No answer: the connection is closed.
    Nothing,
    /// No answer until released, then the connection is closed.
    Held,
}

/// Carries out `fault` (forwarding to moto where it says so), noting in `exchange` whether moto
/// got the request.
fn reply(fault: Option<&Fault>, upstream: &str, r: &ProxiedRequest, exchange: &mut Exchange) -> Reply {
    let forward_noted = |exchange: &mut Exchange| {
        let answer = forward(upstream, r);
        exchange.forwarded = answer.is_ok();
        answer.unwrap_or_else(|e| bad_gateway(&e))
    };
    match fault {
        Some(Fault::Disconnect) => Reply::Nothing,
        Some(Fault::Respond(c)) => Reply::Full(canned(c)),
        Some(Fault::RespondAfterForwarding(c)) => {
            forward_noted(exchange);
            Reply::Full(canned(c))
        }
        Some(Fault::DropAfterForwarding) => {
            forward_noted(exchange);
            Reply::Nothing
        }
        Some(Fault::TruncateAfterForwarding) => Reply::Truncated(forward_noted(exchange)),
        Some(Fault::Hold { forward }) => {
            if *forward {
                forward_noted(exchange);
            }
            Reply::Held
        }
        Some(Fault::Ignore(headers)) => {
            let kept = r.headers.iter().filter(|(k, _)| !headers.iter().any(|h| h.eq_ignore_ascii_case(k))).cloned().collect();
            let stripped = ProxiedRequest { headers: kept, ..r.clone() };
            let answer = forward(upstream, &stripped);
            exchange.forwarded = answer.is_ok();
            Reply::Full(answer.unwrap_or_else(|e| bad_gateway(&e)))
        }
        Some(Fault::Latency(_)) | None => Reply::Full(forward_noted(exchange)),
    }
}

/// Sends `reply` (not [`Reply::Held`]); whether the connection may serve another request.
fn deliver(w: &mut TcpStream, method: &str, reply: Reply, close: bool) -> bool {
    match reply {
        Reply::Full(answer) => write_response(w, method, &answer, close).is_ok() && !close,
        Reply::Truncated(answer) => {
            let _ = write_truncated(w, method, &answer);
            false
        }
        Reply::Nothing | Reply::Held => false,
    }
}
