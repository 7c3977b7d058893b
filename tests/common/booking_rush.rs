//! A loopback double of the real Booking Rush API, as our users' staging
//! runs it (`/work/shared/spec/booking-rush-api.md`): the gateway (rate
//! limiter, JWT check, two error envelopes), the auth service, browsing, the
//! virtual queue (polling and Server-Sent Events), the booking service and
//! its idempotency middleware. Every knob defaults to the real system's
//! value; tests shorten the times.
//!
//! Where the double simplifies (each also said at the knob or handler):
//! - The JWT is HS256-shaped but its signature is a keyed FNV-1a hash, not
//!   HMAC (no HMAC crate in the dev-dependencies; a client never verifies
//!   it). The double itself checks the signature, so a tampered token is
//!   `INVALID_TOKEN`. `exp`/`iat` are whole seconds, like a real JWT; an
//!   extra `exp_ms` claim carries the exact expiry, which the double checks,
//!   so a token lives exactly its TTL (tests use TTLs of a second).
//! - Lifetimes run on tokio's clock (`tokio::time::Instant`); the Unix times
//!   in bodies, tokens and `X-RateLimit-Reset` are the wall clock at start
//!   plus tokio time elapsed since, so a paused-clock test moves both.
//! - The release worker runs every 50 ms and on every poll, stream frame and
//!   reserve; with `queue_wait` 0 a pass appears on the first poll.
//! - One event, one show: joining another event is 409 `QUEUE_NOT_OPEN`.
//!
//! Choices where the spec is silent (the real gateway's code was the guide
//! where it could be read):
//! - Order: rate limiter (every path, unknown ones too: a global
//!   middleware; buckets per client IP and class, shared by all routes of a
//!   class), then routing (unknown path: 404 `NOT_FOUND`, nested), then the
//!   JWT, then the idempotency middleware, then the handler.
//! - The stream answers 200 and then `event: error` `{"event":"not_in_queue"}`
//!   for a user neither queued nor holding a pass (polling answers 404).
//! - A used-up pass is `INVALID_QUEUE_PASS` (one-shot passes are deleted);
//!   checks run unknown -> expired -> other user or event.
//! - Reserve checks: body (`INVALID_REQUEST`, `INVALID_SHOW_ID`, quantity),
//!   `reserve_delay`, pass, then the inventory: injected 500, unknown zone,
//!   per-user limit, seats.
//! - Release or confirm of a lapsed reservation is 410 `EXPIRED`; confirm of
//!   a released one and release of a released one are 409 `ALREADY_RELEASED`;
//!   release of a confirmed one is 409 `ALREADY_CONFIRMED`.
//! - Refresh with a bad or expired refresh token: 401 `INVALID_TOKEN` /
//!   `TOKEN_EXPIRED` (nested); an access token is no refresh token and the
//!   other way round.
//! - Flat bodies keep Go's struct field order on the wire (`{"error",
//!   "code"}`, `{"booking_id","status",...}`) and its numbers (a whole
//!   float as `100`); nested and `{"success","data"}` bodies are Go maps,
//!   whose keys encode sorted.

use super::logserver::Seen;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use bytes::Bytes;
use http::{HeaderMap, Method};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// How often the queue's release worker runs besides on demand.
const RELEASE_TICK: Duration = Duration::from_millis(50);
/// Refresh tokens live a week (the access token's TTL is a knob).
const REFRESH_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Key of the fake token signature (see the module doc).
const SECRET: &[u8] = b"booking-rush-double-secret";
/// A poll sooner than this after the same user's previous one is early.
const POLL_GAP: Duration = Duration::from_secs(1);

/// One token bucket: refill per second and capacity. `per_second` 0 turns
/// the class off (the real limiter skips an unlimited endpoint: no headers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bucket {
    pub per_second: u32,
    pub burst: u32,
}

/// The gateway's endpoint classes: `POST /api/v1/auth/*`,
/// `POST /api/v1/bookings/{id}/confirm`, everything else (unknown paths
/// included: the real limiter is a global middleware).
#[derive(Clone, Debug)]
pub struct Limits {
    pub default: Bucket,
    pub auth: Bucket,
    pub confirm: Bucket,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            default: Bucket {
                per_second: 1000,
                burst: 100,
            },
            auth: Bucket {
                per_second: 20,
                burst: 5,
            },
            confirm: Bucket {
                per_second: 50,
                burst: 10,
            },
        }
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    /// Every email logs in with this password.
    pub password: String,
    /// Access token lifetime (15 min).
    pub token_ttl: Duration,
    /// (zone id, seats); all zones belong to `show_id`.
    pub zones: Vec<(String, u32)>,
    pub event_id: String,
    pub show_id: String,
    /// Price per ticket when the reserve body carries no `unit_price`.
    pub unit_price: f64,
    /// Tickets per user per event held at once (reserved or confirmed);
    /// more is 409 `MAX_TICKETS_EXCEEDED` (flat).
    pub max_per_user: u32,
    /// A user becomes eligible for a pass this long after joining.
    pub queue_wait: Duration,
    /// Passes outstanding (issued, unused, unexpired) at once.
    pub max_passes: usize,
    /// Queue pass lifetime (5 min).
    pub pass_ttl: Duration,
    /// Reserve requires a valid, one-shot `queue_pass` in the body. Off, a
    /// pass in the body is ignored (not checked, not used up).
    pub enforce_pass: bool,
    /// A position frame this often on the stream (first one at once).
    pub sse_interval: Duration,
    /// `event: error` `{"event":"timeout"}` and close after this (5 min).
    pub sse_timeout: Duration,
    /// A `: keep-alive` comment after this long without a write (15 s).
    pub sse_keepalive: Duration,
    /// A `retry:` field in the first frame of each stream.
    pub sse_retry_ms: Option<u64>,
    /// Per user, the first N stream connections are closed by the server
    /// right after their first position frame (a fault to test reconnects).
    pub sse_cut_first: u32,
    /// Service time of reserve, slept inside the handler after the body
    /// checks, while the idempotency key is `processing`. The handler runs
    /// on its own task: a client that gives up does not stop it.
    pub reserve_delay: Duration,
    /// The first N reserve executions (requests that got past the body and
    /// pass checks) answer 500 `INTERNAL_ERROR` (flat) without booking.
    pub fail_first_reserves: u32,
    /// Reservation lifetime (10 min): then the seats go back and confirm is
    /// 410 `EXPIRED`.
    pub reservation_ttl: Duration,
    /// An idempotency key stays `processing` this long at most (60 s).
    pub idem_processing: Duration,
    /// A finished answer is replayed this long (5 min).
    pub idem_replay: Duration,
    /// Gateway rate limiter on.
    pub rate_limit: bool,
    pub limits: Limits,
    /// Browsing reads `available_seats` as it was this long ago (the real
    /// read model is updated asynchronously). 0: the live count.
    pub availability_lag: Duration,
    /// A queue entry not released within this is dropped (30 min).
    pub queue_entry_ttl: Duration,
    /// The spec says every call after login carries a token, so the double
    /// checks it on browsing too (false). The real gateway's route table
    /// makes `GET` events, shows and zones public: true mimics that.
    pub browse_public: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            password: "correct-horse".into(),
            token_ttl: Duration::from_secs(15 * 60),
            zones: vec![("Z1".into(), 100)],
            event_id: "EVT1".into(),
            show_id: "SHOW1".into(),
            unit_price: 50.0,
            max_per_user: 10,
            queue_wait: Duration::ZERO,
            max_passes: 500,
            pass_ttl: Duration::from_secs(5 * 60),
            enforce_pass: true,
            sse_interval: Duration::from_secs(1),
            sse_timeout: Duration::from_secs(5 * 60),
            sse_keepalive: Duration::from_secs(15),
            sse_retry_ms: None,
            sse_cut_first: 0,
            reserve_delay: Duration::ZERO,
            fail_first_reserves: 0,
            reservation_ttl: Duration::from_secs(10 * 60),
            idem_processing: Duration::from_secs(60),
            idem_replay: Duration::from_secs(5 * 60),
            rate_limit: true,
            limits: Limits::default(),
            availability_lag: Duration::ZERO,
            queue_entry_ttl: Duration::from_secs(30 * 60),
            browse_public: false,
        }
    }
}

