//! `queue.unsold_while_waiting` through the release worker: seats on sale
//! while users wait are counted in seat-seconds, and nothing is counted
//! when the queue empties at every run.

use super::release_all;
use crate::sim::world::World;
use crate::sim::{EventConfig, SimConfig, ZoneConfig};
use std::time::Duration;
use tokio::time::Instant;

const SEATS: u32 = 100;
const USERS: u64 = 5;

fn world(release_batch: u32) -> World {
    let mut cfg = SimConfig::booking_rush();
    cfg.events = vec![EventConfig {
        id: "EVT1".into(),
        zones: vec![ZoneConfig {
            id: "Z1".into(),
            seats: SEATS,
        }],
    }];
    cfg.booking_rush.release_batch = release_batch;
    World::new(&cfg)
}

/// Joins `USERS` users now, then runs the release worker once a second
/// `runs` times (the first run at the join instant).
async fn drive(w: &World, runs: u32) {
    let rush = w.rush.as_ref().expect("booking-rush world");
    {
        let mut q = rush.queues.lock(0).expect("EVT1's queue");
        for u in 0..USERS {
            q.join(&format!("u{u}"), 0, Instant::now()).expect("joins");
        }
    }
    for i in 0..runs {
        if i > 0 {
            tokio::time::advance(Duration::from_secs(1)).await;
        }
        release_all(w);
    }
}

fn unsold(w: &World) -> (u64, u64) {
    let q = w.snapshot().queue.expect("queue ledger");
    (q.unsold_while_waiting, q.passes_issued)
}

#[tokio::test(start_paused = true)]
async fn seats_on_sale_while_the_queue_trickles_are_counted() {
    let w = world(1);
    drive(&w, 8).await;
    let (seat_s, issued) = unsold(&w);
    assert_eq!(issued, USERS, "one let out per run until none wait");
    // Runs 2..=USERS-1 each end with someone still waiting, one second
    // after the previous run, with every seat on sale; the first run has
    // no previous one and the later ones leave nobody waiting.
    let waited_runs = USERS - 2;
    assert_eq!(seat_s, u64::from(SEATS) * waited_runs);
}

#[tokio::test(start_paused = true)]
async fn nothing_is_counted_when_the_queue_empties_at_every_run() {
    let w = world(0);
    drive(&w, 8).await;
    let (seat_s, issued) = unsold(&w);
    assert_eq!(issued, USERS, "everyone let out at the first run");
    assert_eq!(seat_s, 0);
}
