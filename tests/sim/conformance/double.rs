//! The suite against the loopback double of the real API
//! (`tests/common/booking_rush.rs`), counts read from the double; then the
//! rows only the double runs, each saying why.

use super::client::{Http, parse_sse, text};
use super::spec::*;
use super::target::{Counts, Knobs, Target, Waits, until};
use super::{auth, booking, idempotency, limits, queue};
use crate::common::booking_rush::{BookingRush, Config, Limits};
use std::collections::BTreeMap;
use std::time::Duration;

pub struct Double {
    pub server: BookingRush,
}

/// The knobs as the double's config: event `EVT1`, show `SHOW-EVT1`,
/// zone `Z1`.
fn config(k: &Knobs) -> Config {
    let limits = k.limits.map_or_else(Limits::default, |l| Limits {
        auth: l.auth,
        confirm: l.confirm,
        ..Limits::default()
    });
    Config {
        zones: vec![("Z1".into(), k.seats)],
        show_id: SHOW.into(),
        token_ttl: k.token_ttl,
        queue_wait: k.queue_wait,
        pass_ttl: k.pass_ttl,
        enforce_pass: k.enforce_pass,
        max_per_user: k.max_per_user,
        sse_interval: k.sse_interval,
        sse_timeout: k.sse_timeout,
        sse_keepalive: k.sse_keepalive,
        sse_retry_ms: k.sse_retry.map(|d| d.as_millis() as u64),
        reserve_delay: k.reserve_time,
        fail_first_reserves: u32::from(k.fault),
        reservation_ttl: k.reservation_ttl,
        availability_lag: k.browse_lag,
        browse_public: k.browse_public,
        rate_limit: k.limits.is_some(),
        limits,
        ..Config::default()
    }
}

/// The double's route label as the simulator names the endpoint.
fn endpoint(route: &str) -> &'static str {
    match route {
        "POST /api/v1/auth/login" => "login",
        "POST /api/v1/auth/refresh" => "refresh",
        "GET /api/v1/events" => "events",
        "GET /api/v1/shows/{id}/zones" => "show_zones",
        "GET /api/v1/zones/{id}" => "zone",
        "POST /api/v1/queue/join" => "queue_join",
        "GET /api/v1/queue/position/{id}" => "queue_position",
        "GET /api/v1/queue/position/{id}/stream" => "queue_stream",
        "POST /api/v1/bookings/reserve" => "reserve",
        "POST /api/v1/bookings/{id}/confirm" => "confirm",
        "DELETE /api/v1/bookings/{id}" => "release",
        "POST /api/v1/bookings/{id}/cancel" => "cancel",
        _ => "other",
    }
}

fn by_endpoint(
    by_route: &BTreeMap<String, BTreeMap<u16, u64>>,
) -> BTreeMap<String, BTreeMap<u16, u64>> {
    let mut out: BTreeMap<String, BTreeMap<u16, u64>> = BTreeMap::new();
    for (route, by_status) in by_route {
        let m = out.entry(endpoint(route).to_owned()).or_default();
        for (status, n) in by_status {
            *m.entry(*status).or_default() += n;
        }
    }
    out
}

fn waits(times: &[Duration]) -> Waits {
    let mut ms: Vec<u64> = times.iter().map(|t| t.as_millis() as u64).collect();
    ms.sort_unstable();
    Waits {
        count: ms.len() as u64,
        sum: ms.iter().sum(),
        p50: ms.get(ms.len().saturating_sub(1) / 2).copied().unwrap_or(0),
    }
}

impl Target for Double {
    async fn start(knobs: Knobs) -> Self {
        Self {
            server: BookingRush::start(config(&knobs)).await,
        }
    }

    fn url(&self) -> String {
        self.server.url()
    }

    fn mark(&self) -> Option<&'static str> {
        None
    }

    fn counts(&self) -> Counts {
        let c = self.server.counts();
        Counts {
            requests: by_endpoint(&c.by_route),
            logins: c.logins,
            refreshes: c.refreshes,
            joins: c.joins,
            polls: c.polls,
            streams: c.streams_opened,
            passes_issued: c.passes_issued,
            passes_used: c.passes_used,
            waits: waits(&c.queue_time),
            bookings: c.bookings,
            confirmations: c.confirmations,
            releases: c.releases,
            available: self.server.available_seats("Z1").expect("zone Z1"),
            replayed: c.replays.values().sum(),
            replays: c.replays,
            in_progress: c.in_progress,
            key_reused: c.key_reused,
        }
    }

    async fn until_processing(&self, key: &str) {
        let keys = || self.server.counts().keys_seen;
        until("the request under the key processing", keys, |k| {
            k.contains(key)
        })
        .await;
    }

    async fn fault_over(&self) {
        // Only the first reserve fails.
    }
}

// ------------------------------------------------------- the suite's rows

rows!(Double =>
    auth::an_expired_token_is_token_expired,
    auth::browsing_needs_no_token_when_public,
    booking::an_expired_pass_is_refused_and_gone_from_polling,
);

#[tokio::test]
async fn gateway_auth_and_browse_follow_the_spec() {
    let d = auth::gateway_auth_and_browse_follow_the_spec::<Double>().await;
    // The double's own log and counters agree with every answer counted.
    let (c, sent) = (d.server.counts(), d.counts().sent());
    assert_eq!(c.requests, sent);
    let seen = d.server.seen();
    assert_eq!(seen.len() as u64, sent);
    assert_eq!(seen[0].body, GOOD_LOGIN);
    assert_eq!(c.missing_key, 2);
    assert_eq!(c.by_route["GET *"], statuses(&[(404, 3)]));
    assert_eq!(c.by_route["POST *"], statuses(&[(404, 1)]));
    assert!(c.keys_seen.is_empty(), "no key was sent: {:?}", c.keys_seen);
    // The simulator's ledger route is no route of the real API.
    let ledger = Row::get(
        "simulator ledger",
        "/__sim/ledger",
        404,
        Shape::Nested("NOT_FOUND"),
    );
    run(&Http::new(&d), &ledger).await;
}

