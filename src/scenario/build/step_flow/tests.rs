//! The step keys of a journey: built from a scenario, and every misuse an
//! error at its `file:line:col` and key.

use super::super::testing::*;
use crate::scenario::{CheckExpect, Pause, Phase, PollInterval};
use std::time::Duration;

/// A journey of `steps` (TOML `[[journey.steps]]` bodies, in order).
fn journey(steps: &[&str]) -> String {
    let mut s = format!("{OK_LOAD}\n[journey]\n");
    for st in steps {
        s.push_str("[[journey.steps]]\n");
        s.push_str(st);
        s.push('\n');
    }
    s
}

/// The line of the first line of `src` that starts with `needle`.
fn line_of(src: &str, needle: &str) -> usize {
    src.lines()
        .position(|l| l.starts_with(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{needle} not in {src}"))
}

#[test]
fn a_polling_wait_step_and_its_defaults() {
    let p = plan(&journey(&[
        "name = \"w\"\npath = \"/q\"\nuntil = { pointer = \"/is_ready\", equals = true }",
    ]));
    let w = p.journey.steps[0].wait.as_ref().expect("a wait step");
    assert_eq!(
        w.until.expect,
        CheckExpect::Equals(serde_json::Value::Bool(true))
    );
    assert_eq!(
        w.interval,
        PollInterval::Fixed(super::DEFAULT_POLL_INTERVAL)
    );
    assert_eq!(w.max_wait, super::DEFAULT_MAX_WAIT);
    assert_eq!(w.timeout_outcome, "WAIT_TIMEOUT");
    assert!(w.sse.is_none() && p.journey.steps[0].json);
    // A wait step is not among the default amplification steps.
    let p = plan(&journey(&[
        "name = \"w\"\npath = \"/q\"\nuntil = { pointer = \"/ok\", exists = true }",
        "name = \"buy\"\nmethod = \"POST\"\npath = \"/b\"",
    ]));
    assert_eq!(p.journey.amplification_steps, vec![1]);
}

#[test]
fn poll_intervals_from_the_answer() {
    let p = plan(&journey(&[
        "name = \"w\"\npath = \"/q\"\nuntil = { pointer = \"/r\", equals = true }\npoll_interval = { from = \"/estimated_wait_seconds\", min = \"2s\", max = \"10s\" }",
    ]));
    let w = p.journey.steps[0].wait.clone().unwrap();
    let body = |s: f64| serde_json::json!({ "estimated_wait_seconds": s });
    assert_eq!(w.interval.next(&body(5.0), None), Duration::from_secs(5));
    assert_eq!(w.interval.next(&body(90.0), None), Duration::from_secs(10));
    assert_eq!(w.interval.next(&body(0.5), None), Duration::from_secs(2));
    assert_eq!(
        w.interval.next(&serde_json::json!({}), None),
        Duration::from_secs(3)
    );
    let p = plan(&journey(&[
        "name = \"w\"\npath = \"/q\"\nuntil = { pointer = \"/r\", equals = true }\npoll_interval = { from = \"retry-after\", default = \"4s\" }",
    ]));
    let w = p.journey.steps[0].wait.clone().unwrap();
    let none = serde_json::json!({});
    assert_eq!(
        w.interval.next(&none, Some(Duration::from_secs(7))),
        Duration::from_secs(7)
    );
    assert_eq!(w.interval.next(&none, None), Duration::from_secs(4));
}

#[test]
fn every_new_step_key_has_a_located_error() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "until = { pointer = \"x\", equals = 1 }",
            "until",
            "journey.steps[0].until",
        ),
        (
            "until = { pointer = \"/x\" }",
            "until",
            "journey.steps[0].until",
        ),
        (
            "poll_interval = \"1s\"",
            "poll_interval",
            "journey.steps[0].poll_interval",
        ),
        (
            "until = { pointer = \"/x\", exists = true }\npoll_interval = \"0s\"",
            "poll_interval",
            "journey.steps[0].poll_interval",
        ),
        (
            "until = { pointer = \"/x\", exists = true }\npoll_interval = { from = \"soon\" }",
            "poll_interval",
            "journey.steps[0].poll_interval.from",
        ),
        (
            "until = { pointer = \"/x\", exists = true }\npoll_interval = { from = \"/s\", min = \"5s\", max = \"1s\" }",
            "poll_interval",
            "journey.steps[0].poll_interval.min",
        ),
        (
            "until = { pointer = \"/x\", exists = true }\nmax_wait = \"0s\"",
            "max_wait",
            "journey.steps[0].max_wait",
        ),
        (
            "until = { pointer = \"/x\", exists = true }\ntimeout_outcome = \"late!\"",
            "timeout_outcome",
            "journey.steps[0].timeout_outcome",
        ),
        (
            "until = { pointer = \"/x\", exists = true }\ntimeout_outcome = \"GAVE_UP\"",
            "timeout_outcome",
            "journey.steps[0].timeout_outcome",
        ),
        (
            "until = { pointer = \"/x\", exists = true }\nsse = { until = { pointer = \"/p\", exists = true } }",
            "until",
            "journey.steps[0].until",
        ),
        (
            "sse = { until = { pointer = \"/p\", exists = true }, error_pointer = \"e\" }",
            "sse",
            "journey.steps[0].sse.error_pointer",
        ),
        (
            "think_time = { min = \"3s\", max = \"1s\" }",
            "think_time",
            "journey.steps[0].think_time.min",
        ),
        (
            "think_time_after = { median = \"1s\" }",
            "think_time_after",
            "journey.steps[0].think_time_after.median",
        ),
        (
            "think_time_after = 5",
            "think_time_after",
            "journey.steps[0].think_time_after",
        ),
        ("phase = \"later\"", "phase", "journey.steps[0].phase"),
        (
            "when = { var = \"nope\", equals = \"x\" }",
            "when",
            "journey.steps[0].when",
        ),
        ("share = 1.5", "share", "journey.steps[0].share"),
        ("group = \"g\"", "group", "journey.steps[0].group"),
        ("timeout = \"0s\"", "timeout", "journey.steps[0].timeout"),
        (
            "refresh_on = []",
            "refresh_on",
            "journey.steps[0].refresh_on",
        ),
        (
            "refresh_on = [\"HTTP_9999\"]",
            "refresh_on",
            "journey.steps[0].refresh_on[0]",
        ),
    ];
    for (extra, at, want) in cases {
        let src = journey(&[&format!("name = \"s\"\npath = \"/x\"\n{extra}")]);
        let (line, _, key, msg) = invalid(&src);
        assert_eq!(key, *want, "{extra}: {msg}");
        assert_eq!(line, line_of(&src, at), "{extra}: {msg}");
    }
}

