//! Published results reproduced on virtual time (docs/validation.md): each
//! scenario of `scenarios/validation/` run through the built binary with
//! `--virtual-time`, and its numbers checked against the published ones
//! within the tolerance that page states. Every run is deterministic (its
//! seed), so a failure here is a change in behaviour, not noise.

use crate::common;

use common::TempDir;
use serde_json::Value;

/// `stampede run FILE --virtual-time --quiet` into a fresh folder, which
/// must complete (exit 0); its summary.json.
fn run(file: &str) -> Value {
    let dir = TempDir::new("validation");
    let out = dir.path().join("report");
    let res = crate::common::stampede()
        .args(["run", file, "--virtual-time", "--quiet", "--out"])
        .arg(&out)
        .env("NO_PROXY", "127.0.0.1,localhost,::1")
        .output()
        .expect("run stampede");
    assert!(
        res.status.success(),
        "{file}: exit {:?}\n{}\n{}",
        res.status.code(),
        String::from_utf8_lossy(&res.stdout),
        String::from_utf8_lossy(&res.stderr)
    );
    let text = std::fs::read(out.join("summary.json")).expect("summary.json");
    let s: Value = serde_json::from_slice(&text).expect("valid JSON");
    assert_eq!(s["meta"]["clock"], "virtual", "{file}");
    println!(
        "{file}: {:.1} s simulated in {:.1} s of wall time",
        s["duration_s"].as_f64().unwrap_or(0.0),
        s["meta"]["wall_s"].as_f64().unwrap_or(0.0)
    );
    assert_eq!(s["status"], "completed", "{file}");
    s
}

/// The result of the fleet named `name`.
fn fleet<'a>(s: &'a Value, name: &str) -> &'a Value {
    s["results"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["name"] == name))
        .unwrap_or_else(|| panic!("no fleet {name}"))
}

fn num(v: &Value, pointer: &str) -> f64 {
    v.pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("no number at {pointer}"))
}

/// One counter of the per-second time series, by second.
fn per_second(fleet: &Value, key: &str) -> Vec<(u64, u64)> {
    fleet["timeseries"]
        .as_array()
        .expect("timeseries")
        .iter()
        .map(|t| (t["t"].as_u64().expect("t"), t[key].as_u64().expect(key)))
        .collect()
}

/// The sum of `key` over the seconds in `[from, to)`.
fn sum_over(fleet: &Value, key: &str, from: u64, to: u64) -> u64 {
    per_second(fleet, key)
        .iter()
        .filter(|(t, _)| (from..to).contains(t))
        .map(|(_, n)| n)
        .sum()
}

/// The first second from which every later second of the arrivals (up to
/// `end`) had at least `share` of its arrivals succeed: when goodput came
/// back for good.
fn recovered_at(fleet: &Value, after: u64, end: u64, share: f64) -> Option<u64> {
    let ok: Vec<(u64, u64)> = per_second(fleet, "successes");
    let arrivals: Vec<(u64, u64)> = per_second(fleet, "arrivals");
    let good = |t: u64| {
        let a = arrivals.iter().find(|x| x.0 == t).map_or(0, |x| x.1);
        let s = ok.iter().find(|x| x.0 == t).map_or(0, |x| x.1);
        a > 0 && s as f64 >= share * a as f64
    };
    let mut first = None;
    for t in after..end {
        match (good(t), first) {
            (true, None) => first = Some(t),
            (false, _) => first = None,
            _ => {}
        }
    }
    first
}

// ---- C2: N immediate retries at independent failure probability x ----

/// Attempts per operation and success rate of N immediate retries at
/// failure probability x: sum(k = 0..N) x^k and 1 - x^(N+1).
fn c2_expected(n: i32, x: f64) -> (f64, f64) {
    ((0..=n).map(|k| x.powi(k)).sum(), 1.0 - x.powi(n + 1))
}

/// Load within ±1% (relative), success within ±1 point (absolute).
fn check_c2(file: &str, x: f64) {
    let s = run(file);
    let f = fleet(&s, "n3");
    let (load, success) = c2_expected(3, x);
    let ops = num(f, "/operations");
    let got_load = num(f, "/attempts") / ops;
    let got_success = num(f, "/success_rate");
    println!(
        "{file}: {ops} operations; load {got_load:.4} (published {load:.4}, {:+.2}%), \
         success {got_success:.4} (published {success:.4}, {:+.2} points)",
        (got_load / load - 1.0) * 100.0,
        (got_success - success) * 100.0
    );
    assert!(ops >= 10_000.0, "{file}: {ops} operations");
    assert!(
        (got_load / load - 1.0).abs() <= 0.01,
        "{file}: load {got_load} against {load}"
    );
    assert!(
        (got_success - success).abs() <= 0.01,
        "{file}: success {got_success} against {success}"
    );
    // Nothing but the injected 500s failed an operation.
    let outcomes = f["outcomes"].as_object().expect("outcomes");
    for k in outcomes.keys() {
        assert!(k == "OK" || k == "GAVE_UP/INTERNAL_ERROR", "{file}: {k}");
    }
}

