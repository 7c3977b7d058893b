//! Inventory and bookings. One short mutex per event keeps reserve atomic
//! (seats and the per-user cap checked together) without a global lock;
//! availability reads a per-zone atomic mirror and never locks.

use super::config::SimConfig;
use super::ledger::{LedgerState, ZoneSeats};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("event or zone not found")]
    ZoneNotFound,
    #[error("booking not found")]
    BookingNotFound,
    #[error("booking belongs to another user")]
    Forbidden,
    #[error("not enough seats left in this zone")]
    InsufficientSeats,
    #[error("user would exceed the maximum tickets for this event")]
    MaxTicketsExceeded,
    #[error("booking already confirmed")]
    AlreadyConfirmed,
    #[error("booking already released")]
    AlreadyReleased,
    #[error("reservation expired")]
    Expired,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookingStatus {
    Reserved,
    Confirmed,
    Released,
    Expired,
}

impl BookingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BookingStatus::Reserved => "RESERVED",
            BookingStatus::Confirmed => "CONFIRMED",
            BookingStatus::Released => "RELEASED",
            BookingStatus::Expired => "EXPIRED",
        }
    }
}

/// What a successful booking call reports back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingView {
    pub booking_id: String,
    pub status: BookingStatus,
    pub expires_at: SystemTime,
}

#[derive(Debug, Clone, Copy)]
struct Inventory {
    capacity: u32,
    sold: u32,
    reserved: u32,
}

impl Inventory {
    fn available(&self) -> u32 {
        self.capacity
            .saturating_sub(self.sold.saturating_add(self.reserved))
    }
}

#[derive(Debug)]
struct Booking {
    user: String,
    zone: usize,
    qty: u32,
    status: BookingStatus,
    expires_at: Instant,
    expires_wall: SystemTime,
}

#[derive(Debug, Default)]
struct EventState {
    zones: Vec<Inventory>,
    /// Seats each user holds (reserved + confirmed) for the cap.
    per_user: HashMap<String, u32>,
    bookings: HashMap<u64, Booking>,
    /// Reservations in creation order; with one TTL that is expiry order,
    /// so the sweep only looks at the front.
    expiry: VecDeque<(Instant, u64)>,
    next_seq: u64,
}

struct EventSlot {
    zone_index: HashMap<String, usize>,
    zone_ids: Vec<String>,
    /// Mirror of each zone's availability, updated under the lock.
    available: Vec<AtomicU32>,
    state: Mutex<EventState>,
}

pub struct Store {
    ids: Vec<String>,
    index: HashMap<String, usize>,
    events: Vec<EventSlot>,
    ttl: Duration,
    max_per_user: u32,
}

impl Store {
    pub fn new(cfg: &SimConfig) -> Self {
        let mut events = Vec::with_capacity(cfg.events.len());
        for ev in &cfg.events {
            let zones: Vec<Inventory> = ev
                .zones
                .iter()
                .map(|z| Inventory {
                    capacity: z.seats,
                    sold: 0,
                    reserved: 0,
                })
                .collect();
            events.push(EventSlot {
                zone_index: ev
                    .zones
                    .iter()
                    .enumerate()
                    .map(|(i, z)| (z.id.clone(), i))
                    .collect(),
                zone_ids: ev.zones.iter().map(|z| z.id.clone()).collect(),
                available: ev.zones.iter().map(|z| AtomicU32::new(z.seats)).collect(),
                state: Mutex::new(EventState {
                    zones,
                    ..EventState::default()
                }),
            });
        }
        Self {
            ids: cfg.events.iter().map(|e| e.id.clone()).collect(),
            index: cfg
                .events
                .iter()
                .enumerate()
                .map(|(i, e)| (e.id.clone(), i))
                .collect(),
            events,
            ttl: cfg.reservation_ttl,
            max_per_user: cfg.max_tickets_per_user,
        }
    }

    fn zone(&self, event: &str, zone: &str) -> Option<(usize, usize)> {
        let e = *self.index.get(event)?;
        let z = *self.events.get(e)?.zone_index.get(zone)?;
        Some((e, z))
    }

    /// How long a reservation holds its seats.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Lock-free read of the mirror.
    pub fn available(&self, event: &str, zone: &str) -> Option<u32> {
        let (e, z) = self.zone(event, zone)?;
        Some(self.events[e].available[z].load(Relaxed))
    }

    fn lock(&self, e: usize) -> std::sync::MutexGuard<'_, EventState> {
        // A poisoned lock means a panic mid-update, which we do not have;
        // keep serving rather than cascading the failure.
        self.events[e]
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn publish(&self, e: usize, st: &EventState, z: usize, ledger: &LedgerState) {
        let inv = st.zones[z];
        self.events[e].available[z].store(inv.available(), Relaxed);
        let held = u64::from(inv.sold) + u64::from(inv.reserved);
        ledger.record_oversold(held.saturating_sub(u64::from(inv.capacity)));
    }

