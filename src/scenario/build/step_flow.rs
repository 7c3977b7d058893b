//! The keys of a step that shape when and how long it runs: pauses
//! (`think_time`, `think_time_after`), wait steps (`until`,
//! `poll_interval`, `max_wait`, `timeout_outcome`, `sse`), conditions
//! (`when`, `share`/`group`) and its phase.

use super::Ctx;
use super::step_parts::toml_to_json;
use crate::outcome::CauseMatch;
use crate::scenario::model::{CheckSection, StepSection, WhenSection};
use crate::scenario::plan::{
    Check, CheckExpect, Pause, PollInterval, Share, SseWait, VAR_ZONE, Wait, When,
};
use crate::scenario::template::Template;
use crate::scenario::{ScenarioError, bounds};
use std::time::Duration;

/// The longest a wait step waits unless it says (the real system's own
/// load test polls for up to 5 minutes).
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(300);
/// Between polls unless the step says (the real system's UI polls every 3 s).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(3);

fn duration_of(cx: &Ctx, key: &str, v: &toml::Value) -> Result<Duration, ScenarioError> {
    let toml::Value::String(s) = v else {
        return Err(cx.err(key, "a duration is a string such as \"2s\" or \"250ms\""));
    };
    let d = humantime::parse_duration(s).map_err(|e| cx.err(key, format!("`{s}`: {e}")))?;
    cx.within(key, bounds::duration(d))?;
    Ok(d)
}

/// `think_time` / `think_time_after`: `"2s"`, `{ min, max }` or `{ mean }`.
pub(super) fn pause(cx: &Ctx, key: &str, v: Option<&toml::Value>) -> Result<Pause, ScenarioError> {
    let Some(v) = v else {
        return Ok(Pause::NONE);
    };
    if let toml::Value::Table(t) = v {
        let get = |k: &str| t.get(k).map(|v| duration_of(cx, &format!("{key}.{k}"), v));
        if let Some(k) = t
            .keys()
            .find(|k| !["min", "max", "mean"].contains(&k.as_str()))
        {
            return Err(cx.err(
                &format!("{key}.{k}"),
                "unknown key (a pause is `\"2s\"`, `{ min = \"1s\", max = \"3s\" }` or `{ mean = \"2s\" }`)",
            ));
        }
        return match (get("min"), get("max"), get("mean")) {
            (Some(min), Some(max), None) => {
                let (min, max) = (min?, max?);
                if min > max {
                    return Err(cx.err(&format!("{key}.min"), "must be at most `max`"));
                }
                Ok(Pause::Uniform { min, max })
            }
            (None, None, Some(mean)) => Ok(Pause::Exponential { mean: mean? }),
            _ => Err(cx.err(
                key,
                "give `min` and `max` (uniform) or `mean` (exponential)",
            )),
        };
    }
    Ok(Pause::Fixed(duration_of(cx, key, v)?))
}

/// A `{ pointer, equals | exists }` table as a check.
pub(super) fn check(cx: &Ctx, key: &str, c: &CheckSection) -> Result<Check, ScenarioError> {
    if !c.pointer.starts_with('/') {
        return Err(cx.err(key, "a JSON pointer starts with `/`"));
    }
    let expect = match (&c.equals, c.exists) {
        (Some(v), None) => CheckExpect::Equals(toml_to_json(v).ok_or_else(|| {
            cx.err(
                key,
                "`equals` takes a string, number, boolean, array or table",
            )
        })?),
        (None, Some(e)) => CheckExpect::Exists(e),
        _ => return Err(cx.err(key, "give exactly one of `equals` or `exists`")),
    };
    Ok(Check {
        pointer: c.pointer.clone(),
        expect,
    })
}

/// A name stampede reports as an outcome: upper-case letters, digits and `_`.
fn outcome_name(cx: &Ctx, key: &str, s: &str) -> Result<String, ScenarioError> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if !ok {
        return Err(cx.err(
            key,
            format!("`{s}`: an outcome name is 1-64 of A-Z, 0-9 and `_`"),
        ));
    }
    if s != "WAIT_TIMEOUT" && crate::outcome::is_own_label(s) {
        return Err(cx.err(key, format!("`{s}` is one of stampede's own outcomes")));
    }
    Ok(s.to_string())
}

