//! Rows of the booking service: reserve and its checks (body, pass,
//! inventory, per-user limit), confirm and release, and a reservation's
//! lifetime against a browse count that lags.

use super::client::{Http, text};
use super::spec::*;
use super::target::{Knobs, Target};
use crate::common::Reply;
use bytes::Bytes;
use http::Method;
use serde_json::json;
use std::time::Duration;
use tokio::time::Instant;

use Shape::{Data, Fields, Flat, Nested};

/// Reserve rows of `a` (holding `pass_a`) and `b` (holding `pass_b`) on 3
/// seats, in the order of the checks.
fn reserve_rows(a: &str, b: &str, pass_a: &str, pass_b: &str) -> Vec<Row> {
    let req = |name, status, shape| Row::post(name, RESERVE, status, shape);
    let refused = |name, status, code, key| req(name, status, Flat(code)).auth(a).key(key);
    let with_a = |zone, qty| reserve_body(zone, qty, Some(pass_a));
    let no_show = json!({"event_id": "EVT1", "zone_id": "Z1", "quantity": 1, "queue_pass": pass_a});
    let priced = json!({"event_id": "EVT1", "zone_id": "Z1", "show_id": SHOW, "quantity": 1,
                        "unit_price": 75.0, "queue_pass": pass_b});
    vec![
        req("no key", 400, Nested("MISSING_IDEMPOTENCY_KEY"))
            .auth(a)
            .body(with_a("Z1", 1)),
        req("no token", 401, Nested("MISSING_TOKEN"))
            .key("r0")
            .body(with_a("Z1", 1)),
        refused("no show_id", 400, "INVALID_SHOW_ID", "r1").body(no_show.to_string()),
        refused("bad json", 400, "INVALID_REQUEST", "r2").body("{nope"),
        refused("quantity 0", 400, "INVALID_REQUEST", "r3").body(with_a("Z1", 0)),
        refused("quantity 11", 400, "INVALID_REQUEST", "r4").body(with_a("Z1", 11)),
        refused("no pass", 403, "QUEUE_PASS_REQUIRED", "r5").body(reserve_body("Z1", 1, None)),
        refused("unknown pass", 403, "INVALID_QUEUE_PASS", "r6").body(reserve_body(
            "Z1",
            1,
            Some("qp_forged"),
        )),
        refused("another user's pass", 403, "QUEUE_PASS_MISMATCH", "r7").body(reserve_body(
            "Z1",
            1,
            Some(pass_b),
        )),
        refused("unknown zone", 404, "ZONE_NOT_FOUND", "r8").body(with_a("Z9", 1)),
        refused("too few seats", 409, "INSUFFICIENT_SEATS", "r9").body(with_a("Z1", 4)),
        req("reserved", 201, Fields(RESERVED_FIELDS))
            .auth(a)
            .key("r10")
            .body(with_a("Z1", 2)),
        refused("pass used up", 403, "INVALID_QUEUE_PASS", "r11").body(with_a("Z1", 1)),
        req("own unit_price", 201, Fields(RESERVED_FIELDS))
            .auth(b)
            .key("r12")
            .body(priced.to_string()),
    ]
}

