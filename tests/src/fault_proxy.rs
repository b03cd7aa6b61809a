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

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use strake_aws::AwsProvider;

use crate::moto::{Moto, account_a_at, account_b_at, assert_accounts};

/// How long a kept-alive client connection may stay idle (longer than the SDK's pool keeps it).
const IDLE: Duration = Duration::from_secs(300);
/// How long moto may take to answer.
const UPSTREAM: Duration = Duration::from_secs(60);
/// How often [`FaultProxy::wait_fired`] looks again.
const POLL: Duration = Duration::from_millis(5);
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

/// Which requests a rule applies to.
#[derive(Clone)]
pub struct Match {
    label: String,
    test: Arc<dyn Fn(&ProxiedRequest) -> bool + Send + Sync>,
}

impl std::fmt::Debug for Match {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label)
    }
}

impl Match {
    /// Requests for which `test` holds; `label` describes them in logs.
    pub fn when(label: impl Into<String>, test: impl Fn(&ProxiedRequest) -> bool + Send + Sync + 'static) -> Match {
        Match { label: label.into(), test: Arc::new(test) }
    }

    /// Every request.
    pub fn any() -> Match {
        Match::when("any request", |_| true)
    }

    /// Query-protocol requests with `Action=<action>` (e.g. `CreateRole`).
    pub fn action(action: &str) -> Match {
        let a = action.to_string();
        Match::when(format!("Action={action}"), move |r| r.action().as_deref() == Some(a.as_str()))
    }

    /// Requests signed for `service` (`iam`, `sts`, `s3`).
    pub fn service(service: &str) -> Match {
        let s = service.to_string();
        Match::when(format!("service {service}"), move |r| r.service().as_deref() == Some(s.as_str()))
    }

    /// S3 requests with this method whose path starts with `path_prefix` (path-style: `/bucket...`).
    pub fn s3(method: &str, path_prefix: &str) -> Match {
        let (m, p) = (method.to_string(), path_prefix.to_string());
        Match::when(format!("s3 {method} {path_prefix}*"), move |r| r.service().as_deref() == Some("s3") && r.method == m && r.path().starts_with(&p))
    }

    /// Requests that change something: query-protocol requests (IAM, STS) whose `Action` does not
    /// start with `Get`, `List`, `Describe` or `Assume`; other (S3/REST) requests whose method is
    /// neither `GET` nor `HEAD`.
    pub fn mutating() -> Match {
        Match::when("mutating requests", |r| match r.action() {
            Some(a) => !["Get", "List", "Describe", "Assume"].iter().any(|p| a.starts_with(p)),
            None => !matches!(r.method.as_str(), "GET" | "HEAD"),
        })
    }

    /// Both this and `other`.
    pub fn and(self, other: Match) -> Match {
        let label = format!("{} and {}", self.label, other.label);
        Match::when(label, move |r| (self.test)(r) && (other.test)(r))
    }

    /// Whether `r` is one of the requests this describes.
    pub fn matches(&self, r: &ProxiedRequest) -> bool {
        (self.test)(r)
    }
}

/// `!m`: the requests `m` does not match.
impl std::ops::Not for Match {
    type Output = Match;

    fn not(self) -> Match {
        let label = format!("not ({})", self.label);
        Match::when(label, move |r| !(self.test)(r))
    }
}

/// An answer the proxy makes up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canned {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// What a rule does to a request it applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this; moto never sees the request.
    Respond(Canned),
    /// Forward the request (so moto acts on it), then answer with this instead of moto's answer:
    /// the "it worked but the response was lost" case.
    RespondAfterForwarding(Canned),
    /// Wait this long, then carry on (further rules may still apply; otherwise forward).
    Latency(Duration),
    /// Read the request, then close the connection without answering (moto never sees it).
    Disconnect,
    /// Forward the request (so moto acts on it), then close the connection without answering:
    /// the answer was lost.
    DropAfterForwarding,
    /// Forward the request, then answer with moto's status line and headers, a `Content-Length`
    /// for the whole body but only the first half of it (at least one byte short; an empty body
    /// is announced as 64 bytes and none sent), and shut the connection down: the client fails
    /// while reading the body. Answers without a body (`HEAD`, 204, 304) are cut inside the head.
    TruncateAfterForwarding,
    /// Forward the request if `forward`, then never answer: the connection stays open, silent,
    /// until [`FaultProxy::release_held`] or the proxy is dropped, and is then closed without an
    /// answer. For catching a client with a given request in flight.
    Hold {
        /// Whether moto gets (and acts on) the request before the hold.
        forward: bool,
    },
    /// Forward the request without these headers: a store that ignores them (an S3-compatible
    /// endpoint that does not enforce `If-None-Match`, say).
    Ignore(Vec<String>),
}