    pub fn reserve(
        &self,
        user: &str,
        event: &str,
        zone: &str,
        qty: u32,
        now: Instant,
        ledger: &LedgerState,
    ) -> Result<BookingView, StoreError> {
        let (e, z) = self.zone(event, zone).ok_or(StoreError::ZoneNotFound)?;
        let mut st = self.lock(e);
        self.expire_due(e, &mut st, now, ledger);
        let held = st.per_user.get(user).copied().unwrap_or(0);
        if self.max_per_user > 0 && held.saturating_add(qty) > self.max_per_user {
            return Err(StoreError::MaxTicketsExceeded);
        }
        if st.zones[z].available() < qty {
            return Err(StoreError::InsufficientSeats);
        }
        st.zones[z].reserved += qty;
        *st.per_user.entry(user.to_owned()).or_insert(0) += qty;
        st.next_seq += 1;
        let seq = st.next_seq;
        let expires_at = now + self.ttl;
        let expires_wall = crate::clock::wall_now() + self.ttl;
        st.bookings.insert(
            seq,
            Booking {
                user: user.to_owned(),
                zone: z,
                qty,
                status: BookingStatus::Reserved,
                expires_at,
                expires_wall,
            },
        );
        st.expiry.push_back((expires_at, seq));
        self.publish(e, &st, z, ledger);
        Ok(BookingView {
            booking_id: format!("bk_{e}_{seq}"),
            status: BookingStatus::Reserved,
            expires_at: expires_wall,
        })
    }

    fn parse_id(id: &str) -> Option<(usize, u64)> {
        let rest = id.strip_prefix("bk_")?;
        let (e, s) = rest.split_once('_')?;
        Some((e.parse().ok()?, s.parse().ok()?))
    }

    /// Confirm (`confirm = true`) or release a reservation.
    pub fn finish(
        &self,
        user: &str,
        booking_id: &str,
        confirm: bool,
        now: Instant,
        ledger: &LedgerState,
    ) -> Result<BookingView, StoreError> {
        let (e, seq) = Self::parse_id(booking_id).ok_or(StoreError::BookingNotFound)?;
        if e >= self.events.len() {
            return Err(StoreError::BookingNotFound);
        }
        let mut st = self.lock(e);
        self.expire_due(e, &mut st, now, ledger);
        let st = &mut *st;
        let b = st
            .bookings
            .get_mut(&seq)
            .ok_or(StoreError::BookingNotFound)?;
        if b.user != user {
            return Err(StoreError::Forbidden);
        }
        if b.status == BookingStatus::Reserved && now >= b.expires_at {
            // Lazy expiry: the sweep may not have reached it yet.
            b.status = BookingStatus::Expired;
            Self::give_back(&mut st.zones, &mut st.per_user, b);
            ledger.bookings_expired.fetch_add(1, Relaxed);
        }
        match b.status {
            BookingStatus::Confirmed => return Err(StoreError::AlreadyConfirmed),
            BookingStatus::Released => return Err(StoreError::AlreadyReleased),
            BookingStatus::Expired => {
                let z = b.zone;
                self.publish(e, st, z, ledger);
                return Err(StoreError::Expired);
            }
            BookingStatus::Reserved => {}
        }
        let inv = &mut st.zones[b.zone];
        inv.reserved = inv.reserved.saturating_sub(b.qty);
        if confirm {
            inv.sold += b.qty;
            b.status = BookingStatus::Confirmed;
            ledger.bookings_confirmed.fetch_add(1, Relaxed);
        } else {
            if let Some(h) = st.per_user.get_mut(&b.user) {
                *h = h.saturating_sub(b.qty);
            }
            b.status = BookingStatus::Released;
            ledger.bookings_released.fetch_add(1, Relaxed);
        }
        let view = BookingView {
            booking_id: booking_id.to_owned(),
            status: b.status,
            expires_at: b.expires_wall,
        };
        let z = b.zone;
        self.publish(e, st, z, ledger);
        Ok(view)
    }

    fn give_back(zones: &mut [Inventory], per_user: &mut HashMap<String, u32>, b: &Booking) {
        if let Some(inv) = zones.get_mut(b.zone) {
            inv.reserved = inv.reserved.saturating_sub(b.qty);
        }
        if let Some(h) = per_user.get_mut(&b.user) {
            *h = h.saturating_sub(b.qty);
        }
    }

    fn expire_due(&self, e: usize, st: &mut EventState, now: Instant, ledger: &LedgerState) {
        let mut touched = false;
        while let Some(&(at, seq)) = st.expiry.front() {
            if at > now {
                break;
            }
            st.expiry.pop_front();
            if let Some(b) = st.bookings.get_mut(&seq)
                && b.status == BookingStatus::Reserved
            {
                b.status = BookingStatus::Expired;
                Self::give_back(&mut st.zones, &mut st.per_user, b);
                ledger.bookings_expired.fetch_add(1, Relaxed);
                touched = true;
            }
        }
        if touched {
            for z in 0..st.zones.len() {
                self.publish(e, st, z, ledger);
            }
        }
    }

