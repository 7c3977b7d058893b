//! In a CI log (stderr not a terminal) the live block comes every 5 s; a
//! round shorter than that still prints its end-of-round block, rates
//! averaged over the round, one per round.

use crate::common;
use common::TempDir;

#[test]
fn a_round_shorter_than_five_seconds_prints_its_block() {
    let dir = TempDir::new("ci-log-short");
    let file = dir.path().join("s.toml");
    common::scenario()
        .compare(&["compliant", "naive"])
        .open("1s", 20)
        .drain("3s")
        .write(&file);
    let out = dir.path().join("out");
    // No --quiet, stderr a pipe: what a CI job's log holds.
    let o = common::stampede()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .run();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.code().is_some_and(|c| c <= 1), "{stderr}");
    assert!(out.join("summary.json").is_file());
    for (i, name) in ["compliant", "naive"].into_iter().enumerate() {
        let head = format!("round {} of 2 ended after", i + 1);
        let block: Vec<&str> = stderr
            .lines()
            .skip_while(|l| !l.contains(&head))
            .take(4)
            .collect();
        assert!(!block.is_empty(), "no `{head}` block in:\n{stderr}");
        assert!(block[0].contains("(rates over the round)"), "{block:?}");
        // The round ended before the first 5 s block was due.
        let secs: f64 = block[0]
            .split("ended after ")
            .nth(1)
            .and_then(|r| r.split('s').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no duration in {}", block[0]));
        assert!(secs < 5.0, "{}", block[0]);
        let arrivals = block
            .iter()
            .find(|l| l.trim_start().starts_with(&format!("{name}: arrivals")))
            .unwrap_or_else(|| panic!("no {name} arrivals line in {block:?}"));
        assert!(arrivals.contains("(averaged over the round)"), "{arrivals}");
    }
    assert_eq!(stderr.matches("ended after").count(), 2, "{stderr}");
}
