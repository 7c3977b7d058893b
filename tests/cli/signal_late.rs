//! A stop signal after the load is answered too: SIGTERM during
//! `--metrics-linger` ends the linger at once and the run keeps its own
//! exit code (here the failed gate's 1), with every report written.

use crate::common;
use common::TempDir;

use std::process::Stdio;
use std::time::Duration;

#[test]
fn sigterm_during_the_linger_ends_it_and_keeps_the_gate_exit_code() {
    let dir = TempDir::new("siglate");
    let scenario = dir.path().join("s.toml");
    crate::common::scenario()
        .compare(&["compliant"])
        .gates(&["compliant.amplification > 5"])
        .open("1s", 20)
        .drain("2s")
        .write(&scenario);
    let out = dir.path().join("run");
    let mut child = common::stampede().spawn_run(
        &scenario,
        &out,
        &[
            "--metrics-listen",
            "127.0.0.1:0",
            "--metrics-linger",
            "120s",
        ],
        Stdio::piped(),
    );
    // The reports are written before the linger starts.
    common::wait_for("the reports", Duration::from_secs(30), || {
        out.join("junit.xml").is_file()
    });
    // The behaviour under test: a while after its reports, the process is
    // still there (lingering for the scrape), not finished.
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "lingering");
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = common::wait_exit(&mut child, Duration::from_secs(20))
        .expect("SIGTERM during the linger was not answered");
    assert_eq!(
        status.code(),
        Some(1),
        "the failed gate's code, not a signal's"
    );
    for f in common::REPORT_FILES {
        assert!(out.join(f).is_file(), "{f}");
    }
}
