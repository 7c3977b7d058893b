//! The live view's text, one block per fleet of the running round, from
//! [`Live`](crate::metrics::Live) counters: rates over the last interval and
//! totals so far. Pure: the caller keeps the previous [`Sample`].

use super::{Fleet, RoundInfo};
use crate::metrics::LiveHistogram;
use crate::metrics::live::CLASSES;
use crate::scenario::plan::Arrivals;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// Counters of one fleet at one instant.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub arrivals: u64,
    pub attempts: u64,
    pub retries: u64,
    pub classes: [u64; CLASSES.len()],
    pub op_latency: Vec<u64>,
}

pub fn sample(f: &Fleet) -> Sample {
    let l = &f.live;
    let mut classes = [0; CLASSES.len()];
    for s in l.steps.iter() {
        for (c, n) in classes.iter_mut().zip(&s.answered) {
            *c += n.load(Relaxed);
        }
    }
    Sample {
        arrivals: l.arrivals.load(Relaxed),
        attempts: l.attempts.load(Relaxed),
        retries: l.retries.load(Relaxed),
        classes,
        op_latency: l.op_latency.snapshot(),
    }
}

/// Scheduled arrivals per second at `t` into the round (all fleets).
pub fn scheduled_rate(a: &Arrivals, t: Duration) -> Option<f64> {
    match a {
        Arrivals::Open { stages } => {
            let mut at = Duration::ZERO;
            for s in stages {
                if t < at + s.duration {
                    let f = (t - at).as_secs_f64() / s.duration.as_secs_f64().max(1e-9);
                    return Some(s.from + (s.to - s.from) * f);
                }
                at += s.duration;
            }
            Some(0.0)
        }
        Arrivals::TicketDrop { users, over } => Some(if t < *over {
            *users as f64 / over.as_secs_f64().max(1e-3)
        } else {
            0.0
        }),
        Arrivals::Closed { .. } => None,
    }
}

fn ms(d: Option<Duration>) -> String {
    d.map_or_else(
        || "-".into(),
        |d| format!("{:.0}ms", d.as_secs_f64() * 1000.0),
    )
}

/// Stage and time left: `arrivals 1.2s/3s` or `draining, up to 14s left`.
pub fn stage(info: &RoundInfo, now: Instant) -> String {
    let t = now.saturating_duration_since(info.started);
    let round = format!("round {}/{}", info.round + 1, info.rounds);
    if t < info.arrivals_for {
        format!(
            "{round}: arrivals {:.1}s of {:.1}s, {:.1}s left",
            t.as_secs_f64(),
            info.arrivals_for.as_secs_f64(),
            (info.arrivals_for - t).as_secs_f64()
        )
    } else {
        let left = (info.arrivals_for + info.drain).saturating_sub(t);
        format!("{round}: draining, at most {:.0}s left", left.as_secs_f64())
    }
}

/// One fleet's lines. `prev` is the sample `dt` ago; `scheduled` the
/// fleet's scheduled arrivals/s.
pub fn fleet_lines(
    f: &Fleet,
    now: &Sample,
    prev: &Sample,
    dt: f64,
    scheduled: Option<f64>,
) -> Vec<String> {
    let dt = dt.max(1e-3);
    let rate = |a: u64, b: u64| a.saturating_sub(b) as f64 / dt;
    let last: Vec<u64> = now
        .op_latency
        .iter()
        .zip(prev.op_latency.iter().chain(std::iter::repeat(&0)))
        .map(|(a, b)| a.saturating_sub(*b))
        .collect();
    let q = LiveHistogram::quantile;
    let sched = scheduled.map_or_else(|| "closed model".into(), |s| format!("{s:.0}/s scheduled"));
    let classes: Vec<String> = CLASSES
        .iter()
        .zip(now.classes)
        .filter(|(_, n)| *n > 0)
        .map(|(c, n)| format!("{} {n}", c.label()))
        .collect();
    vec![
        format!(
            "{}: arrivals {:.0}/s ({sched}), attempts {:.0}/s, retries {:.0}/s, in flight {}",
            f.name,
            rate(now.arrivals, prev.arrivals),
            rate(now.attempts, prev.attempts),
            rate(now.retries, prev.retries),
            f.live.in_flight.load(Relaxed),
        ),
        format!(
            "  op latency p50/p99: last {} / {}, run {} / {}; attempts {}, {} ok ops, {} failed",
            ms(q(&last, 0.5)),
            ms(q(&last, 0.99)),
            ms(q(&now.op_latency, 0.5)),
            ms(q(&now.op_latency, 0.99)),
            now.attempts,
            f.live.ok.load(Relaxed),
            f.live.failures.load(Relaxed),
        ),
        format!(
            "  answers: {}; breaker opens {}",
            if classes.is_empty() {
                "none yet".into()
            } else {
                classes.join(", ")
            },
            f.live.breaker_opens.load(Relaxed),
        ),
    ]
}
