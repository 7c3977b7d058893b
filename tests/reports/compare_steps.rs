//! `stampede compare` per journey step, through the binary: two report
//! folders whose steps differ get a row per step metric on the console, in
//! compare.json and in compare.html, judged like the headline rows (a fixed
//! threshold for single runs, the run-to-run spread for `--repeat`
//! folders) and counted by the same exit rule. compare.html is then loaded
//! by headless chromium next to report.html: both are styled by the one
//! shared stylesheet (computed styles read in the browser) and the step
//! sections are in the DOM.
//!
//! chromium is required: CI installs it with `apt-get install -y chromium`.

use crate::common;
use crate::common::stampede;
use common::browser::{chromium, page_logs, temp_dir};

use serde_json::Value;
use stampede::report::{self, Report};
use std::path::Path;
use std::process::{Command, Stdio};

fn write(dir: &Path, r: &Report) {
    std::fs::create_dir_all(dir).unwrap();
    report::json::write_summary(r, dir).unwrap();
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn step_rows<'a>(c: &'a Value, fleet: usize, step: &str) -> &'a Vec<Value> {
    c["fleets"][fleet]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == step)
        .unwrap_or_else(|| panic!("no step {step}"))["rows"]
        .as_array()
        .unwrap()
}

fn metric<'a>(rows: &'a [Value], name: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["metric"] == name)
        .unwrap_or_else(|| panic!("no row {name}"))
}

/// The sample report with its first fleet's first step slower (OK p99
/// tripled) and its second fleet's first step less successful; the
/// headline numbers are left alone.
fn changed_steps() -> (Report, Report, String, String) {
    let base = stampede::sample::sample_report();
    let mut new = base.clone();
    let s0 = &mut new.results[0].steps[0];
    s0.ok_operation_latency_ms.p99 = s0.ok_operation_latency_ms.p99 * 3.0 + 50.0;
    let s1 = &mut new.results[1].steps[0];
    s1.success_rate = (s1.success_rate - 0.2).max(0.0);
    let (a, b) = (
        base.results[0].steps[0].name.clone(),
        base.results[1].steps[0].name.clone(),
    );
    (base, new, a, b)
}

#[test]
fn compare_shows_a_row_per_step_metric_with_its_judgement_and_exit_rule() {
    let root = temp_dir("cmp-steps");
    let (base, new, slow_step, failing_step) = changed_steps();
    let (a, b, out) = (root.join("a"), root.join("b"), root.join("cmp"));
    write(&a, &base);
    write(&b, &new);
    let o = crate::common::bin::compare(&a, &b, &out).run();
    let text = String::from_utf8_lossy(&o.stdout);
    // Single runs: flagged, but only --fail-on-worse fails.
    assert_eq!(o.status.code(), Some(0), "{text}");
    let c = json(&out.join("compare.json"));
    for (i, fleet) in base.results.iter().enumerate() {
        let names: Vec<&str> = c["fleets"][i]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["step"].as_str().unwrap())
            .collect();
        let want: Vec<&str> = fleet.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, want);
    }
    // The headline rows did not move; the step rows did.
    for f in c["fleets"].as_array().unwrap() {
        for r in f["rows"].as_array().unwrap() {
            assert_ne!(r["verdict"], "worse", "{r}");
        }
    }
    let rows = step_rows(&c, 0, &slow_step);
    let p99 = metric(rows, "operation_latency.p99");
    assert_eq!(p99["verdict"], "worse");
    assert_eq!(
        p99["base"].as_f64().unwrap(),
        base.results[0].steps[0].ok_operation_latency_ms.p99
    );
    assert_eq!(
        p99["new"].as_f64().unwrap(),
        new.results[0].steps[0].ok_operation_latency_ms.p99
    );
    assert_eq!(metric(rows, "operation_latency.p50")["verdict"], "same");
    let sr = metric(step_rows(&c, 1, &failing_step), "success_rate");
    assert_eq!(sr["verdict"], "worse", "{sr}");
    assert_eq!(c["worse"], 2, "{text}");

    // On the console, under the fleet, each step's rows.
    let fleet0 = &base.results[0].name;
    let block: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with(fleet0.as_str()))
        .skip_while(|l| *l != format!("  step {slow_step}"))
        .take(1 + 7)
        .collect();
    assert_eq!(block.len(), 8, "{text}");
    let line = block
        .iter()
        .find(|l| l.trim_start().starts_with("operation_latency.p99"))
        .unwrap();
    assert!(line.contains("WORSE"), "{line}");
    assert!(text.contains("2 metric(s) worse beyond the noise threshold"));

    let o = stampede()
        .args([
            "compare",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--fail-on-worse",
        ])
        .run();
    assert_eq!(o.status.code(), Some(1), "a worse step row fails");
    let o = stampede()
        .args([
            "compare",
            a.to_str().unwrap(),
            a.to_str().unwrap(),
            "--fail-on-worse",
        ])
        .run();
    assert_eq!(o.status.code(), Some(0));

    browser_check(&root, &base, &out.join("compare.html"), &c);
    let _ = std::fs::remove_dir_all(&root);
}

/// `runs` written as a `--repeat` folder: run-N/summary.json and repeat.json.
fn repeat_folder(dir: &Path, runs: &[Report]) {
    let dirs: Vec<String> = (1..=runs.len()).map(|i| format!("run-{i}")).collect();
    for (r, d) in runs.iter().zip(&dirs) {
        write(&dir.join(d), r);
    }
    let s = stampede::compare::spread::spread(runs, dirs);
    std::fs::write(
        dir.join(stampede::compare::REPEAT_FILE),
        serde_json::to_string(&s).unwrap(),
    )
    .unwrap();
}

