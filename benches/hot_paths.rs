//! Per-attempt hot paths of the engine, through the library's public API.
//!
//! Every group also measures two baselines in the same run, so a number reads
//! as "N units of cheap work on this machine, now" rather than as nanoseconds
//! that move with the box, its load and its clock:
//!
//! * `baseline/hdr_record`: one `Histogram::record` into the engine's own
//!   histogram shape (the unit of cheap work, and the ratio column);
//! * `baseline/format_idem_key`: one `format!` of an idempotency key (the unit
//!   of allocating work the engine does per attempt anyway).
//!
//! After criterion's run (`cargo bench --bench hot_paths`) a table is printed
//! with ns/iter and the ratios. It does not read criterion's estimates (those
//! may be stale when criterion was given a filter); it measures every case
//! again with a plain `Instant` loop, interleaving the subject with both
//! baselines round by round and taking medians, so a neighbour stealing the
//! CPU for a moment moves both sides of a ratio. The baseline rows, measured
//! against themselves, show how much noise a ratio carries.
//!
//! Under `cargo test --all-targets` criterion runs each case once and the
//! table is skipped. The fixtures are checked with asserts before anything is
//! measured, so a bench cannot silently time an error path.

use bytes::Bytes;
use criterion::{Criterion, Throughput};
use hdrhistogram::Histogram;
use http::{HeaderMap, HeaderValue, Method};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use stampede::client::{HttpClient, TlsOptions};
use stampede::engine::envelope_code;
use stampede::engine::schedule::Schedule;
use stampede::metrics::{AttemptLog, JourneyEnd, JourneyLog, OpLog, Recorder, StatusClass};

/// The binary's allocator (src/main.rs), so allocation costs are the ones a run pays.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
use stampede::outcome::{Code, OpOutcome};
use stampede::policy::{
    Answer, CircuitBreaker, Clock, Limits, OpState, Outcome, Settlement, UserGuard, classify,
    parse_retry_after, settle,
};
use stampede::scenario::model::ArrivalProcess;
use stampede::scenario::template::Template;
use stampede::scenario::{Arrivals, BUILTIN_VARS, LoadPlan, Stage};
use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

// ---------------------------------------------------------------- baselines

/// A typical attempt latency in µs (what the engine records per attempt).
const HDR_VALUE: u64 = 1_234;

#[inline]
fn hdr_record(h: &mut Histogram<u64>) -> bool {
    h.record(black_box(HDR_VALUE)).is_ok()
}

/// The engine's key shape: `<run>-<fleet>-<arrival>-<seq>.k<key generation>`.
#[inline]
fn idem_key() -> String {
    let (run, fleet, arrival, seq, key) =
        black_box(("r0x19a3f5c2b7e", 1usize, 48_213u64, 1u32, 0u32));
    format!("{run}-{fleet}-{arrival}-{seq}.k{key}")
}

// ------------------------------------------------------------------- runner

/// Runs one case: criterion in one pass, the ratio table in the other, so
/// both see exactly the same closures.
trait Runner {
    fn group(&mut self, name: &'static str);
    /// `elements`: how many items one call of `f` handles (1 for most).
    fn bench<R>(&mut self, name: &str, elements: u64, f: impl FnMut() -> R);
}

struct Crit<'c> {
    c: &'c mut Criterion,
    group: &'static str,
}

impl Runner for Crit<'_> {
    fn group(&mut self, name: &'static str) {
        self.group = name;
    }
    fn bench<R>(&mut self, name: &str, elements: u64, mut f: impl FnMut() -> R) {
        let mut g = self.c.benchmark_group(self.group);
        if elements > 1 {
            g.throughput(Throughput::Elements(elements));
        }
        g.bench_function(name, |b| b.iter(&mut f));
        g.finish();
    }
}

/// Each timed chunk runs at least this long (the timer is ~20-30 ns).
const CHUNK: Duration = Duration::from_millis(2);
/// Rounds of (hdr baseline, format baseline, subject) per case.
const ROUNDS: usize = 15;

struct Row {
    name: String,
    ns: f64,
    x_hdr: f64,
    x_fmt: f64,
}

struct Table {
    group: &'static str,
    hist: Histogram<u64>,
    rows: Vec<Row>,
}

/// Mean ns per call of `n` calls.
fn chunk<R>(n: u64, f: &mut impl FnMut() -> R) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        black_box(f());
    }
    t.elapsed().as_nanos() as f64 / n as f64
}

