//! When each arrival is due. Pure arithmetic, so the open model's timing is
//! tested without a clock: the driver only sleeps until the next due time
//! and releases everything that is due (catching up instead of drifting,
//! which is what keeps 10k/s on schedule with a 1 ms timer).

use crate::scenario::{Arrivals, Stage};
use std::time::Duration;

/// Offsets (from the round start) of every arrival of an open or
/// ticket-drop schedule, in order; `None` once the schedule is exhausted.
#[derive(Debug, Clone)]
pub struct Schedule {
    kind: Kind,
    next: u64,
}

#[derive(Debug, Clone)]
enum Kind {
    Stages {
        stages: Vec<Stage>,
        starts: Vec<(f64, f64)>,
    },
    Even {
        users: u64,
        over: Duration,
    },
    Closed,
}

impl Schedule {
    pub fn new(arrivals: &Arrivals) -> Self {
        let kind = match arrivals {
            Arrivals::Open { stages } => {
                // (start time s, arrivals before this stage)
                let mut starts = Vec::with_capacity(stages.len());
                let (mut t, mut n) = (0.0, 0.0);
                for s in stages {
                    starts.push((t, n));
                    let d = s.duration.as_secs_f64();
                    t += d;
                    n += (s.from + s.to) / 2.0 * d;
                }
                Kind::Stages {
                    stages: stages.clone(),
                    starts,
                }
            }
            Arrivals::TicketDrop { users, over } => Kind::Even {
                users: *users,
                over: *over,
            },
            Arrivals::Closed { .. } => Kind::Closed,
        };
        Self { kind, next: 0 }
    }

    /// Offset of arrival number `k` (0-based).
    pub fn offset_of(&self, k: u64) -> Option<Duration> {
        match &self.kind {
            // `mul_f64` without its panic: the fraction is below 1, so the
            // product fits whenever `over` does.
            Kind::Even { users, over } => (k < *users).then(|| {
                Duration::try_from_secs_f64((k as f64 / *users as f64) * over.as_secs_f64())
                    .unwrap_or(*over)
            }),
            Kind::Closed => None,
            Kind::Stages { stages, starts } => {
                // Arrival k happens when the cumulative count reaches k + 1/2
                // (centred in its slot, so a 1/s stage fires at 0.5 s, 1.5 s...).
                let target = k as f64 + 0.5;
                for (s, &(t0, n0)) in stages.iter().zip(starts) {
                    let d = s.duration.as_secs_f64();
                    let in_stage = (s.from + s.to) / 2.0 * d;
                    if in_stage <= 0.0 {
                        continue; // a pause: no arrivals, and nothing to divide by
                    }
                    if target <= n0 + in_stage {
                        let m = target - n0;
                        let slope = (s.to - s.from) / d;
                        // Solve from*t + slope*t^2/2 = m, in the form stable when from = 0.
                        let disc = s.from * s.from + 2.0 * slope * m;
                        let t = if slope.abs() < 1e-12 {
                            m / s.from
                        } else {
                            2.0 * m / (s.from + disc.max(0.0).sqrt())
                        };
                        let t = if t.is_finite() { t.clamp(0.0, d) } else { 0.0 };
                        return Duration::try_from_secs_f64(t0 + t).ok();
                    }
                }
                None
            }
        }
    }
}

impl Iterator for Schedule {
    type Item = Duration;
    fn next(&mut self) -> Option<Duration> {
        let t = self.offset_of(self.next)?;
        self.next += 1;
        Some(t)
    }
}