#[test]
fn c2_three_retries_at_x_0_1() {
    check_c2("scenarios/validation/c2-x0.1.toml", 0.1);
}

#[test]
fn c2_three_retries_at_x_0_5() {
    check_c2("scenarios/validation/c2-x0.5.toml", 0.5);
}

#[test]
fn c2_three_retries_at_x_0_9() {
    check_c2("scenarios/validation/c2-x0.9.toml", 0.9);
}

// ---- Metastability sustained by timeout retries (Bronson et al.) ----

/// Seconds of the runs: 5/s until 20 s, 20/s until 30 s, then the low
/// rate until the end.
const SPIKE_END: u64 = 30;

#[test]
fn after_a_spike_timeout_retries_keep_9_per_second_down() {
    let s = run("scenarios/validation/hysteresis-9.toml");
    let (retry, plain) = (fleet(&s, "retry-on-timeout"), fleet(&s, "no-retry"));
    let end = SPIKE_END + 140;
    for f in [retry, plain] {
        // Healthy before the spike: every arrival succeeds.
        assert_eq!(sum_over(f, "successes", 10, 20), 50, "{}", f["name"]);
    }
    // After the spike, 9/s (90% of capacity): the retrying clients never
    // get a success again, and send about two attempts per arrival.
    let late = (SPIKE_END + 10, end);
    assert_eq!(sum_over(retry, "successes", late.0, late.1), 0);
    let (arr, att) = (
        sum_over(retry, "arrivals", late.0, late.1),
        sum_over(retry, "attempts", late.0, late.1),
    );
    assert!(
        att as f64 >= 1.95 * arr as f64,
        "{att} attempts, {arr} arrivals"
    );
    assert_eq!(recovered_at(retry, SPIKE_END, end, 0.9), None);
    // The same clients without the retry drain the queue at 1/s and
    // recover.
    let back = recovered_at(plain, SPIKE_END, end, 0.9).expect("no-retry recovers");
    println!("hysteresis-9: retry-on-timeout never recovers; no-retry from {back} s");
    assert!(back < end - 20, "no-retry recovered at {back} s");
    assert!(sum_over(plain, "successes", end - 20, end) >= 170);
    // The server was busy all along after the spike, with work whose
    // client had given up (10 requests/s).
    assert!(num(retry, "/ledger/wasted_work") >= 10.0 * (end - SPIKE_END) as f64);
}

#[test]
fn after_the_same_spike_4_per_second_recovers() {
    let s = run("scenarios/validation/hysteresis-4.toml");
    let f = fleet(&s, "retry-on-timeout");
    let end = SPIKE_END + 170;
    assert_eq!(sum_over(f, "successes", 10, 20), 50);
    // In the bad state the server is offered 8/s of its 10/s: the queue
    // drains at 2/s, then every arrival succeeds again.
    assert_eq!(sum_over(f, "successes", SPIKE_END + 10, SPIKE_END + 60), 0);
    let back = recovered_at(f, SPIKE_END, end, 0.9).expect("recovers");
    println!("hysteresis-4: recovered from {back} s");
    assert!(back < end - 20, "recovered at {back} s");
    assert!(sum_over(f, "successes", end - 20, end) >= 76);
}

// ---- Brooker: open and closed clients, and open clients that resend ----

/// The simulated time unit of the Brooker scenarios, in ms.
const UNIT_MS: f64 = 10.0;
/// Mean service time in units: 0.1 × 0.999 + 10 × 0.001.
const MEAN_SERVICE_UNITS: f64 = 0.1099;

