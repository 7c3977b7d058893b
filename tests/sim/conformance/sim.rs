//! The suite against the embedded simulator's Booking Rush profile
//! (`[sim] api = "booking-rush"`), ground truth from its ledger; then the
//! rows only the simulator runs, each saying why.

use super::client::{Http, bearer, parse_sse, text};
use super::spec::*;
use super::target::{Counts, Knobs, Target, Waits, until};
use super::{auth, booking, idempotency, limits, queue};
use crate::common::{self, TempDir};
use http::Method;
use stampede::sim::{
    EventConfig, FaultWindow, Ledger, QueueLedger, RushBucket, SimConfig, SimServer, ZoneConfig,
};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

/// The simulator's faults are timed windows: every booking call in its
/// first 300 ms fails.
const FAULT: Duration = Duration::from_millis(300);

pub struct Sim {
    pub server: SimServer,
    started: Instant,
}

/// The knobs as a simulator config: one event `EVT1` (show `SHOW-EVT1`),
/// zone `Z1`, no contention and a release worker every 20 ms.
fn config(k: &Knobs) -> SimConfig {
    let mut cfg = SimConfig::booking_rush();
    cfg.events = vec![EventConfig {
        id: "EVT1".into(),
        zones: vec![ZoneConfig {
            id: "Z1".into(),
            seats: k.seats,
        }],
    }];
    cfg.capacity.service_time = k.reserve_time;
    cfg.capacity.latency_per_in_flight = Duration::ZERO;
    cfg.capacity.workers = 64;
    cfg.connections.idle_timeout = stampede::sim::MAX_CONNECTION_TIMEOUT;
    cfg.max_tickets_per_user = k.max_per_user;
    cfg.reservation_ttl = k.reservation_ttl;
    cfg.public_availability = k.browse_public;
    let br = &mut cfg.booking_rush;
    br.token_ttl = k.token_ttl;
    br.min_queue_time = k.queue_wait;
    br.pass_ttl = k.pass_ttl;
    br.enforce_pass = k.enforce_pass;
    br.release_interval = Duration::from_millis(20);
    br.availability_refresh = k.browse_lag;
    br.sse_interval = k.sse_interval;
    br.sse_timeout = k.sse_timeout;
    br.sse_keepalive = k.sse_keepalive;
    br.sse_retry = k.sse_retry;
    br.rate_limit.enabled = k.limits.is_some();
    if let Some(l) = k.limits {
        let bucket = |b: common::booking_rush::Bucket| RushBucket {
            per_second: b.per_second,
            burst: b.burst,
        };
        br.rate_limit.auth = bucket(l.auth);
        br.rate_limit.confirm = bucket(l.confirm);
    }
    if k.fault {
        cfg.faults.windows = vec![FaultWindow {
            from: Duration::ZERO,
            to: FAULT,
            error_rate: 1.0,
            ..Default::default()
        }];
    }
    cfg
}

impl Sim {
    async fn with(cfg: SimConfig) -> Self {
        let server = common::start(cfg).await;
        Self {
            server,
            started: Instant::now(),
        }
    }

    pub(super) fn ledger(&self) -> Ledger {
        self.server.ledger()
    }

    /// The ledger once `pred` holds of it (deadline 10 s).
    async fn wait_ledger(&self, what: &str, pred: impl Fn(&Ledger) -> bool) -> Ledger {
        until(what, || self.ledger(), pred).await
    }
}

fn queue_of(l: &Ledger) -> QueueLedger {
    l.queue
        .clone()
        .expect("the Booking Rush ledger has a queue")
}

/// A count the Booking Rush profile keeps (absent in the other profile).
fn rush<T>(v: &Option<T>, what: &str) -> T
where
    T: Clone,
{
    v.clone()
        .unwrap_or_else(|| panic!("the Booking Rush ledger counts {what}"))
}

impl Target for Sim {
    async fn start(knobs: Knobs) -> Self {
        Self::with(config(&knobs)).await
    }

    fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    fn mark(&self) -> Option<&'static str> {
        Some("1")
    }

    fn counts(&self) -> Counts {
        let l = self.ledger();
        let q = queue_of(&l);
        let t = q.time_in_queue_ms;
        Counts {
            requests: l.requests.clone(),
            logins: rush(&l.logins, "logins"),
            refreshes: rush(&l.refreshes, "refreshes"),
            joins: q.joins,
            polls: q.polls,
            streams: q.streams,
            passes_issued: q.passes_issued,
            passes_used: q.passes_used,
            waits: Waits {
                count: t.count,
                sum: t.sum,
                p50: t.p50,
            },
            bookings: l.bookings_created,
            confirmations: l.bookings_confirmed,
            releases: l.bookings_released,
            available: l.zones["EVT1/Z1"].available,
            replays: rush(&l.replays_by_status, "replays"),
            replayed: l.idempotent_replays,
            in_progress: rush(&l.request_in_progress, "requests in progress"),
            key_reused: rush(&l.idempotency_key_reused, "reused keys"),
        }
    }

    async fn until_processing(&self, _key: &str) {
        // The key is claimed before its work is admitted, and the only
        // booking work of the row is the reserve under it.
        common::eventually(
            "the reserve under the key at work",
            Duration::from_secs(10),
            || self.server.work_in_flight() > 0,
        )
        .await;
    }

    async fn fault_over(&self) {
        tokio::time::sleep_until(self.started + FAULT).await;
    }
}