fn query_error_body(status: u16, code: &str, message: &str) -> String {
    let kind = if status >= 500 { "Receiver" } else { "Sender" };
    format!(
        "<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{}</Message></Error>\
         <RequestId>fault-proxy</RequestId></ErrorResponse>",
        xml_escape(message)
    )
}

impl Fault {
    /// An AWS query-protocol error (IAM, STS): `<ErrorResponse><Error><Type>..</Type><Code>..`,
    /// `Content-Type: text/xml`; `Type` is `Sender` below 500, `Receiver` from 500.
    pub fn query_error(status: u16, code: &str, message: &str) -> Fault {
        Fault::Respond(Canned { status, content_type: "text/xml".into(), body: query_error_body(status, code, message) })
    }

    /// IAM/STS throttling: 400 `Throttling` "Rate exceeded".
    pub fn throttling() -> Fault {
        Fault::query_error(400, "Throttling", "Rate exceeded")
    }

    /// 403 `AccessDenied` with `message`.
    pub fn access_denied(message: &str) -> Fault {
        Fault::query_error(403, "AccessDenied", message)
    }

    /// 500 `InternalFailure`.
    pub fn internal_error() -> Fault {
        Fault::query_error(500, "InternalFailure", "We encountered an internal error. Please try again.")
    }

    /// 503 `ServiceUnavailable`.
    pub fn service_unavailable() -> Fault {
        Fault::query_error(503, "ServiceUnavailable", "Service is unavailable. Please try again.")
    }

    /// A status with an empty body (a load balancer's answer, say): no AWS error code at all.
    pub fn bare_status(status: u16) -> Fault {
        Fault::Respond(Canned { status, content_type: "text/plain".into(), body: String::new() })
    }

    /// An S3 REST error: `<Error><Code>..</Code><Message>..</Message>..</Error>`, `application/xml`.
    pub fn s3_error(status: u16, code: &str, message: &str) -> Fault {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message>\
             <RequestId>fault-proxy</RequestId><HostId>fault-proxy</HostId></Error>",
            xml_escape(message)
        );
        Fault::Respond(Canned { status, content_type: "application/xml".into(), body })
    }

    /// S3 throttling: 503 `SlowDown`.
    pub fn s3_slow_down() -> Fault {
        Fault::s3_error(503, "SlowDown", "Please reduce your request rate.")
    }

    pub fn latency(delay: Duration) -> Fault {
        Fault::Latency(delay)
    }

    pub fn disconnect() -> Fault {
        Fault::Disconnect
    }

    /// [`Fault::DropAfterForwarding`]: moto acts, the client gets no answer.
    pub fn drop_after_forwarding() -> Fault {
        Fault::DropAfterForwarding
    }

    /// [`Fault::TruncateAfterForwarding`]: moto acts, the client gets half an answer.
    pub fn truncate_after_forwarding() -> Fault {
        Fault::TruncateAfterForwarding
    }

    /// [`Fault::Hold`]: the request is forwarded if `forward`, and left unanswered until released.
    pub fn hold(forward: bool) -> Fault {
        Fault::Hold { forward }
    }

    /// [`Fault::Ignore`]: the request reaches moto without the `headers`.
    pub fn ignore(headers: &[&str]) -> Fault {
        Fault::Ignore(headers.iter().map(|h| h.to_string()).collect())
    }

    /// The same fault, but after forwarding the request to moto (which acts on it): an answer
    /// made up after forwarding, [`Disconnect`](Fault::Disconnect) becomes
    /// [`DropAfterForwarding`](Fault::DropAfterForwarding), a hold forwards first.
    pub fn after_forwarding(self) -> Fault {
        match self {
            Fault::Respond(c) => Fault::RespondAfterForwarding(c),
            Fault::Disconnect => Fault::DropAfterForwarding,
            Fault::Hold { .. } => Fault::Hold { forward: true },
            other => other,
        }
    }

    /// A short description for logs: `400 Throttling`, `latency 200ms`, ...
    pub fn label(&self) -> String {
        fn canned(c: &Canned) -> String {
            let code = c.body.split("<Code>").nth(1).and_then(|s| s.split("</Code>").next()).unwrap_or("(no body)");
            format!("{} {code}", c.status)
        }
        match self {
            Fault::Respond(c) => canned(c),
            Fault::RespondAfterForwarding(c) => format!("{} after forwarding", canned(c)),
            Fault::Latency(d) => format!("latency {}ms", d.as_millis()),
            Fault::Disconnect => "disconnect".into(),
            Fault::DropAfterForwarding => "answer dropped after forwarding".into(),
            Fault::TruncateAfterForwarding => "answer cut short after forwarding".into(),
            Fault::Hold { forward: true } => "held (forwarded)".into(),
            Fault::Hold { forward: false } => "held".into(),
            Fault::Ignore(headers) => format!("forwarded without {}", headers.join(", ")),
        }
    }
}

