//! Embedded Booking Rush simulator: a target every run can use, and the
//! ground truth afterwards (see the [`Ledger`]).
//!
//! Two API profiles (`[sim] api`, docs/simulator.md): `"guidelines"` (the
//! default, below) and `"booking-rush"`, the real API as our users' staging
//! runs it ([`rush`]). Both share the inventory, the capacity model, the
//! faults and the ledger.
//!
//! The guidelines profile's choices worth knowing (the rest follows the
//! client guidelines):
//! - The bearer token *is* the user id (`Authorization: Bearer alice`).
//! - `GET /events/{e}/zones/{z}/availability` is public unless
//!   `public_availability = false`.
//! - The same `Idempotency-Key` from the same user with a different request
//!   is rejected with 422 `IDEMPOTENCY_KEY_REUSED`; with the same request it
//!   replays the first answer (a concurrent duplicate waits for it).
//!   Only final answers are cached (2xx and business 4xx); 429, 5xx and
//!   resets are not, so retrying with the same key is always safe.
//! - Bodies over `max_body_bytes` get 413 `PAYLOAD_TOO_LARGE`; unknown
//!   routes 404 `NOT_FOUND`; wrong methods 405 `METHOD_NOT_ALLOWED`.
//! - `POST /resources/{id}/write` is a compare-and-set write on a shared
//!   resource: of writes whose service windows overlap, the first to
//!   finish wins and the others get 409 `CONFLICT` (`contend.rs`).
//! - `GET /__sim/ledger` returns the [`Ledger`] as JSON, `POST /__sim/reset`
//!   resets the simulator.
//! - Clients label every attempt of one logical operation with
//!   `X-Stampede-Op` so the ledger can count duplicates, attempts per
//!   operation and retries that came before the Retry-After.

mod api;
mod config;
mod conn;
mod contend;
mod faults;
mod idempotency;
mod ledger;
mod limiter;
mod memory;
mod overload;
mod respond;
pub mod rush;
mod server;
mod service;
mod sharded;
mod sharing;
mod store;
mod work;
mod world;

pub use config::{
    CapacityConfig, ConnectionConfig, Discipline, EventConfig, FaultConfig, FaultWindow,
    MAX_CONNECTION_TIMEOUT, RateLimitConfig, SimApi, SimConfig, ZoneConfig,
};
pub use ledger::{Ledger, QueueLedger, TimeSummary, ZoneSeats};
pub use memory::{MemoryDialer, MemorySim};
pub use rush::{BookingRushConfig, RushBucket, RushRateLimit};
pub use server::{Acceptor, PlainTcp, SimHandle, SimServer};
pub use service::{MAX_DRAW_FACTOR, MAX_SIGMA, ServiceDistribution};

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot bind simulator to {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("invalid simulator config: {0}")]
    Config(String),
    #[error("simulator config {path}: {message}")]
    ConfigFile { path: String, message: String },
}
