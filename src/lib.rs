//! stampede: a load generator that asks one question of a ticketing API,
//! "does it hold when every client retries like the guidelines say, and what
//! happens when they don't?"
//!
//! Everything lives in the library so integration tests drive the same code
//! the binary does; `main.rs` only parses arguments and maps errors to exit
//! codes.

pub mod app;
pub mod board;
pub mod cli;
pub mod client;
pub mod clock;
pub mod compare;
pub mod engine;
pub mod gate;
pub mod merge;
pub mod metrics;
pub mod model;
pub mod names;
pub mod outcome;
pub mod policy;
pub mod prom;
pub mod report;
pub mod run;
/// A fully populated report for renderers' tests, the sample example and the
/// schema check: a fixture, not a measurement, compiled for tests and examples only
/// (the `sample` feature the dev-dependencies turn on).
#[cfg(any(test, feature = "sample"))]
#[doc(hidden)]
pub mod sample;
pub mod scenario;
pub mod search;
pub mod shard;
pub mod sim;
pub mod timefmt;
pub mod truth;