#[test]
fn target_dialect_keys() {
    let p = plan(&format!(
        "[target]\nerror_code = [\"/code\"]\nidempotency_header = \"X-Idempotency-Key\"\n{OK_LOAD}"
    ));
    assert_eq!(p.target.error_code, vec!["/code"]);
    assert_eq!(p.target.idempotency_header.as_str(), "x-idempotency-key");
    let d = plan(OK_LOAD);
    assert_eq!(d.target.error_code, vec!["/error/code", "/code"]);
    assert_eq!(d.target.idempotency_header.as_str(), "idempotency-key");
    for (t, key) in [
        ("error_code = []", "target.error_code"),
        ("error_code = [\"/a\", \"b\"]", "target.error_code[1]"),
        (
            "idempotency_header = \"bad header\"",
            "target.idempotency_header",
        ),
    ] {
        let (line, _, k, msg) = invalid(&format!("[target]\n{t}\n{OK_LOAD}"));
        assert_eq!((line, k.as_str()), (2, key), "{msg}");
    }
}

#[test]
fn phases_explicit_and_inferred() {
    // Inferred: steps before the first that uses ${zone} are journey steps.
    let p = plan(&journey(&[
        "name = \"login\"\npath = \"/l\"",
        "name = \"reserve\"\npath = \"/r/${zone}\"",
        "name = \"confirm\"\npath = \"/c\"",
    ]));
    assert_eq!(p.journey.zone_start, 1);
    let phases: Vec<Phase> = p.journey.steps.iter().map(|s| s.phase).collect();
    assert_eq!(phases, [Phase::Journey, Phase::Zone, Phase::Zone]);
    // No ${zone} anywhere: every step runs again per zone, as before.
    let p = plan(&journey(&[
        "name = \"a\"\npath = \"/a\"",
        "name = \"b\"\npath = \"/b\"",
    ]));
    assert_eq!(p.journey.zone_start, 0);
    // Explicit; an unmarked step follows the one before it.
    let p = plan(&journey(&[
        "name = \"a\"\npath = \"/a\"\nphase = \"journey\"",
        "name = \"b\"\npath = \"/b\"",
        "name = \"c\"\npath = \"/c\"\nphase = \"zone\"",
        "name = \"d\"\npath = \"/d\"",
    ]));
    assert_eq!(p.journey.zone_start, 2);
    // A journey step after a zone step is an error at its phase.
    let src = journey(&[
        "name = \"a\"\npath = \"/a\"\nphase = \"zone\"",
        "name = \"b\"\npath = \"/b\"\nphase = \"journey\"",
    ]);
    let (_, _, key, msg) = invalid(&src);
    assert_eq!(key, "journey.steps[1].phase", "{msg}");
}

