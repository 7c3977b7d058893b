//! A merged report in a real browser: `scripts/shards-local.sh 4` runs a
//! short copy of the flagship ticket drop as 4 shard processes (the
//! Kubernetes Job's environment, one `--start-at`) against one
//! `stampede serve` on 127.0.0.1 started from the scenario's `[sim]` table,
//! and merges them; headless chromium then loads the merged report.html and
//! the test checks what it built: the merged note, both fleets, every chart
//! drawn (the latency-over-time charts too) and the shared target's ledger.
//!
//! chromium and bash are required (CI installs chromium).

use crate::common;
use common::TempDir;
use common::browser::{count, dump_dom, page_logs, svgs};

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The whole run (3 s to the common start, two fleets of a 1 s drop with
/// at most 4 s drain, the merge) takes ~10 s in a debug build.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// scenarios/ticket-drop.toml with 400 buyers over 1 s and a 4 s drain.
fn short_ticket_drop() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = std::fs::read_to_string(root.join("scenarios/ticket-drop.toml")).unwrap();
    let mut out = src.clone();
    for (from, to) in [
        ("users = 3000", "users = 400"),
        ("over = \"3s\"", "over = \"1s\""),
        ("drain = \"40s\"", "drain = \"4s\""),
    ] {
        assert!(
            out.contains(from),
            "ticket-drop.toml no longer has `{from}`"
        );
        out = out.replacen(from, to, 1);
    }
    out
}

/// Cells of the DOM table `id` row labelled `label` (numbers without commas).
fn table_row(dom: &str, id: &str, label: &str) -> Vec<String> {
    let start = dom
        .find(&format!("<table id=\"{id}\""))
        .unwrap_or_else(|| panic!("no table {id}"));
    let table = &dom[start..start + dom[start..].find("</table>").unwrap()];
    let row = table
        .split("<tr>")
        .find(|r| r.contains(&format!("<td class=\"text\">{label}</td>")))
        .unwrap_or_else(|| panic!("no row `{label}` in table {id}"));
    row.split("<td>")
        .skip(1)
        .map(|c| c[..c.find("</td>").unwrap()].replace(',', ""))
        .collect()
}

#[test]
fn four_local_shards_merge_into_one_report_a_browser_renders() {
    let dir = TempDir::new("merged-browser");
    let scenario = dir.path().join("ticket-drop-short.toml");
    std::fs::write(&scenario, short_ticket_drop()).unwrap();
    let out = dir.path().join("run");
    let mut child = Command::new("bash")
        .arg("scripts/shards-local.sh")
        .arg("4")
        .arg(&scenario)
        .arg(&out)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("STAMPEDE", crate::common::bin::BIN)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group: on a timeout the script, its shards and
        // its `stampede serve` are stopped together.
        .process_group(0)
        .spawn()
        .unwrap();
    let Some(status) = common::wait_exit(&mut child, RUN_TIMEOUT) else {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .status();
        let _ = child.wait();
        panic!("shards-local.sh did not finish within {RUN_TIMEOUT:?}");
    };
    let logs = || {
        (0..4)
            .map(|i| {
                std::fs::read_to_string(out.join(format!("shard-{i}.log"))).unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        status.code(),
        Some(0),
        "shards-local.sh failed:\n{}",
        logs()
    );

    let merged = out.join("merged");
    let m = stampede::report::json::load_summary(&merged).unwrap();
    assert_eq!(m.origin.merged_from.len(), 4);
    let fleets: Vec<&str> = m.results.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(fleets, ["compliant", "naive"]);
    for c in &m.results {
        assert_eq!(c.counts.journeys.started, 400, "{}", c.name);
        assert!(
            c.ledger.is_some(),
            "{}: no ledger; notes {:?}",
            c.name,
            m.notes
        );
    }

    let profile = dir.path().join("profile");
    std::fs::create_dir_all(&profile).unwrap();
    let (dom, stderr) = dump_dom(&merged.join("report.html"), &profile);

    // The page, the merge's note and the ledger's provenance.
    assert!(dom.contains("id=\"verdict\""), "verdict missing from DOM");
    assert!(
        dom.contains("merged from 4 shard(s): counters summed, histograms added bucket by bucket"),
        "merged note missing"
    );
    for fleet in &fleets {
        assert!(
            dom.contains(&format!("{fleet}: the ledger is shard ")),
            "{fleet}'s ledger note missing"
        );
    }

    // Every chart the merged report has, each with something drawn.
    let charts = svgs(&dom);
    assert_eq!(charts.len(), stampede::report::html::chart_count(&m));
    for svg in &charts {
        let drawn = count(svg, "<polyline") + count(svg, "<rect class=\"bar\"");
        assert!(drawn > 0, "empty chart: {}", &svg[..svg.len().min(300)]);
        assert!(!svg.contains("NaN"), "NaN coordinate in a chart");
    }
    // Latency over time: operation and attempt per fleet, 4 lines each, from
    // the merged per-interval histograms.
    for c in &m.results {
        assert!(
            !c.latency.latency_series.is_empty(),
            "{}: no latency series",
            c.name
        );
        let every = if c.latency.latency_interval_ms >= 1000 {
            "second".to_string()
        } else {
            format!("{} ms", c.latency.latency_interval_ms)
        };
        for kind in ["Operation", "Attempt"] {
            let title = format!("{kind} latency per {every}: {}", c.name);
            let svg = charts
                .iter()
                .find(|s| s.contains(&title))
                .unwrap_or_else(|| panic!("{title} not in the DOM"));
            assert_eq!(count(svg, "<polyline"), 4, "{title}: p50, p90, p99, max");
        }
    }

    // The ledger figures: the shared target's counts, one column per fleet.
    assert!(dom.contains("Simulator ledger (ground truth)"));
    let booked: Vec<String> = m
        .results
        .iter()
        .map(|c| c.ledger.as_ref().unwrap().bookings_created.to_string())
        .collect();
    assert_eq!(table_row(&dom, "ledger", "bookings created"), booked);
    assert!(
        m.results
            .iter()
            .all(|c| c.ledger.as_ref().unwrap().bookings_created > 0)
    );
    assert!(!dom.contains("no ledger"), "a fleet shows no ledger");

    let logs = page_logs(&stderr);
    assert!(
        logs.is_empty(),
        "page logged to the console:\n{}",
        logs.join("\n")
    );
}
