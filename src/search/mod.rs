//! `stampede search`: the largest load each fleet survives. One number of
//! the scenario (`--vary load.users`) is changed run by run, each fleet on
//! its own (`--policy` per fleet), and each run is judged by a condition
//! written in the gate language (`--until "journey_success_rate < 99%"`):
//! the load *fails* when the condition holds, or when it cannot be measured,
//! or when the run did not complete. [`bisect::Bisect`] picks the loads.
//!
//! The runs themselves are the caller's (`run` is passed in), so the same
//! search drives real runs against a target or the embedded simulator.

pub mod bisect;
mod render;

pub use bisect::{Bisect, Limits};
pub use render::{console_table, html, json};

use crate::gate::{Gate, fmt_num};
use crate::report::{GateReason, Report, RunStatus};
use crate::scenario::{Overrides, Plan};
use serde::Serialize;
use std::future::Future;
use std::path::{Path, PathBuf};

/// What is searched over: a number in the scenario file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Vary {
    /// Its dotted key (`load.users`, `load.stages.0.rate`).
    pub key: String,
    /// Its value in the file: the first load tried.
    pub start: f64,
    /// Whole numbers only (the key holds an integer in the file).
    pub integer: bool,
}

/// Why a search could not start.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("{path}: `--vary {key}`: {msg}")]
    Key {
        path: PathBuf,
        key: String,
        msg: String,
    },
    #[error("`--until {until}`: {msg}")]
    Until { until: String, msg: String },
    #[error("{0}")]
    Scenario(#[from] crate::scenario::ScenarioError),
}

/// The value at `key` in the scenario text, and whether it is an integer.
pub fn read_key(src: &str, path: &Path, key: &str) -> Result<Vary, SearchError> {
    let err = |msg: String| SearchError::Key {
        path: path.to_path_buf(),
        key: key.into(),
        msg,
    };
    let table: toml::Table = src.parse().map_err(|e| err(format!("{e}")))?;
    let mut v = toml::Value::Table(table);
    for seg in key.split('.') {
        v = step(&v, seg).cloned().ok_or_else(|| {
            err(format!(
                "the scenario has no `{key}` (a dotted key of a number in the file, e.g. load.users)"
            ))
        })?;
    }
    match v {
        toml::Value::Integer(i) if i > 0 => Ok(Vary {
            key: key.into(),
            start: i as f64,
            integer: true,
        }),
        toml::Value::Float(f) if f > 0.0 && f.is_finite() => Ok(Vary {
            key: key.into(),
            start: f,
            integer: false,
        }),
        other => Err(err(format!(
            "`{key}` is {other}, not a number above 0 to search over"
        ))),
    }
}

fn step<'a>(v: &'a toml::Value, seg: &str) -> Option<&'a toml::Value> {
    match v {
        toml::Value::Table(t) => t.get(seg),
        toml::Value::Array(a) => a.get(seg.parse::<usize>().ok()?),
        _ => None,
    }
}

fn step_mut<'a>(v: &'a mut toml::Value, seg: &str) -> Option<&'a mut toml::Value> {
    match v {
        toml::Value::Table(t) => t.get_mut(seg),
        toml::Value::Array(a) => a.get_mut(seg.parse::<usize>().ok()?),
        _ => None,
    }
}

/// The scenario text with `vary.key` set to `value`.
pub fn with_value(src: &str, vary: &Vary, value: f64) -> Option<String> {
    let mut root = toml::Value::Table(src.parse().ok()?);
    let mut v = &mut root;
    for seg in vary.key.split('.') {
        v = step_mut(v, seg)?;
    }
    *v = if vary.integer {
        toml::Value::Integer(value as i64)
    } else {
        toml::Value::Float(value)
    };
    toml::to_string(&root).ok()
}

/// One load tried for one fleet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Probe {
    pub value: f64,
    pub survived: bool,
    /// The condition's metric in that run, in its unit (when measured).
    pub measured: Option<f64>,
    /// The same as written (`98.5%`), or why nothing was measured.
    pub measured_written: String,
    /// The run's status (`completed`, `aborted`, ...).
    pub status: String,
}

/// One fleet's search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetSearch {
    pub fleet: String,
    /// The condition as applied to this fleet.
    pub until: String,
    /// The largest load tried that survived (`None`: not even the smallest).
    pub largest_surviving: Option<f64>,
    /// The smallest load tried that failed (`None`: not even the largest).
    pub smallest_failing: Option<f64>,
    /// The run budget ended the search before the precision was reached.
    pub out_of_runs: bool,
    /// The scenario is not valid at the next load (e.g. its peak rate passes
    /// the attempts/s cap): the search of this fleet ended there, with the
    /// error naming the load.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid_at: Option<String>,
    /// Every load tried, in the order tried.
    pub probes: Vec<Probe>,
}

/// The whole search, as `search.json` holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchReport {
    pub scenario: String,
    pub source: String,
    pub vary: Vary,
    pub until: String,
    pub min: f64,
    pub max: f64,
    pub precision: f64,
    /// `real` (each load run on the wall clock) or `virtual`.
    pub clock: String,
    pub started_at: String,
    /// A signal stopped the search: the last fleet's bracket (and the
    /// fleets after it) are unfinished.
    pub stopped: bool,
    pub fleets: Vec<FleetSearch>,
}