/// The sold-out body, the booking (Go's float, a UUID, an expiry) and the
/// price a buyer gave.
fn check_reserved(r: &[Reply]) {
    let sold_out = br#"{"error":"Not enough seats available","code":"INSUFFICIENT_SEATS"}"#;
    assert_eq!(r[10].body, Bytes::from_static(sold_out));
    let booked = r[11].json();
    let body = text(&r[11]);
    assert!(body.starts_with(r#"{"booking_id":""#), "{body}");
    assert_eq!(booked["status"], "reserved");
    assert_eq!(booked["total_price"].as_f64(), Some(100.0), "2 x 50");
    assert!(
        body.ends_with(r#""total_price":100}"#),
        "Go's float: {body}"
    );
    let id = booked["booking_id"].as_str();
    assert!(id.is_some_and(|id| id.len() == 36), "{body}");
    let expires = booked["expires_at"].as_str();
    assert!(expires.is_some_and(|t| t.ends_with('Z')), "{body}");
    assert_eq!(r[13].json()["total_price"].as_f64(), Some(75.0));
}

/// Returns the target and the rows' answers.
pub async fn reserve_rows_and_the_one_shot_pass<T: Target>() -> (T, Vec<Reply>) {
    let t = T::start(Knobs {
        seats: 3,
        ..Knobs::quiet()
    })
    .await;
    let http = Http::new(&t);
    let (a, b) = (login(&http, "a@x.io").await, login(&http, "b@x.io").await);
    let pass_a = pass_for(&http, &a, "j-a").await;
    let pass_b = pass_for(&http, &b, "j-b").await;
    let r = run_all(&http, &reserve_rows(&a, &b, &pass_a, &pass_b)).await;
    check_reserved(&r);

    let c = t.counts();
    assert_eq!((c.bookings, c.available), (2, 0));
    assert_eq!((c.passes_issued, c.passes_used), (2, 2));
    let answers = [(201, 2), (400, 5), (401, 1), (403, 4), (404, 1), (409, 1)];
    assert_eq!(c.of("reserve"), statuses(&answers));
    // The used pass is gone from polling too.
    let poll = Row::get(
        "poll after the pass was used",
        POSITION,
        404,
        Flat("NOT_IN_QUEUE"),
    );
    run(&http, &poll.auth(&a)).await;
    (t, r)
}

pub async fn an_expired_pass_is_refused_and_gone_from_polling<T: Target>() -> T {
    let t = T::start(Knobs {
        pass_ttl: Duration::from_millis(200),
        ..Knobs::quiet()
    })
    .await;
    let http = Http::new(&t);
    let a = login(&http, "a@x.io").await;
    let pass = pass_for(&http, &a, "j-a").await;
    // Past the pass's 200 ms lifetime.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let expired = Row::post("expired pass", RESERVE, 403, Flat("QUEUE_PASS_EXPIRED"))
        .auth(&a)
        .key("r1")
        .body(reserve_body("Z1", 1, Some(&pass)));
    run(&http, &expired).await;
    let poll = Row::get(
        "poll with an expired pass",
        POSITION,
        404,
        Flat("NOT_IN_QUEUE"),
    );
    run(&http, &poll.auth(&a)).await;
    assert_eq!(t.counts().passes_used, 0);
    t
}

pub async fn the_per_user_limit<T: Target>() -> T {
    let t = T::start(Knobs {
        max_per_user: 3,
        ..Knobs::passless()
    })
    .await;
    let http = Http::new(&t);
    let (a, b) = (login(&http, "a@x.io").await, login(&http, "b@x.io").await);
    let over = Row::post("4 of 3", RESERVE, 409, Flat("MAX_TICKETS_EXCEEDED"))
        .auth(&a)
        .key("m2")
        .body(reserve_body("Z1", 2, None));
    let rows = [
        reserve("2 of 3", &a, "m1", 2),
        over,
        reserve("3 of 3", &a, "m3", 1),
        reserve("another user", &b, "m4", 2),
    ];
    run_all(&http, &rows).await;
    let c = t.counts();
    assert_eq!((c.bookings, c.available), (3, 95));
    t
}

/// Confirm, release and cancel rows of bookings `b1`, `b2`, `b3` of `a`.
fn finish_rows(a: &str, b: &str, [b1, b2, b3]: [&str; 3]) -> Vec<Row> {
    let path = |id: &str, action: &str| format!("/api/v1/bookings/{id}{action}");
    let by_a = |name, method, path: String, status, shape| {
        Row::new(name, method, &path, status, shape).auth(a)
    };
    let confirm =
        |name, id, status, shape| by_a(name, Method::POST, path(id, "/confirm"), status, shape);
    let cancel =
        |name, id, status, shape| by_a(name, Method::POST, path(id, "/cancel"), status, shape);
    let release = |name, id, status, shape| by_a(name, Method::DELETE, path(id, ""), status, shape);
    let pay = r#"{"payment_id":"pay_1"}"#;
    let (confirmed, released) = (Flat("ALREADY_CONFIRMED"), Flat("ALREADY_RELEASED"));
    vec![
        confirm("confirm", b1, 200, Fields(CONFIRMED_FIELDS))
            .key("c1")
            .body(pay),
        confirm("confirm again", b1, 409, confirmed)
            .key("c2")
            .body(pay),
        Row::post(
            "confirm by another user",
            &path(b2, "/confirm"),
            403,
            Flat("FORBIDDEN"),
        )
        .auth(b)
        .key("c3"),
        confirm("confirm unknown booking", "nope", 404, Flat("NOT_FOUND")).key("c4"),
        confirm(
            "confirm without key",
            b2,
            400,
            Nested("MISSING_IDEMPOTENCY_KEY"),
        ),
        release("release", b2, 200, Fields(CANCELLED_FIELDS)).key("d1"),
        cancel("cancel after release", b2, 409, released).key("d2"),
        cancel("cancel", b3, 200, Fields(CANCELLED_FIELDS)).key("d3"),
        release("release a confirmed booking", b1, 409, confirmed).key("d4"),
        confirm("confirm a released booking", b3, 409, released).key("c5"),
    ]
}

pub async fn confirm_and_release<T: Target>() -> T {
    let t = T::start(Knobs {
        seats: 10,
        ..Knobs::passless()
    })
    .await;
    let http = Http::new(&t);
    let (a, b) = (login(&http, "a@x.io").await, login(&http, "b@x.io").await);
    let b1 = booking_id(&run(&http, &reserve("reserve", &a, "r1", 2)).await);
    let b2 = booking_id(&run(&http, &reserve("reserve", &a, "r2", 3)).await);
    let b3 = booking_id(&run(&http, &reserve("reserve", &a, "r3", 1)).await);
    assert_eq!(t.counts().available, 4);
    let r = run_all(&http, &finish_rows(&a, &b, [&b1, &b2, &b3])).await;
    let confirmed = r[0].json();
    assert_eq!(confirmed["status"], "confirmed");
    assert_eq!(confirmed["booking_id"], b1.as_str());
    let code = confirmed["confirmation_code"].as_str();
    assert!(code.is_some_and(|c| !c.is_empty()), "{confirmed}");
    assert_eq!(r[5].json()["status"], "cancelled");
    assert_eq!(r[7].json()["booking_id"], b3.as_str());

    let c = t.counts();
    assert_eq!(
        c.available, 8,
        "released seats are back, confirmed stay taken"
    );
    assert_eq!((c.confirmations, c.releases), (1, 2));
    let confirms = [(200, 1), (400, 1), (403, 1), (404, 1), (409, 2)];
    assert_eq!(c.of("confirm"), statuses(&confirms));
    assert_eq!(c.of("release"), statuses(&[(200, 1), (409, 1)]));
    assert_eq!(c.of("cancel"), statuses(&[(200, 1), (409, 1)]));
    t
}

/// Zone `Z1`'s seats as browsing shows them.
async fn shown(http: &Http, token: &str) -> serde_json::Value {
    let zone = Row::get("zone", ZONE, 200, Data).auth(token);
    run(http, &zone).await.json()["data"]["available_seats"].clone()
}

/// Polls the browse count every 20 ms until it shows `want` (at most 5 s).
async fn until_shown(http: &Http, token: &str, want: u64, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while shown(http, token).await != want {
        assert!(Instant::now() < deadline, "{what}: never showed {want}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn confirm_after_the_reservation_ttl_is_410_expired_and_browse_lags<T: Target>() -> T {
    let t = T::start(Knobs {
        reservation_ttl: Duration::from_secs(3),
        browse_lag: Duration::from_secs(1),
        ..Knobs::passless()
    })
    .await;
    let http = Http::new(&t);
    let a = login(&http, "a@x.io").await;
    // A first booking, and the browse count that shows it.
    run(&http, &reserve("reserve", &a, "r0", 1)).await;
    until_shown(&http, &a, 99, "the first booking").await;
    let id = booking_id(&run(&http, &reserve("reserve", &a, "r1", 3)).await);
    let reserved = Instant::now();
    // The read model has not caught up yet: a pre-check reads 99.
    assert_eq!(t.counts().available, 96);
    assert_eq!(shown(&http, &a).await, 99);
    until_shown(&http, &a, 96, "the second booking").await;
    // Past the reservation's 3 s lifetime.
    tokio::time::sleep_until(reserved + Duration::from_millis(3200)).await;
    let late = Row::post(
        "confirm too late",
        &format!("/api/v1/bookings/{id}/confirm"),
        410,
        Flat("EXPIRED"),
    );
    run(&http, &late.auth(&a).key("c1")).await;
    until_shown(&http, &a, 100, "the seats came back").await;
    let c = t.counts();
    assert_eq!(c.confirmations, 0);
    assert_eq!(c.of("confirm"), statuses(&[(410, 1)]));
    t
}
