//! The vocabulary of results: how one attempt ended ([`Cause`]) and how one
//! logical operation ended ([`OpOutcome`]).
//!
//! These travel as types from the attempt to the recorder; they become text
//! only at the report edge ([`OpOutcome::label`]). Target codes live in their
//! own namespace: a target that answers `{"error":{"code":"OK"}}` on a 409 is
//! reported as `target:OK`, never as stampede's own `OK`.

use std::borrow::Cow;
use std::fmt;

/// Longest target code kept, in bytes; longer codes are cut (on a character
/// boundary), so whatever a target sends, memory and reports stay bounded.
pub const MAX_CODE_LEN: usize = 64;

/// An `error.code` the target sent, cut to [`MAX_CODE_LEN`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Code(Box<str>);

impl Code {
    /// `None` for an empty code (it says nothing the status does not).
    pub fn new(s: &str) -> Option<Self> {
        if s.is_empty() {
            return None;
        }
        let mut end = s.len().min(MAX_CODE_LEN);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        Some(Self(s[..end].into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a request got no HTTP answer, read from the transport's error chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NetError {
    /// Nothing listening (ECONNREFUSED).
    ConnectRefused,
    /// The TCP connect did not finish in time.
    ConnectTimeout,
    /// The host name did not resolve.
    Dns,
    /// The TLS handshake failed (certificate not verified, protocol error).
    Tls,
    /// The peer reset the connection.
    Reset,
    /// The connection closed before a complete response arrived.
    Closed,
    /// The response body exceeded the client's limit.
    BodyTooLarge,
    /// The *generator* ran out of a local resource (file descriptors,
    /// ephemeral ports): not the target's fault.
    Local,
    /// Anything else (an unknown transport error).
    Other,
    /// The HTTP proxy refused the TCP connection (nothing listening there).
    ProxyRefused,
    /// The HTTP proxy could not be reached otherwise (connect timeout, its
    /// name did not resolve).
    ProxyUnreachable,
    /// The proxy answered 407 to CONNECT: it wants (other) credentials.
    ProxyAuth,
    /// The proxy answered CONNECT with another non-2xx status (502 when it
    /// cannot reach the target, 403 for a port it does not tunnel), or
    /// closed the connection instead of answering.
    ProxyTunnel,
    /// The target answered, but not with valid HTTP/1.1 (two different
    /// Content-Lengths, over 100 headers, a DEL byte in a header name, a
    /// broken chunk): the target is reachable and misbehaving.
    InvalidResponse,
}

impl NetError {
    pub const ALL: [NetError; 14] = [
        Self::ConnectRefused,
        Self::ConnectTimeout,
        Self::Dns,
        Self::Tls,
        Self::Reset,
        Self::Closed,
        Self::BodyTooLarge,
        Self::Local,
        Self::Other,
        Self::ProxyRefused,
        Self::ProxyUnreachable,
        Self::ProxyAuth,
        Self::ProxyTunnel,
        Self::InvalidResponse,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::ConnectRefused => "CONNECT_REFUSED",
            Self::ConnectTimeout => "CONNECT_TIMEOUT",
            Self::Dns => "DNS_ERROR",
            Self::Tls => "TLS_ERROR",
            Self::Reset => "CONNECTION_RESET",
            Self::Closed => "CONNECTION_CLOSED",
            Self::BodyTooLarge => "BODY_TOO_LARGE",
            Self::Local => "LOCAL_RESOURCE_ERROR",
            Self::Other => "NETWORK_ERROR",
            Self::ProxyRefused => "PROXY_CONNECT_REFUSED",
            Self::ProxyUnreachable => "PROXY_UNREACHABLE",
            Self::ProxyAuth => "PROXY_AUTH_REQUIRED",
            Self::ProxyTunnel => "PROXY_TUNNEL_FAILED",
            Self::InvalidResponse => "INVALID_RESPONSE",
        }
    }

    /// The attempt never left the generator: it failed on this machine
    /// (no file descriptor, no local port) before any byte of the request
    /// was written, so the target cannot have seen it. Counted apart as
    /// `not_sent`, and kept out of amplification.
    pub fn not_sent(self) -> bool {
        matches!(self, Self::Local)
    }

    /// A failure at the HTTP proxy (nothing reached the target).
    pub fn is_proxy(self) -> bool {
        matches!(
            self,
            Self::ProxyRefused | Self::ProxyUnreachable | Self::ProxyAuth | Self::ProxyTunnel
        )
    }

    /// Connecting to the proxy failed with this chain's kind: the
    /// generator's own exhaustion stays `Local`, the rest names the proxy.
    pub fn at_proxy(self) -> Self {
        match self {
            Self::Local => Self::Local,
            Self::ConnectRefused => Self::ProxyRefused,
            _ => Self::ProxyUnreachable,
        }
    }

    /// Classify a transport error from its messages (outermost first): the
    /// fallback for errors stampede's own code did not type (hyper's
    /// HTTP/2 errors, which hide the io error kinds behind boxed errors, so
    /// the text of the chain is the one thing every layer keeps). Errors of
    /// `client/h1.rs`, the pool and the OS are typed before this is asked
    /// (`client::classify`).
    pub fn from_chain(messages: &[String], io_kind: Option<std::io::ErrorKind>) -> Self {
        use std::io::ErrorKind as K;
        let all = messages.join(" | ").to_ascii_lowercase();
        let has = |s: &str| all.contains(s);
        // Local exhaustion first: EMFILE/ENFILE/EADDRNOTAVAIL are ours.
        if has("too many open files")
            || has("os error 24")
            || has("os error 23")
            || has("cannot assign requested address")
            || has("os error 99")
        {
            return Self::Local;
        }
        match io_kind {
            Some(K::ConnectionRefused) => return Self::ConnectRefused,
            Some(K::ConnectionReset) => return Self::Reset,
            Some(K::TimedOut) if has("connect") => return Self::ConnectTimeout,
            _ => {}
        }
        if has("connection refused") {
            Self::ConnectRefused
        } else if has("dns error") || has("failed to lookup address") || has("name or service") {
            Self::Dns
        } else if has("certificate")
            || has("tls")
            || has("handshake")
            || has("invalid peer")
            || has("unknownissuer")
        {
            Self::Tls
        } else if has("connection reset") || has("os error 104") || has("broken pipe") {
            Self::Reset
        } else if has("timed out") && has("connect") {
            Self::ConnectTimeout
        } else if has("length limit exceeded") || has("body too large") {
            Self::BodyTooLarge
        } else if has("incomplete message")
            || has("connection closed")
            || has("unexpected eof")
            || has("canceled")
        {
            Self::Closed
        } else {
            Self::Other
        }
    }
}

/// What one failed attempt came back with: the last cause of an operation
/// that gave up.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cause {
    /// A non-2xx answer with a Booking Rush error envelope.
    Code { status: u16, code: Code },
    /// A non-2xx answer without an envelope (a proxy's HTML 502, an empty 503).
    Status(u16),
    /// The client's own request timeout.
    Timeout,
    /// No HTTP answer at all.
    Net(NetError),
}

impl Cause {
    /// The code for an answer: the envelope's when there is one.
    pub fn of_response(status: u16, code: Option<Code>) -> Self {
        match code {
            Some(code) => Self::Code { status, code },
            None => Self::Status(status),
        }
    }

