//! The live view in a pseudo-terminal (tmux): during a run the screen shows,
//! per fleet, arrivals/s and what paces them (ci-smoke's users are a closed
//! model), attempts/s, retries/s, in
//! flight, latency p50/p99 (last interval and run so far), the answers by
//! status class, the top HTTP statuses so far, and the stage with its time
//! left. Skipped when tmux is missing.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn tmux(args: &[&str]) -> Option<String> {
    let out = Command::new("tmux").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn the_live_view_shows_its_fields_on_a_terminal() {
    if tmux(&["-V"]).is_none() {
        eprintln!("SKIPPED: tmux is not installed");
        return;
    }
    let session = format!("stampede-live-{}", std::process::id());
    let dir = std::env::temp_dir().join(&session);
    let _ = std::fs::remove_dir_all(&dir);
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/ci-smoke.toml");
    // 300 users at 60/s: 5 s of arrivals per round, enough for several redraws.
    let cmd = format!(
        "{} run {} --rate 60 --out {}; sleep 30",
        crate::common::bin::BIN,
        scenario.display(),
        dir.display()
    );
    tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "200",
        "-y",
        "50",
        &cmd,
    ])
    .expect("tmux session");
    let want = [
        "round 1/2: arrivals",
        "s left",
        "compliant: arrivals",
        "/s (closed model)",
        "attempts",
        "retries",
        "in flight",
        "op latency p50/p99 (approx.): last",
        ", run ",
        "answers: 2xx",
        "top statuses: 20",
    ];
    let t0 = Instant::now();
    let mut screen = String::new();
    let mut seen = false;
    while t0.elapsed() < Duration::from_secs(60) {
        screen = tmux(&["capture-pane", "-p", "-t", &session]).unwrap_or_default();
        if want.iter().all(|w| screen.contains(w)) {
            seen = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let _ = tmux(&["kill-session", "-t", &session]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(seen, "the screen never showed every field:\n{screen}");
}