/// Which cohort arrival `k` belongs to: a low-discrepancy sequence (the
/// golden ratio) keeps the mix at its shares in every window of the run,
/// not only on average, and is deterministic.
pub fn cohort_of(k: u64, shares: &[f64]) -> usize {
    const PHI: f64 = 0.618_033_988_749_894_9;
    let u = (k as f64 * PHI).fract();
    let mut acc = 0.0;
    for (i, s) in shares.iter().enumerate() {
        acc += s;
        if u < acc {
            return i;
        }
    }
    shares.len().saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(stages: &[(u64, f64, f64)]) -> Schedule {
        Schedule::new(&Arrivals::Open {
            stages: stages
                .iter()
                .map(|&(s, from, to)| Stage {
                    duration: Duration::from_secs(s),
                    from,
                    to,
                })
                .collect(),
        })
    }

    #[test]
    fn constant_rate_gives_exact_count_and_spacing() {
        let v: Vec<Duration> = open(&[(2, 1000.0, 1000.0)]).collect();
        assert_eq!(v.len(), 2000);
        assert_eq!(v[0], Duration::from_micros(500));
        assert_eq!(v[1] - v[0], Duration::from_millis(1));
        assert!(v.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn linear_ramp_from_zero_matches_integral() {
        // 0 -> 100/s over 10 s: N(t) = 5t^2, 500 arrivals, half of them after t = sqrt(50) s.
        let v: Vec<Duration> = open(&[(10, 0.0, 100.0)]).collect();
        assert_eq!(v.len(), 500);
        let late = v.iter().filter(|d| d.as_secs_f64() >= 50f64.sqrt()).count();
        assert!((late as i64 - 250).abs() <= 1, "{late}");
        assert!(v.last().unwrap() <= &Duration::from_secs(10));
    }

    #[test]
    fn stages_chain_and_ramp_down() {
        let v: Vec<Duration> = open(&[(1, 100.0, 100.0), (2, 100.0, 0.0)]).collect();
        assert_eq!(v.len(), 200);
        assert!(v[99] < Duration::from_secs(1) && v[100] > Duration::from_secs(1));
    }

    #[test]
    fn a_zero_rate_stage_is_a_pause() {
        let v: Vec<Duration> = open(&[(1, 2.5, 2.5), (1, 0.0, 0.0), (2, 1.0, 1.0)]).collect();
        // 2.5 + 0 + 2 = 4.5 arrivals due: slots centred at 0.5, 1.5, ... 4.5.
        assert_eq!(v.len(), 5, "{v:?}");
        assert!(
            v.iter()
                .all(|d| d.as_secs_f64() <= 1.0 || d.as_secs_f64() >= 2.0),
            "{v:?}"
        );
        assert!(v.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn ticket_drop_spreads_users_evenly() {
        let s = Schedule::new(&Arrivals::TicketDrop {
            users: 4,
            over: Duration::from_secs(2),
        });
        let v: Vec<Duration> = s.collect();
        assert_eq!(
            v,
            vec![0, 500, 1000, 1500]
                .into_iter()
                .map(Duration::from_millis)
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn the_largest_valid_schedules_compute_without_overflow() {
        use crate::scenario::bounds::{MAX_DURATION, MAX_RATE, MAX_USERS};
        let drop = Schedule::new(&Arrivals::TicketDrop {
            users: MAX_USERS,
            over: MAX_DURATION,
        });
        let last = drop.offset_of(MAX_USERS - 1).unwrap();
        assert!(
            last < MAX_DURATION && last > MAX_DURATION.mul_f64(0.99),
            "{last:?}"
        );
        assert_eq!(drop.offset_of(MAX_USERS), None);
        let open = Schedule::new(&Arrivals::Open {
            stages: vec![Stage {
                duration: MAX_DURATION,
                from: MAX_RATE,
                to: MAX_RATE,
            }],
        });
        let n = (MAX_RATE * MAX_DURATION.as_secs_f64()) as u64;
        let last = open.offset_of(n - 1).unwrap();
        assert!(
            last <= MAX_DURATION && last > MAX_DURATION.mul_f64(0.99),
            "{last:?}"
        );
        assert_eq!(open.offset_of(n), None);
        assert_eq!(open.offset_of(u64::MAX), None);
    }

    #[test]
    fn cohort_mix_follows_shares_in_every_window() {
        let shares = [0.8, 0.2];
        for start in [0u64, 1000, 77_777] {
            let naive = (start..start + 1000)
                .filter(|&k| cohort_of(k, &shares) == 1)
                .count();
            assert!((190..=210).contains(&naive), "{naive} in window at {start}");
        }
        assert_eq!(cohort_of(5, &[1.0]), 0);
    }
}
