//! The CI log (stderr not a terminal) prints a block every 5 s. Its
//! arrivals line says what the arrivals are doing: a ticket drop's users
//! arrive with no scheduled rate ("closed model"), and once arrivals are
//! over the round is "draining", never "0/s scheduled".

use crate::common;
use common::TempDir;
use common::logserver::LogServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ci_log_says_closed_model_then_draining() {
    // Every answer a 503 asking for 4 s: the compliant clients wait it out,
    // so journeys are still in flight after the last user arrived.
    let server =
        LogServer::start(|_| (503, vec![("retry-after", "4".to_string())], String::new())).await;
    let dir = TempDir::new("ci-log-pace");
    let file = dir.path().join("s.toml");
    common::scenario()
        .compare(&["compliant"])
        .target(&server.url())
        .ticket_drop(4, "6s")
        .drain("30s")
        .steps(common::scenario::POST_RESERVE)
        .write(&file);
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        common::stampede()
            .arg("run")
            .arg(&file)
            .arg("--out")
            .arg(dir.path().join("out"))
            .run_async(),
    )
    .await
    .expect("the run ends within its drain");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let arrivals: Vec<&str> = stderr
        .lines()
        .filter(|l| l.trim_start().starts_with("compliant: arrivals"))
        .collect();
    assert!(
        arrivals.iter().any(|l| l.contains("(closed model)")),
        "{stderr}"
    );
    assert!(
        arrivals.iter().any(|l| l.contains("(draining)")),
        "{stderr}"
    );
    assert!(!stderr.contains("scheduled)"), "{stderr}");
    // The stage line agrees, and the block at the round's end says its
    // rates are averages.
    assert!(stderr.contains("draining, at most"), "{stderr}");
    assert!(stderr.contains("(averaged over the round)"), "{stderr}");
    assert!(!server.seen().is_empty());
}
