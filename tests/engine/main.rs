//! The engine end to end against the simulator: faults, policies, connections, gates over time.
//!
//! One test binary per group (each links the library once); each file is
//! a module, run one with `cargo test --test engine <module>::`.

#[path = "../common/mod.rs"]
mod common;

mod connection_cap;
mod engine_e2e;
mod faults;
mod h2_queue_wait;
mod hedge_pacing_e2e;
mod outcomes_e2e;
mod overload_e2e;
mod queue_drop;
mod recovery_trigger;
mod throttled_compliant;
mod unused_policy;
mod validation;
mod virtual_time;
mod windowed_gates;
