//! The release worker's ledger on a paused clock: time in queue as the
//! server saw it, however long; `queue.unsold_while_waiting` counts seats
//! on sale while users wait in seat-seconds, and nothing when the queue
//! empties at every run.

use super::release_all;
use crate::sim::world::World;
use crate::sim::{EventConfig, SimConfig, ZoneConfig};
use std::time::Duration;
use tokio::time::Instant;

const SEATS: u32 = 100;
const USERS: u64 = 5;

fn world(release_batch: u32) -> World {
    world_with(release_batch, Duration::ZERO)
}

fn world_with(release_batch: u32, min_queue_time: Duration) -> World {
    let mut cfg = SimConfig::booking_rush();
    cfg.events = vec![EventConfig {
        id: "EVT1".into(),
        zones: vec![ZoneConfig {
            id: "Z1".into(),
            seats: SEATS,
        }],
    }];
    cfg.booking_rush.release_batch = release_batch;
    cfg.booking_rush.min_queue_time = min_queue_time;
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

#[tokio::test(start_paused = true)]
async fn time_in_queue_is_recorded_however_long_the_wait() {
    // Nobody is let out before 10 minutes in the queue.
    let w = world_with(0, Duration::from_secs(600));
    let rush = w.rush.as_ref().expect("booking-rush world");
    let join = |from: u32, to: u32| {
        let mut q = rush.queues.lock(0).expect("EVT1's queue");
        for u in from..to {
            q.join(&format!("u{u}"), 0, Instant::now()).expect("joins");
        }
    };
    let (early, late) = (Duration::from_secs(20 * 60), Duration::from_secs(10 * 60));
    join(0, 10);
    let half = (early - late) / 2;
    tokio::time::advance(half).await;
    release_all(&w);
    assert_eq!(unsold(&w).1, 0, "none has waited 10 minutes yet");
    tokio::time::advance(half).await;
    join(10, 100);
    tokio::time::advance(late).await;
    release_all(&w);
    let q = w.snapshot().queue.expect("queue ledger");
    let t = q.time_in_queue_ms;
    let ms = |d: Duration| d.as_millis() as u64;
    assert_eq!(t.count, 100);
    assert_eq!(t.sum, 10 * ms(early) + 90 * ms(late));
    // Three significant figures: within 0.1 % of the wait.
    let near = |got: u64, want: Duration| got.abs_diff(ms(want)) * 1000 <= ms(want);
    assert!(near(t.p50, late), "p50 {} ms", t.p50);
    assert!(near(t.p90, late), "p90 {} ms", t.p90);
    assert!(near(t.p99, early), "p99 {} ms", t.p99);
    assert!(near(t.max, early), "max {} ms", t.max);
}
