//! Ground truth, recorded with atomics and sharded maps so counting never
//! becomes the bottleneck it is supposed to observe.

pub use crate::model::{Ledger, QueueLedger, TimeSummary, ZoneSeats};
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use tokio::time::Instant;

/// Endpoints counted in `requests`. The first six and `write` are the
/// guidelines profile's; the Booking Rush profile counts `reserve`, `confirm`,
/// `release` (`DELETE /api/v1/bookings/{id}`), `sim` and `other` too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Availability = 0,
    Reserve = 1,
    Confirm = 2,
    Release = 3,
    Sim = 4,
    Other = 5,
    Login = 6,
    Refresh = 7,
    Events = 8,
    ShowZones = 9,
    Zone = 10,
    QueueJoin = 11,
    QueuePosition = 12,
    QueueStream = 13,
    Cancel = 14,
    Write = 15,
}

const ENDPOINTS: [(Endpoint, &str); 16] = [
    (Endpoint::Availability, "availability"),
    (Endpoint::Reserve, "reserve"),
    (Endpoint::Confirm, "confirm"),
    (Endpoint::Release, "release"),
    (Endpoint::Sim, "sim"),
    (Endpoint::Other, "other"),
    (Endpoint::Login, "login"),
    (Endpoint::Refresh, "refresh"),
    (Endpoint::Events, "events"),
    (Endpoint::ShowZones, "show_zones"),
    (Endpoint::Zone, "zone"),
    (Endpoint::QueueJoin, "queue_join"),
    (Endpoint::QueuePosition, "queue_position"),
    (Endpoint::QueueStream, "queue_stream"),
    (Endpoint::Cancel, "cancel"),
    (Endpoint::Write, "write"),
];
const STATUSES: usize = 600;
/// The longest time in queue the histogram tells apart: 24 hours in ms
/// (queue entries live 30 minutes on the real system).
pub const QUEUE_TIME_MAX_MS: u64 = 24 * 3600 * 1000;
const SHARDS: usize = 16;

#[derive(Debug, Default)]
struct OpState {
    attempts: u32,
    bookings: u32,
    not_before: Option<Instant>,
}

/// Per (user, op id) tracking, under the pair's 128-bit digest
/// ([`LedgerState::digest`]): nothing is allocated per attempt, and a
/// million tracked operations (one per waiting user) take 40 bytes each
/// instead of two owned strings and a 72-byte entry. Two operations share
/// an entry only if two independently keyed 64-bit SipHashes both collide:
/// for ten million operations a chance of about 1 in 10^24.
type OpMap = HashMap<u128, OpState, std::hash::BuildHasherDefault<Digested>>;

/// The map's hasher: the key is already a keyed digest, so its high half
/// is the hash (the low half picks the shard).
#[derive(Default)]
struct Digested(u64);

impl std::hash::Hasher for Digested {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u128 keys are hashed; any other input still hashes.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u128(&mut self, n: u128) {
        self.0 = (n >> 64) as u64;
    }
}

/// Live counters of one simulator generation (replaced on reset).
pub struct LedgerState {
    pub oversold: AtomicU64,
    pub duplicates: AtomicU64,
    pub wasted_work: AtomicU64,
    pub early_retries: AtomicU64,
    pub bookings_created: AtomicU64,
    pub bookings_confirmed: AtomicU64,
    pub bookings_released: AtomicU64,
    pub bookings_expired: AtomicU64,
    pub idempotent_replays: AtomicU64,
    pub connection_resets: AtomicU64,
    /// Flat `[endpoint][status]` table: a fixed array beats a locked map
    /// at tens of thousands of requests per second.
    requests: Box<[AtomicU64]>,
    ops: Box<[Mutex<OpMap>]>,
    /// Two independent keys for the 128-bit digest of (user, op id).
    hashers: [std::hash::RandomState; 2],
    /// The Booking Rush profile's counters (none for the guidelines one).
    pub rush: Option<RushCounters>,
}

