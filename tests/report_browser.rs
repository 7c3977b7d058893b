//! report.html in a real browser: Debian's headless chromium loads the
//! sample report from disk, and the test checks what the browser built, not
//! just the text we wrote: the charts exist and are drawn, hostile strings
//! from the target stayed text, and the page logged no console error (which
//! includes any Content-Security-Policy violation, i.e. any attempted fetch).
//!
//! chromium is required: CI installs it with `apt-get install -y chromium`.

use stampede::report;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);

fn chromium() -> PathBuf {
    for candidate in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(candidate).is_file() {
            return PathBuf::from(candidate);
        }
    }
    panic!(
        "chromium is not installed, so report.html cannot be checked in a browser. \
         Install it with `apt-get install -y chromium` (CI does this in .ci/run)."
    );
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stampede-browser-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs headless chromium on `html` and returns (dumped DOM, stderr).
fn dump_dom(html: &Path, profile: &Path) -> (String, String) {
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    // Read both pipes on threads so a chatty stderr cannot block the browser.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).map(|_| s)
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).map(|_| s)
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {BROWSER_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let dom = out_t.join().unwrap().unwrap();
    let stderr = err_t.join().unwrap().unwrap();
    assert!(status.success(), "chromium failed ({status}):\n{stderr}");
    (dom, stderr)
}

fn count(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

/// The `<svg ...>...</svg>` elements of a serialized DOM.
fn svgs(dom: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = dom;
    while let Some(start) = rest.find("<svg") {
        let end = rest[start..].find("</svg>").expect("closed svg") + start + 6;
        out.push(&rest[start..end]);
        rest = &rest[end..];
    }
    out
}

#[test]
fn report_browser_renders_sample_safely() {
    let dir = temp_dir("sample");
    let html_path = dir.join("report.html");
    let html = report::html::render_html(&report::sample_report()).unwrap();
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
    let sample = report::sample_report();
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
        "one line per cohort in each other line chart"
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
    let page_logs: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(
        page_logs.is_empty(),
        "page logged to the console:\n{}",
        page_logs.join("\n")
    );

    std::fs::remove_dir_all(dir).unwrap();
}
