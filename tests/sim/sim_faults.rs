//! Overload, rate limiting and fault injection, end to end on loopback.

use crate::common;

use common::{Api, quiet_config, start, wait_ledger};
use stampede::sim::FaultWindow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn op_headers<'a>(user: &'a str, op: &'a str, key: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("authorization", user),
        ("x-stampede-op", op),
        ("idempotency-key", key),
    ]
}

const BODY: &str = r#"{"eventId":"E1","zoneId":"A","quantity":1}"#;

#[tokio::test]
async fn rate_limit_429_headers_and_early_retries() {
    let mut cfg = quiet_config();
    cfg.rate_limit.per_user_per_second = 1;
    cfg.rate_limit.per_user_burst = 1;
    let server = start(cfg).await;
    let api = Api::new(&server);
    let h = op_headers("Bearer jo", "op-1", "key-1");
    let mut limited = None;
    for _ in 0..5 {
        let r = api.post("/bookings/reserve", &h, BODY).await;
        if r.status == 429 {
            limited = Some(r);
            break;
        }
        assert_eq!(r.status, 201);
    }
    let r = limited.expect("a 429 within 5 immediate attempts at 1 req/s");
    assert_eq!(r.code(), "TOO_MANY_REQUESTS");
    let retry_after: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("secs");
    assert!(retry_after >= 1);
    assert_eq!(r.header("x-ratelimit-limit").as_deref(), Some("1"));
    assert_eq!(r.header("x-ratelimit-remaining").as_deref(), Some("0"));
    let reset: u64 = r
        .header("x-ratelimit-reset")
        .expect("reset")
        .parse()
        .expect("unix");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    assert!(reset >= now && reset <= now + 60, "reset {reset} now {now}");

    // Coming straight back ignores the Retry-After.
    let _ = api.post("/bookings/reserve", &h, BODY).await;
    let l = server.ledger();
    assert!(l.early_retries >= 1, "{l:?}");
    assert!(l.requests["reserve"][&429] >= 1);
    assert_eq!(l.bookings_created, 1, "replays and 429s book nothing");
    let attempts: u64 = l
        .attempts_per_op
        .iter()
        .map(|(a, n)| u64::from(*a) * n)
        .sum();
    assert_eq!(l.attempts_per_op.values().sum::<u64>(), 1, "one op");
    assert!(attempts >= 3);

    // Successful answers carry the headers too.
    server.reset();
    let r = api.post("/bookings/reserve", &h, BODY).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.header("x-ratelimit-limit").as_deref(), Some("1"));
    server.shutdown().await;
}

