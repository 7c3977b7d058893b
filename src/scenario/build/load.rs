//! `[load]`: the arrival model, its stages, and how long arrivals and the
//! drain may last (with the `--rate` and `--duration` overrides).

use super::{Ctx, Overrides};
use crate::scenario::model::{ArrivalProcess, LoadModel, LoadSection};
use crate::scenario::plan::{Arrivals, Burst, LoadPlan, Stage};
use crate::scenario::{ScenarioError, bounds};
use std::time::Duration;

const DEFAULT_DRAIN: Duration = Duration::from_secs(30);
const DEFAULT_MAX_IN_FLIGHT: usize = 20_000;
const DEFAULT_CLOSED_DURATION: Duration = Duration::from_secs(60);

fn finite_rate(cx: &Ctx, key: &str, r: f64) -> Result<f64, ScenarioError> {
    if !r.is_finite() || r < 0.0 {
        return Err(cx.err(key, format!("{r} is not a rate (arrivals per second >= 0)")));
    }
    cx.within(key, bounds::rate(r))?;
    Ok(r)
}

/// A duration written in the file at `key`, or given as `--flag`.
fn bounded(
    cx: &Ctx,
    key: &str,
    flag: Option<&str>,
    d: Duration,
) -> Result<Duration, ScenarioError> {
    cx.within(
        key,
        bounds::duration(d).map_err(|m| match flag {
            Some(f) => format!("{f}: {m}"),
            None => m,
        }),
    )?;
    Ok(d)
}

pub(super) fn build_load(
    cx: &Ctx,
    l: &LoadSection,
    ov: &Overrides,
) -> Result<LoadPlan, ScenarioError> {
    let max_in_flight = l.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT);
    if max_in_flight == 0 {
        return Err(cx.err("load.max_in_flight", "must be at least 1"));
    }
    cx.within(
        "load.max_in_flight",
        bounds::count(max_in_flight, bounds::MAX_IN_FLIGHT),
    )?;
    if let Some(r) = ov.rate {
        if !r.is_finite() || r <= 0.0 {
            return Err(cx.err("load", format!("--rate {r} must be a positive number")));
        }
        cx.within("load", bounds::rate(r).map_err(|m| format!("--rate: {m}")))?;
    }
    if let Some(d) = ov.duration {
        bounded(cx, "load.duration", Some("--duration"), d)?;
    }
    let (arrivals, natural) = match l.model {
        LoadModel::Open => open_stages(cx, l, ov)?,
        LoadModel::TicketDrop => ticket_drop(cx, l, ov)?,
        LoadModel::Closed => closed_users(cx, l, ov)?,
    };
    if let Some(d) = l.duration {
        bounded(cx, "load.duration", None, d)?;
    }
    let mut duration = l.duration.unwrap_or(natural);
    if let Some(d) = ov.duration {
        duration = d;
    }
    if duration.is_zero() && !matches!(arrivals, Arrivals::TicketDrop { .. }) {
        return Err(cx.err("load.duration", "must be greater than 0"));
    }
    // A ticket drop over 0s releases every user at once; it still needs a moment to do so.
    let duration = duration.max(Duration::from_millis(1));
    let (process, bursts) = shape(cx, l, &arrivals, duration)?;
    Ok(LoadPlan {
        arrivals,
        process,
        bursts,
        duration,
        drain: bounded(cx, "load.drain", None, l.drain.unwrap_or(DEFAULT_DRAIN))?,
        max_in_flight,
    })
}

