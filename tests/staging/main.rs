//! Real targets: nginx, Apache, lighttpd, httpbin, tinyproxy, Redis, Prometheus, TLS, hostile servers.
//!
//! One test binary per group (each links the library once); each file is
//! a module, run one with `cargo test --test staging <module>::`.

#[path = "../common/mod.rs"]
mod common;

mod hostile_target;
mod hostile_wire;
mod httpbin;
mod keep_alive;
mod prometheus_scrape;
mod secret_in_code;
mod secrets_echo;
mod staging_body_keys;
mod staging_failures;
mod staging_fdlimit;
mod staging_harm;
mod staging_journeys;
mod staging_mtls;
mod staging_nginx;
mod staging_proxy;
mod staging_servers;
mod staging_shipped_numbers;
mod staging_sse_reconnect;
mod staging_tls;
mod staging_tokens;
mod staging_trace;
mod staging_waits;
mod staging_when_share;
mod truth_redis;
