//! The simulator's ground truth as report data: what `GET /__sim/ledger`
//! answers and every report carries per fleet. The simulator counts it
//! (`sim::ledger`); renderers, gates and merge read it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Seats of one zone at snapshot time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneSeats {
    pub capacity: u32,
    /// Confirmed seats.
    pub sold: u32,
    /// Seats held by live reservations.
    pub reserved: u32,
    pub available: u32,
}

/// Ground truth of what the simulator saw and did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ledger {
    /// Largest excess of sold + reserved over capacity seen at any commit;
    /// anything but 0 is a simulator bug.
    pub oversold: u64,
    /// Bookings beyond the first created for one logical operation
    /// (same user and `X-Stampede-Op`).
    pub duplicates: u64,
    /// Work finished after its client had gone (timed out / disconnected).
    pub wasted_work: u64,
    /// Attempts that arrived before the Retry-After the server gave
    /// (tracked per `X-Stampede-Op`, else per Idempotency-Key).
    pub early_retries: u64,
    pub bookings_created: u64,
    #[serde(default)]
    pub bookings_confirmed: u64,
    #[serde(default)]
    pub bookings_released: u64,
    #[serde(default)]
    pub bookings_expired: u64,
    /// Requests answered from the idempotency cache (including waiters on
    /// a key still being processed).
    #[serde(default)]
    pub idempotent_replays: u64,
    /// Connections dropped on purpose without a response (fault injection);
    /// they also appear under status 0 in `requests`.
    #[serde(default)]
    pub connection_resets: u64,
    /// endpoint name -> status -> count. Endpoints: `availability`,
    /// `reserve`, `confirm`, `release`, `sim` (the `/__sim` routes),
    /// `other`. Status 0 = connection dropped on purpose without a
    /// response (fault injection); 499 = the client went away before the
    /// answer was ready (its work may still have committed).
    pub requests: BTreeMap<String, BTreeMap<u16, u64>>,
    /// `"{event}/{zone}"` -> seats.
    #[serde(default)]
    pub zones: BTreeMap<String, ZoneSeats>,
    /// Attempts per operation as the server saw them (requests carrying
    /// `X-Stampede-Op`): attempts -> number of operations.
    #[serde(default)]
    pub attempts_per_op: BTreeMap<u32, u64>,
    /// Booking Rush profile only (absent otherwise): access tokens issued
    /// by `POST /api/v1/auth/login`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logins: Option<u64>,
    /// Booking Rush profile only: token pairs issued by
    /// `POST /api/v1/auth/refresh`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refreshes: Option<u64>,
    /// Booking Rush profile only: the virtual queue as the server saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueLedger>,
    /// Booking Rush profile only: stored answers replayed to a same-key
    /// request, by the stored status (`idempotent_replays` is their sum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replays_by_status: Option<BTreeMap<u16, u64>>,
    /// Booking Rush profile only: 409 `REQUEST_IN_PROGRESS` answers (a
    /// same-key request while the first was still running).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_in_progress: Option<u64>,
    /// Booking Rush profile only: 422 `IDEMPOTENCY_KEY_REUSED` answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key_reused: Option<u64>,
    /// Booking Rush profile only: 504 `GATEWAY_TIMEOUT` answers (the work
    /// went on and may have committed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_timeouts: Option<u64>,
}

/// The Booking Rush profile's virtual queue, as the server saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueLedger {
    /// Successful joins (201).
    pub joins: u64,
    /// Position polls that reached the queue (200 or 404 `NOT_IN_QUEUE`).
    pub polls: u64,
    /// SSE streams opened (past the gateway).
    pub streams: u64,
    /// Queue passes issued by the release worker.
    pub passes_issued: u64,
    /// Passes used up by a successful reserve (one-shot when enforced).
    pub passes_used: u64,
    /// Passes that expired unused: issued to a user who never reserved with
    /// them (gone, timed out in the queue, or sold out), holding a slot of
    /// `max_passes` until they expired.
    pub passes_stranded: u64,
    /// Seats unsold while buyers waited, in seat-seconds: at every run of
    /// the release worker that leaves users waiting in an event's queue,
    /// the event's seats on sale (neither reserved nor sold) times the time
    /// since that queue's previous run, summed over runs and events and
    /// rounded down. Zero when passes go out as fast as seats can sell.
    #[serde(default)]
    pub unsold_while_waiting: u64,
    /// Join to pass, on the server's clock, for every pass issued.
    pub time_in_queue_ms: TimeSummary,
}

/// A count, sum and percentiles of durations in milliseconds. Read from a
/// `stampede serve` target before and after a round, `count` and `sum` are
/// the round's own; `max` and the percentiles cover every value since the
/// simulator's last reset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeSummary {
    pub count: u64,
    pub sum: u64,
    pub max: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
}
