//! `scenarios/ci-smoke.toml` is the CI job's gate, so it must pass every time
//! on a healthy run: a gate that fails one run in four with no failed journey
//! (as `compliant.success_rate >= 95%` did, sold-out answers counting against
//! it) teaches a team to ignore red builds.
//!
//! This runs the file as shipped (its seeds included; timing still varies
//! from run to run) ten times in a row against the embedded simulator, each
//! run a fresh plan and a fresh simulator, and asserts that every run
//! completed and every gate passed.
//!
//! Time: one run takes 3.5-10 s in a debug build (two rounds of a 1 s burst,
//! then the compliant fleet's 1 s, 2 s, ... backoff waits), so the ten take
//! 45-70 s on a busy 2-core machine. A shorter drain would not help (the
//! runs end when their last journey does, well inside the 15 s drain) and
//! would only risk cancelling journeys, which is what the gate leaves out,
//! so the file is run as written.

use stampede::engine::Control;
use stampede::gate::Metric;
use stampede::report::GateReason;
use stampede::scenario::{self, Overrides};
use std::path::Path;
use std::time::Instant;

const RUNS: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ci_smoke_passes_every_gate_ten_times_in_a_row() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/ci-smoke.toml");
    let started = Instant::now();
    let mut failed_journeys = Vec::new();
    for run in 1..=RUNS {
        let plan = scenario::load(&path, &Overrides::default())
            .unwrap_or_else(|e| panic!("scenarios/ci-smoke.toml: {e}"));
        assert!(plan.target.url.is_none(), "the smoke scenario is offline");
        assert!(
            plan.gates
                .iter()
                .any(|g| g.fleet == "compliant" && g.metric == Metric::JourneySuccessRate),
            "the smoke scenario gates on the compliant fleet's journey success rate"
        );
        let t = Instant::now();
        let report = stampede::run::execute(&plan, &Control::default(), None)
            .await
            .unwrap_or_else(|e| panic!("run {run}: {e}"))
            .report;
        let measured: Vec<String> = (report.gates.iter())
            .map(|g| format!("{} {}", g.metric, g.measured_text().unwrap_or_default()))
            .collect();
        eprintln!(
            "run {run}: {:.1}s; {}",
            t.elapsed().as_secs_f64(),
            measured.join(", ")
        );
        assert_eq!(
            report.status,
            stampede::report::RunStatus::Completed,
            "run {run}: {:?}",
            report.stop_reason
        );
        assert_eq!(report.gates.len(), plan.gates.len(), "run {run}");
        let failures: Vec<&str> = report
            .gates
            .iter()
            .filter(|g| !g.passed)
            .map(|g| g.message.as_str())
            .collect();
        assert!(
            failures.is_empty(),
            "run {run} of {RUNS}: gates failed:\n{}",
            failures.join("\n")
        );
        for g in &report.gates {
            assert_eq!(g.reason, GateReason::Passed, "run {run}: {}", g.message);
        }
        // The inventory is smaller than the crowd: the gate holds although
        // journeys sold out, which is what `success_rate` could not take.
        let c = report
            .results
            .iter()
            .find(|c| c.name == "compliant")
            .expect("compliant fleet");
        assert!(
            c.counts.journeys.sold_out > 0,
            "run {run}: expected sold-out journeys, got {:?}",
            c.counts.journeys
        );
        failed_journeys.push(c.counts.journeys.failed);
    }
    eprintln!(
        "{RUNS} runs in {:.1}s; compliant failed journeys per run: {failed_journeys:?}",
        started.elapsed().as_secs_f64()
    );
}
