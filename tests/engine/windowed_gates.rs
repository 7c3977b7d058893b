//! Gates over time: one window breaches while the whole run does not. The
//! embedded simulator adds 3 s to every request that arrives in a 100 ms
//! fault window: about 10 journeys' first operations (each journey's next
//! steps come after the window), under 1% of the run's 3,000 operations but
//! over 1% of the 300 that end in the same second, so the run's p99 stays
//! fast and that second's p99 does not.

use crate::common;

use common::run;

fn scenario() -> common::scenario::Scenario {
    common::scenario()
        .compare(&["compliant"])
        .gates(&[
            "compliant.operation_latency.p99 < 2s",
            "compliant.operation_latency.p99 < 2s in every 1s window",
            "compliant.operation_latency.p99 < 2s in 90% of 1s windows",
            "compliant.success_rate >= 99% in every 1s window",
        ])
        .open("10s", 100)
        .drain("10s")
        .table(
            r#"[sim]
seed = 3
[[sim.events]]
id = "E1"
zones = [{ id = "A", seats = 100000 }]
[[sim.faults.windows]]
from = "2s"
to = "2.1s"
extra_latency = "3s""#,
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_slow_window_fails_a_windowed_gate_the_whole_run_passes() {
    let r = run(&scenario().plan()).await;
    let c = &r.results[0];
    let g: Vec<_> = r.gates.iter().map(|g| (g.passed, g)).collect();
    assert!(g[0].0, "the whole run's p99 is fast: {:?}", g[0].1);
    assert!(!g[1].0, "one window's p99 is not: {:?}", g[1].1);
    assert!(g[2].0, "{:?}", g[2].1);
    assert!(g[3].0, "nothing failed: {:?}", g[3].1);
    let w = g[1].1.window.expect("a window verdict");
    assert_eq!(w.width_s, 1);
    assert_eq!(w.held + 1, w.measured, "{w:?}");
    // The slow operations arrived at 2 s and ended 3 s later.
    assert_eq!(w.worst_t_s, Some(5), "{w:?}");
    // In the unit the bound was written in.
    assert!(g[1].1.measured.unwrap() >= 3.0, "{:?}", g[1].1);

    // The windows the gates read: every operation in exactly one.
    let series = &c.windows[0];
    assert_eq!(series.width_s, 1);
    let ops: u64 = series.rows.iter().map(|w| w.operations).sum();
    assert_eq!(ops, c.counts.operations);
    let ok: u64 = series.rows.iter().map(|w| w.ok_operations).sum();
    assert_eq!(ok, c.latency.ok_operation_latency_ms.count);
    let attempts: u64 = series.rows.iter().map(|w| w.attempts).sum();
    assert_eq!(attempts, c.latency.attempt_latency_ms.count);
    // The same per step, and the steps add up to the fleet.
    for (k, row) in series.rows.iter().enumerate() {
        let steps: u64 = c
            .steps
            .iter()
            .map(|s| s.windows[0].rows[k].operations)
            .sum();
        assert_eq!(steps, row.operations, "window at {} s", row.t_s);
    }
}
