//! A plausible two-fleet report (compliant vs naive) for tests, the
//! screenshot script and template work without running any load.
//!
//! The naive fleet shows a retry storm that never recovers (metastable
//! collapse), duplicate bookings in its ledger, and hostile target-derived
//! strings (an outcome code, a step name, a ledger key) so every renderer's
//! escaping is exercised by the same fixture.

use crate::metrics::hgrm;
use crate::model::*;
use crate::policy::{
    BackoffKind, BreakerConfig, Budget, BudgetKind, Jitter, KeyReuse, RetryLimits, RetryPolicy,
    RetryScope,
};
use crate::sim::Ledger;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::time::Duration;

/// An outcome code a hostile target could send.
pub const HOSTILE_CODE: &str = "<script>alert(1)</script>";
/// A step name carrying an HTML injection attempt.
pub const HOSTILE_STEP: &str = "<img src=x onerror=alert(1)>";

const SECONDS: u32 = 60;

/// Deterministic uniform numbers in (0, 1), so the sample never changes.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
}

/// A Pareto-like latency histogram in microseconds: `base_ms / (1-u)^alpha`.
fn latency(seed: u64, n: u64, base_ms: f64, alpha: f64) -> Histogram<u64> {
    let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("static bounds");
    let mut rng = Lcg(seed);
    for _ in 0..n {
        let v = base_ms / (1.0 - rng.next()).powf(alpha);
        // Heavy tails run into the 30 s client timeout; light ones are cut
        // earlier so the compliant fleet's maximum stays believable.
        let cap = if alpha > 0.8 {
            30_000.0
        } else {
            base_ms * 40.0
        };
        h.saturating_record((v.min(cap) * 1000.0) as u64);
    }
    h
}

fn pcts(h: &Histogram<u64>) -> Percentiles {
    hgrm::percentiles(h, 1000.0)
}

fn policy(naive: bool) -> RetryPolicy {
    RetryPolicy {
        name: if naive { "naive" } else { "compliant" }.into(),
        sin: if naive {
            "retries every error immediately with a fresh key, ignores Retry-After".into()
        } else {
            String::new()
        },
        retry: if naive {
            RetryScope::Everything
        } else {
            RetryScope::Guideline
        },
        limits: RetryLimits {
            too_many_requests: if naive { 10 } else { 5 },
            internal_error: if naive { 10 } else { 3 },
            service_unavailable: if naive { 10 } else { 3 },
            network: if naive { 10 } else { 3 },
            other: if naive { 10 } else { 0 },
        },
        backoff: if naive {
            BackoffKind::Immediate
        } else {
            BackoffKind::Exponential
        },
        base_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(30),
        jitter: if naive {
            Jitter::None
        } else {
            Jitter::Guideline
        },
        honor_retry_after: !naive,
        max_retry_after: Duration::from_secs(60),
        key_reuse: if naive {
            KeyReuse::Fresh
        } else {
            KeyReuse::Same
        },
        request_timeout: Duration::from_secs(10),
        breaker: (!naive).then_some(BreakerConfig {
            threshold: 5,
            open_for: Duration::from_secs(30),
            counts: crate::policy::BreakerCounts::COMPLIANT,
        }),
        budget: (!naive).then_some(Budget {
            scope: crate::policy::Scope::Fleet,
            kind: BudgetKind::TokenBucket {
                max_tokens: 10.0,
                token_ratio: 0.1,
            },
        }),
        // Every policy field is populated somewhere in the sample.
        throttle: naive.then_some(crate::policy::Throttle {
            scope: crate::policy::Scope::User,
            kind: crate::policy::ThrottleKind::Sre {
                k: 2.0,
                window: Duration::from_secs(120),
            },
        }),
        precheck: !naive,
        abandon_after: naive.then_some(Duration::from_secs(20)),
        max_resubmits: if naive { 3 } else { 0 },
        retry_codes: Vec::new(),
        final_codes: Vec::new(),
        ambiguous_codes: vec!["REQUEST_IN_PROGRESS".into()],
        throttled_base_delay: naive.then_some(Duration::from_secs(2)),
        backoff_multiplier: 2.0,
        retry_after_clamp: naive.then_some(Duration::from_secs(5)),
        pushback: naive,
        throttling_codes: vec!["SlowDown".into()],
        attempt_header: naive.then(|| {
            crate::policy::AttemptHeader(http::HeaderName::from_static("x-retry-attempt"))
        }),
        hedge: naive.then_some(crate::policy::Hedge {
            after: crate::policy::HedgeAfter::Percentile(950),
            max: 1,
            fallback: Duration::from_millis(100),
        }),
        rate_limit_pacing: naive.then_some(crate::policy::RateLimitPacing::USER),
    }
}