/// Three runs whose first step's OK p50 is `scale` times the sample's,
/// each a little apart.
fn runs(scale: f64) -> Vec<Report> {
    [1.0, 1.01, 0.99]
        .iter()
        .map(|j| {
            let mut r = stampede::sample::sample_report();
            r.results[0].steps[0].ok_operation_latency_ms.p50 *= scale * j;
            r
        })
        .collect()
}

#[test]
fn repeated_folders_judge_step_rows_by_their_spread() {
    let root = temp_dir("cmp-steps-repeat");
    let (base, same, slow) = (root.join("base"), root.join("same"), root.join("slow"));
    repeat_folder(&base, &runs(1.0));
    repeat_folder(&same, &runs(1.0));
    repeat_folder(&slow, &runs(4.0));
    let step = stampede::sample::sample_report().results[0].steps[0]
        .name
        .clone();

    let out = root.join("cmp-same");
    let o = crate::common::bin::compare(&base, &same, &out).run();
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{text}");
    let c = json(&out.join("compare.json"));
    let p50 = metric(step_rows(&c, 0, &step), "operation_latency.p50");
    assert_eq!(p50["verdict"], "same");
    assert!(p50["intervals"].is_array(), "{p50}");
    assert!(text.contains("within noise"), "{text}");

    let out = root.join("cmp-slow");
    let o = crate::common::bin::compare(&base, &slow, &out).run();
    let text = String::from_utf8_lossy(&o.stdout);
    // Beyond the spread on a step row alone: the repeat rule fails.
    assert_eq!(o.status.code(), Some(1), "{text}");
    let c = json(&out.join("compare.json"));
    let p50 = metric(step_rows(&c, 0, &step), "operation_latency.p50");
    assert_eq!(p50["verdict"], "worse", "{p50}");
    assert_eq!(c["worse"], 1, "{text}");
    assert!(text.contains("medians of 3 and 3 runs; 1 metric(s) worse"));
    let _ = std::fs::remove_dir_all(&root);
}

/// Loads report.html and compare.html side by side in frames of a probe
/// page (its script reads computed styles; neither page is changed) and
/// returns what it wrote.
fn computed(dir: &Path) -> Value {
    let probe = dir.join("probe.html");
    std::fs::write(&probe, PROBE).unwrap();
    let profile = dir.join("profile");
    std::fs::create_dir_all(&profile).unwrap();
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--allow-file-access-from-files",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", probe.display()))
        .stdin(Stdio::null())
        .output()
        .expect("chromium starts");
    let dom = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(page_logs(&stderr).is_empty(), "{stderr}");
    let start = dom.find("<pre id=\"out\">").expect("probe output") + 14;
    let end = start + dom[start..].find("</pre>").unwrap();
    let text = dom[start..end]
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

const PROBE: &str = r#"<!DOCTYPE html><html><body><pre id="out">pending</pre>
<iframe id="report" src="report.html"></iframe><iframe id="compare" src="cmp/compare.html"></iframe>
<script>
function styles(d) {
  var pick = function (sel, prop) { var e = d.querySelector(sel); return e ? getComputedStyle(e)[prop] : null; };
  return {
    body_font: pick('body', 'fontFamily'), body_bg: pick('body', 'backgroundColor'),
    main_width: pick('main', 'maxWidth'), h2_border: pick('h2', 'borderBottomStyle'),
    table_collapse: pick('table', 'borderCollapse'), head_bg: pick('thead th', 'backgroundColor'),
    section_bg: pick('tr.section th', 'backgroundColor'), bad: pick('td.bad', 'color'),
    worse_bg: pick('tr.worse td', 'backgroundColor'),
    sections: Array.prototype.map.call(d.querySelectorAll('table.compare tr.section th'), function (e) { return e.textContent; })
  };
}
window.addEventListener('load', function () {
  document.getElementById('out').textContent = JSON.stringify({
    report: styles(document.getElementById('report').contentDocument),
    compare: styles(document.getElementById('compare').contentDocument)
  });
});
</script></body></html>"#;

fn browser_check(root: &Path, base: &Report, compare_html: &Path, c: &Value) {
    assert!(compare_html.is_file());
    std::fs::write(
        root.join("report.html"),
        report::html::render_html(base).unwrap(),
    )
    .unwrap();
    let got = computed(root);
    let (r, p) = (&got["report"], &got["compare"]);
    // One stylesheet: the same computed styles on both pages.
    for k in [
        "body_font",
        "body_bg",
        "main_width",
        "h2_border",
        "table_collapse",
        "head_bg",
        "section_bg",
        "bad",
    ] {
        assert!(
            !p[k].is_null(),
            "compare.html has no element for {k}: {got}"
        );
        assert_eq!(r[k], p[k], "{k}: {got}");
    }
    assert_eq!(p["main_width"], "1240px");
    assert_eq!(p["bad"], "rgb(179, 38, 30)");
    assert_eq!(p["worse_bg"], "rgb(253, 236, 234)", "{got}");
    // A "Headline" section per fleet, then one per step, as the browser
    // built them (the sample's hostile step name is text in its cell).
    let mut want = Vec::new();
    for (i, f) in base.results.iter().enumerate() {
        assert_eq!(c["fleets"][i]["fleet"], f.name.as_str());
        want.push("Headline".to_string());
        want.extend(f.steps.iter().map(|s| format!("step {}", s.name)));
    }
    let sections: Vec<String> = p["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    assert_eq!(sections, want);
}