#[tokio::test]
async fn queue_join_poll_and_pass_after_the_wait() {
    let (d, a) = queue::queue_join_poll_and_pass_after_the_wait::<Double>().await;
    // The double keeps every key and every wait.
    let c = d.server.counts();
    assert_eq!(c.keys_seen.len(), 5, "{:?}", c.keys_seen);
    let waited = c
        .queue_time
        .iter()
        .all(|t| *t >= Duration::from_millis(300));
    assert!(
        waited,
        "join -> pass is at least the wait: {:?}",
        c.queue_time
    );
    // It counts early polls: back-to-back ones are, one after a second's
    // pause is not.
    assert!(c.early_polls >= 1, "{c:?}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let poll = Row::get(
        "poll after a pause",
        POSITION,
        200,
        Shape::Fields(POSITION_FIELDS),
    );
    run(&Http::new(&d), &poll.auth(&a)).await;
    let after = d.server.counts();
    assert_eq!(after.early_polls, c.early_polls);
    assert_eq!(
        after.polls,
        d.counts().of("queue_position").values().sum::<u64>()
    );
}

#[tokio::test]
async fn sse_frames_until_the_one_with_the_pass() {
    let (d, read) = queue::sse_frames_until_the_one_with_the_pass::<Double>().await;
    // The double counts position frames and Last-Event-IDs.
    let c = d.server.counts();
    assert_eq!(c.last_event_ids_received, 0);
    assert_eq!(c.stream_frames, read, "every position frame sent was read");
}

#[tokio::test]
async fn sse_reconnect_keepalive_and_timeout() {
    let d = queue::sse_reconnect_keepalive_and_timeout::<Double>().await;
    let c = d.server.counts();
    let streams = (c.streams_opened, c.stream_frames, c.last_event_ids_received);
    assert_eq!(streams, (1, 1, 1));
}

#[tokio::test]
async fn reserve_rows_and_the_one_shot_pass() {
    let (d, _) = booking::reserve_rows_and_the_one_shot_pass::<Double>().await;
    let c = d.server.counts();
    let executed = (c.reserves_executed, c.seats_booked, c.missing_key);
    assert_eq!(
        executed,
        (4, 3, 1),
        "executed: unknown zone, too few seats, two bookings (3 seats); one without a key"
    );
    assert_eq!(
        c.keys_seen.len(),
        12 + 2,
        "the 12 reserve keys and the 2 join keys"
    );
}

#[tokio::test]
async fn the_per_user_limit() {
    let d = booking::the_per_user_limit::<Double>().await;
    let c = d.server.counts();
    assert_eq!((c.seats_booked, c.reserves_executed), (5, 4));
}

#[tokio::test]
async fn same_key_replays_byte_for_byte_500s_included() {
    let d = idempotency::same_key_replays_byte_for_byte_500s_included::<Double>().await;
    let c = d.server.counts();
    assert_eq!(c.reserves_executed, 2, "replays do not reach the inventory");
    let keys: Vec<&str> = c.keys_seen.iter().map(String::as_str).collect();
    assert_eq!(keys, ["K1", "K2"]);
}

#[tokio::test]
async fn in_progress_while_running_and_the_booking_outlives_a_client_timeout() {
    let d = idempotency::in_progress_while_running_and_the_booking_outlives_a_client_timeout::<
        Double,
    >()
    .await;
    assert_eq!(d.server.counts().reserves_executed, 2);
}

#[tokio::test]
async fn confirm_and_release() {
    let d = booking::confirm_and_release::<Double>().await;
    assert_eq!(d.server.counts().expired, 0);
}

#[tokio::test]
async fn confirm_after_the_reservation_ttl_is_410_expired_and_browse_lags() {
    let d =
        booking::confirm_after_the_reservation_ttl_is_410_expired_and_browse_lags::<Double>().await;
    // The double counts its 410 answers.
    assert_eq!(d.server.counts().expired, 1);
}

#[tokio::test]
async fn rate_limit_per_forwarded_ip_and_class() {
    let d = limits::rate_limit_per_forwarded_ip_and_class::<Double>().await;
    let c = d.server.counts();
    assert_eq!((c.rate_limited, c.requests), (3, 12));
}

// --------------------------------------------------- rows only the double runs

/// The simulator does not cut streams.
#[tokio::test]
async fn a_cut_stream_is_resumed_after_its_last_event_id() {
    let d = Double {
        server: BookingRush::start(Config {
            sse_cut_first: 1,
            ..config(&queue::timing_out())
        })
        .await,
    };
    let http = Http::new(&d);
    let a = queued(&http, "a@x.io").await;
    // Cut by the server after its first frame.
    let (frames, comments) = parse_sse(&text(&stream(&http, &a, None).await));
    assert_eq!(frames.len(), 1, "{frames:?}");
    let first = (frames[0].id, frames[0].event.as_deref());
    assert_eq!((first, comments), ((Some(1), Some("position")), 0));
    // The reconnect carries Last-Event-ID; ids go on.
    queue::check_resumed(&stream(&http, &a, Some("1")).await, 2);
    let c = d.server.counts();
    let streams = (c.streams_opened, c.stream_frames, c.last_event_ids_received);
    assert_eq!(streams, (2, 2, 1));
}
