//! The whole network path, end to end, against the embedded simulator on
//! 127.0.0.1:0: plan -> engine -> client -> simulator -> report model.

use crate::common;

use common::run;
use stampede::engine::Control;
use stampede::report::{FleetResult, Report, RunStatus};
use stampede::scenario::{self, Overrides};
use std::path::Path;
use std::time::Duration;

fn fleet<'a>(r: &'a Report, name: &str) -> &'a FleetResult {
    r.results
        .iter()
        .find(|c| c.name == name)
        .expect("fleet present")
}

/// 300 buyers for 120 seats against a simulator failing a fifth of the
/// bookings and resetting a tenth of the connections after the commit.
fn drop_scenario() -> common::scenario::Scenario {
    common::scenario()
        .compare(&["compliant", "naive"])
        .ticket_drop(300, "500ms")
        // Generous: two operations each backing off three times can take ~21 s.
        .drain("60s")
        .quantity(1)
        .table(
            r#"[sim]
seed = 3
[[sim.events]]
id = "E1"
zones = [{ id = "A", seats = 60 }, { id = "B", seats = 60 }]"#,
        )
        .no_sim_rate_limit()
        .table("[sim.faults]\nerror_rate = 0.2\nreset_after_commit = 0.1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compliant_and_naive_fleets_against_the_simulator() {
    let p = drop_scenario().plan();
    let r = run(&p).await;
    assert_eq!(r.status, RunStatus::Completed);
    assert_eq!(r.results.len(), 2);
    let c = fleet(&r, "compliant");
    let n = fleet(&r, "naive");
    for x in [c, n] {
        let ledger = x.ledger.as_ref().expect("embedded target has a ledger");
        assert_eq!(ledger.oversold, 0, "{}: never oversold", x.name);
        assert_eq!(
            x.counts.journeys.started, 300,
            "{}: every user arrived",
            x.name
        );
        assert_eq!(
            x.counts.journeys.cancelled, 0,
            "{}: drained in time",
            x.name
        );
        // Every attempt we sent reached the server, and nothing else did.
        let server_seen: u64 = ledger
            .requests
            .iter()
            .filter(|(ep, _)| ep.as_str() != "sim")
            .flat_map(|(_, by)| by.values())
            .sum();
        assert_eq!(
            server_seen, x.counts.attempts,
            "{}: attempts vs server",
            x.name
        );
        // Ops = sum of outcomes; attempts >= ops.
        assert_eq!(x.counts.outcomes.values().sum::<u64>(), x.counts.operations);
        assert!(x.counts.attempts >= x.counts.operations);
        let sold: u32 = ledger.zones.values().map(|z| z.sold + z.reserved).sum();
        assert!(sold <= 120);
    }
    // 20% injected 500s: both retry, but the naive fleet never backs off and
    // ignores sold-out answers, so it multiplies the load more.
    assert!(c.counts.retries > 0, "compliant retried the injected 500s");
    assert!(
        n.counts.amplification > c.counts.amplification,
        "naive {} vs compliant {}",
        n.counts.amplification,
        c.counts.amplification
    );
    // Same-key retries cannot create duplicates; fresh keys after a reset-after-commit can.
    assert_eq!(c.ledger.as_ref().map(|l| l.duplicates), Some(0));
    // Compliant clients pre-check availability; naive ones never do.
    assert!(c.steps[0].operations > 0);
    assert_eq!(n.steps[0].operations, 0);
    // The report's own per-second series add up to its totals.
    let series_attempts: u64 = c.timeseries.iter().map(|s| s.attempts).sum();
    assert_eq!(series_attempts, c.counts.attempts);
    assert!(c.latency.operation_latency_ms.p99 >= c.latency.operation_latency_ms.p50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_model_holds_its_rate_and_measures_from_the_schedule() {
    let p = common::scenario()
        .compare(&["no-retry"])
        .open("2s", 200)
        .steps(r#"[{ name = "availability", path = "/events/E1/zones/A/availability" }]"#)
        .no_sim_rate_limit()
        .plan();
    let r = run(&p).await;
    let c = &r.results[0];
    assert_eq!(c.counts.operations, 400, "2 s x 200/s");
    assert_eq!(c.counts.outcomes.get("OK"), Some(&400));
    assert_eq!(c.counts.amplification, 1.0);
    assert_eq!(c.latency.schedule_lag_ms.count, 400);
    let arrivals: u64 = c.timeseries.iter().map(|s| s.arrivals).sum();
    assert_eq!(arrivals, 400);
    assert!(c.timeseries.len() >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_target_still_produces_a_report() {
    // A port free a moment ago is (almost certainly) closed.
    let port = common::free_port();
    let p = common::scenario()
        .compare(&["compliant"])
        .target(&format!("http://127.0.0.1:{port}"))
        .ticket_drop(20, "100ms")
        .drain("5s")
        .event("E1", &["A"])
        .table("[policies.compliant]\nbase_delay = \"10ms\"\nmax_delay = \"20ms\"")
        .plan();
    let r = run(&p).await;
    let c = &r.results[0];
    assert_eq!(c.counts.journeys.started, 20);
    assert_eq!(c.counts.journeys.succeeded, 0);
    assert!(c.ledger.is_none());
    // Every operation says why it gave up: nothing was listening.
    assert_eq!(
        c.counts.outcomes,
        std::collections::BTreeMap::from([(
            "GAVE_UP/CONNECT_REFUSED".to_string(),
            c.counts.operations
        )]),
    );
    assert_eq!(
        c.attempts_per_operation.get(&4),
        Some(&c.counts.operations),
        "1 try + 3 network retries each"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_mid_run_drains_and_reports_interrupted() {
    let p = crate::common::scenario()
        .compare(&["compliant", "naive"])
        .open("30s", 50)
        .drain("5s")
        .plan();
    let control = Control::default();
    let stopper = control.clone();
    let board = std::sync::Arc::new(stampede::board::Board::default());
    let progress = stampede::engine::Progress::with_display(false, board.clone());
    // Stopped once the first round has sent attempts, as a Ctrl-C would.
    tokio::spawn(async move {
        let sent = || {
            board
                .fleets()
                .iter()
                .any(|f| f.live.attempts.load(std::sync::atomic::Ordering::Relaxed) > 0)
        };
        common::eventually("the first attempts", Duration::from_secs(30), sent).await;
        stopper.stop.cancel();
    });
    let r = stampede::run::execute(&p, &control, Some(&progress))
        .await
        .unwrap()
        .report;
    assert_eq!(r.status, RunStatus::Interrupted);
    assert!(r.stop_reason.is_some());
    assert_eq!(r.results.len(), 1, "the second round never started");
    let c = &r.results[0];
    assert!(c.counts.journeys.started > 0 && c.counts.journeys.started < 1500);
    assert!(c.counts.operations > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_rule_stops_the_run_and_the_report_says_why() {
    let port = common::free_port();
    let p = common::scenario()
        .compare(&["naive", "compliant"])
        .target(&format!("http://127.0.0.1:{port}"))
        .open("60s", 20)
        .drain("5s")
        .event("E1", &["A"])
        .table(
            r#"[safety]
abort = [{ when = "error_rate > 50%", for = "1s" }]"#,
        )
        .plan();
    let control = Control::default();
    let r = stampede::run::execute(&p, &control, None)
        .await
        .unwrap()
        .report;
    assert_eq!(r.status, RunStatus::Aborted);
    let why = r.stop_reason.as_deref().unwrap();
    assert!(why.contains("error_rate > 50%"), "{why}");
    assert_eq!(r.results.len(), 1, "the second fleet never started");
    let c = &r.results[0];
    assert!(
        c.counts.journeys.started < 60 * 20,
        "stopped long before the schedule ended"
    );
    assert!(c.counts.attempts > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_attempt_cap_holds_a_retry_storm_back() {
    let p = common::scenario()
        .compare(&["naive"])
        .open("2s", 40)
        .drain("20s")
        .steps(common::scenario::RESERVE_E1_A)
        .table("[safety]\nmax_rps = 100")
        .no_sim_rate_limit()
        .table("[sim.faults]\nerror_rate = 1.0")
        .plan();
    let r = run(&p).await;
    let c = &r.results[0];
    // 80 operations x 11 attempts = 880 wanted; at most 100/s (+1 burst) may go.
    assert_eq!(c.counts.operations, 80);
    assert_eq!(
        c.counts.attempts, 880,
        "every attempt still happens, just later"
    );
    let bound = 100.0 * c.counts.round_duration_s + 2.0;
    assert!(
        (c.counts.attempts as f64) <= bound,
        "{} attempts in {} s",
        c.counts.attempts,
        c.counts.round_duration_s
    );
}

#[test]
fn a_schedule_above_the_cap_is_a_configuration_error() {
    let e = scenario::parse(
        "[load]\nmodel = \"open\"\nstages = [{ duration = \"1s\", rate = 30000 }]\n",
        Path::new("x.toml"),
        &Overrides::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("20000") && e.contains("--max-rps"), "{e}");
    let raised = Overrides {
        max_rps: Some(40_000.0),
        ..Overrides::default()
    };
    assert!(
        scenario::parse(
            "[load]\nmodel = \"open\"\nstages = [{ duration = \"1s\", rate = 30000 }]\n",
            Path::new("x.toml"),
            &raised,
        )
        .is_ok()
    );
    let e = scenario::parse(
        "[load]\nmodel = \"open\"\nstages = [{ duration = \"1s\", rate = 10 }]\n[safety]\nmax_rps = 50000\n",
        Path::new("x.toml"),
        &Overrides::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("safety.max_rps") && e.contains("hard cap"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impatient_users_abandon_and_resubmit_as_new_operations() {
    let r = run(&common::scenario::impatient_users().plan()).await;
    let c = &r.results[0];
    // Every try is abandoned: 1 operation + 2 resubmissions per user, each a new operation.
    assert_eq!(c.counts.operations, 30);
    assert_eq!(c.counts.outcomes.get("ABANDONED"), Some(&30));
    assert_eq!(c.counts.journeys.failed, 10);
    let ledger = c.ledger.as_ref().unwrap();
    // The server kept working for clients that had left: that is wasted work,
    // and every resubmission (a new key) became another booking.
    assert!(ledger.wasted_work > 0, "{ledger:?}");
    assert_eq!(ledger.bookings_created, 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_fleet_is_reported_per_fleet_with_its_own_early_retries() {
    let p = common::scenario()
        .fleet("compliant", 0.5)
        .fleet("naive", 0.5)
        .ticket_drop(200, "500ms")
        .drain("30s")
        .quantity(1)
        .table("[sim.rate_limit]\nper_user_per_second = 1\nper_user_burst = 1")
        .plan();
    let r = run(&p).await;
    assert_eq!(r.results.len(), 2);
    let c = fleet(&r, "compliant");
    let n = fleet(&r, "naive");
    assert_eq!(c.round, n.round, "one round, one shared target");
    assert_eq!(c.counts.journeys.started + n.counts.journeys.started, 200);
    assert!(
        (90..=110).contains(&c.counts.journeys.started),
        "{}",
        c.counts.journeys.started
    );
    assert_eq!(
        c.harm.early_retries, 0,
        "compliant waits as long as Retry-After says"
    );
    assert!(n.harm.early_retries > 0, "naive ignores Retry-After");
    assert!(c.ledger.as_ref().unwrap().early_retries > 0);
    assert!(
        r.notes.iter().any(|x| x.contains("shared one target")),
        "{:?}",
        r.notes
    );
}

/// Poisson arrivals with a burst, through the engine: every scheduled
/// arrival started (the users plus the burst), the burst's second holds its
/// arrivals, and the same seed gives the same per-second arrivals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poisson_arrivals_and_a_burst_start_every_journey_reproducibly() {
    let p = common::scenario()
        .seed(5)
        .ticket_drop(200, "3s")
        .load_key("arrivals", "\"poisson\"")
        .load_key("bursts", r#"[{ at = "1500ms", count = 150 }]"#)
        .drain("30s")
        .quantity(1)
        .table(
            "[sim]\nseed = 3\n[[sim.events]]\nid = \"E1\"\nzones = [{ id = \"A\", seats = 1000 }]",
        )
        .no_sim_rate_limit()
        .plan();
    let per_second = |r: &Report| -> Vec<u64> {
        fleet(r, "compliant")
            .timeseries
            .iter()
            .map(|s| s.arrivals)
            .collect()
    };
    let a = run(&p).await;
    let c = fleet(&a, "compliant");
    assert_eq!(c.counts.journeys.started, 350);
    assert_eq!(c.counts.journeys.succeeded, 350);
    let series = per_second(&a);
    assert_eq!(series.iter().sum::<u64>(), 350);
    // The burst's second has its 150 on top of about 67 regular arrivals.
    assert!(series[1] >= 150, "{series:?}");
    let b = run(&p).await;
    assert_eq!(per_second(&b), series);
}
