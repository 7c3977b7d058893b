//! Typed outcomes and honest retry accounting, end to end: what the report
//! says against what the target saw.

use crate::common;

use common::logserver::{LogServer, envelope};
use common::run;
use common::scenario::Scenario;
use stampede::report::FleetResult;
use stampede::scenario::{self, Overrides};
use std::collections::BTreeMap;
use std::path::Path;

fn step<'a>(c: &'a FleetResult, name: &str) -> &'a stampede::report::StepResult {
    c.steps.iter().find(|s| s.name == name).expect("step")
}

fn naive_drop(seats_a: u32, seats_b: u32) -> Scenario {
    common::scenario()
        .compare(&["naive"])
        .ticket_drop(20, "200ms")
        .drain("20s")
        .quantity(1)
        .no_sim_rate_limit()
        .table("[sim.capacity]\nservice_time = \"0ms\"\nlatency_per_in_flight = \"0ms\"")
        .table(&format!(
            "[[sim.events]]\nid = \"E1\"\nzones = [{{ id = \"A\", seats = {seats_a} }}, {{ id = \"B\", seats = {seats_b} }}]"
        ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_naive_client_that_gave_up_on_a_sold_out_zone_moves_to_the_next() {
    // Zone A has one seat; half the users start there (arrival index mod zones).
    let r = run(&naive_drop(1, 100).plan()).await;
    let c = &r.results[0];
    assert_eq!(c.counts.journeys.started, 20);
    assert_eq!(c.counts.journeys.failed, 0, "{:?}", c.counts.outcomes);
    assert_eq!(c.counts.journeys.succeeded, 20, "{:?}", c.counts.outcomes);
    // The nine who lost zone A each retried the sold-out answer to the naive
    // limit; the report keeps the cause, and they moved on to zone B.
    let reserve = step(c, "reserve");
    assert_eq!(
        reserve.outcomes.get("GAVE_UP/INSUFFICIENT_SEATS"),
        Some(&9),
        "{:?}",
        reserve.outcomes
    );
    assert_eq!(reserve.outcomes.get("OK"), Some(&20));
    // 9 x (1 try + 10 naive retries) on A, the winner's one try, 19 on B.
    assert_eq!(reserve.attempts, 9 * 11 + 1 + 19);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_naive_client_on_sold_out_zones_is_sold_out_not_failed() {
    // Two seats in all for twenty buyers.
    let r = run(&naive_drop(1, 1).plan()).await;
    let c = &r.results[0];
    assert_eq!(c.counts.journeys.succeeded, 2, "{:?}", c.counts.outcomes);
    assert_eq!(c.counts.journeys.sold_out, 18, "{:?}", c.counts.outcomes);
    assert_eq!(c.counts.journeys.failed, 0);
    let reserve = step(c, "reserve");
    let gave_up = reserve.outcomes.get("GAVE_UP/INSUFFICIENT_SEATS").copied();
    assert!(gave_up >= Some(18), "{:?}", reserve.outcomes);
    assert_eq!(reserve.outcomes.len(), 2, "only OK and the sold-out cause");
}

fn against(url: &str, extra: &str) -> Scenario {
    common::scenario::reserves_against(url, "compliant", 4)
        .drain("20s")
        .table(extra)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_code_named_ok_on_a_409_is_not_a_success() {
    let server = LogServer::start(|_| (409, vec![], envelope("OK"))).await;
    let r = run(&against(&server.url(), "").plan()).await;
    let c = &r.results[0];
    assert_eq!(c.counts.success_rate, 0.0);
    assert_eq!(c.counts.journeys.failed, 4);
    assert_eq!(
        c.counts.outcomes,
        BTreeMap::from([("target:OK".to_string(), 4)])
    );
    assert_eq!(server.seen().len() as u64, c.counts.attempts);
}

/// Always 503 with `Retry-After: 1`; a breaker that opens after 2 failures.
/// Per operation the target sees the first try and one honoured retry; the
/// second retry would wake into an open breaker, so it is never sent, and
/// never counted as honoured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_the_breaker_cancels_is_not_counted_and_not_waited_for() {
    let server = LogServer::start(|_| {
        (
            503,
            vec![("retry-after", "1".to_string())],
            envelope("SERVICE_UNAVAILABLE"),
        )
    })
    .await;
    let extra = r#"
[policies.compliant]
breaker = { threshold = 2, open_for = "30s" }
"#;
    let r = run(&against(&server.url(), extra).plan()).await;
    let c = &r.results[0];
    let seen = server.seen();
    assert_eq!(c.counts.operations, 4);
    assert_eq!(
        seen.len() as u64,
        c.counts.attempts,
        "attempts equal what the target saw"
    );
    assert_eq!(c.counts.attempts, 8, "{:?}", c.counts.outcomes);
    assert_eq!(
        c.retry.retry_after_honoured, 4,
        "one honoured retry per operation, as sent"
    );
    assert_eq!(c.harm.early_retries, 0);
    assert_eq!(
        c.counts.outcomes,
        BTreeMap::from([("BREAKER_OPEN".to_string(), 4)])
    );
    // Each retry came a Retry-After after its first try, by the server's clock.
    let mut by_op: BTreeMap<String, Vec<std::time::Instant>> = BTreeMap::new();
    for s in &seen {
        by_op
            .entry(s.header("x-stampede-op").unwrap_or("").to_string())
            .or_default()
            .push(s.at);
    }
    assert_eq!(by_op.len(), 4);
    for times in by_op.values() {
        assert_eq!(times.len(), 2);
        assert!(times[1] - times[0] >= std::time::Duration::from_millis(990));
    }
    // The operation ended when the breaker opened, not a backoff later: its
    // latency is the one honoured wait (1 s) plus two quick answers, far from
    // the 2 s it would take had it slept before finding the breaker open.
    assert!(
        c.latency.operation_latency_ms.max < 1_800.0,
        "{:?}",
        c.latency.operation_latency_ms
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused_is_named_and_counted_per_attempt() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let extra = r#"
[policies.compliant]
base_delay = "10ms"
max_delay = "20ms"
"#;
    let r = run(&against(&format!("http://127.0.0.1:{port}"), extra).plan()).await;
    let c = &r.results[0];
    assert_eq!(
        c.counts.outcomes,
        BTreeMap::from([("GAVE_UP/CONNECT_REFUSED".to_string(), 4)])
    );
    assert_eq!(c.counts.attempts, 16);
}

#[test]
fn ticket_drop_amplification_compares_the_reserve_step_of_both_fleets() {
    let p = scenario::load(
        Path::new("scenarios/ticket-drop.toml"),
        &Overrides::default(),
    )
    .expect("scenario");
    let names: Vec<&str> = p
        .journey
        .amplification_steps
        .iter()
        .map(|&i| p.journey.steps[i].name.as_str())
        .collect();
    assert_eq!(names, ["reserve"]);
    assert!(p.rounds.len() >= 2, "two fleets compared");
}
