//! JUnit XML for CI: one test case per gate, plus a failing `run completed`
//! case when the run did not complete (a passing one when it completed and
//! had no gates: Jenkins' junit step fails a file with no test at all), and
//! a failing `target reachable` case when attempts were sent and none got
//! an HTTP answer. Built from the [`GateResult`] fields
//! only (never from its human `message`), so rewording a message cannot
//! change what CI sees.

use super::{GateResult, Report};

/// Render the report's gates as JUnit XML.
pub fn render_junit(report: &Report) -> String {
    let suite = format!("stampede.{}", report.scenario);
    let mut cases = String::new();
    let mut tests = 0usize;
    let mut failures = 0usize;
    let mut case = |name: &str, failure: Option<(String, String)>| {
        tests += 1;
        cases.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}\" time=\"0\"",
            escape(&suite),
            escape(name)
        ));
        match failure {
            None => cases.push_str("/>\n"),
            Some((message, body)) => {
                failures += 1;
                cases.push_str(&format!(
                    ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                    escape(&message),
                    "gate",
                    escape(&body)
                ));
            }
        }
    };
    if report.status != super::RunStatus::Completed {
        let reason = report
            .stop_reason
            .as_deref()
            .unwrap_or("no reason recorded");
        let msg = format!("run {}: {reason}", report.status);
        case("run completed", Some((msg.clone(), msg)));
    } else if report.gates.is_empty() {
        case("run completed", None);
    }
    if let Some(why) = report.unreachable() {
        case("target reachable", Some((why.clone(), why)));
    }
    for g in &report.gates {
        case(&g.expr, (!g.passed).then(|| (g.line(), failure_body(g))));
    }
    let time = if report.duration_s.is_finite() && report.duration_s >= 0.0 {
        report.duration_s
    } else {
        0.0
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <testsuites name=\"stampede\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{time:.3}\">\n  \
         <testsuite name=\"{name}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{time:.3}\" timestamp=\"{ts}\">\n\
         {cases}  </testsuite>\n\
         </testsuites>\n",
        name = escape(&suite),
        ts = escape(&report.started_at),
    )
}

/// `measured 812.4ms, bound 800ms`, or `not measured (no_samples): no
/// attempt_latency samples, bound 1s`.
fn failure_body(g: &GateResult) -> String {
    match (g.measured_text(), &g.detail) {
        (Some(_), _) => g.values(),
        (None, Some(why)) => format!(
            "not measured ({}): {why}, bound {}",
            g.reason.label(),
            g.bound_text()
        ),
        (None, None) => g.values(),
    }
}