/// One rule of the plan: a fault for matching requests, possibly only some of them.
#[derive(Debug, Clone)]
pub struct Rule {
    id: usize,
    matcher: Match,
    fault: Fault,
    times: Option<usize>,
    every: usize,
    skip: usize,
    rate: Option<Rate>,
    tried: usize,
    fired: usize,
    /// Firings whose fault has taken effect (see [`FaultProxy::wait_fired`]).
    applied: usize,
}

/// A seeded pseudo-random fraction of the requests (splitmix64 draws in `[0, 1)`).
#[derive(Debug, Clone)]
struct Rate {
    probability: f64,
    state: u64,
}

impl Rate {
    /// The next draw, in `[0, 1)`.
    fn draw(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Draws once: whether this request is among the fraction.
    fn allows(&mut self) -> bool {
        self.draw() < self.probability
    }
}

impl Rule {
    /// `fault` for every request `matcher` accepts (narrow with [`times`](Self::times), ...).
    pub fn new(matcher: Match, fault: Fault) -> Rule {
        Rule { id: 0, matcher, fault, times: None, every: 1, skip: 0, rate: None, tried: 0, fired: 0, applied: 0 }
    }

    /// At most `n` times, then the rule is exhausted.
    pub fn times(mut self, n: usize) -> Rule {
        self.times = Some(n);
        self
    }

    /// Only on every `n`th matching request (the `n`th, `2n`th, ...).
    pub fn every(mut self, n: usize) -> Rule {
        self.every = n.max(1);
        self
    }

    /// Lets the first `n` matching requests through first.
    pub fn after(mut self, n: usize) -> Rule {
        self.skip = n;
        self
    }

    /// Only on a pseudo-random fraction `probability` (clamped to `[0, 1]`) of the matching
    /// requests. The choice is deterministic: a small generator seeded with `seed` makes one draw
    /// per matching request, in order of arrival (requests let through by [`after`](Self::after)
    /// or [`every`](Self::every) use up their draw too; an exhausted rule draws no more), so the
    /// same seed and the same sequence of requests give the same faults. Combines with `times`,
    /// `after` and `every`: the rule fires only where all of them allow it.
    pub fn rate(mut self, probability: f64, seed: u64) -> Rule {
        self.rate = Some(Rate { probability: probability.clamp(0.0, 1.0), state: seed });
        self
    }

    fn exhausted(&self) -> bool {
        self.times.is_some_and(|t| self.fired >= t)
    }