/// Smallest power of two of calls that takes at least `CHUNK` (doubles as warm-up).
fn calibrate<R>(f: &mut impl FnMut() -> R) -> u64 {
    let mut n = 1u64;
    loop {
        let t = Instant::now();
        for _ in 0..n {
            black_box(f());
        }
        if t.elapsed() >= CHUNK || n >= 1 << 30 {
            return n;
        }
        n *= 2;
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

impl Runner for Table {
    fn group(&mut self, name: &'static str) {
        self.group = name;
    }
    fn bench<R>(&mut self, name: &str, elements: u64, mut f: impl FnMut() -> R) {
        let hist = &mut self.hist;
        let mut hdr = || hdr_record(hist);
        let mut fmt = idem_key;
        let (n_hdr, n_fmt, n_f) = (calibrate(&mut hdr), calibrate(&mut fmt), calibrate(&mut f));
        let (mut ns, mut x_hdr, mut x_fmt) = (vec![], vec![], vec![]);
        for _ in 0..ROUNDS {
            let b_hdr = chunk(n_hdr, &mut hdr);
            let b_fmt = chunk(n_fmt, &mut fmt);
            let s = chunk(n_f, &mut f);
            ns.push(s);
            x_hdr.push(s / b_hdr);
            x_fmt.push(s / b_fmt);
        }
        let row = Row {
            name: format!("{}/{name}", self.group),
            ns: median(&mut ns),
            x_hdr: median(&mut x_hdr),
            x_fmt: median(&mut x_fmt),
        };
        if elements > 1 {
            let e = elements as f64;
            let per = Row {
                name: format!("{} (per element, /{elements})", row.name),
                ns: row.ns / e,
                x_hdr: row.x_hdr / e,
                x_fmt: row.x_fmt / e,
            };
            self.rows.push(row);
            self.rows.push(per);
        } else {
            self.rows.push(row);
        }
    }
}

impl Table {
    fn print(&self) {
        let w = self.rows.iter().map(|r| r.name.len()).max().unwrap_or(4);
        println!();
        println!("hot_paths: ns/iter and ratios against baselines measured in the same run");
        println!(
            "(Instant loop, {ROUNDS} interleaved rounds of >= {} ms per side, medians)",
            CHUNK.as_millis()
        );
        println!(
            "{:<w$}  {:>12}  {:>15}  {:>16}",
            "name", "ns/iter", "x hdr_record", "x format_key"
        );
        for r in &self.rows {
            println!(
                "{:<w$}  {:>12.1}  {:>15.2}  {:>16.2}",
                r.name, r.ns, r.x_hdr, r.x_fmt
            );
        }
    }
}

// -------------------------------------------------------------------- cases

fn baselines(r: &mut impl Runner) {
    let mut h = stampede::metrics::new_histogram();
    r.bench("baseline/hdr_record", 1, || hdr_record(&mut h));
    r.bench("baseline/format_idem_key", 1, idem_key);
}

/// Wed, 21 Oct 2015 07:28:00 GMT: Retry-After dates below are relative to it.
fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480)
}

const O503: Outcome<'static> = Outcome::Response {
    status: 503,
    code: Some("SERVICE_UNAVAILABLE"),
    retry_after: Some("1"),
};
const O201: Outcome<'static> = Outcome::Response {
    status: 201,
    code: None,
    retry_after: None,
};
const OTIMEOUT: Outcome<'static> = Outcome::Timeout;

/// What a case must settle to.
type SettleCheck = fn(&Settlement) -> bool;