// ------------------------------------------------------- the suite's rows

rows!(Sim =>
    auth::an_expired_token_is_token_expired,
    auth::browsing_needs_no_token_when_public,
    queue::queue_join_poll_and_pass_after_the_wait,
    queue::sse_frames_until_the_one_with_the_pass,
    queue::sse_reconnect_keepalive_and_timeout,
    booking::the_per_user_limit,
    idempotency::same_key_replays_byte_for_byte_500s_included,
    booking::confirm_and_release,
    limits::rate_limit_per_forwarded_ip_and_class,
);

#[tokio::test]
async fn gateway_auth_and_browse_follow_the_spec() {
    let s = auth::gateway_auth_and_browse_follow_the_spec::<Sim>().await;
    // The simulator's own route: the ledger, unenveloped, at /__sim/ledger.
    let r = Http::new(&s)
        .send(Method::GET, "/__sim/ledger", &[], "")
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["logins"], 1);
}

#[tokio::test]
async fn reserve_rows_and_the_one_shot_pass() {
    let (s, r) = booking::reserve_rows_and_the_one_shot_pass::<Sim>().await;
    // The simulator's 403 says what to do; its ledger keeps oversold seats
    // and stranded passes.
    let message = "Please join the queue and wait for your turn to book";
    assert_eq!(r[6].json()["message"], message);
    let l = s.ledger();
    assert_eq!(l.oversold, 0);
    assert_eq!(queue_of(&l).passes_stranded, 0);
}

#[tokio::test]
async fn an_expired_pass_is_refused_and_gone_from_polling() {
    let s = booking::an_expired_pass_is_refused_and_gone_from_polling::<Sim>().await;
    s.wait_ledger("the pass stranded", |l| queue_of(l).passes_stranded == 1)
        .await;
}

#[tokio::test]
async fn in_progress_while_running_and_the_booking_outlives_a_client_timeout() {
    let s =
        idempotency::in_progress_while_running_and_the_booking_outlives_a_client_timeout::<Sim>()
            .await;
    // The simulator counts the work finished for a client that had left,
    // and that client's request as 499.
    let l = s.wait_ledger("wasted work", |l| l.wasted_work == 1).await;
    assert_eq!(
        l.requests["reserve"].get(&499),
        Some(&1),
        "the client that left"
    );
}

#[tokio::test]
async fn confirm_after_the_reservation_ttl_is_410_expired_and_browse_lags() {
    let s =
        booking::confirm_after_the_reservation_ttl_is_410_expired_and_browse_lags::<Sim>().await;
    // The simulator counts reservations that lapsed: both.
    assert_eq!(s.ledger().bookings_expired, 2);
}

// ------------------------------------------------ rows only the simulator runs

/// A passless simulator changed by `tweak`.
pub(super) async fn tweaked(tweak: impl FnOnce(&mut SimConfig)) -> (Sim, Http, String) {
    let mut cfg = config(&Knobs::passless());
    tweak(&mut cfg);
    let s = Sim::with(cfg).await;
    let http = Http::new(&s);
    let a = login(&http, "a@x.io").await;
    (s, http, a)
}

/// The double has no gateway timeout.
#[tokio::test]
async fn a_slow_answer_is_504_from_the_gateway_and_the_work_goes_on() {
    let (s, http, a) = tweaked(|cfg| {
        cfg.booking_rush.gateway_timeout = Duration::from_millis(200);
        cfg.capacity.service_time = Duration::from_millis(500);
    })
    .await;
    let row = |status, shape| {
        Row::post("reserve", RESERVE, status, shape)
            .auth(&a)
            .key("K")
            .body(reserve_body("Z1", 1, None))
    };
    let t0 = Instant::now();
    run(&http, &row(504, Shape::Nested("GATEWAY_TIMEOUT"))).await;
    assert!(
        t0.elapsed() < Duration::from_millis(450),
        "{:?}",
        t0.elapsed()
    );
    let l = s
        .wait_ledger("the booking behind the 504", |l| l.wasted_work == 1)
        .await;
    assert_eq!((l.gateway_timeouts, l.bookings_created), (Some(1), 1));
    // The answer the gateway gave up on is stored for the key.
    run(&http, &row(201, Shape::Fields(RESERVED_FIELDS))).await;
    assert_eq!(s.ledger().bookings_created, 1);
}

