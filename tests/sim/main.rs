//! The embedded simulator, both profiles, and the loopback double of the real API.
//!
//! One test binary per group (each links the library once); each file is
//! a module, run one with `cargo test --test sim <module>::`.

#[path = "../common/mod.rs"]
mod common;

mod conformance;
mod runs;
mod sim_abuse;
mod sim_api;
mod sim_faults;
mod sim_tls;