fn policy(r: &mut impl Runner) {
    r.group("policy");
    baselines(r);

    let cases = [
        ("503_retry_after_1", O503),
        ("201", O201),
        ("timeout", OTIMEOUT),
    ];
    for (name, o) in cases {
        r.bench(&format!("classify/{name}"), 1, || classify(black_box(&o)));
    }

    // What the engine calls once per answer: the settlement (classify,
    // Retry-After parsed once, breaker and budget bookkeeping, decide).
    let compliant = stampede::policy::preset("compliant").expect("preset");
    let naive = stampede::policy::preset("naive").expect("preset");
    let state = OpState::default();
    let mut rng = SmallRng::seed_from_u64(42);
    let unavailable = Code::new("SERVICE_UNAVAILABLE").expect("code");
    let a503 = Answer::Response {
        status: 503,
        code: Some(&unavailable),
        retry_after: Some("1"),
        pushback: None,
    };
    let a201 = Answer::Response {
        status: 201,
        code: None,
        retry_after: None,
        pushback: None,
    };
    // What each case must settle to, so none of them times an unexpected path.
    let checks: [(&str, Answer, SettleCheck); 3] = [
        ("503_retry_after_1", a503, |s| {
            matches!(s, Settlement::Retry { .. })
        }),
        ("201", a201, |s| *s == Settlement::Done(OpOutcome::Ok)),
        (
            "timeout",
            Answer::Timeout,
            |s| matches!(s, Settlement::Retry { flags, .. } if !flags.honoured),
        ),
    ];
    let t0 = tokio::time::Instant::now();
    let clock = || Clock {
        now: t0,
        wall: now(),
        elapsed: Duration::ZERO,
    };
    for (pname, p) in [("compliant", &compliant), ("naive", &naive)] {
        let mut guard = UserGuard::new(p.breaker.map(CircuitBreaker::new));
        for (name, a, ok) in checks {
            let s = settle(
                p,
                true,
                &state,
                &a,
                &mut guard,
                Limits::default(),
                clock(),
                &mut rng,
            );
            assert!(ok(&s), "{pname} {name}: {s:?}");
            r.bench(&format!("settle/{pname}/{name}"), 1, || {
                // A fresh guard each time: a breaker that opened during the
                // measurement would change the path being timed.
                let mut g = UserGuard::default();
                settle(
                    p,
                    true,
                    &state,
                    black_box(&a),
                    &mut g,
                    Limits::default(),
                    clock(),
                    &mut rng,
                )
            });
        }
    }
    // The presets differ where they should: compliant honours Retry-After.
    let mut on_503 = |p| {
        let mut g = UserGuard::default();
        settle(
            p,
            true,
            &state,
            &a503,
            &mut g,
            Limits::default(),
            clock(),
            &mut rng,
        )
    };
    let s = on_503(&compliant);
    assert!(
        matches!(s, Settlement::Retry { flags, delay, .. } if flags.honoured && delay == Duration::from_secs(1))
    );
    let s = on_503(&naive);
    assert!(matches!(
        s,
        Settlement::Retry {
            delay: Duration::ZERO,
            fresh_key: true,
            ..
        }
    ));
}

fn retry_after(r: &mut impl Runner) {
    r.group("retry_after");
    baselines(r);
    let cases = [
        ("delta_seconds", "1", Duration::from_secs(1)),
        (
            "http_date",
            "Wed, 21 Oct 2015 07:28:20 GMT",
            Duration::from_secs(20),
        ),
    ];
    for (name, v, want) in cases {
        assert_eq!(parse_retry_after(v, now()), Some(want), "{name}");
        r.bench(name, 1, || parse_retry_after(black_box(v), now()));
    }
}

fn template(r: &mut impl Runner) {
    r.group("template");
    baselines(r);
    let vars: Vec<String> = BUILTIN_VARS.iter().map(|s| s.to_string()).collect();
    let src = r#"{"eventId":"${event}","zoneId":"${zone}","quantity":${quantity}}"#;
    let t = Template::parse(src, &vars).expect("default reserve body parses");
    // user, event, zone, quantity, iteration (BUILTIN_VARS order)
    let values: Vec<String> = ["u-48213", "evt-finals-2026", "A", "2", "0"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        t.render(&values),
        r#"{"eventId":"evt-finals-2026","zoneId":"A","quantity":2}"#
    );
    r.bench("render/reserve_body", 1, || {
        black_box(&t).render(black_box(&values))
    });
}