    pub fn label(&self) -> Cow<'_, str> {
        match self {
            Self::Code { code, .. } => target_label(code.as_str()),
            Self::Status(s) => Cow::Owned(format!("HTTP_{s}")),
            Self::Timeout => Cow::Borrowed("TIMEOUT"),
            Self::Net(n) => Cow::Borrowed(n.label()),
        }
    }

    /// Does `m` (a `next_zone_on` entry) name this cause?
    pub fn matches(&self, m: &CauseMatch) -> bool {
        match (self, m) {
            (Self::Code { code, .. }, CauseMatch::Code(c)) => code.as_str() == c.as_str(),
            (Self::Code { status, .. } | Self::Status(status), CauseMatch::Status(s)) => {
                status == s
            }
            _ => false,
        }
    }
}

/// A cause named in a scenario (`next_zone_on = ["INSUFFICIENT_SEATS", "HTTP_410"]`),
/// parsed once at plan time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CauseMatch {
    Code(Code),
    Status(u16),
}

impl CauseMatch {
    /// `HTTP_<status>` names a status; anything else a target code.
    pub fn parse(s: &str) -> Result<Self, String> {
        if let Some(n) = s.strip_prefix("HTTP_") {
            return match n.parse::<u16>() {
                Ok(st) if (100..=599).contains(&st) => Ok(Self::Status(st)),
                _ => Err(format!("`{s}` is not HTTP_<status> with a status 100-599")),
            };
        }
        match Code::new(s) {
            Some(c) if s.len() <= MAX_CODE_LEN => Ok(Self::Code(c)),
            Some(_) => Err(format!("`{s}` is longer than {MAX_CODE_LEN} bytes")),
            None => Err("an empty code matches nothing".into()),
        }
    }
}

