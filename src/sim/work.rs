//! The part of a request that occupies a worker and commits: run inside
//! the spawned task, so it completes even when its client is gone.

use super::idempotency::Stored;
use super::ledger::OpKey;
use super::respond as r;
use super::store::StoreError;
use super::world::World;
use tokio::time::Instant;

pub enum Work {
    Availability(String, String),
    Reserve(String, String, String, u32),
    Finish(String, String, bool),
}

impl Work {
    pub fn execute(self, world: &World, op: Option<(&str, bool)>) -> Stored {
        let now = Instant::now();
        let result = match self {
            Work::Availability(e, z) => {
                return match world.store.available(&e, &z) {
                    Some(n) => Stored {
                        status: 200,
                        body: r::ok_body(serde_json::json!({ "available": n })),
                    },
                    None => stored_err(StoreError::ZoneNotFound),
                };
            }
            Work::Reserve(user, e, z, q) => {
                let res = world.store.reserve(&user, &e, &z, q, now, &world.ledger);
                if res.is_ok() {
                    let key = op.map(|(op, explicit)| OpKey {
                        user: &user,
                        op,
                        explicit,
                    });
                    world.ledger.booking_created(key.as_ref());
                }
                res.map(|v| (201, v))
            }
            Work::Finish(user, id, confirm) => world
                .store
                .finish(&user, &id, confirm, now, &world.ledger)
                .map(|v| (200, v)),
        };
        match result {
            Ok((status, v)) => Stored {
                status,
                body: r::ok_body(serde_json::json!({
                    "bookingId": v.booking_id,
                    "status": v.status.as_str(),
                    "expiresAt": crate::timefmt::rfc3339_millis(v.expires_at),
                })),
            },
            Err(e) => stored_err(e),
        }
    }
}

fn stored_err(e: StoreError) -> Stored {
    let (status, code) = match e {
        StoreError::ZoneNotFound | StoreError::BookingNotFound => (404, "NOT_FOUND"),
        StoreError::Forbidden => (403, "FORBIDDEN"),
        StoreError::InsufficientSeats => (409, "INSUFFICIENT_SEATS"),
        StoreError::MaxTicketsExceeded => (409, "MAX_TICKETS_EXCEEDED"),
        StoreError::AlreadyConfirmed => (409, "ALREADY_CONFIRMED"),
        StoreError::AlreadyReleased => (409, "ALREADY_RELEASED"),
        StoreError::Expired => (409, "EXPIRED"),
    };
    Stored {
        status,
        body: r::err_body(code, &e.to_string()),
    }
}