/// availability (1 x 200), reserve (503 + Retry-After 1 s, then 201), confirm (1 x 200).
fn journey() -> JourneyLog {
    let ms = Duration::from_millis;
    let mut availability = OpLog::new(0, ms(2_500));
    availability.outcome = OpOutcome::Ok;
    availability.latency = ms(4);
    availability
        .attempts
        .push(AttemptLog::new(ms(2_500), ms(4), StatusClass::S2xx, false));

    let mut reserve = OpLog::new(1, ms(2_504));
    reserve.outcome = OpOutcome::Ok;
    reserve.latency = ms(1_020);
    reserve.add_backoff(ms(1_000));
    reserve
        .attempts
        .push(AttemptLog::new(ms(2_504), ms(8), StatusClass::S5xx, false));
    let mut retry = AttemptLog::new(ms(3_512), ms(12), StatusClass::S2xx, true);
    retry.honoured = true;
    reserve.attempts.push(retry);

    let mut confirm = OpLog::new(2, ms(3_524));
    confirm.outcome = OpOutcome::Ok;
    confirm.latency = ms(6);
    confirm
        .attempts
        .push(AttemptLog::new(ms(3_524), ms(6), StatusClass::S2xx, false));

    let mut j = JourneyLog::new(0, ms(2_500), Duration::from_micros(150), 3);
    j.ops = vec![availability, reserve, confirm];
    j.end = JourneyEnd::Succeeded;
    j
}

fn recorder(r: &mut impl Runner) {
    r.group("recorder");
    baselines(r);
    let j = journey();
    let mut rec = Recorder::new(3);
    rec.absorb(&j);
    assert_eq!(rec.journeys.succeeded, 1);
    assert_eq!(rec.steps[1].attempts, 2);
    // Steady state: every map entry and second of the series already exists.
    r.bench("absorb/3_op_journey", 1, || rec.absorb(black_box(&j)));
}

/// Offsets computed per iteration.
const OFFSETS: usize = 10_000;

fn schedule(r: &mut impl Runner) {
    r.group("schedule");
    baselines(r);
    // Ramp 0 -> 1000/s over 10 s (5,000 arrivals), then hold 1000/s: the
    // 10,000 offsets cross the stage boundary.
    let arrivals = Arrivals::Open {
        stages: vec![
            Stage {
                duration: Duration::from_secs(10),
                from: 0.0,
                to: 1000.0,
            },
            Stage {
                duration: Duration::from_secs(10),
                from: 1000.0,
                to: 1000.0,
            },
        ],
    };
    let mut load = LoadPlan {
        arrivals,
        process: ArrivalProcess::Uniform,
        bursts: Vec::new(),
        duration: Duration::from_secs(20),
        drain: Duration::ZERO,
        max_in_flight: 1,
    };
    let v: Vec<Duration> = Schedule::new(&load, 1).take(OFFSETS).collect();
    assert_eq!(v.len(), OFFSETS);
    assert!(v.windows(2).all(|w| w[0] <= w[1]));
    assert!(v[OFFSETS - 1] > Duration::from_secs(14) && v[OFFSETS - 1] < Duration::from_secs(15));
    r.bench("open_ramp/10k_offsets", OFFSETS as u64, || {
        Schedule::new(black_box(&load), 1)
            .take(OFFSETS)
            .fold(0u128, |acc, d| acc.wrapping_add(d.as_nanos()))
    });
    load.process = ArrivalProcess::Poisson;
    r.bench("open_ramp_poisson/10k_offsets", OFFSETS as u64, || {
        Schedule::new(black_box(&load), 1)
            .take(OFFSETS)
            .fold(0u128, |acc, d| acc.wrapping_add(d.as_nanos()))
    });
}

fn envelope(r: &mut impl Runner) {
    r.group("envelope");
    baselines(r);
    let body: &[u8] = br#"{"success":false,"error":{"code":"SERVICE_UNAVAILABLE","message":"server overloaded, retry later"}}"#;
    assert_eq!(envelope_code(body), Code::new("SERVICE_UNAVAILABLE"));
    r.bench("from_slice/error_503", 1, || envelope_code(black_box(body)));
}

/// The user of the request cases.
const ARRIVAL: u64 = 48_213;

