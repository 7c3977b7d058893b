//! `[journey]`: the event and zones, and the steps each user walks through
//! (the Booking Rush availability → reserve → confirm journey by default).

use super::Ctx;
use super::step_flow;
use super::step_parts::step_headers;
use crate::outcome::CauseMatch;
use crate::scenario::model::{JourneySection, StepSection};
use crate::scenario::plan::{BUILTIN_VARS, Journey, Phase, Step, VAR_EVENT, VAR_ZONE};
use crate::scenario::template::{Template, VarId};
use crate::scenario::{ScenarioError, bounds};
use crate::sim::SimConfig;
use std::collections::BTreeMap;

fn default_steps() -> Vec<StepSection> {
    let step = |name: &str, method: &str, path: &str| StepSection {
        name: name.into(),
        method: method.into(),
        path: path.into(),
        body: None,
        retry: true,
        idempotent: false,
        precheck: None,
        capture: BTreeMap::new(),
        secret: false,
        think_time: None,
        think_time_after: None,
        phase: None,
        until: None,
        poll_interval: None,
        max_wait: None,
        timeout_outcome: None,
        sse: None,
        when: None,
        share: None,
        group: None,
        timeout: None,
        refresh_on: None,
        headers: BTreeMap::new(),
        expect_status: None,
        check: Vec::new(),
        json: None,
    };
    let mut availability = step(
        "availability",
        "GET",
        "/events/${event}/zones/${zone}/availability",
    );
    availability.precheck = Some("/data/available".into());
    let mut reserve = step("reserve", "POST", "/bookings/reserve");
    reserve.body =
        Some(r#"{"eventId":"${event}","zoneId":"${zone}","quantity":${quantity}}"#.into());
    reserve.idempotent = true;
    reserve
        .capture
        .insert("bookingId".into(), "/data/bookingId".into());
    let mut confirm = step("confirm", "POST", "/bookings/${bookingId}/confirm");
    confirm.idempotent = true;
    vec![availability, reserve, confirm]
}

/// The methods a journey step may use (any case in the file).
const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// One of [`METHODS`], case-insensitively; a typo such as `PSOT` is an error
/// here rather than an extension method the target answers 405 to.
fn parse_method(s: &str) -> Option<http::Method> {
    let upper = s.to_ascii_uppercase();
    METHODS
        .contains(&upper.as_str())
        .then(|| http::Method::from_bytes(upper.as_bytes()).ok())
        .flatten()
}

pub(super) fn build_journey(
    cx: &Ctx,
    j: Option<&JourneySection>,
    sim: &SimConfig,
    embedded: bool,
    user_cols: &[String],
) -> Result<Journey, ScenarioError> {
    let quantity = j.and_then(|j| j.quantity).unwrap_or(1);
    if quantity == 0 {
        return Err(cx.err("journey.quantity", "must be at least 1"));
    }
    cx.within(
        "journey.quantity",
        bounds::count(quantity, bounds::MAX_QUANTITY),
    )?;
    let next_zone_on = parse_next_zone_on(cx, j.and_then(|j| j.next_zone_on.as_deref()))?;
    let custom_steps = j.is_some_and(|j| !j.steps.is_empty());
    let steps_src = steps_source(cx, j, sim, embedded)?;
    let mut vars: Vec<String> = BUILTIN_VARS.iter().map(|s| s.to_string()).collect();
    // Every users CSV column is a variable (`user_id` is also `${user}`).
    for c in user_cols {
        if !vars.contains(c) {
            vars.push(c.clone());
        }
    }
    let user_vars = vars.len() - BUILTIN_VARS.len();
    let journey_headers = j.map(|j| &j.headers);
    let mut steps = Vec::new();
    let mut shares = Vec::new();
    for (i, s) in steps_src.iter().enumerate() {
        let step = build_step(cx, i, s, &steps, &mut vars, journey_headers, &mut shares)?;
        steps.push(step);
    }
    let uses = |var| {
        steps.iter().any(|s| {
            s.path.vars().any(|v| v == var)
                || s.body.as_ref().is_some_and(|b| b.vars().any(|v| v == var))
                || s.headers.iter().any(|(_, h)| h.vars().any(|v| v == var))
        })
    };
    let (event, zones) = event_and_zones(cx, j, sim, embedded, uses(VAR_EVENT), uses(VAR_ZONE))?;
    let zone_start = set_phases(cx, &steps_src, &mut steps)?;
    let login = login_step(cx, &steps)?;
    let funnel = funnel(cx, &steps, j.and_then(|j| j.funnel.as_deref()))?;
    let latency_step = match j.and_then(|j| j.latency_step.as_deref()) {
        None => steps.len().saturating_sub(1),
        Some(n) => steps
            .iter()
            .position(|s| s.name == n)
            .ok_or_else(|| cx.err("journey.latency_step", format!("no step named `{n}`")))?,
    };
    let amplification_steps = amplification_steps(
        cx,
        &steps,
        j.and_then(|j| j.amplification_steps.as_deref()),
        custom_steps,
    )?;
    Ok(Journey {
        vars,
        user_vars,
        event,
        zones,
        quantity,
        next_zone_on,
        steps,
        amplification_steps,
        zone_start,
        login,
        funnel,
        latency_step,
    })
}

/// The journey's steps as written, or the default journey (which speaks
/// the guidelines' dialect, so not to an embedded Booking Rush simulator);
/// at most `bounds::MAX_STEPS`.
fn steps_source(
    cx: &Ctx,
    j: Option<&JourneySection>,
    sim: &SimConfig,
    embedded: bool,
) -> Result<Vec<StepSection>, ScenarioError> {
    let custom_steps = j.is_some_and(|j| !j.steps.is_empty());
    if embedded && !custom_steps && sim.api == crate::sim::SimApi::BookingRush {
        return Err(cx.err(
            "journey.steps",
            "the default journey speaks the guidelines' dialect; with [sim] api = \"booking-rush\" the journey needs its steps (scenarios/booking-rush-staging.toml is one)",
        ));
    }
    let steps_src = match j {
        Some(j) if custom_steps => j.steps.clone(),
        _ => default_steps(),
    };
    cx.within(
        "journey.steps",
        bounds::count(steps_src.len(), bounds::MAX_STEPS).map_err(|m| format!("steps: {m}")),
    )?;
    Ok(steps_src)
}

/// Where the per-zone part of the journey starts (`step_flow::zone_start`),
/// each step's phase set by it.
fn set_phases(
    cx: &Ctx,
    steps_src: &[StepSection],
    steps: &mut [Step],
) -> Result<usize, ScenarioError> {
    let parts: Vec<_> = steps
        .iter()
        .map(|s| {
            (
                s.path.clone(),
                s.body.clone(),
                s.headers
                    .iter()
                    .any(|(_, h)| h.vars().any(|v| v == VAR_ZONE)),
            )
        })
        .collect();
    let zone_start = step_flow::zone_start(cx, steps_src, &parts)?;
    for (i, s) in steps.iter_mut().enumerate() {
        s.phase = if i < zone_start {
            Phase::Journey
        } else {
            Phase::Zone
        };
    }
    Ok(zone_start)
}

/// Step `i` of the journey (after the steps `before` it): its name,
/// method, path, body, captures (new variables added to `vars`), headers,
/// success rules, wait, flow keys and timeout checked; its phase is set
/// once every step is known.
fn build_step(
    cx: &Ctx,
    i: usize,
    s: &StepSection,
    before: &[Step],
    vars: &mut Vec<String>,
    journey_headers: Option<&BTreeMap<String, String>>,
    shares: &mut Vec<(String, f64)>,
) -> Result<Step, ScenarioError> {
    let key = |k: &str| format!("journey.steps[{i}].{k}");
    let method = name_and_method(cx, i, s, before)?;
    let path = step_path(cx, i, &s.path, vars)?;
    let body = s
        .body
        .as_deref()
        .map(|b| Template::parse(b, vars))
        .transpose()
        .map_err(|e| cx.err(&key("body"), e.to_string()))?;
    if let Some(p) = &s.precheck
        && !p.starts_with('/')
    {
        return Err(cx.err(&key("precheck"), "a JSON pointer starts with `/`"));
    }
    let captures = captures(cx, i, s, vars)?;
    let headers = step_headers(cx, i, journey_headers, &s.headers, vars)?;
    let expect_status = expect_status(cx, i, s.expect_status.as_deref())?;
    let checks = s
        .check
        .iter()
        .enumerate()
        .map(|(c_i, c)| step_flow::check(cx, &format!("journey.steps[{i}].check[{c_i}]"), c))
        .collect::<Result<Vec<_>, _>>()?;
    let wait = step_flow::wait(cx, i, s)?;
    let reads = !s.capture.is_empty() || !checks.is_empty() || s.precheck.is_some();
    let json = reads_json(cx, i, s, reads, wait.is_some())?;
    if let Some(t) = s.timeout {
        cx.within(&key("timeout"), bounds::duration(t))?;
        if t.is_zero() {
            return Err(cx.err(&key("timeout"), "must be more than 0"));
        }
    }
    Ok(Step {
        name: s.name.clone(),
        method,
        path,
        body,
        retry: s.retry,
        idempotent: s.idempotent,
        precheck: s.precheck.clone(),
        captures,
        secret: s.secret,
        think_time: step_flow::pause(cx, &key("think_time"), s.think_time.as_ref())?,
        think_time_after: step_flow::pause(
            cx,
            &key("think_time_after"),
            s.think_time_after.as_ref(),
        )?,
        // Set by `build_journey`, once every step is known.
        phase: Phase::Zone,
        wait,
        when: step_flow::when(cx, i, s.when.as_ref(), vars)?,
        share: step_flow::share(cx, i, s, shares)?,
        timeout: s.timeout,
        refresh_on: step_flow::refresh_on(cx, i, s.refresh_on.as_deref())?,
        headers,
        expect_status,
        checks,
        json,
    })
}

/// Step `i`'s name (valid, unique ignoring case among the steps `before`
/// it) checked, and its method parsed.
fn name_and_method(
    cx: &Ctx,
    i: usize,
    s: &StepSection,
    before: &[Step],
) -> Result<http::Method, ScenarioError> {
    let key = |k: &str| format!("journey.steps[{i}].{k}");
    crate::names::check(&s.name).map_err(|m| cx.err(&key("name"), m))?;
    if before
        .iter()
        .any(|p: &Step| p.name.eq_ignore_ascii_case(&s.name))
    {
        return Err(cx.err(
            &key("name"),
            format!("step names must be unique, ignoring case (`{}`)", s.name),
        ));
    }
    parse_method(&s.method).ok_or_else(|| {
        cx.err(
            &key("method"),
            format!(
                "`{}` is not an HTTP method (known: {})",
                s.method,
                METHODS.join(", ")
            ),
        )
    })
}

/// Step `i`'s path: from `/`, a template over `vars`, a valid URL path
/// once its variables are filled in.
fn step_path(cx: &Ctx, i: usize, path: &str, vars: &[String]) -> Result<Template, ScenarioError> {
    let key = format!("journey.steps[{i}].path");
    if !path.starts_with('/') {
        return Err(cx.err(&key, "must start with `/`"));
    }
    let path = Template::parse(path, vars).map_err(|e| cx.err(&key, e.to_string()))?;
    if format!("http://h{}", path.sample())
        .parse::<http::Uri>()
        .is_err()
    {
        return Err(cx.err(
            &key,
            "not a valid URL path (spaces and such must be percent-encoded in the file; values from variables are encoded for you)",
        ));
    }
    Ok(path)
}

/// Whether step `i` reads its body as JSON: it must when it `reads`
/// (captures, checks, pre-checks) or `waits`; a wait is no pre-check.
fn reads_json(
    cx: &Ctx,
    i: usize,
    s: &StepSection,
    reads: bool,
    waits: bool,
) -> Result<bool, ScenarioError> {
    let key = |k: &str| format!("journey.steps[{i}].{k}");
    let json = s.json.unwrap_or(reads || waits);
    if !json && (reads || waits) {
        return Err(cx.err(
            &key("json"),
            "a step that captures, checks, pre-checks or waits reads its body as JSON",
        ));
    }
    if waits && s.precheck.is_some() {
        return Err(cx.err(&key("precheck"), "a wait step cannot also be a pre-check"));
    }
    Ok(json)
}

/// Step `i`'s captures: (variable id, JSON pointer); a new name becomes a
/// variable, a built-in one cannot be overwritten.
fn captures(
    cx: &Ctx,
    i: usize,
    s: &StepSection,
    vars: &mut Vec<String>,
) -> Result<Vec<(VarId, String)>, ScenarioError> {
    let mut captures = Vec::new();
    for (name, pointer) in &s.capture {
        if !pointer.starts_with('/') {
            return Err(cx.err(
                &format!("journey.steps[{i}].capture.{name}"),
                "a JSON pointer starts with `/`",
            ));
        }
        let id = match vars.iter().position(|v| v == name) {
            Some(id) if id >= BUILTIN_VARS.len() => id,
            Some(_) => {
                return Err(cx.err(
                    &format!("journey.steps[{i}].capture.{name}"),
                    "cannot overwrite a built-in variable",
                ));
            }
            None => {
                vars.push(name.clone());
                vars.len() - 1
            }
        };
        captures.push((id, pointer.clone()));
    }
    Ok(captures)
}

/// Step `i`'s `expect_status`: at least one status, 2xx only.
fn expect_status(cx: &Ctx, i: usize, list: Option<&[u16]>) -> Result<Vec<u16>, ScenarioError> {
    let key = format!("journey.steps[{i}].expect_status");
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    if list.is_empty() {
        return Err(cx.err(&key, "name at least one status"));
    }
    if let Some(bad) = list.iter().find(|s| !(200..=299).contains(*s)) {
        return Err(cx.err(
            &key,
            format!("{bad}: only 2xx statuses can be success (any other answer is a failure, retried or not per the policy)"),
        ));
    }
    Ok(list.to_vec())
}

/// The one step with `refresh_on` (the session's login), which must be a
/// journey step that runs before the steps it refreshes.
fn login_step(cx: &Ctx, steps: &[Step]) -> Result<Option<usize>, ScenarioError> {
    let mut marked = steps
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.refresh_on.is_empty())
        .map(|(i, _)| i);
    let first = marked.next();
    if let Some(second) = marked.next() {
        return Err(cx.err(
            &format!("journey.steps[{second}].refresh_on"),
            "only one step can be the session's login",
        ));
    }
    if let Some(i) = first
        && steps[i].phase != Phase::Journey
    {
        return Err(cx.err(
            &format!("journey.steps[{i}].refresh_on"),
            "the login step must be a journey step (`phase = \"journey\"`), run once before the others",
        ));
    }
    Ok(first)
}

