//! Latency over time through the binary on the embedded simulator: a
//! 3-second round gets 100 ms intervals (many more than 4 points), every
//! operation and attempt lands in exactly one interval, the per-second view
//! and the `.hlog` files agree with the fine series, and the CSV and JSON
//! carry it.

use crate::common;
use common::TempDir;

use stampede::metrics::hlog::{self, HlogFile, TAG_OP};
use stampede::metrics::new_histogram;

#[test]
fn a_three_second_round_has_a_fine_latency_series_that_adds_up() {
    let dir = TempDir::new("latency");
    let scenario = dir.path().join("latency.toml");
    crate::common::scenario()
        .name("latency-e2e")
        .compare(&["compliant"])
        .seed(4)
        .open("3s", 60)
        .drain("5s")
        .quantity(1)
        .write(&scenario);
    let out = dir.path().join("run");
    let run = crate::common::stampede()
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report = stampede::report::json::load_summary(&out).unwrap();
    let c = &report.results[0];
    assert!(c.counts.operations > 100, "{}", c.counts.operations);
    assert_eq!(c.latency.latency_interval_ms, 100);
    assert!(
        c.latency.latency_series.len() > 10,
        "{} points for a 3 s round",
        c.latency.latency_series.len()
    );
    let ops: u64 = c
        .latency
        .latency_series
        .iter()
        .map(|r| r.operation_latency_ms.count)
        .sum();
    let attempts: u64 = c
        .latency
        .latency_series
        .iter()
        .map(|r| r.attempt_latency_ms.count)
        .sum();
    assert_eq!(ops, c.counts.operations);
    assert_eq!(attempts, c.counts.attempts);
    for s in &c.steps {
        let n: u64 = s
            .latency_series
            .iter()
            .map(|r| r.operation_latency_ms.count)
            .sum();
        assert_eq!(n, s.operations, "{}", s.name);
        assert!(s.latency_series.iter().all(|r| r.t_ms % 100 == 0));
    }
    // Ordered, distinct intervals; percentiles ordered within each.
    assert!(
        c.latency
            .latency_series
            .windows(2)
            .all(|w| w[0].t_ms < w[1].t_ms)
    );
    for r in &c.latency.latency_series {
        let l = &r.operation_latency_ms;
        if l.count > 0 {
            assert!(l.p50 <= l.p90 && l.p90 <= l.p95 && l.p95 <= l.p99 && l.p99 <= l.max);
        }
    }
    // Per second: the same operations, and the .hlog's per-second `op`
    // intervals hold exactly those counts.
    let per_second: Vec<(u64, u64)> = c
        .latency
        .latency_per_second
        .iter()
        .map(|r| (r.t_ms / 1000, r.operation_latency_ms.count))
        .filter(|(_, n)| *n > 0)
        .collect();
    assert_eq!(
        per_second.iter().map(|p| p.1).sum::<u64>(),
        c.counts.operations
    );
    let fleet = HlogFile::read(&out.join(hlog::file_name(&c.name, None))).unwrap();
    let from_log: Vec<(u64, u64)> = fleet
        .intervals
        .iter()
        .filter(|i| i.tag == TAG_OP)
        .map(|i| {
            assert_eq!(i.duration.as_secs(), 1);
            (i.start.as_secs(), i.histogram.len())
        })
        .collect();
    assert_eq!(from_log, per_second);
    let like = new_histogram();
    assert_eq!(fleet.sum(TAG_OP, &like).unwrap().len(), c.counts.operations);

    // The CSV: one operation row per fleet interval, with a wall-clock time.
    let csv = std::fs::read_to_string(out.join("latency_series.csv")).unwrap();
    let rows: Vec<&str> = csv
        .lines()
        .filter(|l| l.starts_with("compliant,all,") && l.contains(",operation,"))
        .collect();
    assert_eq!(
        rows.len(),
        c.latency
            .latency_series
            .iter()
            .filter(|r| r.operation_latency_ms.count > 0)
            .count()
    );
    assert!(
        rows.iter().all(|r| r.contains("Z,100,operation,")),
        "{rows:?}"
    );
    let ts = std::fs::read_to_string(out.join("timeseries.csv")).unwrap();
    assert!(ts.lines().next().unwrap().contains(",attempt_max_ms,"));
    // The JSON names the fields the docs describe.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let r0 = &json["results"][0];
    assert_eq!(r0["latency_interval_ms"], 100);
    for key in ["p50", "p90", "p95", "p99", "max", "count"] {
        assert!(
            r0["latency_series"][0]["operation_latency_ms"][key].is_number(),
            "{key}"
        );
    }
    assert!(r0["steps"][0]["latency_series"].is_array());
    assert!(r0["latency_per_second"][0]["attempt_latency_ms"]["p99"].is_number());
}
