//! report.html in a real browser: Debian's headless chromium loads the
//! sample report from disk, and the test checks what the browser built, not
//! just the text we wrote: the charts exist and are drawn, hostile strings
//! from the target stayed text, and the page logged no console error (which
//! includes any Content-Security-Policy violation, i.e. any attempted fetch).
//!
//! chromium is required: CI installs it with `apt-get install -y chromium`.

use crate::common;
use common::browser::{count, dump_dom, page_logs, svgs, temp_dir};
use stampede::report;

#[test]
fn report_browser_renders_sample_safely() {
    let dir = temp_dir("sample");
    let html_path = dir.join("report.html");
    let html = report::html::render_html(&stampede::sample::sample_report()).unwrap();
    std::fs::write(&html_path, &html).unwrap();

    // No reference to the network in the file itself; the SVG namespace is
    // an identifier, not a fetch.
    let without_ns = html.replace("http://www.w3.org/2000/svg", "");
    assert!(
        !without_ns.contains("http://"),
        "report.html references http://"
    );
    assert!(
        !without_ns.contains("https://"),
        "report.html references https://"
    );
    assert!(
        !html.contains("<script"),
        "report.html has no scripts at all"
    );

    let profile = dir.join("profile");
    std::fs::create_dir_all(&profile).unwrap();
    let (dom, stderr) = dump_dom(&html_path, &profile);

    // The browser parsed a full page.
    assert!(dom.contains("id=\"verdict\""), "verdict missing from DOM");
    assert!(dom.contains("Healthiest: compliant"));

    // Charts: the expected number, each with something drawn.
    let charts = svgs(&dom);
    let sample = stampede::sample::sample_report();
    assert_eq!(
        charts.len(),
        report::html::chart_count(&sample),
        "number of <svg> charts"
    );
    for svg in &charts {
        let drawn = count(svg, "<polyline") + count(svg, "<rect class=\"bar\"");
        assert!(
            drawn > 0,
            "chart with nothing drawn: {}",
            &svg[..svg.len().min(300)]
        );
        assert!(!svg.contains("NaN"), "NaN coordinate in a chart");
    }
    let latency: Vec<&&str> = charts
        .iter()
        .filter(|s| s.contains(" latency per second: "))
        .collect();
    let lines: usize = charts.iter().map(|s| count(s, "<polyline")).sum();
    assert_eq!(
        lines,
        7 * 2 + latency.len() * 4,
        "one line per fleet in each other line chart"
    );

    // Latency over time: operation and attempt for each fleet, each with
    // p50/p90/p99/max lines across the round and the trigger shaded.
    assert_eq!(latency.len(), 2 * sample.results.len());
    for c in &sample.results {
        for kind in ["Operation", "Attempt"] {
            let title = format!("{kind} latency per second: {}", c.name);
            assert!(
                latency.iter().any(|s| s.contains(&title)),
                "{title} not in the DOM"
            );
        }
    }
    for svg in &latency {
        assert_eq!(count(svg, "<polyline"), 4, "p50, p90, p99 and max");
        for stat in ["p50", "p90", "p99", "max"] {
            assert!(
                svg.contains(&format!("<title>{stat}: peak ")),
                "{stat} line"
            );
        }
        assert!(svg.contains("class=\"band\""), "trigger shaded");
        // Each line spans the round: one point per second of the sample.
        let first = svg.find("<polyline").unwrap();
        let points = svg[first..].split("points=\"").nth(1).unwrap();
        let points = &points[..points.find('"').unwrap()];
        assert!(points.split(' ').count() >= 50, "{points}");
    }

    // Hostile target strings are text, not markup.
    assert!(
        dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "hostile outcome code shown as text"
    );
    assert!(
        dom.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "hostile step name shown as text"
    );
    assert!(
        dom.contains("&lt;b&gt;sharp&lt;/b&gt;"),
        "scenario description escaped"
    );
    assert!(
        !dom.contains("<script"),
        "a <script> element made it into the DOM"
    );
    assert!(
        !dom.contains("<img"),
        "an <img> element made it into the DOM"
    );
    assert!(!dom.contains("<b>sharp"), "scenario markup was interpreted");

    // No console output from the page (errors, CSP violations, uncaught exceptions).
    let page_logs = page_logs(&stderr);
    assert!(
        page_logs.is_empty(),
        "page logged to the console:\n{}",
        page_logs.join("\n")
    );

    std::fs::remove_dir_all(dir).unwrap();
}
