//! Scenario file + command-line overrides -> validated [`Plan`].

use super::ScenarioError;
use super::locate::{line_col, locate};
use super::model::*;
use super::plan::*;
use super::template::Template;
use crate::policy::{self, PolicyOverrides, RetryPolicy};
use crate::sim::SimConfig;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Command-line flags that override the scenario file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub duration: Option<Duration>,
    pub rate: Option<f64>,
    pub target: Option<String>,
    pub policy: Option<String>,
    pub out: Option<PathBuf>,
    /// `--insecure`: skip TLS certificate verification.
    pub insecure: bool,
    /// `--max-rps`: raise (or lower) the hard cap on attempts per second.
    pub max_rps: Option<f64>,
}

const DEFAULT_DRAIN: Duration = Duration::from_secs(30);
const DEFAULT_MAX_IN_FLIGHT: usize = 20_000;
const DEFAULT_CONNECTIONS: usize = 256;
const DEFAULT_CLOSED_DURATION: Duration = Duration::from_secs(60);

/// Collects the error context: the file and its text.
struct Ctx<'a> {
    path: &'a Path,
    src: &'a str,
}

impl Ctx<'_> {
    fn err(&self, key: &str, msg: impl Into<String>) -> ScenarioError {
        let (line, col) = locate(self.src, key);
        ScenarioError::Invalid {
            path: self.path.to_path_buf(),
            line,
            col,
            key: key.to_string(),
            msg: msg.into(),
        }
    }
}