/// The sample's trigger: a fault window from 8 s to 12 s of each round.
pub const SAMPLE_TRIGGER: Trigger = Trigger {
    from_s: 8.0,
    to_s: 12.0,
};

/// Per-second counters; the naive fleet tips into a storm at t=10 and stays
/// there, the compliant one dips during the trigger and is back at t=14.
fn timeseries(naive: bool) -> Vec<SecondRow> {
    (0..SECONDS)
        .map(|t| {
            let arrivals = 60;
            let (attempts, successes, s429, s5xx, in_flight) = if !naive || t < 10 {
                let wobble = u64::from(t % 7);
                let a = 76 + wobble;
                let rl = if (5..15).contains(&t) {
                    6 + wobble
                } else {
                    wobble / 3
                };
                let ok = if (8..14).contains(&t) {
                    30 + wobble
                } else {
                    56 + wobble / 2
                };
                (a, ok, rl, wobble / 4, 24 + wobble * 2)
            } else {
                let k = f64::from(t - 9);
                let a = (80.0 * 1.4f64.powf(k)).min(462.0) as u64 + u64::from(t % 5) * 3;
                let ok = (50.0 / k).max(4.0) as u64;
                let s5 = a / 3;
                (a, ok, a - ok - s5 - 5, s5, (30.0 * k).min(900.0) as u64)
            };
            SecondRow {
                t,
                arrivals: arrivals / 3,
                operations_started: arrivals,
                attempts,
                retries: attempts.saturating_sub(arrivals),
                successes,
                status_429: s429,
                status_5xx: s5xx,
                timeouts: if naive && t >= 12 { 5 } else { 0 },
                network_errors: u64::from(naive && t % 11 == 0),
                not_sent: 0,
                in_flight,
                breaker_opens: u64::from(!naive && (6..9).contains(&t)),
            }
        })
        .collect()
}

/// Operation and attempt latency per second for `steps` steps: both fleets
/// slow down in the trigger; the naive one stays slow (its storm).
fn latency_over_time(naive: bool, steps: usize) -> crate::metrics::latency::LatencySeries {
    use crate::metrics::SecondHistograms;
    let mut rng = Lcg(if naive { 77 } else { 7 });
    let mut hists = vec![(SecondHistograms::default(), SecondHistograms::default()); steps];
    for t in 0..SECONDS {
        let slow = if (8..12).contains(&t) || (naive && t >= 10) {
            8.0
        } else {
            1.0
        };
        for (k, (op, at)) in hists.iter_mut().enumerate() {
            for _ in 0..20 {
                let base = 20_000.0 * (k + 1) as f64 * slow;
                let v = (base * (1.0 + 3.0 * rng.next().powi(6))) as u64;
                at.record(t, v / 2);
                op.record(t, v);
            }
        }
    }
    crate::metrics::latency::latency_series(hists.iter().map(|(o, a)| (o, a)))
}

fn step(name: &str, seed: u64, ops: u64, amp: f64, ok: f64, naive: bool) -> StepResult {
    let (base, alpha) = if naive { (100.0, 0.9) } else { (50.0, 0.55) };
    let op = latency(seed, ops, base, alpha);
    let at = latency(seed + 1, (ops as f64 * amp) as u64, base / 3.0, alpha * 0.7);
    let ok_n = (ops as f64 * ok) as u64;
    let mut outcomes = BTreeMap::from([("OK".to_string(), ok_n)]);
    let rest = ops - ok_n;
    if naive {
        outcomes.insert("GAVE_UP/SERVICE_UNAVAILABLE".into(), rest * 2 / 3);
        outcomes.insert(HOSTILE_CODE.into(), rest - rest * 2 / 3);
    } else {
        outcomes.insert("INSUFFICIENT_SEATS".into(), rest);
    }
    let class = |b: f64, a: f64, n: u64, s: u64| pcts(&latency(seed + s, n, b, a));
    let by_class = BTreeMap::from([
        ("2xx".to_string(), class(base / 3.0, 0.4, ok_n.max(1), 2)),
        ("429".to_string(), class(1.0, 0.2, rest.max(1), 3)),
        (
            "5xx".to_string(),
            class(base, alpha, rest.max(1) / 2 + 1, 4),
        ),
    ]);
    StepResult {
        name: name.into(),
        operations: ops,
        attempts: (ops as f64 * amp) as u64,
        not_sent: 0,
        hedges: 0,
        hedge_wins: 0,
        amplification: (ops as f64 * amp) as u64 as f64 / ops.max(1) as f64,
        success_rate: ok,
        outcomes,
        operation_latency_ms: pcts(&op),
        ok_operation_latency_ms: pcts(&latency(seed + 5, ok_n.max(1), base, alpha)),
        attempt_latency_ms: pcts(&at),
        attempt_latency_by_class_ms: by_class,
        latency_series: Vec::new(),
        kind: StepKind::Request,
        retries: (ops as f64 * amp) as u64 - ops,
        journeys_passed: (ops as f64 * ok) as u64,
        wait: None,
        windows: Vec::new(),
    }
}

