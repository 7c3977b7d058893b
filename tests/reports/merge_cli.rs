//! `stampede merge` through the binary: shard folders add up exactly, and
//! every kind of bad input is refused with a clear error and nothing written.

use crate::common;
use crate::common::folders::{as_shard, copy_run, edit_summary};
use crate::common::stampede;
use common::TempDir;

use std::path::{Path, PathBuf};
use std::process::Output;

fn merge(dirs: &[&PathBuf], out: &Path) -> Output {
    let mut args: Vec<&std::ffi::OsStr> = vec!["merge".as_ref()];
    args.extend(dirs.iter().map(|d| d.as_os_str()));
    args.push("--out".as_ref());
    args.push(out.as_os_str());
    stampede().args(&args).run()
}

fn refused(o: &Output, out: &Path, needle: &str) {
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(needle), "{needle:?} not in: {stderr}");
    assert!(!out.exists(), "nothing written to --out");
}

#[test]
fn merge_adds_shards_exactly_and_refuses_bad_input() {
    let dir = TempDir::new("mergecli");
    let scenario = dir.path().join("tiny.toml");
    crate::common::scenario()
        .compare(&["compliant"])
        .seed(11)
        .gates(&["compliant.amplification >= 1"])
        .open("1s", 30)
        .drain("5s")
        .write(&scenario);
    let run = dir.path().join("run");
    let o = stampede()
        .args([
            "run".as_ref(),
            scenario.as_os_str(),
            "--out".as_ref(),
            run.as_os_str(),
            "--quiet".as_ref(),
        ])
        .run();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let single = stampede::report::json::load_summary(&run).unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    copy_run(&run, &a);
    copy_run(&run, &b);
    as_shard(&a, 0, 2);
    as_shard(&b, 1, 2);

    let out = dir.path().join("merged");
    let o = merge(&[&a, &b], &out);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let m = stampede::report::json::load_summary(&out).unwrap();
    let (s, c) = (&single.results[0], &m.results[0]);
    assert_eq!(c.counts.operations, 2 * s.counts.operations);
    assert_eq!(c.counts.attempts, 2 * s.counts.attempts);
    assert_eq!(c.counts.journeys.started, 2 * s.counts.journeys.started);
    assert_eq!(
        c.latency.operation_latency_ms.count,
        2 * s.latency.operation_latency_ms.count
    );
    // Doubling every bucket leaves every percentile where it was.
    assert_eq!(
        c.latency.operation_latency_ms.p99,
        s.latency.operation_latency_ms.p99
    );
    assert_eq!(c.counts.success_rate, s.counts.success_rate);
    let series: u64 = c.timeseries.iter().map(|r| r.attempts).sum();
    assert_eq!(series, c.counts.attempts);
    // Latency over time, per second from the .hlog files: each second's
    // buckets doubled, so the run's own per-second percentiles (its 100 ms
    // intervals summed) come back with twice the counts.
    assert_eq!(c.latency.latency_interval_ms, 1000);
    assert_eq!(s.latency.latency_interval_ms, 100);
    assert!(!s.latency.latency_per_second.is_empty());
    assert_eq!(
        c.latency.latency_series.len(),
        s.latency.latency_per_second.len()
    );
    assert_eq!(c.latency.latency_per_second, c.latency.latency_series);
    for (m, one) in c
        .latency
        .latency_series
        .iter()
        .zip(&s.latency.latency_per_second)
    {
        assert_eq!(m.t_ms, one.t_ms);
        let (mo, so) = (&m.operation_latency_ms, &one.operation_latency_ms);
        assert_eq!(mo.count, 2 * so.count);
        assert_eq!(
            [mo.p50, mo.p95, mo.p99, mo.max],
            [so.p50, so.p95, so.p99, so.max]
        );
        assert_eq!(m.attempt_latency_ms.p99, one.attempt_latency_ms.p99);
    }
    let step_ops: u64 = c.steps[0]
        .latency_series
        .iter()
        .map(|r| r.operation_latency_ms.count)
        .sum();
    assert_eq!(step_ops, c.steps[0].operations);
    assert_eq!(m.gates.len(), 1);
    assert!(m.gates[0].passed);
    assert_eq!(m.origin.merged_from.len(), 2);
    for f in [
        "report.html",
        "junit.xml",
        "compliant.hlog",
        "compliant-operation.hgrm",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    // A merge of the merged report with nothing else is a one-shard report again.
    let again = dir.path().join("again");
    let o = merge(&[&out], &again);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let m2 = stampede::report::json::load_summary(&again).unwrap();
    assert_eq!(m2.results[0].counts.attempts, c.counts.attempts);

    // Windows are cut by the run that measured: a merge keeps no shard's
    // windows (they would be one shard's share) and a windowed gate fails
    // unmeasured (exit 1), never passing on part of the data.
    let (wa, wb) = (dir.path().join("wa"), dir.path().join("wb"));
    for (from, to) in [(&a, &wa), (&b, &wb)] {
        copy_run(from, to);
        edit_summary(to, |v| {
            v["origin"]["gates"] =
                serde_json::json!(["compliant.operations >= 0 in every 1s window"]);
            v["results"][0]["windows"] = serde_json::json!([{"width_s": 1, "rows": [{"t_s": 0, "operations": 7, "ok_operations": 7, "attempts": 7,
                "operation_latency_ms": c.latency.operation_latency_ms, "ok_operation_latency_ms": c.latency.operation_latency_ms,
                "attempt_latency_ms": c.latency.operation_latency_ms}]}]);
        });
    }
    let wout = dir.path().join("windowed");
    let o = merge(&[&wa, &wb], &wout);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let w = stampede::report::json::load_summary(&wout).unwrap();
    assert!(w.results[0].windows.is_empty());
    assert_eq!(w.gates[0].reason, stampede::report::GateReason::NoWindows);
    assert!(!w.gates[0].passed);

    let out = dir.path().join("never");
    // Missing shard.
    refused(&merge(&[&a], &out), &out, "missing shard(s) 1/2");
    // Overlapping shards.
    let a2 = dir.path().join("a2");
    copy_run(&a, &a2);
    refused(&merge(&[&a, &a2], &out), &out, "overlapping");
    // Different seed.
    let bs = dir.path().join("bs");
    copy_run(&b, &bs);
    edit_summary(&bs, |v| v["origin"]["seed"] = 12.into());
    refused(&merge(&[&a, &bs], &out), &out, "seed");
    // Different scenario.
    let bn = dir.path().join("bn");
    copy_run(&b, &bn);
    edit_summary(&bn, |v| v["scenario"] = "other".into());
    refused(&merge(&[&a, &bn], &out), &out, "scenario");
    // Histogram settings.
    let bh = dir.path().join("bh");
    copy_run(&b, &bh);
    edit_summary(&bh, |v| {
        v["origin"]["histogram"]["significant_digits"] = 2.into()
    });
    refused(&merge(&[&a, &bh], &out), &out, "histogram settings");
    // Another schema version.
    let bv = dir.path().join("bv");
    copy_run(&b, &bv);
    edit_summary(&bv, |v| v["schema_version"] = 0.into());
    refused(&merge(&[&a, &bv], &out), &out, "schema_version");
    // Shards run with different overrides: refused, each named; merged with --force.
    let br = dir.path().join("br");
    copy_run(&b, &br);
    edit_summary(&br, |v| v["meta"]["overrides"]["rate"] = "600".into());
    refused(&merge(&[&a, &br], &out), &out, "--rate is 600 in");
    let forced = dir.path().join("forced");
    let mut args: Vec<&std::ffi::OsStr> = vec!["merge".as_ref(), a.as_os_str(), br.as_os_str()];
    args.extend(["--force".as_ref(), "--out".as_ref(), forced.as_os_str()]);
    let o = stampede().args(&args).run();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let notes = stampede::report::json::load_summary(&forced).unwrap().notes;
    assert!(
        notes
            .iter()
            .any(|n| n.contains("--force although --rate is 600")),
        "{notes:?}"
    );
    // A damaged per-second row far past the round's end: refused, not allocated.
    let bd = dir.path().join("bd");
    copy_run(&b, &bd);
    edit_summary(&bd, |v| {
        v["results"][0]["timeseries"][0]["t"] = 4_000_000_000u64.into()
    });
    refused(&merge(&[&a, &bd], &out), &out, "second 4000000000");
    // A fleet name that is a path: refused before any file is opened by it.
    let bp = dir.path().join("bp");
    copy_run(&b, &bp);
    edit_summary(&bp, |v| v["results"][0]["name"] = "../../escape".into());
    refused(&merge(&[&a, &bp], &out), &out, "fleet name");
    // Not a report folder.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    refused(
        &merge(&[&a, &empty], &out),
        &out,
        "not a stampede report folder",
    );
    // Truncated .hlog: file and line named.
    let bt = dir.path().join("bt");
    copy_run(&b, &bt);
    let step = bt.join(format!("compliant.{}.hlog", s.steps[0].name));
    let bytes = std::fs::read(&step).unwrap();
    let lines = bytes.iter().filter(|&&c| c == b'\n').count();
    std::fs::write(&step, &bytes[..bytes.len() - 5]).unwrap();
    refused(
        &merge(&[&a, &bt], &out),
        &out,
        &format!("{}:{lines}: truncated", step.display()),
    );
    // Corrupt .hlog line.
    let mut bad = bytes.clone();
    let n = bad.len();
    bad[n - 3] = b'*';
    std::fs::write(&step, &bad).unwrap();
    refused(
        &merge(&[&a, &bt], &out),
        &out,
        &format!("{}:{lines}:", step.display()),
    );
}
