//! Booking Rush API surface and business rules, end to end on loopback.

use crate::common;

use common::{Api, quiet_config, start, wait_ledger};
use stampede::sim::{EventConfig, Ledger, ZoneConfig};
use std::collections::HashSet;
use std::time::Duration;

fn one_zone(seats: u32) -> stampede::sim::SimConfig {
    let mut cfg = quiet_config();
    cfg.events = vec![EventConfig {
        id: "E1".into(),
        zones: vec![ZoneConfig {
            id: "A".into(),
            seats,
        }],
    }];
    cfg
}

#[tokio::test]
async fn lifecycle_reserve_confirm_release() {
    let server = start(one_zone(10)).await;
    let api = Api::new(&server);

    let av = api.get("/events/E1/zones/A/availability", &[]).await;
    assert_eq!(av.status, 200);
    assert_eq!(av.json()["success"], true);
    assert_eq!(av.json()["data"]["available"], 10);

    let r1 = api.reserve("alice", Some("k1"), "A", 2).await;
    assert_eq!(r1.status, 201, "{:?}", r1.body);
    let data = &r1.json()["data"];
    assert_eq!(data["status"], "RESERVED");
    assert!(data["expiresAt"].as_str().is_some_and(|s| s.ends_with('Z')));
    let id1 = data["bookingId"].as_str().expect("id").to_owned();
    let r2 = api.reserve("alice", Some("k2"), "A", 1).await;
    let id2 = r2.json()["data"]["bookingId"]
        .as_str()
        .expect("id")
        .to_owned();

    let bob = [("authorization", "Bearer bob")];
    let alice = [("authorization", "Bearer alice")];
    let f = api
        .post(&format!("/bookings/{id1}/confirm"), &bob, "")
        .await;
    assert_eq!((f.status, f.code()), (403, "FORBIDDEN".into()));

    let c = api
        .post(&format!("/bookings/{id1}/confirm"), &alice, "")
        .await;
    assert_eq!(c.status, 200);
    assert_eq!(c.json()["data"]["status"], "CONFIRMED");
    let c = api
        .post(&format!("/bookings/{id1}/confirm"), &alice, "")
        .await;
    assert_eq!((c.status, c.code()), (409, "ALREADY_CONFIRMED".into()));

    let rel = api
        .post(&format!("/bookings/{id2}/release"), &alice, "")
        .await;
    assert_eq!(rel.status, 200);
    assert_eq!(rel.json()["data"]["status"], "RELEASED");
    let rel = api
        .post(&format!("/bookings/{id2}/release"), &alice, "")
        .await;
    assert_eq!((rel.status, rel.code()), (409, "ALREADY_RELEASED".into()));
    let nf = api.post("/bookings/bk_0_999/confirm", &alice, "").await;
    assert_eq!((nf.status, nf.code()), (404, "NOT_FOUND".into()));

    let av = api.get("/events/E1/zones/A/availability", &[]).await;
    assert_eq!(av.json()["data"]["available"], 8);
    let l = server.ledger();
    assert_eq!(l.bookings_created, 2);
    assert_eq!(l.bookings_confirmed, 1);
    assert_eq!(l.bookings_released, 1);
    let z = l.zones["E1/A"];
    assert_eq!((z.capacity, z.sold, z.reserved, z.available), (10, 2, 0, 8));
    assert_eq!(l.requests["reserve"][&201], 2);
    server.shutdown().await;
}