/// What only the Booking Rush profile counts ([`Ledger`]'s optional fields).
pub struct RushCounters {
    pub logins: AtomicU64,
    pub refreshes: AtomicU64,
    pub joins: AtomicU64,
    pub polls: AtomicU64,
    pub streams: AtomicU64,
    pub passes_issued: AtomicU64,
    pub passes_used: AtomicU64,
    pub passes_stranded: AtomicU64,
    pub in_progress: AtomicU64,
    pub key_reused: AtomicU64,
    pub gateway_timeouts: AtomicU64,
    /// Seats on sale times how long, in milliseconds, while users waited
    /// in that event's queue (see [`RushCounters::unsold_while_waiting`]).
    unsold_seat_ms: AtomicU64,
    /// Replays by stored status.
    replays: Box<[AtomicU64]>,
    /// Join to pass in milliseconds and their exact sum; written by the
    /// release worker only. Tracks 1 ms to [`QUEUE_TIME_MAX_MS`] at three
    /// significant figures; a longer wait is recorded as that bound.
    queue_time: Mutex<(hdrhistogram::Histogram<u64>, u64)>,
}

impl RushCounters {
    fn new() -> Self {
        let z = || AtomicU64::new(0);
        Self {
            logins: z(),
            refreshes: z(),
            joins: z(),
            polls: z(),
            streams: z(),
            passes_issued: z(),
            passes_used: z(),
            passes_stranded: z(),
            in_progress: z(),
            key_reused: z(),
            gateway_timeouts: z(),
            unsold_seat_ms: z(),
            replays: (0..STATUSES).map(|_| z()).collect(),
            queue_time: Mutex::new((
                hdrhistogram::Histogram::new_with_bounds(1, QUEUE_TIME_MAX_MS, 3)
                    .expect("static histogram bounds are valid"),
                0,
            )),
        }
    }

    /// A stored answer with this status was replayed.
    pub fn replayed(&self, status: u16) {
        if let Some(c) = self.replays.get(usize::from(status).min(STATUSES - 1)) {
            c.fetch_add(1, Relaxed);
        }
    }

    /// A run of the release worker left users waiting in an event's queue
    /// while `on_sale` of its seats were neither reserved nor sold; `span`
    /// is the time since the previous run over that queue.
    pub fn unsold_while_waiting(&self, on_sale: u64, span: std::time::Duration) {
        let ms = u64::try_from(span.as_millis()).unwrap_or(u64::MAX);
        self.unsold_seat_ms
            .fetch_add(on_sale.saturating_mul(ms), Relaxed);
    }

    /// Passes were issued after these waits in the queue.
    pub fn passes(&self, waits: impl IntoIterator<Item = std::time::Duration>) {
        let mut g = self.queue_time.lock().unwrap_or_else(|p| p.into_inner());
        let (h, sum) = &mut *g;
        let mut n = 0;
        for w in waits {
            let ms = u64::try_from(w.as_millis()).unwrap_or(u64::MAX);
            h.saturating_record(ms);
            *sum = sum.saturating_add(ms);
            n += 1;
        }
        self.passes_issued.fetch_add(n, Relaxed);
    }

    fn fill(&self, l: &mut Ledger) {
        let get = |c: &AtomicU64| c.load(Relaxed);
        let replays: BTreeMap<u16, u64> = (self.replays.iter().enumerate())
            .filter(|(_, c)| get(c) > 0)
            .map(|(s, c)| (s as u16, get(c)))
            .collect();
        let time_in_queue_ms = {
            let g = self.queue_time.lock().unwrap_or_else(|p| p.into_inner());
            let (h, sum) = &*g;
            let n = h.len();
            TimeSummary {
                count: n,
                sum: *sum,
                max: if n > 0 { h.max() } else { 0 },
                p50: if n > 0 { h.value_at_quantile(0.5) } else { 0 },
                p90: if n > 0 { h.value_at_quantile(0.9) } else { 0 },
                p99: if n > 0 { h.value_at_quantile(0.99) } else { 0 },
            }
        };
        l.logins = Some(get(&self.logins));
        l.refreshes = Some(get(&self.refreshes));
        l.queue = Some(QueueLedger {
            joins: get(&self.joins),
            polls: get(&self.polls),
            streams: get(&self.streams),
            passes_issued: get(&self.passes_issued),
            passes_used: get(&self.passes_used),
            passes_stranded: get(&self.passes_stranded),
            unsold_while_waiting: get(&self.unsold_seat_ms) / 1000,
            time_in_queue_ms,
        });
        l.replays_by_status = Some(replays);
        l.request_in_progress = Some(get(&self.in_progress));
        l.idempotency_key_reused = Some(get(&self.key_reused));
        l.gateway_timeouts = Some(get(&self.gateway_timeouts));
    }
}

impl Default for LedgerState {
    fn default() -> Self {
        Self::new()
    }
}