impl fmt::Display for CauseMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Code(c) => f.write_str(c.as_str()),
            Self::Status(s) => write!(f, "HTTP_{s}"),
        }
    }
}

impl serde::Serialize for CauseMatch {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// How one logical operation ended.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum OpOutcome {
    /// A 2xx answer.
    Ok,
    /// Ended on its first answer without a retry: a permanent failure, or a
    /// retryable one under a policy that allows no retries.
    Failed(Cause),
    /// Retried, then stopped at the policy's limit; carries the last cause.
    GaveUp(Cause),
    /// The user's circuit breaker would not let the next attempt out.
    BreakerOpen,
    /// The policy's retry budget refused the retry.
    BudgetExhausted,
    /// The policy's client-side throttle failed the attempt before it was
    /// sent (the SRE book's adaptive throttling): the target never saw it.
    RejectedLocally,
    /// The person gave up waiting (and may have resubmitted).
    Abandoned,
    /// The run ended while the operation was going on.
    #[default]
    Cancelled,
    /// Any code beyond the per-fleet vocabulary bound (see the recorder).
    Other,
    /// A templated header rendered to something that cannot be a header
    /// value (a captured newline, say): nothing was sent, nothing retried.
    InvalidHeader,
    /// A 2xx answer whose status is not one the step expects.
    UnexpectedStatus(u16),
    /// A 2xx body that is not JSON, on a step that reads JSON.
    NotJson,
    /// A response check at this JSON pointer failed.
    CheckFailed(Box<str>),
    /// A capture's JSON pointer matched nothing (or null).
    CaptureMissing(Box<str>),
    /// The pre-check's pointer is missing or not a number.
    PrecheckUnreadable,
    /// A wait step reached its `max_wait`; carries the step's
    /// `timeout_outcome` name (`WAIT_TIMEOUT` unless the scenario names one).
    WaitTimedOut(Box<str>),
    /// An SSE stream sent `event: error`; carries the reason from its data
    /// (`SSE_ERROR:timeout`), cut to [`MAX_CODE_LEN`].
    StreamError(Box<str>),
    /// An SSE stream ended without the awaited event, and every reconnect
    /// allowed was spent.
    StreamClosed,
}

/// Every label stampede itself emits, and the prefixes of its composite
/// labels. A target code that would read as one of these is shown as
/// `target:<code>`, so the two namespaces cannot collide.
const OWN_LABELS: &[&str] = &[
    "OK",
    "TIMEOUT",
    "BREAKER_OPEN",
    "BUDGET_EXHAUSTED",
    "REJECTED_LOCALLY",
    "ABANDONED",
    "CANCELLED",
    "OTHER",
    "INVALID_HEADER",
    "NOT_JSON",
    "PRECHECK_UNREADABLE",
    "WAIT_TIMEOUT",
    "SSE_CLOSED",
];
const OWN_PREFIXES: &[&str] = &[
    "GAVE_UP",
    "HTTP_",
    "target:",
    "UNEXPECTED_STATUS",
    "CHECK_FAILED",
    "CAPTURE_MISSING",
    "SSE_ERROR",
];

/// Is `s` one of stampede's own labels (or starts like one)? A scenario
/// cannot name an outcome of its own that reads as one of these.
pub fn is_own_label(s: &str) -> bool {
    OWN_LABELS.contains(&s) || OWN_PREFIXES.iter().any(|p| s.starts_with(p))
}

fn target_label(code: &str) -> Cow<'_, str> {
    let own = OWN_LABELS.contains(&code)
        || OWN_PREFIXES.iter().any(|p| code.starts_with(p))
        || NetError::ALL.iter().any(|n| n.label() == code);
    if own {
        Cow::Owned(format!("target:{code}"))
    } else {
        Cow::Borrowed(code)
    }
}

/// The separator between `GAVE_UP` and its last cause in labels.
pub const GAVE_UP_SEP: char = '/';

