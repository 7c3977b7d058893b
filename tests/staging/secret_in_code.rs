//! A users-CSV value that happens to be part of a target code (a column
//! holding `SUFFICIENT`) is scrubbed from what is kept, yet the journey
//! still reads the code as sent: `INSUFFICIENT_SEATS` on zone A sends every
//! buyer on to zone B, where each one books.

use crate::common;

use common::TempDir;
use common::logserver::{LogServer, envelope};
use std::path::Path;

/// A users-CSV value inside the sold-out code.
const SECRET: &str = "SUFFICIENT";
const USERS: usize = 50;

fn texts(dir: &Path, out: &mut Vec<(String, String)>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            texts(&p, out);
        } else if let Ok(t) = std::fs::read_to_string(&p) {
            out.push((p.display().to_string(), t));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_zone_is_decided_on_the_code_as_sent() {
    let server = LogServer::start(|s| {
        let json = vec![("content-type", "application/json".into())];
        if s.body.contains("\"zone\":\"A\"") {
            (409, json, envelope("INSUFFICIENT_SEATS"))
        } else {
            (201, json, r#"{"success":true,"data":{"id":"R1"}}"#.into())
        }
    })
    .await;
    let dir = TempDir::new("secret-in-code");
    let mut csv = String::from("user_id,hint\n");
    for i in 0..USERS {
        csv.push_str(&format!("buyer-{i},{SECRET}\n"));
    }
    std::fs::write(dir.path().join("users.csv"), csv).unwrap();
    let file = dir.path().join("s.toml");
    common::scenario()
        .compare(&["compliant"])
        .target(&server.url())
        .closed(USERS as u32, 1, "30s")
        .journey_key("zones", r#"["A", "B"]"#)
        .journey_key("next_zone_on", r#"["INSUFFICIENT_SEATS"]"#)
        .steps(r#"[{ name = "reserve", method = "POST", path = "/reserve", body = '{"user":"${user_id}","zone":"${zone}"}' }]"#)
        .table("[users]\ncsv = \"users.csv\"")
        .write(&file);
    let out = dir.path().join("out");
    let run = common::bin::run_scenario(&file, &out, &[]).await;
    let c = run.fleet(0);
    assert_eq!(c["journeys"]["failed"], 0, "{}", c["journeys"]);
    assert_eq!(c["journeys"]["succeeded"], USERS, "{}", c["journeys"]);
    // The target saw each buyer book once, in B, after at most one refusal
    // in A (a buyer starts at a zone of its own).
    let seen = server.seen();
    let mut refused = 0;
    for i in 0..USERS {
        let user = format!("\"user\":\"buyer-{i}\"");
        let zones: Vec<bool> = seen
            .iter()
            .filter(|s| s.body.contains(&user))
            .map(|s| s.body.contains("\"zone\":\"B\""))
            .collect();
        assert!(
            zones == [true] || zones == [false, true],
            "buyer-{i}: {zones:?}"
        );
        refused += zones.len() - 1;
    }
    assert!(refused > 0, "no buyer tried zone A");
    assert_eq!(c["outcomes"]["IN***_SEATS"], refused, "{}", c["outcomes"]);
    // The code is kept, scrubbed of the value.
    let mut all = Vec::new();
    texts(&out, &mut all);
    all.push(("stdout".into(), run.stdout.clone()));
    all.push(("stderr".into(), run.stderr.clone()));
    for (name, text) in &all {
        assert!(
            !text.to_ascii_uppercase().contains(SECRET),
            "{name} holds the users-CSV value"
        );
    }
}