#[tokio::test]
async fn auth_and_max_tickets() {
    let mut cfg = one_zone(100);
    cfg.max_tickets_per_user = 4;
    let server = start(cfg).await;
    let api = Api::new(&server);
    let body = r#"{"eventId":"E1","zoneId":"A","quantity":1}"#;
    let r = api.post("/bookings/reserve", &[], body).await;
    assert_eq!((r.status, r.code()), (401, "UNAUTHORIZED".into()));
    let r = api
        .post("/bookings/reserve", &[("authorization", "Basic abc")], body)
        .await;
    assert_eq!((r.status, r.code()), (401, "UNAUTHORIZED".into()));
    assert_eq!(api.reserve("carol", None, "A", 3).await.status, 201);
    let r = api.reserve("carol", None, "A", 2).await;
    assert_eq!((r.status, r.code()), (409, "MAX_TICKETS_EXCEEDED".into()));
    assert_eq!(api.reserve("carol", None, "A", 1).await.status, 201);
    // The per-user cap is checked before the seats.
    let r = api.reserve("dave", None, "A", 101).await;
    assert_eq!((r.status, r.code()), (409, "MAX_TICKETS_EXCEEDED".into()));
    server.shutdown().await;

    let mut cfg = one_zone(1);
    cfg.public_availability = false;
    let server = start(cfg).await;
    let api = Api::new(&server);
    let r = api.get("/events/E1/zones/A/availability", &[]).await;
    assert_eq!((r.status, r.code()), (401, "UNAUTHORIZED".into()));
    let r = api
        .get(
            "/events/E1/zones/A/availability",
            &[("authorization", "Bearer x")],
        )
        .await;
    assert_eq!(r.status, 200);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_reserves_never_oversell() {
    let server = start(one_zone(100)).await;
    let api = Api::h2(&server);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..1000 {
        let api = api.clone();
        tasks.spawn(async move { api.reserve(&format!("user{i}"), None, "A", 1).await });
    }
    let (mut ok, mut sold_out) = (0, 0);
    while let Some(r) = tasks.join_next().await {
        let r = r.expect("task");
        match (r.status, r.code().as_str()) {
            (201, _) => ok += 1,
            (409, "INSUFFICIENT_SEATS") => sold_out += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((ok, sold_out), (100, 900));
    let l = server.ledger();
    assert_eq!(l.oversold, 0);
    assert_eq!(l.bookings_created, 100);
    let z = l.zones["E1/A"];
    assert_eq!((z.reserved, z.available), (100, 0));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_same_key_creates_one_booking_with_identical_replies() {
    let mut cfg = one_zone(100);
    // Slow work so the duplicates arrive while the first is in progress.
    cfg.capacity.service_time = Duration::from_millis(200);
    let server = start(cfg).await;
    let api = Api::h2(&server);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let api = api.clone();
        tasks.spawn(async move { api.reserve("erin", Some("same-key"), "A", 2).await });
    }
    let mut bodies = HashSet::new();
    while let Some(r) = tasks.join_next().await {
        let r = r.expect("task");
        assert_eq!(r.status, 201);
        bodies.insert(r.body.to_vec());
    }
    assert_eq!(bodies.len(), 1, "every reply is byte-identical");
    let l = server.ledger();
    assert_eq!(l.bookings_created, 1);
    assert_eq!(l.idempotent_replays, 49);
    assert_eq!(l.zones["E1/A"].reserved, 2);

    // Same key, different payload.
    let r = api.reserve("erin", Some("same-key"), "A", 1).await;
    assert_eq!((r.status, r.code()), (422, "IDEMPOTENCY_KEY_REUSED".into()));
    // Another user may use the same key string.
    assert_eq!(
        api.reserve("frank", Some("same-key"), "A", 1).await.status,
        201
    );
    server.shutdown().await;
}

#[tokio::test]
async fn reservation_ttl_expires_end_to_end() {
    let mut cfg = one_zone(2);
    cfg.reservation_ttl = Duration::from_millis(100);
    cfg.sweep_interval = Duration::from_millis(50);
    let server = start(cfg).await;
    let api = Api::new(&server);
    let r = api.reserve("gina", None, "A", 2).await;
    let id = r.json()["data"]["bookingId"]
        .as_str()
        .expect("id")
        .to_owned();
    // Waiting for an event (the sweep), not measuring speed.
    let l = wait_ledger(&server, |l| l.bookings_expired == 1).await;
    assert_eq!(l.zones["E1/A"].available, 2);
    let c = api
        .post(
            &format!("/bookings/{id}/confirm"),
            &[("authorization", "Bearer gina")],
            "",
        )
        .await;
    assert_eq!((c.status, c.code()), (409, "EXPIRED".into()));
    server.shutdown().await;
}

#[tokio::test]
async fn bad_input_always_gets_the_envelope() {
    let server = start(one_zone(10)).await;
    let api = Api::new(&server);
    let auth = [("authorization", "Bearer hank")];
    let cases: Vec<(&str, u16, &str)> = vec![
        ("{not json", 400, "INVALID_REQUEST"),
        ("", 400, "INVALID_REQUEST"),
        (r#"{"eventId":"E1","zoneId":"A"}"#, 400, "INVALID_REQUEST"),
        (
            r#"{"eventId":1,"zoneId":"A","quantity":1}"#,
            400,
            "INVALID_REQUEST",
        ),
        (
            r#"{"eventId":"E1","zoneId":"A","quantity":"2"}"#,
            400,
            "INVALID_REQUEST",
        ),
        (
            r#"{"eventId":"E1","zoneId":"A","quantity":1.5}"#,
            400,
            "INVALID_REQUEST",
        ),
        (
            r#"{"eventId":"E1","zoneId":"A","quantity":0}"#,
            400,
            "INVALID_QUANTITY",
        ),
        (
            r#"{"eventId":"E1","zoneId":"A","quantity":-3}"#,
            400,
            "INVALID_QUANTITY",
        ),
        (
            r#"{"eventId":"E9","zoneId":"A","quantity":1}"#,
            404,
            "NOT_FOUND",
        ),
        (r#"[1,2,3]"#, 400, "INVALID_REQUEST"),
    ];
    for (body, status, code) in cases {
        let r = api.post("/bookings/reserve", &auth, body).await;
        assert_eq!((r.status, r.code().as_str()), (status, code), "body {body}");
        assert_eq!(r.json()["success"], false);
    }
    let big = format!(
        r#"{{"eventId":"E1","zoneId":"A","quantity":1,"pad":"{}"}}"#,
        "x".repeat(20 * 1024)
    );
    let r = api.post("/bookings/reserve", &auth, &big).await;
    assert_eq!((r.status, r.code()), (413, "PAYLOAD_TOO_LARGE".into()));
    let r = api.get("/nope", &[]).await;
    assert_eq!((r.status, r.code()), (404, "NOT_FOUND".into()));
    let r = api.get("/events/E1/zones/ZZ/availability", &[]).await;
    assert_eq!((r.status, r.code()), (404, "NOT_FOUND".into()));
    let r = api.get("/bookings/reserve", &auth).await;
    assert_eq!((r.status, r.code()), (405, "METHOD_NOT_ALLOWED".into()));
    let r = api
        .send(
            http::Method::DELETE,
            "/events/E1/zones/A/availability",
            &[],
            "",
        )
        .await
        .expect("answered");
    assert_eq!((r.status, r.code()), (405, "METHOD_NOT_ALLOWED".into()));
    let r = api
        .post("/bookings/reserve", &[("authorization", "Bearer ")], "{}")
        .await;
    assert_eq!((r.status, r.code()), (401, "UNAUTHORIZED".into()));
    let long_key = "k".repeat(300);
    let r = api.reserve("hank", Some(&long_key), "A", 1).await;
    assert_eq!((r.status, r.code()), (400, "INVALID_REQUEST".into()));
    // Still serving, nothing booked by the garbage.
    assert_eq!(api.reserve("hank", None, "A", 1).await.status, 201);
    assert_eq!(server.ledger().bookings_created, 1);
    server.shutdown().await;
}

#[tokio::test]
async fn ledger_endpoint_and_reset() {
    let server = start(one_zone(5)).await;
    let api = Api::new(&server);
    assert_eq!(api.reserve("ivy", None, "A", 2).await.status, 201);
    let r = api.get("/__sim/ledger", &[]).await;
    assert_eq!(r.status, 200);
    let l: Ledger = serde_json::from_slice(&r.body).expect("ledger json");
    assert_eq!(l.bookings_created, 1);
    assert_eq!(l.zones["E1/A"].available, 3);
    assert_eq!(l.requests["reserve"][&201], 1);

    let r = api.post("/__sim/reset", &[], "").await;
    assert_eq!(r.status, 200);
    let l = server.ledger();
    assert_eq!(l.bookings_created, 0);
    assert_eq!(l.zones["E1/A"].available, 5);
    assert!(!l.requests.contains_key("reserve"));

    assert_eq!(api.reserve("ivy", None, "A", 2).await.status, 201);
    server.reset();
    let fresh = Ledger {
        zones: server.ledger().zones,
        ..Ledger::default()
    };
    assert_eq!(server.ledger(), fresh);
    assert_eq!(server.ledger().zones["E1/A"].available, 5);
    server.shutdown().await;
}
