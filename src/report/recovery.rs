//! Time to recovery after a trigger, from a fleet's per-second counters.
//!
//! Definition (the one the report, the CSV and the docs use):
//!
//! * **baseline** = the median of `successes` (2xx attempts) per second over
//!   the whole seconds before the trigger started (`t + 1 ≤ from_s`). The
//!   median, not the mean, so a slow first second or one hiccup does not
//!   move it. No such second, or a baseline of 0: nothing to recover to.
//! * **recovered at t** = the first whole second `t ≥ to_s` from which
//!   successes/s stay ≥ [`RECOVERY_FRACTION`] × baseline for
//!   [`RECOVERY_HOLD_S`] consecutive seconds. One good second inside a storm
//!   (a burst of replays, a lucky drain) does not count.
//! * **recovery_s** = `t − to_s`; 0 means the fleet never dipped (or was
//!   back the second the trigger ended). `None` when the fleet never held
//!   the bar for long enough before its series ended ("did not recover").
//!
//! Successes per second compare well only while arrivals are steady (an open
//! model); a ticket drop's burst has no meaningful baseline.

use crate::model::{SecondRow, Trigger};
use std::time::Duration;

/// Fraction of the pre-trigger baseline that counts as recovered.
pub const RECOVERY_FRACTION: f64 = 0.9;
/// Consecutive seconds the success rate must hold the bar.
pub const RECOVERY_HOLD_S: usize = 3;

/// The median successes per second before the trigger, when there is one.
pub fn baseline(series: &[SecondRow], trigger: &Trigger) -> Option<f64> {
    let mut before: Vec<u64> = series
        .iter()
        .filter(|r| f64::from(r.t) + 1.0 <= trigger.from_s)
        .map(|r| r.successes)
        .collect();
    if before.is_empty() {
        return None;
    }
    before.sort_unstable();
    let n = before.len();
    let median = if n % 2 == 1 {
        before[n / 2] as f64
    } else {
        (before[n / 2 - 1] + before[n / 2]) as f64 / 2.0
    };
    (median > 0.0).then_some(median)
}

/// The earliest window (by start) of `(from, to)` windows, such as the
/// simulator's fault windows, as the report's trigger.
pub fn trigger(windows: impl IntoIterator<Item = (Duration, Duration)>) -> Option<Trigger> {
    windows.into_iter().min().map(|(from, to)| Trigger {
        from_s: from.as_secs_f64(),
        to_s: to.as_secs_f64(),
    })
}

/// [`recovery_s`] when the report has a trigger; `None` without one.
pub fn recovery(series: &[SecondRow], trigger: Option<&Trigger>) -> Option<f64> {
    trigger.and_then(|t| recovery_s(series, t))
}

/// Seconds after the trigger ended until the fleet was back (see the
/// module docs); `None` when it never was, or had no baseline to return to.
pub fn recovery_s(series: &[SecondRow], trigger: &Trigger) -> Option<f64> {
    if !(trigger.from_s.is_finite() && trigger.to_s.is_finite()) {
        return None;
    }
    let bar = RECOVERY_FRACTION * baseline(series, trigger)?;
    let mut rows: Vec<&SecondRow> = series
        .iter()
        .filter(|r| f64::from(r.t) >= trigger.to_s)
        .collect();
    rows.sort_by_key(|r| r.t);
    rows.windows(RECOVERY_HOLD_S)
        .find(|w| {
            // Consecutive seconds only: a gap in the series is not "held".
            w.iter().all(|r| r.successes as f64 >= bar)
                && w.windows(2).all(|p| p[1].t == p[0].t + 1)
        })
        .map(|w| f64::from(w[0].t) - trigger.to_s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(successes: &[u64]) -> Vec<SecondRow> {
        successes
            .iter()
            .enumerate()
            .map(|(t, &s)| SecondRow {
                t: t as u32,
                arrivals: 100,
                attempts: 100,
                successes: s,
                ..SecondRow::default()
            })
            .collect()
    }

    const TRIGGER: Trigger = Trigger {
        from_s: 4.0,
        to_s: 8.0,
    };

    #[test]
    fn recovery_trigger_is_the_earliest_window() {
        let w = |from, to| (Duration::from_secs(from), Duration::from_secs(to));
        assert_eq!(trigger([]), None);
        assert_eq!(
            trigger([w(20, 25), w(6, 10)]),
            Some(Trigger {
                from_s: 6.0,
                to_s: 10.0
            })
        );
    }

    #[test]
    fn recovery_never_recovers_is_none() {
        // Collapsed at the trigger and never back: one lucky second is not enough.
        let s = series(&[100, 100, 100, 100, 20, 5, 0, 0, 0, 0, 95, 0, 0, 0, 0]);
        assert_eq!(baseline(&s, &TRIGGER), Some(100.0));
        assert_eq!(recovery_s(&s, &TRIGGER), None);
    }

    #[test]
    fn recovery_ignores_a_noisy_dip_and_a_single_good_second() {
        // Baseline median 100 despite a slow first second; after the trigger
        // a good second (t=9), a dip (t=10), then three good ones from t=11.
        let s = series(&[
            30, 100, 104, 98, 10, 10, 10, 10, 40, 95, 70, 92, 101, 99, 97,
        ]);
        assert_eq!(baseline(&s, &TRIGGER), Some(99.0));
        assert_eq!(recovery_s(&s, &TRIGGER), Some(3.0));
    }

    #[test]
    fn recovery_immediate_is_zero() {
        let s = series(&[100, 100, 100, 100, 60, 70, 80, 90, 95, 100, 100, 100]);
        assert_eq!(recovery_s(&s, &TRIGGER), Some(0.0));
        // A trigger that ends mid-second counts from the next whole second.
        let mid = Trigger {
            from_s: 4.0,
            to_s: 7.5,
        };
        assert_eq!(recovery_s(&s, &mid), Some(0.5));
    }

    #[test]
    fn recovery_without_trigger_data_is_none() {
        // No trigger at all.
        let steady = series(&[100; 12]);
        assert_eq!(recovery(&steady, None), None);
        assert_eq!(recovery(&steady, Some(&TRIGGER)), Some(0.0));
        // Trigger at t=0: no pre-trigger second, so no baseline.
        let s = series(&[100, 100, 100, 100, 100, 100]);
        let at_start = Trigger {
            from_s: 0.0,
            to_s: 2.0,
        };
        assert_eq!(baseline(&s, &at_start), None);
        assert_eq!(recovery_s(&s, &at_start), None);
        // Nothing succeeded before the trigger: nothing to recover to.
        let dead = series(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(recovery_s(&dead, &TRIGGER), None);
        // Empty series and a series that ends before the hold is complete.
        assert_eq!(recovery_s(&[], &TRIGGER), None);
        let short = series(&[100, 100, 100, 100, 0, 0, 0, 0, 100, 100]);
        assert_eq!(recovery_s(&short, &TRIGGER), None);
        let nan = Trigger {
            from_s: 4.0,
            to_s: f64::NAN,
        };
        assert_eq!(recovery_s(&series(&[100; 12]), &nan), None);
    }

    #[test]
    fn recovery_requires_consecutive_seconds() {
        let mut s = series(&[100, 100, 100, 100, 0, 0, 0, 0, 100, 100, 100, 100, 100]);
        s.remove(9); // t = 8, 10, 11, 12: a gap at 9, so held from t = 10
        assert_eq!(recovery_s(&s, &TRIGGER), Some(2.0));
    }
}
