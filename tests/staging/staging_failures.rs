//! Failures that say why, through the binary: a target with nothing
//! listening ends the run with a one-line diagnosis and exit code 4, and the
//! report's notes say the same.

use crate::common;
use common::TempDir;

#[test]
fn a_target_that_never_answers_is_diagnosed_and_exits_4() {
    // A port that was free a moment ago: nothing listens there.
    let port = common::free_port();
    let dir = TempDir::new("unreachable");
    let file = dir.path().join("s.toml");
    let url = format!("http://127.0.0.1:{port}");
    common::scenario()
        .compare(&["naive"])
        .gates(&[
            "naive.operation_latency.p99 < 500ms",
            "naive.amplification <= 1.1",
            "naive.outcomes.HTTP_500 == 0",
        ])
        .target(&url)
        .ticket_drop(3, "100ms")
        .drain("10s")
        .steps(r#"[{ name = "a", path = "/a", retry = false }]"#)
        .write(&file);
    let out = crate::common::stampede()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(dir.path().join("out"))
        .arg("--quiet")
        .output()
        .expect("run stampede");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    let want = format!("target unreachable: 100% CONNECT_REFUSED at {url}");
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with(&format!("error: {want}"))),
        "{stderr}"
    );
    // The report was still written, and says the same.
    let summary: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("out/summary.json")).expect("summary.json"),
    )
    .unwrap();
    let notes = summary["notes"].as_array().expect("notes");
    assert!(
        notes
            .iter()
            .any(|n| n.as_str().is_some_and(|n| n.starts_with(&want))),
        "{notes:?}"
    );
    assert_eq!(summary["results"][0]["outcomes"]["CONNECT_REFUSED"], 3);
    // No gate passes on a target that never answered, and CI sees why.
    let junit = std::fs::read_to_string(dir.path().join("out/junit.xml")).expect("junit.xml");
    assert!(junit.contains(r#"name="target reachable""#), "{junit}");
    assert!(junit.contains(r#"tests="4" failures="4""#), "{junit}");
    for g in summary["gates"].as_array().expect("gates") {
        assert_eq!(g["passed"], false, "{g}");
        assert_eq!(g["reason"], "no_successful_operations", "{g}");
    }
}
