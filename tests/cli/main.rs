//! The command line: subcommands, errors, signals, the README and docs examples.
//!
//! One test binary per group (each links the library once); each file is
//! a module, run one with `cargo test --test cli <module>::`.

#[path = "../common/mod.rs"]
mod common;

mod cli_small;
mod out_claim;
mod signal_late;
mod interrupt;
mod scenario_errors;
mod policy_errors;
mod scenario_gates;
mod scenario_props;
mod readme;
mod ci_docs;
mod k8s_manifests;
mod live_view_tty;
mod stream_kill;
