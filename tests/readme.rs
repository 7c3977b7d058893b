//! The README is a contract: its two commands, every `stampede` example and
//! every file it points at must be true. These tests run them.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn readme() -> String {
    std::fs::read_to_string("README.md").expect("README.md")
}

/// Lines of every ```sh block, in order, one Vec per block.
fn sh_blocks(text: &str) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    let mut cur: Option<Vec<String>> = None;
    for line in text.lines() {
        let t = line.trim();
        match (&mut cur, t) {
            (None, "```sh") => cur = Some(Vec::new()),
            (Some(_), "```") => blocks.push(cur.take().unwrap()),
            (Some(b), l) if !l.is_empty() && !l.starts_with('#') => b.push(l.to_string()),
            _ => {}
        }
    }
    blocks
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("stampede-readme-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn the_two_commands_come_first_and_ci_runs_the_test_command() {
    let blocks = sh_blocks(&readme());
    assert_eq!(
        blocks[0],
        ["cargo run --release -- run scenarios/ticket-drop.toml"]
    );
    assert_eq!(blocks[1], ["scripts/test.sh"]);
    let ci = std::fs::read_to_string(".ci/run").unwrap();
    assert!(
        ci.lines().any(|l| l.trim() == "scripts/test.sh"),
        ".ci/run must call the README's test command"
    );
    let script = std::fs::read_to_string("scripts/test.sh").unwrap();
    assert!(script.contains("cargo test"));
}

#[test]
fn every_local_link_and_scenario_in_the_readme_exists() {
    let text = readme();
    let mut checked = 0;
    for (i, _) in text.match_indices("](") {
        let rest = &text[i + 2..];
        let target = &rest[..rest.find(')').unwrap()];
        let target = target.split('#').next().unwrap();
        if target.starts_with("http") || target.is_empty() {
            continue;
        }
        assert!(
            Path::new(target).exists(),
            "README links to missing {target}"
        );
        checked += 1;
    }
    for word in text.split(|c: char| c.is_whitespace() || c == '`' || c == ',' || c == '|') {
        if word.starts_with("scenarios/") && word.ends_with(".toml") {
            let plan = stampede::scenario::load(Path::new(word), &Default::default());
            assert!(plan.is_ok(), "{word}: {:?}", plan.err());
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} references checked");
}

/// Runs every `cargo run --release -- ...` example with the test build of
/// the binary (same code, debug profile), its report folder in a temp dir.
#[test]
fn every_stampede_example_in_the_readme_runs() {
    let bin = env!("CARGO_BIN_EXE_stampede");
    let mut ran = 0;
    for block in sh_blocks(&readme()) {
        for line in block {
            let Some(args) = line.strip_prefix("cargo run --release -- ") else {
                continue;
            };
            let mut args: Vec<String> = args.split_whitespace().map(str::to_string).collect();
            let out = temp_dir(&format!("ex{ran}"));
            if args[0] == "run" {
                match args.iter().position(|a| a == "--out") {
                    Some(i) => args[i + 1] = out.display().to_string(),
                    None => args.extend(["--out".into(), out.display().to_string()]),
                }
                args.push("--quiet".into());
            }
            let res = Command::new(bin)
                .args(&args)
                .output()
                .expect("run stampede");
            assert!(
                res.status.success(),
                "`{line}` exited {:?}\n{}\n{}",
                res.status.code(),
                String::from_utf8_lossy(&res.stdout),
                String::from_utf8_lossy(&res.stderr)
            );
            if args[0] == "run" {
                for f in common::REPORT_FILES {
                    assert!(out.join(f).is_file(), "`{line}` did not write {f}");
                }
                let summary: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap())
                        .unwrap();
                assert_eq!(summary["status"], "completed", "`{line}`");
                let stdout = String::from_utf8_lossy(&res.stdout);
                assert!(stdout.contains("reports:"), "{stdout}");
                let _ = std::fs::remove_dir_all(&out);
            }
            ran += 1;
        }
    }
    assert!(
        ran >= 2,
        "expected the main command and the CI example, ran {ran}"
    );
}

