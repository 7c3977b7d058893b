//! The command line: subcommands, errors, signals, the README and docs examples.
//!
//! One test binary per group (each links the library once); each file is
//! a module, run one with `cargo test --test cli <module>::`.

#[path = "../common/mod.rs"]
mod common;

mod ci_docs;
mod ci_log_pace;
mod cli_small;
mod interrupt;
mod k8s_manifests;
mod live_view_tty;
mod module_direction;
mod names_are_data;
mod out_claim;
mod policy_errors;
mod readme;
mod scenario_builder;
mod scenario_errors;
mod scenario_gates;
mod scenario_props;
mod search_cli;
mod signal_late;
mod signal_writing;
mod stream_kill;
