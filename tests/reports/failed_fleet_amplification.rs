//! Amplification on a fleet none of whose operations succeeded stays
//! measured: it is the ratio of requests the server saw to operations, an
//! honest count whether the answers were good or not, so it is not failed
//! as `no_successful_operations` (the latency and rate gates are). The
//! report says so in a note naming the fleet.

use crate::common;
use common::TempDir;
use common::logserver::{LogServer, envelope};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amplification_is_measured_over_failed_operations_and_the_report_says_so() {
    let server = LogServer::start(|_| {
        (
            403,
            vec![("content-type", "application/json".into())],
            envelope("FORBIDDEN"),
        )
    })
    .await;
    let dir = TempDir::new("all-403-amp");
    let file = dir.path().join("s.toml");
    common::scenario()
        .compare(&["naive", "compliant"])
        .gates(&[
            "naive.amplification > 2",
            "compliant.amplification <= 1",
            "naive.operation_latency.p99 < 5s",
        ])
        .target(&server.url())
        .ticket_drop(4, "200ms")
        .drain("10s")
        .table("[[journey.steps]]\nname = \"reserve\"\nmethod = \"POST\"\npath = \"/reserve\"")
        .write(&file);
    let out = dir.path().join("out");
    let run = common::bin::run_scenario(&file, &out, &[]).await;
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    let (naive, compliant) = (run.fleet(0), run.fleet(1));
    let amp = |f: &serde_json::Value| {
        f["attempts"].as_u64().unwrap() as f64 / f["operations"].as_u64().unwrap() as f64
    };
    // naive retries a 403 (it retries everything); compliant stops at once.
    assert_eq!(naive["operations"].as_u64(), Some(4), "{naive}");
    assert!(amp(naive) > 2.0, "{naive}");
    assert_eq!(amp(compliant), 1.0, "{compliant}");
    let seen = server.seen().len() as u64;
    assert_eq!(
        seen,
        naive["attempts"].as_u64().unwrap() + compliant["attempts"].as_u64().unwrap()
    );
    let gates = run.summary["gates"].as_array().unwrap();
    for (g, fleet) in gates[..2].iter().zip([naive, compliant]) {
        assert_eq!(g["passed"], true, "{g}");
        assert_eq!(g["reason"], "passed", "{g}");
        let measured = g["measured"].as_f64().unwrap();
        assert!(
            (measured - amp(fleet)).abs() < 1e-9,
            "{g} vs {}",
            amp(fleet)
        );
    }
    assert_eq!(gates[2]["passed"], false);
    assert_eq!(gates[2]["reason"], "no_successful_operations");
    // A note per gated fleet with no success, on the console and in
    // summary.json.
    let notes: Vec<&str> = run.summary["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n.as_str())
        .filter(|n| n.contains("none of its"))
        .collect();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(
        notes[1].starts_with("fleet `naive`: none of its 4 operations succeeded"),
        "{notes:?}"
    );
    assert!(
        notes.iter().all(|n| n.contains("amplification")),
        "{notes:?}"
    );
    assert!(
        run.stdout
            .contains("NOTE: fleet `naive`: none of its 4 operations"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
}