/// `[journey] funnel`: step names, in order.
fn funnel(cx: &Ctx, steps: &[Step], names: Option<&[String]>) -> Result<Vec<usize>, ScenarioError> {
    let Some(names) = names else {
        return Ok(Vec::new());
    };
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            steps.iter().position(|s| &s.name == n).ok_or_else(|| {
                cx.err(
                    &format!("journey.funnel[{i}]"),
                    format!("no step named `{n}`"),
                )
            })
        })
        .collect()
}

/// The event and zones: from the file, else the embedded simulator's; only
/// required of a remote target when a step uses `${event}` or `${zone}`
/// (a journey with no zones makes one pass with `${zone}` empty).
fn event_and_zones(
    cx: &Ctx,
    j: Option<&JourneySection>,
    sim: &SimConfig,
    embedded: bool,
    uses_event: bool,
    uses_zone: bool,
) -> Result<(String, Vec<String>), ScenarioError> {
    let event = match j.and_then(|j| j.event.clone()) {
        Some(e) => e,
        None if embedded => sim.events.first().map(|e| e.id.clone()).unwrap_or_default(),
        None if uses_event => {
            return Err(cx.err(
                "journey.event",
                "a step uses ${event}: required when the target is not the embedded simulator",
            ));
        }
        None => String::new(),
    };
    let mut zones = j.map(|j| j.zones.clone()).unwrap_or_default();
    if zones.is_empty() && embedded {
        zones = sim
            .events
            .iter()
            .find(|e| e.id == event)
            .map(|e| e.zones.iter().map(|z| z.id.clone()).collect())
            .unwrap_or_default();
    }
    if zones.is_empty() && uses_zone {
        return Err(cx.err(
            "journey.zones",
            if embedded {
                "the journey needs at least one zone"
            } else {
                "a step uses ${zone}: required when the target is not the embedded simulator"
            },
        ));
    }
    if (uses_event || embedded) && event.is_empty() {
        return Err(cx.err("journey.event", "the journey needs an event"));
    }
    if zones.is_empty() {
        zones.push(String::new());
    }
    Ok((event, zones))
}

