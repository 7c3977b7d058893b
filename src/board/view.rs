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
    /// HTTP statuses answered so far, most frequent first.
    pub statuses: Vec<(u16, u64)>,
}

/// How many statuses the view names.
pub const TOP_STATUSES: usize = 4;

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
        statuses: l.status_counts(),
    }
}

/// `201 x840 (72%), 409 x120 (10%)`: the most frequent statuses of the run
/// so far with their share of every answered status.
pub fn top_statuses(statuses: &[(u16, u64)]) -> String {
    let total: u64 = statuses.iter().map(|s| s.1).sum();
    if total == 0 {
        return "none yet".into();
    }
    let mut parts: Vec<String> = statuses
        .iter()
        .take(TOP_STATUSES)
        .map(|(s, n)| format!("{s} x{n} ({:.0}%)", *n as f64 * 100.0 / total as f64))
        .collect();
    let rest: u64 = statuses.iter().skip(TOP_STATUSES).map(|s| s.1).sum();
    if rest > 0 {
        parts.push(format!("other x{rest}"));
    }
    parts.join(", ")
}

/// What the arrivals of a round are doing, for the live and CI lines.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// An open model's scheduled arrivals per second.
    Scheduled(f64),
    /// Users arrive (a ticket drop, closed-loop users): no scheduled rate.
    ClosedModel,
    /// Arrivals are over; the round waits for the journeys in flight.
    Draining,
    /// The block printed as a round ends: rates over the whole round.
    RoundAverage,
}

impl Pace {
    /// `(120/s scheduled)`, `(closed model)`, `(draining)`.
    pub fn label(self) -> String {
        match self {
            Pace::Scheduled(r) => format!("{r:.0}/s scheduled"),
            Pace::ClosedModel => "closed model".into(),
            Pace::Draining => "draining".into(),
            Pace::RoundAverage => "averaged over the round".into(),
        }
    }

    /// This fleet's part of the round's pace.
    pub fn share(self, share: f64) -> Pace {
        match self {
            Pace::Scheduled(r) => Pace::Scheduled(r * share),
            p => p,
        }
    }
}

/// The pace at `t` into a round whose arrivals last `arrivals_for`.
pub fn pace(a: &Arrivals, t: Duration, arrivals_for: Duration) -> Pace {
    if t >= arrivals_for {
        return Pace::Draining;
    }
    match a {
        Arrivals::Open { stages } => {
            let mut at = Duration::ZERO;
            for s in stages {
                if t < at + s.duration {
                    let f = (t - at).as_secs_f64() / s.duration.as_secs_f64().max(1e-9);
                    return Pace::Scheduled(s.from + (s.to - s.from) * f);
                }
                at += s.duration;
            }
            Pace::Draining
        }
        Arrivals::TicketDrop { over, .. } if t >= *over => Pace::Draining,
        Arrivals::TicketDrop { .. } | Arrivals::Closed { .. } => Pace::ClosedModel,
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

/// One fleet's lines. `prev` is the sample `dt` ago; `pace` what the
/// fleet's arrivals are doing.
pub fn fleet_lines(f: &Fleet, now: &Sample, prev: &Sample, dt: f64, pace: Pace) -> Vec<String> {
    let dt = dt.max(1e-3);
    let rate = |a: u64, b: u64| a.saturating_sub(b) as f64 / dt;
    let last: Vec<u64> = now
        .op_latency
        .iter()
        .zip(prev.op_latency.iter().chain(std::iter::repeat(&0)))
        .map(|(a, b)| a.saturating_sub(*b))
        .collect();
    let q = LiveHistogram::quantile;
    let sched = pace.label();
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
            "  op latency p50/p99 (approx.): last {} / {}, run {} / {}; attempts {}, {} ok ops, {} failed",
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
        format!("  top statuses: {}", top_statuses(&now.statuses)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Live, StatusClass};
    use std::sync::Arc;

    fn fleet() -> Fleet {
        Fleet {
            name: "compliant".into(),
            round: 0,
            steps: vec!["reserve".into()],
            live: Arc::new(Live::new(1)),
        }
    }

    #[test]
    fn top_statuses_name_the_most_frequent_with_their_share() {
        assert_eq!(top_statuses(&[]), "none yet");
        assert_eq!(
            top_statuses(&[(201, 6), (409, 3), (503, 1)]),
            "201 x6 (60%), 409 x3 (30%), 503 x1 (10%)"
        );
        let many = [
            (200, 50),
            (201, 20),
            (409, 10),
            (429, 10),
            (500, 6),
            (503, 4),
        ];
        assert_eq!(
            top_statuses(&many),
            "200 x50 (50%), 201 x20 (20%), 409 x10 (10%), 429 x10 (10%), other x10"
        );
    }

    #[test]
    fn fleet_lines_show_classes_and_top_statuses_of_the_run() {
        let f = fleet();
        let before = sample(&f);
        for (status, class) in [
            (201, StatusClass::S2xx),
            (201, StatusClass::S2xx),
            (503, StatusClass::S5xx),
        ] {
            f.live.sent(0, false);
            f.live.answered(0, class, Duration::from_millis(5));
            f.live.status(status);
        }
        f.live.sent(0, true);
        f.live
            .answered(0, StatusClass::Timeout, Duration::from_secs(1));
        let now = sample(&f);
        assert_eq!(now.statuses, [(201, 2), (503, 1)]);
        let lines = fleet_lines(&f, &now, &before, 1.0, Pace::Scheduled(100.0));
        assert_eq!(lines.len(), 4);
        assert!(
            lines[0].contains("attempts 4/s, retries 1/s"),
            "{}",
            lines[0]
        );
        assert!(
            lines[2].contains("answers: 2xx 2, 5xx 1, timeout 1"),
            "{}",
            lines[2]
        );
        assert_eq!(lines[3], "  top statuses: 201 x2 (67%), 503 x1 (33%)");
        // Before any answer.
        assert!(lines[0].contains("(100/s scheduled)"), "{}", lines[0]);
        let empty = fleet_lines(&f, &before, &before, 1.0, Pace::ClosedModel);
        assert_eq!(empty[3], "  top statuses: none yet");
        assert!(empty[0].contains("(closed model)"), "{}", empty[0]);
        let drain = fleet_lines(&f, &now, &before, 1.0, Pace::Draining);
        assert!(drain[0].contains("(draining)"), "{}", drain[0]);
        assert!(!drain[0].contains("scheduled"), "{}", drain[0]);
    }
}
