//! `stampede compare BASE_DIR NEW_DIR`: two runs' headline numbers side by
//! side, per fleet, with the change, whether it went the good or the bad way,
//! and a flag where it got worse by more than the noise threshold:
//!
//! | metric kind | worse when | threshold |
//! |---|---|---|
//! | latency (ms) | it rose | by more than 10% **and** more than 1 ms |
//! | rate / fraction | it fell | by more than 1 percentage point |
//! | amplification | it rose | by more than 0.05 |
//! | goodput, attempts/s | it fell | by more than 10% |
//! | error counts (early retries, duplicates, oversold) | it rose | at all (they should be 0) |
//!
//! Each journey step of a fleet gets the same kind of rows (operations,
//! attempts, amplification, success rate, OK operation latency p50/p99,
//! attempt latency p99: the columns of report.html's step table), judged
//! the same way and counted in the same `worse` total.
//!
//! Plain counts (operations, attempts) are shown without a direction. Two
//! runs are comparable when they ran the same scenario with the same fleets
//! (an error otherwise); different seeds, overrides, hosts or stampede
//! versions are warnings.

mod metrics;
mod render;
pub mod spread;

pub use render::{console, html};
pub use spread::{REPEAT_FILE, Spread, Stat};

use crate::report::{FleetResult, Report, StepResult};
use metrics::{METRICS, MetricDef, Noise, STEP_METRICS};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which way is better for a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    Lower,
    Higher,
    /// No good or bad direction (plain counts).
    Neither,
}

/// How a change compares with the noise threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Better,
    /// Within the noise threshold (or no direction).
    Same,
    Worse,
    /// Not measured in one of the runs.
    NotComparable,
}

/// One metric of one fleet in both runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub metric: String,
    /// `ms`, `%` (values are fractions), `/s` or empty.
    pub unit: String,
    pub base: Option<f64>,
    pub new: Option<f64>,
    /// new - base.
    pub change: Option<f64>,
    /// (new - base) / base; `None` when base is 0 or missing.
    pub change_rel: Option<f64>,
    pub better: Better,
    pub verdict: Verdict,
    /// With `--repeat` runs on both sides: each side's interval (95% of the
    /// mean from 5 runs, else min–max); `base`/`new` are then medians and
    /// the verdict is Worse or Better only when the intervals do not overlap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intervals: Option<[(f64, f64); 2]>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetComparison {
    pub fleet: String,
    pub rows: Vec<Row>,
    /// One entry per journey step (the base's steps in order, then any
    /// step only the new run has), judged like the headline rows.
    #[serde(default)]
    pub steps: Vec<StepComparison>,
}

/// One journey step of one fleet in both runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepComparison {
    pub step: String,
    pub rows: Vec<Row>,
}

/// The whole comparison (`compare.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub scenario: String,
    pub base_dir: String,
    pub new_dir: String,
    pub base_started_at: String,
    pub new_started_at: String,
    pub warnings: Vec<String>,
    pub fleets: Vec<FleetComparison>,
    /// Rows flagged worse (beyond the noise threshold, or by intervals
    /// that do not overlap when both sides are repeated runs), over all fleets.
    pub worse: usize,
    /// Runs on each side when both are `--repeat` folders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeats: Option<(usize, usize)>,
}

impl Comparison {
    /// Judge every row again by the two sides' run-to-run spread: a change
    /// counts only when the intervals do not overlap and the medians moved
    /// by more than the fixed threshold ("within noise" otherwise). Step rows are judged
    /// by their steps' spreads the same way.
    pub fn with_spreads(mut self, base: &Spread, new: &Spread) -> Self {
        for f in &mut self.fleets {
            let find = |s: &'_ Spread| s.fleets.iter().find(|x| x.name == f.fleet).cloned();
            let (Some(b), Some(n)) = (find(base), find(new)) else {
                continue;
            };
            judge_by_spread(&mut f.rows, &b.metrics, &n.metrics, METRICS);
            for st in &mut f.steps {
                if let (Some(bs), Some(ns)) = (b.steps.get(&st.step), n.steps.get(&st.step)) {
                    judge_by_spread(&mut st.rows, bs, ns, STEP_METRICS);
                }
            }
        }
        self.worse = count_worse(&self.fleets);
        self.repeats = Some((base.runs, new.runs));
        self
    }

