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
