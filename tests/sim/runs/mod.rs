//! Runs of the binary against the two Booking Rush targets: the loopback
//! double of the real API (`double`) and the embedded simulator's profile
//! (`sim`). Every number a report gives is checked against what the target
//! itself counted. Here: running stampede, reading its summary, and the
//! buyer's steps both targets' scenarios share.

use crate::common::TempDir;
use serde_json::Value;
use std::path::{Path, PathBuf};

mod double;
mod serve;
mod sim;

pub use crate::common::bin::{RunOutput as Run, n0};

/// `stampede run <file> --out <dir> --quiet <extra>`.
pub async fn run_scenario(file: &Path, out: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["--quiet"];
    args.extend_from_slice(extra);
    crate::common::bin::run_scenario(file, out, &args).await
}

pub fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

pub fn write(dir: &TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).expect("write scenario");
    p
}

/// `users.csv` of `count` buyers, `buyer{i}@example.test`, one password.
pub fn users(dir: &TempDir, count: usize) {
    let mut csv = String::from("user_id,email,password\n");
    for i in 1..=count {
        csv.push_str(&format!("u{i},buyer{i}@example.test,correct-horse\n"));
    }
    write(dir, "users.csv", &csv);
}

/// The login step, capturing the access token; keys may follow.
pub const LOGIN_STEP: &str = r#"
[[journey.steps]]
name = "login"
method = "POST"
path = "/api/v1/auth/login"
body = '{"email":"${email}","password":"${password}"}'
capture = { access_token = "/data/access_token" }
"#;

/// A wait step that polls the position every `interval` until the pass
/// (at most 30 s).
pub fn poll_step(interval: &str) -> String {
    format!(
        r#"
[[journey.steps]]
name = "wait"
path = "/api/v1/queue/position/${{event}}"
headers = {{ Authorization = "Bearer ${{access_token}}" }}
until = {{ pointer = "/is_ready", equals = true }}
poll_interval = "{interval}"
max_wait = "30s"
timeout_outcome = "QUEUE_TIMEOUT"
capture = {{ queue_pass = "/queue_pass" }}
phase = "journey"
"#
    )
}

/// A buyer's steps: login, join, `wait`, then reserve one seat of show
/// `show` with the pass; `login` and `reserve` are extra keys of those
/// steps.
pub fn buyer_steps(login: &str, wait: &str, show: &str, reserve: &str) -> String {
    format!(
        r#"{LOGIN_STEP}phase = "journey"
{login}

[[journey.steps]]
name = "join"
method = "POST"
path = "/api/v1/queue/join"
idempotent = true
headers = {{ Authorization = "Bearer ${{access_token}}" }}
body = '{{"event_id":"${{event}}"}}'
phase = "journey"

{wait}

[[journey.steps]]
name = "reserve"
method = "POST"
path = "/api/v1/bookings/reserve"
idempotent = true
headers = {{ Authorization = "Bearer ${{access_token}}" }}
body = '{{"event_id":"${{event}}","zone_id":"${{zone}}","show_id":"{show}","quantity":1,"queue_pass":"${{queue_pass}}"}}'
capture = {{ booking_id = "/booking_id" }}
phase = "zone"
{reserve}
"#
    )
}