#[test]
fn validate_policies_and_report_commands_work() {
    let bin = env!("CARGO_BIN_EXE_stampede");
    let v = Command::new(bin)
        .args(["validate", "scenarios/ci-smoke.toml"])
        .output()
        .unwrap();
    assert!(v.status.success());
    let plan: serde_json::Value =
        serde_json::from_slice(&v.stdout).expect("validate prints the plan as JSON");
    assert_eq!(plan["name"], "ci-smoke");
    let p = Command::new(bin).arg("policies").output().unwrap();
    let listing = String::from_utf8_lossy(&p.stdout);
    for preset in stampede::policy::PRESETS {
        assert!(
            listing.contains(preset),
            "{preset} missing from `stampede policies`"
        );
    }
    let bad = Command::new(bin)
        .args(["validate", "scenarios/nope.toml"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    // `stampede report DIR` renders again from summary.json alone.
    let dir = temp_dir("rerender");
    stampede::report::write_all(&stampede::report::sample_report(), &dir).unwrap();
    std::fs::remove_file(dir.join("report.html")).unwrap();
    let r = Command::new(bin).arg("report").arg(&dir).output().unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(dir.join("report.html").is_file());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The body of the first ```<lang> block after `heading`.
fn block_after(text: &str, heading: &str, lang: &str) -> String {
    let start = text.find(heading).expect("heading in README");
    let rest = &text[start..];
    let open = format!("```{lang}\n");
    let b = rest.find(&open).expect("block") + open.len();
    let end = rest[b..].find("```").expect("closed block");
    rest[b..b + end].to_string()
}

/// The "Your own API" login flow, exactly as printed, against a loopback
/// API that checks passwords and bearer tokens: every journey succeeds,
/// and what the report counts is what the API saw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_your_own_api_login_flow_runs() {
    use common::logserver::LogServer;
    use std::sync::atomic::{AtomicU64, Ordering};
    let text = readme();
    let toml = block_after(&text, "## Your own API", "toml");
    let csv = block_after(&text, "## Your own API", "csv");
    let orders = std::sync::Arc::new(AtomicU64::new(0));
    let server = LogServer::start(move |s| {
        let json = |status: u16, body: String| {
            (
                status,
                vec![("content-type", "application/json".into())],
                body,
            )
        };
        let authed = s
            .header("authorization")
            .and_then(|a| a.strip_prefix("Bearer T-"))
            .map(str::to_string);
        match (s.method.as_str(), s.path.as_str()) {
            ("POST", "/api/login") => {
                let v: serde_json::Value = serde_json::from_str(&s.body).unwrap_or_default();
                let ok = matches!(
                    (v["username"].as_str(), v["password"].as_str()),
                    (Some("alice"), Some("correct-horse")) | (Some("bob"), Some("battery-staple"))
                );
                if ok {
                    json(
                        200,
                        format!(
                            r#"{{"success":true,"data":{{"accessToken":"T-{}"}}}}"#,
                            v["username"].as_str().unwrap_or("")
                        ),
                    )
                } else {
                    json(200, r#"{"success":false}"#.into())
                }
            }
            ("POST", "/api/orders")
                if authed.is_some() && s.header("idempotency-key").is_some() =>
            {
                let n = orders.fetch_add(1, Ordering::Relaxed);
                json(201, format!(r#"{{"data":{{"id":"o-{n}"}}}}"#))
            }
            ("GET", p) if authed.is_some() && p.starts_with("/api/orders/o-") => json(
                200,
                format!(r#"{{"data":{{"id":"{}"}}}}"#, &p["/api/orders/".len()..]),
            ),
            _ => json(401, r#"{"success":false}"#.into()),
        }
    })
    .await;
    let dir = temp_dir("own-api");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("users.csv"), csv).unwrap();
    let file = dir.join("my-api.toml");
    std::fs::write(&file, toml.replace("http://127.0.0.1:8080", &server.url())).unwrap();
    let plan = stampede::scenario::load(&file, &Default::default()).expect("valid scenario");
    let out = stampede::run::execute(&plan, &stampede::engine::Control::default(), None)
        .await
        .expect("run");
    let c = &out.report.results[0];
    assert_eq!(c.journeys.started, 12);
    assert_eq!(c.journeys.succeeded, 12, "{:?}", c.outcomes);
    assert!(out.report.gates.iter().all(|g| g.passed));
    let seen = server.seen();
    assert_eq!(seen.len() as u64, c.attempts);
    assert_eq!(c.attempts, 36);
    assert!(
        seen.iter()
            .all(|s| s.header("x-request-id").is_some_and(|v| v.len() == 36))
    );
    let _ = std::fs::remove_dir_all(&dir);
}
