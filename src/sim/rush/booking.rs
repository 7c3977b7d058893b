//! The booking service's handlers: reserve (with the queue pass), confirm,
//! release. They run inside the idempotency middleware, so every answer
//! here (flat errors and injected 500s included) is stored and replayed to
//! the same key.

use super::body::{self, Obj, flat, flat_msg};
use super::idem::Stored;
use crate::sim::ledger::OpKey;
use crate::sim::store::StoreError;
use crate::sim::world::World;
use serde_json::{Map, Value};
use tokio::time::Instant;

fn stored(status: u16, body: bytes::Bytes) -> Stored {
    Stored { status, body }
}

/// A reserve body that passed the handler's checks.
pub struct ReserveReq {
    pub event: String,
    pub zone: String,
    pub qty: u32,
    pub unit_price: f64,
    pub pass: String,
}

fn str_field<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    m.get(k).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The handler's own checks, in its order: binding (`event_id`, `zone_id`,
/// `quantity` required), `show_id`, then the quantity's range (1..10).
pub fn parse_reserve(body: &[u8], default_price: f64) -> Result<ReserveReq, Stored> {
    let invalid = |msg: &str| stored(400, flat_msg("INVALID_REQUEST", "invalid request", msg));
    let m = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return Err(invalid("request body must be a JSON object")),
        Err(e) => return Err(invalid(&e.to_string())),
    };
    let (Some(event), Some(zone)) = (str_field(&m, "event_id"), str_field(&m, "zone_id")) else {
        return Err(invalid("event_id and zone_id are required"));
    };
    let Some(qty) = m.get("quantity").and_then(Value::as_i64) else {
        return Err(invalid("quantity is required"));
    };
    if str_field(&m, "show_id").is_none() {
        return Err(stored(400, flat("INVALID_SHOW_ID", "invalid show id")));
    }
    if !(1..=10).contains(&qty) {
        return Err(invalid("quantity must be between 1 and 10"));
    }
    Ok(ReserveReq {
        event: event.to_owned(),
        zone: zone.to_owned(),
        qty: qty as u32,
        unit_price: m
            .get("unit_price")
            .and_then(Value::as_f64)
            .unwrap_or(default_price),
        pass: m
            .get("queue_pass")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
    })
}

/// The booking ids the API hands out are UUID-shaped; the store's are
/// `bk_<event>_<seq>`.
pub fn public_id(store_id: &str) -> String {
    let (e, seq) = store_id
        .strip_prefix("bk_")
        .and_then(|r| r.split_once('_'))
        .and_then(|(e, s)| Some((e.parse::<u64>().ok()?, s.parse::<u64>().ok()?)))
        .unwrap_or((u64::MAX, u64::MAX));
    format!(
        "{:08x}-0000-4000-8000-{:012x}",
        e as u32,
        seq & 0xffff_ffff_ffff
    )
}

/// The store id of a public booking id, if it is one.
pub fn store_id(public: &str) -> Option<String> {
    let p: Vec<&str> = public.split('-').collect();
    let [e, "0000", "4000", "8000", seq] = p.as_slice() else {
        return None;
    };
    if e.len() != 8 || seq.len() != 12 {
        return None;
    }
    let e = u32::from_str_radix(e, 16).ok()?;
    let seq = u64::from_str_radix(seq, 16).ok()?;
    Some(format!("bk_{e}_{seq}"))
}

fn store_error(e: StoreError) -> Stored {
    let (status, code, sentence) = match e {
        StoreError::ZoneNotFound => (404, "ZONE_NOT_FOUND", "zone not found"),
        StoreError::BookingNotFound => (404, "NOT_FOUND", "booking not found"),
        StoreError::Forbidden => (403, "FORBIDDEN", "booking belongs to another user"),
        StoreError::InsufficientSeats => (409, "INSUFFICIENT_SEATS", "Not enough seats available"),
        StoreError::MaxTicketsExceeded => (
            409,
            "MAX_TICKETS_EXCEEDED",
            "Maximum tickets per user exceeded",
        ),
        StoreError::AlreadyConfirmed => (409, "ALREADY_CONFIRMED", "booking is already confirmed"),
        StoreError::AlreadyReleased => (409, "ALREADY_RELEASED", "booking was already released"),
        StoreError::Expired => (410, "EXPIRED", "reservation has expired"),
    };
    stored(status, flat(code, sentence))
}

fn pass_error(code: &'static str) -> Stored {
    let b = match code {
        "QUEUE_PASS_REQUIRED" => flat_msg(
            code,
            "queue pass is required",
            "Please join the queue and wait for your turn to book",
        ),
        "QUEUE_PASS_EXPIRED" => flat_msg(
            code,
            "queue pass has expired",
            "Your queue pass has expired. Please rejoin the queue.",
        ),
        "QUEUE_PASS_MISMATCH" => flat(code, "queue pass does not belong to this user or event"),
        _ => flat(code, "invalid queue pass"),
    };
    stored(403, b)
}