    /// Whether it fires on `r` (counting it).
    fn fires(&mut self, r: &ProxiedRequest) -> bool {
        if self.exhausted() || !self.matcher.matches(r) {
            return false;
        }
        self.tried += 1;
        let drawn = self.rate.as_mut().is_none_or(Rate::allows);
        if self.tried <= self.skip || !(self.tried - self.skip).is_multiple_of(self.every) || !drawn {
            return false;
        }
        self.fired += 1;
        true
    }
}

/// Identifies an injected rule (for [`FaultProxy::fired`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleId(usize);

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
    /// latency, the delay over; otherwise the (made-up, cut-short or no) answer given. Looks
    /// every few milliseconds; `false` if that is not so within `timeout` (or the rule was
    /// cleared). Blocks the calling thread: from async code, call it where blocking is fine (the
    /// body of a multi-thread `#[tokio::test]`, or `spawn_blocking`).
    pub fn wait_fired(&self, id: RuleId, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.applied(id) >= n {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(POLL);
        }
    }

    /// How many firings of rule `id` have taken effect (0 once it has been cleared).
    fn applied(&self, id: RuleId) -> usize {
        lock(&self.shared.rules).iter().find(|r| r.id == id.0).map(|r| r.applied).unwrap_or(0)
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

/// The answer when moto cannot be reached.
fn bad_gateway(e: &io::Error) -> Upstream {
    Upstream {
        status: 502,
        reason: "Bad Gateway".into(),
        headers: vec![("Content-Type".into(), "text/plain".into())],
        body: format!("fault proxy: moto did not answer: {e}").into_bytes(),
    }
}

/// Reads one request; `None` at a clean end of the connection. Answers `Expect: 100-continue`.
fn read_request(reader: &mut BufReader<TcpStream>, writer: &mut TcpStream) -> io::Result<Option<ProxiedRequest>> {
    let mut line = String::new();
    // Tolerate empty lines between requests.
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        if !line.trim().is_empty() {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(io::Error::other(format!("malformed request line {line:?}")));
    };
    let (method, target) = (method.to_string(), target.to_string());
    let headers = read_headers(reader)?;
    let mut request = ProxiedRequest { method, target, headers, body: Vec::new() };
    if request.header("expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue")) {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    request.body = read_body(reader, &request.headers, false)?;
    Ok(Some(request))
}

fn read_headers(reader: &mut impl BufRead) -> io::Result<Vec<(String, String)>> {
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed inside the headers"));
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            return Ok(headers);
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// Reads a body framed by chunked encoding or `Content-Length`; otherwise (responses only,
/// `until_eof`) up to the end of the stream.
fn read_body(reader: &mut impl BufRead, headers: &[(String, String)], until_eof: bool) -> io::Result<Vec<u8>> {
    if header(headers, "transfer-encoding").is_some_and(|t| t.to_ascii_lowercase().contains("chunked")) {
        let mut body = Vec::new();
        loop {
            let mut size_line = String::new();
            if reader.read_line(&mut size_line)? == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed inside a chunked body"));
            }
            let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| io::Error::other(format!("bad chunk size {size_line:?}")))?;
            if size == 0 {
                // Trailers, up to the empty line.
                read_headers(reader)?;
                return Ok(body);
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..])?;
            let mut crlf = [0u8; 2];
            reader.read_exact(&mut crlf)?;
        }
    }
    if let Some(len) = header(headers, "content-length") {
        let len: usize = len.parse().map_err(|_| io::Error::other(format!("bad Content-Length {len:?}")))?;
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body)?;
        return Ok(body);
    }
    let mut body = Vec::new();
    if until_eof {
        reader.read_to_end(&mut body)?;
    }
    Ok(body)
}

