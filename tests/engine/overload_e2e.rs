//! The overload-control family end to end, on loopback: each preset's
//! signature effect against the embedded simulator's injected failures,
//! with stampede's counts checked against what the target saw (the
//! simulator's ledger, or a logging server's request log).

use crate::common;

use common::logserver::{LogServer, envelope};
use common::run;
use common::scenario::Scenario;
use stampede::report::FleetResult;
use std::collections::BTreeMap;

/// `users` buyers over `over`, one reserve each (no idempotency key, so
/// every retry draws its own fault), against a simulator that fails a
/// share `error_rate` of reserves with a 500; `policies` defines the fleets
/// `compare` runs.
fn drop_against_the_sim(
    users: u32,
    over: &str,
    error_rate: f64,
    compare: &[&str],
    policies: &str,
) -> Scenario {
    common::scenario()
        .compare(compare)
        .ticket_drop(users, over)
        .drain("30s")
        .event("E1", &["A"])
        .steps(r#"[{ name = "reserve", method = "POST", path = "/bookings/reserve", body = '{"eventId":"E1","zoneId":"A","quantity":1}' }]"#)
        .sim_e1_a(7, 100, 100_000)
        .no_sim_rate_limit()
        .sim_capacity("0ms", 64)
        .table(&format!("[sim.faults]\nerror_rate = {error_rate}"))
        .table(policies)
}

/// Requests the simulator answered on the reserve route, whatever the status.
fn sim_saw(c: &FleetResult) -> u64 {
    let ledger = c.ledger.as_ref().expect("the embedded simulator's ledger");
    ledger
        .requests
        .get("reserve")
        .map_or(0, |by| by.values().sum())
}

fn outcome(c: &FleetResult, label: &str) -> u64 {
    c.counts.outcomes.get(label).copied().unwrap_or(0)
}

/// Every reserve fails: the fleet's retry quota (500, 14 a transient
/// retry) pays for exactly 35 retries, then each failure is final.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_standard_stops_retrying_when_its_quota_is_empty() {
    let src = drop_against_the_sim(100, "500ms", 1.0, &["aws-standard"], "");
    let r = run(&src.plan()).await;
    let c = &r.results[0];
    assert_eq!(c.counts.operations, 100);
    assert_eq!(c.counts.retries, 500 / 14, "{:?}", c.counts.outcomes);
    assert_eq!(c.counts.attempts, 100 + 35);
    assert_eq!(
        sim_saw(c),
        c.counts.attempts,
        "every attempt reached the simulator"
    );
    assert_eq!(c.counts.not_sent, 0);
    // Operations the quota stopped, and those that spent their 3 attempts.
    let exhausted = outcome(c, "BUDGET_EXHAUSTED");
    let gave_up = outcome(c, "GAVE_UP/INTERNAL_ERROR");
    assert!(exhausted >= 100 - 35, "{:?}", c.counts.outcomes);
    assert_eq!(exhausted + gave_up, 100, "{:?}", c.counts.outcomes);
    assert_eq!(
        c.policy_detail.budget.map(|b| b.scope),
        Some(stampede::policy::Scope::Fleet)
    );
}

/// Every reserve fails: a Finagle budget (20%, 1 retry a second over a
/// 10 s TTL). Each operation deposits 1000 units once, as Finagle's retry
/// filter does; a retry withdraws 1000 / 20% = 5000; the reserve is
/// 1/s x 10 s x 5000 = 50,000. 100 operations fund (100,000 + 50,000) /
/// 5000 = 30 retries, although the policy would send 300. A retry is
/// refused only below one withdrawal, and the balance moves in steps of
/// 5000 once the last deposit is in: exactly 30.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finagle_budget_caps_retries_at_its_share_of_requests() {
    let policies = r#"
[policies.fin]
preset = "compliant"
base_delay = "20ms"
max_delay = "100ms"
budget = { kind = "finagle", percent = 0.2, min_per_second = 1, ttl = "10s" }
"#;
    let src = drop_against_the_sim(100, "500ms", 1.0, &["fin"], policies);
    let r = run(&src.plan()).await;
    let c = &r.results[0];
    assert_eq!(c.counts.operations, 100);
    assert_eq!(c.counts.retries, 30, "{:?}", c.counts.outcomes);
    assert_eq!(
        sim_saw(c),
        c.counts.attempts,
        "every attempt reached the simulator"
    );
    assert!(
        outcome(c, "BUDGET_EXHAUSTED") > 0,
        "{:?}",
        c.counts.outcomes
    );
}

/// Sustained failure (every reserve fails): the SRE throttle fails attempts
/// locally, first attempts and retries alike, at p = (requests - 2 accepts)
/// / (requests + 1), which climbs towards 1 as nothing is accepted; the
/// simulator saw exactly the attempts that were not rejected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sre_throttling_rejects_locally_and_the_target_never_sees_it() {
    let policies = r#"
