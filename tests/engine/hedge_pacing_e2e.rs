//! `hedged` and `rate-limit-aware` end to end, on loopback: each preset's
//! signature effect against the embedded simulator, compared with
//! `compliant` on the same target in the same run, with stampede's counts
//! checked against what the simulator saw.

use crate::common;

use common::run;
use common::scenario::Scenario;
use stampede::report::FleetResult;
use std::collections::BTreeMap;

/// `users` buyers over 1 s, each reserving once (the reserve `idempotent`
/// or not), against a simulator where a share `slow` of reserves takes
/// 300 ms more (a slow tail) and nothing fails.
fn slow_tail(
    users: u32,
    slow: f64,
    idempotent: bool,
    compare: &[&str],
    policies: &str,
) -> Scenario {
    common::scenario()
        .compare(compare)
        .ticket_drop(users, "1s")
        .drain("30s")
        .event("E1", &["A"])
        .steps(&format!(
            r#"[{{ name = "reserve", method = "POST", path = "/bookings/reserve", idempotent = {idempotent}, body = '{{"eventId":"E1","zoneId":"A","quantity":1}}' }}]"#
        ))
        .sim_e1_a(11, 100, 100_000)
        .no_sim_rate_limit()
        .sim_capacity("1ms", 1000)
        .table(&format!(
            "[sim.faults]\nlatency_rate = {slow}\nextra_latency = \"300ms\""
        ))
        .table(policies)
}

/// Requests the simulator counted on `route`, by status.
fn sim_saw(c: &FleetResult, route: &str) -> BTreeMap<u16, u64> {
    let ledger = c.ledger.as_ref().expect("the embedded simulator's ledger");
    ledger.requests.get(route).cloned().unwrap_or_default()
}

fn total(by: &BTreeMap<u16, u64>) -> u64 {
    by.values().sum()
}

fn by_name(r: &stampede::report::Report) -> BTreeMap<&str, &FleetResult> {
    r.results.iter().map(|c| (c.name.as_str(), c)).collect()
}

/// A 3% slow tail: the compliant fleet's p99 is the slow tail itself; the
/// hedged one (after the step's p95) waits for the slower of two copies
/// only when both are slow (0.09%). Without a key, a hedge of a reserve is
/// a second booking: the simulator's ledger shows the duplicates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hedging_cuts_the_tail_and_books_twice_without_a_key() {
    let src = slow_tail(400, 0.03, false, &["compliant", "hedged"], "");
    let r = run(&src.plan()).await;
    let by = by_name(&r);
    let (plain, hedged) = (by["compliant"], by["hedged"]);
    for c in [plain, hedged] {
        assert_eq!(c.counts.operations, 400, "{}", c.name);
        assert_eq!(
            c.counts.success_rate, 1.0,
            "{}: {:?}",
            c.name, c.counts.outcomes
        );
        // Every attempt stampede counts as sent, hedges and dropped losers
        // included, is one the simulator saw.
        assert_eq!(
            total(&sim_saw(c, "reserve")),
            c.counts.attempts - c.counts.not_sent,
            "{}",
            c.name
        );
    }
    assert_eq!(plain.counts.hedges, 0);
    assert!(
        hedged.counts.hedges > 0 && hedged.counts.hedge_wins > 0,
        "{hedged:?}"
    );
    assert!(hedged.counts.hedge_wins <= hedged.counts.hedges);
    assert_eq!(hedged.steps[0].hedges, hedged.counts.hedges);
    assert_eq!(
        hedged.counts.retries, hedged.counts.hedges,
        "nothing failed: every extra attempt is a hedge"
    );
    // The tail: compliant's p99 is a slow answer; hedged's is not.
    let (p99, h99) = (
        plain.latency.operation_latency_ms.p99,
        hedged.latency.operation_latency_ms.p99,
    );
    assert!(p99 >= 300.0, "compliant p99 {p99} ms");
    assert!(h99 * 3.0 < p99, "hedged p99 {h99} ms against {p99} ms");
    // The harm: a hedged reserve without a key booked twice.
    let dup = |c: &FleetResult| c.ledger.as_ref().map_or(0, |l| l.duplicates);
    assert_eq!(dup(plain), 0);
    assert!(dup(hedged) > 0, "hedges {}", hedged.counts.hedges);
    assert!(dup(hedged) <= hedged.counts.hedges);
}