#[test]
fn shares_split_a_group_and_login_is_one_journey_step() {
    let p = plan(&journey(&[
        "name = \"a\"\npath = \"/a\"\nshare = 0.8\ngroup = \"end\"",
        "name = \"b\"\npath = \"/b\"\nshare = 0.2\ngroup = \"end\"",
    ]));
    let (a, b) = (
        p.journey.steps[0].share.unwrap(),
        p.journey.steps[1].share.unwrap(),
    );
    assert_eq!((a.lo, a.hi, a.group), (0.0, 0.8, b.group));
    assert!((b.lo - 0.8).abs() < 1e-12 && (b.hi - 1.0).abs() < 1e-12);
    let (_, _, key, msg) = invalid(&journey(&[
        "name = \"a\"\npath = \"/a\"\nshare = 0.8\ngroup = \"end\"",
        "name = \"b\"\npath = \"/b\"\nshare = 0.3\ngroup = \"end\"",
    ]));
    assert_eq!(key, "journey.steps[1].share", "{msg}");
    // Two logins, or a login that is a zone step, are errors.
    let (_, _, key, _) = invalid(&journey(&[
        "name = \"a\"\npath = \"/a\"\nrefresh_on = [\"HTTP_401\"]\nphase = \"journey\"",
        "name = \"b\"\npath = \"/b\"\nrefresh_on = [\"HTTP_401\"]\nphase = \"journey\"",
    ]));
    assert_eq!(key, "journey.steps[1].refresh_on");
    let (_, _, key, _) = invalid(&journey(&[
        "name = \"a\"\npath = \"/a/${zone}\"\nrefresh_on = [\"HTTP_401\"]",
    ]));
    assert_eq!(key, "journey.steps[0].refresh_on");
    let p = plan(&journey(&[
        "name = \"a\"\npath = \"/a\"\nrefresh_on = [\"TOKEN_EXPIRED\", \"HTTP_401\"]",
        "name = \"b\"\npath = \"/b/${zone}\"",
    ]));
    assert_eq!(p.journey.login, Some(0));
}

#[test]
fn pauses_and_when() {
    let p = plan(&journey(&[
        "name = \"a\"\npath = \"/a\"\ncapture = { tier = \"/t\" }\nthink_time = { min = \"1s\", max = \"3s\" }\nthink_time_after = { mean = \"2s\" }",
        "name = \"b\"\npath = \"/b\"\nwhen = { var = \"tier\", equals = 2 }",
    ]));
    let a = &p.journey.steps[0];
    assert_eq!(
        a.think_time,
        Pause::Uniform {
            min: Duration::from_secs(1),
            max: Duration::from_secs(3)
        }
    );
    assert_eq!(a.think_time.sample(0.5), Duration::from_secs(2));
    let mean = Pause::Exponential {
        mean: Duration::from_secs(2),
    };
    assert_eq!(a.think_time_after, mean);
    // Capped at ten times the mean, however unlucky the draw.
    assert_eq!(mean.sample(1.0 - 1e-300), Duration::from_secs(20));
    let w = p.journey.steps[1].when.as_ref().unwrap();
    assert_eq!(
        w.expect,
        CheckExpect::Equals(serde_json::Value::String("2".into()))
    );
}

/// `(line, col, msg)` of the parse error `src` must produce (a value of the
/// wrong type or an unknown key: located at the value itself).
fn parse_error(src: &str) -> (usize, usize, String) {
    match plan_with(src, &crate::scenario::Overrides::default()) {
        Err(crate::scenario::ScenarioError::Parse { line, col, msg, .. }) => (line, col, msg),
        Err(e) => panic!("not a parse error: {e}\n---\n{src}"),
        Ok(_) => panic!("expected an error for:\n{src}"),
    }
}