/// What the double saw and did. Counters named after an outcome count
/// that outcome (`logins`: tokens issued by login, not login requests);
/// `by_route` has every answer by route and status.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    /// Every request received, any path.
    pub requests: u64,
    /// "METHOD /api/v1/..." with path ids as `{id}`; an unknown path is
    /// "METHOD *". Status of every answer (a stream counts at its 200).
    pub by_route: BTreeMap<String, BTreeMap<u16, u64>>,
    /// Successful logins and refreshes.
    pub logins: u64,
    pub refreshes: u64,
    /// Successful joins (201).
    pub joins: u64,
    /// Position polls that reached the queue service (200 or 404).
    pub polls: u64,
    /// The same polls by the user who sent them.
    pub polls_by_user: BTreeMap<String, u64>,
    /// Streams opened (past the gateway), position frames sent on them,
    /// stream requests that carried `Last-Event-ID`.
    pub streams_opened: u64,
    pub stream_frames: u64,
    pub last_event_ids_received: u64,
    pub passes_issued: u64,
    /// Passes used up by a successful reserve.
    pub passes_used: u64,
    /// Reserves that reached the inventory step (incl. the injected 500s,
    /// unknown zone, too few seats, over the per-user limit).
    pub reserves_executed: u64,
    /// Successful reserves and the seats they held (cumulative: a release
    /// or an expiry does not lower them).
    pub bookings: u64,
    pub seats_booked: u64,
    pub confirmations: u64,
    pub releases: u64,
    /// Stored answers replayed, by status.
    pub replays: BTreeMap<u16, u64>,
    /// 409 `REQUEST_IN_PROGRESS` answers.
    pub in_progress: u64,
    /// Every 409 by route label (as `by_route`) and the code of its body
    /// (flat `/code` or nested `/error/code`).
    pub conflicts: BTreeMap<String, BTreeMap<String, u64>>,
    /// 422 `IDEMPOTENCY_KEY_REUSED` answers.
    pub key_reused: u64,
    /// 400 `MISSING_IDEMPOTENCY_KEY` answers.
    pub missing_key: u64,
    /// 429 answers.
    pub rate_limited: u64,
    /// 410 `EXPIRED` answers (confirm or release of a lapsed reservation).
    pub expired: u64,
    /// Every `X-Idempotency-Key` that reached the idempotency middleware.
    pub keys_seen: BTreeSet<String>,
    /// Polls sooner than 1 s after the same user's previous poll.
    pub early_polls: u64,
    /// Per pass issued: join -> pass, on the server's clock.
    pub queue_time: Vec<Duration>,
}

pub struct BookingRush {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl BookingRush {
    /// Binds 127.0.0.1:0 and serves HTTP/1.1 (keep-alive) and h2c (prior
    /// knowledge) on it.
    pub async fn start(cfg: Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shared = Arc::new(Shared::new(cfg));
        let accept = {
            let shared = shared.clone();
            tokio::spawn(async move {
                while let Ok((stream, peer)) = listener.accept().await {
                    let _ = stream.set_nodelay(true);
                    let shared = shared.clone();
                    tokio::spawn(async move {
                        let svc = service_fn(move |req: hyper::Request<Incoming>| {
                            let shared = shared.clone();
                            async move { Ok::<_, Infallible>(shared.handle(peer, req).await) }
                        });
                        let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                            .serve_connection(TokioIo::new(stream), svc)
                            .await;
                    });
                }
            })
        };
        let worker = {
            let shared = shared.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(RELEASE_TICK);
                loop {
                    tick.tick().await;
                    let now = Instant::now();
                    shared.inner().release_passes(&shared.cfg, now);
                }
            })
        };
        Self {
            addr,
            shared,
            tasks: vec![accept, worker],
        }
    }

    /// "http://127.0.0.1:PORT"; paths carry `/api/v1`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn counts(&self) -> Counts {
        self.shared.inner().counts.clone()
    }

    /// Every request received so far, in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.log.lock().unwrap().clone()
    }

    /// A valid access token for `email` (for tests that skip login).
    pub fn token_for(&self, email: &str) -> String {
        self.shared.mint(email, "access", self.shared.cfg.token_ttl)
    }

    /// An access token with another lifetime; `Duration::ZERO` gives one
    /// that is already expired (`TOKEN_EXPIRED`).
    pub fn token_with_ttl(&self, email: &str, ttl: Duration) -> String {
        self.shared.mint(email, "access", ttl)
    }

    /// The live seat count of a zone (not lagged).
    pub fn available_seats(&self, zone: &str) -> Option<u32> {
        let now = Instant::now();
        let mut g = self.shared.inner();
        g.sweep(&self.shared.cfg, now);
        g.zones.get(zone).map(|z| z.available)
    }
}