/// 10-second windows of a fleet or step: slow in the trigger (8–12 s), and
/// the naive fleet stays slow.
fn sample_windows(seed: u64, naive: bool) -> Vec<crate::model::WindowSeries> {
    let rows = (0..SECONDS.div_ceil(10))
        .map(|w| {
            let slow = w == 1 || (naive && w >= 1);
            let base = if slow { 400.0 } else { 50.0 };
            let op = pcts(&latency(seed + u64::from(w), 300, base, 0.5));
            let ok = pcts(&latency(seed + 40 + u64::from(w), 280, base, 0.5));
            let at = pcts(&latency(seed + 80 + u64::from(w), 330, base / 3.0, 0.4));
            crate::model::WindowRow {
                t_s: w * 10,
                operations: op.count,
                ok_operations: ok.count,
                attempts: at.count,
                operation_latency_ms: op,
                ok_operation_latency_ms: ok,
                attempt_latency_ms: at,
            }
        })
        .collect();
    vec![crate::model::WindowSeries { width_s: 10, rows }]
}

/// attempts per operation -> operations.
type AttemptCounts = Vec<(u32, u64)>;

fn fleet(naive: bool) -> FleetResult {
    let series = timeseries(naive);
    let attempts: u64 = series.iter().map(|r| r.attempts).sum();
    let operations: u64 = series.iter().map(|r| r.operations_started).sum();
    let successes: u64 = series.iter().map(|r| r.successes).sum();
    let seed = if naive { 1000 } else { 1 };
    let (base, alpha) = if naive { (120.0, 0.95) } else { (60.0, 0.57) };
    let op = latency(seed, operations, base, alpha);
    let at = latency(seed + 1, attempts, base / 3.0, alpha * 0.75);
    let ok = successes.min(operations);
    let success_rate = ok as f64 / operations as f64;
    let duration = f64::from(SECONDS);
    let journeys = if naive {
        JourneyCounts {
            started: 1200,
            succeeded: 430,
            sold_out: 150,
            failed: 600,
            cancelled: 20,
        }
    } else {
        JourneyCounts {
            started: 1200,
            succeeded: 1180,
            sold_out: 12,
            failed: 6,
            cancelled: 2,
        }
    };
    let (outcomes, apo): (Vec<(&str, u64)>, AttemptCounts) = if naive {
        (
            vec![
                ("OK", ok),
                ("GAVE_UP/SERVICE_UNAVAILABLE", operations - ok - 260),
                ("TIMEOUT", 150),
                ("INSUFFICIENT_SEATS", 100),
                (HOSTILE_CODE, 10),
            ],
            vec![(1, 700), (2, 220), (3, 160), (5, 300), (8, 520), (11, 1700)],
        )
    } else {
        (
            vec![
                ("OK", ok),
                ("INSUFFICIENT_SEATS", operations - ok - 50),
                ("GAVE_UP/HTTP_503", 36),
                ("BREAKER_OPEN", 14),
            ],
            vec![(1, 2900), (2, 520), (3, 140), (4, 40)],
        )
    };
    let mut ledger = Ledger {
        bookings_created: journeys.succeeded + if naive { 37 } else { 0 },
        duplicates: if naive { 37 } else { 0 },
        oversold: if naive { 3 } else { 0 },
        wasted_work: if naive { 9120 } else { 140 },
        early_retries: if naive { 4100 } else { 0 },
        ..Default::default()
    };
    let req = &mut ledger.requests;
    req.entry("reserve".into()).or_default().extend([
        (201, ok),
        (429, attempts / 3),
        (503, attempts / 4),
    ]);
    req.entry("confirm".into())
        .or_default()
        .insert(200, journeys.succeeded);
    if naive {
        req.entry(HOSTILE_CODE.into()).or_default().insert(404, 3);
    }
    let sold = ledger.bookings_created.min(300) as u32;
    ledger.zones.insert(
        "E1/A".into(),
        crate::sim::ZoneSeats {
            capacity: 300,
            sold,
            reserved: 0,
            available: 300 - sold,
        },
    );
    ledger.attempts_per_op.extend([(1, ok), (2, attempts / 5)]);
    if !naive {
        // The Booking Rush profile's fields (absent from the guidelines
        // profile's ledgers), so every renderer and the schema meet them.
        ledger.logins = Some(journeys.started);
        ledger.refreshes = Some(4);
        ledger.queue = Some(crate::sim::QueueLedger {
            joins: journeys.started,
            polls: journeys.started * 6,
            streams: 0,
            passes_issued: journeys.started - 20,
            passes_used: journeys.succeeded,
            passes_stranded: journeys.started - 20 - journeys.succeeded,
            unsold_while_waiting: 340,
            time_in_queue_ms: crate::sim::TimeSummary {
                count: journeys.started - 20,
                sum: (journeys.started - 20) * 9_400,
                max: 31_000,
                p50: 8_200,
                p90: 21_000,
                p99: 29_500,
            },
        });
        ledger.replays_by_status = Some([(201, 12), (500, 3)].into_iter().collect());
        ledger.idempotent_replays = 15;
        ledger.request_in_progress = Some(9);
        ledger.idempotency_key_reused = Some(0);
        ledger.gateway_timeouts = Some(2);
    }
    let mut steps = vec![
        step("availability", seed + 10, operations / 3, 1.1, 0.99, naive),
        step(
            "reserve",
            seed + 20,
            operations / 3,
            if naive { 9.0 } else { 1.6 },
            success_rate,
            naive,
        ),
        step("confirm", seed + 30, operations / 3, 1.2, 0.97, naive),
    ];
    if naive {
        steps.push(step(HOSTILE_STEP, seed + 40, 12, 3.0, 0.5, true));
    } else {
        // A waiting room held on an event stream: every wait field shown.
        let mut queue = step("queue", seed + 50, 40, 1.0, 0.95, false);
        queue.kind = StepKind::Sse;
        queue.attempts = 46;
        queue.retries = 0;
        queue.wait = Some(WaitStats {
            polls: 46,
            polls_per_wait: BTreeMap::from([(1, 34), (2, 6)]),
            early_polls: 0,
            reconnects: 6,
            time_to_first_event_ms: Some(pcts(&latency(seed + 51, 40, 2.0, 0.4))),
        });
        steps.push(queue);
    }
    let breaker_opens = series.iter().map(|r| r.breaker_opens).sum();
    let mut lat = latency_over_time(naive, steps.len());
    for (s, rows) in steps.iter_mut().zip(std::mem::take(&mut lat.steps)) {
        s.latency_series = rows;
    }
    steps[1].windows = sample_windows(seed + 20, naive);
    FleetResult {
        name: if naive { "naive" } else { "compliant" }.into(),
        policy: if naive { "naive" } else { "compliant" }.into(),
        policy_detail: policy(naive),
        round: usize::from(naive),
        share: 1.0,
        counts: FleetCounts {
            operations,
            attempts,
            not_sent: 0,
            hedges: 0,
            hedge_wins: 0,
            retries: attempts - operations,
            amplification: steps[1].amplification,
            amplification_steps: vec!["reserve".into()],
            amplification_overall: attempts as f64 / operations as f64,
            success_rate,
            goodput: journeys.succeeded as f64 / duration,
            achieved_rps: attempts as f64 / duration,
            round_duration_s: duration,
            journeys,
            outcomes: outcomes
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            relogins: 0,
            funnel: steps
                .iter()
                .map(|s| FunnelStage {
                    step: s.name.clone(),
                    journeys: s.journeys_passed,
                })
                .collect(),
        },
        latency: FleetLatency {
            operation_latency_ms: pcts(&op),
            ok_operation_latency_ms: pcts(&latency(
                seed + 6,
                (operations as f64 * success_rate) as u64,
                base,
                alpha,
            )),
            attempt_latency_ms: pcts(&at),
            backoff_wait_ms: pcts(&latency(
                seed + 2,
                attempts - operations,
                if naive { 0.01 } else { 900.0 },
                0.3,
            )),
            schedule_lag_ms: pcts(&latency(
                seed + 3,
                operations,
                0.6,
                if naive { 0.5 } else { 0.3 },
            )),
            queue_wait_ms: pcts(&latency(seed + 7, attempts, 0.2, 0.4)),
            journey_duration_ms: pcts(&latency(seed + 4, journeys.started, base * 3.0, alpha)),
            latency_step: Some("reserve".into()),
            operation_spectrum: hgrm::spectrum(&op, 1000.0),
            attempt_spectrum: hgrm::spectrum(&at, 1000.0),
            latency_interval_ms: lat.interval_ms,
            latency_series: lat.fleet,
            latency_per_second: lat.per_second,
        },
        retry: RetryBehaviour {
            retry_after_honoured: if naive { 0 } else { 310 },
            breaker_opens,
            breaker_open_s: if naive { 0.0 } else { 41.5 },
        },
        harm: ClientHarm {
            early_retries: if naive { 4100 } else { 0 },
            key_changed_after_ambiguous: if naive { 900 } else { 0 },
            sent_while_told_to_wait: if naive { 3800 } else { 0 },
        },
        attempts_per_operation: apo.into_iter().collect(),
        steps,
        recovery_s: crate::report::recovery::recovery(&series, Some(&SAMPLE_TRIGGER)),
        timeseries: series,
        truth: (!naive).then(|| crate::model::Truth {
            source: "command redis-cli".into(),
            counts: BTreeMap::from([("bookings_created".into(), sold as f64)]),
            levels: BTreeMap::from([("seats_left".into(), f64::from(300 - sold))]),
        }),
        ledger: Some(ledger),
        round_started_unix_ms: Some(1_795_860_000_000 + if naive { 63_200 } else { 0 }),
        windows: sample_windows(seed + 10, naive),
    }
}

