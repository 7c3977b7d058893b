//! When each arrival is due. Pure arithmetic, so the open model's timing is
//! tested without a clock: the driver only sleeps until the next due time
//! and releases everything that is due (catching up instead of drifting,
//! which is what keeps 10k/s on schedule with a 1 ms timer).

use crate::scenario::model::ArrivalProcess;
use crate::scenario::{Arrivals, Burst, LoadPlan, Stage};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use std::time::Duration;

/// Offsets (from the round start) of every arrival of an open or
/// ticket-drop schedule, in order; `None` once the schedule is exhausted.
///
/// Uniform arrivals are evenly spaced at the schedule's rate: arrival k is
/// due when the expected count reaches k + 1/2. Poisson arrivals put the
/// same rate through a seeded unit-rate Poisson process instead: arrival k
/// is due when the expected count reaches S(k+1), the sum of k+1
/// exponential(1) gaps (the time change of an inhomogeneous Poisson
/// process, so ramps stay ramps). A ticket drop's Poisson arrivals keep its
/// user count: S(k+1)/S(N+1) of the window, the order statistics of N
/// uniform instants. Bursts add arrivals at their instants, merged in time
/// order (a burst goes before a regular arrival due at the same instant).
#[derive(Debug, Clone)]
pub struct Schedule {
    kind: Kind,
    next: u64,
    poisson: Option<Poisson>,
    /// The next regular arrival, once drawn (a burst may go before it).
    pending: Option<Option<Duration>>,
    bursts: Vec<Burst>,
    /// (burst index, arrivals of it already given).
    burst_at: (usize, u64),
}

#[derive(Debug, Clone)]
struct Poisson {
    rng: SmallRng,
    /// S(k): the unit-rate arrival times drawn so far.
    cum: f64,
    /// S(N+1) for a ticket drop of N users (1 for an open schedule).
    total: f64,
}

