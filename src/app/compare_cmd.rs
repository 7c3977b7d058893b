//! `stampede compare` and `stampede run --baseline DIR`.

use super::{EXIT_CONFIG, EXIT_OK, EXIT_RUNTIME};
use crate::cli::CompareArgs;
use crate::report::Report;
use crate::scenario::Plan;
use std::io::Write;
use std::path::Path;

/// The baseline run's report, checked against the plan before any load is
/// sent: a relative gate without `--baseline`, an unreadable baseline, or
/// one of another scenario or without this plan's fleets is an error.
pub(super) fn baseline(dir: Option<&Path>, plan: &Plan) -> Result<Option<Report>, String> {
    let Some(dir) = dir else {
        crate::gate::baseline::require(&plan.gates, None).map_err(|e| e.to_string())?;
        return Ok(None);
    };
    let base = crate::report::json::load_summary(dir)
        .map_err(|e| format!("--baseline {}: {e}", dir.display()))?;
    if base.scenario != plan.name {
        return Err(format!(
            "--baseline {}: not comparable: it ran scenario `{}`, this is `{}`",
            dir.display(),
            base.scenario,
            plan.name
        ));
    }
    let missing: Vec<&str> = plan
        .rounds
        .iter()
        .flat_map(|r| &r.fleets)
        .map(|c| c.name.as_str())
        .filter(|n| !base.results.iter().any(|c| c.name == *n))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "--baseline {}: not comparable: it has no fleet {}",
            dir.display(),
            missing.join(", ")
        ));
    }
    if base.meta.seed.is_some_and(|s| s != plan.seed) {
        eprintln!(
            "warning: --baseline {} ran with seed {:?}, this run with {}",
            dir.display(),
            base.meta.seed,
            plan.seed
        );
    }
    Ok(Some(base))
}

/// Re-evaluate the gates with the baseline and say so in the report.
pub(super) fn apply_baseline(report: &mut Report, plan: &Plan, base: &Report) {
    match crate::compare::comparable(base, report) {
        Ok(warnings) => {
            for w in warnings {
                eprintln!("warning: baseline: {w}");
            }
        }
        Err(e) => eprintln!("warning: baseline: {e}"),
    }
    report.gates = crate::gate::evaluate_all_with(&plan.gates, report, Some(base));
    if crate::gate::baseline::any_relative(&plan.gates) {
        report.notes.push(format!(
            "gates written against `baseline` were measured relative to the run of {} ({})",
            base.scenario, base.started_at
        ));
    }
}

/// A run folder's report, and its spread when it is a `--repeat` folder
/// (then the report is its first run's).
fn load_run(d: &Path) -> Result<(Report, Option<crate::compare::Spread>), String> {
    let repeat = d.join(crate::compare::REPEAT_FILE);
    if repeat.is_file() {
        let text =
            std::fs::read_to_string(&repeat).map_err(|e| format!("{}: {e}", repeat.display()))?;
        let s: crate::compare::Spread =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", repeat.display()))?;
        let first = s
            .dirs
            .first()
            .ok_or_else(|| format!("{}: no runs", repeat.display()))?;
        let r = crate::report::json::load_summary(&d.join(first))
            .map_err(|e| format!("{}: {e}", d.display()))?;
        return Ok((r, Some(s)));
    }
    crate::report::json::load_summary(d)
        .map(|r| (r, None))
        .map_err(|e| format!("{}: {e}", d.display()))
}

pub(super) fn compare(args: &CompareArgs) -> u8 {
    let ((base, base_spread), (new, new_spread)) = match (load_run(&args.base), load_run(&args.new))
    {
        (Ok(b), Ok(n)) => (b, n),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return EXIT_CONFIG;
        }
    };
    let c = match crate::compare::compare(
        &base,
        &new,
        &args.base.display().to_string(),
        &args.new.display().to_string(),
    ) {
        Ok(c) => match (&base_spread, &new_spread) {
            (Some(b), Some(n)) => c.with_spreads(b, n),
            _ => c,
        },
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_CONFIG;
        }
    };
    for w in &c.warnings {
        eprintln!("warning: {w}");
    }
    print!("{}", crate::compare::console(&c));
    let _ = std::io::stdout().flush();
    if let Some(out) = &args.out {
        if let Err(e) = std::fs::create_dir_all(out) {
            eprintln!("error: cannot create {}: {e}", out.display());
            return EXIT_RUNTIME;
        }
        let json = serde_json::to_string_pretty(&c).unwrap_or_default();
        let page = match crate::compare::html(&c) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("error: compare.html: {e}");
                return EXIT_RUNTIME;
            }
        };
        for (name, text) in [("compare.json", json), ("compare.html", page)] {
            let path = out.join(name);
            match crate::report::write::write_atomic(&path, |w| w.write_all(text.as_bytes())) {
                Ok(p) => eprintln!("wrote {}", p.display()),
                Err(e) => {
                    eprintln!("error: {e}");
                    return EXIT_RUNTIME;
                }
            }
        }
    }
    // A regression beyond the run-to-run spread fails; beyond the fixed
    // threshold of single runs only when asked (--fail-on-worse).
    if c.worse > 0 && (c.repeats.is_some() || args.fail_on_worse) {
        return super::EXIT_GATES;
    }
    EXIT_OK
}
