//! Run-to-run spread: the same scenario run N times (`stampede run
//! --repeat N`), each headline metric's median, min–max and, from five runs
//! on, a 95% interval of its mean (Student's t). `compare` reads two such
//! spreads and calls a change significant only when the two intervals do
//! not overlap and the medians moved by more than the metric's fixed noise
//! threshold: a reader can tell noise from change.

use super::metrics::{METRICS, MetricDef, STEP_METRICS};
use crate::report::{FleetResult, Report};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The file `--repeat` writes beside the runs' folders.
pub const REPEAT_FILE: &str = "repeat.json";

/// One metric over the runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    /// One value per run that measured it, in run order.
    pub values: Vec<f64>,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// 95% interval of the mean (t distribution), with at least 5 values.
    pub ci95: Option<(f64, f64)>,
}

impl Stat {
    pub fn of(values: Vec<f64>) -> Option<Self> {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        if sorted.is_empty() {
            return None;
        }
        sorted.sort_by(|a, b| a.total_cmp(b));
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        let ci95 = (n >= 5).then(|| {
            let mean = sorted.iter().sum::<f64>() / n as f64;
            let var = sorted.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            let half = t975(n - 1) * (var / n as f64).sqrt();
            (mean - half, mean + half)
        });
        Some(Stat {
            median,
            min: sorted[0],
            max: sorted[n - 1],
            ci95,
            values,
        })
    }

    /// The interval a comparison uses: the 95% one, else min–max.
    pub fn interval(&self) -> (f64, f64) {
        self.ci95.unwrap_or((self.min, self.max))
    }

    /// The two runs' intervals do not overlap.
    pub fn differs_from(&self, other: &Stat) -> bool {
        let (a_lo, a_hi) = self.interval();
        let (b_lo, b_hi) = other.interval();
        a_hi < b_lo || b_hi < a_lo
    }
}

/// Student's t for a two-sided 95% interval with `df` degrees of freedom.
fn t975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    T.get(df.saturating_sub(1)).copied().unwrap_or(1.960)
}

/// One fleet's metrics over the runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetSpread {
    pub name: String,
    pub round: usize,
    pub metrics: BTreeMap<String, Stat>,
    /// Step name -> that step's metrics over the runs (the rows `compare`
    /// shows per step); empty in a `repeat.json` written before them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub steps: BTreeMap<String, BTreeMap<String, Stat>>,
}

/// `repeat.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub scenario: String,
    pub runs: usize,
    /// The runs' folders, relative to the one `repeat.json` is in.
    pub dirs: Vec<String>,
    pub fleets: Vec<FleetSpread>,
}

/// Each metric of `defs` over the runs' values (runs that did not
/// measure it are left out).
fn stats<T>(defs: &[MetricDef<T>], runs: &[&T]) -> BTreeMap<String, Stat> {
    defs.iter()
        .filter_map(|m| {
            let values: Vec<f64> = runs.iter().filter_map(|x| (m.get)(x)).collect();
            Stat::of(values).map(|s| (m.name.to_string(), s))
        })
        .collect()
}

/// Every headline and step metric of every fleet of the first report, over `reports`.
pub fn spread(reports: &[Report], dirs: Vec<String>) -> Spread {
    let fleets = reports
        .first()
        .map(|r| r.results.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|f| {
            let runs: Vec<&FleetResult> = reports
                .iter()
                .filter_map(|r| {
                    r.results
                        .iter()
                        .find(|c| c.name == f.name && c.round == f.round)
                })
                .collect();
            let steps = f
                .steps
                .iter()
                .map(|s| {
                    let of_step: Vec<_> = runs
                        .iter()
                        .filter_map(|c| c.steps.iter().find(|x| x.name == s.name))
                        .collect();
                    (s.name.clone(), stats(STEP_METRICS, &of_step))
                })
                .collect();
            FleetSpread {
                name: f.name.clone(),
                round: f.round,
                metrics: stats(METRICS, &runs),
                steps,
            }
        })
        .collect();
    Spread {
        scenario: reports
            .first()
            .map(|r| r.scenario.clone())
            .unwrap_or_default(),
        runs: reports.len(),
        dirs,
        fleets,
    }
}

/// The spread as a table: metric, median, min–max, 95% interval; each
/// fleet's headline metrics, then its steps'.
pub fn console(s: &Spread) -> String {
    let mut out = format!(
        "{} runs of {}: median, min–max, 95% interval of the mean\n",
        s.runs, s.scenario
    );
    for f in &s.fleets {
        out.push_str(&format!("{}\n", f.name));
        stat_lines(&mut out, "  ", METRICS, &f.metrics);
        for (name, metrics) in &f.steps {
            out.push_str(&format!("  step {name}\n"));
            stat_lines(&mut out, "    ", STEP_METRICS, metrics);
        }
    }
    out
}

fn stat_lines<T>(
    out: &mut String,
    indent: &str,
    defs: &[MetricDef<T>],
    stats: &BTreeMap<String, Stat>,
) {
    for m in defs {
        let Some(st) = stats.get(m.name) else {
            continue;
        };
        let v = |x: f64| super::render::value(m.unit, x);
        let ci = st
            .ci95
            .map_or("-".to_string(), |(lo, hi)| format!("{}–{}", v(lo), v(hi)));
        out.push_str(&format!(
            "{indent}{:<26} {:>12}  {:>25}  {:>25}\n",
            m.name,
            v(st.median),
            format!("{}–{}", v(st.min), v(st.max)),
            ci
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_range_and_interval() {
        let s = Stat::of(vec![3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.ci95), (2.0, 1.0, 3.0, None));
        assert_eq!(s.interval(), (1.0, 3.0));
        let s = Stat::of(vec![10.0, 12.0, 11.0, 13.0, 9.0, 11.0]).unwrap();
        assert_eq!(s.median, 11.0);
        let (lo, hi) = s.ci95.expect("six runs have an interval");
        // mean 11, sd sqrt(2), t(5) = 2.571: 11 ± 2.571 * sqrt(2/6)
        let half = 2.571 * (2.0f64 / 6.0).sqrt();
        assert!((lo - (11.0 - half)).abs() < 1e-9 && (hi - (11.0 + half)).abs() < 1e-9);
        assert!(Stat::of(vec![f64::NAN]).is_none());
    }

    #[test]
    fn overlapping_intervals_are_noise() {
        let a = Stat::of(vec![10.0, 11.0, 12.0]).unwrap();
        let same = Stat::of(vec![11.5, 12.5, 13.0]).unwrap();
        let slower = Stat::of(vec![20.0, 21.0, 25.0]).unwrap();
        assert!(!a.differs_from(&same) && !same.differs_from(&a));
        assert!(a.differs_from(&slower) && slower.differs_from(&a));
    }

    #[test]
    fn the_spread_of_sample_reports() {
        let a = crate::sample::sample_report();
        let mut b = crate::sample::sample_report();
        b.results[0].counts.amplification += 1.0;
        let s = spread(&[a.clone(), b], vec!["run-1".into(), "run-2".into()]);
        assert_eq!(s.runs, 2);
        let amp = &s.fleets[0].metrics["amplification"];
        assert_eq!(amp.values.len(), 2);
        assert_eq!(amp.max - amp.min, 1.0);
        assert!(console(&s).contains("amplification"));
    }
}