/// A response to send back.
struct Upstream {
    status: u16,
    reason: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn canned(c: &Canned) -> Upstream {
    Upstream {
        status: c.status,
        reason: reason(c.status).into(),
        headers: vec![("Content-Type".into(), c.content_type.clone()), ("x-amzn-RequestId".into(), "fault-proxy".into())],
        body: c.body.clone().into_bytes(),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Hop-by-hop headers and framing the proxy sets itself.
fn is_hop(name: &str) -> bool {
    ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "content-length", "expect", "te", "upgrade"]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
}

/// Sends the request to moto on a new connection and reads the whole answer.
fn forward(upstream: &str, r: &ProxiedRequest) -> io::Result<Upstream> {
    let mut conn = TcpStream::connect(upstream)?;
    conn.set_read_timeout(Some(UPSTREAM))?;
    let _ = conn.set_nodelay(true);
    let mut head = format!("{} {} HTTP/1.1\r\n", r.method, r.target);
    for (k, v) in r.headers.iter().filter(|(k, _)| !is_hop(k)) {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", r.body.len()));
    conn.write_all(head.as_bytes())?;
    conn.write_all(&r.body)?;
    conn.flush()?;
    let mut reader = BufReader::new(conn);
    loop {
        let mut status_line = String::new();
        if reader.read_line(&mut status_line)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "moto closed the connection without answering"));
        }
        let mut parts = status_line.trim_end().splitn(3, ' ');
        let _version = parts.next();
        let status: u16 = parts.next().and_then(|s| s.parse().ok()).ok_or_else(|| io::Error::other(format!("bad status line {status_line:?}")))?;
        let reason = parts.next().unwrap_or("").to_string();
        let headers = read_headers(&mut reader)?;
        if (100..200).contains(&status) {
            continue; // an interim answer (100 Continue)
        }
        let no_body = r.method == "HEAD" || status == 204 || status == 304;
        let body = if no_body { Vec::new() } else { read_body(&mut reader, &headers, true)? };
        return Ok(Upstream { status, reason, headers, body });
    }
}

/// The status line and the headers that are not the proxy's own (no final empty line).
fn status_and_headers(resp: &Upstream) -> String {
    let mut head = format!("HTTP/1.1 {} {}\r\n", resp.status, if resp.reason.is_empty() { reason(resp.status) } else { &resp.reason });
    for (k, v) in resp.headers.iter().filter(|(k, _)| !is_hop(k)) {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head
}

/// Whether the answer to `method` with this status has no body.
fn has_no_body(method: &str, status: u16) -> bool {
    method == "HEAD" || status == 204 || status == 304
}

fn write_response(w: &mut TcpStream, method: &str, resp: &Upstream, close: bool) -> io::Result<()> {
    let mut head = status_and_headers(resp);
    let no_body = has_no_body(method, resp.status);
    if method == "HEAD" {
        // A HEAD answer states the length the GET would have; keep moto's.
        let len = header(&resp.headers, "content-length").unwrap_or("0");
        head.push_str(&format!("Content-Length: {len}\r\n"));
    } else if resp.status != 204 && resp.status != 304 {
        head.push_str(&format!("Content-Length: {}\r\n", resp.body.len()));
    }
    head.push_str(if close { "Connection: close\r\n\r\n" } else { "Connection: keep-alive\r\n\r\n" });
    w.write_all(head.as_bytes())?;
    if !no_body {
        w.write_all(&resp.body)?;
    }
    w.flush()
}

/// Writes `resp` cut short (see [`Fault::TruncateAfterForwarding`]); the caller closes.
fn write_truncated(w: &mut TcpStream, method: &str, resp: &Upstream) -> io::Result<()> {
    let mut head = status_and_headers(resp);
    if has_no_body(method, resp.status) {
        // No body to cut: the head ends without its empty line.
        w.write_all(head.as_bytes())?;
        return w.flush();
    }
    let (claimed, sent) = if resp.body.is_empty() { (CLAIMED_WHEN_EMPTY, 0) } else { (resp.body.len(), resp.body.len() / 2) };
    head.push_str(&format!("Content-Length: {claimed}\r\nConnection: close\r\n\r\n"));
    w.write_all(head.as_bytes())?;
    w.write_all(&resp.body[..sent])?;
    w.flush()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn url_decode(s: &str) -> String {
    strake_aws::policy::url_decode(s)
}
