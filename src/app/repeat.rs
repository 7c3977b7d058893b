//! `stampede run --repeat N`: the scenario N times, each a complete run
//! folder (`run-1` ... `run-N` under `--out`), then every headline's median
//! and spread in `repeat.json` and on the console. `stampede compare` of
//! two such folders judges a change against that spread.

use super::{Control, EXIT_RUNTIME, Overrides, Progress, RunArgs, run_once};
use crate::compare::REPEAT_FILE;
use crate::compare::spread::spread;
use crate::report::Report;
use crate::scenario::Plan;
use std::io::Write;

/// Every run in turn; the exit code is the worst of the runs' (a failed
/// write of `repeat.json` is a runtime error).
pub(super) async fn run_repeated(
    args: &RunArgs,
    plan: &Plan,
    ov: &Overrides,
    baseline: Option<&Report>,
    control: &Control,
    progress: Option<&Progress>,
) -> u8 {
    let n = args.repeat as usize;
    let mut reports = Vec::with_capacity(n);
    let mut dirs = Vec::with_capacity(n);
    let mut worst = 0u8;
    for i in 1..=n {
        if control.stop.is_cancelled() {
            eprintln!("stopped after {} of {n} runs", i - 1);
            break;
        }
        let dir = format!("run-{i}");
        let mut one = plan.clone();
        one.out_dir = plan.out_dir.join(&dir);
        if let Err(e) = crate::run::prepare_out_dir(&one) {
            eprintln!("error: {e}");
            return EXIT_RUNTIME;
        }
        eprintln!("run {i} of {n} -> {}", one.out_dir.display());
        let (code, report) = run_once(args, &one, ov, baseline, control, progress, None).await;
        worst = worst.max(code);
        if let Some(r) = report {
            reports.push(r);
            dirs.push(dir);
        }
    }
    let s = spread(&reports, dirs);
    print!("{}", crate::compare::spread::console(&s));
    let path = plan.out_dir.join(REPEAT_FILE);
    let json = serde_json::to_string_pretty(&s).unwrap_or_default();
    match crate::report::write::write_atomic(&path, |w| w.write_all(json.as_bytes())) {
        Ok(p) => println!("repeat: {}", p.display()),
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_RUNTIME;
        }
    }
    worst
}
