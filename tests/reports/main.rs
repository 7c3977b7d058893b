//! Reports: every file format, the browser view, merge, compare and repeat.
//!
//! One test binary per group (each links the library once); each file is
//! a module, run one with `cargo test --test reports <module>::`.

#[path = "../common/mod.rs"]
mod common;

mod abandoned_class;
mod baseline_compare;
mod ci_smoke_repeat;
mod compare_steps;
mod failed_fleet_gates;
mod hlog_e2e;
mod latency_e2e;
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