impl Drop for BookingRush {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

// ---------------------------------------------------------------- state

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Class {
    Default,
    Auth,
    Confirm,
}

#[derive(Clone, Debug)]
enum Route {
    Login,
    Refresh,
    Events,
    ShowZones(String),
    Zone(String),
    Join,
    Position(String),
    Stream(String),
    Reserve,
    Confirm(String),
    Release(String),
    Cancel(String),
}

struct QEntry {
    user: String,
    seq: u64,
    joined: Instant,
}

struct Pass {
    user: String,
    event: String,
    expires: Instant,
    used: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BStatus {
    Reserved,
    Confirmed,
    Cancelled,
    Expired,
}

struct Booking {
    user: String,
    event: String,
    zone: String,
    qty: u32,
    status: BStatus,
}

struct Zone {
    total: u32,
    available: u32,
    /// (since, count), oldest first; only kept when availability lags.
    history: VecDeque<(Instant, u32)>,
}

enum IdemState {
    Processing,
    Done(u16, Bytes),
}

struct Idem {
    fp: String,
    generation: u64,
    until: Instant,
    state: IdemState,
}

#[derive(Default)]
struct Inner {
    counts: Counts,
    buckets: HashMap<(String, Class), (f64, Instant)>,
    idem: HashMap<String, Idem>,
    /// Waiting users in join order; `queued` maps user -> join sequence.
    queue: VecDeque<QEntry>,
    queued: HashMap<String, u64>,
    join_seq: u64,
    passes: HashMap<String, Pass>,
    /// Passes in issue order with their expiry (a constant TTL keeps it
    /// sorted), to retire expired ones from `outstanding`.
    pass_order: VecDeque<(Instant, String)>,
    outstanding: usize,
    user_pass: HashMap<String, String>,
    last_poll: HashMap<String, Instant>,
    streams_by_user: HashMap<String, u32>,
    zones: BTreeMap<String, Zone>,
    bookings: HashMap<String, Booking>,
    held: HashMap<(String, String), u32>,
    /// Reservations in creation order with their expiry (sorted likewise).
    expiries: VecDeque<(Instant, String)>,
    seq: u64,
}

struct Shared {
    cfg: Config,
    t0: Instant,
    unix0: f64,
    jti: AtomicU64,
    inner: Mutex<Inner>,
    log: Mutex<Vec<Seen>>,
}

type RespBody = UnsyncBoxBody<Bytes, Infallible>;

struct Out {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: OutBody,
}

enum OutBody {
    Bytes(Bytes),
    Stream(mpsc::Receiver<Bytes>),
}

/// A response body fed by a channel: the stream ends when the sender drops.
struct ChanBody(mpsc::Receiver<Bytes>);

impl http_body::Body for ChanBody {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

fn raw_json(status: u16, body: Bytes) -> Out {
    Out {
        status,
        headers: vec![("content-type", "application/json; charset=utf-8".into())],
        body: OutBody::Bytes(body),
    }
}

fn to_bytes(v: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(v).expect("json"))
}

fn json_out(status: u16, v: Value) -> Out {
    raw_json(status, to_bytes(&v))
}

/// Key order of the booking service's flat bodies: Go structs encode in
/// field order (`{"error","code","message"}`, `{"booking_id","status",…}`),
/// while the nested and `{"success","data"}` bodies are Go maps (`gin.H`),
/// sorted like serde_json's map.
const FLAT_ORDER: &[&str] = &[
    "error",
    "code",
    "booking_id",
    "status",
    "position",
    "total_in_queue",
    "token",
    "estimated_wait_seconds",
    "is_ready",
    "queue_pass",
    "joined_at",
    "expires_at",
    "total_price",
    "confirmed_at",
    "confirmation_code",
    "message",
];

/// A flat body's bytes: its keys in `FLAT_ORDER`, any others after, sorted.
fn flat_bytes(v: &Value) -> Bytes {
    let Value::Object(m) = v else {
        return to_bytes(v);
    };
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort_by_key(|k| {
        FLAT_ORDER
            .iter()
            .position(|o| o == k)
            .unwrap_or(FLAT_ORDER.len())
    });
    let mut s = String::from("{");
    for (i, k) in keys.into_iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&Value::from(k.as_str()).to_string());
        s.push(':');
        s.push_str(&go_number(&m[k]));
    }
    s.push('}');
    Bytes::from(s)
}

/// A value as Go's encoder writes it: a whole float without `.0`.
fn go_number(v: &Value) -> String {
    match v.as_f64() {
        Some(f) if v.is_f64() && f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        _ => v.to_string(),
    }
}

/// Gateway, auth, JWT, idempotency and rate-limit layers.
fn nested(status: u16, code: &str, message: &str) -> Out {
    json_out(status, nested_v(code, message))
}

fn nested_v(code: &str, message: &str) -> Value {
    json!({"success": false, "error": {"code": code, "message": message}})
}

/// The booking service's own errors.
fn flat(status: u16, code: &str, sentence: &str) -> (u16, Value) {
    (status, json!({"error": sentence, "code": code}))
}