[policies.sre]
preset = "sre-throttling"
base_delay = "20ms"
max_delay = "100ms"
"#;
    let src = drop_against_the_sim(300, "1s", 1.0, &["sre"], policies);
    let r = run(&src.plan()).await;
    let c = &r.results[0];
    assert_eq!(c.counts.operations, 300);
    let rejected = outcome(c, "REJECTED_LOCALLY");
    assert!(rejected > 0, "{:?}", c.counts.outcomes);
    // A rejected attempt ends its operation: one per operation so rejected,
    // all of them never sent.
    assert_eq!(c.counts.not_sent, rejected);
    assert_eq!(sim_saw(c), c.counts.attempts - rejected);
    // Without the throttle every operation would send 1 + 3 attempts; with
    // it the target saw fewer requests than operations were asked for.
    assert!(sim_saw(c) > 0 && sim_saw(c) < 300, "saw {}", sim_saw(c));
    // Amplification counts what the target saw.
    let saw_per_op = sim_saw(c) as f64 / 300.0;
    assert!(
        (c.counts.amplification - saw_per_op).abs() < 1e-9,
        "{} vs {saw_per_op}",
        c.counts.amplification
    );
    let step = &c.steps[0];
    assert_eq!(
        step.attempt_latency_by_class_ms
            .get("rejected_locally")
            .map(|p| p.count),
        Some(rejected)
    );
}

/// Half the reserves fail. One token bucket (gRPC's 10 / 0.1) per user
/// lets every user retry; one for the whole fleet of 1,000 runs dry at
/// once and holds retries back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_per_user_amplifies_more_than_one_per_fleet() {
    let policies = r#"
[policies.per-user]
preset = "compliant"
base_delay = "10ms"
max_delay = "50ms"
breaker_enabled = false
budget = { max_tokens = 10.0, token_ratio = 0.1, scope = "user" }

[policies.per-fleet]
preset = "compliant"
base_delay = "10ms"
max_delay = "50ms"
breaker_enabled = false
budget = { max_tokens = 10.0, token_ratio = 0.1, scope = "fleet" }
"#;
    let src = drop_against_the_sim(1000, "2s", 0.5, &["per-user", "per-fleet"], policies);
    let r = run(&src.plan()).await;
    let by: BTreeMap<&str, &FleetResult> = r.results.iter().map(|c| (c.name.as_str(), c)).collect();
    let (user, fleet) = (by["per-user"], by["per-fleet"]);
    for c in [user, fleet] {
        assert_eq!(c.counts.operations, 1000, "{}", c.name);
        assert_eq!(sim_saw(c), c.counts.attempts, "{}", c.name);
    }
    // Per user: up to 3 retries at 50% failure, ~1.9 attempts an operation.
    // Per fleet: 10 tokens for everyone, ~1.0.
    assert!(
        user.counts.amplification > 1.6,
        "per user {}",
        user.counts.amplification
    );
    assert!(
        fleet.counts.amplification < 1.2,
        "per fleet {}",
        fleet.counts.amplification
    );
    assert!(
        outcome(fleet, "BUDGET_EXHAUSTED") > 100,
        "{:?}",
        fleet.counts.outcomes
    );
    assert_eq!(
        outcome(user, "BUDGET_EXHAUSTED"),
        0,
        "{:?}",
        user.counts.outcomes
    );
}

fn against(url: &str, policy: &str) -> Scenario {
    common::scenario::reserves_against(url, "p", 5)
        .drain("20s")
        .table(&format!("[policies.p]\n{policy}"))
}

/// Each attempt carries its number in the header the policy names; the
/// server answers 503 until the third.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_attempt_header_reaches_the_server() {
    let server = LogServer::start(|s| match s.header("x-retry-attempt") {
        Some("3") => (201, vec![], r#"{"success":true}"#.to_string()),
        _ => (503, vec![], envelope("SERVICE_UNAVAILABLE")),
    })
    .await;
    let policy = r#"preset = "compliant"
base_delay = "10ms"
attempt_header = "X-Retry-Attempt""#;
    let r = run(&against(&server.url(), policy).plan()).await;
    let c = &r.results[0];
    let seen = server.seen();
    assert_eq!(seen.len() as u64, c.counts.attempts);
    assert_eq!(c.counts.attempts, 15);
    assert_eq!(outcome(c, "OK"), 5);
    let mut by_op: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in &seen {
        by_op
            .entry(s.header("x-stampede-op").unwrap_or("").to_string())
            .or_default()
            .push(s.header("x-retry-attempt").unwrap_or("none").to_string());
    }
    assert_eq!(by_op.len(), 5);
    for numbers in by_op.values() {
        assert_eq!(numbers, &["1", "2", "3"]);
    }
}

/// gRPC pushback read off the wire: "-1" says do not retry (one attempt
/// each), "5" says retry after 5 ms (two attempts, the second answered).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_pushback_from_the_server_is_obeyed() {
    let stop = LogServer::start(|_| {
        (
            503,
            vec![("grpc-retry-pushback-ms", "-1".to_string())],
            envelope("SERVICE_UNAVAILABLE"),
        )
    })
    .await;
    let policy = "preset = \"grpc\"\nattempt_header = \"X-Retry-Attempt\"";
    let r = run(&against(&stop.url(), policy).plan()).await;
    let c = &r.results[0];
    assert_eq!((c.counts.attempts, c.counts.retries), (5, 0));
    assert_eq!(stop.seen().len(), 5);
    assert_eq!(
        outcome(c, "SERVICE_UNAVAILABLE"),
        5,
        "{:?}",
        c.counts.outcomes
    );

    let later = LogServer::start(|s| match s.header("x-retry-attempt") {
        Some("1") => (
            503,
            vec![("grpc-retry-pushback-ms", "5".to_string())],
            envelope("SERVICE_UNAVAILABLE"),
        ),
        _ => (201, vec![], r#"{"success":true}"#.to_string()),
    })
    .await;
    let r = run(&against(&later.url(), policy).plan()).await;
    let c = &r.results[0];
    assert_eq!((c.counts.attempts, c.counts.retries), (10, 5));
    assert_eq!(later.seen().len(), 10);
    assert_eq!(outcome(c, "OK"), 5);
}
