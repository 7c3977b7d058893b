//! `GET /api/v1/queue/position/{event_id}/stream`: Server-Sent Events.
//! A `position` frame at once and every `sse_interval` (numbered `id:`s,
//! going on from a reconnect's `Last-Event-ID`), closed after the frame
//! that carries the pass; `event: error` `{"event":"timeout"}` after
//! `sse_timeout`, `{"event":"not_in_queue"}` for a user neither waiting nor
//! holding a pass; `: keep-alive` after `sse_keepalive` without a write.

use crate::sim::world::World;
use bytes::Bytes;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const NOT_IN_QUEUE: &str = "event: error\ndata: {\"event\":\"not_in_queue\"}\n\n";
const TIMEOUT: &[u8] = b"event: error\ndata: {\"event\":\"timeout\"}\n\n";
const KEEP_ALIVE: &[u8] = b": keep-alive\n\n";

/// One stream's writer, run on its own task until the stream ends, the
/// client goes, or the simulator shuts down.
pub async fn stream(
    world: Arc<World>,
    user: String,
    event: Option<usize>,
    first_id: u64,
    tx: mpsc::Sender<Bytes>,
    cancel: CancellationToken,
) {
    tokio::select! {
        biased;
        () = frames(&world, &user, event, first_id, &tx) => {}
        () = cancel.cancelled() => {}
    }
}

async fn frames(
    world: &World,
    user: &str,
    event: Option<usize>,
    mut id: u64,
    tx: &mpsc::Sender<Bytes>,
) {
    let Some(rush) = world.rush.as_ref() else {
        return;
    };
    let cfg = &rush.cfg;
    let deadline = Instant::now() + cfg.sse_timeout;
    let mut retry = cfg.sse_retry.map(|d| format!("retry: {}\n", d.as_millis()));
    loop {
        let now = Instant::now();
        let pos = event
            .and_then(|e| rush.queues.lock(e))
            .and_then(|q| q.position(user, now));
        let prefix = retry.take().unwrap_or_default();
        let Some(pos) = pos else {
            let _ = tx
                .send(Bytes::from(format!("{prefix}{NOT_IN_QUEUE}")))
                .await;
            return;
        };
        let frame = format!(
            "{prefix}id: {id}\nevent: position\ndata: {}\n\n",
            pos.json()
        );
        if tx.send(Bytes::from(frame)).await.is_err() {
            return;
        }
        id += 1;
        if pos.pass.is_some() {
            return;
        }
        let next = Instant::now() + cfg.sse_interval;
        let mut last_write = Instant::now();
        loop {
            let keepalive = last_write + cfg.sse_keepalive;
            tokio::time::sleep_until(next.min(keepalive).min(deadline)).await;
            let now = Instant::now();
            if now >= deadline {
                let _ = tx.send(Bytes::from_static(TIMEOUT)).await;
                return;
            }
            if now >= next {
                break;
            }
            if now >= keepalive {
                if tx.send(Bytes::from_static(KEEP_ALIVE)).await.is_err() {
                    return;
                }
                last_write = now;
            }
        }
    }
}