fn obj(body: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

fn str_field<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    m.get(k).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn fnv(seed: u64, parts: &[&[u8]]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325_u64 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for p in parts {
        for b in *p {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The fake HS256 signature: 32 bytes of keyed FNV-1a (not HMAC).
fn fake_sign(input: &str) -> String {
    let mut sig = Vec::with_capacity(32);
    for seed in 0..4 {
        sig.extend_from_slice(&fnv(seed, &[SECRET, input.as_bytes()]).to_be_bytes());
    }
    B64.encode(sig)
}

fn rfc3339(unix: f64) -> String {
    let ms_total = (unix * 1000.0).floor() as i64;
    let (secs, ms) = (ms_total.div_euclid(1000), ms_total.rem_euclid(1000));
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

fn class_of(method: &Method, path: &str) -> Class {
    if method == Method::POST {
        if path.starts_with("/api/v1/auth/") {
            return Class::Auth;
        }
        let segs: Vec<&str> = path.split('/').collect();
        if let ["", "api", "v1", "bookings", id, "confirm"] = segs.as_slice()
            && !id.is_empty()
        {
            return Class::Confirm;
        }
    }
    Class::Default
}

fn route_of(method: &Method, path: &str) -> Option<(Route, &'static str)> {
    let rest = path.strip_prefix("/api/v1/")?;
    let segs: Vec<&str> = rest.split('/').collect();
    if segs.iter().any(|s| s.is_empty()) {
        return None;
    }
    let id = |s: &str| s.to_owned();
    Some(match (method.as_str(), segs.as_slice()) {
        ("POST", ["auth", "login"]) => (Route::Login, "POST /api/v1/auth/login"),
        ("POST", ["auth", "refresh"]) => (Route::Refresh, "POST /api/v1/auth/refresh"),
        ("GET", ["events"]) => (Route::Events, "GET /api/v1/events"),
        ("GET", ["shows", s, "zones"]) => (Route::ShowZones(id(s)), "GET /api/v1/shows/{id}/zones"),
        ("GET", ["zones", z]) => (Route::Zone(id(z)), "GET /api/v1/zones/{id}"),
        ("POST", ["queue", "join"]) => (Route::Join, "POST /api/v1/queue/join"),
        ("GET", ["queue", "position", e]) => {
            (Route::Position(id(e)), "GET /api/v1/queue/position/{id}")
        }
        ("GET", ["queue", "position", e, "stream"]) => (
            Route::Stream(id(e)),
            "GET /api/v1/queue/position/{id}/stream",
        ),
        ("POST", ["bookings", "reserve"]) => (Route::Reserve, "POST /api/v1/bookings/reserve"),
        ("POST", ["bookings", b, "confirm"]) => {
            (Route::Confirm(id(b)), "POST /api/v1/bookings/{id}/confirm")
        }
        ("POST", ["bookings", b, "cancel"]) => {
            (Route::Cancel(id(b)), "POST /api/v1/bookings/{id}/cancel")
        }
        ("DELETE", ["bookings", b]) => (Route::Release(id(b)), "DELETE /api/v1/bookings/{id}"),
        _ => return None,
    })
}

/// Leftmost `X-Forwarded-For` (trusted, as the real gateway does), else the
/// peer address.
fn client_ip(headers: &HeaderMap, peer: SocketAddr) -> String {
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map_or_else(|| peer.ip().to_string(), str::to_owned)
}

impl Inner {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Token bucket per (client IP, class): (allowed, tokens left).
    fn limit(&mut self, ip: String, class: Class, b: Bucket, now: Instant) -> (bool, f64) {
        let burst = f64::from(b.burst);
        let e = self.buckets.entry((ip, class)).or_insert((burst, now));
        let elapsed = now.saturating_duration_since(e.1).as_secs_f64();
        e.0 = (e.0 + elapsed * f64::from(b.per_second)).min(burst);
        e.1 = now;
        if e.0 >= 1.0 {
            e.0 -= 1.0;
            (true, e.0)
        } else {
            (false, e.0)
        }
    }

    fn set_available(&mut self, cfg: &Config, zone: &str, available: u32, now: Instant) {
        if let Some(z) = self.zones.get_mut(zone) {
            z.available = available;
            if !cfg.availability_lag.is_zero() {
                z.history.push_back((now, available));
            }
        }
    }

    /// The count browsing shows: as it was `availability_lag` ago.
    fn lagged(&mut self, cfg: &Config, zone: &str, now: Instant) -> Option<u32> {
        let z = self.zones.get_mut(zone)?;
        if cfg.availability_lag.is_zero() {
            return Some(z.available);
        }
        let Some(at) = now.checked_sub(cfg.availability_lag) else {
            return Some(z.history.front().map_or(z.available, |h| h.1));
        };
        while z.history.len() >= 2 && z.history[1].0 <= at {
            z.history.pop_front();
        }
        Some(z.history.front().map_or(z.available, |h| h.1))
    }

    /// Lapsed reservations give their seats back.
    fn sweep(&mut self, cfg: &Config, now: Instant) {
        while let Some((at, _)) = self.expiries.front() {
            if *at > now {
                break;
            }
            let (_, id) = self.expiries.pop_front().expect("front");
            let Some(b) = self.bookings.get_mut(&id) else {
                continue;
            };
            if b.status != BStatus::Reserved {
                continue;
            }
            b.status = BStatus::Expired;
            let (zone, qty, key) = (b.zone.clone(), b.qty, (b.user.clone(), b.event.clone()));
            self.give_back(cfg, &zone, qty, key, now);
        }
    }

    fn give_back(
        &mut self,
        cfg: &Config,
        zone: &str,
        qty: u32,
        key: (String, String),
        now: Instant,
    ) {
        if let Some(h) = self.held.get_mut(&key) {
            *h = h.saturating_sub(qty);
        }
        let avail = self.zones.get(zone).map_or(0, |z| z.available);
        let total = self.zones.get(zone).map_or(0, |z| z.total);
        self.set_available(cfg, zone, (avail + qty).min(total), now);
    }

    /// The release worker: retire expired passes and stale entries, then
    /// let eligible users out in join order while passes are available.
    fn release_passes(&mut self, cfg: &Config, now: Instant) {
        while let Some((at, _)) = self.pass_order.front() {
            if *at > now {
                break;
            }
            let (_, p) = self.pass_order.pop_front().expect("front");
            if self.passes.get(&p).is_some_and(|p| !p.used) {
                self.outstanding = self.outstanding.saturating_sub(1);
            }
        }
        while let Some(e) = self.queue.front() {
            if e.joined + cfg.queue_entry_ttl > now {
                break;
            }
            let e = self.queue.pop_front().expect("front");
            self.queued.remove(&e.user);
        }
        while self.outstanding < cfg.max_passes {
            let Some(e) = self.queue.front() else { break };
            if e.joined + cfg.queue_wait > now {
                break;
            }
            let e = self.queue.pop_front().expect("front");
            self.queued.remove(&e.user);
            let n = self.next_seq();
            let id = format!(
                "qp_{:016x}{:016x}",
                fnv(n, &[e.user.as_bytes()]),
                fnv(n ^ 0x5a, &[cfg.event_id.as_bytes()])
            );
            let expires = now + cfg.pass_ttl;
            self.passes.insert(
                id.clone(),
                Pass {
                    user: e.user.clone(),
                    event: cfg.event_id.clone(),
                    expires,
                    used: false,
                },
            );
            self.pass_order.push_back((expires, id.clone()));
            self.user_pass.insert(e.user, id);
            self.outstanding += 1;
            self.counts.passes_issued += 1;
            self.counts
                .queue_time
                .push(now.saturating_duration_since(e.joined));
        }
    }

    fn valid_pass(&self, user: &str, now: Instant) -> Option<&str> {
        let id = self.user_pass.get(user)?;
        let p = self.passes.get(id)?;
        (!p.used && p.expires > now).then_some(id.as_str())
    }

    /// The polling JSON (also a stream frame's data); None: neither in the
    /// queue nor holding a valid pass.
    fn position(&self, cfg: &Config, user: &str, event: &str, now: Instant) -> Option<Value> {
        if event != cfg.event_id {
            return None;
        }
        let total = self.queue.len();
        if let Some(pass) = self.valid_pass(user, now) {
            return Some(json!({
                "position": 0,
                "total_in_queue": total,
                "estimated_wait_seconds": 0,
                "is_ready": true,
                "queue_pass": pass,
            }));
        }
        let seq = *self.queued.get(user)?;
        let head = self.queue.front().map_or(seq, |e| e.seq);
        let position = seq - head + 1;
        Some(json!({
            "position": position,
            "total_in_queue": total,
            "estimated_wait_seconds": position * 3,
            "is_ready": false,
        }))
    }
}

impl Shared {
    fn new(cfg: Config) -> Self {
        let unix0 = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let t0 = Instant::now();
        let zones = cfg
            .zones
            .iter()
            .map(|(id, seats)| {
                (
                    id.clone(),
                    Zone {
                        total: *seats,
                        available: *seats,
                        history: VecDeque::from([(t0, *seats)]),
                    },
                )
            })
            .collect();
        Self {
            cfg,
            t0,
            unix0,
            jti: AtomicU64::new(0),
            inner: Mutex::new(Inner {
                zones,
                ..Inner::default()
            }),
            log: Mutex::default(),
        }
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Unix seconds on the server's clock (see the module doc).
    fn unix_at(&self, at: Instant) -> f64 {
        self.unix0 + at.saturating_duration_since(self.t0).as_secs_f64()
    }

    fn unix(&self) -> f64 {
        self.unix_at(Instant::now())
    }

    fn mint(&self, email: &str, typ: &str, ttl: Duration) -> String {
        let now = self.unix();
        let iat = now.floor() as i64;
        let exp = (now + ttl.as_secs_f64()).floor() as i64;
        // Whole seconds would make a 1 s TTL live anywhere in 0..1 s: the
        // double checks this exact expiry (clients ignore unknown claims).
        let exp_ms = ((now + ttl.as_secs_f64()) * 1000.0).floor() as i64;
        let jti = self.jti.fetch_add(1, Ordering::Relaxed) + 1;
        let header = B64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = B64.encode(
            serde_json::to_vec(&json!({
                "sub": email, "email": email, "typ": typ,
                "iat": iat, "exp": exp, "exp_ms": exp_ms, "jti": jti.to_string(),
            }))
            .expect("json"),
        );
        let signed = format!("{header}.{payload}");
        let sig = fake_sign(&signed);
        format!("{signed}.{sig}")
    }

    /// The subject of a valid token of type `typ`, or the gateway's code.
    fn verify(&self, token: &str, typ: &str) -> Result<String, (&'static str, &'static str)> {
        const INVALID: (&str, &str) = ("INVALID_TOKEN", "Invalid or malformed token");
        let parts: Vec<&str> = token.split('.').collect();
        let [h, p, s] = parts.as_slice() else {
            return Err(INVALID);
        };
        if fake_sign(&format!("{h}.{p}")) != *s {
            return Err(INVALID);
        }
        let payload = B64.decode(p).ok().and_then(|b| obj(&b)).ok_or(INVALID)?;
        if payload.get("typ").and_then(Value::as_str) != Some(typ) {
            return Err(INVALID);
        }
        let sub = str_field(&payload, "sub").ok_or(INVALID)?.to_owned();
        let exp = payload.get("exp").and_then(Value::as_f64).ok_or(INVALID)?;
        let exp = payload
            .get("exp_ms")
            .and_then(Value::as_f64)
            .map_or(exp, |ms| ms / 1000.0);
        if self.unix() >= exp {
            return Err(("TOKEN_EXPIRED", "Token has expired"));
        }
        Ok(sub)
    }

    fn authenticate(&self, headers: &HeaderMap) -> Result<String, (&'static str, &'static str)> {
        let Some(v) = headers.get("authorization") else {
            return Err(("MISSING_TOKEN", "Authorization header is required"));
        };
        let v = v.to_str().unwrap_or("").trim();
        if v.is_empty() {
            return Err(("MISSING_TOKEN", "Authorization header is required"));
        }
        match v.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                self.verify(token.trim(), "access")
            }
            _ => Err(("INVALID_TOKEN", "Invalid authorization header format")),
        }
    }

    async fn handle(
        self: Arc<Self>,
        peer: SocketAddr,
        req: hyper::Request<Incoming>,
    ) -> hyper::Response<RespBody> {
        let (parts, body) = req.into_parts();
        let body = body
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        let path_q = parts
            .uri
            .path_and_query()
            .map_or("/".into(), |p| p.to_string());
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Seen {
                at: std::time::Instant::now(),
                method: parts.method.to_string(),
                path: path_q.clone(),
                headers: parts
                    .headers
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.to_string(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect(),
                body: String::from_utf8_lossy(&body).into_owned(),
            });
        self.inner().counts.requests += 1;
        let path = parts.uri.path();
        let routed = route_of(&parts.method, path);
        let label = routed
            .as_ref()
            .map_or_else(|| format!("{} *", parts.method), |r| r.1.to_owned());
        let out = self
            .dispatch(
                peer,
                &parts.method,
                &path_q,
                path,
                &parts.headers,
                body,
                routed.map(|r| r.0),
            )
            .await;
        *self
            .inner()
            .counts
            .by_route
            .entry(label.clone())
            .or_default()
            .entry(out.status)
            .or_default() += 1;
        if out.status == 409
            && let OutBody::Bytes(b) = &out.body
        {
            let v: Value = serde_json::from_slice(b).unwrap_or_default();
            let code = v["code"].as_str().or(v["error"]["code"].as_str());
            *self
                .inner()
                .counts
                .conflicts
                .entry(label)
                .or_default()
                .entry(code.unwrap_or("").to_string())
                .or_default() += 1;
        }
        let mut resp = hyper::Response::builder().status(out.status);
        for (k, v) in out.headers {
            resp = resp.header(k, v);
        }
        let body = match out.body {
            OutBody::Bytes(b) => Full::new(b).boxed_unsync(),
            OutBody::Stream(rx) => ChanBody(rx).boxed_unsync(),
        };
        resp.body(body).expect("response")
    }

    #[allow(clippy::too_many_arguments)]
    async fn dispatch(
        self: &Arc<Self>,
        peer: SocketAddr,
        method: &Method,
        path_q: &str,
        path: &str,
        headers: &HeaderMap,
        body: Bytes,
        route: Option<Route>,
    ) -> Out {
        let mut rl = Vec::new();
        if self.cfg.rate_limit {
            let class = class_of(method, path);
            let b = match class {
                Class::Default => self.cfg.limits.default,
                Class::Auth => self.cfg.limits.auth,
                Class::Confirm => self.cfg.limits.confirm,
            };
            if b.per_second > 0 {
                let ip = client_ip(headers, peer);
                let (ok, tokens) = self.inner().limit(ip, class, b, Instant::now());
                rl = vec![
                    ("x-ratelimit-limit", b.per_second.to_string()),
                    (
                        "x-ratelimit-remaining",
                        (tokens.max(0.0) as u64).to_string(),
                    ),
                    ("x-ratelimit-reset", (self.unix() as u64 + 1).to_string()),
                    ("x-ratelimit-burst", b.burst.to_string()),
                ];
                if !ok {
                    let retry = (((1.0 - tokens) / f64::from(b.per_second)) as u64).max(1);
                    self.inner().counts.rate_limited += 1;
                    let mut out = nested(
                        429,
                        "TOO_MANY_REQUESTS",
                        &format!("Rate limit exceeded. Please retry after {retry} second(s)."),
                    );
                    out.headers.extend(rl);
                    out.headers.push(("retry-after", retry.to_string()));
                    return out;
                }
            }
        }
        let mut out = self.route(method, path_q, headers, body, route).await;
        out.headers.extend(rl);
        out
    }

    async fn route(
        self: &Arc<Self>,
        method: &Method,
        path_q: &str,
        headers: &HeaderMap,
        body: Bytes,
        route: Option<Route>,
    ) -> Out {
        let Some(route) = route else {
            return nested(404, "NOT_FOUND", "The requested resource was not found");
        };
        let public = matches!(route, Route::Login | Route::Refresh)
            || (self.cfg.browse_public
                && matches!(route, Route::Events | Route::ShowZones(_) | Route::Zone(_)));
        let user = if public {
            String::new()
        } else {
            match self.authenticate(headers) {
                Ok(u) => u,
                Err((code, msg)) => return nested(401, code, msg),
            }
        };
        match route {
            Route::Login => self.login(&body),
            Route::Refresh => self.refresh(&body),
            Route::Events => self.events(),
            Route::ShowZones(show) => self.show_zones(&show),
            Route::Zone(zone) => self.zone(&zone),
            Route::Position(event) => {
                let (status, v) = self.poll(&user, &event);
                raw_json(status, flat_bytes(&v))
            }
            Route::Stream(event) => self.stream(user, event, headers),
            r @ (Route::Join
            | Route::Reserve
            | Route::Confirm(_)
            | Route::Release(_)
            | Route::Cancel(_)) => {
                self.idempotent(r, method, path_q, user, headers, body)
                    .await
            }
        }
    }

    // ------------------------------------------------------------ auth

    fn token_pair(&self, email: &str) -> Out {
        json_out(
            200,
            json!({"success": true, "data": {
                "access_token": self.mint(email, "access", self.cfg.token_ttl),
                "refresh_token": self.mint(email, "refresh", REFRESH_TTL),
                "token_type": "Bearer",
                "expires_in": self.cfg.token_ttl.as_secs(),
            }}),
        )
    }

    fn login(&self, body: &[u8]) -> Out {
        let Some(m) = obj(body) else {
            return nested(400, "INVALID_REQUEST", "Invalid request body");
        };
        let (Some(email), Some(password)) = (str_field(&m, "email"), str_field(&m, "password"))
        else {
            return nested(400, "INVALID_REQUEST", "email and password are required");
        };
        if password != self.cfg.password {
            return nested(401, "INVALID_CREDENTIALS", "Invalid email or password");
        }
        self.inner().counts.logins += 1;
        self.token_pair(email)
    }

    fn refresh(&self, body: &[u8]) -> Out {
        let Some(token) = obj(body).and_then(|m| str_field(&m, "refresh_token").map(str::to_owned))
        else {
            return nested(400, "INVALID_REQUEST", "refresh_token is required");
        };
        match self.verify(&token, "refresh") {
            Ok(email) => {
                self.inner().counts.refreshes += 1;
                self.token_pair(&email)
            }
            Err((code, msg)) => nested(401, code, msg),
        }
    }

    // ---------------------------------------------------------- browse

    fn zone_json(&self, g: &mut Inner, zone: &str, now: Instant) -> Option<Value> {
        let available = g.lagged(&self.cfg, zone, now)?;
        let total = g.zones.get(zone)?.total;
        Some(json!({
            "id": zone, "show_id": self.cfg.show_id, "name": format!("Zone {zone}"),
            "total_seats": total, "available_seats": available, "price": self.cfg.unit_price,
        }))
    }

    fn events(&self) -> Out {
        json_out(
            200,
            json!({"success": true, "data": [{
                "id": self.cfg.event_id, "name": "Booking Rush double", "show_id": self.cfg.show_id,
            }]}),
        )
    }

    fn show_zones(&self, show: &str) -> Out {
        if show != self.cfg.show_id {
            return nested(404, "NOT_FOUND", "Show not found");
        }
        let now = Instant::now();
        let mut g = self.inner();
        g.sweep(&self.cfg, now);
        let ids: Vec<String> = g.zones.keys().cloned().collect();
        let data: Vec<Value> = ids
            .iter()
            .filter_map(|z| self.zone_json(&mut g, z, now))
            .collect();
        json_out(200, json!({"success": true, "data": data}))
    }

    fn zone(&self, zone: &str) -> Out {
        let now = Instant::now();
        let mut g = self.inner();
        g.sweep(&self.cfg, now);
        match self.zone_json(&mut g, zone, now) {
            Some(data) => json_out(200, json!({"success": true, "data": data})),
            None => nested(404, "NOT_FOUND", "Zone not found"),
        }
    }

    // ----------------------------------------------------------- queue

    fn poll(&self, user: &str, event: &str) -> (u16, Value) {
        let now = Instant::now();
        let mut g = self.inner();
        g.counts.polls += 1;
        *g.counts.polls_by_user.entry(user.to_owned()).or_default() += 1;
        if let Some(prev) = g.last_poll.insert(user.to_owned(), now)
            && now.saturating_duration_since(prev) < POLL_GAP
        {
            g.counts.early_polls += 1;
        }
        g.release_passes(&self.cfg, now);
        match g.position(&self.cfg, user, event, now) {
            Some(v) => (200, v),
            None => flat(404, "NOT_IN_QUEUE", "user is not in queue"),
        }
    }

    fn join(&self, user: &str, body: &[u8]) -> (u16, Value) {
        let Some(event) = obj(body).and_then(|m| str_field(&m, "event_id").map(str::to_owned))
        else {
            return flat(400, "INVALID_REQUEST", "invalid request");
        };
        if event != self.cfg.event_id {
            return flat(409, "QUEUE_NOT_OPEN", "queue is not open for this event");
        }
        let now = Instant::now();
        let mut g = self.inner();
        g.release_passes(&self.cfg, now);
        if g.queued.contains_key(user) {
            return flat(409, "ALREADY_IN_QUEUE", "user is already in queue");
        }
        g.join_seq += 1;
        let seq = g.join_seq;
        g.queue.push_back(QEntry {
            user: user.to_owned(),
            seq,
            joined: now,
        });
        g.queued.insert(user.to_owned(), seq);
        g.counts.joins += 1;
        let position = g.queue.len();
        let token = format!("qt_{:016x}", fnv(seq, &[user.as_bytes()]));
        drop(g);
        let joined = self.unix_at(now);
        (
            201,
            json!({
                "position": position,
                "token": token,
                "estimated_wait_seconds": position * 3,
                "joined_at": rfc3339(joined),
                "expires_at": rfc3339(joined + self.cfg.queue_entry_ttl.as_secs_f64()),
            }),
        )
    }

    fn stream(self: &Arc<Self>, user: String, event: String, headers: &HeaderMap) -> Out {
        let last = headers.get("last-event-id");
        let start_id = last
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(1, |n| n + 1);
        let cut = {
            let mut g = self.inner();
            g.counts.streams_opened += 1;
            if last.is_some() {
                g.counts.last_event_ids_received += 1;
            }
            let n = g.streams_by_user.entry(user.clone()).or_default();
            *n += 1;
            *n <= self.cfg.sse_cut_first
        };
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(self.clone().sse(user, event, start_id, cut, tx));
        Out {
            status: 200,
            headers: vec![
                ("content-type", "text/event-stream".into()),
                ("cache-control", "no-cache".into()),
            ],
            body: OutBody::Stream(rx),
        }
    }

    async fn sse(
        self: Arc<Self>,
        user: String,
        event: String,
        mut id: u64,
        cut: bool,
        tx: mpsc::Sender<Bytes>,
    ) {
        let cfg = &self.cfg;
        let deadline = Instant::now() + cfg.sse_timeout;
        let mut retry = cfg.sse_retry_ms.map(|ms| format!("retry: {ms}\n"));
        loop {
            let now = Instant::now();
            let state = {
                let mut g = self.inner();
                g.release_passes(cfg, now);
                g.position(cfg, &user, &event, now)
            };
            let prefix = retry.take().unwrap_or_default();
            let Some(v) = state else {
                let frame =
                    format!("{prefix}event: error\ndata: {{\"event\":\"not_in_queue\"}}\n\n");
                let _ = tx.send(Bytes::from(frame)).await;
                return;
            };
            let ready = v["is_ready"] == true;
            let frame = format!(
                "{prefix}id: {id}\nevent: position\ndata: {}\n\n",
                String::from_utf8_lossy(&flat_bytes(&v))
            );
            if tx.send(Bytes::from(frame)).await.is_err() {
                return;
            }
            self.inner().counts.stream_frames += 1;
            id += 1;
            if ready || cut {
                return;
            }
            let next = Instant::now() + cfg.sse_interval;
            let mut last_write = Instant::now();
            loop {
                let keepalive = last_write + cfg.sse_keepalive;
                tokio::time::sleep_until(next.min(keepalive).min(deadline)).await;
                let now = Instant::now();
                if now >= deadline {
                    let _ = tx
                        .send(Bytes::from_static(
                            b"event: error\ndata: {\"event\":\"timeout\"}\n\n",
                        ))
                        .await;
                    return;
                }
                if now >= next {
                    break;
                }
                if now >= keepalive {
                    if tx
                        .send(Bytes::from_static(b": keep-alive\n\n"))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    last_write = now;
                }
            }
        }
    }

    // ---------------------------------------------------- idempotency

    async fn idempotent(
        self: &Arc<Self>,
        route: Route,
        method: &Method,
        path_q: &str,
        user: String,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Out {
        let key = headers
            .get("x-idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_owned);
        let Some(key) = key else {
            self.inner().counts.missing_key += 1;
            return nested(
                400,
                "MISSING_IDEMPOTENCY_KEY",
                "X-Idempotency-Key header is required",
            );
        };
        let fp = format!(
            "{method} {path_q} {user}\n{}",
            String::from_utf8_lossy(&body)
        );
        let generation = {
            let now = Instant::now();
            let mut g = self.inner();
            g.counts.keys_seen.insert(key.clone());
            enum Found {
                Other,
                Running,
                Stored(u16, Bytes),
            }
            let found = g.idem.get(&key).filter(|e| e.until > now).map(|e| {
                if e.fp != fp {
                    Found::Other
                } else {
                    match &e.state {
                        IdemState::Processing => Found::Running,
                        IdemState::Done(s, b) => Found::Stored(*s, b.clone()),
                    }
                }
            });
            match found {
                Some(Found::Other) => {
                    g.counts.key_reused += 1;
                    return nested(
                        422,
                        "IDEMPOTENCY_KEY_REUSED",
                        "Idempotency key was already used with a different request",
                    );
                }
                Some(Found::Running) => {
                    g.counts.in_progress += 1;
                    return nested(
                        409,
                        "REQUEST_IN_PROGRESS",
                        "A request with this idempotency key is still being processed",
                    );
                }
                Some(Found::Stored(status, bytes)) => {
                    *g.counts.replays.entry(status).or_default() += 1;
                    return raw_json(status, bytes);
                }
                None => {}
            }
            let generation = g.next_seq();
            g.idem.insert(
                key.clone(),
                Idem {
                    fp,
                    generation,
                    until: now + self.cfg.idem_processing,
                    state: IdemState::Processing,
                },
            );
            generation
        };
        // The handler runs on its own task: a client that gives up does not
        // stop the booking, and the answer is stored for the key.
        let me = self.clone();
        let task = tokio::spawn(async move {
            let (status, v) = me.execute(route, &user, &body).await;
            let bytes = flat_bytes(&v);
            let mut g = me.inner();
            if let Some(e) = g.idem.get_mut(&key)
                && e.generation == generation
            {
                e.state = IdemState::Done(status, bytes.clone());
                e.until = Instant::now() + me.cfg.idem_replay;
            }
            (status, bytes)
        });
        match task.await {
            Ok((status, bytes)) => raw_json(status, bytes),
            Err(_) => {
                let (s, v) = flat(500, "INTERNAL_ERROR", "internal server error");
                raw_json(s, flat_bytes(&v))
            }
        }
    }

    async fn execute(&self, route: Route, user: &str, body: &[u8]) -> (u16, Value) {
        match route {
            Route::Join => self.join(user, body),
            Route::Reserve => self.reserve(user, body).await,
            Route::Confirm(id) => self.confirm(user, &id, body),
            Route::Release(id) | Route::Cancel(id) => self.release(user, &id),
            _ => flat(500, "INTERNAL_ERROR", "internal server error"),
        }
    }

    // -------------------------------------------------------- booking

    async fn reserve(&self, user: &str, body: &[u8]) -> (u16, Value) {
        let Some(m) = obj(body) else {
            return flat(400, "INVALID_REQUEST", "invalid request body");
        };
        let (Some(event), Some(zone)) = (str_field(&m, "event_id"), str_field(&m, "zone_id"))
        else {
            return flat(400, "INVALID_REQUEST", "event_id and zone_id are required");
        };
        let Some(qty) = m.get("quantity").and_then(Value::as_i64) else {
            return flat(400, "INVALID_REQUEST", "quantity is required");
        };
        if str_field(&m, "show_id").is_none() {
            return flat(400, "INVALID_SHOW_ID", "show_id is required");
        }
        if !(1..=10).contains(&qty) {
            return flat(400, "INVALID_REQUEST", "quantity must be between 1 and 10");
        }
        let qty = qty as u32;
        let price = m
            .get("unit_price")
            .and_then(Value::as_f64)
            .unwrap_or(self.cfg.unit_price);
        let pass = m
            .get("queue_pass")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let (event, zone) = (event.to_owned(), zone.to_owned());
        if !self.cfg.reserve_delay.is_zero() {
            tokio::time::sleep(self.cfg.reserve_delay).await;
        }
        let cfg = &self.cfg;
        let now = Instant::now();
        let mut g = self.inner();
        g.sweep(cfg, now);
        g.release_passes(cfg, now);
        if cfg.enforce_pass {
            if pass.is_empty() {
                return flat(403, "QUEUE_PASS_REQUIRED", "queue pass is required");
            }
            let Some(p) = g.passes.get(&pass).filter(|p| !p.used) else {
                return flat(403, "INVALID_QUEUE_PASS", "invalid queue pass");
            };
            if p.expires <= now {
                return flat(403, "QUEUE_PASS_EXPIRED", "queue pass has expired");
            }
            if p.user != user || p.event != event {
                return flat(
                    403,
                    "QUEUE_PASS_MISMATCH",
                    "queue pass does not belong to this user or event",
                );
            }
        }
        g.counts.reserves_executed += 1;
        if g.counts.reserves_executed <= u64::from(cfg.fail_first_reserves) {
            return flat(500, "INTERNAL_ERROR", "internal server error");
        }
        let Some(available) = g.zones.get(&zone).map(|z| z.available) else {
            return flat(404, "ZONE_NOT_FOUND", "zone not found");
        };
        let key = (user.to_owned(), event.clone());
        let held = g.held.get(&key).copied().unwrap_or(0);
        if held + qty > cfg.max_per_user {
            return flat(
                409,
                "MAX_TICKETS_EXCEEDED",
                "Maximum tickets per user exceeded",
            );
        }
        if available < qty {
            return (
                409,
                json!({"error": "Not enough seats available", "code": "INSUFFICIENT_SEATS"}),
            );
        }
        g.set_available(cfg, &zone, available - qty, now);
        *g.held.entry(key).or_default() += qty;
        if cfg.enforce_pass {
            if let Some(p) = g.passes.get_mut(&pass) {
                p.used = true;
            }
            g.outstanding = g.outstanding.saturating_sub(1);
            g.counts.passes_used += 1;
        }
        let n = g.next_seq();
        let a = fnv(n, &[user.as_bytes()]);
        let b = fnv(
            n ^ 0xb0,
            &[zone.as_bytes(), &self.unix0.to_bits().to_be_bytes()],
        );
        let id = format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        );
        let expires = now + cfg.reservation_ttl;
        g.bookings.insert(
            id.clone(),
            Booking {
                user: user.to_owned(),
                event,
                zone,
                qty,
                status: BStatus::Reserved,
            },
        );
        g.expiries.push_back((expires, id.clone()));
        g.counts.bookings += 1;
        g.counts.seats_booked += u64::from(qty);
        drop(g);
        (
            201,
            json!({
                "booking_id": id,
                "status": "reserved",
                "expires_at": rfc3339(self.unix_at(expires)),
                "total_price": f64::from(qty) * price,
            }),
        )
    }

    /// The booking of `user`, after the common checks; Err: the answer.
    fn owned<'a>(
        &self,
        g: &'a mut Inner,
        user: &str,
        id: &str,
    ) -> Result<&'a mut Booking, (u16, Value)> {
        let b = g
            .bookings
            .get_mut(id)
            .ok_or_else(|| flat(404, "NOT_FOUND", "booking not found"))?;
        if b.user != user {
            return Err(flat(403, "FORBIDDEN", "booking belongs to another user"));
        }
        Ok(b)
    }

    /// The user's booking `id` while it is still reserved; otherwise the
    /// answer its state gets (an expired one counted).
    fn reserved<'a>(
        &self,
        g: &'a mut Inner,
        user: &str,
        id: &str,
    ) -> Result<&'a mut Booking, (u16, Value)> {
        match self.owned(g, user, id)?.status {
            BStatus::Confirmed => Err(flat(
                409,
                "ALREADY_CONFIRMED",
                "booking is already confirmed",
            )),
            BStatus::Cancelled => Err(flat(
                409,
                "ALREADY_RELEASED",
                "booking was already released",
            )),
            BStatus::Expired => {
                g.counts.expired += 1;
                Err(flat(410, "EXPIRED", "reservation has expired"))
            }
            BStatus::Reserved => self.owned(g, user, id),
        }
    }

    fn confirm(&self, user: &str, id: &str, body: &[u8]) -> (u16, Value) {
        if !body.iter().all(u8::is_ascii_whitespace) && obj(body).is_none() {
            return flat(400, "INVALID_REQUEST", "invalid request body");
        }
        let now = Instant::now();
        let mut g = self.inner();
        g.sweep(&self.cfg, now);
        let b = match self.reserved(&mut g, user, id) {
            Ok(b) => b,
            Err(e) => return e,
        };
        b.status = BStatus::Confirmed;
        g.counts.confirmations += 1;
        let n = g.next_seq();
        drop(g);
        (
            200,
            json!({
                "booking_id": id,
                "status": "confirmed",
                "confirmed_at": rfc3339(self.unix_at(now)),
                "confirmation_code": format!("BR-{:08X}", fnv(n, &[id.as_bytes()]) as u32),
            }),
        )
    }

    fn release(&self, user: &str, id: &str) -> (u16, Value) {
        let now = Instant::now();
        let mut g = self.inner();
        g.sweep(&self.cfg, now);
        let b = match self.reserved(&mut g, user, id) {
            Ok(b) => b,
            Err(e) => return e,
        };
        b.status = BStatus::Cancelled;
        let (zone, qty, key) = (b.zone.clone(), b.qty, (b.user.clone(), b.event.clone()));
        g.give_back(&self.cfg, &zone, qty, key, now);
        g.counts.releases += 1;
        (
            200,
            json!({
                "booking_id": id,
                "status": "cancelled",
                "message": "Booking cancelled, seats released",
            }),
        )
    }
}