/// Escape text for XML content and attribute values. Characters XML 1.0
/// cannot carry at all (most C0 controls) become U+FFFD; line breaks and
/// tabs become character references so attribute values keep them.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::GateReason;

    /// A rough XML check: every tag balanced and nothing unescaped in text.
    /// Returns the element names in document order.
    fn parse_back(xml: &str) -> Vec<String> {
        let body = xml
            .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
            .expect("XML declaration");
        let mut stack: Vec<String> = Vec::new();
        let mut opened = Vec::new();
        let mut rest = body;
        while let Some(lt) = rest.find('<') {
            let text = &rest[..lt];
            assert!(!text.contains('>'), "unescaped > in text: {text:?}");
            check_entities(text);
            let gt = rest[lt..].find('>').expect("unterminated tag") + lt;
            let tag = &rest[lt + 1..gt];
            assert!(!tag.contains('<'), "< inside a tag: {tag:?}");
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop().as_deref(), Some(name), "unbalanced </{name}>");
            } else {
                let self_closing = tag.ends_with('/');
                let tag = tag.trim_end_matches('/');
                let (name, attrs) = tag.split_once(' ').unwrap_or((tag, ""));
                check_attrs(attrs);
                opened.push(name.to_string());
                if !self_closing {
                    stack.push(name.to_string());
                }
            }
            rest = &rest[gt + 1..];
        }
        assert!(rest.trim().is_empty());
        assert!(stack.is_empty(), "unclosed: {stack:?}");
        opened
    }

    fn check_entities(s: &str) {
        for (i, _) in s.match_indices('&') {
            let ent = &s[i..s[i..].find(';').map_or(s.len(), |j| i + j + 1)];
            assert!(
                [
                    "&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#10;", "&#13;", "&#9;"
                ]
                .contains(&ent),
                "bad entity {ent:?}"
            );
        }
    }

    /// `name="value"` pairs, values free of raw `"` and `<`.
    fn check_attrs(attrs: &str) {
        let mut rest = attrs.trim();
        while !rest.is_empty() {
            let eq = rest.find("=\"").expect("attribute without =\"");
            let name = &rest[..eq];
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "attribute name {name:?}"
            );
            let v_end = rest[eq + 2..].find('"').expect("unterminated value") + eq + 2;
            let value = &rest[eq + 2..v_end];
            check_entities(value);
            rest = rest[v_end + 1..].trim_start();
        }
    }

    fn attr<'a>(xml: &'a str, tag: &str, name: &str) -> &'a str {
        let start = xml.find(&format!("<{tag} ")).expect(tag);
        let key = format!(" {name}=\"");
        let i = xml[start..].find(&key).expect(name) + start + key.len();
        &xml[i..i + xml[i..].find('"').unwrap()]
    }

    fn report() -> Report {
        let mut r = crate::sample::sample_report();
        r.duration_s = 12.5;
        r.gates.clear();
        r
    }

    /// A result as the evaluator makes one; `measured` is (number, written).
    fn result(
        expr: &str,
        metric: &str,
        op: &str,
        (bound, bound_written, unit): (f64, &str, &str),
        measured: Option<(f64, &str)>,
        reason: GateReason,
        detail: Option<&str>,
    ) -> GateResult {
        let passed = reason == GateReason::Passed;
        GateResult {
            expr: expr.into(),
            passed,
            measured: measured.map(|m| m.0),
            bound,
            message: format!("{expr}: a message — {passed}"),
            metric: metric.into(),
            op: op.into(),
            unit: unit.into(),
            bound_written: bound_written.into(),
            measured_written: measured.map(|m| m.1.into()),
            reason,
            detail: detail.map(String::from),
            baseline: None,
            window: None,
        }
    }

    const LEDGER_WHY: &str =
        "`oversold` needs the embedded simulator's ledger, and fleet `remote` has none";

    fn four_gates() -> Vec<GateResult> {
        vec![
            result(
                "compliant.operation_latency.p99 < 800ms",
                "compliant.operation_latency.p99",
                "<",
                (800.0, "800ms", "ms"),
                Some((812.4, "812.4ms")),
                GateReason::Failed,
                None,
            ),
            result(
                "compliant.success_rate >= 0.97",
                "compliant.success_rate",
                ">=",
                (0.97, "0.97", ""),
                Some((0.975, "0.975")),
                GateReason::Passed,
                None,
            ),
            result(
                "remote.oversold == 0",
                "remote.oversold",
                "==",
                (0.0, "0", ""),
                None,
                GateReason::LedgerUnavailable,
                Some(LEDGER_WHY),
            ),
            result(
                "idle.attempt_latency.p99 < 1s",
                "idle.attempt_latency.p99",
                "<",
                (1.0, "1s", "s"),
                None,
                GateReason::NoSamples,
                Some("no attempt_latency samples"),
            ),
        ]
    }

    #[test]
    fn one_testcase_per_gate_with_failures() {
        let mut r = report();
        r.gates = four_gates();
        let xml = render_junit(&r);
        let tags = parse_back(&xml);
        assert_eq!(tags.iter().filter(|t| *t == "testsuites").count(), 1);
        assert_eq!(tags.iter().filter(|t| *t == "testsuite").count(), 1);
        assert_eq!(tags.iter().filter(|t| *t == "testcase").count(), 4);
        assert_eq!(tags.iter().filter(|t| *t == "failure").count(), 3);
        assert_eq!(attr(&xml, "testsuite", "name"), "stampede.ticket-drop");
        assert_eq!(attr(&xml, "testsuite", "tests"), "4");
        assert_eq!(attr(&xml, "testsuite", "failures"), "3");
        assert_eq!(attr(&xml, "testsuite", "time"), "12.500");
        assert_eq!(attr(&xml, "testsuites", "failures"), "3");
        assert_eq!(attr(&xml, "testcase", "classname"), "stampede.ticket-drop");
        assert_eq!(
            attr(&xml, "testcase", "name"),
            "compliant.operation_latency.p99 &lt; 800ms"
        );
        assert_eq!(
            attr(&xml, "failure", "message"),
            "compliant.operation_latency.p99 &lt; 800ms: measured 812.4ms, bound 800ms — FAILED"
        );
        assert!(
            xml.contains(">measured 812.4ms, bound 800ms</failure>"),
            "{xml}"
        );
        assert!(xml.contains("name=\"compliant.success_rate &gt;= 0.97\" time=\"0\"/>"));
        assert!(
            xml.contains(
                ">not measured (ledger_unavailable): `oversold` needs the embedded simulator&apos;s ledger, and fleet `remote` has none, bound 0</failure>"
            ),
            "{xml}"
        );
        assert!(
            xml.contains(
                ">not measured (no_samples): no attempt_latency samples, bound 1s</failure>"
            ),
            "{xml}"
        );
    }

    #[test]
    fn junit_ignores_the_message_wording() {
        let mut r = report();
        r.gates = four_gates();
        let before = render_junit(&r);
        for g in &mut r.gates {
            g.message = format!("reworded entirely: {} — FAILED — passed", g.message.len());
        }
        assert_eq!(render_junit(&r), before, "JUnit must not read `message`");
        // ... while the data it is built from does show.
        r.gates[0].measured_written = Some("900ms".into());
        r.gates[2].reason = GateReason::UnknownFleet;
        let after = render_junit(&r);
        assert!(
            after.contains(">measured 900ms, bound 800ms</failure>"),
            "{after}"
        );
        assert!(after.contains("not measured (unknown_fleet)"), "{after}");
    }

    #[test]
    fn a_result_from_an_older_summary_renders_from_its_numbers() {
        let old = r#"{"expr":"compliant.amplification <= 1.3","passed":false,
            "measured":1.5,"bound":1.3,"message":"old wording — FAILED"}"#;
        let g: GateResult = serde_json::from_str(old).expect("old results still load");
        assert_eq!(g.reason, GateReason::Unrecorded);
        assert_eq!((g.metric.as_str(), g.measured_written.as_ref()), ("", None));
        let mut r = report();
        r.gates = vec![g];
        let xml = render_junit(&r);
        assert!(xml.contains(">measured 1.5, bound 1.3</failure>"), "{xml}");
        assert!(!xml.contains("old wording"), "{xml}");
    }

    #[test]
    fn incomplete_run_adds_a_failing_case() {
        let mut r = report();
        r.status = crate::report::RunStatus::Aborted;
        r.stop_reason = Some("target unreachable: connection refused".into());
        let xml = render_junit(&r);
        let tags = parse_back(&xml);
        assert_eq!(tags.iter().filter(|t| *t == "testcase").count(), 1);
        assert_eq!(tags.iter().filter(|t| *t == "failure").count(), 1);
        assert_eq!(attr(&xml, "testcase", "name"), "run completed");
        assert_eq!(
            attr(&xml, "failure", "message"),
            "run aborted: target unreachable: connection refused"
        );
        assert_eq!(attr(&xml, "testsuite", "failures"), "1");

        r.status = crate::report::RunStatus::Completed;
        let xml = render_junit(&r);
        assert_eq!(
            attr(&xml, "testsuite", "tests"),
            "1",
            "never an empty suite"
        );
        assert_eq!(attr(&xml, "testsuite", "failures"), "0");
        assert_eq!(attr(&xml, "testcase", "name"), "run completed");
    }

    #[test]
    fn a_target_that_never_answered_fails_its_own_case() {
        let mut r = report();
        r.gates.clear();
        let dead = |r: &mut Report| {
            for c in &mut r.results {
                c.counts.attempts = 10;
                for s in &mut c.steps {
                    s.attempt_latency_by_class_ms
                        .retain(|k, _| k == "network" || k == "timeout");
                    s.attempt_latency_by_class_ms.insert(
                        "network".into(),
                        crate::report::Percentiles {
                            count: 10,
                            ..Default::default()
                        },
                    );
                }
            }
        };
        dead(&mut r);
        let xml = render_junit(&r);
        assert!(xml.contains("name=\"target reachable\""), "{xml}");
        assert_eq!(attr(&xml, "testsuite", "failures"), "1", "{xml}");
        // One answer of any status is reachable.
        r.results[0].steps[0].attempt_latency_by_class_ms.insert(
            "4xx".into(),
            crate::report::Percentiles {
                count: 1,
                ..Default::default()
            },
        );
        assert!(!render_junit(&r).contains("target reachable"));
    }

    #[test]
    fn hostile_names_are_escaped() {
        let mut r = report();
        r.scenario = "<script>alert('x')</script> & \"co\"".into();
        r.status = crate::report::RunStatus::Interrupted;
        r.stop_reason = Some("Ctrl-C <again> & \u{1}\nagain".into());
        r.gates = vec![result(
            "<script>.x > 0 && '1' == \"1\"",
            "<script>.x",
            ">",
            (0.0, "0", ""),
            None,
            GateReason::NoSamples,
            Some("</failure><testcase name=\"pwned\">"),
        )];
        let xml = render_junit(&r);
        let tags = parse_back(&xml);
        assert!(!tags.iter().any(|t| t == "script"), "{tags:?}");
        assert_eq!(tags.iter().filter(|t| *t == "testcase").count(), 2);
        assert_eq!(tags.iter().filter(|t| *t == "failure").count(), 2);
        assert!(!xml.contains("<script"));
        assert!(!xml.contains('\u{1}'));
        assert!(
            xml.contains("&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt; &amp; &quot;co&quot;")
        );
        assert!(xml.contains("&lt;/failure&gt;&lt;testcase name=&quot;pwned&quot;&gt;"));
    }

    #[test]
    fn escaper() {
        assert_eq!(escape("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&quot;e&apos;f");
        assert_eq!(escape("x\ny\u{0}"), "x&#10;y\u{FFFD}");
        assert_eq!(escape("µs — ok"), "µs — ok");
    }
}