/// Three gates as the evaluator writes them: a pass, a failure, and one that
/// could not be measured (its detail carrying target-derived text).
fn sample_gates() -> Vec<GateResult> {
    let detail = format!("step `{HOSTILE_CODE}` has no results for fleet `naive`");
    vec![
        GateResult {
            expr: "compliant.operation_latency.p99 < 1s".into(),
            passed: true,
            measured: Some(0.82),
            bound: 1.0,
            message: "compliant.operation_latency.p99 < 1s: measured 0.82s, bound 1s — passed"
                .into(),
            metric: "compliant.operation_latency.p99".into(),
            op: "<".into(),
            unit: "s".into(),
            bound_written: "1s".into(),
            measured_written: Some("0.82s".into()),
            reason: GateReason::Passed,
            detail: None,
            baseline: None,
            window: None,
        },
        GateResult {
            expr: "naive.duplicates == 0".into(),
            passed: false,
            measured: Some(37.0),
            bound: 0.0,
            message: "naive.duplicates == 0: measured 37, bound 0 — FAILED".into(),
            metric: "naive.duplicates".into(),
            op: "==".into(),
            unit: String::new(),
            bound_written: "0".into(),
            measured_written: Some("37".into()),
            reason: GateReason::Failed,
            detail: None,
            baseline: None,
            window: None,
        },
        GateResult {
            expr: "naive.reserve.success_rate >= 90%".into(),
            passed: false,
            measured: None,
            bound: 90.0,
            message: format!("naive.reserve.success_rate >= 90%: {detail}, bound 90% — FAILED"),
            metric: "naive.reserve.success_rate".into(),
            op: ">=".into(),
            unit: "%".into(),
            bound_written: "90%".into(),
            measured_written: None,
            reason: GateReason::UnknownStep,
            detail: Some(detail),
            baseline: None,
            window: None,
        },
        GateResult {
            expr: "compliant.amplification <= baseline + 0.05".into(),
            passed: true,
            measured: Some(1.12),
            bound: 1.15,
            message: "compliant.amplification <= baseline + 0.05: measured 1.12, bound 1.15 (baseline 1.1 + 0.05) — passed".into(),
            metric: "compliant.amplification".into(),
            op: "<=".into(),
            unit: String::new(),
            bound_written: "1.15 (baseline 1.1 + 0.05)".into(),
            measured_written: Some("1.12".into()),
            reason: GateReason::Passed,
            detail: None,
            baseline: Some(1.1),
            window: None,
        },
        GateResult {
            expr: "compliant.operation_latency.p99 < 800ms in 99% of 10s windows".into(),
            passed: false,
            measured: Some(1480.0),
            bound: 800.0,
            message: "compliant.operation_latency.p99 < 800ms in 99% of 10s windows: held in 5 of 6 10s windows (83.3%, 99% required), worst 1480ms at 10s, bound 800ms — FAILED".into(),
            metric: "compliant.operation_latency.p99".into(),
            op: "<".into(),
            unit: "ms".into(),
            bound_written: "800ms".into(),
            measured_written: Some("1480ms".into()),
            reason: GateReason::Failed,
            detail: None,
            baseline: None,
            window: Some(crate::model::WindowVerdict {
                width_s: 10,
                required: 0.99,
                measured: 6,
                held: 5,
                empty: 0,
                worst_t_s: Some(10),
            }),
        },
    ]
}