/// Parse and validate scenario text read from `path`.
pub fn build(src: &str, path: &Path, ov: &Overrides) -> Result<Plan, ScenarioError> {
    let file: ScenarioFile = toml::from_str(src).map_err(|e| {
        let (line, col) = e.span().map_or((1, 1), |s| line_col(src, s.start));
        ScenarioError::Parse {
            path: path.to_path_buf(),
            line,
            col,
            msg: e.message().to_string(),
        }
    })?;
    let cx = Ctx { path, src };
    let name = file.name.clone().unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".into())
    });
    if name.is_empty() || name.contains(['/', '\\']) {
        return Err(cx.err("name", "must be non-empty and contain no path separators"));
    }
    let sim = file.sim.clone().unwrap_or_default();
    if let Err(e) = sim.validate() {
        let msg = e.to_string();
        // The simulator names the offending key first ("faults.error_rate: ...").
        let key = msg
            .trim_start_matches("invalid simulator config: ")
            .split(':')
            .next()
            .unwrap_or("")
            .trim();
        return Err(cx.err(&format!("sim.{key}"), msg));
    }
    let target = build_target(&cx, &file.target, ov)?;
    let load = build_load(&cx, &file.load, ov)?;
    let users = build_users(&cx, &file, &load)?;
    let journey = build_journey(&cx, file.journey.as_ref(), &sim, target.url.is_none())?;
    let policies = build_policies(&cx, &file.policies)?;
    let rounds = build_rounds(&cx, &file, &policies, ov)?;
    let cohort_names: Vec<String> = rounds
        .iter()
        .flat_map(|r| r.cohorts.iter().map(|c| c.name.clone()))
        .collect();
    let step_names: Vec<String> = journey.steps.iter().map(|s| s.name.clone()).collect();
    let gates = (file.gates.iter().enumerate())
        .map(|(i, g)| {
            crate::gate::parse(g, &cohort_names, &step_names)
                .map_err(|e| cx.err(&format!("gates[{i}]"), e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let safety = build_safety(&cx, &file.safety, &load, ov)?;
    let out_dir = ov.out.clone().unwrap_or_else(|| {
        PathBuf::from("reports").join(format!(
            "{name}-{}",
            crate::timefmt::compact(SystemTime::now())
        ))
    });
    Ok(Plan {
        name,
        description: file.description.clone(),
        source: path.to_path_buf(),
        seed: file.seed.unwrap_or(1),
        target,
        load,
        users,
        journey,
        rounds,
        sim,
        gates,
        safety,
        out_dir,
    })
}

fn build_target(cx: &Ctx, t: &TargetSection, ov: &Overrides) -> Result<TargetPlan, ScenarioError> {
    let url = ov.target.clone().or_else(|| t.url.clone());
    if let Some(u) = &url {
        let parsed: http::Uri = u
            .parse()
            .map_err(|e| cx.err("target.url", format!("`{u}` is not a URL: {e}")))?;
        match parsed.scheme_str() {
            Some("http") | Some("https") => {}
            _ => {
                return Err(cx.err(
                    "target.url",
                    format!("`{u}` must start with http:// or https://"),
                ));
            }
        }
        if parsed.authority().is_none() {
            return Err(cx.err("target.url", format!("`{u}` has no host")));
        }
        if parsed.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(cx.err(
                "target.url",
                "credentials in the URL would end up in reports; use token_env",
            ));
        }
    }
    let token = match &t.token_env {
        None => None,
        Some(var) => match std::env::var(var) {
            Ok(v) if !v.is_empty() => Some(Secret::new(v)),
            _ => {
                return Err(cx.err(
                    "target.token_env",
                    format!("environment variable `{var}` is not set or empty"),
                ));
            }
        },
    };
    let mut headers = Vec::new();
    for (k, v) in &t.headers {
        let key = format!("target.headers.{k}");
        if http::HeaderName::from_bytes(k.as_bytes()).is_err() {
            return Err(cx.err(&key, "not a valid header name"));
        }
        if http::HeaderValue::from_str(v).is_err() {
            return Err(cx.err(&key, "not a valid header value"));
        }
        if k.eq_ignore_ascii_case("authorization") {
            return Err(cx.err(
                &key,
                "tokens never go in scenario files; name an environment variable in target.token_env",
            ));
        }
        headers.push((k.clone(), v.clone()));
    }
    if t.timeout.is_some_and(|d| d.is_zero()) {
        return Err(cx.err("target.timeout", "must be greater than 0"));
    }
    let connections = t.connections.unwrap_or(DEFAULT_CONNECTIONS);
    if connections == 0 {
        return Err(cx.err("target.connections", "must be at least 1"));
    }
    let ca_file = t
        .ca_file
        .as_ref()
        .map(|f| cx.path.parent().unwrap_or(Path::new(".")).join(f));
    if let Some(f) = &ca_file
        && !f.is_file()
    {
        return Err(cx.err(
            "target.ca_file",
            format!("{} is not a readable file", f.display()),
        ));
    }
    Ok(TargetPlan {
        url,
        token_env: t.token_env.clone(),
        token,
        headers,
        timeout: t.timeout,
        connections,
        ca_file,
        system_roots: t.system_roots,
        insecure: t.insecure || ov.insecure,
    })
}

fn finite_rate(cx: &Ctx, key: &str, r: f64) -> Result<f64, ScenarioError> {
    if !r.is_finite() || r < 0.0 {
        return Err(cx.err(key, format!("{r} is not a rate (arrivals per second >= 0)")));
    }
    Ok(r)
}

fn build_load(cx: &Ctx, l: &LoadSection, ov: &Overrides) -> Result<LoadPlan, ScenarioError> {
    let max_in_flight = l.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT);
    if max_in_flight == 0 {
        return Err(cx.err("load.max_in_flight", "must be at least 1"));
    }
    if let Some(r) = ov.rate
        && (!r.is_finite() || r <= 0.0)
    {
        return Err(cx.err("load", format!("--rate {r} must be a positive number")));
    }
    let (arrivals, natural) = match l.model {
        LoadModel::Open => {
            if l.stages.is_empty() {
                return Err(cx.err("load.stages", "the open model needs at least one stage"));
            }
            let mut stages = Vec::new();
            for (i, s) in l.stages.iter().enumerate() {
                let key = |k: &str| format!("load.stages[{i}].{k}");
                if s.duration.is_zero() {
                    return Err(cx.err(&key("duration"), "must be greater than 0"));
                }
                let (from, to) = match (s.rate, s.from, s.to) {
                    (Some(r), None, None) => {
                        let r = finite_rate(cx, &key("rate"), r)?;
                        (r, r)
                    }
                    (None, Some(f), Some(t)) => (
                        finite_rate(cx, &key("from"), f)?,
                        finite_rate(cx, &key("to"), t)?,
                    ),
                    _ => {
                        return Err(cx.err(
                            &key("rate"),
                            "a stage has either `rate` or both `from` and `to`",
                        ));
                    }
                };
                stages.push(Stage {
                    duration: s.duration,
                    from,
                    to,
                });
            }
            if let Some(r) = ov.rate {
                for s in &mut stages {
                    s.from = r;
                    s.to = r;
                }
            }
            if let (Some(d), [only]) = (ov.duration, stages.as_mut_slice()) {
                only.duration = d;
            }
            let total = stages.iter().map(|s| s.duration).sum();
            (Arrivals::Open { stages }, total)
        }
        LoadModel::TicketDrop => {
            let users = l
                .users
                .filter(|&u| u > 0)
                .ok_or_else(|| cx.err("load.users", "a ticket drop needs `users` > 0"))?;
            let mut over = l
                .over
                .ok_or_else(|| cx.err("load.over", "a ticket drop needs `over` (e.g. \"5s\")"))?;
            if let Some(r) = ov.rate {
                over = Duration::from_secs_f64(users as f64 / r);
            }
            (Arrivals::TicketDrop { users, over }, over)
        }
        LoadModel::Closed => {
            let users = l
                .users
                .filter(|&u| u > 0)
                .ok_or_else(|| cx.err("load.users", "the closed model needs `users` > 0"))?;
            if ov.rate.is_some() {
                return Err(cx.err(
                    "load.model",
                    "--rate applies to the open and ticket-drop models, not the closed one",
                ));
            }
            let iterations = l.iterations.unwrap_or(1);
            if iterations == 0 {
                return Err(cx.err("load.iterations", "must be at least 1"));
            }
            (
                Arrivals::Closed {
                    users,
                    iterations,
                    think_time: l.think_time.unwrap_or_default(),
                },
                DEFAULT_CLOSED_DURATION,
            )
        }
    };
    let mut duration = l.duration.unwrap_or(natural);
    if let Some(d) = ov.duration {
        duration = d;
    }
    if duration.is_zero() && !matches!(arrivals, Arrivals::TicketDrop { .. }) {
        return Err(cx.err("load.duration", "must be greater than 0"));
    }
    // A ticket drop over 0s releases every user at once; it still needs a moment to do so.
    let duration = duration.max(Duration::from_millis(1));
    Ok(LoadPlan {
        arrivals,
        duration,
        drain: l.drain.unwrap_or(DEFAULT_DRAIN),
        max_in_flight,
    })
}

fn build_users(cx: &Ctx, f: &ScenarioFile, load: &LoadPlan) -> Result<UsersPlan, ScenarioError> {
    let u = &f.users;
    if let Some(csv_path) = &u.csv {
        if u.count.is_some() || u.prefix.is_some() {
            return Err(cx.err("users.csv", "`csv` replaces `count` and `prefix`; keep one"));
        }
        let file = cx.path.parent().unwrap_or(Path::new(".")).join(csv_path);
        let users = read_users_csv(&file).map_err(|m| cx.err("users.csv", m))?;
        return Ok(UsersPlan::Listed { file, users });
    }
    let count = match (u.count, &load.arrivals) {
        (Some(0), _) => return Err(cx.err("users.count", "must be at least 1")),
        (Some(c), _) => c,
        (None, Arrivals::TicketDrop { users, .. }) | (None, Arrivals::Closed { users, .. }) => {
            *users
        }
        (None, Arrivals::Open { .. }) => 1_000_000,
    };
    Ok(UsersPlan::Generated {
        count,
        prefix: u.prefix.clone().unwrap_or_else(|| "user-".into()),
    })
}

/// `user_id,token` rows; the token column may be empty only if... never: every user needs one.
fn read_users_csv(path: &Path) -> Result<Vec<(String, Secret)>, String> {
    let mut rdr = csv::Reader::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let headers = rdr
        .headers()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .clone();
    let id_col = headers.iter().position(|h| h == "user_id");
    let tok_col = headers.iter().position(|h| h == "token");
    let (Some(id_col), Some(tok_col)) = (id_col, tok_col) else {
        return Err(format!(
            "{}: the header must name columns `user_id` and `token`",
            path.display()
        ));
    };
    let mut users = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| format!("{}: {e}", path.display()))?;
        let line = i + 2;
        let id = rec.get(id_col).unwrap_or("").trim();
        let tok = rec.get(tok_col).unwrap_or("").trim();
        if id.is_empty() || tok.is_empty() {
            return Err(format!("{}:{line}: empty user_id or token", path.display()));
        }
        users.push((id.to_string(), Secret::new(tok.to_string())));
    }
    if users.is_empty() {
        return Err(format!("{}: no users", path.display()));
    }
    Ok(users)
}