#[test]
fn open_clients_have_a_tail_of_tens_of_units_closed_ones_below_one() {
    // The two runs side by side: each is deterministic on its own.
    let (open, closed) = std::thread::scope(|s| {
        let o = s.spawn(|| run("scenarios/validation/brooker-open.toml"));
        let c = s.spawn(|| run("scenarios/validation/brooker-closed.toml"));
        (o.join().expect("open run"), c.join().expect("closed run"))
    });
    let (o, c) = (fleet(&open, "open"), fleet(&closed, "closed"));
    // Utilisation: requests per unit of time × the mean service time.
    let rho = |f: &Value| {
        num(f, "/operations") / (num(f, "/round_duration_s") * 1000.0 / UNIT_MS)
            * MEAN_SERVICE_UNITS
    };
    // The open round's duration includes the drain after the arrivals.
    let rho_open = num(o, "/operations") / (27.5 * 1000.0 / UNIT_MS) * MEAN_SERVICE_UNITS;
    let (p99_open, p99_closed) = (
        num(o, "/operation_latency_ms/p99") / UNIT_MS,
        num(c, "/operation_latency_ms/p99") / UNIT_MS,
    );
    println!(
        "brooker: open p99 {p99_open:.2} units at rho {rho_open:.3}; \
         closed p99 {p99_closed:.2} units at rho {:.3}",
        rho(c)
    );
    for r in [rho_open, rho(c)] {
        assert!((0.78..=0.82).contains(&r), "utilisation {r}");
    }
    assert!(
        (10.0..100.0).contains(&p99_open),
        "open p99 {p99_open} units"
    );
    assert!(p99_closed < 1.0, "closed p99 {p99_closed} units");
    assert_eq!(num(o, "/success_rate"), 1.0);
    assert_eq!(num(c, "/operations"), 20_000.0);
}

#[test]
fn open_clients_that_resend_after_a_timeout_collapse_for_good() {
    let s = run("scenarios/validation/brooker-resend.toml");
    let (resend, open) = (fleet(&s, "resend"), fleet(&s, "open"));
    // Arrivals stop at 10 s; the slow pair that tips it comes at 4 s.
    let (tip, end) = (5, 10);
    assert_eq!(
        recovered_at(resend, 0, tip - 1, 0.99),
        Some(0),
        "healthy first"
    );
    // From the tip on, nothing succeeds, every attempt times out and every
    // arrival is sent twice, while the same arrivals without the resend
    // are all served.
    assert_eq!(sum_over(resend, "successes", tip, end), 0);
    let arrivals = sum_over(resend, "arrivals", tip, end);
    let attempts = sum_over(resend, "attempts", tip, end);
    assert_eq!(sum_over(resend, "timeouts", tip, end), attempts);
    assert!(attempts as f64 >= 1.95 * arrivals as f64);
    assert_eq!(recovered_at(open, 0, end, 0.99), Some(0));
    // The queue kept growing: the simulator needed seconds after the
    // round to finish the work left in it. Offered 1.6 times what it can
    // do for ~6 s, it should hold ~0.6 × 6 s of work.
    let rounds = s["results"].as_array().expect("results");
    let started = |i: usize| num(&rounds[i], "/round_started_unix_ms") / 1000.0;
    let backlog_s = started(1) - started(0) - num(resend, "/round_duration_s");
    println!(
        "brooker-resend: {attempts} attempts for {arrivals} arrivals after the tip, none \
         succeeded; backlog at the end {backlog_s:.2} s of work; open p99 {:.1} units",
        num(open, "/operation_latency_ms/p99") / UNIT_MS
    );
    assert!(rounds[0]["name"] == "resend");
    assert!((2.0..6.0).contains(&backlog_s), "backlog {backlog_s} s");
    assert!(num(resend, "/ledger/wasted_work") >= attempts as f64);
}

// ---- Brooker 2015: exponential backoff with and without jitter ----

/// Every fleet lands all `clients` writes; no jitter takes exactly
/// N(N+1)/2 calls, and every jitter at least 2 times fewer.
fn check_jitter(file: &str, clients: f64) {
    let s = run(file);
    let calls = |name: &str| {
        let f = fleet(&s, name);
        assert_eq!(
            num(f, "/success_rate"),
            1.0,
            "{file} {name}: every write lands"
        );
        assert_eq!(num(f, "/operations"), clients, "{file} {name}");
        num(f, "/attempts")
    };
    // Without jitter the losers of a round all come back together: one
    // winner per round, N(N+1)/2 calls in all.
    let none = calls("no-jitter");
    assert_eq!(none, clients * (clients + 1.0) / 2.0, "{file}");
    let (full, equal, decorrelated) = (
        calls("full-jitter"),
        calls("equal-jitter"),
        calls("decorrelated"),
    );
    println!(
        "{file}: calls for {clients} writes: no jitter {none}, full {full} ({:.2}x fewer), \
         equal {equal} ({:.2}x), decorrelated {decorrelated} ({:.2}x)",
        none / full,
        none / equal,
        none / decorrelated
    );
    for j in [full, equal, decorrelated] {
        assert!(
            none / j >= 2.0,
            "{file}: {j} calls against {none} without jitter"
        );
    }
}

#[test]
fn jitter_with_20_contending_clients() {
    check_jitter("scenarios/validation/backoff-jitter-20.toml", 20.0);
}

#[test]
fn jitter_with_50_contending_clients() {
    check_jitter("scenarios/validation/backoff-jitter-50.toml", 50.0);
}
