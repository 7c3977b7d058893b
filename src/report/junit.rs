//! JUnit XML for CI: one test case per gate, plus a failing `run completed`
//! case when the run did not complete.

use super::Report;
use crate::gate::describe_values;

/// Render the report's gates as JUnit XML.
pub fn render_junit(report: &Report) -> String {
    let suite = format!("stampede.{}", report.scenario);
    let mut cases = String::new();
    let mut tests = 0usize;
    let mut failures = 0usize;
    let mut case = |name: &str, failure: Option<(&str, String)>| {
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
                    escape(message),
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
        case("run completed", Some((&msg, msg.clone())));
    }
    for g in &report.gates {
        let failure = (!g.passed).then(|| (g.message.as_str(), describe_values(g)));
        case(&g.expr, failure);
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
    use crate::gate::evaluate_all;
    use crate::report::GateResult;

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
        crate::gate::eval_tests_report()
    }

    #[test]
    fn one_testcase_per_gate_with_failures() {
        let mut r = report();
        r.gates = evaluate_all(
            &[
                "compliant.operation_latency.p99 < 800ms".into(),
                "compliant.success_rate >= 0.97".into(),
                "remote.oversold == 0".into(),
                "nonsense here".into(),
            ],
            &r,
        );
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
        assert!(
            xml.contains(">measured 812.4ms, bound 800ms</failure>"),
            "{xml}"
        );
        assert!(xml.contains("name=\"compliant.success_rate &gt;= 0.97\" time=\"0\"/>"));
        assert!(xml.contains("embedded simulator"));
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
        assert_eq!(attr(&xml, "testsuite", "tests"), "0");
        assert!(parse_back(&xml).iter().all(|t| t != "testcase"));
    }

    #[test]
    fn hostile_names_are_escaped() {
        let mut r = report();
        r.scenario = "<script>alert('x')</script> & \"co\"".into();
        r.status = crate::report::RunStatus::Interrupted;
        r.stop_reason = Some("Ctrl-C <again> & \u{1}\nagain".into());
        r.gates = vec![GateResult {
            expr: "<script>.x > 0 && '1' == \"1\"".into(),
            passed: false,
            measured: Some(1.0),
            bound: 0.0,
            message: "</failure><testcase name=\"pwned\">".into(),
        }];
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