/// The open model's stages (`--rate` and `--duration` applied) and their
/// total length.
fn open_stages(
    cx: &Ctx,
    l: &LoadSection,
    ov: &Overrides,
) -> Result<(Arrivals, Duration), ScenarioError> {
    if l.stages.is_empty() {
        return Err(cx.err("load.stages", "the open model needs at least one stage"));
    }
    cx.within(
        "load.stages",
        bounds::count(l.stages.len(), bounds::MAX_STAGES).map_err(|m| format!("stages: {m}")),
    )?;
    let mut stages = Vec::new();
    for (i, s) in l.stages.iter().enumerate() {
        let key = |k: &str| format!("load.stages[{i}].{k}");
        if s.duration.is_zero() {
            return Err(cx.err(&key("duration"), "must be greater than 0"));
        }
        bounded(cx, &key("duration"), None, s.duration)?;
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
    let total = stages
        .iter()
        .fold(Duration::ZERO, |t, s| t.saturating_add(s.duration));
    if total > bounds::MAX_DURATION {
        return Err(cx.err(
            "load.stages",
            format!(
                "the stages add up to {}: at most {}",
                humantime::format_duration(total),
                humantime::format_duration(bounds::MAX_DURATION)
            ),
        ));
    }
    Ok((Arrivals::Open { stages }, total))
}

/// `load.users`: present, above zero and within bounds, for `model` (the
/// model that needs it, in words).
fn users(cx: &Ctx, l: &LoadSection, model: &str) -> Result<u64, ScenarioError> {
    let users = l
        .users
        .filter(|&u| u > 0)
        .ok_or_else(|| cx.err("load.users", format!("{model} needs `users` > 0")))?;
    cx.within("load.users", bounds::count(users, bounds::MAX_USERS))?;
    Ok(users)
}

/// A ticket drop's users and the time they arrive over (`--rate` sets it).
fn ticket_drop(
    cx: &Ctx,
    l: &LoadSection,
    ov: &Overrides,
) -> Result<(Arrivals, Duration), ScenarioError> {
    let users = users(cx, l, "a ticket drop")?;
    let mut over = l
        .over
        .ok_or_else(|| cx.err("load.over", "a ticket drop needs `over` (e.g. \"5s\")"))?;
    bounded(cx, "load.over", None, over)?;
    if let Some(r) = ov.rate {
        // users <= MAX_USERS and r > 0, but r may be tiny: the quotient may not fit.
        over = Duration::try_from_secs_f64(users as f64 / r).unwrap_or(Duration::MAX);
        let why = format!("--rate {r} spreads {users} users over");
        cx.within(
            "load.over",
            bounds::duration(over).map_err(|m| format!("{why} {m}")),
        )?;
    }
    Ok((Arrivals::TicketDrop { users, over }, over))
}

/// The closed model's users, iterations and think time, and its default
/// length.
fn closed_users(
    cx: &Ctx,
    l: &LoadSection,
    ov: &Overrides,
) -> Result<(Arrivals, Duration), ScenarioError> {
    let users = users(cx, l, "the closed model")?;
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
    cx.within(
        "load.iterations",
        bounds::count(iterations, bounds::MAX_ITERATIONS),
    )?;
    Ok((
        Arrivals::Closed {
            users,
            iterations,
            think_time: super::step_flow::pause(cx, "load.think_time", l.think_time.as_ref())?,
        },
        DEFAULT_CLOSED_DURATION,
    ))
}

/// `arrivals` and `bursts`: for the open and ticket-drop models only;
/// bursts within the arrivals' duration, in time order.
fn shape(
    cx: &Ctx,
    l: &LoadSection,
    arrivals: &Arrivals,
    duration: Duration,
) -> Result<(ArrivalProcess, Vec<Burst>), ScenarioError> {
    let closed = matches!(arrivals, Arrivals::Closed { .. });
    if closed && l.arrivals.is_some() {
        return Err(cx.err(
            "load.arrivals",
            "the closed model has no arrival schedule (users loop); use the open or ticket-drop model",
        ));
    }
    if closed && !l.bursts.is_empty() {
        return Err(cx.err(
            "load.bursts",
            "bursts apply to the open and ticket-drop models",
        ));
    }
    cx.within(
        "load.bursts",
        bounds::count(l.bursts.len(), bounds::MAX_STAGES).map_err(|m| format!("bursts: {m}")),
    )?;
    let mut bursts = Vec::with_capacity(l.bursts.len());
    let mut total = 0u64;
    for (i, b) in l.bursts.iter().enumerate() {
        let key = format!("load.bursts[{i}]");
        if b.count == 0 {
            return Err(cx.err(&format!("{key}.count"), "must be at least 1"));
        }
        if b.at > duration {
            return Err(cx.err(
                &format!("{key}.at"),
                format!(
                    "{} is after arrivals stop ({})",
                    humantime::format_duration(b.at),
                    humantime::format_duration(duration)
                ),
            ));
        }
        total = total.saturating_add(b.count);
        cx.within(
            &format!("{key}.count"),
            bounds::count(total, bounds::MAX_USERS).map_err(|m| format!("bursts in all: {m}")),
        )?;
        bursts.push(Burst {
            at: b.at,
            count: b.count,
        });
    }
    bursts.sort_by_key(|b| b.at);
    Ok((l.arrivals.unwrap_or_default(), bursts))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    const OPEN: &str = "[load]\nmodel = \"open\"\n\n[[load.stages]]\nduration = \"2s\"\nrate = 5\n";

    #[test]
    fn open_model_defaults() {
        let l = plan(OPEN).load;
        assert_eq!(l.drain, DEFAULT_DRAIN);
        assert_eq!(l.max_in_flight, DEFAULT_MAX_IN_FLIGHT);
        assert_eq!(l.duration, Duration::from_secs(2), "the stages' total");
        assert_eq!(
            l.arrivals,
            Arrivals::Open {
                stages: vec![Stage {
                    duration: Duration::from_secs(2),
                    from: 5.0,
                    to: 5.0
                }]
            }
        );
    }

    #[test]
    fn ramp_stage_and_chained_durations() {
        let l = plan(&format!(
            "{OPEN}\n[[load.stages]]\nduration = \"3s\"\nfrom = 5\nto = 50\n"
        ))
        .load;
        assert_eq!(l.duration, Duration::from_secs(5));
        let Arrivals::Open { stages } = l.arrivals else {
            panic!()
        };
        assert_eq!((stages[1].from, stages[1].to), (5.0, 50.0));
    }

    #[test]
    fn stage_errors_name_the_stage() {
        let (line, col, key, msg) = invalid(&format!(
            "{OPEN}\n[[load.stages]]\nduration = \"1s\"\nrate = -5\n"
        ));
        assert_eq!((line, col, key.as_str()), (10, 1, "load.stages[1].rate"));
        assert!(msg.contains("-5"), "{msg}");
        let (_, _, key, msg) = invalid(&format!(
            "{OPEN}\n[[load.stages]]\nduration = \"1s\"\nfrom = 5\n"
        ));
        assert_eq!(key, "load.stages[1].rate");
        assert!(msg.contains("`from` and `to`"), "{msg}");
        let (line, _, key, _) =
            invalid("[load]\nmodel = \"open\"\n[[load.stages]]\nduration = \"0s\"\nrate = 1\n");
        assert_eq!((line, key.as_str()), (4, "load.stages[0].duration"));
        let (_, _, key, _) = invalid("[load]\nmodel = \"open\"\n");
        assert_eq!(key, "load.stages");
    }

    #[test]
    fn zero_in_flight_is_rejected() {
        let (line, _, key, _) =
            invalid(&OPEN.replace("\"open\"\n", "\"open\"\nmax_in_flight = 0\n"));
        assert_eq!((line, key.as_str()), (3, "load.max_in_flight"));
    }

    #[test]
    fn ticket_drop_needs_users_and_over() {
        let (line, _, key, _) =
            invalid("[load]\nmodel = \"ticket-drop\"\nusers = 0\nover = \"1s\"\n");
        assert_eq!((line, key.as_str()), (3, "load.users"));
        let (_, _, key, _) = invalid("[load]\nmodel = \"ticket-drop\"\nusers = 5\n");
        assert_eq!(key, "load.over");
        let l = plan("[load]\nmodel = \"ticket-drop\"\nusers = 5\nover = \"0s\"\n").load;
        assert_eq!(
            l.duration,
            Duration::from_millis(1),
            "an instant drop still gets 1 ms"
        );
    }

    #[test]
    fn rate_override_respreads_a_ticket_drop() {
        let ov = Overrides {
            rate: Some(5.0),
            ..Overrides::default()
        };
        let l = plan_with(OK_LOAD, &ov).unwrap().load;
        assert_eq!(
            l.arrivals,
            Arrivals::TicketDrop {
                users: 10,
                over: Duration::from_secs(2)
            }
        );
        let bad = Overrides {
            rate: Some(-1.0),
            ..Overrides::default()
        };
        let (_, _, key, msg) = invalid_with(OK_LOAD, &bad);
        assert_eq!(key, "load");
        assert!(msg.contains("--rate -1"), "{msg}");
    }

    #[test]
    fn arrival_processes_and_bursts() {
        let drop = "[load]\nmodel = \"ticket-drop\"\nusers = 100\nover = \"10s\"\n";
        let l = plan(drop).load;
        assert_eq!((l.process, l.bursts.len()), (ArrivalProcess::Uniform, 0));
        let l = plan(&format!(
            "{drop}arrivals = \"poisson\"\nbursts = [{{ at = \"5s\", count = 30 }}, {{ at = \"1s\", count = 20 }}]\n"
        ))
        .load;
        assert_eq!(l.process, ArrivalProcess::Poisson);
        let at: Vec<u64> = l.bursts.iter().map(|b| b.at.as_secs()).collect();
        assert_eq!(at, [1, 5]);
        // Generated users cover the bursts' arrivals too.
        let p = plan(&format!("{drop}bursts = [{{ at = \"5s\", count = 30 }}]\n"));
        assert!(matches!(
            p.users,
            crate::scenario::UsersPlan::Generated { count: 130, .. }
        ));
        let cases = [
            (
                format!("{drop}bursts = [{{ at = \"5s\", count = 0 }}]\n"),
                "load.bursts[0].count",
            ),
            (
                format!("{drop}bursts = [{{ at = \"11s\", count = 5 }}]\n"),
                "load.bursts[0].at",
            ),
            (
                "[load]\nmodel = \"closed\"\nusers = 3\narrivals = \"poisson\"\n".into(),
                "load.arrivals",
            ),
            (
                "[load]\nmodel = \"closed\"\nusers = 3\nbursts = [{ at = \"1s\", count = 1 }]\n"
                    .into(),
                "load.bursts",
            ),
        ];
        for (src, key) in cases {
            let (_, _, k, m) = invalid(&src);
            assert!(k.starts_with(key), "{src}: {k}: {m}");
        }
        // Not even the right shape: a parse error at the line.
        for (bad, line) in [
            (format!("{drop}arrivals = \"bursty\"\n"), "5:"),
            (format!("{drop}bursts = [{{ at = \"1s\" }}]\n"), "5:"),
        ] {
            let e = plan_with(&bad, &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(e.contains(&format!("dir/s.toml:{line}")), "{e}");
        }
    }

    #[test]
    fn a_closed_models_think_time_takes_a_distribution() {
        let src = "[load]\nmodel = \"closed\"\nusers = 3\niterations = 4\nthink_time = { min = \"1s\", max = \"3s\" }\n";
        let Arrivals::Closed { think_time, .. } = plan(src).load.arrivals else {
            panic!("closed")
        };
        assert_eq!(
            think_time,
            crate::scenario::Pause::Uniform {
                min: Duration::from_secs(1),
                max: Duration::from_secs(3)
            }
        );
        let p = plan("[load]\nmodel = \"closed\"\nusers = 3\nthink_time = { mean = \"2s\" }\n");
        assert!(
            p.load_summary().contains("think time exponential, mean 2s"),
            "{}",
            p.load_summary()
        );
    }

    #[test]
    fn closed_model_defaults_and_refuses_rate() {
        let src = "[load]\nmodel = \"closed\"\nusers = 3\n";
        let l = plan(src).load;
        assert_eq!(l.duration, DEFAULT_CLOSED_DURATION);
        assert_eq!(
            l.arrivals,
            Arrivals::Closed {
                users: 3,
                iterations: 1,
                think_time: crate::scenario::Pause::NONE
            }
        );
        let ov = Overrides {
            rate: Some(5.0),
            ..Overrides::default()
        };
        let (line, _, key, _) = invalid_with(src, &ov);
        assert_eq!((line, key.as_str()), (2, "load.model"));
        let (line, _, key, _) = invalid(&format!("{src}iterations = 0\n"));
        assert_eq!((line, key.as_str()), (4, "load.iterations"));
    }

    #[test]
    fn durations_counts_and_rates_are_bounded() {
        let huge = "9300000000000000000s";
        for (src, want_line, want_key, want) in [
            (
                OPEN.replace("\"2s\"", &format!("\"{huge}\"")),
                5,
                "load.stages[0].duration",
                "at most 30days",
            ),
            (
                OPEN.replace("rate = 5", "rate = 1e300"),
                6,
                "load.stages[0].rate",
                "at most 10000000/s",
            ),
            (
                OPEN.replace("rate = 5", "rate = inf"),
                6,
                "load.stages[0].rate",
                "not a rate",
            ),
            (
                OPEN.replace("rate = 5", "rate = nan"),
                6,
                "load.stages[0].rate",
                "not a rate",
            ),
            (
                OPEN.replace(
                    "\"open\"\n",
                    "\"open\"\nmax_in_flight = 2305843009213693952\n",
                ),
                3,
                "load.max_in_flight",
                "at most 10000000",
            ),
            (
                OPEN.replace("\"open\"\n", "\"open\"\ndrain = \"31days\"\n"),
                3,
                "load.drain",
                "at most 30days",
            ),
            (
                OPEN.replace("\"open\"\n", &format!("\"open\"\nduration = \"{huge}\"\n")),
                3,
                "load.duration",
                "at most 30days",
            ),
            (
                format!(
                    "{OPEN}\n[[load.stages]]\nduration = \"20days\"\nrate = 0\n\n[[load.stages]]\nduration = \"20days\"\nrate = 0\n"
                ),
                4,
                "load.stages",
                "the stages add up to 1month 9days",
            ),
            (
                "[load]\nmodel = \"ticket-drop\"\nusers = 100000001\nover = \"1s\"\n".into(),
                3,
                "load.users",
                "at most 100000000",
            ),
            (
                "[load]\nmodel = \"ticket-drop\"\nusers = 1\nover = \"31days\"\n".into(),
                4,
                "load.over",
                "at most 30days",
            ),
            (
                "[load]\nmodel = \"closed\"\nusers = 1\niterations = 1000001\n".into(),
                4,
                "load.iterations",
                "at most 1000000",
            ),
            (
                "[load]\nmodel = \"closed\"\nusers = 1\nthink_time = \"31days\"\n".into(),
                4,
                "load.think_time",
                "at most 30days",
            ),
        ] {
            let (line, col, key, msg) = invalid(&src);
            assert_eq!((line, col, key.as_str()), (want_line, 1, want_key), "{src}");
            assert!(msg.contains(want), "{src}: {msg}");
        }
    }

    #[test]
    fn command_line_values_are_bounded_too() {
        let ov = |rate, duration| Overrides {
            rate,
            duration,
            ..Overrides::default()
        };
        let (_, _, key, msg) = invalid_with(OK_LOAD, &ov(Some(1e-300), None));
        assert_eq!(key, "load.over");
        assert!(
            msg.contains("--rate") && msg.contains("at most 30days"),
            "{msg}"
        );
        let (_, _, key, msg) = invalid_with(OK_LOAD, &ov(Some(2e7), None));
        assert_eq!(key, "load");
        assert!(
            msg.contains("--rate") && msg.contains("at most 10000000/s"),
            "{msg}"
        );
        let (_, _, key, msg) = invalid_with(OPEN, &ov(None, Some(Duration::MAX)));
        assert_eq!(key, "load.duration");
        assert!(
            msg.contains("--duration") && msg.contains("at most 30days"),
            "{msg}"
        );
    }

    #[test]
    fn the_maxima_themselves_are_accepted() {
        let l = plan(&format!(
            "[load]\nmodel = \"open\"\nmax_in_flight = {}\ndrain = \"30days\"\n[[load.stages]]\nduration = \"30days\"\nrate = 0\n",
            bounds::MAX_IN_FLIGHT
        ))
        .load;
        assert_eq!(l.max_in_flight, bounds::MAX_IN_FLIGHT);
        assert_eq!(
            (l.duration, l.drain),
            (bounds::MAX_DURATION, bounds::MAX_DURATION)
        );
    }

    #[test]
    fn duration_override_replaces_a_single_stage() {
        let ov = Overrides {
            duration: Some(Duration::from_secs(7)),
            ..Overrides::default()
        };
        let l = plan_with(OPEN, &ov).unwrap().load;
        assert_eq!(l.duration, Duration::from_secs(7));
        let Arrivals::Open { stages } = l.arrivals else {
            panic!()
        };
        assert_eq!(stages[0].duration, Duration::from_secs(7));
    }
}
