//! `--out` is claimed: a second run on a folder another run is writing
//! into is refused at once, and a folder an earlier run filled needs
//! `--force`; a run killed with SIGKILL leaves no claim behind.

use crate::common;
use common::TempDir;

use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::Duration;

fn cmd(scenario: &Path, out: &Path, extra: &[&str]) -> common::bin::Stampede {
    let mut c = common::stampede();
    c.arg("run")
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .arg("--quiet");
    c.args(extra);
    c
}

fn start(scenario: &Path, out: &Path) -> Child {
    let mut c = cmd(scenario, out, &[]);
    let child = c
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The claim is taken (the lock file names the pid) before the load starts.
    let lock = out.join(".stampede.lock");
    common::wait_for("the claim on --out", Duration::from_secs(20), || {
        std::fs::read_to_string(&lock).is_ok_and(|s| s.trim() == child.id().to_string())
    });
    child
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_folder_is_one_runs_and_a_killed_run_leaves_no_claim() {
    let dir = TempDir::new("outclaim");
    let scenario = dir.path().join("s.toml");
    crate::common::scenario()
        .compare(&["compliant"])
        .open("3s", 20)
        .drain("2s")
        .write(&scenario);
    let out = dir.path().join("shared");

    let mut first = start(&scenario, &out);
    for extra in [&[][..], &["--force"][..]] {
        let second = cmd(&scenario, &out, extra).output().unwrap();
        assert_eq!(second.status.code(), Some(2), "{}", stderr(&second));
        assert!(
            stderr(&second).contains(&format!("another stampede run (pid {})", first.id())),
            "{}",
            stderr(&second)
        );
    }
    assert_eq!(first.wait().unwrap().code(), Some(0));
    // The first run's report is whole and its alone.
    let r = stampede::report::json::load_summary(&out).unwrap();
    assert_eq!(r.status, stampede::report::RunStatus::Completed);
    for f in common::REPORT_FILES {
        assert!(out.join(f).is_file(), "{f}");
    }

    let after = cmd(&scenario, &out, &[]).output().unwrap();
    assert_eq!(after.status.code(), Some(2));
    assert!(
        stderr(&after).contains("is not empty"),
        "{}",
        stderr(&after)
    );

    // SIGKILL: the kernel drops the lock with the process.
    let killed = dir.path().join("killed");
    let mut k = start(&scenario, &killed);
    k.kill().unwrap();
    k.wait().unwrap();
    let next = cmd(&scenario, &killed, &["--force", "--duration", "1s"])
        .output()
        .unwrap();
    assert_eq!(next.status.code(), Some(0), "{}", stderr(&next));
}
