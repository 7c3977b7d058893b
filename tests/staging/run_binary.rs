//! `stampede run` as a user runs it, for the files here that check a run
//! through the binary: its exit code, output and `summary.json`.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

pub struct BinRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub summary: Value,
}

/// `stampede run <file> --out <out> <extra>`, off the test's runtime so a
/// loopback target the test started keeps answering.
pub async fn stampede(file: &Path, out: &Path, extra: &[&str]) -> BinRun {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stampede"));
    cmd.arg("run").arg(file).arg("--out").arg(out).args(extra);
    let out_dir = out.to_path_buf();
    let output = tokio::task::spawn_blocking(move || cmd.output().expect("run stampede"))
        .await
        .expect("join");
    let summary = std::fs::read(out_dir.join("summary.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    BinRun {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        summary,
    }
}

impl BinRun {
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

    pub fn step(&self, name: &str) -> &Value {
        self.summary["results"][0]["steps"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["name"] == name))
            .unwrap_or_else(|| panic!("no step {name} in {}", self.summary))
    }

    /// Journeys of the first fleet that ended so (`succeeded`, ...).
    pub fn journeys(&self, end: &str) -> u64 {
        self.summary["results"][0]["journeys"][end]
            .as_u64()
            .unwrap_or_else(|| panic!("no {end} journeys in {}", self.summary))
    }
}

/// A count in the summary (absent: 0).
pub fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}
