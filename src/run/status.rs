//! How a run ended: its status and the reason a reader is given.

use super::rounds::Collected;
use crate::report::RunStatus;

/// The run's status and stop reason from what its rounds left (`rounds` is
/// how many the plan has; `aborted`, why an abort rule stopped the run).
/// The first rung that holds wins: a panicked user (the numbers are
/// incomplete), an abort rule, a stop or a round that never ran, an
/// expired drain. Rounds that never ran are said in the reason whatever
/// the status.
pub(super) fn of(
    run: &Collected,
    rounds: usize,
    aborted: Option<String>,
) -> (RunStatus, Option<String>) {
    let mut stop_reason = run.stop_reason.clone();
    let skipped = rounds - run.results.iter().map(|c| c.round + 1).max().unwrap_or(0);
    let status = if run.panics > 0 {
        stop_reason = Some(format!(
            "{} simulated users' tasks panicked; the numbers are incomplete",
            run.panics
        ));
        RunStatus::Failed
    } else if let Some(reason) = aborted {
        stop_reason = Some(reason);
        RunStatus::Aborted
    } else if stop_reason.is_some() || skipped > 0 {
        RunStatus::Interrupted
    } else if run.drain_expired {
        stop_reason =
            Some("the drain deadline expired: the slowest journeys were cancelled".into());
        RunStatus::DrainExpired
    } else {
        RunStatus::Completed
    };
    if skipped > 0 {
        let why = stop_reason.take().unwrap_or_else(|| "interrupted".into());
        stop_reason = Some(format!("{why}; {skipped} round(s) never ran"));
    }
    (status, stop_reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What, the rounds' leftovers, the abort reason, the status and stop reason.
    type Case<'a> = (
        &'a str,
        Collected,
        Option<String>,
        RunStatus,
        Option<&'a str>,
    );

    /// A run whose results cover `ran` of its rounds.
    fn ran(ran: usize) -> Collected {
        let mut results = crate::sample::sample_report().results;
        results.truncate(1);
        results[0].round = ran.saturating_sub(1);
        Collected {
            results: if ran == 0 { Vec::new() } else { results },
            ..Collected::default()
        }
    }

    #[test]
    fn the_first_rung_that_holds_is_the_status() {
        let drained_late = Collected {
            drain_expired: true,
            ..ran(2)
        };
        let stopped = Collected {
            stop_reason: Some("interrupted: arrivals stopped early".into()),
            drain_expired: true,
            ..ran(2)
        };
        let panicked = Collected {
            panics: 3,
            stop_reason: Some("ignored".into()),
            ..ran(2)
        };
        let abort = || Some("error_rate > 50% for 10s".to_string());
        let cases: Vec<Case<'_>> = vec![
            ("completed", ran(2), None, RunStatus::Completed, None),
            (
                "drain expired",
                drained_late,
                None,
                RunStatus::DrainExpired,
                Some("the drain deadline expired: the slowest journeys were cancelled"),
            ),
            (
                "a stop outranks the drain",
                stopped,
                None,
                RunStatus::Interrupted,
                Some("interrupted: arrivals stopped early"),
            ),
            (
                "a round never ran",
                ran(1),
                None,
                RunStatus::Interrupted,
                Some("interrupted; 1 round(s) never ran"),
            ),
            (
                "an abort rule, rounds skipped",
                ran(1),
                abort(),
                RunStatus::Aborted,
                Some("error_rate > 50% for 10s; 1 round(s) never ran"),
            ),
            (
                "a panic outranks everything",
                panicked,
                abort(),
                RunStatus::Failed,
                Some("3 simulated users' tasks panicked; the numbers are incomplete"),
            ),
        ];
        for (what, run, aborted, status, reason) in cases {
            let (got, why) = of(&run, 2, aborted);
            assert_eq!(got, status, "{what}");
            assert_eq!(why.as_deref(), reason, "{what}");
        }
    }
}
