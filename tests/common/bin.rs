//! The built `stampede` binary, run the way the tests need it.
//!
//! `stampede()` mirrors [`std::process::Command`] (so one call reads like
//! a shell line) and adds bytes fed to stdin, `.run()` that panics with
//! the command line on a spawn failure, and an async form for tests on
//! a Tokio runtime that must keep serving a loopback target meanwhile.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Output, Stdio};

/// Path of the binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_stampede");

/// The binary under test, not yet started.
pub fn stampede() -> Stampede {
    Stampede {
        cmd: Command::new(BIN),
        input: None,
    }
}

/// The binary under test started by a wrapper that execs it
/// (`taskset -c 1 <BIN> ...`), so the child's pid is still stampede's.
pub fn stampede_via(wrapper: &str, wrapper_args: &[&str]) -> Stampede {
    let mut cmd = Command::new(wrapper);
    cmd.args(wrapper_args).arg(BIN);
    Stampede { cmd, input: None }
}

pub struct Stampede {
    cmd: Command,
    input: Option<Vec<u8>>,
}

impl Stampede {
    pub fn arg(&mut self, a: impl AsRef<OsStr>) -> &mut Self {
        self.cmd.arg(a);
        self
    }
    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }
    pub fn env(&mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> &mut Self {
        self.cmd.env(k, v);
        self
    }
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.cmd.envs(vars);
        self
    }
    pub fn env_remove(&mut self, k: impl AsRef<OsStr>) -> &mut Self {
        self.cmd.env_remove(k);
        self
    }
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.cmd.current_dir(dir);
        self
    }
    /// Bytes written to the child's stdin, which is then closed.
    pub fn stdin_bytes(&mut self, bytes: impl Into<Vec<u8>>) -> &mut Self {
        self.input = Some(bytes.into());
        self
    }
    pub fn stdin(&mut self, s: Stdio) -> &mut Self {
        self.cmd.stdin(s);
        self
    }
    pub fn stdout(&mut self, s: Stdio) -> &mut Self {
        self.cmd.stdout(s);
        self
    }
    pub fn stderr(&mut self, s: Stdio) -> &mut Self {
        self.cmd.stderr(s);
        self
    }

    /// Runs to the end and collects stdout and stderr.
    pub fn output(&mut self) -> std::io::Result<Output> {
        let Some(input) = self.input.take() else {
            return self.cmd.output();
        };
        self.cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self.cmd.spawn()?;
        let mut stdin = child.stdin.take().expect("piped stdin");
        // A writer thread: a child that fills its stdout pipe before it
        // reads all of stdin must not deadlock against us.
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let out = child.wait_with_output()?;
        let _ = writer.join();
        Ok(out)
    }

    /// [`Self::output`], panicking with the command line if it cannot start.
    pub fn run(&mut self) -> Output {
        self.output()
            .unwrap_or_else(|e| panic!("run {:?}: {e}", self.cmd))
    }

    /// [`Self::run`] on a blocking thread, so the calling Tokio runtime
    /// keeps serving the loopback target the binary talks to.
    pub async fn run_async(&mut self) -> Output {
        let mut me = Stampede {
            cmd: std::mem::replace(&mut self.cmd, Command::new(BIN)),
            input: self.input.take(),
        };
        tokio::task::spawn_blocking(move || me.run())
            .await
            .expect("stampede thread")
    }

    /// The underlying command, for what only it offers (`pre_exec`).
    pub fn command_mut(&mut self) -> &mut Command {
        &mut self.cmd
    }

    pub fn spawn(&mut self) -> std::io::Result<Child> {
        self.cmd.spawn()
    }

    /// `run <scenario> --out <out> --quiet <extra>` in the background,
    /// stdout discarded: a run the test signals or kills while it goes.
    pub fn spawn_run(
        &mut self,
        scenario: &Path,
        out: &Path,
        extra: &[&str],
        stderr: Stdio,
    ) -> Child {
        self.cmd
            .arg("run")
            .arg(scenario)
            .arg("--out")
            .arg(out)
            .arg("--quiet")
            .args(extra)
            .stdout(Stdio::null())
            .stderr(stderr);
        self.cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start {:?}: {e}", self.cmd))
    }
}

/// `stampede compare A B --out OUT`, more arguments to add.
pub fn compare(a: &Path, b: &Path, out: &Path) -> Stampede {
    let mut c = stampede();
    c.arg("compare").arg(a).arg(b).arg("--out").arg(out);
    c
}

/// A run folder's `summary.json`, or `Null` if it is missing or unreadable
/// (the caller asserts on the exit code first).
pub fn read_summary(out: &Path) -> serde_json::Value {
    std::fs::read(out.join("summary.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// What one `stampede run` left: exit code, output and `summary.json`.
pub struct RunOutput {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub summary: serde_json::Value,
}

/// `stampede run <file> --out <out> <extra>`, off the test's runtime so a
/// loopback target the test started keeps answering.
pub async fn run_scenario(file: &Path, out: &Path, extra: &[&str]) -> RunOutput {
    let output = stampede()
        .arg("run")
        .arg(file)
        .arg("--out")
        .arg(out)
        .args(extra)
        .run_async()
        .await;
    RunOutput {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        summary: read_summary(out),
    }
}

impl RunOutput {
    /// Asserts exit 0, printing both streams if not.
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

    pub fn fleet(&self, i: usize) -> &serde_json::Value {
        &self.summary["results"][i]
    }

    /// Step `name` of fleet `i`.
    pub fn step(&self, i: usize, name: &str) -> &serde_json::Value {
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

    /// The report's notes.
    pub fn notes(&self) -> Vec<&str> {
        self.summary["notes"]
            .as_array()
            .map(|n| n.iter().filter_map(|n| n.as_str()).collect())
            .unwrap_or_default()
    }

    /// The simulator's ledger the report carries for fleet `i`.
    pub fn ledger(&self, i: usize) -> &serde_json::Value {
        let l = &self.fleet(i)["ledger"];
        assert!(l.is_object(), "no ledger: {}", self.summary);
        l
    }
}

/// A count in a summary; absent (an outcome nobody had) is 0.
pub fn n0(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// A `stampede serve --port 0 --config <config>` child, killed on drop.
pub struct Served {
    pub child: Child,
    /// The address its first line names.
    pub addr: SocketAddr,
    /// Kept open: the simulator prints more lines.
    _stdout: BufReader<ChildStdout>,
}

/// Starts `stampede serve` on a free loopback port with the simulator
/// config `config` and waits for the line naming its address.
pub fn serve(config: &Path, stderr: Stdio) -> Served {
    let mut child = stampede()
        .args(["serve", "--port", "0", "--config"])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("start stampede serve");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("serve's first line");
    let addr = line
        .trim()
        .rsplit("http://")
        .next()
        .and_then(|a| a.trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    Served {
        child,
        addr,
        _stdout: stdout,
    }
}

impl Served {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
