//! One generation of the Booking Rush profile's state (inside a
//! [`crate::sim::world::World`], replaced on reset): tokens, the gateway's
//! buckets, the idempotency store, the queues and the browsing read model.
//! The inventory itself is the shared [`crate::sim::store::Store`].

use super::auth::{Clock, Signer};
use super::config::BookingRushConfig;
use super::idem::IdemStore;
use super::limiter::IpLimiter;
use super::queue::Queues;
use crate::sim::config::SimConfig;
use crate::sim::store::Store;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// One event as browsing shows it.
pub struct EventInfo {
    pub id: String,
    pub show_id: String,
    /// Zone ids and seats on sale.
    pub zones: Vec<(String, u32)>,
}

/// Events, shows and zones by id. Each event has one show,
/// `SHOW-<event id>`; zone ids are unique across events (validated).
pub struct Catalog {
    pub events: Vec<EventInfo>,
    event_index: HashMap<String, usize>,
    show_index: HashMap<String, usize>,
    zone_index: HashMap<String, (usize, usize)>,
}

/// The show id browsing gives an event.
pub fn show_id(event: &str) -> String {
    format!("SHOW-{event}")
}

impl Catalog {
    pub fn new(cfg: &SimConfig) -> Self {
        let events: Vec<EventInfo> = cfg
            .events
            .iter()
            .map(|e| EventInfo {
                id: e.id.clone(),
                show_id: show_id(&e.id),
                zones: e.zones.iter().map(|z| (z.id.clone(), z.seats)).collect(),
            })
            .collect();
        let mut event_index = HashMap::new();
        let mut show_index = HashMap::new();
        let mut zone_index = HashMap::new();
        for (i, e) in events.iter().enumerate() {
            event_index.insert(e.id.clone(), i);
            show_index.insert(e.show_id.clone(), i);
            for (j, (z, _)) in e.zones.iter().enumerate() {
                zone_index.insert(z.clone(), (i, j));
            }
        }
        Self {
            events,
            event_index,
            show_index,
            zone_index,
        }
    }

    pub fn event(&self, id: &str) -> Option<usize> {
        self.event_index.get(id).copied()
    }

    pub fn show(&self, id: &str) -> Option<usize> {
        self.show_index.get(id).copied()
    }

    pub fn zone(&self, id: &str) -> Option<(usize, usize)> {
        self.zone_index.get(id).copied()
    }
}

pub struct Rush {
    pub cfg: BookingRushConfig,
    pub clock: Clock,
    pub signer: Signer,
    pub limiter: IpLimiter,
    pub idem: IdemStore,
    pub queues: Queues,
    pub catalog: Catalog,
    /// `available_seats` as browsing reads it: the live count as of the
    /// last refresh (`availability_refresh`), by event and zone.
    read_model: Box<[Box<[AtomicU32]>]>,
}

impl Rush {
    pub fn new(cfg: &SimConfig) -> Self {
        let rc = &cfg.booking_rush;
        let catalog = Catalog::new(cfg);
        let read_model = catalog
            .events
            .iter()
            .map(|e| e.zones.iter().map(|(_, s)| AtomicU32::new(*s)).collect())
            .collect();
        Self {
            cfg: rc.clone(),
            clock: Clock::new(),
            signer: Signer::new(cfg.seed),
            limiter: IpLimiter::new(&rc.rate_limit),
            idem: IdemStore::new(rc.idempotency_processing, rc.idempotency_replay),
            queues: Queues::new(cfg.events.len()),
            catalog,
            read_model,
        }
    }

    /// The seats browsing shows for a zone: lagging unless the refresh is 0.
    pub fn browse_available(&self, store: &Store, e: usize, z: usize) -> u32 {
        let live = || {
            let ev = &self.catalog.events[e];
            store.available(&ev.id, &ev.zones[z].0).unwrap_or(0)
        };
        if self.cfg.availability_refresh.is_zero() {
            return live();
        }
        self.read_model[e][z].load(Relaxed)
    }

    /// The read model catches up with the inventory.
    pub fn refresh_read_model(&self, store: &Store) {
        for (e, ev) in self.catalog.events.iter().enumerate() {
            for (z, (zid, _)) in ev.zones.iter().enumerate() {
                if let Some(n) = store.available(&ev.id, zid) {
                    self.read_model[e][z].store(n, Relaxed);
                }
            }
        }
    }
}