fn poll_interval(
    cx: &Ctx,
    key: &str,
    v: Option<&toml::Value>,
) -> Result<PollInterval, ScenarioError> {
    let Some(v) = v else {
        return Ok(PollInterval::Fixed(DEFAULT_POLL_INTERVAL));
    };
    let toml::Value::Table(t) = v else {
        let d = duration_of(cx, key, v)?;
        if d.is_zero() {
            return Err(cx.err(key, "must be more than 0 (a wait step must not spin)"));
        }
        return Ok(PollInterval::Fixed(d));
    };
    if let Some(k) = t
        .keys()
        .find(|k| !["from", "default", "min", "max"].contains(&k.as_str()))
    {
        return Err(cx.err(
            &format!("{key}.{k}"),
            "unknown key (known: from, default, min, max)",
        ));
    }
    let pointer = match t.get("from") {
        Some(toml::Value::String(s)) if s.eq_ignore_ascii_case("retry-after") => None,
        Some(toml::Value::String(s)) if s.starts_with('/') => Some(s.clone()),
        _ => {
            return Err(cx.err(
                &format!("{key}.from"),
                "`from` is a JSON pointer to seconds (`/estimated_wait_seconds`) or `retry-after`",
            ));
        }
    };
    let get = |k: &str, d: Duration| {
        t.get(k)
            .map_or(Ok(d), |v| duration_of(cx, &format!("{key}.{k}"), v))
    };
    let min = get("min", Duration::from_secs(1))?;
    let max = get("max", Duration::from_secs(30))?;
    let default = get("default", DEFAULT_POLL_INTERVAL)?;
    if min.is_zero() {
        return Err(cx.err(
            &format!("{key}.min"),
            "must be more than 0 (a wait step must not spin)",
        ));
    }
    if min > max {
        return Err(cx.err(&format!("{key}.min"), "must be at most `max`"));
    }
    Ok(PollInterval::FromAnswer {
        pointer,
        default: default.clamp(min, max),
        min,
        max,
    })
}

/// The step's wait, when it has `until` or `sse`.
pub(super) fn wait(cx: &Ctx, i: usize, s: &StepSection) -> Result<Option<Wait>, ScenarioError> {
    let key = |k: &str| format!("journey.steps[{i}].{k}");
    let (until, sse) = match (&s.until, &s.sse) {
        (None, None) => {
            for (k, given) in [
                ("poll_interval", s.poll_interval.is_some()),
                ("max_wait", s.max_wait.is_some()),
                ("timeout_outcome", s.timeout_outcome.is_some()),
            ] {
                if given {
                    return Err(cx.err(&key(k), "only a wait step (`until` or `sse`) has this"));
                }
            }
            return Ok(None);
        }
        (Some(_), Some(_)) => {
            return Err(cx.err(
                &key("until"),
                "a step waits by polling (`until`) or by SSE (`sse.until`), not both",
            ));
        }
        (Some(u), None) => (check(cx, &key("until"), u)?, None),
        (None, Some(e)) => {
            if s.poll_interval.is_some() {
                return Err(cx.err(&key("poll_interval"), "an SSE step does not poll"));
            }
            let sk = |k: &str| format!("journey.steps[{i}].sse.{k}");
            let base_delay = e.base_delay.unwrap_or(Duration::from_secs(1));
            let max_delay = e.max_delay.unwrap_or(Duration::from_secs(30));
            cx.within(&sk("base_delay"), bounds::duration(base_delay))?;
            cx.within(&sk("max_delay"), bounds::duration(max_delay))?;
            let reconnects = e.reconnects.unwrap_or(3);
            cx.within(&sk("reconnects"), bounds::count(reconnects, 10_000))?;
            let error_pointer = e.error_pointer.clone().unwrap_or_else(|| "/event".into());
            if !error_pointer.starts_with('/') {
                return Err(cx.err(&sk("error_pointer"), "a JSON pointer starts with `/`"));
            }
            if e.event.as_deref() == Some("") {
                return Err(cx.err(&sk("event"), "name an event type, or leave it out for any"));
            }
            (
                check(cx, &sk("until"), &e.until)?,
                Some(SseWait {
                    event: e.event.clone(),
                    reconnects,
                    base_delay,
                    max_delay,
                    error_pointer,
                }),
            )
        }
    };
    let max_wait = s.max_wait.unwrap_or(DEFAULT_MAX_WAIT);
    cx.within(&key("max_wait"), bounds::duration(max_wait))?;
    if max_wait.is_zero() {
        return Err(cx.err(&key("max_wait"), "must be more than 0"));
    }
    let timeout_outcome = match &s.timeout_outcome {
        Some(n) => outcome_name(cx, &key("timeout_outcome"), n)?,
        None => "WAIT_TIMEOUT".into(),
    };
    Ok(Some(Wait {
        until,
        interval: poll_interval(cx, &key("poll_interval"), s.poll_interval.as_ref())?,
        max_wait,
        timeout_outcome,
        sse,
    }))
}