/// The same hedges on a reserve that carries the idempotency key: every
/// copy sends the operation's key, and the simulator books once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hedge_with_the_key_does_not_book_twice() {
    let policies = r#"
[policies.hedge-10ms]
preset = "hedged"
hedge = { after = "10ms" }
"#;
    let src = slow_tail(200, 0.1, true, &["hedge-10ms"], policies);
    let r = run(&src.plan()).await;
    let c = &r.results[0];
    assert_eq!(c.counts.operations, 200);
    assert!(c.counts.hedges > 0, "{:?}", c.counts.outcomes);
    let ledger = c.ledger.as_ref().expect("ledger");
    assert_eq!(ledger.duplicates, 0);
    assert_eq!(
        ledger.bookings_created,
        c.counts.outcomes.get("OK").copied().unwrap_or(0)
    );
    assert_eq!(
        total(&sim_saw(c, "reserve")),
        c.counts.attempts - c.counts.not_sent
    );
}

/// `users` buyers over 1 s, each reserving `steps` times in a row, against
/// a per-user limit of 2 a second (burst 2); 429s carry Retry-After and
/// every answer X-RateLimit-Remaining / X-RateLimit-Reset.
fn rate_limited(users: u32, steps: usize, compare: &[&str]) -> Scenario {
    let steps: Vec<String> = (0..steps)
        .map(|i| {
            format!(
                r#"{{ name = "reserve{i}", method = "POST", path = "/bookings/reserve", body = '{{"eventId":"E1","zoneId":"A","quantity":1}}' }}"#
            )
        })
        .collect();
    common::scenario()
        .compare(compare)
        .ticket_drop(users, "1s")
        .drain("60s")
        .event("E1", &["A"])
        .steps(&format!("[{}]", steps.join(",\n")))
        .sim_e1_a(5, 1000, 100_000)
        .table("[sim.rate_limit]\nper_user_per_second = 2\nper_user_burst = 2")
        .sim_capacity("0ms", 64)
}

/// Each user books 5 times in a row against 2 a second: `compliant` runs
/// into the limit and waits out each 429's Retry-After; `rate-limit-aware`
/// reads X-RateLimit-Remaining: 0 on the answer that took the last token
/// and holds its next request until X-RateLimit-Reset, so the simulator
/// answers it (almost) no 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pacing_on_the_headers_leaves_no_request_at_zero() {
    let src = rate_limited(20, 5, &["compliant", "rate-limit-aware"]);
    let r = run(&src.plan()).await;
    let by = by_name(&r);
    let (plain, aware) = (by["compliant"], by["rate-limit-aware"]);
    let limited = |c: &FleetResult| sim_saw(c, "reserve").get(&429).copied().unwrap_or(0);
    for c in [plain, aware] {
        assert_eq!(c.counts.operations, 100, "{}", c.name);
        assert_eq!(
            c.counts.success_rate, 1.0,
            "{}: {:?}",
            c.name, c.counts.outcomes
        );
        assert_eq!(
            total(&sim_saw(c, "reserve")),
            c.counts.attempts,
            "{}",
            c.name
        );
    }
    // Compliant: the third reserve of every user is refused at least once.
    assert!(limited(plain) >= 20, "compliant 429s {}", limited(plain));
    // Aware: nothing was sent at remaining 0 (a second boundary may slip one).
    assert!(
        limited(aware) * 10 <= limited(plain) && limited(aware) <= 2,
        "aware 429s {} against {}",
        limited(aware),
        limited(plain)
    );
    assert_eq!(aware.counts.retries, limited(aware));
}
