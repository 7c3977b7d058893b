//! Staging credentials through the real binary: a bearer token from
//! `token_env`, or per-user tokens from `[users] csv`, must reach the target
//! (the simulator's per-user ticket limit proves whose requests they were)
//! and must appear in no report file and nowhere in stdout or stderr.

use crate::common;
use common::TempDir;

use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::process::Output;

fn random_hex() -> String {
    let r = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!("{r:016x}")
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read report dir") {
            let p = entry.expect("dir entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    let n = needle.as_bytes();
    !n.is_empty() && haystack.windows(n.len()).any(|w| w == n)
}

/// No file of the report folder (read as bytes: html, json, csv, hgrm,
/// junit...) and neither output stream holds any of `secrets`.
fn assert_nowhere(out_dir: &Path, output: &Output, secrets: &[&str]) {
    let files = files_under(out_dir);
    assert!(
        files.iter().any(|f| f.ends_with("summary.json")),
        "the run wrote its reports: {files:?}"
    );
    assert!(files.len() >= 5, "{files:?}");
    for f in &files {
        let bytes = std::fs::read(f).expect("read report file");
        for s in secrets {
            assert!(!contains(&bytes, s), "{} leaks a token", f.display());
        }
    }
    for s in secrets {
        assert!(!contains(&output.stdout, s), "stdout leaks a token");
        assert!(!contains(&output.stderr, s), "stderr leaks a token");
    }
}

fn summary(out_dir: &Path) -> serde_json::Value {
    let bytes = std::fs::read(out_dir.join("summary.json")).expect("summary.json");
    serde_json::from_slice(&bytes).expect("summary.json parses")
}

fn run_scenario(scenario: &Path, out_dir: &Path, env: &[(&str, &str)]) -> Output {
    let output = common::stampede()
        .arg("run")
        .arg(scenario)
        .arg("--out")
        .arg(out_dir)
        .arg("--quiet")
        .envs(env.iter().copied())
        .run();
    assert_eq!(
        output.status.code(),
        Some(0),
        "stampede run failed:\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `arrivals` buyers of one seat each in zone A of the simulator at `url`.
/// `target_keys` go into `[target]`, `users` is a `[users]` table or empty.
fn scenario(url: &str, target_keys: &[(&str, &str)], users: &str, arrivals: u32) -> String {
    common::scenario()
        .name("staging-tokens")
        .compare(&["fast"])
        .target(url)
        .target_keys(target_keys)
        .ticket_drop(arrivals, "200ms")
        .drain("20s")
        .event("E1", &["A"])
        .quantity(1)
        .table(users)
        .table(
            "[policies.fast]\npreset = \"compliant\"\nbase_delay = \"10ms\"\nmax_delay = \"20ms\"",
        )
        .toml()
}

fn held_in_zone_a(server: &stampede::sim::SimServer) -> u32 {
    let l = server.ledger();
    let z = l.zones.get("E1/A").expect("zone E1/A");
    z.sold + z.reserved
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_env_reaches_the_target_and_never_the_reports() {
    // The per-user limit (4 seats) is the evidence: with one shared token,
    // 12 buyers are one user to the server.
    let mut cfg = common::quiet_config();
    cfg.max_tickets_per_user = 4;
    let server = common::start(cfg).await;
    let api = common::Api::new(&server);
    let url = format!("http://{}", server.addr());

    let hex = random_hex();
    // The variable name may appear in reports; only its value is secret.
    let var = format!("STAMPEDE_TEST_TOKEN_{}", random_hex().to_uppercase());
    let token = format!("tok-SECRET-{hex}");
    let dir = TempDir::new("tokens-env");
    let file = dir.path().join("staging-tokens.toml");
    let out_dir = dir.path().join("reports");
    std::fs::write(
        &file,
        scenario(&url, &[("token_env", &format!("{var:?}"))], "", 12),
    )
    .expect("write scenario");

    let output = tokio::task::spawn_blocking({
        let (file, out_dir, var, token) =
            (file.clone(), out_dir.clone(), var.clone(), token.clone());
        move || run_scenario(&file, &out_dir, &[(&var, &token)])
    })
    .await
    .expect("binary ran");

    // The header was sent: the server saw one user holding the 4 seats it
    // may hold, and the report saw the other 8 refused for that reason.
    assert_eq!(held_in_zone_a(&server), 4, "{:?}", server.ledger());
    let s = summary(&out_dir);
    let c = &s["results"][0];
    assert_eq!(c["journeys"]["started"], 12);
    assert_eq!(
        c["outcomes"]["MAX_TICKETS_EXCEEDED"], 8,
        "{}",
        c["outcomes"]
    );
    // ... and that user is the token: it can buy nothing more, anyone else can.
    let again = api.reserve(&token, Some("k-after-1"), "A", 1).await;
    assert_eq!(again.status, 409);
    assert_eq!(again.code(), "MAX_TICKETS_EXCEEDED");
    let other = api.reserve("someone-else", Some("k-after-2"), "A", 1).await;
    assert_eq!(other.status / 100, 2, "{}", other.json());

    assert_nowhere(&out_dir, &output, &[&token, &hex]);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_users_reach_the_target_and_never_the_reports() {
    let mut cfg = common::quiet_config();
    cfg.max_tickets_per_user = 4;
    let server = common::start(cfg).await;
    let api = common::Api::new(&server);
    let url = format!("http://{}", server.addr());

    let hex = random_hex();
    let tokens: Vec<String> = (1..=3)
        .map(|i| format!("tok-csv-SECRET-{hex}-{i}"))
        .collect();
    let dir = TempDir::new("tokens-csv");
    let mut csv = String::from("user_id,token\n");
    for (i, t) in tokens.iter().enumerate() {
        csv.push_str(&format!("buyer-{},{t}\n", i + 1));
    }
    std::fs::write(dir.path().join("users.csv"), csv).expect("write users.csv");
    let file = dir.path().join("staging-tokens.toml");
    let out_dir = dir.path().join("reports");
    // 15 arrivals over 3 listed users: 5 each, of which 4 may buy.
    std::fs::write(
        &file,
        scenario(&url, &[], "[users]\ncsv = \"users.csv\"", 15),
    )
    .expect("write scenario");

    let output = tokio::task::spawn_blocking({
        let (file, out_dir) = (file.clone(), out_dir.clone());
        move || run_scenario(&file, &out_dir, &[])
    })
    .await
    .expect("binary ran");

    assert_eq!(held_in_zone_a(&server), 12, "{:?}", server.ledger());
    let s = summary(&out_dir);
    let c = &s["results"][0];
    assert_eq!(c["journeys"]["started"], 15);
    assert_eq!(
        c["outcomes"]["MAX_TICKETS_EXCEEDED"], 3,
        "{}",
        c["outcomes"]
    );
    // Each listed token is a user at its limit; a token not in the file is not.
    for (i, t) in tokens.iter().enumerate() {
        let r = api.reserve(t, Some(&format!("k-csv-{i}")), "A", 1).await;
        assert_eq!(r.code(), "MAX_TICKETS_EXCEEDED", "token {i}: {}", r.json());
    }
    let other = api
        .reserve(&format!("tok-not-listed-{hex}"), Some("k-csv-x"), "A", 1)
        .await;
    assert_eq!(other.status / 100, 2, "{}", other.json());

    let secrets: Vec<&str> = tokens
        .iter()
        .map(String::as_str)
        .chain([hex.as_str()])
        .collect();
    assert_nowhere(&out_dir, &output, &secrets);
    server.shutdown().await;
}