/// Which key an attempt is tracked under for early retries and duplicates.
#[derive(Debug, Clone, Copy)]
pub struct OpKey<'a> {
    pub user: &'a str,
    /// `X-Stampede-Op`, or `idem:` + Idempotency-Key when absent.
    pub op: &'a str,
    /// Whether `op` came from `X-Stampede-Op` (only those count attempts
    /// and duplicates).
    pub explicit: bool,
}

impl LedgerState {
    pub fn new() -> Self {
        Self {
            oversold: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            wasted_work: AtomicU64::new(0),
            early_retries: AtomicU64::new(0),
            bookings_created: AtomicU64::new(0),
            bookings_confirmed: AtomicU64::new(0),
            bookings_released: AtomicU64::new(0),
            bookings_expired: AtomicU64::new(0),
            idempotent_replays: AtomicU64::new(0),
            connection_resets: AtomicU64::new(0),
            requests: (0..ENDPOINTS.len() * STATUSES)
                .map(|_| AtomicU64::new(0))
                .collect(),
            ops: (0..SHARDS).map(|_| Mutex::new(OpMap::default())).collect(),
            hashers: [std::hash::RandomState::new(), std::hash::RandomState::new()],
            rush: None,
        }
    }

    /// The Booking Rush profile's ledger: the common counters and its own.
    pub fn with_rush() -> Self {
        Self {
            rush: Some(RushCounters::new()),
            ..Self::new()
        }
    }

    pub fn count_request(&self, ep: Endpoint, status: u16) {
        let s = usize::from(status).min(STATUSES - 1);
        if let Some(c) = self.requests.get(ep as usize * STATUSES + s) {
            c.fetch_add(1, Relaxed);
        }
    }

    fn digest(&self, key: &OpKey<'_>) -> u128 {
        let [a, b] = &self.hashers;
        let pair = (key.user, key.op);
        (u128::from(a.hash_one(pair)) << 64) | u128::from(b.hash_one(pair))
    }

    fn with_op<R>(&self, key: &OpKey<'_>, f: impl FnOnce(&mut OpState) -> R) -> R {
        let d = self.digest(key);
        let shard = &self.ops[(d as u64 as usize) % SHARDS];
        let mut map = shard.lock().unwrap_or_else(|p| p.into_inner());
        f(map.entry(d).or_default())
    }

    /// Records an attempt arriving now; counts it as early if it came
    /// before the Retry-After this op was last given.
    pub fn attempt(&self, key: &OpKey<'_>, now: Instant) {
        let early = self.with_op(key, |op| {
            if key.explicit {
                op.attempts = op.attempts.saturating_add(1);
            }
            matches!(op.not_before, Some(t) if now < t)
        });
        if early {
            self.early_retries.fetch_add(1, Relaxed);
        }
    }

    /// Remembers the instant before which this op should not come back.
    pub fn retry_after_given(&self, key: &OpKey<'_>, not_before: Instant) {
        self.with_op(key, |op| op.not_before = Some(not_before));
    }

    /// A booking was created; counts duplicates per logical operation.
    pub fn booking_created(&self, key: Option<&OpKey<'_>>) {
        self.bookings_created.fetch_add(1, Relaxed);
        if let Some(key) = key.filter(|k| k.explicit) {
            let dup = self.with_op(key, |op| {
                op.bookings = op.bookings.saturating_add(1);
                op.bookings > 1
            });
            if dup {
                self.duplicates.fetch_add(1, Relaxed);
            }
        }
    }

    pub fn record_oversold(&self, excess: u64) {
        self.oversold.fetch_max(excess, Relaxed);
    }

