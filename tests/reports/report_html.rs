//! report.html without a browser: structure and escaping for the sample and
//! for the awkward reports a real run can produce (aborted, one fleet, no
//! ledger, no time series, zero operations, NaN rates, no fleets at all).

use stampede::report::{self, Report};

fn render(r: &Report) -> String {
    report::html::render_html(r).expect("renders")
}

fn assert_safe(html: &str) {
    assert!(!html.contains("<script"), "raw <script> in report.html");
    assert!(!html.contains("<img"), "raw <img> in report.html");
    assert!(!html.contains("NaN"), "NaN shown in report.html");
    let without_ns = html.replace("http://www.w3.org/2000/svg", "");
    assert!(!without_ns.contains("http://") && !without_ns.contains("https://"));
}

#[test]
fn report_html_sample_escapes_every_target_string() {
    // minijinja also escapes '/' (as &#x2f;); the SVG builder does not need to.
    let html = render(&stampede::sample::sample_report()).replace("&#x2f;", "/");
    assert_safe(&html);
    // 9 charts plus operation and attempt latency over time for each fleet.
    let r = stampede::sample::sample_report();
    assert_eq!(report::html::chart_count(&r), report::html::CHART_COUNT + 4);
    assert_eq!(html.matches("<svg").count(), report::html::chart_count(&r));
    assert!(html.contains("id=\"latency-over-time\""));
    assert!(html.contains("Operation latency per second: naive"));
    assert!(html.contains("Attempt latency per second: compliant"));
    // Outcome code in the table, the chart labels and the tooltips.
    assert!(
        html.matches("&lt;script&gt;alert(1)&lt;/script&gt;")
            .count()
            >= 4
    );
    // Step name and ledger key.
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(html.contains("requests.&lt;script&gt;alert(1)&lt;/script&gt;.404"));
    // Sections a reader relies on.
    for needle in [
        "id=\"verdict\"",
        "id=\"fleets\"",
        "id=\"steps\"",
        "id=\"gates\"",
        "3 of 5 failed",
        "held in 5 of 6 10s windows",
        "How to read this report",
        "duplicate bookings",
        "Operations in flight",
    ] {
        assert!(html.contains(needle), "missing {needle}");
    }
    assert!(
        !html.contains("id=\"status-banner\""),
        "completed runs have no banner"
    );
}

/// Bidi controls (embeddings, overrides, isolates, marks) from the target
/// are shown as `\u{XXXX}` text, never obeyed, in tables, charts and tooltips.
#[test]
fn report_html_shows_bidi_controls_from_the_target_as_text() {
    const BIDI: [char; 12] = [
        '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
        '\u{2068}', '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}',
    ];
    let mut r = stampede::sample::sample_report();
    let every: String = BIDI.iter().collect();
    // An outcome code (table, bar chart, tooltip), a step name, a fleet
    // name (legends), the stop reason and a note.
    r.results[0]
        .counts
        .outcomes
        .insert(format!("RLO\u{202E}gnp.exe{every}"), 7);
    r.results[0].steps[0].name = "step\u{2067}x\u{2069}".to_string();
    r.results[1].name = "naive\u{200F}".to_string();
    r.status = stampede::report::RunStatus::Aborted;
    r.stop_reason = Some("reason\u{202B}rtl".to_string());
    r.notes.push("note\u{061C}".to_string());
    let html = render(&r);
    assert_safe(&html);
    for c in BIDI {
        assert!(
            !html.contains(c),
            "U+{:04X} reached report.html unescaped",
            u32::from(c)
        );
    }
    assert!(html.contains("RLO\\u{202E}gnp.exe"));
    assert!(html.contains("step\\u{2067}x\\u{2069}"));
    assert!(html.contains("naive\\u{200F}"));
    assert!(html.contains("reason\\u{202B}rtl"));
    assert!(html.contains("note\\u{061C}"));
    let shown: String = BIDI
        .iter()
        .map(|c| format!("\\u{{{:04X}}}", u32::from(*c)))
        .collect();
    assert!(html.contains(&shown), "every control shown in order");
}

#[test]
fn report_html_shows_why_a_run_stopped() {
    let mut r = stampede::sample::sample_report();
    r.status = stampede::report::RunStatus::Aborted;
    r.stop_reason = Some("target <unreachable> for 10s".into());
    let html = render(&r).replace("&#x2f;", "/");
    assert!(html.contains("id=\"status-banner\">Run aborted: target &lt;unreachable&gt; for 10s"));
    assert!(html.contains("treat these numbers as partial"));
}

#[test]
fn report_html_survives_degenerate_reports() {
    // One fleet, no ledger, no series, no gates.
    let mut r = stampede::sample::sample_report();
    r.results.truncate(1);
    r.results[0].ledger = None;
    r.results[0].timeseries.clear();
    r.gates.clear();
    let html = render(&r);
    assert_safe(&html);
    assert!(html.contains("No per-second series were recorded."));
    assert!(html.contains("no ledger"));
    assert!(!html.contains("id=\"gates\""));
    assert_eq!(
        html.matches("<svg").count(),
        report::html::CHART_COUNT - 5 + 2
    );
    assert_eq!(html.matches("<svg").count(), report::html::chart_count(&r));
    // Without a latency series, a sentence instead of its charts.
    let mut bare = r.clone();
    bare.results[0].latency.latency_series.clear();
    let html = render(&bare);
    assert!(html.contains("No latency series was recorded."));
    assert_eq!(html.matches("<svg").count(), report::html::CHART_COUNT - 5);

    // Zero operations and non-finite numbers.
    let c = &mut r.results[0];
    c.counts.operations = 0;
    c.counts.attempts = 0;
    c.counts.amplification = f64::NAN;
    c.counts.success_rate = f64::NAN;
    c.latency.operation_spectrum.clear();
    c.latency.attempt_spectrum.clear();
    c.attempts_per_operation.clear();
    c.counts.outcomes.clear();
    let html = render(&r);
    assert_safe(&html);
    assert!(html.contains("no data"));
    assert!(html.contains("No fleet completed any operation"));

    // No fleets at all.
    r.results.clear();
    let html = render(&r);
    assert_safe(&html);
    assert!(html.contains("This run has no fleet results."));
    assert!(html.contains("No fleet ran"));
}

#[test]
fn report_html_console_and_html_share_the_verdict() {
    let r = stampede::sample::sample_report();
    let v = report::verdict::verdict(&r);
    assert!(report::console::summary_table(&r).contains(&v));
    let escaped = v
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    assert!(render(&r).replace("&#x2f;", "/").contains(&escaped));
}

#[test]
fn report_html_shows_recovery_and_shades_the_trigger() {
    let r = stampede::sample::sample_report();
    let html = render(&r);
    assert!(html.contains("time to recovery after the trigger (8 s–12 s)"));
    assert!(html.contains("<td>2 s</td><td class=\"bad\">did not recover</td>"));
    // One shaded band per per-second and latency-over-time chart (5 + 2
    // fleets x 2), none on the other charts.
    assert_eq!(html.matches("<g class=\"band\">").count(), 5 + 4);
    assert!(html.contains("compliant recovered 2 s after it ended; naive never did"));
    // Without a trigger: no row, no band.
    let mut r = stampede::sample::sample_report();
    r.trigger = None;
    let html = render(&r);
    assert!(!html.contains("time to recovery after the trigger ("));
    assert!(!html.contains("class=\"band\""));
}