/// `next_zone_on` names target codes (`INSUFFICIENT_SEATS`) or statuses
/// (`HTTP_410`), parsed once here; the engine matches an operation's last
/// cause against them.
fn parse_next_zone_on(
    cx: &Ctx,
    names: Option<&[String]>,
) -> Result<Vec<crate::outcome::CauseMatch>, ScenarioError> {
    let Some(names) = names else {
        return Ok(vec![
            crate::outcome::CauseMatch::parse("INSUFFICIENT_SEATS")
                .map_err(|e| cx.err("journey.next_zone_on", e))?,
        ]);
    };
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            crate::outcome::CauseMatch::parse(n)
                .map_err(|e| cx.err(&format!("journey.next_zone_on[{i}]"), e))
        })
        .collect()
}

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
        think_time: None,
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

fn build_journey(
    cx: &Ctx,
    j: Option<&JourneySection>,
    sim: &SimConfig,
    embedded: bool,
) -> Result<Journey, ScenarioError> {
    let sim_event = sim.events.first();
    let event = match j.and_then(|j| j.event.clone()) {
        Some(e) => e,
        None if embedded => sim_event.map(|e| e.id.clone()).unwrap_or_default(),
        None => {
            return Err(cx.err(
                "journey.event",
                "required when the target is not the embedded simulator",
            ));
        }
    };
    let mut zones = j.map(|j| j.zones.clone()).unwrap_or_default();
    if zones.is_empty() {
        if !embedded {
            return Err(cx.err(
                "journey.zones",
                "required when the target is not the embedded simulator",
            ));
        }
        zones = sim
            .events
            .iter()
            .find(|e| e.id == event)
            .map(|e| e.zones.iter().map(|z| z.id.clone()).collect())
            .unwrap_or_default();
    }
    if event.is_empty() || zones.is_empty() {
        return Err(cx.err(
            "journey.zones",
            "the journey needs an event and at least one zone",
        ));
    }
    let quantity = j.and_then(|j| j.quantity).unwrap_or(1);
    if quantity == 0 {
        return Err(cx.err("journey.quantity", "must be at least 1"));
    }
    let next_zone_on = parse_next_zone_on(cx, j.and_then(|j| j.next_zone_on.as_deref()))?;
    let custom_steps = j.is_some_and(|j| !j.steps.is_empty());
    let steps_src = match j {
        Some(j) if custom_steps => j.steps.clone(),
        _ => default_steps(),
    };
    let mut vars: Vec<String> = BUILTIN_VARS.iter().map(|s| s.to_string()).collect();
    let mut steps = Vec::new();
    for (i, s) in steps_src.iter().enumerate() {
        let key = |k: &str| format!("journey.steps[{i}].{k}");
        if s.name.is_empty() || steps.iter().any(|p: &Step| p.name == s.name) {
            return Err(cx.err(
                &key("name"),
                format!("step names must be unique and non-empty (`{}`)", s.name),
            ));
        }
        let method = s.method.to_ascii_uppercase();
        if http::Method::from_bytes(method.as_bytes()).is_err() {
            return Err(cx.err(
                &key("method"),
                format!("`{}` is not an HTTP method", s.method),
            ));
        }
        if !s.path.starts_with('/') {
            return Err(cx.err(&key("path"), "must start with `/`"));
        }
        let path =
            Template::parse(&s.path, &vars).map_err(|e| cx.err(&key("path"), e.to_string()))?;
        let body = s
            .body
            .as_deref()
            .map(|b| Template::parse(b, &vars))
            .transpose()
            .map_err(|e| cx.err(&key("body"), e.to_string()))?;
        if let Some(p) = &s.precheck
            && !p.starts_with('/')
        {
            return Err(cx.err(&key("precheck"), "a JSON pointer starts with `/`"));
        }
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
        steps.push(Step {
            name: s.name.clone(),
            method,
            path,
            body,
            retry: s.retry,
            idempotent: s.idempotent,
            precheck: s.precheck.clone(),
            captures,
            think_time: s.think_time.unwrap_or_default(),
        });
    }
    let amplification_steps = amplification_steps(
        cx,
        &steps,
        j.and_then(|j| j.amplification_steps.as_deref()),
        custom_steps,
    )?;
    Ok(Journey {
        vars,
        event,
        zones,
        quantity,
        next_zone_on,
        steps,
        amplification_steps,
    })
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
        .filter(|&i| steps[i].retry && steps[i].precheck.is_none())
        .collect();
    Ok(if retried.is_empty() {
        (0..steps.len()).collect()
    } else {
        retried
    })
}