/// `next_zone_on` names target codes (`INSUFFICIENT_SEATS`) or statuses
/// (`HTTP_410`), parsed once here; the engine matches an operation's last
/// cause against them.
fn parse_next_zone_on(
    cx: &Ctx,
    names: Option<&[String]>,
) -> Result<Vec<CauseMatch>, ScenarioError> {
    let Some(names) = names else {
        return Ok(vec![
            CauseMatch::parse("INSUFFICIENT_SEATS")
                .map_err(|e| cx.err("journey.next_zone_on", e))?,
        ]);
    };
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            CauseMatch::parse(n).map_err(|e| cx.err(&format!("journey.next_zone_on[{i}]"), e))
        })
        .collect()
}

/// The steps the headline amplification is over: named ones, else the
/// default journey's `reserve` (the contended, retried write), else every
/// step that retries and is not a pre-check (a pre-check or a follow-up that
/// rarely fails would dilute what the retried work cost the target).
fn amplification_steps(
    cx: &Ctx,
    steps: &[Step],
    named: Option<&[String]>,
    custom_steps: bool,
) -> Result<Vec<usize>, ScenarioError> {
    if let Some(names) = named {
        if names.is_empty() {
            return Err(cx.err("journey.amplification_steps", "name at least one step"));
        }
        return names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                steps.iter().position(|s| &s.name == n).ok_or_else(|| {
                    cx.err(
                        &format!("journey.amplification_steps[{i}]"),
                        format!("no step named `{n}`"),
                    )
                })
            })
            .collect();
    }
    if !custom_steps && let Some(i) = steps.iter().position(|s| s.name == "reserve") {
        return Ok(vec![i]);
    }
    let retried: Vec<usize> = (0..steps.len())
        .filter(|&i| steps[i].retry && steps[i].precheck.is_none() && steps[i].wait.is_none())
        .collect();
    Ok(if retried.is_empty() {
        (0..steps.len()).collect()
    } else {
        retried
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::outcome::CauseMatch;
    use crate::scenario::bounds;

    const REMOTE: &str = "[target]\nurl = \"http://127.0.0.1:9\"\n";

    fn steps(body: &str) -> String {
        format!("{OK_LOAD}\n[journey]\n[[journey.steps]]\n{body}\n")
    }

    #[test]
    fn the_booking_rush_profile_needs_the_journeys_steps() {
        let (_, _, key, msg) = invalid(&format!("{OK_LOAD}\n[sim]\napi = \"booking-rush\"\n"));
        assert_eq!(key, "journey.steps");
        assert!(msg.contains("booking-rush"), "{msg}");
    }

    #[test]
    fn embedded_defaults_come_from_the_simulator() {
        let j = plan(OK_LOAD).journey;
        assert_eq!(j.event, "E1");
        assert_eq!(j.zones, vec!["A", "B", "C"]);
        assert_eq!(j.quantity, 1);
        assert_eq!(
            j.next_zone_on,
            vec![CauseMatch::parse("INSUFFICIENT_SEATS").unwrap()]
        );
        assert_eq!(j.amplification_steps, vec![1], "reserve");
        let names: Vec<&str> = j.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, vec!["availability", "reserve", "confirm"]);
        assert_eq!(j.steps[1].method, http::Method::POST);
        assert_eq!(j.steps[2].path.source(), "/bookings/${bookingId}/confirm");
        assert_eq!(j.vars.last().map(String::as_str), Some("bookingId"));
    }

    #[test]
    fn a_remote_target_needs_event_and_zones() {
        let (line, _, key, _) = invalid(&format!("{REMOTE}{OK_LOAD}"));
        assert_eq!((line, key.as_str()), (1, "journey.event"));
        let (line, _, key, _) = invalid(&format!("{REMOTE}{OK_LOAD}\n[journey]\nevent = \"E9\"\n"));
        assert_eq!((line, key.as_str()), (8, "journey.zones"));
    }

    #[test]
    fn zero_quantity_is_rejected() {
        let (line, _, key, _) = invalid(&format!("{OK_LOAD}\n[journey]\nquantity = 0\n"));
        assert_eq!((line, key.as_str()), (7, "journey.quantity"));
    }

    #[test]
    fn step_defaults() {
        let j = plan(&steps("name = \"s\"\npath = \"/x/${zone}\"")).journey;
        let s = &j.steps[0];
        assert_eq!(s.method, http::Method::GET);
        assert!(s.retry && !s.idempotent);
        assert_eq!(s.think_time, crate::scenario::Pause::NONE);
        assert!(s.body.is_none() && s.precheck.is_none() && s.captures.is_empty());
    }

    #[test]
    fn method_is_normalised_and_checked() {
        let j = plan(&steps("name = \"s\"\nmethod = \"post\"\npath = \"/x\"")).journey;
        assert_eq!(j.steps[0].method, http::Method::POST);
        let json = serde_json::to_value(&j.steps[0]).unwrap();
        assert_eq!(json["method"], "POST", "the plan shows the method as text");
        for bad in ["GE T", "PSOT", "CONNECT", ""] {
            let (line, col, key, msg) = invalid(&steps(&format!(
                "name = \"s\"\nmethod = \"{bad}\"\npath = \"/x\""
            )));
            assert_eq!((line, col, key.as_str()), (9, 1, "journey.steps[0].method"));
            assert!(
                msg.contains(&format!("`{bad}` is not an HTTP method")) && msg.contains("PATCH"),
                "{msg}"
            );
        }
    }

    #[test]
    fn quantity_steps_and_think_time_are_bounded() {
        let (line, _, key, msg) = invalid(&format!("{OK_LOAD}\n[journey]\nquantity = 10001\n"));
        assert_eq!((line, key.as_str()), (7, "journey.quantity"));
        assert!(msg.contains("at most 10000"), "{msg}");
        let (line, _, key, msg) = invalid(&steps(
            "name = \"s\"\npath = \"/x\"\nthink_time = \"9300000000000000000s\"",
        ));
        assert_eq!((line, key.as_str()), (10, "journey.steps[0].think_time"));
        assert!(msg.contains("at most 30days"), "{msg}");
        let many: String = (0..=bounds::MAX_STEPS)
            .map(|i| format!("[[journey.steps]]\nname = \"s{i}\"\npath = \"/x\"\n"))
            .collect();
        let (_, _, key, msg) = invalid(&format!("{OK_LOAD}\n[journey]\n{many}"));
        assert_eq!(key, "journey.steps");
        assert!(msg.contains("at most 100"), "{msg}");
    }

    #[test]
    fn step_errors_name_the_step_key() {
        for (body, want_key, want_line) in [
            ("name = \"s\"\npath = \"x\"", "journey.steps[0].path", 9),
            (
                "name = \"s\"\npath = \"/${nope}\"",
                "journey.steps[0].path",
                9,
            ),
            (
                "name = \"s\"\npath = \"/x\"\nbody = \"${nope}\"",
                "journey.steps[0].body",
                10,
            ),
            (
                "name = \"s\"\npath = \"/x\"\nprecheck = \"data\"",
                "journey.steps[0].precheck",
                10,
            ),
            ("name = \"\"\npath = \"/x\"", "journey.steps[0].name", 8),
        ] {
            let (line, _, key, _) = invalid(&steps(body));
            assert_eq!((key.as_str(), line), (want_key, want_line), "{body}");
        }
    }

    #[test]
    fn captures_define_variables_and_cannot_shadow_builtins() {
        let j = plan(&steps(
            "name = \"a\"\npath = \"/a\"\ncapture = { id = \"/data/id\" }\n\n[[journey.steps]]\nname = \"b\"\npath = \"/b/${id}\"",
        ))
        .journey;
        let id = j.vars.iter().position(|v| v == "id").unwrap();
        assert_eq!(j.steps[0].captures, vec![(id, "/data/id".to_string())]);
        assert_eq!(j.steps[1].path.vars().collect::<Vec<_>>(), vec![id]);
        let (_, _, key, msg) = invalid(&steps(
            "name = \"a\"\npath = \"/a\"\ncapture = { zone = \"/z\" }",
        ));
        assert_eq!(key, "journey.steps[0].capture.zone");
        assert!(msg.contains("built-in"), "{msg}");
        let (_, _, key, _) = invalid(&steps(
            "name = \"a\"\npath = \"/a\"\n\n[[journey.steps]]\nname = \"a\"\npath = \"/b\"",
        ));
        assert_eq!(key, "journey.steps[1].name");
    }

    #[test]
    fn next_zone_on_is_parsed_into_codes_and_statuses() {
        let j = plan(&format!(
            "{OK_LOAD}\n[journey]\nnext_zone_on = [\"SOLD_OUT\", \"HTTP_410\"]\n"
        ))
        .journey;
        assert_eq!(
            j.next_zone_on,
            vec![
                CauseMatch::parse("SOLD_OUT").unwrap(),
                CauseMatch::Status(410)
            ]
        );
        let (line, _, key, msg) = invalid(&format!(
            "{OK_LOAD}\n[journey]\nnext_zone_on = [\"A\", \"HTTP_9000\"]\n"
        ));
        assert_eq!(
            (line, key.as_str()),
            (7, "journey.next_zone_on[1]"),
            "{msg}"
        );
    }

    #[test]
    fn amplification_steps_default_and_named() {
        // A custom journey: every retried step that is not a pre-check.
        let src = format!(
            "{OK_LOAD}\n[journey]\n[[journey.steps]]\nname = \"look\"\npath = \"/a\"\nprecheck = \"/n\"\n\
             [[journey.steps]]\nname = \"buy\"\nmethod = \"POST\"\npath = \"/b\"\n\
             [[journey.steps]]\nname = \"log\"\npath = \"/c\"\nretry = false\n"
        );
        assert_eq!(plan(&src).journey.amplification_steps, vec![1]);
        let named = src.replace(
            "[journey]\n",
            "[journey]\namplification_steps = [\"log\", \"buy\"]\n",
        );
        assert_eq!(plan(&named).journey.amplification_steps, vec![2, 1]);
        let bad = src.replace(
            "[journey]\n",
            "[journey]\namplification_steps = [\"nope\"]\n",
        );
        let (_, _, key, msg) = invalid(&bad);
        assert_eq!(key, "journey.amplification_steps[0]", "{msg}");
    }
}
