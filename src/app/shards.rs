//! `--shard` and `--start-at` at the command line: the plan line `validate`
//! prints, and what a shard says about the common start.

use crate::engine::schedule::Schedule;
use crate::scenario::{Arrivals, Plan};
use std::time::SystemTime;

/// Arrivals of the whole schedule (open and ticket-drop) or users (closed).
fn total_arrivals(plan: &Plan) -> u64 {
    match &plan.load.arrivals {
        Arrivals::Closed { users, .. } => *users,
        Arrivals::TicketDrop { users, .. } => {
            users + plan.load.bursts.iter().map(|b| b.count).sum::<u64>()
        }
        _ => Schedule::new(&plan.load, plan.seed)
            .take_while(|t| *t <= plan.load.duration)
            .count() as u64,
    }
}

/// `shard 1/4: 250 of 1000 arrivals (arrival k when k mod 4 == 1), ...`.
pub fn plan_line(plan: &Plan) -> Option<String> {
    let s = plan.shard?;
    let total = total_arrivals(plan);
    let what = if matches!(plan.load.arrivals, Arrivals::Closed { .. }) {
        "users"
    } else {
        "arrivals"
    };
    Some(format!(
        "shard {s}: {} of {total} {what} (number k when k mod {} == {}); ids keep their global k, fleets keep their shares",
        s.share_of(total),
        s.count,
        s.index
    ))
}

/// What a shard says about `--start-at` before its run: how long it will
/// wait, or, when it is already late, by how much (on stderr and, returned,
/// as a report note). The wait itself is the run's (`run::execute` sleeps
/// until each round's start after reading a shared target's ledger, so no
/// reading is taken after another shard's first requests).
pub fn start_note(at: SystemTime) -> Option<String> {
    match at.duration_since(SystemTime::now()) {
        Ok(wait) => {
            eprintln!(
                "waiting {:.1}s for --start-at {}",
                wait.as_secs_f64(),
                crate::timefmt::rfc3339(at)
            );
            None
        }
        Err(e) => {
            let late = e.duration();
            let note = format!(
                "started {:.3}s after --start-at {}: its per-second series are that much later than the other shards'",
                late.as_secs_f64(),
                crate::timefmt::rfc3339(at)
            );
            eprintln!("note: {note}");
            Some(note)
        }
    }
}