#[tokio::test]
async fn queue_full_gives_503_with_retry_after() {
    let mut cfg = quiet_config();
    cfg.capacity.workers = 1;
    cfg.capacity.queue = 0;
    // Long enough that the first request still holds the only slot.
    cfg.capacity.service_time = Duration::from_secs(60);
    let server = start(cfg).await;
    let api = Api::new(&server);
    let bg = api.clone();
    let first = tokio::spawn(async move { bg.reserve("kim", None, "A", 1).await });
    let mut got = None;
    for _ in 0..500 {
        let r = api.reserve("lee", None, "A", 1).await;
        if r.status == 503 {
            got = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let r = got.expect("503 once the only worker is busy");
    assert_eq!(r.code(), "SERVICE_UNAVAILABLE");
    assert_eq!(r.header("retry-after").as_deref(), Some("1"));
    first.abort();
    server.shutdown().await;
}

#[tokio::test]
async fn work_continues_and_counts_as_wasted_when_client_leaves() {
    let mut cfg = quiet_config();
    cfg.capacity.service_time = Duration::from_millis(500);
    let server = start(cfg).await;
    let api = Api::new(&server);
    let r = tokio::time::timeout(Duration::from_millis(50), api.reserve("max", None, "A", 1)).await;
    assert!(r.is_err(), "the client gave up first");
    let l = wait_ledger(&server, |l| l.wasted_work == 1).await;
    assert_eq!(l.wasted_work, 1);
    assert_eq!(l.bookings_created, 1, "the work still committed");
    assert_eq!(l.requests["reserve"][&499], 1);
    server.shutdown().await;
}

#[tokio::test]
async fn reset_after_commit_duplicates_only_with_a_fresh_key() {
    let mut cfg = quiet_config();
    cfg.faults.reset_after_commit = 1.0;
    let server = start(cfg).await;
    let api = Api::new(&server);
    let send = |key: &'static str| {
        let api = api.clone();
        async move {
            api.send(
                http::Method::POST,
                "/bookings/reserve",
                &op_headers("Bearer ned", "op-1", key),
                BODY,
            )
            .await
        }
    };
    assert!(send("k1").await.is_err(), "connection dropped");
    // Naive retry: new key for the same logical operation.
    assert!(send("k2").await.is_err());
    let l = server.ledger();
    assert_eq!((l.bookings_created, l.duplicates), (2, 1));
    assert_eq!(l.connection_resets, 2);
    assert_eq!(l.requests["reserve"][&0], 2);

    server.reset();
    assert!(send("k1").await.is_err());
    // Compliant retry: same key replays the committed booking.
    let r = send("k1").await.expect("replayed");
    assert_eq!(r.status, 201);
    let l = server.ledger();
    assert_eq!((l.bookings_created, l.duplicates), (1, 0));
    assert_eq!(l.attempts_per_op.get(&2), Some(&1));
    server.shutdown().await;
}

#[tokio::test]
async fn reset_before_commit_books_nothing() {
    let mut cfg = quiet_config();
    cfg.faults.reset_before_commit = 1.0;
    let server = start(cfg).await;
    let api = Api::new(&server);
    let h = [("authorization", "Bearer oz")];
    assert!(
        api.send(http::Method::POST, "/bookings/reserve", &h, BODY)
            .await
            .is_err()
    );
    let l = server.ledger();
    assert_eq!((l.bookings_created, l.connection_resets), (0, 1));
    server.shutdown().await;
}

#[tokio::test]
async fn non_envelope_answers() {
    type SetFault = fn(&mut stampede::sim::FaultConfig);
    let cases: [(&str, SetFault); 5] = [
        ("html", |f| f.html_502 = 1.0),
        ("empty", |f| f.empty_503 = 1.0),
        ("date429", |f| f.http_date_429 = 1.0),
        ("date503", |f| f.http_date_503 = 1.0),
        ("500", |f| f.error_rate = 1.0),
    ];
    for (name, set) in cases {
        let mut cfg = quiet_config();
        set(&mut cfg.faults);
        let server = start(cfg).await;
        let api = Api::new(&server);
        let r = api.reserve("pat", Some("k"), "A", 1).await;
        match name {
            "html" => {
                assert_eq!(r.status, 502);
                assert!(
                    r.header("content-type")
                        .is_some_and(|c| c.starts_with("text/html"))
                );
                assert!(String::from_utf8_lossy(&r.body).contains("<html>"));
            }
            "empty" => {
                assert_eq!(r.status, 503);
                assert!(r.body.is_empty());
            }
            "date429" | "date503" => {
                assert_eq!(r.status, if name == "date429" { 429 } else { 503 });
                let v = r.header("retry-after").expect("Retry-After");
                let at = httpdate::parse_http_date(&v).expect("an HTTP-date");
                assert!(at > SystemTime::now(), "{v}");
            }
            _ => {
                assert_eq!((r.status, r.code()), (500, "INTERNAL_ERROR".into()));
            }
        }
        // None of these has side effects, and the key is not burnt.
        assert_eq!(server.ledger().bookings_created, 0, "{name}");
        server.shutdown().await;
    }
}

#[tokio::test]
async fn fault_window_only_inside_its_window() {
    let mut cfg = quiet_config();
    let hour = Duration::from_secs(3600);
    cfg.faults.windows = vec![FaultWindow {
        from: hour,
        to: 2 * hour,
        error_rate: 1.0,
        ..FaultWindow::default()
    }];
    let server = start(cfg.clone()).await;
    let api = Api::new(&server);
    assert_eq!(api.reserve("quinn", None, "A", 1).await.status, 201);
    server.shutdown().await;

    cfg.faults.windows[0].from = Duration::ZERO;
    let server = start(cfg).await;
    let api = Api::new(&server);
    let r = api.reserve("quinn", None, "A", 1).await;
    assert_eq!((r.status, r.code()), (500, "INTERNAL_ERROR".into()));
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn fault_window_clock_follows_tokio_time_and_reset() {
    // Paused time auto-advances to the next timer (the 1 s sweep) whenever
    // the runtime waits on sockets, so the window opens far from any edge
    // a few idle parks could cross.
    let mut cfg = quiet_config();
    cfg.faults.windows = vec![FaultWindow {
        from: Duration::from_secs(100),
        to: Duration::from_secs(1_000_000),
        error_rate: 1.0,
        ..FaultWindow::default()
    }];
    let server = start(cfg).await;
    let api = Api::new(&server);
    assert_eq!(api.reserve("ray", None, "A", 1).await.status, 201);
    tokio::time::advance(Duration::from_secs(150)).await;
    assert_eq!(api.reserve("ray", None, "A", 1).await.status, 500);
    // Reset restarts the window clock.
    server.reset();
    assert_eq!(api.reserve("ray", None, "A", 1).await.status, 201);
    tokio::time::advance(Duration::from_secs(150)).await;
    assert_eq!(api.reserve("ray", None, "A", 1).await.status, 500);
    server.shutdown().await;
}
