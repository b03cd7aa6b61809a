//! The proxy's rules: which requests a rule matches, the fault it injects, and how often.

use std::sync::Arc;
use std::time::Duration;

use super::ProxiedRequest;
use super::wire::xml_escape;

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
    /// until [`FaultProxy::release_held`](super::FaultProxy::release_held) or the proxy is
    /// dropped, and is then closed without an answer. For catching a client with a given request
    /// in flight.
    Hold {
        /// Whether moto gets (and acts on) the request before the hold.
        forward: bool,
    },
    /// Forward the request without these headers: a store that ignores them (an S3-compatible
    /// endpoint that does not enforce `If-None-Match`, say).
    Ignore(Vec<String>),
}

pub(super) fn query_error_body(status: u16, code: &str, message: &str) -> String {
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
    pub(super) id: usize,
    matcher: Match,
    pub(super) fault: Fault,
    times: Option<usize>,
    every: usize,
    skip: usize,
    rate: Option<Rate>,
    tried: usize,
    pub(super) fired: usize,
    /// Firings whose fault has taken effect (see
    /// [`FaultProxy::wait_fired`](super::FaultProxy::wait_fired)).
    pub(super) applied: usize,
}

/// A seeded pseudo-random fraction of the requests (splitmix64 draws in `[0, 1)`).
#[derive(Debug, Clone)]
pub(super) struct Rate {
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

    pub(super) fn exhausted(&self) -> bool {
        self.times.is_some_and(|t| self.fired >= t)
    }

    /// Whether it fires on `r` (counting it).
    pub(super) fn fires(&mut self, r: &ProxiedRequest) -> bool {
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

/// Identifies an injected rule (for [`FaultProxy::fired`](super::FaultProxy::fired)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleId(pub(super) usize);
