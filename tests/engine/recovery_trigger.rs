//! `recovery_s` against any target: a declared `trigger = { from, to }`
//! gives the window; without one a `recovery_s` gate is unmeasured and
//! fails. The target here is a simulator on loopback whose own fault window
//! (every request a 500 from 2 s to 4 s) is the incident the scenario
//! declares.

use crate::common;

use common::run;
use stampede::report::Trigger;
use stampede::sim::{FaultWindow, SimConfig, SimServer};
use std::time::Duration;

/// `trigger`: a top-level `trigger` value, or none.
fn scenario(url: &str, trigger: Option<&str>) -> common::scenario::Scenario {
    let s = common::scenario()
        .compare(&["no-retry"])
        .gates(&["no-retry.recovery_s < 6"]);
    let s = match trigger {
        Some(t) => s.top_key("trigger", t),
        None => s,
    };
    s.target(url)
        .event("E1", &["A"])
        .open("9s", 40)
        .drain("3s")
        .table("[users]\ngenerated_tokens = true")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_trigger_measures_recovery_against_a_target() {
    let mut cfg = SimConfig::default();
    cfg.events[0].zones[0].seats = 100_000;
    cfg.faults.windows = vec![FaultWindow {
        from: Duration::from_secs(2),
        to: Duration::from_secs(4),
        error_rate: 1.0,
        ..FaultWindow::default()
    }];
    let sim = SimServer::start(cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = format!("http://{}", sim.addr());
    let r = run(&scenario(&url, Some(r#"{ from = "2s", to = "4s" }"#)).plan()).await;
    assert_eq!(
        r.trigger,
        Some(Trigger {
            from_s: 2.0,
            to_s: 4.0
        })
    );
    let c = &r.results[0];
    // The incident happened: seconds inside the window lost their successes.
    let inside: u64 = c
        .timeseries
        .iter()
        .filter(|s| (2..4).contains(&s.t))
        .map(|s| s.status_5xx)
        .sum();
    assert!(inside > 0, "{:?}", c.timeseries);
    let rec = c
        .recovery_s
        .expect("back to its baseline before the run ended");
    assert!((0.0..6.0).contains(&rec), "{rec}");
    let g = &r.gates[0];
    assert!(g.passed, "{g:?}");
    assert_eq!(g.measured, Some(rec));

    // Without the declaration the same gate cannot be measured: it fails.
    let r = run(&scenario(&url, None).plan()).await;
    assert_eq!(r.trigger, None);
    assert!(!r.gates[0].passed);
    assert!(r.gates[0].measured.is_none(), "{:?}", r.gates[0]);
}

#[test]
fn a_trigger_after_the_load_or_backwards_is_refused() {
    for (t, needle) in [
        (r#"{ from = "4s", to = "2s" }"#, "before `to`"),
        (
            r#"{ from = "20s", to = "30s" }"#,
            "nothing would be measured",
        ),
    ] {
        let e = stampede::scenario::parse(
            &scenario("http://127.0.0.1:9", Some(t)).toml(),
            std::path::Path::new("t.toml"),
            &Default::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("trigger") && e.contains(needle), "{e}");
    }
}
