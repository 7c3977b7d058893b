//! Runs through the binary against the embedded simulator's Booking Rush
//! profile (or a `SimServer` of that profile shared by two runs): the
//! shipped staging scenario unchanged, and one test per effect of the real
//! API that a report shows. Every number the report gives is checked
//! against the simulator's ledger (which the report carries).

use super::{LOGIN_STEP, buyer_steps, n, n0, poll_step, run_scenario, users, write};
use crate::common::{self, TempDir};
use serde_json::Value;
use stampede::sim::{EventConfig, SimConfig, SimServer, ZoneConfig};
use std::path::Path;

/// Requests the ledger saw for an endpoint, all statuses.
fn requests(l: &Value, ep: &str) -> u64 {
    l["requests"][ep]
        .as_object()
        .map_or(0, |m| m.values().map(n).sum())
}

/// A buyer's journey against the embedded Booking Rush profile: login,
/// join, wait (polling), reserve with the pass; `users` buyers arriving
/// over `over`. `policies` are the fleets' tables, `sim` extra `[sim...]`
/// text (keys of `[sim.booking_rush]`, or tables after it), `reserve` extra
/// keys of the reserve step.
pub(super) fn scenario(
    fleets: &[&str],
    policies: &str,
    (users, over): (u32, &str),
    sim: &str,
    reserve: &str,
) -> String {
    let steps = buyer_steps("", &poll_step("100ms"), "SHOW-EVT1", reserve);
    common::scenario()
        .compare(fleets)
        .target_key("idempotency_header", "\"X-Idempotency-Key\"")
        .ticket_drop(users, over)
        .drain("60s")
        .event("EVT1", &["Z1"])
        .quantity(1)
        .journey_key("next_zone_on", r#"["INSUFFICIENT_SEATS"]"#)
        .table("[users]\ncsv = \"users.csv\"")
        .table(&steps)
        .table(
            r#"[sim]
api = "booking-rush"
[[sim.events]]
id = "EVT1"
zones = [{ id = "Z1", seats = 1000 }]
[sim.booking_rush]
release_interval = "50ms""#,
        )
        .table(sim)
        .table(policies)
        .toml()
}

/// Fast backoff, so retries happen within the test's seconds.
pub(super) const FAST: &str = "base_delay = \"50ms\"\nmax_delay = \"200ms\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_staging_scenario_runs_against_the_embedded_simulator() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let file = root.join("scenarios/booking-rush-staging.toml");
    let dir = TempDir::new("br-embedded");
    let run = run_scenario(&file, &dir.path().join("out"), &[]).await;
    run.ok();
    assert_eq!(run.summary["status"], "completed");
    for (i, fleet) in ["compliant", "naive"].iter().enumerate() {
        let f = run.fleet(i);
        assert_eq!(f["name"], *fleet);
        let l = run.ledger(i);
        assert_eq!(run.journeys(i, "started"), 20, "{fleet}");
        // Every number the report gives equals the simulator's own.
        let ok = |step: &str| n0(&run.step(i, step)["outcomes"]["OK"]);
        let attempts = |step: &str| n(&run.step(i, step)["attempts"]);
        assert_eq!(
            ok("reserve"),
            n(&l["bookings_created"]),
            "{fleet}: bookings"
        );
        assert_eq!(ok("confirm"), n(&l["bookings_confirmed"]), "{fleet}");
        assert_eq!(ok("release"), n(&l["bookings_released"]), "{fleet}");
        assert_eq!(ok("login"), n(&l["logins"]), "{fleet}: logins");
        assert_eq!(ok("join"), n(&l["queue"]["joins"]), "{fleet}: joins");
        assert_eq!(
            ok("wait"),
            n(&l["queue"]["passes_issued"]),
            "{fleet}: passes"
        );
        assert_eq!(ok("reserve"), n(&l["queue"]["passes_used"]), "{fleet}");
        assert_eq!(
            n(&run.step(i, "wait")["wait"]["polls"]),
            n(&l["queue"]["polls"]),
            "{fleet}: polls"
        );
        for (step, ep) in [
            ("login", "login"),
            ("events", "events"),
            ("join", "queue_join"),
            ("wait", "queue_position"),
            ("reserve", "reserve"),
            ("confirm", "confirm"),
            ("release", "release"),
        ] {
            assert_eq!(attempts(step), requests(l, ep), "{fleet}: {step} attempts");
        }
        let seen: u64 = l["requests"]
            .as_object()
            .expect("requests")
            .values()
            .flat_map(|m| m.as_object().expect("by status").values().map(n))
            .sum();
        assert_eq!(
            n(&f["attempts"]),
            seen,
            "{fleet}: every request the simulator saw"
        );
        // Z1 (10 seats, 2 each) sells out: every sold-out the report
        // counts is a flat 409 the simulator sent.
        let reserve = run.step(i, "reserve");
        let sold_out = n0(&reserve["outcomes"]["INSUFFICIENT_SEATS"])
            + n0(&reserve["outcomes"]["GAVE_UP/INSUFFICIENT_SEATS"]);
        assert!(sold_out > 0, "{fleet}: {reserve}");
        assert_eq!(
            n0(&l["requests"]["reserve"]["409"]),
            attempts("reserve") - ok("reserve"),
            "{fleet}: the other reserve attempts were sold out"
        );
        assert_eq!(n(&l["duplicates"]), 0);
        assert_eq!(n(&l["oversold"]), 0);
        assert_eq!(n(&l["queue"]["time_in_queue_ms"]["count"]), ok("wait"));
        assert_eq!(
            ok("confirm") + ok("release"),
            20,
            "{fleet}: every buyer finished"
        );
    }
    // The naive fleet retried the sold-out 409s; the compliant one did not.
    assert_eq!(n(&run.step(0, "reserve")["retries"]), 0);
    assert!(n(&run.step(1, "reserve")["retries"]) > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_same_key_retry_of_a_500_gets_the_same_500_and_gives_up() {
    let dir = TempDir::new("br-500");
    users(&dir, 30);
    let policies =
        format!("[policies.compliant]\n{FAST}[policies.fresh]\npreset = \"fresh-key\"\n{FAST}");
    let src = scenario(
        &["compliant", "fresh"],
        &policies,
        (30, "500ms"),
        "[sim.faults]\nerror_rate = 0.3",
        "",
    );
    let file = write(&dir, "s.toml", &src);
    let run = run_scenario(&file, &dir.path().join("out"), &[]).await;
    let reserve = run.step(0, "reserve");
    let l = run.ledger(0);
    let gave_up = n0(&reserve["outcomes"]["GAVE_UP/INTERNAL_ERROR"]);
    assert!(
        gave_up > 0,
        "a 500 on the first attempt is final for its key: {reserve}"
    );
    // Each of those operations: one executed 500, then `internal_error`
    // (3) same-key retries, every one a replay of the stored 500.
    let replayed_500 = n0(&l["replays_by_status"]["500"]);
    assert_eq!(replayed_500, 3 * gave_up, "{l}");
    assert_eq!(n(&l["idempotent_replays"]), replayed_500);
    assert_eq!(
        n(&reserve["attempts"]),
        n(&reserve["operations"]) + n(&reserve["retries"])
    );
    assert_eq!(n0(&reserve["outcomes"]["OK"]), n(&l["bookings_created"]));
    // A fresh key per retry is a new request: it runs again and books.
    let fresh = run.step(1, "reserve");
    let lf = run.ledger(1);
    assert!(
        lf["replays_by_status"]
            .as_object()
            .is_some_and(|m| m.is_empty()),
        "{lf}"
    );
    assert!(
        n0(&fresh["outcomes"]["OK"]) > n0(&reserve["outcomes"]["OK"]),
        "{fresh}"
    );
    assert_eq!(n0(&fresh["outcomes"]["OK"]), n(&lf["bookings_created"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_in_progress_after_a_client_timeout_then_the_booking() {
    let dir = TempDir::new("br-inprogress");
    users(&dir, 4);
    // Reserve times out at 300 ms while the simulator takes 700 ms.
    let policies = format!(
        "[policies.compliant]\n{FAST}limits = {{ network = 8 }}\n\
         [policies.fresh]\npreset = \"fresh-key\"\n{FAST}limits = {{ network = 3 }}\n"
    );
    let src = scenario(
        &["compliant", "fresh"],
        &policies,
        (4, "200ms"),
        "[sim.capacity]\nservice_time = \"700ms\"\nlatency_per_in_flight = \"0s\"",
        "timeout = \"300ms\"",
    );
    let file = write(&dir, "s.toml", &src);
    let run = run_scenario(&file, &dir.path().join("out"), &[]).await;
    run.ok();
    let reserve = run.step(0, "reserve");
    let l = run.ledger(0);
    assert_eq!(n0(&reserve["outcomes"]["OK"]), 4, "{reserve}");
    assert_eq!(
        n(&l["bookings_created"]),
        4,
        "one booking each: the same key every time"
    );
    assert_eq!(n(&l["duplicates"]), 0);
    assert!(
        n(&l["request_in_progress"]) > 0,
        "the retry met REQUEST_IN_PROGRESS: {l}"
    );
    assert_eq!(
        n0(&l["requests"]["reserve"]["409"]),
        n(&l["request_in_progress"])
    );
    // The first attempt of each was abandoned by its client; the same key
    // later got its booking from the store.
    assert_eq!(n(&l["wasted_work"]), 4);
    assert_eq!(n0(&l["replays_by_status"]["201"]), 4);
    // A fresh key never sees its booking: the report says it failed, the
    // ledger says every buyer has one (the one-shot pass kept it to one).
    let fresh = run.step(1, "reserve");
    let lf = run.ledger(1);
    assert_eq!(n0(&fresh["outcomes"]["OK"]), 0, "{fresh}");
    assert_eq!(n(&lf["bookings_created"]), 4, "{lf}");
    assert_eq!(n(&lf["request_in_progress"]), 0);
    assert_eq!(run.journeys(1, "failed"), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_strand_when_buyers_leave_the_queue() {
    let dir = TempDir::new("br-stranded");
    users(&dir, 10);
    // Buyers give up after 200 ms in the queue; the release worker lets
    // each out at 500 ms, and the pass they never use expires at 800 ms.
    let src = scenario(
        &["compliant"],
        "",
        (10, "3s"),
        "min_queue_time = \"500ms\"\npass_ttl = \"300ms\"",
        "",
    )
    .replace("max_wait = \"30s\"", "max_wait = \"200ms\"");
    let file = write(&dir, "s.toml", &src);
    let run = run_scenario(&file, &dir.path().join("out"), &[]).await;
    let wait = run.step(0, "wait");
    assert_eq!(n0(&wait["outcomes"]["QUEUE_TIMEOUT"]), 10, "{wait}");
    let q = &run.ledger(0)["queue"];
    assert_eq!(n(&q["joins"]), 10);
    assert_eq!(n(&q["passes_used"]), 0);
    // Those let out while the round lasted; all but the last few expired.
    let (issued, stranded) = (n(&q["passes_issued"]), n(&q["passes_stranded"]));
    assert!(stranded >= 5 && stranded <= issued, "{q}");
    assert_eq!(n(&q["time_in_queue_ms"]["count"]), issued);
    assert!(n(&q["time_in_queue_ms"]["p50"]) >= 500, "{q}");
    assert_eq!(n(&run.step(0, "reserve")["operations"]), 0);
}

/// A `SimServer` of the Booking Rush profile shared by several runs, as a
/// long-lived `stampede serve` is.
async fn shared_server() -> SimServer {
    let mut cfg = SimConfig::booking_rush();
    cfg.events = vec![EventConfig {
        id: "EVT1".into(),
        zones: vec![ZoneConfig {
            id: "Z1".into(),
            seats: 1000,
        }],
    }];
    cfg.booking_rush.enforce_pass = false;
    SimServer::start(cfg, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("simulator starts")
}

/// Login, then reserve; the key from the reserve step's own header.
fn replay_scenario(url: &str, key_header: &str) -> String {
    common::scenario()
        .target(url)
        .target_key("ledger", "true")
        .target_key("idempotency_header", "\"X-Idempotency-Key\"")
        .ticket_drop(10, "500ms")
        .event("EVT1", &["Z1"])
        .table("[users]\ncsv = \"users.csv\"")
        .table(LOGIN_STEP)
        .table(&format!(
            r#"[[journey.steps]]
name = "reserve"
method = "POST"
path = "/api/v1/bookings/reserve"
{key_header}
body = '{{"event_id":"EVT1","zone_id":"${{zone}}","show_id":"SHOW-EVT1","quantity":1}}'
capture = {{ booking_id = "/booking_id" }}"#
        ))
        .toml()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_with_reused_keys_is_answered_from_replays() {
    let sim = shared_server().await;
    let url = format!("http://{}", sim.addr());
    let dir = TempDir::new("br-second-run");
    users(&dir, 10);
    // A key from the file, not stampede's per-run one: the same every run.
    let reused = write(
        &dir,
        "reused.toml",
        &replay_scenario(
            &url,
            "idempotent = false\nheaders = { Authorization = \"Bearer ${access_token}\", X-Idempotency-Key = \"k-${user}\" }",
        ),
    );
    let first = run_scenario(&reused, &dir.path().join("out1"), &[]).await;
    first.ok();
    assert_eq!(n0(&first.step(0, "reserve")["outcomes"]["OK"]), 10);
    let l1 = first.ledger(0);
    assert_eq!(n(&l1["bookings_created"]), 10);
    assert_eq!(n(&l1["idempotent_replays"]), 0);

    // Within the 5-minute window: every reserve is a replay. The report
    // says 10 bookings; the inventory was never touched.
    let second = run_scenario(&reused, &dir.path().join("out2"), &[]).await;
    second.ok();
    assert_eq!(n0(&second.step(0, "reserve")["outcomes"]["OK"]), 10);
    let l2 = second.ledger(0);
    assert_eq!(n(&l2["bookings_created"]), 0, "{l2}");
    assert_eq!(n0(&l2["replays_by_status"]["201"]), 10, "{l2}");
    assert_eq!(n(&l2["logins"]), 10);
    assert_eq!(sim.ledger().bookings_created, 10);

    // stampede's own keys carry a per-run nonce: a third run books anew.
    let unique = write(
        &dir,
        "unique.toml",
        &replay_scenario(
            &url,
            "idempotent = true\nheaders = { Authorization = \"Bearer ${access_token}\" }",
        ),
    );
    let third = run_scenario(&unique, &dir.path().join("out3"), &[]).await;
    third.ok();
    let l3 = third.ledger(0);
    assert_eq!(n(&l3["bookings_created"]), 10, "{l3}");
    assert_eq!(n(&l3["idempotent_replays"]), 0, "{l3}");
    assert_eq!(sim.ledger().bookings_created, 20);
    sim.shutdown().await;
}

/// `column` of fleet `name`'s row in `out/summary.csv`.
fn summary_csv(out: &Path, name: &str, column: &str) -> u64 {
    let csv = std::fs::read_to_string(out.join("summary.csv")).expect("summary.csv");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let at = |h: &str| header.iter().position(|c| *c == h).expect(h);
    let row: Vec<&str> = lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|r| r[at("name")] == name)
        .unwrap_or_else(|| panic!("no row {name}:\n{csv}"));
    row[at(column)]
        .parse()
        .unwrap_or_else(|_| panic!("{column}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_key_after_a_reset_after_commit_books_twice_per_operation() {
    let dir = TempDir::new("br-duplicates");
    users(&dir, 20);
    // 30% of reserves commit, then the connection drops before the answer.
    // Passes are not enforced, so nothing but the key stops a second
    // booking.
    let policies = format!(
        "[policies.compliant]\n{FAST}limits = {{ network = 3 }}\n\
         [policies.fresh]\npreset = \"fresh-key\"\n{FAST}limits = {{ network = 3 }}\n"
    );
    let src = scenario(
        &["compliant", "fresh"],
        &policies,
        (20, "500ms"),
        "enforce_pass = false\n[sim.faults]\nreset_after_commit = 0.3",
        "",
    );
    let file = write(&dir, "s.toml", &src);
    let out = dir.path().join("out");
    let run = run_scenario(&file, &out, &[]).await;
    for (i, name) in ["compliant", "fresh"].iter().enumerate() {
        let l = run.ledger(i);
        // The report's count is the ledger's, in summary.csv too.
        let dups = n(&l["duplicates"]);
        assert_eq!(summary_csv(&out, name, "ledger_duplicates"), dups, "{name}");
        assert_eq!(n(&l["oversold"]), 0, "{name}");
        let reserve = run.step(i, "reserve");
        assert_eq!(n(&reserve["operations"]), 20, "{name}: {reserve}");
        assert_eq!(n0(&reserve["not_sent"]), 0, "{name}: {reserve}");
    }
    // Compliant: every retry of a reset reserve carried the same key and
    // was answered with the stored booking; one booking per operation.
    let (reserve, l) = (run.step(0, "reserve"), run.ledger(0));
    let retries = n(&reserve["retries"]);
    assert!(retries > 0, "some reserves were reset: {l}");
    assert_eq!(n(&l["duplicates"]), 0, "{l}");
    assert_eq!(n(&l["bookings_created"]), 20, "{l}");
    assert_eq!(n0(&reserve["outcomes"]["OK"]), 20, "{reserve}");
    assert_eq!(n0(&l["replays_by_status"]["201"]), retries, "{l}");
    assert_eq!(n(&l["connection_resets"]), retries, "{l}");
    // fresh-key: every attempt is a new request that commits (reset or
    // not), so each retry is one more booking of the same operation.
    let (fresh, lf) = (run.step(1, "reserve"), run.ledger(1));
    let dups = n(&lf["duplicates"]);
    assert!(dups > 0, "{lf}");
    assert_eq!(dups, n(&fresh["retries"]), "{fresh}\n{lf}");
    assert_eq!(n(&lf["bookings_created"]), 20 + dups, "{lf}");
    assert_eq!(n(&lf["bookings_created"]), n(&fresh["attempts"]), "{lf}");
    assert_eq!(n(&lf["idempotent_replays"]), 0, "{lf}");
}