    /// Every row: the headline rows of each fleet, then its step rows.
    pub fn all_rows(&self) -> impl Iterator<Item = &Row> {
        rows_of(&self.fleets)
    }
}

/// Medians for values, intervals for the verdict, where both spreads
/// measured the row's metric. A change is significant only when the
/// intervals do not overlap **and** the medians differ by more than the
/// metric's fixed noise threshold: tight intervals of two unchanged runs
/// (0.3 ms apart) do not make a regression.
fn judge_by_spread<T>(
    rows: &mut [Row],
    base: &BTreeMap<String, Stat>,
    new: &BTreeMap<String, Stat>,
    defs: &[MetricDef<T>],
) {
    for r in rows {
        let (Some(bs), Some(ns)) = (base.get(&r.metric), new.get(&r.metric)) else {
            continue;
        };
        r.base = Some(bs.median);
        r.new = Some(ns.median);
        r.change = Some(ns.median - bs.median);
        r.change_rel = (bs.median != 0.0).then(|| (ns.median - bs.median) / bs.median);
        r.intervals = Some([bs.interval(), ns.interval()]);
        let by_threshold = defs
            .iter()
            .find(|d| d.name == r.metric)
            .map_or(Verdict::Same, |d| verdict(d, bs.median, ns.median));
        r.verdict = if bs.differs_from(ns) {
            by_threshold
        } else {
            Verdict::Same
        };
    }
}

fn rows_of(fleets: &[FleetComparison]) -> impl Iterator<Item = &Row> {
    fleets
        .iter()
        .flat_map(|f| f.rows.iter().chain(f.steps.iter().flat_map(|s| &s.rows)))
}

