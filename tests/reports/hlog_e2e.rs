//! Every run writes `.hlog` interval logs; read back with the
//! `hdrhistogram` crate's reader they hold exactly the report's counts.

use crate::common;
use common::TempDir;

use stampede::metrics::hlog::{self, HlogFile, TAG_ATTEMPT, TAG_BACKOFF, TAG_OP, TAG_QUEUE};
use stampede::metrics::new_histogram;

#[test]
fn run_writes_interval_logs_whose_counts_equal_the_report() {
    let dir = TempDir::new("hlog");
    let out = dir.path().join("run");
    let run = crate::common::stampede()
        .arg("run")
        .arg("scenarios/ci-smoke.toml")
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(
        matches!(run.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report = stampede::report::json::load_summary(&out).unwrap();
    assert_eq!(report.results.len(), 2);
    for c in &report.results {
        let fleet = HlogFile::read(&out.join(hlog::file_name(&c.name, None))).unwrap();
        assert!(fleet.base_time.is_some() && fleet.start_time.is_some());
        let like = new_histogram();
        let op = fleet.sum(TAG_OP, &like).unwrap();
        let attempt = fleet.sum(TAG_ATTEMPT, &like).unwrap();
        assert_eq!(op.len(), c.counts.operations, "{}", c.name);
        assert_eq!(attempt.len(), c.counts.attempts, "{}", c.name);
        assert!(c.counts.attempts > c.counts.operations / 2 && c.counts.operations > 300);
        // Every interval of the per-second tags is one second long.
        assert!(
            fleet
                .intervals
                .iter()
                .filter(|i| i.tag == TAG_OP)
                .all(|i| i.duration.as_secs() == 1)
        );
        let backoff = fleet.sum(TAG_BACKOFF, &like).unwrap();
        assert_eq!(backoff.len(), c.latency.backoff_wait_ms.count, "{}", c.name);
        // One queue wait per attempt, its max the report's.
        let queue = fleet.sum(TAG_QUEUE, &like).unwrap();
        assert_eq!(queue.len(), c.counts.attempts, "{}", c.name);
        assert_eq!(queue.len(), c.latency.queue_wait_ms.count, "{}", c.name);
        assert_eq!(queue.max() as f64 / 1000.0, c.latency.queue_wait_ms.max);
        // Max from the log equals the report's max (µs in the log, ms in the report).
        assert_eq!(op.max() as f64 / 1000.0, c.latency.operation_latency_ms.max);
        for s in &c.steps {
            let f = HlogFile::read(&out.join(hlog::file_name(&c.name, Some(&s.name)))).unwrap();
            let op = f.sum(TAG_OP, &like).unwrap();
            let attempt = f.sum(TAG_ATTEMPT, &like).unwrap();
            assert_eq!(op.len(), s.operations, "{}.{}", c.name, s.name);
            assert_eq!(attempt.len(), s.attempts, "{}.{}", c.name, s.name);
            let mut by_class = 0;
            for (class, p) in &s.attempt_latency_by_class_ms {
                let h = f.sum(&hlog::class_tag(class), &like).unwrap();
                assert_eq!(h.len(), p.count, "{}.{} {class}", c.name, s.name);
                by_class += h.len();
            }
            assert_eq!(by_class, s.attempts);
        }
    }
}