impl OpOutcome {
    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Ok)
    }

    /// The answer the operation last got, when it got one.
    pub fn cause(&self) -> Option<&Cause> {
        match self {
            Self::Failed(c) | Self::GaveUp(c) => Some(c),
            _ => None,
        }
    }

    /// The report's label: `OK`, a target code, `HTTP_503`, `TIMEOUT`,
    /// `CONNECT_REFUSED`, `GAVE_UP/SERVICE_UNAVAILABLE`, `BREAKER_OPEN`, ...
    pub fn label(&self) -> Cow<'_, str> {
        match self {
            Self::Ok => Cow::Borrowed("OK"),
            Self::Failed(c) => c.label(),
            Self::GaveUp(c) => Cow::Owned(format!("GAVE_UP{GAVE_UP_SEP}{}", c.label())),
            Self::BreakerOpen => Cow::Borrowed("BREAKER_OPEN"),
            Self::BudgetExhausted => Cow::Borrowed("BUDGET_EXHAUSTED"),
            Self::RejectedLocally => Cow::Borrowed("REJECTED_LOCALLY"),
            Self::Abandoned => Cow::Borrowed("ABANDONED"),
            Self::Cancelled => Cow::Borrowed("CANCELLED"),
            Self::Other => Cow::Borrowed("OTHER"),
            Self::InvalidHeader => Cow::Borrowed("INVALID_HEADER"),
            Self::UnexpectedStatus(s) => Cow::Owned(format!("UNEXPECTED_STATUS HTTP_{s}")),
            Self::NotJson => Cow::Borrowed("NOT_JSON"),
            Self::CheckFailed(p) => Cow::Owned(format!("CHECK_FAILED {p}")),
            Self::CaptureMissing(p) => Cow::Owned(format!("CAPTURE_MISSING {p}")),
            Self::PrecheckUnreadable => Cow::Borrowed("PRECHECK_UNREADABLE"),
            Self::WaitTimedOut(name) => Cow::Borrowed(name),
            Self::StreamError(reason) => Cow::Owned(format!("SSE_ERROR:{reason}")),
            Self::StreamClosed => Cow::Borrowed("SSE_CLOSED"),
        }
    }
}