/// Rows flagged worse, headline and step rows of every fleet.
fn count_worse(fleets: &[FleetComparison]) -> usize {
    rows_of(fleets)
        .filter(|r| r.verdict == Verdict::Worse)
        .count()
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CompareError {
    #[error("not comparable: the base ran scenario `{base}`, the new run `{new}`")]
    Scenario { base: String, new: String },
    #[error("not comparable: the base has fleets [{base}], the new run [{new}]")]
    Fleets { base: String, new: String },
}

fn fleet_names(r: &Report) -> Vec<&str> {
    r.results.iter().map(|c| c.name.as_str()).collect()
}

/// An error when the runs cannot be compared; otherwise the warnings.
pub fn comparable(base: &Report, new: &Report) -> Result<Vec<String>, CompareError> {
    if base.scenario != new.scenario {
        return Err(CompareError::Scenario {
            base: base.scenario.clone(),
            new: new.scenario.clone(),
        });
    }
    let (b, n) = (fleet_names(base), fleet_names(new));
    let (mut bs, mut ns) = (b.clone(), n.clone());
    bs.sort_unstable();
    ns.sort_unstable();
    if bs != ns {
        return Err(CompareError::Fleets {
            base: b.join(", "),
            new: n.join(", "),
        });
    }
    let mut w = Vec::new();
    let (bm, nm) = (&base.meta, &new.meta);
    let show = |v: &dyn std::fmt::Debug| format!("{v:?}");
    if bm.seed != nm.seed {
        w.push(format!(
            "seeds differ: {} vs {}",
            show(&bm.seed),
            show(&nm.seed)
        ));
    }
    if bm.overrides != nm.overrides {
        w.push(format!(
            "overrides differ: {} vs {}",
            show(&bm.overrides),
            show(&nm.overrides)
        ));
    }
    if bm.host != nm.host {
        w.push(format!(
            "hosts differ: {} ({} cores, {}) vs {} ({} cores, {})",
            bm.host.name, bm.host.cores, bm.host.os, nm.host.name, nm.host.cores, nm.host.os
        ));
    }
    if bm.clock != nm.clock {
        w.push(format!(
            "clocks differ: {} vs {} (on virtual time latencies are the simulator's modelled work, with no CPU or network cost: compare virtual runs with virtual runs)",
            bm.clock.as_str(),
            nm.clock.as_str()
        ));
    }
    if base.load != new.load {
        w.push(format!("load differs: `{}` vs `{}`", base.load, new.load));
    }
    if base.target != new.target {
        w.push(format!("targets differ: {} vs {}", base.target, new.target));
    }
    if base.stampede_version != new.stampede_version || bm.git_rev != nm.git_rev {
        w.push(format!(
            "stampede versions differ: {} {} vs {} {}",
            base.stampede_version,
            bm.git_rev.as_deref().unwrap_or("-"),
            new.stampede_version,
            nm.git_rev.as_deref().unwrap_or("-")
        ));
    }
    for (r, which) in [(base, "base"), (new, "new")] {
        if r.status != crate::report::RunStatus::Completed {
            w.push(format!(
                "the {which} run did not complete ({})",
                r.status.as_str()
            ));
        }
    }
    Ok(w)
}

fn verdict<T>(def: &MetricDef<T>, base: f64, new: f64) -> Verdict {
    let d = new - base;
    let beyond = match def.noise {
        Noise::Absolute(t) => d.abs() > t + 1e-12,
        Noise::Relative(rel, abs) => d.abs() > abs && (base == 0.0 || (d / base).abs() > rel),
    };
    let good_way = match def.better {
        Better::Neither => return Verdict::Same,
        Better::Lower => d < 0.0,
        Better::Higher => d > 0.0,
    };
    match (beyond, good_way) {
        (false, _) => Verdict::Same,
        (true, true) => Verdict::Better,
        (true, false) => Verdict::Worse,
    }
}

fn row<T>(def: &MetricDef<T>, b: Option<&T>, n: Option<&T>) -> Row {
    let base = b.and_then(def.get).filter(|v| v.is_finite());
    let new = n.and_then(def.get).filter(|v| v.is_finite());
    let (change, change_rel, v) = match (base, new) {
        (Some(b), Some(n)) => (
            Some(n - b),
            (b != 0.0).then(|| (n - b) / b),
            verdict(def, b, n),
        ),
        _ => (None, None, Verdict::NotComparable),
    };
    Row {
        metric: def.name.into(),
        unit: def.unit.into(),
        base,
        new,
        change,
        change_rel,
        better: def.better,
        verdict: v,
        intervals: None,
    }
}

/// The steps of the base fleet in order, then those only the new run has;
/// a step missing on one side has rows that are not comparable.
fn step_comparisons(b: &FleetResult, n: Option<&FleetResult>) -> Vec<StepComparison> {
    let new_steps: &[StepResult] = n.map_or(&[], |n| n.steps.as_slice());
    let mut names: Vec<&str> = b.steps.iter().map(|s| s.name.as_str()).collect();
    for s in new_steps {
        if !names.contains(&s.name.as_str()) {
            names.push(&s.name);
        }
    }
    names
        .into_iter()
        .map(|name| {
            let bs = b.steps.iter().find(|s| s.name == name);
            let ns = new_steps.iter().find(|s| s.name == name);
            StepComparison {
                step: name.to_string(),
                rows: STEP_METRICS.iter().map(|d| row(d, bs, ns)).collect(),
            }
        })
        .collect()
}

/// Compare two reports (call [`comparable`] first).
pub fn compare(
    base: &Report,
    new: &Report,
    base_dir: &str,
    new_dir: &str,
) -> Result<Comparison, CompareError> {
    let warnings = comparable(base, new)?;
    let fleets: Vec<FleetComparison> = base
        .results
        .iter()
        .map(|b| {
            let n = new.results.iter().find(|c| c.name == b.name);
            FleetComparison {
                fleet: b.name.clone(),
                rows: METRICS.iter().map(|d| row(d, Some(b), n)).collect(),
                steps: step_comparisons(b, n),
            }
        })
        .collect();
    let worse = count_worse(&fleets);
    Ok(Comparison {
        scenario: base.scenario.clone(),
        base_dir: base_dir.into(),
        new_dir: new_dir.into(),
        base_started_at: base.started_at.clone(),
        new_started_at: new.started_at.clone(),
        warnings,
        fleets,
        worse,
        repeats: None,
    })
}

#[cfg(test)]
mod tests;
