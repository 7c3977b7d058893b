//! Embedded Booking Rush simulator: a target every run can use, and the
//! ground truth afterwards (see the [`Ledger`]).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// One zone of an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneConfig {
    pub id: String,
    pub seats: u32,
}

/// One event on sale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventConfig {
    pub id: String,
    pub zones: Vec<ZoneConfig>,
}

/// The `[sim]` table of a scenario file and `stampede serve --config`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimConfig {
    pub events: Vec<EventConfig>,
    // the simulator work adds the remaining knobs
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            events: vec![EventConfig {
                id: "E1".into(),
                zones: vec![ZoneConfig {
                    id: "A".into(),
                    seats: 100,
                }],
            }],
        }
    }
}

/// Ground truth of what the simulator saw and did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ledger {
    pub oversold: u64,
    pub duplicates: u64,
    pub wasted_work: u64,
    pub early_retries: u64,
    pub bookings_created: u64,
    /// endpoint name -> status -> count
    pub requests: BTreeMap<String, BTreeMap<u16, u64>>,
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot bind simulator to {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("invalid simulator config: {0}")]
    Config(String),
}

/// A running simulator. Dropping it without `shutdown` aborts its tasks.
pub struct SimServer {
    _private: (),
}

impl SimServer {
    pub async fn start(_cfg: SimConfig, _addr: SocketAddr) -> Result<SimServer, SimError> {
        todo!("simulator work")
    }
    pub fn addr(&self) -> SocketAddr {
        todo!("simulator work")
    }
    /// A snapshot of the ledger.
    pub fn ledger(&self) -> Ledger {
        todo!("simulator work")
    }
    /// Fresh inventory, bookings, idempotency cache, limiters, ledger and
    /// fault-window clock, so compared fleets face identical targets.
    pub fn reset(&self) {
        todo!("simulator work")
    }
    pub async fn shutdown(self) {
        todo!("simulator work")
    }
}
