//! Journeys the real Booking Rush API asks for, run through the binary
//! against a loopback double of that API (`common::booking_rush`): waiting
//! rooms by polling and by SSE, its flat error envelope, `X-Idempotency-Key`
//! with replays and `REQUEST_IN_PROGRESS`, expiring tokens. Every count the
//! report gives is checked against what the double itself saw.

use super::{Run, buyer_steps, n, poll_step, run_scenario, users, write};
use crate::common::booking_rush::{BookingRush, Config};
use crate::common::{self, TempDir};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

/// A fast compliant policy (short backoff, extra keys `policy`) and
/// `users` buyers' journeys: login (again on `TOKEN_EXPIRED`), join,
/// `wait`, reserve (extra keys `reserve`) in Z1, else Z2.
fn scenario(url: &str, users: usize, wait: &str, reserve: &str, policy: &str) -> String {
    let steps = buyer_steps("refresh_on = [\"TOKEN_EXPIRED\"]", wait, "SHOW1", reserve);
    common::scenario()
        .compare(&["fleet"])
        .target(url)
        .target_key("idempotency_header", "\"X-Idempotency-Key\"")
        .ticket_drop(users as u32, "200ms")
        .drain("60s")
        .event("EVT1", &["Z1", "Z2"])
        .quantity(1)
        .journey_key("next_zone_on", r#"["INSUFFICIENT_SEATS"]"#)
        .journey_key("funnel", r#"["join", "wait", "reserve"]"#)
        .table(&format!(
            "[policies.fleet]\n{policy}\nbase_delay = \"50ms\"\nmax_delay = \"200ms\""
        ))
        .table("[users]\ncsv = \"users.csv\"")
        .table(&steps)
        .toml()
}

const SSE: &str = r#"
[[journey.steps]]
name = "wait"
path = "/api/v1/queue/position/${event}/stream"
headers = { Authorization = "Bearer ${access_token}" }
sse = { event = "position", until = { pointer = "/queue_pass", exists = true }, reconnects = 3, base_delay = "100ms" }
max_wait = "30s"
timeout_outcome = "QUEUE_TIMEOUT"
capture = { queue_pass = "/queue_pass" }
phase = "journey"
"#;

/// Z1 and Z2 of 100 seats, a 2 s queue, a stream frame every 300 ms.
fn config() -> Config {
    Config {
        zones: vec![("Z1".into(), 100), ("Z2".into(), 100)],
        queue_wait: Duration::from_secs(2),
        sse_interval: Duration::from_millis(300),
        ..Config::default()
    }
}

/// A double of `cfg`, and a run of `count` buyers through `wait` against
/// it (`reserve`, `policy`: extra keys, as in `scenario`).
async fn journeys(
    cfg: Config,
    count: usize,
    wait: &str,
    reserve: &str,
    policy: &str,
) -> (BookingRush, Run) {
    let br = BookingRush::start(cfg).await;
    let dir = TempDir::new("br-journeys");
    users(&dir, count);
    let src = scenario(&br.url(), count, wait, reserve, policy);
    let file = write(&dir, "s.toml", &src);
    let run = run_scenario(&file, &dir.path().join("out"), &[]).await;
    (br, run)
}

/// The polling wait of the double's buyers: every 500 ms.
fn poll() -> String {
    poll_step("500ms")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polled_queue_books_every_journey_and_times_the_wait() {
    let (br, run) = journeys(config(), 10, &poll(), "", "").await;
    run.ok();
    let c = br.counts();
    let fleet = run.fleet(0);
    assert_eq!(run.journeys(0, "succeeded"), 10, "{}", run.summary);
    assert_eq!(c.bookings, 10);
    let wait = run.step(0, "wait");
    assert_eq!(wait["kind"], "poll");
    // Time in queue: every buyer waited at least the double's 2 s.
    let p50 = wait["operation_latency_ms"]["p50"].as_f64().unwrap();
    assert!(p50 >= 2000.0, "{wait}");
    // Polls are what the double counted, and about wait / interval each.
    let polls = n(&wait["wait"]["polls"]);
    assert_eq!(polls, c.polls, "polls reported vs seen");
    assert!(
        (40..=80).contains(&polls),
        "{polls} polls for 10 waits of ~2 s at 500 ms"
    );
    assert_eq!(n(&wait["retries"]), 0);
    let amplification = wait["amplification"].as_f64();
    assert_eq!(amplification, Some(1.0), "polls are not amplification");
    assert_eq!(n(&wait["attempts"]), polls);
    // The funnel: joined, got a pass, reserved.
    let funnel: Vec<u64> = fleet["funnel"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| n(&s["journeys"]))
        .collect();
    assert_eq!(funnel, vec![10, 10, 10]);
    assert_eq!(c.passes_issued, 10);
    assert!(n(&fleet["journey_duration_ms"]["count"]) == 10);
    each_journey_waited_and_polled(&br, 10, config().queue_wait, Duration::from_millis(500));
    // Nothing the journey does not name reached the double.
    for s in br.seen() {
        let unasked = format!("unasked request {} {}", s.method, s.path);
        assert!(s.path.starts_with("/api/v1/"), "{unasked}");
        assert!(!s.path.contains("__sim"), "{unasked}");
    }
}

/// Per journey, from the requests the double saw (a buyer is its bearer
/// token): one join, one booking, polls from the join until the one that
/// carried the pass at least `queue_wait` later, never closer together than
/// `interval`, and about that wait / `interval` of them.
fn each_journey_waited_and_polled(
    br: &BookingRush,
    buyers: usize,
    queue_wait: Duration,
    interval: Duration,
) {
    #[derive(Default)]
    struct Journey {
        joins: Vec<std::time::Instant>,
        polls: Vec<std::time::Instant>,
        reserves: usize,
    }
    let mut by_buyer: BTreeMap<String, Journey> = BTreeMap::new();
    for s in br.seen() {
        let Some(auth) = s.header("authorization") else {
            continue;
        };
        let j = by_buyer.entry(auth.to_owned()).or_default();
        match (s.method.as_str(), s.path.as_str()) {
            ("POST", "/api/v1/queue/join") => j.joins.push(s.at),
            ("GET", "/api/v1/queue/position/EVT1") => j.polls.push(s.at),
            ("POST", "/api/v1/bookings/reserve") => j.reserves += 1,
            _ => {}
        }
    }
    assert_eq!(by_buyer.len(), buyers, "one token per buyer");
    // The log is taken as a request arrives, a little before the double
    // decides on it: this much slack on the lower bound of the wait.
    let skew = Duration::from_millis(20);
    for (i, j) in by_buyer.values().enumerate() {
        assert_eq!((j.joins.len(), j.reserves), (1, 1), "buyer {i}");
        let (first, last) = match (j.polls.first(), j.polls.last()) {
            (Some(f), Some(l)) => (*f, *l),
            _ => panic!("buyer {i} never polled"),
        };
        let waited = last.duration_since(j.joins[0]);
        assert!(waited + skew >= queue_wait, "buyer {i} waited {waited:?}");
        for pair in j.polls.windows(2) {
            let gap = pair[1].duration_since(pair[0]);
            assert!(gap + skew >= interval, "buyer {i}: polls {gap:?} apart");
        }
        // Polls at `interval` from the first: span / interval + 1 at most,
        // and at least one per two intervals of the wait.
        let polls = j.polls.len() as u128;
        let span = last.duration_since(first).as_millis();
        let step = interval.as_millis();
        assert!(
            polls <= span / step + 1,
            "buyer {i}: {polls} polls in {span} ms"
        );
        assert!(
            polls >= queue_wait.as_millis() / (2 * step),
            "buyer {i}: {polls} polls for a {queue_wait:?} wait"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sse_queue_books_every_journey_and_times_the_first_event() {
    let (br, run) = journeys(config(), 8, SSE, "", "").await;
    run.ok();
    let c = br.counts();
    assert_eq!(run.journeys(0, "succeeded"), 8, "{}", run.summary);
    assert_eq!(c.bookings, 8);
    let wait = run.step(0, "wait");
    assert_eq!(wait["kind"], "sse");
    let p50 = wait["operation_latency_ms"]["p50"].as_f64().unwrap();
    assert!(p50 >= 2000.0);
    assert_eq!(n(&wait["wait"]["polls"]), c.streams_opened);
    assert_eq!(n(&wait["wait"]["reconnects"]), 0);
    let first = &wait["wait"]["time_to_first_event_ms"];
    assert_eq!(n(&first["count"]), 8);
    assert!(first["p99"].as_f64().unwrap() < p50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_sse_stream_is_reconnected_with_last_event_id() {
    let cut = Config {
        sse_cut_first: 1,
        sse_retry_ms: Some(150),
        ..config()
    };
    let (br, run) = journeys(cut, 5, SSE, "", "").await;
    run.ok();
    let c = br.counts();
    assert_eq!(run.journeys(0, "succeeded"), 5, "{}", run.summary);
    let wait = run.step(0, "wait");
    assert_eq!(n(&wait["wait"]["reconnects"]), 5, "one reconnect per buyer");
    assert_eq!(n(&wait["wait"]["polls"]), c.streams_opened);
    assert_eq!(c.streams_opened, 10);
    let resumed = c.last_event_ids_received;
    assert_eq!(resumed, 5, "every reconnect said where it was");

    // With no reconnect allowed, the cut is the wait's named outcome.
    let cut = Config {
        sse_cut_first: 1,
        ..config()
    };
    let no_reconnect = SSE.replace("reconnects = 3", "reconnects = 0");
    let (br, run) = journeys(cut, 3, &no_reconnect, "", "").await;
    let wait = run.step(0, "wait");
    assert_eq!(n(&wait["outcomes"]["SSE_CLOSED"]), 3, "{wait}");
    assert_eq!(run.journeys(0, "failed"), 3);
    assert_eq!(br.counts().reserves_executed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sse_error_event_is_a_named_outcome() {
    // The double's stream gives up before the buyer's turn comes.
    let short = Config {
        queue_wait: Duration::from_secs(30),
        sse_timeout: Duration::from_millis(800),
        ..config()
    };
    let (br, run) = journeys(short, 3, SSE, "", "").await;
    let wait = run.step(0, "wait");
    assert_eq!(n(&wait["outcomes"]["SSE_ERROR:timeout"]), 3, "{wait}");
    let reconnects = n(&wait["wait"]["reconnects"]);
    assert_eq!(reconnects, 0, "an error event ends the wait");
    assert_eq!(run.journeys(0, "failed"), 3);
    assert_eq!(br.counts().streams_opened, 3);
    assert_eq!(br.counts().reserves_executed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sse_wait_that_reaches_max_wait_is_its_timeout_outcome() {
    // The double sends position frames every 300 ms but the buyers' turn
    // (30 s) comes long after their 1.5 s max_wait.
    let slow = Config {
        queue_wait: Duration::from_secs(30),
        sse_timeout: Duration::from_secs(60),
        ..config()
    };
    let max_wait = Duration::from_millis(1500);
    let short = SSE.replace("max_wait = \"30s\"", "max_wait = \"1500ms\"");
    assert_ne!(short, SSE);
    let (br, run) = journeys(slow, 4, &short, "", "").await;
    let c = br.counts();
    let wait = run.step(0, "wait");
    assert_eq!(wait["kind"], "sse");
    assert_eq!(n(&wait["outcomes"]["QUEUE_TIMEOUT"]), 4, "{wait}");
    assert_eq!(n(&wait["operations"]), 4, "{wait}");
    assert_eq!(run.journeys(0, "failed"), 4, "{}", run.summary);
    // Position frames came, on one stream each: the wait ran out, the
    // stream did not end.
    assert!(c.stream_frames >= 4, "{c:?}");
    assert_eq!(c.streams_opened, 4);
    assert_eq!(n(&wait["wait"]["polls"]), c.streams_opened);
    assert_eq!(n(&wait["wait"]["reconnects"]), 0);
    assert_eq!(n(&wait["wait"]["time_to_first_event_ms"]["count"]), 4);
    // Time in queue: max_wait, give or take scheduling (never less).
    let latency = &wait["operation_latency_ms"];
    assert_eq!(n(&latency["count"]), 4, "{wait}");
    let at_least = max_wait.as_millis() as f64;
    for q in ["p50", "p99"] {
        let ms = latency[q].as_f64().unwrap();
        assert!((at_least..at_least + 3000.0).contains(&ms), "{q} {ms} ms");
    }
    // No buyer reached the reserve step.
    assert_eq!(c.reserves_executed, 0);
    let reserves = c.by_route.get("POST /api/v1/bookings/reserve");
    assert!(reserves.is_none(), "{:?}", c.by_route);
    assert_eq!(c.passes_issued, 0);
    let funnel: Vec<u64> = run.fleet(0)["funnel"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| n(&s["journeys"]))
        .collect();
    assert_eq!(funnel, vec![4, 0, 0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flat_sold_out_moves_to_the_next_zone_without_a_second_login() {
    let z1_sold_out = Config {
        zones: vec![("Z1".into(), 0), ("Z2".into(), 50)],
        queue_wait: Duration::ZERO,
        ..config()
    };
    let (br, run) = journeys(z1_sold_out, 6, &poll(), "", "").await;
    run.ok();
    let c = br.counts();
    assert_eq!(run.journeys(0, "succeeded"), 6, "{}", run.summary);
    assert_eq!(c.bookings, 6);
    assert_eq!(c.logins, 6, "login once per journey");
    assert_eq!(c.joins, 6, "queue join once per journey");
    let reserve = run.step(0, "reserve");
    // Half the buyers start at Z1 (sold out, flat envelope), then Z2.
    let sold_out = n(&reserve["outcomes"]["INSUFFICIENT_SEATS"]);
    assert_eq!(sold_out, 3, "{reserve}");
    assert_eq!(n(&reserve["outcomes"]["OK"]), 6);
    assert_eq!(n(&run.step(0, "login")["operations"]), 6);
}

/// Per buyer (its Authorization), the keys its reserves carried.
fn reserve_keys(br: &BookingRush) -> BTreeMap<String, BTreeSet<String>> {
    let mut keys = BTreeMap::<String, BTreeSet<String>>::new();
    for s in br
        .seen()
        .iter()
        .filter(|s| s.path == "/api/v1/bookings/reserve")
    {
        let who = s.header("authorization").unwrap_or_default().to_string();
        let key = s.header("x-idempotency-key").unwrap_or_default();
        keys.entry(who).or_default().insert(key.to_string());
    }
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_in_progress_after_a_timeout_is_retried_with_the_same_key() {
    let slow = Config {
        queue_wait: Duration::ZERO,
        reserve_delay: Duration::from_millis(700),
        ..config()
    };
    // The reserve times out at 300 ms while the double takes 700 ms; the
    // same-key retries meet REQUEST_IN_PROGRESS until the first one is done.
    let timeout = "timeout = \"300ms\"";
    let (br, run) = journeys(slow, 4, &poll(), timeout, "limits = { network = 8 }").await;
    run.ok();
    let c = br.counts();
    let reserve = run.step(0, "reserve");
    assert_eq!(n(&reserve["outcomes"]["OK"]), 4, "{reserve}");
    assert_eq!(run.journeys(0, "sold_out"), 0);
    assert_eq!(c.bookings, 4, "one booking each: the same key every time");
    assert_eq!(c.reserves_executed, 4);
    assert!(
        c.in_progress > 0,
        "the retry met REQUEST_IN_PROGRESS: {c:?}"
    );
    // Every reserve attempt of one buyer carried one key.
    let keys = reserve_keys(&br);
    assert_eq!(keys.len(), 4);
    assert!(keys.values().all(|k| k.len() == 1), "{keys:?}");
}

/// Three 500s first: two runs of one file against one double send keys
/// apart, and the compliant retries get the 500s replayed.
async fn two_runs_send_disjoint_keys() {
    let br = BookingRush::start(Config {
        queue_wait: Duration::ZERO,
        fail_first_reserves: 3,
        ..config()
    })
    .await;
    let dir = TempDir::new("br-keys");
    users(&dir, 3);
    let file = write(&dir, "s.toml", &scenario(&br.url(), 3, &poll(), "", ""));
    let keys = |from: usize| -> BTreeSet<String> {
        br.seen()
            .iter()
            .skip(from)
            .filter_map(|s| s.header("x-idempotency-key").map(str::to_string))
            .collect()
    };
    run_scenario(&file, &dir.path().join("out1"), &[]).await;
    let seen_first = br.seen().len();
    let first = keys(0);
    run_scenario(&file, &dir.path().join("out2"), &[]).await;
    let second = keys(seen_first);
    let enough = first.len() >= 6 && second.len() >= 6;
    assert!(enough, "{first:?} {second:?}");
    let apart = first.is_disjoint(&second);
    assert!(apart, "the second run reused a key of the first");
    // The 500s were replayed to the compliant same-key retries.
    let c = br.counts();
    assert!(c.replays.get(&500).copied().unwrap_or(0) > 0, "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_send_disjoint_keys_and_fresh_key_changes_the_key_on_every_retry() {
    two_runs_send_disjoint_keys().await;
    // fresh-key: a new X-Idempotency-Key on every retry of one reserve.
    let failing = Config {
        queue_wait: Duration::ZERO,
        fail_first_reserves: 2,
        ..config()
    };
    let (br, run) = journeys(failing, 1, &poll(), "", "preset = \"fresh-key\"").await;
    run.ok();
    let keys: Vec<String> = br
        .seen()
        .iter()
        .filter(|s| s.path == "/api/v1/bookings/reserve")
        .filter_map(|s| s.header("x-idempotency-key").map(str::to_string))
        .collect();
    assert_eq!(keys.len(), 3, "two 500s then the booking: {keys:?}");
    let distinct: BTreeSet<&String> = keys.iter().collect();
    assert_eq!(distinct.len(), 3, "{keys:?}");
    assert_eq!(n(&run.step(0, "reserve")["retries"]), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_runs_login_once_more() {
    // Tokens live 1 s and the queue takes 2.5 s: every buyer's token
    // expires while it waits (once or twice).
    let short = Config {
        queue_wait: Duration::from_millis(2500),
        token_ttl: Duration::from_secs(1),
        ..config()
    };
    let (br, run) = journeys(short, 3, &poll(), "", "").await;
    run.ok();
    let c = br.counts();
    assert_eq!(run.journeys(0, "succeeded"), 3, "{}", run.summary);
    let relogins = n(&run.fleet(0)["relogins"]);
    assert!(
        relogins >= 3,
        "each buyer's token expired while waiting: {relogins}"
    );
    assert_eq!(c.logins, 3 + relogins, "first logins plus re-logins");
    let expired = c.by_route.values().flat_map(|m| m.get(&401)).sum::<u64>();
    assert_eq!(expired, relogins, "one 401 per re-login: {:?}", c.by_route);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_staging_scenario_runs_against_the_double() {
    let br = BookingRush::start(Config {
        zones: vec![("Z1".into(), 6), ("Z2".into(), 100)],
        queue_wait: Duration::from_millis(1500),
        ..Config::default()
    })
    .await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let file = root.join("scenarios/booking-rush-staging.toml");
    let dir = TempDir::new("br-shipped");
    let url = br.url();
    let extra = ["--target", &url, "--policy", "compliant"];
    let run = run_scenario(&file, &dir.path().join("out"), &extra).await;
    run.ok();
    let c = br.counts();
    let fleet = run.fleet(0);
    assert_eq!(run.journeys(0, "started"), 20);
    assert_eq!(run.journeys(0, "succeeded"), 20, "{}", run.summary);
    let reserve = run.step(0, "reserve");
    let confirm = run.step(0, "confirm");
    let release = run.step(0, "release");
    // Every number equals the double's own counts.
    assert_eq!(n(&reserve["outcomes"]["OK"]), c.bookings);
    assert_eq!(n(&confirm["outcomes"]["OK"]), c.confirmations);
    assert_eq!(n(&release["outcomes"]["OK"]), c.releases);
    assert_eq!(c.confirmations + c.releases, 20);
    assert_eq!(n(&run.step(0, "wait")["wait"]["polls"]), c.polls);
    assert_eq!(n(&run.step(0, "login")["attempts"]), c.logins);
    assert_eq!(n(&run.step(0, "join")["attempts"]), c.joins);
    let attempts = n(&fleet["attempts"]);
    assert_eq!(attempts, c.requests, "every request the double saw");
    // 6 seats in Z1 for 2 each (and the seats of buyers who released):
    // the others of the 10 who start there move on to Z2, and every
    // sold-out the report counts is a 409 the double sent.
    let sold_out = n(&reserve["outcomes"]["INSUFFICIENT_SEATS"]);
    assert!(sold_out >= 5, "{reserve}");
    let reserve_409 = c.by_route["POST /api/v1/bookings/reserve"][&409];
    assert_eq!(sold_out, reserve_409);
    assert_eq!(run.journeys(0, "sold_out"), 0, "Z2 had room for all");
    assert!(confirm["journeys_passed"].as_u64().unwrap() > 10);
    // A second fleet on the same double within minutes: no replay.
    assert!(c.replays.values().sum::<u64>() == 0, "{c:?}");
}
