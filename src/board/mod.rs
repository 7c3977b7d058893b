//! What the live views (the terminal view, the Prometheus endpoint) read:
//! every fleet's [`Live`] counters, kept past the end of its round, so a
//! scrape after the run still sees the final values (which equal the
//! report's: they are counted at the same points as the recorders).

use crate::metrics::Live;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One fleet of one round.
#[derive(Debug, Clone)]
pub struct Fleet {
    pub name: String,
    pub round: usize,
    pub steps: Vec<String>,
    pub live: Arc<Live>,
}

/// The running (or last) round's schedule, for "stage and time left".
#[derive(Debug, Clone)]
pub struct RoundInfo {
    pub round: usize,
    pub rounds: usize,
    pub started: Instant,
    /// Arrivals stop this long after `started`.
    pub arrivals_for: std::time::Duration,
    /// Journeys may finish this long after arrivals stop.
    pub drain: std::time::Duration,
}

#[derive(Debug, Default)]
pub struct Board {
    fleets: Mutex<Vec<Fleet>>,
    round: Mutex<Option<RoundInfo>>,
}

impl Board {
    pub fn add_round(&self, info: RoundInfo, fleets: Vec<Fleet>) {
        if let Ok(mut f) = self.fleets.lock() {
            f.extend(fleets);
        }
        if let Ok(mut r) = self.round.lock() {
            *r = Some(info);
        }
    }

    pub fn fleets(&self) -> Vec<Fleet> {
        self.fleets.lock().map(|f| f.clone()).unwrap_or_default()
    }

    pub fn round(&self) -> Option<RoundInfo> {
        self.round.lock().ok().and_then(|r| r.clone())
    }
}

pub mod view;
