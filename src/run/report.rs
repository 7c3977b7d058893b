//! The finished report judged: its trigger chosen, time to recovery after
//! it, and the gates evaluated.

use crate::report::Report;
use crate::scenario::Plan;

/// `report` with the trigger (the scenario's declared one, else the
/// embedded simulator's first fault window), each fleet's time to
/// recovery after it (report::recovery) and the plan's gates evaluated.
pub(super) fn judge(plan: &Plan, mut report: Report) -> Report {
    report.trigger = match plan.trigger {
        Some((from_s, to_s)) => Some(crate::report::Trigger { from_s, to_s }),
        None if plan.target.url.is_none() => {
            crate::report::recovery::trigger(plan.sim.faults.windows.iter().map(|w| (w.from, w.to)))
        }
        None => None,
    };
    for c in &mut report.results {
        c.recovery_s = crate::report::recovery::recovery(&c.timeseries, report.trigger.as_ref());
    }
    report.gates = crate::gate::evaluate_all(&plan.gates, &report);
    let notes = crate::gate::no_success_notes(&plan.gates, &report);
    report.notes.extend(notes);
    report
}
