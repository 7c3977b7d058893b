//! Scenario file + command-line overrides -> validated [`Plan`].
//!
//! One file per TOML section: each turns its section (and the overrides
//! that touch it) into its part of the plan, with errors that name
//! `file:line:col` and the key. This file parses the text and wires the
//! sections together in dependency order (the journey needs the simulator,
//! the safety rails need the load).

mod journey;
mod load;
mod policies;
mod safety;
mod sim;
mod step_flow;
mod step_parts;
mod target;
mod truth;
mod users;

use journey::build_journey;
use load::build_load;
use policies::{build_policies, build_rounds};
use safety::build_safety;
use target::build_target;
use users::build_users;

use super::ScenarioError;
use super::locate::{line_col, locate};
use super::model::*;
use super::plan::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Command-line flags that override the scenario file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub duration: Option<Duration>,
    pub rate: Option<f64>,
    pub target: Option<String>,
    pub policy: Option<String>,
    pub out: Option<PathBuf>,
    /// `--insecure`: skip TLS certificate verification.
    pub insecure: bool,
    /// `--ledger`: the target is `stampede serve`; read its ledger.
    pub ledger: bool,
    /// `--max-rps`: raise (or lower) the hard cap on attempts per second.
    pub max_rps: Option<f64>,
    /// `--shard I/N`: run only shard I of N of the arrival schedule.
    pub shard: Option<crate::shard::Shard>,
}

/// Collects the error context: the file and its text.
struct Ctx<'a> {
    path: &'a Path,
    src: &'a str,
}

impl Ctx<'_> {
    fn err(&self, key: &str, msg: impl Into<String>) -> ScenarioError {
        let (line, col) = locate(self.src, key);
        ScenarioError::Invalid {
            path: self.path.to_path_buf(),
            line,
            col,
            key: key.to_string(),
            msg: msg.into(),
        }
    }

    /// A bound check's complaint, if any, as an error at `key`.
    fn within(&self, key: &str, check: Result<(), String>) -> Result<(), ScenarioError> {
        check.map_err(|m| self.err(key, m))
    }
}

/// Parse and validate scenario text read from `path`.
pub fn build(src: &str, path: &Path, ov: &Overrides) -> Result<Plan, ScenarioError> {
    let file: ScenarioFile = toml::from_str(src).map_err(|e| {
        let (line, col) = e.span().map_or((1, 1), |s| line_col(src, s.start));
        ScenarioError::Parse {
            path: path.to_path_buf(),
            line,
            col,
            msg: e.message().to_string(),
        }
    })?;
    let cx = Ctx { path, src };
    let name = match &file.name {
        Some(n) => {
            crate::names::check(n).map_err(|m| cx.err("name", m))?;
            n.clone()
        }
        None => crate::names::from_file_stem(path),
    };
    let sim = sim::build_sim(&cx, file.sim.as_ref())?;
    let target = build_target(&cx, &file.target, ov)?;
    let load = build_load(&cx, &file.load, ov)?;
    let users = build_users(&cx, &file, &load, target.url.is_none())?;
    let user_cols: &[String] = match &users {
        UsersPlan::Listed { columns, .. } => columns,
        UsersPlan::Generated { .. } => &[],
    };
    let journey = build_journey(
        &cx,
        file.journey.as_ref(),
        &sim,
        target.url.is_none(),
        user_cols,
    )?;
    let policies = build_policies(&cx, &file.policies)?;
    let rounds = build_rounds(&cx, &file, &policies, ov)?;
    let truth = truth::build_truth(&cx, file.truth.as_ref())?;
    let gates = build_gates(&cx, &file.gates, &rounds, &journey, &target, truth.as_ref())?;
    let safety = build_safety(&cx, &file.safety, &load, ov)?;
    let trigger = build_trigger(&cx, file.trigger.as_ref(), &load)?;
    let out_dir = ov.out.clone().unwrap_or_else(|| {
        PathBuf::from("reports").join(format!(
            "{name}-{}",
            crate::timefmt::compact(SystemTime::now())
        ))
    });
    Ok(Plan {
        name,
        description: file.description.clone(),
        source: path.to_path_buf(),
        seed: file.seed.unwrap_or(1),
        target,
        load,
        users,
        journey,
        rounds,
        sim,
        gates,
        safety,
        out_dir,
        shard: ov.shard,
        start_at: None,
        clock: crate::clock::ClockMode::Real,
        trace: false,
        truth,
        trigger,
    })
}

/// `trigger = { from, to }`: a window that opens before the load ends.
fn build_trigger(
    cx: &Ctx,
    t: Option<&TriggerSection>,
    load: &LoadPlan,
) -> Result<Option<(f64, f64)>, ScenarioError> {
    let Some(t) = t else {
        return Ok(None);
    };
    if t.from >= t.to {
        return Err(cx.err("trigger", "`from` must be before `to`"));
    }
    if t.from >= load.duration {
        return Err(cx.err(
            "trigger",
            format!(
                "opens at {} but the load lasts {}: nothing would be measured after it",
                humantime::format_duration(t.from),
                humantime::format_duration(load.duration)
            ),
        ));
    }
    Ok(Some((t.from.as_secs_f64(), t.to.as_secs_f64())))
}