impl Poisson {
    fn gap(rng: &mut SmallRng) -> f64 {
        -(1.0 - rng.random::<f64>()).ln()
    }
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
    /// The schedule of `load`; `seed` (the scenario's) makes Poisson
    /// arrivals the same in every round and every shard.
    pub fn new(load: &LoadPlan, seed: u64) -> Self {
        let kind = match &load.arrivals {
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
        let poisson = (load.process == ArrivalProcess::Poisson).then(|| {
            let rng = SmallRng::seed_from_u64(seed ^ 0x5EED_A441_7A15_0000);
            let total = match kind {
                Kind::Even { users, .. } => {
                    let mut r = rng.clone();
                    (0..=users).map(|_| Poisson::gap(&mut r)).sum()
                }
                _ => 1.0,
            };
            Poisson {
                rng,
                cum: 0.0,
                total,
            }
        });
        Self {
            kind,
            next: 0,
            poisson,
            pending: None,
            bursts: load.bursts.clone(),
            burst_at: (0, 0),
        }
    }

    /// Offset of regular arrival number `k` (0-based) under uniform
    /// spacing, bursts aside: the arithmetic the iterator runs on.
    pub fn offset_of(&self, k: u64) -> Option<Duration> {
        match &self.kind {
            Kind::Even { users, .. } => {
                (k < *users).then(|| self.even_at(k as f64 / *users as f64))
            }
            Kind::Closed => None,
            // Arrival k happens when the cumulative count reaches k + 1/2
            // (centred in its slot, so a 1/s stage fires at 0.5 s, 1.5 s...).
            Kind::Stages { .. } => self.when_count_is(k as f64 + 0.5),
        }
    }

    /// `fraction` of a ticket drop's window. `mul_f64` without its panic:
    /// the fraction is below 1, so the product fits whenever `over` does.
    fn even_at(&self, fraction: f64) -> Duration {
        let Kind::Even { over, .. } = &self.kind else {
            return Duration::ZERO;
        };
        Duration::try_from_secs_f64(fraction * over.as_secs_f64()).unwrap_or(*over)
    }

    /// When the stages' expected arrival count reaches `target`.
    fn when_count_is(&self, target: f64) -> Option<Duration> {
        let Kind::Stages { stages, starts } = &self.kind else {
            return None;
        };
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

    /// The next regular arrival (uniform or Poisson), before bursts.
    fn regular(&mut self) -> Option<Duration> {
        let k = self.next;
        let t = match self.poisson.as_mut() {
            None => self.offset_of(k),
            Some(p) => {
                p.cum += Poisson::gap(&mut p.rng);
                let (cum, total) = (p.cum, p.total);
                match self.kind {
                    Kind::Even { users, .. } => {
                        (k < users).then(|| self.even_at((cum / total).min(1.0)))
                    }
                    Kind::Stages { .. } => self.when_count_is(cum),
                    Kind::Closed => None,
                }
            }
        };
        self.next += 1;
        t
    }
}

impl Iterator for Schedule {
    type Item = Duration;
    fn next(&mut self) -> Option<Duration> {
        let pending = match self.pending {
            Some(p) => p,
            None => {
                let p = self.regular();
                self.pending = Some(p);
                p
            }
        };
        let (i, given) = self.burst_at;
        if let Some(b) = self.bursts.get(i)
            && pending.is_none_or(|p| b.at <= p)
        {
            self.burst_at = if given + 1 >= b.count {
                (i + 1, 0)
            } else {
                (i, given + 1)
            };
            return Some(b.at);
        }
        self.pending = None;
        pending
    }
}

/// Which fleet arrival `k` belongs to: a low-discrepancy sequence (the
/// golden ratio) keeps the mix at its shares in every window of the run,
/// not only on average, and is deterministic.
pub fn fleet_of(k: u64, shares: &[f64]) -> usize {
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

    fn load(arrivals: Arrivals, process: ArrivalProcess, bursts: &[(u64, u64)]) -> LoadPlan {
        LoadPlan {
            arrivals,
            process,
            bursts: bursts
                .iter()
                .map(|&(ms, count)| Burst {
                    at: Duration::from_millis(ms),
                    count,
                })
                .collect(),
            duration: Duration::from_secs(3600),
            drain: Duration::ZERO,
            max_in_flight: 1,
        }
    }

    fn stages(stages: &[(u64, f64, f64)]) -> Arrivals {
        Arrivals::Open {
            stages: stages
                .iter()
                .map(|&(s, from, to)| Stage {
                    duration: Duration::from_secs(s),
                    from,
                    to,
                })
                .collect(),
        }
    }

    fn open(s: &[(u64, f64, f64)]) -> Schedule {
        Schedule::new(&load(stages(s), ArrivalProcess::Uniform, &[]), 1)
    }

    fn drop_of(users: u64, over: Duration) -> Arrivals {
        Arrivals::TicketDrop { users, over }
    }

    /// Arrivals per whole second of `v`, over `secs` seconds.
    fn per_second(v: &[Duration], secs: usize) -> Vec<f64> {
        let mut n = vec![0.0; secs];
        for d in v {
            if let Some(c) = n.get_mut(d.as_secs() as usize) {
                *c += 1.0;
            }
        }
        n
    }

    /// Variance over mean of per-second counts (1 for Poisson, 0 for even).
    fn dispersion(counts: &[f64]) -> f64 {
        let mean = counts.iter().sum::<f64>() / counts.len() as f64;
        let var = counts.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / counts.len() as f64;
        var / mean
    }

    #[test]
    fn poisson_arrivals_are_dispersed_like_poisson_and_reproducible() {
        let secs = 2000;
        let plan = load(stages(&[(secs, 50.0, 50.0)]), ArrivalProcess::Poisson, &[]);
        let v: Vec<Duration> = Schedule::new(&plan, 7).collect();
        let d = dispersion(&per_second(&v, secs as usize));
        // Var/mean of a Poisson count is 1; over 2,000 seconds its sampling
        // error is about sqrt(2/2000) = 0.03.
        assert!((0.85..1.15).contains(&d), "dispersion {d}");
        let n = v.len() as f64;
        assert!((n - 100_000.0).abs() < 5.0 * 100_000f64.sqrt(), "{n}");
        assert!(v.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(v, Schedule::new(&plan, 7).collect::<Vec<_>>());
        assert_ne!(v, Schedule::new(&plan, 8).collect::<Vec<_>>());
        let even: Vec<Duration> = open(&[(secs, 50.0, 50.0)]).collect();
        assert!(dispersion(&per_second(&even, secs as usize)) < 0.01);
    }

    #[test]
    fn a_poisson_ramp_stays_a_ramp() {
        let plan = load(stages(&[(400, 0.0, 100.0)]), ArrivalProcess::Poisson, &[]);
        let v: Vec<Duration> = Schedule::new(&plan, 3).collect();
        // N(t) = t^2/8: 20,000 expected, a quarter of them in the first half.
        let first_half = v.iter().filter(|d| d.as_secs() < 200).count() as f64;
        assert!((v.len() as f64 - 20_000.0).abs() < 5.0 * 20_000f64.sqrt());
        assert!(
            (first_half / v.len() as f64 - 0.25).abs() < 0.02,
            "{first_half}"
        );
    }

    #[test]
    fn a_poisson_ticket_drop_keeps_its_users_within_the_window() {
        let over = Duration::from_secs(100);
        let plan = load(drop_of(50_000, over), ArrivalProcess::Poisson, &[]);
        let v: Vec<Duration> = Schedule::new(&plan, 11).collect();
        assert_eq!(v.len(), 50_000);
        assert!(v.windows(2).all(|w| w[0] <= w[1]));
        assert!(*v.last().unwrap() < over);
        let d = dispersion(&per_second(&v, 100));
        assert!((0.6..1.4).contains(&d), "dispersion {d}");
    }

    #[test]
    fn bursts_merge_in_time_order() {
        let plan = load(
            drop_of(4, Duration::from_secs(2)),
            ArrivalProcess::Uniform,
            &[(500, 2), (1200, 1), (5000, 2)],
        );
        let v: Vec<u64> = Schedule::new(&plan, 1)
            .map(|d| d.as_millis() as u64)
            .collect();
        assert_eq!(v, [0, 500, 500, 500, 1000, 1200, 1500, 5000, 5000]);
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
        let s = Schedule::new(
            &load(
                drop_of(4, Duration::from_secs(2)),
                ArrivalProcess::Uniform,
                &[],
            ),
            1,
        );
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
        let drop = Schedule::new(
            &load(
                drop_of(MAX_USERS, MAX_DURATION),
                ArrivalProcess::Uniform,
                &[],
            ),
            1,
        );
        let last = drop.offset_of(MAX_USERS - 1).unwrap();
        assert!(
            last < MAX_DURATION && last > MAX_DURATION.mul_f64(0.99),
            "{last:?}"
        );
        assert_eq!(drop.offset_of(MAX_USERS), None);
        let open = Schedule::new(
            &load(
                Arrivals::Open {
                    stages: vec![Stage {
                        duration: MAX_DURATION,
                        from: MAX_RATE,
                        to: MAX_RATE,
                    }],
                },
                ArrivalProcess::Uniform,
                &[],
            ),
            1,
        );
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
    fn fleet_mix_follows_shares_in_every_window() {
        let shares = [0.8, 0.2];
        for start in [0u64, 1000, 77_777] {
            let naive = (start..start + 1000)
                .filter(|&k| fleet_of(k, &shares) == 1)
                .count();
            assert!((190..=210).contains(&naive), "{naive} in window at {start}");
        }
        assert_eq!(fleet_of(5, &[1.0]), 0);
    }
}
