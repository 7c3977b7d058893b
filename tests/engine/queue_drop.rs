//! The shipped queue drop (`scenarios/ticket-drop-queue.toml`, the real
//! Booking Rush API in the embedded simulator) on virtual time: the effects
//! the scenario's comments promise are in the ledger, and the verdict
//! names the fleet whose buyers got an answer, not the one whose failed
//! journeys left the fewest failed operations behind.

use crate::common::TempDir;
use serde_json::Value;

#[test]
fn the_queue_drop_strands_passes_replays_500s_and_ranks_compliant_first() {
    let dir = TempDir::new("queue-drop");
    let out = dir.path().join("out");
    let res = crate::common::stampede()
        .args([
            "run",
            "scenarios/ticket-drop-queue.toml",
            "--virtual-time",
            "--out",
        ])
        .arg(&out)
        .env("NO_PROXY", "127.0.0.1,localhost,::1")
        .output()
        .expect("run stampede");
    let stdout = String::from_utf8_lossy(&res.stdout);
    assert!(
        res.status.success(),
        "exit {:?}\n{stdout}\n{}",
        res.status.code(),
        String::from_utf8_lossy(&res.stderr)
    );
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let fleet = |name: &str| {
        summary["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("no fleet {name}"))
            .clone()
    };
    let (compliant, naive) = (fleet("compliant"), fleet("naive"));
    for f in [&compliant, &naive] {
        let l = &f["ledger"];
        assert_eq!(l["oversold"], 0, "{}", f["name"]);
        assert!(l["queue"]["passes_stranded"].as_u64().unwrap() > 0, "{l}");
        // Every seat sold: 3 zones of 300, two per booking.
        assert_eq!(l["bookings_created"], 450, "{}", f["name"]);
    }
    // The compliant client retries a 500 with the same key: the stored 500
    // is replayed to it. The naive one changes the key, so it never is.
    let replayed_500 = |f: &Value| {
        f["ledger"]["replays_by_status"]["500"]
            .as_u64()
            .unwrap_or(0)
    };
    assert!(replayed_500(&compliant) > 0, "{}", compliant["ledger"]);
    assert_eq!(replayed_500(&naive), 0, "{}", naive["ledger"]);
    // Journeys that got an answer (a booking, or sold out everywhere).
    let answered = |f: &Value| {
        let j = &f["journeys"];
        j["succeeded"].as_u64().unwrap() + j["sold_out"].as_u64().unwrap()
    };
    assert!(answered(&compliant) > answered(&naive), "{stdout}");
    let verdict = stdout
        .lines()
        .find(|l| l.starts_with("Healthiest") || l.starts_with("No fleet"))
        .unwrap_or_else(|| panic!("no verdict line:\n{stdout}"));
    assert!(verdict.starts_with("Healthiest: compliant"), "{verdict}");
}