/// The double has no worker pool to overload.
#[tokio::test]
async fn no_503_on_the_booking_path_under_overload() {
    // One worker, no queue: the guidelines profile would answer 503.
    let (s, http, _) = tweaked(|cfg| {
        cfg.capacity.workers = 1;
        cfg.capacity.queue = 0;
        cfg.capacity.service_time = Duration::from_millis(20);
    })
    .await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let http = http.clone();
        let token = login(&http, &format!("u{i}@x.io")).await;
        tasks.push(tokio::spawn(async move {
            let (auth, key) = (bearer(&token), format!("k{i}"));
            let h = [
                ("authorization", auth.as_str()),
                ("x-idempotency-key", &key),
            ];
            let body = reserve_body("Z1", 1, None);
            http.send(Method::POST, RESERVE, &h, &body).await.status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("join"), 201, "work waits for the worker");
    }
    assert_eq!(s.ledger().bookings_created, 12);
}

/// The double has no connection faults.
#[tokio::test]
async fn a_reset_after_commit_still_commits_the_booking() {
    let (s, http, a) = tweaked(|cfg| cfg.faults.reset_after_commit = 1.0).await;
    let auth = bearer(&a);
    let h = [("authorization", auth.as_str()), ("x-idempotency-key", "K")];
    let lost = http
        .try_send(Method::POST, RESERVE, &h, &reserve_body("Z1", 1, None))
        .await;
    assert!(lost.is_err(), "the connection was reset");
    // The booking was made before the answer was lost.
    let l = s
        .wait_ledger("the booking behind the reset", |l| l.bookings_created == 1)
        .await;
    assert_eq!(l.connection_resets, 1);
    assert_eq!(l.requests["reserve"].get(&0), Some(&1));
}

/// Only the simulator's ledger keeps attempts per operation.
#[tokio::test]
async fn early_retries_are_counted_per_operation() {
    let mut cfg = config(&Knobs::quiet());
    cfg.booking_rush.rate_limit.enabled = true;
    cfg.booking_rush.rate_limit.auth = RushBucket {
        per_second: 1,
        burst: 1,
    };
    let s = Sim::with(cfg).await;
    let http = Http::new(&s);
    let h = [("x-stampede-op", "op-1")];
    let attempt = || http.send(Method::POST, LOGIN, &h, GOOD_LOGIN);
    assert_eq!(attempt().await.status, 200);
    assert_eq!(attempt().await.status, 429);
    // Sooner than the Retry-After it was given: early.
    assert_eq!(attempt().await.status, 429);
    let l = s.ledger();
    assert_eq!(l.early_retries, 1);
    assert_eq!(l.attempts_per_op, BTreeMap::from([(3, 1)]));
}

/// The double is configured in code only.
#[tokio::test]
async fn the_profile_is_read_from_a_serve_config_file() {
    let dir = TempDir::new("rush-serve-cfg");
    let path = dir.path().join("sim.toml");
    let src = "api = \"booking-rush\"\n[booking_rush]\nmax_passes = 3\npassword = \"pw\"\n";
    std::fs::write(&path, src).expect("write");
    let cfg = SimConfig::from_toml_file(&path).expect("valid");
    assert_eq!(cfg.api, stampede::sim::SimApi::BookingRush);
    assert_eq!(cfg.booking_rush.max_passes, 3);
    let s = Sim::with(cfg).await;
    let body = r#"{"email":"z@x.io","password":"pw"}"#;
    let r = Http::new(&s).send(Method::POST, LOGIN, &[], body).await;
    assert_eq!(r.status, 200, "{}", text(&r));
}

/// The double closes no idle connections.
#[tokio::test]
async fn an_open_stream_is_not_an_idle_connection() {
    let mut cfg = config(&Knobs {
        queue_wait: Duration::from_secs(1),
        sse_interval: Duration::from_millis(500),
        ..Knobs::quiet()
    });
    cfg.connections.idle_timeout = Duration::from_millis(300);
    let s = Sim::with(cfg).await;
    let http = Http::new(&s);
    let a = queued(&http, "a@x.io").await;
    // 500 ms between frames, longer than the idle timeout: the connection
    // stays open for the stream until the frame with the pass.
    let (frames, _) = parse_sse(&text(&stream(&http, &a, None).await));
    assert!(frames.len() >= 3, "{frames:?}");
    let last = frames.last().expect("frame").json();
    assert!(last["queue_pass"].is_string(), "{frames:?}");
}