    /// Returns expired reservations to their zones (the periodic sweep).
    pub fn sweep(&self, now: Instant, ledger: &LedgerState) {
        for e in 0..self.events.len() {
            let mut st = self.lock(e);
            self.expire_due(e, &mut st, now, ledger);
        }
    }

    pub fn zones_snapshot(&self) -> BTreeMap<String, ZoneSeats> {
        let mut out = BTreeMap::new();
        for (e, slot) in self.events.iter().enumerate() {
            let st = self.lock(e);
            for (z, inv) in st.zones.iter().enumerate() {
                out.insert(
                    format!("{}/{}", self.ids[e], slot.zone_ids[z]),
                    ZoneSeats {
                        capacity: inv.capacity,
                        sold: inv.sold,
                        reserved: inv.reserved,
                        available: inv.available(),
                    },
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::config::{EventConfig, ZoneConfig};

    fn store(seats: u32, max: u32) -> (Store, LedgerState) {
        let cfg = SimConfig {
            events: vec![EventConfig {
                id: "E1".into(),
                zones: vec![ZoneConfig {
                    id: "A".into(),
                    seats,
                }],
            }],
            max_tickets_per_user: max,
            reservation_ttl: Duration::from_secs(60),
            ..SimConfig::default()
        };
        (Store::new(&cfg), LedgerState::new())
    }

    #[test]
    fn never_oversells_and_caps_per_user() {
        let (s, l) = store(5, 4);
        let now = Instant::now();
        assert!(s.reserve("u1", "E1", "A", 3, now, &l).is_ok());
        assert_eq!(
            s.reserve("u1", "E1", "A", 2, now, &l),
            Err(StoreError::MaxTicketsExceeded)
        );
        assert!(s.reserve("u2", "E1", "A", 2, now, &l).is_ok());
        assert_eq!(
            s.reserve("u3", "E1", "A", 1, now, &l),
            Err(StoreError::InsufficientSeats)
        );
        assert_eq!(s.available("E1", "A"), Some(0));
        assert_eq!(
            s.reserve("u3", "E1", "Z", 1, now, &l),
            Err(StoreError::ZoneNotFound)
        );
        assert_eq!(l.snapshot().oversold, 0);
    }

    #[test]
    fn confirm_release_state_machine() {
        let (s, l) = store(10, 0);
        let now = Instant::now();
        let a = s.reserve("u1", "E1", "A", 2, now, &l).expect("reserve");
        let b = s.reserve("u1", "E1", "A", 3, now, &l).expect("reserve");
        assert_eq!(
            s.finish("u2", &a.booking_id, true, now, &l),
            Err(StoreError::Forbidden)
        );
        let c = s
            .finish("u1", &a.booking_id, true, now, &l)
            .expect("confirm");
        assert_eq!(c.status, BookingStatus::Confirmed);
        assert_eq!(
            s.finish("u1", &a.booking_id, true, now, &l),
            Err(StoreError::AlreadyConfirmed)
        );
        s.finish("u1", &b.booking_id, false, now, &l)
            .expect("release");
        assert_eq!(
            s.finish("u1", &b.booking_id, false, now, &l),
            Err(StoreError::AlreadyReleased)
        );
        assert_eq!(
            s.finish("u1", &b.booking_id, true, now, &l),
            Err(StoreError::AlreadyReleased)
        );
        assert_eq!(
            s.finish("u1", "bk_0_999", true, now, &l),
            Err(StoreError::BookingNotFound)
        );
        assert_eq!(
            s.finish("u1", "garbage", true, now, &l),
            Err(StoreError::BookingNotFound)
        );
        let z = s.zones_snapshot()["E1/A"];
        assert_eq!((z.sold, z.reserved, z.available), (2, 0, 8));
    }

    #[tokio::test(start_paused = true)]
    async fn reservations_expire_and_return_seats() {
        let (s, l) = store(3, 0);
        let r = s
            .reserve("u1", "E1", "A", 3, Instant::now(), &l)
            .expect("reserve");
        assert_eq!(s.available("E1", "A"), Some(0));
        tokio::time::advance(Duration::from_secs(61)).await;
        // Lazy expiry on access.
        assert_eq!(
            s.finish("u1", &r.booking_id, true, Instant::now(), &l),
            Err(StoreError::Expired)
        );
        assert_eq!(s.available("E1", "A"), Some(3));
        let r2 = s
            .reserve("u2", "E1", "A", 3, Instant::now(), &l)
            .expect("seats came back");
        tokio::time::advance(Duration::from_secs(61)).await;
        // Periodic sweep without anybody touching the booking.
        s.sweep(Instant::now(), &l);
        assert_eq!(s.available("E1", "A"), Some(3));
        assert_eq!(
            s.finish("u2", &r2.booking_id, false, Instant::now(), &l),
            Err(StoreError::Expired)
        );
        assert_eq!(l.snapshot().bookings_expired, 2);
    }
}
