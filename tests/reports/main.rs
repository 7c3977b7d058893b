//! Reports: every file format, the browser view, merge, compare and repeat.
//!
//! One test binary per group (each links the library once); each file is
//! a module, run one with `cargo test --test reports <module>::`.

#[path = "../common/mod.rs"]
mod common;

mod abandoned_class;
mod arrivals_word;
mod baseline_compare;
mod ci_log_short_round;
mod ci_smoke_repeat;
mod compare_steps;
mod failed_fleet_amplification;
mod failed_fleet_gates;
mod hlog_e2e;
mod junit_no_gates;
mod latency_e2e;
mod latency_step;
mod merge_cli;
mod merged_browser;
mod repeat_compare;
mod repeat_noise;
mod report_browser;
mod report_files;
mod report_html;
mod report_scale;
mod report_schema;
mod report_write_failure;
mod shards_exact;
