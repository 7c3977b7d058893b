//! `stampede run --trace N`: the plan cut down to N journeys of one user in
//! the first fleet, one after another, so every request can be printed.

use super::plan::{Arrivals, Plan, UsersPlan};
use std::time::Duration;

/// Turn `plan` into a trace run of `n` journeys (at least one).
pub fn for_trace(plan: &mut Plan, n: u64) {
    let n = n.max(1);
    plan.trace = true;
    plan.load.arrivals = Arrivals::Closed {
        users: 1,
        iterations: n,
        think_time: crate::scenario::Pause::NONE,
    };
    plan.load.max_in_flight = 1;
    // Room for N journeys one after another (timeouts still bound each).
    plan.load.duration = plan.load.duration.max(Duration::from_secs(300));
    plan.rounds.truncate(1);
    if let Some(r) = plan.rounds.first_mut() {
        r.fleets.truncate(1);
        if let Some(c) = r.fleets.first_mut() {
            c.share = 1.0;
        }
    }
    // Gates and abort rules are about load; a trace is not one.
    plan.gates.clear();
    plan.safety.abort.clear();
}

/// Every secret value of the plan, for the trace to redact.
pub fn secrets(plan: &Plan) -> Vec<String> {
    let mut out: Vec<String> = plan
        .target
        .token
        .iter()
        .map(|t| t.expose().to_string())
        .collect();
    if let UsersPlan::Listed { rows, id_col, .. } = &plan.users {
        for r in rows {
            for (i, v) in r.iter().enumerate() {
                if i != *id_col {
                    out.push(v.expose().to_string());
                }
            }
        }
    }
    out
}