fn build_policies(
    cx: &Ctx,
    table: &BTreeMap<String, PolicyOverrides>,
) -> Result<BTreeMap<String, RetryPolicy>, ScenarioError> {
    let mut out = BTreeMap::new();
    for (name, ov) in table {
        let p = ov
            .build(name)
            .map_err(|e| cx.err(&format!("policies.{name}"), e.to_string()))?;
        out.insert(name.clone(), p);
    }
    Ok(out)
}

fn resolve_policy(
    cx: &Ctx,
    key: &str,
    name: &str,
    custom: &BTreeMap<String, RetryPolicy>,
) -> Result<RetryPolicy, ScenarioError> {
    if let Some(p) = custom.get(name) {
        return Ok(p.clone());
    }
    policy::preset(name).map_err(|e| cx.err(key, e.to_string()))
}

fn build_rounds(
    cx: &Ctx,
    f: &ScenarioFile,
    custom: &BTreeMap<String, RetryPolicy>,
    ov: &Overrides,
) -> Result<Vec<Round>, ScenarioError> {
    if let Some(name) = &ov.policy {
        let p = resolve_policy(cx, "compare", name, custom)?;
        return Ok(vec![Round {
            cohorts: vec![Cohort {
                name: name.clone(),
                policy: p,
                share: 1.0,
            }],
        }]);
    }
    if !f.compare.is_empty() && !f.cohorts.is_empty() {
        return Err(cx.err(
            "compare",
            "use `compare` (one fleet per policy, one after another) or `[[cohorts]]` (mixed fleet), not both",
        ));
    }
    if !f.cohorts.is_empty() {
        let mut cohorts = Vec::new();
        let mut total = 0.0;
        for (i, c) in f.cohorts.iter().enumerate() {
            let key = |k: &str| format!("cohorts[{i}].{k}");
            if !(c.share > 0.0 && c.share <= 1.0) {
                return Err(cx.err(&key("share"), "must be in (0, 1]"));
            }
            if cohorts.iter().any(|p: &Cohort| p.name == c.name) {
                return Err(cx.err(&key("name"), format!("duplicate cohort `{}`", c.name)));
            }
            total += c.share;
            let pname = c.policy.clone().unwrap_or_else(|| c.name.clone());
            let p = resolve_policy(cx, &key("policy"), &pname, custom)?;
            cohorts.push(Cohort {
                name: c.name.clone(),
                policy: p,
                share: c.share,
            });
        }
        if (total - 1.0).abs() > 1e-6 {
            return Err(cx.err("cohorts", format!("shares add up to {total}, not 1")));
        }
        return Ok(vec![Round { cohorts }]);
    }
    let names = if f.compare.is_empty() {
        vec!["compliant".to_string()]
    } else {
        f.compare.clone()
    };
    let mut rounds = Vec::new();
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            return Err(cx.err("compare", format!("`{name}` is listed twice")));
        }
        let p = resolve_policy(cx, "compare", name, custom)?;
        rounds.push(Round {
            cohorts: vec![Cohort {
                name: name.clone(),
                policy: p,
                share: 1.0,
            }],
        });
    }
    Ok(rounds)
}