/// Reserve: the pass (when enforced), then the inventory. The queue's lock
/// is held across the store's, so one pass books once.
pub fn reserve(world: &World, user: &str, r: &ReserveReq, op: Option<&OpKey<'_>>) -> Stored {
    let Some(rush) = world.rush.as_ref() else {
        return stored(500, flat("INTERNAL_ERROR", "internal server error"));
    };
    let now = Instant::now();
    let book = || {
        world
            .store
            .reserve(user, &r.event, &r.zone, r.qty, now, &world.ledger)
    };
    let result = if rush.cfg.enforce_pass {
        if r.pass.is_empty() {
            return pass_error("QUEUE_PASS_REQUIRED");
        }
        let Some(p) = rush.signer.read_pass(&r.pass) else {
            return pass_error("INVALID_QUEUE_PASS");
        };
        if p.expires_ms <= rush.clock.unix_ms_at(now) {
            return pass_error("QUEUE_PASS_EXPIRED");
        }
        if p.user != user || p.event != r.event {
            return pass_error("QUEUE_PASS_MISMATCH");
        }
        let Some(mut q) = rush
            .catalog
            .event(&r.event)
            .and_then(|e| rush.queues.lock(e))
        else {
            return pass_error("INVALID_QUEUE_PASS");
        };
        if !q.holds(user, &r.pass, now) {
            return pass_error("INVALID_QUEUE_PASS");
        }
        let res = book();
        if res.is_ok()
            && q.use_pass(user)
            && let Some(c) = &world.ledger.rush
        {
            c.passes_used
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        res
    } else {
        book()
    };
    match result {
        Ok(v) => {
            world.ledger.booking_created(op);
            let expires = rush.clock.unix_ms_at(now + world_ttl(world));
            stored(
                201,
                Obj::new()
                    .str("booking_id", &public_id(&v.booking_id))
                    .str("status", "reserved")
                    .str("expires_at", &body::rfc3339_ms(expires))
                    .float("total_price", f64::from(r.qty) * r.unit_price)
                    .finish(),
            )
        }
        Err(e) => store_error(e),
    }
}

fn world_ttl(world: &World) -> std::time::Duration {
    world.store.ttl()
}

/// Confirm (`confirm = true`) or release a reservation.
pub fn finish(world: &World, user: &str, id: &str, confirm: bool) -> Stored {
    let Some(rush) = world.rush.as_ref() else {
        return stored(500, flat("INTERNAL_ERROR", "internal server error"));
    };
    let now = Instant::now();
    let Some(sid) = store_id(id) else {
        return store_error(StoreError::BookingNotFound);
    };
    match world.store.finish(user, &sid, confirm, now, &world.ledger) {
        Ok(_) if confirm => {
            let code = {
                use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
                BuildHasherDefault::<DefaultHasher>::default().hash_one(id) as u32
            };
            stored(
                200,
                Obj::new()
                    .str("booking_id", id)
                    .str("status", "confirmed")
                    .str(
                        "confirmed_at",
                        &body::rfc3339_ms(rush.clock.unix_ms_at(now)),
                    )
                    .str("confirmation_code", &format!("BR-{code:08X}"))
                    .finish(),
            )
        }
        Ok(_) => stored(
            200,
            Obj::new()
                .str("booking_id", id)
                .str("status", "cancelled")
                .str("message", "Booking cancelled, seats released")
                .finish(),
        ),
        Err(e) => store_error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_bodies_are_checked_in_order() {
        let p = public_id("bk_2_77");
        assert_eq!(p, "00000002-0000-4000-8000-00000000004d");
        assert_eq!(store_id(&p).as_deref(), Some("bk_2_77"));
        assert_eq!(store_id("nope"), None);
        let code = |b: &str| match parse_reserve(b.as_bytes(), 50.0) {
            Ok(_) => "OK".to_string(),
            Err(s) => {
                let v: Value = serde_json::from_slice(&s.body).unwrap();
                format!("{} {}", s.status, v["code"].as_str().unwrap())
            }
        };
        assert_eq!(code("{"), "400 INVALID_REQUEST");
        assert_eq!(
            code(r#"{"zone_id":"Z","quantity":1}"#),
            "400 INVALID_REQUEST"
        );
        assert_eq!(
            code(r#"{"event_id":"E","zone_id":"Z","quantity":0}"#),
            "400 INVALID_SHOW_ID"
        );
        assert_eq!(
            code(r#"{"event_id":"E","zone_id":"Z","show_id":"S","quantity":11}"#),
            "400 INVALID_REQUEST"
        );
        assert_eq!(
            code(r#"{"event_id":"E","zone_id":"Z","show_id":"S","quantity":10}"#),
            "OK"
        );
    }
}