/// The gates, parsed against the fleets and steps there are; a `truth.`
/// gate needs its key in `[truth]`, a ledger gate a ledger to read.
fn build_gates(
    cx: &Ctx,
    gates: &[String],
    rounds: &[Round],
    journey: &Journey,
    target: &TargetPlan,
    truth: Option<&TruthPlan>,
) -> Result<Vec<crate::gate::Gate>, ScenarioError> {
    let fleet_names: Vec<String> = rounds
        .iter()
        .flat_map(|r| r.fleets.iter().map(|c| c.name.clone()))
        .collect();
    let step_names: Vec<String> = journey.steps.iter().map(|s| s.name.clone()).collect();
    let gates = (gates.iter().enumerate())
        .map(|(i, g)| {
            crate::gate::parse(g, &fleet_names, &step_names)
                .map_err(|e| cx.err(&format!("gates[{i}]"), e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    check_truth_gates(cx, &gates, truth)?;
    if target.url.is_some() && target.ledger == Some(false) {
        for (i, g) in gates.iter().enumerate() {
            let from_truth = truth.is_some_and(|t| t.has(&g.metric.to_string()));
            if matches!(g.metric, crate::gate::Metric::Ledger(_)) && !from_truth {
                return Err(cx.err(
                    &format!("gates[{i}]"),
                    format!(
                        "`{}` needs a simulator's ledger and target.ledger = false; the client-side counts work against any target (client_early_retries, key_changed_after_ambiguous, sent_while_told_to_wait)",
                        g.expr
                    ),
                ));
            }
        }
    }
    Ok(gates)
}

/// A `truth.<KEY>` gate needs that key in `[truth]`.
fn check_truth_gates(
    cx: &Ctx,
    gates: &[crate::gate::Gate],
    truth: Option<&TruthPlan>,
) -> Result<(), ScenarioError> {
    for (i, g) in gates.iter().enumerate() {
        let crate::gate::Metric::Truth(key) = &g.metric else {
            continue;
        };
        if !truth.is_some_and(|t| t.has(key)) {
            return Err(cx.err(
                &format!("gates[{i}]"),
                format!(
                    "`{}` reads `{key}` from the target's own counts; name it in [truth.counts] or [truth.levels]",
                    g.expr
                ),
            ));
        }
    }
    Ok(())
}

/// Helpers for the per-section tests: build from text, pick the error apart.
#[cfg(test)]
pub(super) mod testing {
    use super::*;

    /// A minimal valid load table, for tests about other sections.
    pub const OK_LOAD: &str = "[load]\nmodel = \"ticket-drop\"\nusers = 10\nover = \"1s\"\n";

    pub fn plan(src: &str) -> Plan {
        plan_with(src, &Overrides::default()).unwrap_or_else(|e| panic!("{e}\n---\n{src}"))
    }

    pub fn plan_with(src: &str, ov: &Overrides) -> Result<Plan, ScenarioError> {
        build(src, Path::new("dir/s.toml"), ov)
    }

    /// (line, col, key, message) of the validation error `src` must produce.
    pub fn invalid(src: &str) -> (usize, usize, String, String) {
        invalid_with(src, &Overrides::default())
    }

    pub fn invalid_with(src: &str, ov: &Overrides) -> (usize, usize, String, String) {
        match plan_with(src, ov) {
            Err(ScenarioError::Invalid {
                path,
                line,
                col,
                key,
                msg,
            }) => {
                assert_eq!(path, Path::new("dir/s.toml"));
                (line, col, key, msg)
            }
            Err(e) => panic!("not a validation error: {e}\n---\n{src}"),
            Ok(_) => panic!("expected an error for:\n{src}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn name_defaults_to_the_file_stem_and_seed_to_one() {
        let p = plan(OK_LOAD);
        assert_eq!(p.name, "s");
        assert_eq!(p.seed, 1);
        assert_eq!(p.source, Path::new("dir/s.toml"));
        assert!(p.out_dir.starts_with("reports"), "{:?}", p.out_dir);
        assert!(
            p.out_dir
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("s-"),
            "{:?}",
            p.out_dir
        );
    }

    #[test]
    fn name_with_a_separator_is_rejected_at_its_line() {
        let (line, col, key, msg) = invalid(&format!("seed = 3\nname = \"a/b\"\n{OK_LOAD}"));
        assert_eq!((line, col, key.as_str()), (2, 1, "name"));
        assert!(msg.contains("contains '/'"), "{msg}");
    }

    #[test]
    fn out_override_wins() {
        let ov = Overrides {
            out: Some(PathBuf::from("/tmp/x")),
            ..Overrides::default()
        };
        let p = plan_with(&format!("name = \"n\"\nseed = 9\n{OK_LOAD}"), &ov).unwrap();
        assert_eq!(p.out_dir, Path::new("/tmp/x"));
        assert_eq!((p.name.as_str(), p.seed), ("n", 9));
    }

    #[test]
    fn syntax_error_is_a_parse_error_with_position() {
        match plan_with("[load]\nmodel = \n", &Overrides::default()) {
            Err(ScenarioError::Parse { line, .. }) => assert_eq!(line, 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn gate_naming_an_unknown_fleet_points_at_the_gate() {
        let (line, col, key, msg) = invalid(&format!(
            "gates = [\"nobody.success_rate >= 95%\"]\n{OK_LOAD}"
        ));
        assert_eq!((line, col, key.as_str()), (1, 1, "gates[0]"));
        assert!(msg.contains("nobody"), "{msg}");
        let p = plan(&format!(
            "gates = [\"compliant.success_rate >= 95%\"]\n{OK_LOAD}"
        ));
        let exprs: Vec<&str> = p.gates.iter().map(|g| g.expr.as_str()).collect();
        assert_eq!(exprs, ["compliant.success_rate >= 95%"]);
    }
}
