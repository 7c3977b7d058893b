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
//! Plain counts (operations, attempts) are shown without a direction. Two
//! runs are comparable when they ran the same scenario with the same fleets
//! (an error otherwise); different seeds, overrides, hosts or stampede
//! versions are warnings.

mod render;
pub mod spread;

pub use render::{console, html};
pub use spread::{REPEAT_FILE, Spread, Stat};

use crate::report::{CohortResult, Report};
use serde::{Deserialize, Serialize};

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

#[derive(Debug, Clone, Copy)]
enum Noise {
    /// Relative change above the fraction and absolute change above the value.
    Relative(f64, f64),
    Absolute(f64),
}

struct MetricDef {
    name: &'static str,
    unit: &'static str,
    better: Better,
    noise: Noise,
    get: fn(&CohortResult) -> Option<f64>,
}

fn jsr(c: &CohortResult) -> Option<f64> {
    let j = &c.journeys;
    let could = j.started.saturating_sub(j.sold_out + j.cancelled);
    (could > 0).then(|| j.succeeded as f64 / could as f64)
}

fn lat(p: &crate::report::Percentiles, v: f64) -> Option<f64> {
    (p.count > 0).then_some(v)
}

const LAT: Noise = Noise::Relative(0.10, 1.0);
const METRICS: &[MetricDef] = &[
    MetricDef {
        name: "operations",
        unit: "",
        better: Better::Neither,
        noise: Noise::Absolute(0.0),
        get: |c| Some(c.operations as f64),
    },
    MetricDef {
        name: "attempts",
        unit: "",
        better: Better::Neither,
        noise: Noise::Absolute(0.0),
        get: |c| Some(c.attempts as f64),
    },
    MetricDef {
        name: "amplification",
        unit: "",
        better: Better::Lower,
        noise: Noise::Absolute(0.05),
        get: |c| (c.operations > 0).then_some(c.amplification),
    },
    MetricDef {
        name: "success_rate",
        unit: "%",
        better: Better::Higher,
        noise: Noise::Absolute(0.01),
        get: |c| (c.operations > 0).then_some(c.success_rate),
    },
    MetricDef {
        name: "journey_success_rate",
        unit: "%",
        better: Better::Higher,
        noise: Noise::Absolute(0.01),
        get: jsr,
    },
    MetricDef {
        name: "goodput",
        unit: "/s",
        better: Better::Higher,
        noise: Noise::Relative(0.10, 0.0),
        get: |c| Some(c.goodput),
    },
    MetricDef {
        name: "achieved_rps",
        unit: "/s",
        better: Better::Higher,
        noise: Noise::Relative(0.10, 0.0),
        get: |c| Some(c.achieved_rps),
    },
    MetricDef {
        name: "operation_latency.p50",
        unit: "ms",
        better: Better::Lower,
        noise: LAT,
        get: |c| lat(&c.ok_operation_latency_ms, c.ok_operation_latency_ms.p50),
    },
    MetricDef {
        name: "operation_latency.p95",
        unit: "ms",
        better: Better::Lower,
        noise: LAT,
        get: |c| lat(&c.ok_operation_latency_ms, c.ok_operation_latency_ms.p95),
    },
    MetricDef {
        name: "operation_latency.p99",
        unit: "ms",
        better: Better::Lower,
        noise: LAT,
        get: |c| lat(&c.ok_operation_latency_ms, c.ok_operation_latency_ms.p99),
    },
    MetricDef {
        name: "journey_duration.p99",
        unit: "ms",
        better: Better::Lower,
        noise: LAT,
        get: |c| lat(&c.journey_duration_ms, c.journey_duration_ms.p99),
    },
    MetricDef {
        name: "attempt_latency.p99",
        unit: "ms",
        better: Better::Lower,
        noise: LAT,
        get: |c| lat(&c.attempt_latency_ms, c.attempt_latency_ms.p99),
    },
    MetricDef {
        name: "breaker_opens",
        unit: "",
        better: Better::Lower,
        noise: Noise::Relative(0.10, 0.0),
        get: |c| Some(c.breaker_opens as f64),
    },
    MetricDef {
        name: "early_retries",
        unit: "",
        better: Better::Lower,
        noise: Noise::Absolute(0.0),
        get: |c| Some(c.early_retries as f64),
    },
    MetricDef {
        name: "duplicates",
        unit: "",
        better: Better::Lower,
        noise: Noise::Absolute(0.0),
        get: |c| c.ledger.as_ref().map(|l| l.duplicates as f64),
    },
    MetricDef {
        name: "oversold",
        unit: "",
        better: Better::Lower,
        noise: Noise::Absolute(0.0),
        get: |c| c.ledger.as_ref().map(|l| l.oversold as f64),
    },
];

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
    /// counts only when the intervals do not overlap ("within noise"
    /// otherwise, whatever the fixed threshold says).
    pub fn with_spreads(mut self, base: &Spread, new: &Spread) -> Self {
        for f in &mut self.fleets {
            let find = |s: &'_ Spread| s.fleets.iter().find(|x| x.name == f.fleet).cloned();
            let (Some(b), Some(n)) = (find(base), find(new)) else {
                continue;
            };
            for r in &mut f.rows {
                let (Some(bs), Some(ns)) = (b.metrics.get(&r.metric), n.metrics.get(&r.metric))
                else {
                    continue;
                };
                r.base = Some(bs.median);
                r.new = Some(ns.median);
                r.change = Some(ns.median - bs.median);
                r.change_rel = (bs.median != 0.0).then(|| (ns.median - bs.median) / bs.median);
                r.intervals = Some([bs.interval(), ns.interval()]);
                let up = ns.median > bs.median;
                r.verdict = match (bs.differs_from(ns), r.better) {
                    (false, _) | (true, Better::Neither) => Verdict::Same,
                    (true, Better::Lower) if up => Verdict::Worse,
                    (true, Better::Higher) if !up => Verdict::Worse,
                    (true, _) => Verdict::Better,
                };
            }
        }
        self.worse = self
            .fleets
            .iter()
            .flat_map(|f| &f.rows)
            .filter(|r| r.verdict == Verdict::Worse)
            .count();
        self.repeats = Some((base.runs, new.runs));
        self
    }
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

fn verdict(def: &MetricDef, base: f64, new: f64) -> Verdict {
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

fn row(def: &MetricDef, b: Option<&CohortResult>, n: Option<&CohortResult>) -> Row {
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
            }
        })
        .collect();
    let worse = fleets
        .iter()
        .flat_map(|f| &f.rows)
        .filter(|r| r.verdict == Verdict::Worse)
        .count();
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
