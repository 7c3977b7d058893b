//! The round's once-a-second ticker: at the end of each second of the
//! round it hands the collectors' deltas to the stream task, samples the
//! journeys in flight and checks the abort rules, in that order. One task
//! and one interval on tokio's clock, so it ticks on a paused clock
//! (`--virtual-time`) as on a real one.
//!
//! A tick that comes late (a starved runtime) counts every missed second
//! for the abort rules (each one a second of history, the first holding
//! everything since the last tick), while the hand-over and the sample are
//! done once for the lot.

use super::abort;
use super::ctx::RoundCtx;
use super::stream::Collectors;
use crate::scenario::AbortRule;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::task::Poll;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

const SECOND: Duration = Duration::from_secs(1);

/// Spawn the ticker; it stops when `done` is cancelled and returns, per
/// fleet, the journeys in flight at the end of each second.
pub fn spawn(
    ctx: Arc<RoundCtx>,
    collectors: Arc<Collectors>,
    rules: Vec<AbortRule>,
    control: super::Control,
    done: CancellationToken,
) -> JoinHandle<Vec<Vec<u64>>> {
    tokio::spawn(async move {
        let streaming = collectors.streaming();
        let mut in_flight: Vec<Vec<u64>> = vec![Vec::new(); ctx.fleets.len()];
        let mut watch = (!rules.is_empty()).then(|| abort::Watch::new(rules, &ctx));
        let mut tick = tokio::time::interval_at(ctx.start + SECOND, SECOND);
        tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
        loop {
            let at = tokio::select! {
                biased;
                _ = done.cancelled() => {
                    // A second that ended as the round did still hands over.
                    if streaming && tick_ready(&mut tick).await {
                        collectors.hand_over();
                    }
                    break;
                }
                at = tick.tick() => at,
            };
            // The last (or only) tick of a late burst.
            let current = at + SECOND > Instant::now();
            if streaming && current {
                collectors.hand_over();
            }
            if current {
                for (s, c) in in_flight.iter_mut().zip(&ctx.fleets) {
                    s.push(c.live.in_flight.load(Relaxed));
                }
            }
            if let Some(reason) = watch.as_mut().and_then(|w| w.tick(&ctx)) {
                control.abort(reason);
                watch = None;
            }
        }
        in_flight
    })
}

/// Whether a tick is due now (taken if it is), without waiting for one.
async fn tick_ready(tick: &mut tokio::time::Interval) -> bool {
    std::future::poll_fn(|cx| Poll::Ready(tick.poll_tick(cx).is_ready())).await
}
