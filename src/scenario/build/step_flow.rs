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
            if base_delay.is_zero() {
                return Err(cx.err(&sk("base_delay"), "must be more than 0"));
            }
            if max_delay < base_delay {
                return Err(cx.err(&sk("max_delay"), "must be at least `base_delay`"));
            }
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
mod tests;
