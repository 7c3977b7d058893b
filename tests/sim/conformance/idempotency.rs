//! Rows of the idempotency middleware: a stored answer replayed byte for
//! byte (500s included), a key reused for another request, a retry while
//! the first request runs, and the booking a client that gave up still
//! gets under its key.

use super::client::{Http, bearer};
use super::spec::*;
use super::target::{Knobs, Target, wait_counts};
use http::Method;
use std::time::Duration;

use Shape::{Flat, Nested};

pub async fn same_key_replays_byte_for_byte_500s_included<T: Target>() -> T {
    let t = T::start(Knobs {
        fault: true,
        ..Knobs::passless()
    })
    .await;
    let http = Http::new(&t);
    let (a, b) = (login(&http, "a@x.io").await, login(&http, "b@x.io").await);
    let body = reserve_body("Z1", 1, None);
    let req = |name, status, shape| Row::post(name, RESERVE, status, shape);
    let failed = req("injected 500", 500, Flat("INTERNAL_ERROR"));
    let first = run(&http, &failed.auth(&a).key("K1").body(&body)).await;
    t.fault_over().await;
    let reused = |name| req(name, 422, Nested("IDEMPOTENCY_KEY_REUSED")).key("K2");
    let rows = [
        req("500 replayed", 500, Flat("INTERNAL_ERROR"))
            .auth(&a)
            .key("K1")
            .body(&body),
        reserve("new key books", &a, "K2", 1),
        reserve("201 replayed", &a, "K2", 1),
        reused("same key, other body")
            .auth(&a)
            .body(reserve_body("Z1", 2, None)),
        reused("same key, other user").auth(&b).body(&body),
        Row::post(
            "same key, other route",
            JOIN,
            422,
            Nested("IDEMPOTENCY_KEY_REUSED"),
        )
        .auth(&a)
        .key("K2")
        .body(JOIN_BODY),
    ];
    let r = run_all(&http, &rows).await;
    assert_eq!(first.body, r[0].body, "500 replayed byte for byte");
    assert_eq!(r[1].body, r[2].body, "201 replayed byte for byte");
    assert_eq!(r[1].header("content-type"), r[2].header("content-type"));
    let c = t.counts();
    assert_eq!(c.replays, statuses(&[(201, 1), (500, 1)]));
    assert_eq!((c.replayed, c.key_reused), (2, 3));
    assert_eq!(c.bookings, 1, "replays do not reach the inventory");
    assert_eq!(c.available, 99);
    t
}

pub async fn in_progress_while_running_and_the_booking_outlives_a_client_timeout<T: Target>() -> T {
    let t = T::start(Knobs {
        reserve_time: Duration::from_secs(1),
        ..Knobs::passless()
    })
    .await;
    let http = Http::new(&t);
    let a = login(&http, "a@x.io").await;
    let first = {
        let (http, row) = (http.clone(), reserve("first", &a, "K", 1));
        tokio::spawn(async move { run(&http, &row).await })
    };
    t.until_processing("K").await;
    let running = Row::post(
        "retry while running",
        RESERVE,
        409,
        Nested("REQUEST_IN_PROGRESS"),
    )
    .auth(&a)
    .key("K")
    .body(reserve_body("Z1", 1, None));
    run(&http, &running).await;
    let first = first.await.expect("first");
    let replay = run(&http, &reserve("retry after", &a, "K", 1)).await;
    assert_eq!(first.body, replay.body);

    // A client that gives up: the booking is made all the same (wasted
    // work), and the same key later returns it.
    let auth = bearer(&a);
    let h = [
        ("authorization", auth.as_str()),
        ("x-idempotency-key", "K2"),
    ];
    let body = reserve_body("Z1", 1, None);
    let send = http.send(Method::POST, RESERVE, &h, &body);
    let gave_up = tokio::time::timeout(Duration::from_millis(200), send).await;
    assert!(gave_up.is_err(), "the client timed out first");
    wait_counts(&t, "the abandoned reserve booked", |c| c.bookings == 2).await;
    let later = run(&http, &reserve("same key after the timeout", &a, "K2", 1)).await;

    let c = t.counts();
    assert_eq!(c.in_progress, 1);
    assert_eq!(c.replays, statuses(&[(201, 2)]));
    assert_eq!(c.bookings, 2);
    assert_ne!(booking_id(&later), booking_id(&first));
    t
}