/// The sample report: compliant (round 0) vs naive (round 1), with five gates (one relative to a baseline, one over windows).
/// `r` as a run in which no attempt got an HTTP answer: every step's
/// attempts all failed on the network ([`Report::unreachable`]).
pub fn no_http_answer(r: &mut Report) {
    for c in &mut r.results {
        for s in &mut c.steps {
            s.attempt_latency_by_class_ms = BTreeMap::from([(
                "network".to_string(),
                Percentiles {
                    count: 5,
                    ..Percentiles::default()
                },
            )]);
        }
    }
}

pub fn sample_report() -> Report {
    Report {
        schema_version: SCHEMA_VERSION,
        stampede_version: env!("CARGO_PKG_VERSION").into(),
        scenario: "ticket-drop".into(),
        description: "1,200 fans hit zone A at 10:00 <b>sharp</b> & refresh".into(),
        source: "scenarios/ticket-drop.toml".into(),
        started_at: "2026-11-28T10:00:00Z".into(),
        duration_s: 2.0 * f64::from(SECONDS) + 3.2,
        target: "embedded simulator".into(),
        load: "ticket drop: 1200 users over 2s, then 60 ops/s".into(),
        status: crate::report::RunStatus::Completed,
        stop_reason: None,
        notes: vec!["the 20000/s attempt cap held back 12 attempts <b>(sample)</b>".into()],
        results: vec![fleet(false), fleet(true)],
        gates: sample_gates(),
        trigger: Some(SAMPLE_TRIGGER),
        origin: crate::report::Origin {
            seed: Some(7),
            gates: vec!["compliant.amplification <= 1.3".into()],
            shard: Some(crate::report::Shard { index: 0, count: 2 }),
            histogram: Some(crate::report::HistogramSettings {
                lowest: 1,
                highest: 3_600_000_000,
                significant_digits: 3,
            }),
            merged_from: vec!["reports/shard-0".into(), "reports/shard-1".into()],
            round_s: Some(31.0),
        },
        meta: sample_meta(),
    }
}

/// Metadata as a run with `--rate` and `--duration` overrides records it.
fn sample_meta() -> crate::model::RunMeta {
    use crate::model::{Host, RunMeta, Schedule};
    RunMeta {
        seed: Some(7),
        argv: [
            "stampede",
            "run",
            "scenarios/ticket-drop.toml",
            "--rate",
            "600",
            "--duration",
            "2s",
        ]
        .map(String::from)
        .to_vec(),
        overrides: [("duration", "2s"), ("rate", "600")]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into_iter()
            .collect(),
        schedule: Schedule {
            load: "ticket drop: 1200 users arriving over 2s".into(),
            arrivals_stop_s: 2.0,
            natural_s: 2.0,
            drain_s: 10.0,
            max_in_flight: 20_000,
            max_rps: 20_000.0,
            rounds: 2,
        },
        host: Host {
            name: "ci-runner-<b>1</b>".into(),
            cores: 2,
            os: "linux x86_64".into(),
        },
        git_rev: Some("0123abc".into()),
        clock: crate::clock::ClockMode::Virtual,
        wall_s: Some(0.42),
    }
}