#[test]
fn sse_keys_have_located_errors() {
    const UNTIL: &str = "until = { pointer = \"/p\", exists = true }";
    // Values the builder refuses: the `sse` line, column 1, and the sub-key.
    for (sse, key, says) in [
        (
            format!("{UNTIL}, event = \"\""),
            "event",
            "name an event type",
        ),
        (
            format!("{UNTIL}, reconnects = 10001"),
            "reconnects",
            "at most 10000",
        ),
        (
            format!("{UNTIL}, base_delay = \"0s\""),
            "base_delay",
            "more than 0",
        ),
        (
            format!("{UNTIL}, base_delay = \"31days\""),
            "base_delay",
            "at most 30days",
        ),
        (
            format!("{UNTIL}, max_delay = \"31days\""),
            "max_delay",
            "at most 30days",
        ),
        (
            format!("{UNTIL}, base_delay = \"5s\", max_delay = \"1s\""),
            "max_delay",
            "at least `base_delay`",
        ),
        (
            format!("{UNTIL}, max_delay = \"0s\""),
            "max_delay",
            "at least `base_delay`",
        ),
        (
            format!("{UNTIL}, error_pointer = \"\""),
            "error_pointer",
            "starts with `/`",
        ),
        (
            "until = { pointer = \"p\", exists = true }".to_string(),
            "until",
            "",
        ),
    ] {
        let src = journey(&[&format!("name = \"s\"\npath = \"/x\"\nsse = {{ {sse} }}")]);
        let (line, col, k, msg) = invalid(&src);
        assert_eq!(k, format!("journey.steps[0].sse.{key}"), "{sse}: {msg}");
        assert_eq!((line, col), (line_of(&src, "sse"), 1), "{sse}: {msg}");
        assert!(msg.contains(says), "{sse}: {msg}");
    }
    // Values of the wrong type and unknown sub-keys: at the value's own
    // line and column, saying what was expected.
    for (sse, at, says) in [
        (
            format!("{{ {UNTIL}, reconnects = \"three\" }}"),
            "\"three\"",
            "expected u32",
        ),
        (format!("{{ {UNTIL}, reconnects = -1 }}"), "-1", "u32"),
        (
            format!("{{ {UNTIL}, base_delay = \"soon\" }}"),
            "\"soon\"",
            "duration",
        ),
        (format!("{{ {UNTIL}, max_delay = 5 }}"), "5 }", "duration"),
        (
            format!("{{ {UNTIL}, event = 5 }}"),
            "5 }",
            "expected a string",
        ),
        (
            format!("{{ {UNTIL}, flavour = 1 }}"),
            "flavour",
            "`flavour`",
        ),
        ("{ event = \"position\" }".to_string(), "{", "until"),
        ("\"yes\"".to_string(), "\"yes\"", "SseSection"),
    ] {
        let src = journey(&[&format!("name = \"s\"\npath = \"/x\"\nsse = {sse}")]);
        let (line, col, msg) = parse_error(&src);
        let sse_line = line_of(&src, "sse");
        let want_col = src.lines().nth(sse_line - 1).unwrap().find(at).unwrap() + 1;
        assert_eq!((line, col), (sse_line, want_col), "{sse}: {msg}");
        assert!(msg.contains(says), "{sse}: {msg}");
    }
}

#[test]
fn an_unknown_funnel_step_is_located() {
    for (list, i, name) in [
        ("[\"s\", \"pay\"]", 1, "pay"),
        ("[\"join\"]", 0, "join"),
        ("[\"s\", \"t\", \"S\"]", 2, "S"),
    ] {
        let src = format!(
            "{OK_LOAD}\n[journey]\nfunnel = {list}\n[[journey.steps]]\nname = \"s\"\npath = \"/x\"\n[[journey.steps]]\nname = \"t\"\npath = \"/y\"\n"
        );
        let (line, col, key, msg) = invalid(&src);
        assert_eq!(key, format!("journey.funnel[{i}]"), "{list}: {msg}");
        assert_eq!((line, col), (line_of(&src, "funnel"), 1), "{list}: {msg}");
        assert!(msg.contains(&format!("`{name}`")), "{list}: {msg}");
    }
    // The steps it names, in its order.
    let src = format!(
        "{OK_LOAD}\n[journey]\nfunnel = [\"t\", \"s\"]\n[[journey.steps]]\nname = \"s\"\npath = \"/x\"\n[[journey.steps]]\nname = \"t\"\npath = \"/y\"\n"
    );
    assert_eq!(plan(&src).journey.funnel, vec![1, 0]);
}
