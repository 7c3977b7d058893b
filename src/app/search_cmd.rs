//! `stampede search`: the runs of [`crate::search`], each a complete report
//! folder under `--out` (`<fleet>-<key>-<load>`), then `search.json`,
//! `search.html` and the table on the console.

use super::{EXIT_CONFIG, EXIT_OK, EXIT_RUNTIME, claim, signals};
use crate::cli::SearchArgs;
use crate::clock::ClockMode;
use crate::engine::Control;
use crate::scenario::{Overrides, Plan};
use crate::search::{self, Limits, NoReport, Spec};
use std::io::Write;
use std::path::{Path, PathBuf};

pub(super) async fn search(args: SearchArgs) -> u8 {
    let control = Control::default();
    signals::install(control.clone());
    // The scenario and the condition are checked before --out is touched.
    let Inputs {
        src,
        vary,
        limits,
        overrides,
        clock,
    } = match inputs(&args) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_CONFIG;
        }
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&args.scenario));
    let _claim = match claim::claim(&out, args.force) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_CONFIG;
        }
    };
    let spec = Spec {
        src: &src,
        path: &args.scenario,
        vary,
        until: &args.until,
        limits,
        overrides,
        clock: clock.as_str(),
    };
    if clock.is_virtual() {
        crate::clock::enter_virtual();
    }
    let key = args.vary.clone();
    let result = search::search(&spec, |plan, fleet, load| {
        let dir = out.join(format!("{fleet}-{key}-{}", crate::gate::fmt_num(load)));
        let ov = Overrides {
            policy: Some(fleet.to_string()),
            ..spec.overrides.clone()
        };
        run_one(plan, ov, dir, clock, control.clone())
    })
    .await;
    match result {
        Ok(report) => write_outputs(&report, &out),
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_CONFIG
        }
    }
}

/// What a search reads before it runs anything: the scenario's text, the
/// key it varies, its limits, the overrides and the clock.
struct Inputs {
    src: String,
    vary: search::Vary,
    limits: Limits,
    overrides: Overrides,
    clock: ClockMode,
}

/// The search's inputs, each checked (the scenario parsed, refused on
/// virtual time where it cannot run there, the condition read), or the
/// message that says what is wrong.
fn inputs(args: &SearchArgs) -> Result<Inputs, String> {
    let src = std::fs::read_to_string(&args.scenario)
        .map_err(|e| format!("cannot read {}: {e}", args.scenario.display()))?;
    let vary = search::read_key(&src, &args.scenario, &args.vary).map_err(|e| e.to_string())?;
    let limits = limits(args, vary.start, vary.integer)?;
    let overrides = Overrides {
        target: args.target.clone(),
        max_rps: args.max_rps,
        ..Overrides::default()
    };
    let clock = if args.real {
        ClockMode::Real
    } else {
        ClockMode::Virtual
    };
    let plan =
        crate::scenario::parse(&src, &args.scenario, &overrides).map_err(|e| e.to_string())?;
    if clock.is_virtual() {
        super::virtual_time::refuse(&plan, false)
            .map_err(|e| format!("{e} (for `stampede search`: --real)"))?;
    }
    search::conditions(&plan, &args.until).map_err(|e| e.to_string())?;
    Ok(Inputs {
        src,
        vary,
        limits,
        overrides,
        clock,
    })
}

/// The search's console table, then `search.json` and `search.html` in
/// `out`; the exit code (a search a stop cut short is aborted).
fn write_outputs(report: &search::SearchReport, out: &Path) -> u8 {
    print!("{}", search::console_table(report));
    let page = match search::html(report) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: search.html: {e}");
            return EXIT_RUNTIME;
        }
    };
    let mut code = EXIT_OK;
    for (name, text) in [("search.json", search::json(report)), ("search.html", page)] {
        let path = out.join(name);
        match crate::report::write::write_atomic(&path, |w| w.write_all(text.as_bytes())) {
            Ok(p) => println!("search: {}", p.display()),
            Err(e) => {
                eprintln!("error: {e}");
                code = EXIT_RUNTIME;
            }
        }
    }
    if report.stopped && code == EXIT_OK {
        code = super::EXIT_ABORTED;
    }
    code
}

fn limits(args: &SearchArgs, start: f64, integer: bool) -> Result<Limits, String> {
    let max = args.max.unwrap_or(start * 64.0);
    if !(args.min.is_finite() && args.min > 0.0) {
        return Err(format!("--min {}: a load above 0", args.min));
    }
    if !(max.is_finite() && max >= args.min) {
        return Err(format!("--max {max}: at least --min ({})", args.min));
    }
    if !(args.precision.is_finite() && (0.0..100.0).contains(&args.precision)) {
        return Err(format!(
            "--precision {}: a percentage in [0, 100)",
            args.precision
        ));
    }
    Ok(Limits {
        min: args.min,
        max,
        precision: args.precision / 100.0,
        integer,
        max_runs: args.max_runs,
    })
}

fn default_out(scenario: &Path) -> PathBuf {
    let stem = scenario
        .file_stem()
        .map_or("scenario".into(), |s| s.to_string_lossy().into_owned());
    PathBuf::from("reports").join(format!(
        "search-{stem}-{}",
        crate::timefmt::compact(std::time::SystemTime::now())
    ))
}

/// One load: run it into `dir`, write its reports, hand back the report.
async fn run_one(
    mut plan: Plan,
    ov: Overrides,
    dir: PathBuf,
    clock: ClockMode,
    control: Control,
) -> Result<crate::report::Report, NoReport> {
    if control.stop.is_cancelled() {
        return Err(NoReport::Stopped);
    }
    plan.out_dir = dir;
    plan.clock = clock;
    crate::run::prepare_out_dir(&plan).map_err(|e| NoReport::Failed(e.to_string()))?;
    eprintln!("run -> {}", plan.out_dir.display());
    let mut output = crate::run::execute(&plan, &control, None)
        .await
        .map_err(|e| NoReport::Failed(e.to_string()))?;
    let argv: Vec<String> = std::env::args().collect();
    output.report.meta = crate::run::meta::of_run(&plan, &argv, &ov, output.wall);
    let dir = plan.out_dir.clone();
    let output = tokio::task::spawn_blocking(move || {
        super::output::write_run(&output, &dir);
        output
    })
    .await
    .map_err(|e| NoReport::Failed(e.to_string()))?;
    if control.stop.is_cancelled() {
        return Err(NoReport::Stopped);
    }
    Ok(output.report)
}
