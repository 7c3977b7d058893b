//! What the suite needs of a target: start it with the knobs a row sets,
//! its base URL, and its counts in one shape (the simulator's ledger and
//! the double's counters read alike).

use crate::common::booking_rush::Bucket;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

/// The knobs rows turn; `quiet()` is the spec's values without the rate
/// limiter, so functional rows only see the rule under test.
#[derive(Clone, Debug)]
pub struct Knobs {
    /// Seats of zone `Z1`.
    pub seats: u32,
    pub token_ttl: Duration,
    /// A buyer is let out of the queue this long after joining at the
    /// earliest.
    pub queue_wait: Duration,
    pub pass_ttl: Duration,
    /// Reserve needs a one-shot queue pass.
    pub enforce_pass: bool,
    /// Tickets one user holds at once.
    pub max_per_user: u32,
    pub sse_interval: Duration,
    pub sse_timeout: Duration,
    pub sse_keepalive: Duration,
    /// A `retry:` field in each stream's first frame.
    pub sse_retry: Option<Duration>,
    /// How long a reserve takes; the work goes on when its client leaves.
    pub reserve_time: Duration,
    pub reservation_ttl: Duration,
    /// Browsing reads `available_seats` up to this old (0: the live count).
    pub browse_lag: Duration,
    /// Browsing needs no token.
    pub browse_public: bool,
    /// The gateway's limiter on, with these classes (None: off).
    pub limits: Option<Limits>,
    /// The first reserve answers an injected 500 `INTERNAL_ERROR` (the
    /// simulator: every booking call until `Target::fault_over`).
    pub fault: bool,
}

/// The auth and confirm classes of the limiter; every other path keeps
/// the spec's 1000/s, burst 100.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub auth: Bucket,
    pub confirm: Bucket,
}

impl Knobs {
    pub fn quiet() -> Self {
        Self {
            seats: 100,
            token_ttl: Duration::from_secs(15 * 60),
            queue_wait: Duration::ZERO,
            pass_ttl: Duration::from_secs(5 * 60),
            enforce_pass: true,
            max_per_user: 10,
            sse_interval: Duration::from_secs(1),
            sse_timeout: Duration::from_secs(5 * 60),
            sse_keepalive: Duration::from_secs(15),
            sse_retry: None,
            reserve_time: Duration::ZERO,
            reservation_ttl: Duration::from_secs(10 * 60),
            browse_lag: Duration::ZERO,
            browse_public: false,
            limits: None,
            fault: false,
        }
    }

    /// Quiet, and reserve needs no pass.
    pub fn passless() -> Self {
        Self {
            enforce_pass: false,
            ..Self::quiet()
        }
    }
}

/// Join to pass for every pass issued: how many, and their sum and
/// median in milliseconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Waits {
    pub count: u64,
    pub sum: u64,
    pub p50: u64,
}

/// A target's counts. Counters named after an outcome count that outcome
/// (`logins`: tokens issued by login, not login requests).
#[derive(Clone, Debug, Default)]
pub struct Counts {
    /// Answers by endpoint and status; endpoints by the simulator's names
    /// (`login`, `events`, `show_zones`, `zone`, `queue_join`,
    /// `queue_position`, `queue_stream`, `reserve`, `confirm`, `release`,
    /// `cancel`, `refresh`; `other`: unknown paths).
    pub requests: BTreeMap<String, BTreeMap<u16, u64>>,
    pub logins: u64,
    pub refreshes: u64,
    pub joins: u64,
    /// Position polls that reached the queue (200 or 404).
    pub polls: u64,
    /// Streams opened past the gateway.
    pub streams: u64,
    pub passes_issued: u64,
    pub passes_used: u64,
    pub waits: Waits,
    /// Reservations made (a release or an expiry does not lower it).
    pub bookings: u64,
    pub confirmations: u64,
    pub releases: u64,
    /// Zone `Z1`'s live available seats.
    pub available: u32,
    /// Stored answers replayed, by status, and all of them.
    pub replays: BTreeMap<u16, u64>,
    pub replayed: u64,
    /// 409 `REQUEST_IN_PROGRESS` and 422 `IDEMPOTENCY_KEY_REUSED` answers.
    pub in_progress: u64,
    pub key_reused: u64,
}

impl Counts {
    /// The answers of one endpoint by status (empty if none).
    pub fn of(&self, endpoint: &str) -> BTreeMap<u16, u64> {
        self.requests.get(endpoint).cloned().unwrap_or_default()
    }

    /// Every answer counted.
    pub fn sent(&self) -> u64 {
        self.requests.values().flat_map(|m| m.values()).sum()
    }
}

/// A Booking Rush API the suite runs its rows against.
pub trait Target: Sized {
    async fn start(knobs: Knobs) -> Self;
    /// "http://host:port"; paths carry `/api/v1`.
    fn url(&self) -> String;
    /// The `X-Stampede-Sim` value on every answer (None: no such header).
    fn mark(&self) -> Option<&'static str>;
    fn counts(&self) -> Counts;
    /// Returns once a request under `key` is being processed.
    async fn until_processing(&self, key: &str);
    /// Returns once the fault `Knobs::fault` injects is over.
    async fn fault_over(&self);
}

/// Polls the counts until `pred` holds (deadline 10 s); the last ones.
pub async fn wait_counts(t: &impl Target, what: &str, pred: impl Fn(&Counts) -> bool) -> Counts {
    until(what, || t.counts(), pred).await
}

/// Reads `probe` every 20 ms until `pred` holds of what it read (deadline
/// 10 s); that reading.
pub async fn until<V: std::fmt::Debug>(
    what: &str,
    probe: impl Fn() -> V,
    pred: impl Fn(&V) -> bool,
) -> V {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = probe();
        if pred(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{what} within 10 s: {v:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
