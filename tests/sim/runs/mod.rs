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

pub struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    pub summary: Value,
}

/// `stampede run <file> --out <dir> --quiet`, off the test's runtime, so a
/// target the test started keeps answering.
pub async fn run_scenario(file: &Path, out: &Path, extra: &[&str]) -> Run {
    let output = crate::common::stampede()
        .arg("run")
        .arg(file)
        .arg("--out")
        .arg(out)
        .arg("--quiet")
        .args(extra)
        .run_async()
        .await;
    let summary = crate::common::read_summary(out);
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        summary,
    }
}

impl Run {
    pub fn ok(&self) -> &Self {
        assert_eq!(
            self.code,
            Some(0),
            "stampede failed:\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    pub fn fleet(&self, i: usize) -> &Value {
        &self.summary["results"][i]
    }

    pub fn step(&self, i: usize, name: &str) -> &Value {
        self.fleet(i)["steps"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["name"] == name))
            .unwrap_or_else(|| panic!("no step {name} in {}", self.summary))
    }

    /// Journeys of fleet `i` that ended so (`succeeded`, `failed`, ...).
    pub fn journeys(&self, i: usize, end: &str) -> u64 {
        self.fleet(i)["journeys"][end]
            .as_u64()
            .unwrap_or_else(|| panic!("no {end} journeys in {}", self.summary))
    }

    /// The simulator's ledger the report carries for fleet `i`.
    pub fn ledger(&self, i: usize) -> &Value {
        let l = &self.fleet(i)["ledger"];
        assert!(l.is_object(), "no ledger: {}", self.summary);
        l
    }
}

pub fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// A count that may be absent (an outcome nobody had): 0.
pub fn n0(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
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