    /// Everything but the zones, which the store fills in.
    pub fn snapshot(&self) -> Ledger {
        let mut requests = BTreeMap::new();
        for (ep, name) in ENDPOINTS {
            let mut by_status = BTreeMap::new();
            for s in 0..STATUSES {
                let n = self.requests[ep as usize * STATUSES + s].load(Relaxed);
                if n > 0 {
                    by_status.insert(s as u16, n);
                }
            }
            if !by_status.is_empty() {
                requests.insert(name.to_owned(), by_status);
            }
        }
        let mut attempts_per_op = BTreeMap::new();
        for shard in self.ops.iter() {
            let map = shard.lock().unwrap_or_else(|p| p.into_inner());
            for op in map.values().filter(|o| o.attempts > 0) {
                *attempts_per_op.entry(op.attempts).or_insert(0) += 1;
            }
        }
        let mut ledger = Ledger {
            oversold: self.oversold.load(Relaxed),
            duplicates: self.duplicates.load(Relaxed),
            wasted_work: self.wasted_work.load(Relaxed),
            early_retries: self.early_retries.load(Relaxed),
            bookings_created: self.bookings_created.load(Relaxed),
            bookings_confirmed: self.bookings_confirmed.load(Relaxed),
            bookings_released: self.bookings_released.load(Relaxed),
            bookings_expired: self.bookings_expired.load(Relaxed),
            idempotent_replays: self.idempotent_replays.load(Relaxed),
            connection_resets: self.connection_resets.load(Relaxed),
            requests,
            zones: BTreeMap::new(),
            attempts_per_op,
            ..Ledger::default()
        };
        if let Some(r) = &self.rush {
            r.fill(&mut ledger);
        }
        ledger
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn op<'a>(user: &'a str, op: &'a str) -> OpKey<'a> {
        OpKey {
            user,
            op,
            explicit: true,
        }
    }

    #[test]
    fn duplicates_count_bookings_beyond_first_per_op() {
        let l = LedgerState::new();
        l.booking_created(Some(&op("u1", "op1")));
        l.booking_created(Some(&op("u1", "op1")));
        l.booking_created(Some(&op("u2", "op1")));
        l.booking_created(None);
        let s = l.snapshot();
        assert_eq!(s.bookings_created, 4);
        assert_eq!(s.duplicates, 1);
    }

    #[test]
    fn early_retries_and_attempt_distribution() {
        let l = LedgerState::new();
        let k = op("u1", "op1");
        let t0 = Instant::now();
        l.attempt(&k, t0);
        l.retry_after_given(&k, t0 + Duration::from_secs(1));
        l.attempt(&k, t0 + Duration::from_millis(500));
        l.attempt(&k, t0 + Duration::from_secs(1));
        l.attempt(&op("u1", "op2"), t0);
        let s = l.snapshot();
        assert_eq!(s.early_retries, 1);
        assert_eq!(s.attempts_per_op, BTreeMap::from([(1, 1), (3, 1)]));
    }

    #[test]
    fn requests_table() {
        let l = LedgerState::new();
        l.count_request(Endpoint::Reserve, 201);
        l.count_request(Endpoint::Reserve, 201);
        l.count_request(Endpoint::Other, 404);
        l.count_request(Endpoint::Other, 9999);
        let s = l.snapshot();
        assert_eq!(s.requests["reserve"][&201], 2);
        assert_eq!(s.requests["other"][&404], 1);
        assert_eq!(s.requests["other"][&599], 1);
        assert!(!s.requests.contains_key("confirm"));
    }

    fn queue_time(l: &LedgerState) -> TimeSummary {
        l.snapshot().queue.expect("rush ledger").time_in_queue_ms
    }

    #[test]
    fn long_queue_waits_are_not_clamped() {
        let l = LedgerState::with_rush();
        let r = l.rush.as_ref().expect("rush counters");
        // 90 waits of 10 s .. 100 s and 10 of 40 minutes: all beyond the
        // 2 ms a default-bounded histogram clamps to.
        let mut waits: Vec<Duration> = (1..=90).map(|i| Duration::from_secs(10 * i)).collect();
        waits.extend(std::iter::repeat_n(Duration::from_secs(40 * 60), 10));
        let expect_sum: u64 = waits.iter().map(|w| w.as_millis() as u64).sum();
        r.passes(waits);
        let t = queue_time(&l);
        assert_eq!(t.count, 100);
        assert_eq!(t.sum, expect_sum);
        // Three significant figures: within 0.1 % of the recorded value.
        let near = |got: u64, want: u64| got.abs_diff(want) * 1000 <= want;
        assert!(near(t.p50, 500_000), "p50 {}", t.p50);
        assert!(near(t.p90, 900_000), "p90 {}", t.p90);
        assert!(near(t.p99, 2_400_000), "p99 {}", t.p99);
        assert!(near(t.max, 2_400_000), "max {}", t.max);
        assert_eq!(l.snapshot().queue.map(|q| q.passes_issued), Some(100));
    }

    #[test]
    fn queue_waits_beyond_the_bound_record_as_the_bound() {
        let l = LedgerState::with_rush();
        let r = l.rush.as_ref().expect("rush counters");
        r.passes([Duration::from_secs(48 * 3600)]);
        let t = queue_time(&l);
        assert!(t.max.abs_diff(QUEUE_TIME_MAX_MS) * 1000 <= QUEUE_TIME_MAX_MS);
        assert_eq!(t.sum, 48 * 3600 * 1000, "the sum stays exact");
    }
}
