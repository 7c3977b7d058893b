//! Codes of the spec's tables that only the simulator's knobs can bring
//! about: a full queue (`queue_capacity`; the double has no bound) and the
//! gateway's 502 (`faults.bad_gateway`; the double has no faults).

use super::client::text;
use super::sim::tweaked;
use super::spec::*;
use std::time::Duration;

/// `POST /api/v1/queue/join` on a full queue: 409 flat `QUEUE_FULL`, and
/// the refused user is not in the queue.
#[tokio::test]
async fn a_join_beyond_the_queue_capacity_is_409_queue_full() {
    let (s, http, a) = tweaked(|cfg| {
        cfg.booking_rush.queue_capacity = 1;
        // Nobody is let out while the rows run: the queue stays full.
        cfg.booking_rush.min_queue_time = Duration::from_secs(60);
    })
    .await;
    let b = login(&http, "b@x.io").await;
    let rows = [
        Row::post("join a", JOIN, 201, Shape::Fields(JOIN_FIELDS))
            .auth(&a)
            .key("j-a")
            .body(JOIN_BODY),
        Row::post("join b, queue full", JOIN, 409, Shape::Flat("QUEUE_FULL"))
            .auth(&b)
            .key("j-b")
            .body(JOIN_BODY),
        Row::get("poll b", POSITION, 404, Shape::Flat("NOT_IN_QUEUE")).auth(&b),
        Row::get("poll a", POSITION, 200, Shape::Fields(POSITION_FIELDS)).auth(&a),
    ];
    let r = run_all(&http, &rows).await;
    assert_eq!(r[3].json()["total_in_queue"], 1, "{}", text(&r[3]));
    let l = s.ledger();
    let q = l.queue.expect("queue ledger");
    assert_eq!(q.joins, 1, "only a joined");
    assert_eq!(l.requests["queue_join"].get(&409), Some(&1));
}

/// `POST /api/v1/bookings/reserve` with the service unreachable: the
/// gateway's nested 502 `BAD_GATEWAY`, before the idempotency middleware,
/// so a same-key retry is not a replay and nothing is booked.
#[tokio::test]
async fn an_unreachable_service_is_502_bad_gateway_from_the_gateway() {
    let (s, http, a) = tweaked(|cfg| cfg.faults.bad_gateway = 1.0).await;
    let row = |name| {
        Row::post(name, RESERVE, 502, Shape::Nested("BAD_GATEWAY"))
            .auth(&a)
            .key("K")
            .body(reserve_body("Z1", 1, None))
    };
    run_all(&http, &[row("reserve"), row("same key again")]).await;
    let l = s.ledger();
    assert_eq!(l.requests["reserve"].get(&502), Some(&2));
    assert_eq!((l.bookings_created, l.idempotent_replays), (0, 0));
    assert_eq!(l.replays_by_status, Some(Default::default()));
    // Login and browsing do not go through the faulty service.
    assert_eq!(l.logins, Some(1));
}