/// `when = { var, equals | exists }` against the journey's variables.
pub(super) fn when(
    cx: &Ctx,
    i: usize,
    w: Option<&WhenSection>,
    vars: &[String],
) -> Result<Option<When>, ScenarioError> {
    let Some(w) = w else { return Ok(None) };
    let key = format!("journey.steps[{i}].when");
    let var = vars.iter().position(|v| v == &w.var).ok_or_else(|| {
        cx.err(
            &key,
            format!(
                "no variable `{}` before this step (known: {})",
                w.var,
                vars.join(", ")
            ),
        )
    })?;
    let expect = match (&w.equals, w.exists) {
        (Some(toml::Value::String(s)), None) => {
            CheckExpect::Equals(serde_json::Value::String(s.clone()))
        }
        (
            Some(v @ (toml::Value::Integer(_) | toml::Value::Boolean(_) | toml::Value::Float(_))),
            None,
        ) => CheckExpect::Equals(serde_json::Value::String(v.to_string())),
        (None, Some(e)) => CheckExpect::Exists(e),
        _ => {
            return Err(cx.err(
                &key,
                "give exactly one of `equals` (a string, number or boolean) or `exists`",
            ));
        }
    };
    Ok(Some(When {
        var,
        name: w.var.clone(),
        expect,
    }))
}

/// `share` (and `group`): the slice of journeys a step runs for. Steps of
/// one group take consecutive slices in file order, so `share = 0.8` then
/// `share = 0.2` split the journeys between two steps.
pub(super) fn share(
    cx: &Ctx,
    i: usize,
    s: &StepSection,
    taken: &mut Vec<(String, f64)>,
) -> Result<Option<Share>, ScenarioError> {
    let key = |k: &str| format!("journey.steps[{i}].{k}");
    let Some(f) = s.share else {
        if s.group.is_some() {
            return Err(cx.err(&key("group"), "a group is for steps with a `share`"));
        }
        return Ok(None);
    };
    if !(f > 0.0 && f <= 1.0) {
        return Err(cx.err(&key("share"), "a share is more than 0 and at most 1"));
    }
    let group = s.group.clone().unwrap_or_else(|| format!("\u{0}step{i}"));
    let lo = match taken.iter_mut().find(|(g, _)| *g == group) {
        Some((_, used)) => {
            let lo = *used;
            *used += f;
            lo
        }
        None => {
            taken.push((group.clone(), f));
            0.0
        }
    };
    if lo + f > 1.0 + 1e-9 {
        return Err(cx.err(
            &key("share"),
            format!(
                "the shares of group `{}` add up to more than 1",
                s.group.as_deref().unwrap_or_default()
            ),
        ));
    }
    Ok(Some(Share {
        lo,
        hi: lo + f,
        group: fnv(group.as_bytes()),
    }))
}

fn fnv(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325, |h, x| {
        (h ^ u64::from(*x)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The index of the first zone step: explicit `phase`s when the file gives
/// any (journey steps must all come first), else the first step that uses
/// `${zone}`, else 0 (every step runs again for every zone, as a journey
/// with no phases always did).
pub(super) fn zone_start(
    cx: &Ctx,
    src: &[StepSection],
    paths: &[(Template, Option<Template>, bool)],
) -> Result<usize, ScenarioError> {
    let any_explicit = src.iter().any(|s| s.phase.is_some());
    if !any_explicit {
        return Ok(paths
            .iter()
            .position(|(p, b, headers_use_zone)| {
                p.vars().any(|v| v == VAR_ZONE)
                    || b.as_ref().is_some_and(|b| b.vars().any(|v| v == VAR_ZONE))
                    || *headers_use_zone
            })
            .map_or(0, |i| i));
    }
    let mut start = None;
    for (i, s) in src.iter().enumerate() {
        let key = format!("journey.steps[{i}].phase");
        let journey = match s.phase.as_deref() {
            Some("journey") => true,
            Some("zone") => false,
            // Unmarked steps follow the one before them (zone once zones began).
            None => start.is_none(),
            Some(other) => {
                return Err(cx.err(&key, format!("`{other}`: a phase is `journey` or `zone`")));
            }
        };
        match (journey, start) {
            (false, None) => start = Some(i),
            (true, Some(_)) => {
                return Err(cx.err(
                    &key,
                    "journey steps come before the zone steps (they run once, then the zone steps run for each zone tried)",
                ));
            }
            _ => {}
        }
    }
    Ok(start.unwrap_or(src.len()))
}

/// `refresh_on` of a login step.
pub(super) fn refresh_on(
    cx: &Ctx,
    i: usize,
    list: Option<&[String]>,
) -> Result<Vec<CauseMatch>, ScenarioError> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    if list.is_empty() {
        return Err(cx.err(
            &format!("journey.steps[{i}].refresh_on"),
            "name at least one status (`HTTP_401`) or code (`TOKEN_EXPIRED`)",
        ));
    }
    list.iter()
        .enumerate()
        .map(|(k, n)| {
            CauseMatch::parse(n)
                .map_err(|e| cx.err(&format!("journey.steps[{i}].refresh_on[{k}]"), e))
        })
        .collect()
}

#[cfg(test)]
mod tests {
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
}