/// Operations counted under `label`, where a family label (`GAVE_UP`) also
/// counts every `GAVE_UP/<cause>`.
pub fn count_label<'a, I>(outcomes: I, label: &str) -> u64
where
    I: IntoIterator<Item = (&'a String, &'a u64)>,
{
    outcomes
        .into_iter()
        .filter(|(k, _)| {
            k.as_str() == label
                || (k.starts_with(label) && k[label.len()..].starts_with(GAVE_UP_SEP))
        })
        .map(|(_, v)| *v)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> Cause {
        Cause::Code {
            status: 409,
            code: Code::new(s).unwrap(),
        }
    }

    #[test]
    fn labels() {
        let table: &[(OpOutcome, &str)] = &[
            (OpOutcome::Ok, "OK"),
            (
                OpOutcome::Failed(code("INSUFFICIENT_SEATS")),
                "INSUFFICIENT_SEATS",
            ),
            (OpOutcome::Failed(Cause::Status(502)), "HTTP_502"),
            (OpOutcome::Failed(Cause::Timeout), "TIMEOUT"),
            (
                OpOutcome::Failed(Cause::Net(NetError::ConnectRefused)),
                "CONNECT_REFUSED",
            ),
            (
                OpOutcome::GaveUp(code("SERVICE_UNAVAILABLE")),
                "GAVE_UP/SERVICE_UNAVAILABLE",
            ),
            (OpOutcome::GaveUp(Cause::Status(503)), "GAVE_UP/HTTP_503"),
            (OpOutcome::BreakerOpen, "BREAKER_OPEN"),
            (OpOutcome::BudgetExhausted, "BUDGET_EXHAUSTED"),
            (OpOutcome::RejectedLocally, "REJECTED_LOCALLY"),
            (OpOutcome::Abandoned, "ABANDONED"),
            (OpOutcome::Cancelled, "CANCELLED"),
            (OpOutcome::InvalidHeader, "INVALID_HEADER"),
            (
                OpOutcome::UnexpectedStatus(201),
                "UNEXPECTED_STATUS HTTP_201",
            ),
            (OpOutcome::NotJson, "NOT_JSON"),
            (
                OpOutcome::CheckFailed("/success".into()),
                "CHECK_FAILED /success",
            ),
            (
                OpOutcome::CaptureMissing("/data/bookingId".into()),
                "CAPTURE_MISSING /data/bookingId",
            ),
            (OpOutcome::PrecheckUnreadable, "PRECHECK_UNREADABLE"),
        ];
        for (o, want) in table {
            assert_eq!(o.label(), *want, "{o:?}");
        }
    }

    #[test]
    fn target_codes_cannot_pose_as_stampede_labels() {
        for c in [
            "OK",
            "GAVE_UP",
            "GAVE_UP/TIMEOUT",
            "TIMEOUT",
            "HTTP_503",
            "CONNECT_REFUSED",
            "NETWORK_ERROR",
            "BREAKER_OPEN",
            "REJECTED_LOCALLY",
            "CANCELLED",
            "target:OK",
            "INVALID_HEADER",
            "CHECK_FAILED /x",
            "CAPTURE_MISSING",
            "PRECHECK_UNREADABLE",
        ] {
            let l = OpOutcome::Failed(code(c)).label().into_owned();
            assert_eq!(l, format!("target:{c}"));
        }
        // Distinct codes stay distinct labels.
        assert_ne!(
            OpOutcome::Failed(code("OK")).label(),
            OpOutcome::Failed(code("target:OK")).label()
        );
        assert_eq!(OpOutcome::Failed(code("SOLD_OUT")).label(), "SOLD_OUT");
    }

    #[test]
    fn long_codes_are_cut_on_a_char_boundary() {
        let long = "é".repeat(100);
        let c = Code::new(&long).unwrap();
        assert!(c.as_str().len() <= MAX_CODE_LEN);
        assert_eq!(c.as_str().chars().count(), MAX_CODE_LEN / 2);
        assert_eq!(Code::new(""), None);
    }

    #[test]
    fn next_zone_matchers() {
        let sold = CauseMatch::parse("INSUFFICIENT_SEATS").unwrap();
        let gone = CauseMatch::parse("HTTP_410").unwrap();
        assert!(code("INSUFFICIENT_SEATS").matches(&sold));
        assert!(!code("EXPIRED").matches(&sold));
        assert!(Cause::Status(410).matches(&gone));
        assert!(
            Cause::Code {
                status: 410,
                code: Code::new("X").unwrap()
            }
            .matches(&gone)
        );
        assert!(!Cause::Timeout.matches(&sold));
        assert!(CauseMatch::parse("HTTP_99").is_err());
        assert!(CauseMatch::parse("HTTP_abc").is_err());
        assert!(CauseMatch::parse("").is_err());
        assert_eq!(gone.to_string(), "HTTP_410");
    }

    #[test]
    fn gave_up_family_counts_every_cause() {
        let m: std::collections::BTreeMap<String, u64> = [
            ("GAVE_UP/HTTP_503".to_string(), 2),
            ("GAVE_UP/TIMEOUT".to_string(), 3),
            ("GAVE_UPX".to_string(), 100),
            ("OK".to_string(), 7),
        ]
        .into();
        assert_eq!(count_label(&m, "GAVE_UP"), 5);
        assert_eq!(count_label(&m, "GAVE_UP/TIMEOUT"), 3);
        assert_eq!(count_label(&m, "OK"), 7);
        assert_eq!(count_label(&m, "HTTP_503"), 0);
    }

    #[test]
    fn network_errors_by_kind() {
        use std::io::ErrorKind as K;
        let k = |m: &str| NetError::from_chain(&[m.to_string()], None);
        assert_eq!(
            NetError::from_chain(&["x".into()], Some(K::ConnectionRefused)),
            NetError::ConnectRefused
        );
        assert_eq!(
            k("tcp connect error: Connection refused (os error 111)"),
            NetError::ConnectRefused
        );
        assert_eq!(k("Too many open files (os error 24)"), NetError::Local);
        assert_eq!(k("invalid peer certificate: UnknownIssuer"), NetError::Tls);
        assert_eq!(
            k("Connection reset by peer (os error 104)"),
            NetError::Reset
        );
        assert_eq!(
            k("connection closed before message completed"),
            NetError::Closed
        );
        assert_eq!(k("dns error: failed to lookup address"), NetError::Dns);
        assert_eq!(k("something odd"), NetError::Other);
    }

    #[test]
    fn a_failed_connect_to_the_proxy_names_the_proxy_unless_it_is_ours() {
        assert_eq!(NetError::ConnectRefused.at_proxy(), NetError::ProxyRefused);
        assert_eq!(
            NetError::ConnectTimeout.at_proxy(),
            NetError::ProxyUnreachable
        );
        assert_eq!(NetError::Dns.at_proxy(), NetError::ProxyUnreachable);
        assert_eq!(NetError::Local.at_proxy(), NetError::Local);
        let proxy: Vec<_> = NetError::ALL.iter().filter(|n| n.is_proxy()).collect();
        assert_eq!(proxy.len(), 4);
        assert!(proxy.iter().all(|n| n.label().starts_with("PROXY_")));
    }
}