/// What to search: the scenario, the key and the condition.
pub struct Spec<'a> {
    pub src: &'a str,
    pub path: &'a Path,
    pub vary: Vary,
    pub until: &'a str,
    pub limits: Limits,
    /// The overrides every run gets (target, duration, ...); `policy` is
    /// set per fleet.
    pub overrides: Overrides,
    pub clock: &'static str,
}

/// The condition for each fleet of `plan`: `until` as written when it names
/// a fleet (that fleet only), else prefixed with each fleet's name.
pub fn conditions(plan: &Plan, until: &str) -> Result<Vec<(String, Gate)>, SearchError> {
    let fleets: Vec<String> = plan.fleet_names();
    let steps: Vec<String> = plan.journey.steps.iter().map(|s| s.name.clone()).collect();
    let bad = |msg: String| SearchError::Until {
        until: until.into(),
        msg,
    };
    let named = fleets
        .iter()
        .find(|f| until.trim_start().starts_with(&format!("{f}.")));
    let texts: Vec<(String, String)> = match named {
        Some(f) => vec![(f.clone(), until.trim().to_string())],
        None => fleets
            .iter()
            .map(|f| (f.clone(), format!("{f}.{}", until.trim())))
            .collect(),
    };
    texts
        .into_iter()
        .map(|(f, text)| {
            let g = crate::gate::parse(&text, &fleets, &steps).map_err(|e| bad(e.to_string()))?;
            if g.relative.is_some() {
                return Err(bad("a search condition takes a fixed bound".into()));
            }
            Ok((f, g))
        })
        .collect()
}

/// Whether the run survived `cond` (the condition does not hold, measured,
/// on a completed run), and the probe to show for it.
pub fn judge(value: f64, cond: &Gate, report: &Report) -> Probe {
    let r = crate::gate::evaluate(cond, report);
    let measured_ok = matches!(r.reason, GateReason::Passed | GateReason::Failed);
    let completed = report.status == RunStatus::Completed;
    Probe {
        value,
        survived: completed && measured_ok && !r.passed,
        measured: r.measured,
        measured_written: r
            .measured_text()
            .or(r.detail)
            .unwrap_or_else(|| r.reason.label().into()),
        status: report.status.as_str().into(),
    }
}

/// Why a run gave no report to judge.
#[derive(Debug, Clone, PartialEq)]
pub enum NoReport {
    /// The run could not be made: that load failed.
    Failed(String),
    /// The search was stopped (a signal): no further load is tried.
    Stopped,
}

/// Search every fleet: `run(plan, fleet, load)` runs one plan and returns
/// its report.
pub async fn search<F, Fut>(spec: &Spec<'_>, mut run: F) -> Result<SearchReport, SearchError>
where
    F: FnMut(Plan, &str, f64) -> Fut,
    Fut: Future<Output = Result<Report, NoReport>>,
{
    let base = crate::scenario::parse(spec.src, spec.path, &spec.overrides)?;
    let conds = conditions(&base, spec.until)?;
    let mut fleets = Vec::new();
    let mut stopped = false;
    for (fleet, cond) in conds {
        let mut b = Bisect::new(spec.vary.start, spec.limits);
        let mut probes = Vec::new();
        let mut invalid_at = None;
        while let Some(v) = b.next().filter(|_| !stopped) {
            let probe = match plan_at(spec, &fleet, v) {
                Ok(plan) => match run(plan, &fleet, v).await {
                    Ok(report) => judge(v, &cond, &report),
                    Err(NoReport::Failed(e)) => failed(v, e),
                    Err(NoReport::Stopped) => {
                        stopped = true;
                        break;
                    }
                },
                // Not a load that failed: a load the scenario cannot take.
                Err(e) => {
                    invalid_at = Some(format!("{} = {}: {e}", spec.vary.key, fmt_num(v)));
                    break;
                }
            };
            b.record(v, probe.survived);
            probes.push(probe);
        }
        if stopped && probes.is_empty() {
            break;
        }
        fleets.push(FleetSearch {
            fleet,
            until: cond.expr.clone(),
            largest_surviving: b.survived,
            smallest_failing: b.failed,
            out_of_runs: b.out_of_runs(),
            invalid_at,
            probes,
        });
    }
    Ok(SearchReport {
        scenario: base.name.clone(),
        source: spec.path.display().to_string(),
        vary: spec.vary.clone(),
        until: spec.until.trim().into(),
        min: spec.limits.min,
        max: spec.limits.max,
        precision: spec.limits.precision,
        clock: spec.clock.into(),
        started_at: crate::timefmt::rfc3339(std::time::SystemTime::now()),
        stopped,
        fleets,
    })
}

/// The plan of `fleet` alone at load `v`.
fn plan_at(spec: &Spec<'_>, fleet: &str, v: f64) -> Result<Plan, String> {
    let text = with_value(spec.src, &spec.vary, v)
        .ok_or_else(|| format!("cannot set `{}` to {v}", spec.vary.key))?;
    let ov = Overrides {
        policy: Some(fleet.to_string()),
        ..spec.overrides.clone()
    };
    crate::scenario::parse(&text, spec.path, &ov).map_err(|e| e.to_string())
}

fn failed(value: f64, why: String) -> Probe {
    Probe {
        value,
        survived: false,
        measured: None,
        measured_written: why,
        status: "error".into(),
    }
}

#[cfg(test)]
mod tests;
