//! `[safety]`: the attempts/s cap and the abort rules for shared staging.

use super::{Ctx, Overrides};
use crate::scenario::model::SafetySection;
use crate::scenario::plan::{Arrivals, HARD_CAP_RPS, LoadPlan, SafetyPlan};
use crate::scenario::{ScenarioError, bounds};

pub(super) fn build_safety(
    cx: &Ctx,
    s: &SafetySection,
    load: &LoadPlan,
    ov: &Overrides,
) -> Result<SafetyPlan, ScenarioError> {
    let cap = match ov.max_rps {
        Some(r) if r.is_finite() && r > 0.0 => {
            cx.within(
                "safety.max_rps",
                bounds::rate(r).map_err(|m| format!("--max-rps: {m}")),
            )?;
            r
        }
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
        Some(r) if r > bounds::MAX_RATE => {
            return Err(cx.err("safety.max_rps", bounds::rate(r).unwrap_err()));
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
    } + burst_peak(&load.bursts);
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
        let window = format!("safety.abort[{i}].for");
        if a.window.is_zero() {
            return Err(cx.err(&window, "must be at least 1s"));
        }
        cx.within(&window, bounds::duration(a.window))?;
        abort.push(
            crate::scenario::AbortRule::parse(&a.when, a.window)
                .map_err(|m| cx.err(&format!("safety.abort[{i}].when"), m))?,
        );
    }
    Ok(SafetyPlan { max_rps, abort })
}

/// The most burst arrivals within any one second (each burst's instant
/// starts a window): they come on top of the schedule's rate.
fn burst_peak(bursts: &[crate::scenario::Burst]) -> f64 {
    bursts
        .iter()
        .map(|b| {
            let end = b.at + std::time::Duration::from_secs(1);
            (bursts.iter())
                .filter(|o| o.at >= b.at && o.at < end)
                .map(|o| o.count as f64)
                .sum::<f64>()
        })
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn cap_defaults_to_the_hard_cap() {
        let s = plan(OK_LOAD).safety;
        assert_eq!(s.max_rps, HARD_CAP_RPS);
        assert!(s.abort.is_empty());
    }

    #[test]
    fn file_may_lower_the_cap_but_only_the_command_line_raises_it() {
        let src = format!("{OK_LOAD}\n[safety]\nmax_rps = 50000\n");
        let (line, col, key, msg) = invalid(&src);
        assert_eq!((line, col, key.as_str()), (7, 1, "safety.max_rps"));
        assert!(msg.contains("--max-rps"), "{msg}");
        let ov = Overrides {
            max_rps: Some(60_000.0),
            ..Overrides::default()
        };
        assert_eq!(plan_with(&src, &ov).unwrap().safety.max_rps, 50_000.0);
        let low = plan(&format!("{OK_LOAD}\n[safety]\nmax_rps = 100\n"));
        assert_eq!(low.safety.max_rps, 100.0);
        let (_, _, key, _) = invalid(&format!("{OK_LOAD}\n[safety]\nmax_rps = 0\n"));
        assert_eq!(key, "safety.max_rps");
    }

    #[test]
    fn the_cap_is_bounded_from_the_file_and_the_command_line() {
        let ov = Overrides {
            max_rps: Some(1e300),
            ..Overrides::default()
        };
        let (_, _, key, msg) = invalid_with(OK_LOAD, &ov);
        assert_eq!(key, "safety.max_rps");
        assert!(
            msg.contains("--max-rps") && msg.contains("at most 10000000/s"),
            "{msg}"
        );
        let ov = Overrides {
            max_rps: Some(1e7),
            ..Overrides::default()
        };
        let (line, _, key, msg) =
            invalid_with(&format!("{OK_LOAD}\n[safety]\nmax_rps = 1e8\n"), &ov);
        assert_eq!((line, key.as_str()), (7, "safety.max_rps"));
        assert!(msg.contains("at most 10000000/s"), "{msg}");
        assert_eq!(plan_with(OK_LOAD, &ov).unwrap().safety.max_rps, 1e7);
    }

    #[test]
    fn a_schedule_above_the_cap_is_refused() {
        // 10 users over 1 s peak at 10/s.
        let (_, _, key, msg) = invalid(&format!("{OK_LOAD}\n[safety]\nmax_rps = 5\n"));
        assert_eq!(key, "load");
        assert!(msg.contains("peaks at 10 arrivals/s"), "{msg}");
    }

    #[test]
    fn abort_rules_are_parsed_and_errors_point_at_them() {
        let p = plan(&format!(
            "{OK_LOAD}\n[[safety.abort]]\nwhen = \"error_rate > 50%\"\nfor = \"10s\"\n"
        ));
        assert_eq!(p.safety.abort.len(), 1);
        assert_eq!(p.safety.abort[0].above, 0.5);
        assert_eq!(p.safety.abort[0].window, std::time::Duration::from_secs(10));
        let (line, _, key, msg) = invalid(&format!(
            "{OK_LOAD}\n[[safety.abort]]\nwhen = \"error_rate > 5%\"\nfor = \"1s\"\n\n[[safety.abort]]\nwhen = \"latency > 5s\"\nfor = \"1s\"\n"
        ));
        assert_eq!((line, key.as_str()), (11, "safety.abort[1].when"));
        assert!(msg.contains("latency"), "{msg}");
        let (line, col, key, msg) = invalid(&format!(
            "{OK_LOAD}\n[[safety.abort]]\nwhen = \"error_rate > 5%\"\nfor = \"9300000000000000000s\"\n"
        ));
        assert_eq!((line, col, key.as_str()), (8, 1, "safety.abort[0].for"));
        assert!(msg.contains("at most 30days"), "{msg}");
        let (line, _, key, _) = invalid(&format!(
            "{OK_LOAD}\n[[safety.abort]]\nwhen = \"error_rate > 5%\"\nfor = \"0s\"\n"
        ));
        assert_eq!((line, key.as_str()), (8, "safety.abort[0].for"));
    }
}
