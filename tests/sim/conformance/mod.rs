//! The Booking Rush conformance suite: the real API's spec
//! (`/work/shared/spec/booking-rush-api.md`) row by row, each row written
//! once and run against two targets, the embedded simulator's Booking Rush
//! profile (`sim`, ground truth from its ledger) and the loopback double of
//! the real API (`double`, its own counts). Per row: the route, the
//! request, the status, the envelope (nested gateway and idempotency errors,
//! the booking service's flat ones, success bodies) and the headers; then
//! the target's counts against what the row sent. Rows only one target can
//! run (a knob or a count the other lacks) are in that target's file.

/// Test entries of rows a target runs with no checks of its own: one
/// `#[tokio::test]` per `module::row`, named after the row.
macro_rules! rows {
    ($target:ty => $($module:ident::$row:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $row() {
                $module::$row::<$target>().await;
            }
        )+
    };
}

mod auth;
mod booking;
mod client;
mod double;
mod idempotency;
mod limits;
mod queue;
mod sim;
mod sim_codes;
mod spec;
mod target;