fn build_safety(
    cx: &Ctx,
    s: &SafetySection,
    load: &LoadPlan,
    ov: &Overrides,
) -> Result<SafetyPlan, ScenarioError> {
    let cap = match ov.max_rps {
        Some(r) if r.is_finite() && r > 0.0 => r,
        Some(r) => {
            return Err(cx.err(
                "safety.max_rps",
                format!("--max-rps {r} must be a positive number"),
            ));
        }
        None => HARD_CAP_RPS,
    };
    let max_rps = match s.max_rps {
        Some(r) if !(r.is_finite() && r > 0.0) => {
            return Err(cx.err("safety.max_rps", "must be a positive number"));
        }
        Some(r) if r > cap => {
            return Err(cx.err(
                "safety.max_rps",
                format!("{r}/s is above the hard cap of {cap}/s; only --max-rps on the command line raises it"),
            ));
        }
        Some(r) => r,
        None => cap,
    };
    // Every arrival sends at least one attempt: a schedule above the cap
    // would only ever run throttled, so say so before anything starts.
    let peak = match &load.arrivals {
        Arrivals::Open { stages } => stages.iter().map(|s| s.from.max(s.to)).fold(0.0, f64::max),
        Arrivals::TicketDrop { users, over } => *users as f64 / over.as_secs_f64().max(1e-3),
        Arrivals::Closed { .. } => 0.0,
    };
    if peak > max_rps {
        return Err(cx.err(
            "load",
            format!(
                "the schedule peaks at {peak:.0} arrivals/s, above the {max_rps}/s attempt cap; \
                 lower the load, or raise the cap with safety.max_rps / --max-rps"
            ),
        ));
    }
    let mut abort = Vec::new();
    for (i, a) in s.abort.iter().enumerate() {
        abort.push(
            crate::engine::AbortRule::parse(&a.when, a.window)
                .map_err(|m| cx.err(&format!("safety.abort[{i}].when"), m))?,
        );
    }
    Ok(SafetyPlan { max_rps, abort })
}