/// Everything one attempt builds before it is sent, as `engine/user.rs`
/// `request()`/`headers()` and `RoundCtx::identity` build it (the same calls
/// in the same order: user id, bearer value, iteration text, path and body
/// rendered with a lookup, op id, idempotency key, one header map), then the
/// client's own `build_request` (defaults merged in, URI, Host).
fn build_attempt(
    client: &HttpClient,
    path: &Template,
    body: &Template,
    seq: u32,
) -> Result<http::Request<http_body_util::Full<Bytes>>, stampede::client::Failure> {
    let k = black_box(ARRIVAL);
    let user_id = format!("user-{}", k % 1_000_000);
    let token = format!("tok-{user_id}");
    let mut auth = HeaderValue::from_str(&format!("Bearer {token}"))
        .unwrap_or_else(|_| HeaderValue::from_static("Bearer invalid-token"));
    auth.set_sensitive(true);
    let iteration = 0u64.to_string();
    let lookup = |id: usize| -> &str {
        match id {
            0 => &user_id,
            1 => "evt-finals-2026",
            2 => "A",
            3 => "2",
            4 => &iteration,
            _ => "",
        }
    };
    let p = path.render_with(lookup);
    let b = Some(Bytes::from(body.render_with(lookup)));
    let op_id = format!("{}-{}-{}-{}", "r0x19a3f5c2b7e", 0, k, seq);
    let mut headers = HeaderMap::with_capacity(4);
    headers.insert(http::header::AUTHORIZATION, auth);
    if let Ok(v) = HeaderValue::from_str(&op_id) {
        headers.insert("x-stampede-op", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("{op_id}.k0")) {
        headers.insert("idempotency-key", v);
    }
    client.build_request(&Method::POST, &p, headers, b, false)
}

fn request(r: &mut impl Runner) {
    r.group("request");
    baselines(r);
    let mut defaults = HeaderMap::new();
    defaults.insert("user-agent", HeaderValue::from_static("stampede-bench"));
    // Never connected: building and boxing a request needs no socket.
    let client = HttpClient::with_cap(
        "http://127.0.0.1:9",
        64,
        defaults,
        &TlsOptions::default(),
        Some(20_000.0),
        None,
    )
    .expect("client");
    let vars: Vec<String> = BUILTIN_VARS.iter().map(|s| s.to_string()).collect();
    let path = Template::parse("/bookings/${event}/reserve", &vars).expect("path");
    let body = Template::parse(
        r#"{"eventId":"${event}","zoneId":"${zone}","quantity":${quantity}}"#,
        &vars,
    )
    .expect("body");
    let req = build_attempt(&client, &path, &body, 1).expect("request builds");
    assert_eq!(req.uri(), "/bookings/evt-finals-2026/reserve");
    assert_eq!(req.headers()["host"], "127.0.0.1:9");
    assert_eq!(req.headers()["user-agent"], "stampede-bench");
    assert_eq!(
        req.headers()["idempotency-key"],
        format!("r0x19a3f5c2b7e-0-{ARRIVAL}-1.k0").as_str()
    );
    assert_eq!(req.headers()["content-type"], "application/json");
    r.bench("engine_attempt/reserve", 1, || {
        build_attempt(&client, &path, &body, 1)
    });

    // What boxing the request future costs (kept on purpose: a user waiting
    // in backoff must not carry the space of a request in flight). The
    // future is created, not polled: the difference is one allocation of
    // its size and its free.
    let timeout = Duration::from_secs(10);
    let method = Method::GET;
    let size = std::mem::size_of_val(&client.send(&method, "/x", HeaderMap::new(), None, timeout));
    println!("request future: {size} bytes (boxed per attempt in engine/user.rs)");
    r.bench("send_future/unboxed", 1, || {
        let f = client.send(&method, "/x", HeaderMap::new(), None, timeout);
        black_box(&f);
    });
    r.bench("send_future/boxed", 1, || {
        let f = Box::pin(client.send(&method, "/x", HeaderMap::new(), None, timeout));
        black_box(&f);
    });
}

fn run_all(r: &mut impl Runner) {
    policy(r);
    request(r);
    retry_after(r);
    template(r);
    recorder(r);
    schedule(r);
    envelope(r);
}

/// The ratio table is only worth its ~2 s when criterion really benchmarks
/// (`cargo bench` passes `--bench`; `cargo test` does not; `--test`, `--list`
/// and `--profile-time` are not benchmark runs either).
fn benchmarking() -> bool {
    let args: Vec<String> = std::env::args().collect();
    let has = |f: &str| {
        args.iter()
            .any(|a| a == f || a.starts_with(&format!("{f}=")))
    };
    has("--bench") && !has("--test") && !has("--list") && !has("--profile-time")
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1))
        .without_plots()
        .configure_from_args();
    run_all(&mut Crit {
        c: &mut c,
        group: "",
    });
    c.final_summary();

    if benchmarking() {
        let mut t = Table {
            group: "",
            hist: stampede::metrics::new_histogram(),
            rows: Vec::new(),
        };
        run_all(&mut t);
        t.print();
    }
}
