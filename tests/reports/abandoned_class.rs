//! An attempt cut off because its person gave up (`abandon_after`, the
//! request still in flight) is its own attempt class, `abandoned`: the
//! 10 s request timeout never fired, so it is not a timeout in
//! summary.json nor in timeseries.csv's per-second `timeouts`.

use crate::common::TempDir;
use serde_json::Value;

#[test]
fn an_abandoned_attempt_is_its_own_class_not_a_timeout() {
    let dir = TempDir::new("abandoned-class");
    let file = dir.path().join("s.toml");
    crate::common::scenario::impatient_users().write(&file);
    let out = dir.path().join("out");
    let o = crate::common::stampede()
        .arg("run")
        .arg(&file)
        .arg("--virtual-time")
        .arg("--quiet")
        .arg("--out")
        .arg(&out)
        .run();
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let s: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let f = &s["results"][0];
    assert_eq!(f["outcomes"]["ABANDONED"], 30, "{}", f["outcomes"]);
    let classes = &f["steps"][0]["attempt_latency_by_class_ms"];
    assert_eq!(classes["abandoned"]["count"], 30, "{classes}");
    assert!(classes.get("timeout").is_none(), "{classes}");
    let timeouts: u64 = f["timeseries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["timeouts"].as_u64().unwrap())
        .sum();
    assert_eq!(timeouts, 0);
    // timeseries.csv says the same, second by second.
    let csv = std::fs::read_to_string(out.join("timeseries.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "timeouts").unwrap();
    let attempts = header.iter().position(|h| *h == "attempts").unwrap();
    let (mut t, mut a) = (0u64, 0u64);
    for l in lines {
        let cells: Vec<&str> = l.split(',').collect();
        t += cells[col].parse::<u64>().unwrap();
        a += cells[attempts].parse::<u64>().unwrap();
    }
    assert_eq!((t, a), (0, 30));
}
