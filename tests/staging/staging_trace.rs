//! `stampede run --trace N` through the binary: N journeys, each request
//! and response printed, and no secret printed anywhere: not even the
//! login token and session cookie the target echoes back later, cut or
//! lower-cased.

use crate::common;
use common::TempDir;
use common::logserver::LogServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_prints_the_wire_with_secrets_redacted() {
    let server = LogServer::start(|s| match s.path.as_str() {
        "/login" => (
            200,
            vec![
                ("content-type", "application/json".into()),
                ("set-cookie", "sid=SESSION-SECRET-9; Path=/".into()),
            ],
            r#"{"accessToken":"CAPTURED-SECRET-7","user":"alice"}"#.into(),
        ),
        // The captured token, lower-cased, and the cookie, echoed back
        // under names that say nothing of a secret.
        _ => (
            200,
            vec![("x-echo", "CAPTURED-SECRET-7".into())],
            r#"{"ok":true,"you":"captured-secret-7","sid":"SESSION-SECRET"}"#.into(),
        ),
    })
    .await;
    let dir = TempDir::new("trace");
    std::fs::write(
        dir.path().join("users.csv"),
        "user_id,password\nalice,CSV-PASSWORD-3\n",
    )
    .unwrap();
    let file = dir.path().join("s.toml");
    common::scenario()
        .compare(&["compliant"])
        .gates(&["compliant.success_rate >= 99%"])
        .target(&server.url())
        .ticket_drop(50, "1s")
        .journey_key("headers", r#"{ X-Request-Id = "req-${uuid}" }"#)
        .table("[users]\ncsv = \"users.csv\"")
        .table(
            r#"[[journey.steps]]
name = "login"
method = "POST"
path = "/login"
body = '{"user":"${user_id}","password":"${password}"}'
capture = { token = "/accessToken" }
[[journey.steps]]
name = "me"
path = "/me/${user_id}"
headers = { Authorization = "Bearer ${token}", X-Trace = "t-${token}" }"#,
        )
        .write(&file);
    let out_dir = dir.path().join("out");
    let out = tokio::task::spawn_blocking(move || {
        crate::common::stampede()
            .arg("run")
            .arg(&file)
            .arg("--trace")
            .arg("2")
            .arg("--out")
            .arg(&out_dir)
            .output()
            .expect("run stampede")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    // Two journeys of two steps, and nothing more.
    let seen = server.seen();
    assert_eq!(seen.len(), 4, "{seen:?}");
    let login = format!("> POST {}/login", server.url());
    assert_eq!(stdout.matches(&login).count(), 2, "{stdout}");
    assert_eq!(
        stdout
            .matches(&format!("> GET {}/me/alice", server.url()))
            .count(),
        2
    );
    assert_eq!(stdout.matches("< 200").count(), 4, "{stdout}");
    assert!(stdout.contains("authorization: ***"), "{stdout}");
    assert!(stdout.contains("set-cookie: ***"), "{stdout}");
    assert!(stdout.contains(r#""accessToken":"***""#), "{stdout}");
    assert!(stdout.contains(r#""user":"alice""#), "{stdout}");
    // The body exactly as sent (key order kept), its secret out.
    assert!(
        stdout.contains(r#"{"user":"alice","password":"***"}"#),
        "{stdout}"
    );
    // A generated header is shown in clear, as the server got it, so the
    // request can be found in the target's logs.
    let id = seen[0].header("x-request-id").expect("x-request-id sent");
    assert!(id.starts_with("req-") && id.len() == 40, "{id}");
    assert!(stdout.contains(&format!("x-request-id: {id}")), "{stdout}");
    // Gates are not evaluated, and the run says so.
    assert!(
        stderr.contains("does not evaluate gates (1 skipped)"),
        "{stderr}"
    );
    let summary = std::fs::read_to_string(dir.path().join("out/summary.json")).unwrap();
    assert!(summary.contains("does not evaluate gates"), "{summary}");
    // The server got the real values; the output shows none of them.
    assert!(seen[0].body.contains("CSV-PASSWORD-3"));
    assert_eq!(seen[1].header("x-trace"), Some("t-CAPTURED-SECRET-7"));
    assert!(stdout.contains(r#""ok":true"#), "{stdout}");
    let (out_lower, err_lower) = (stdout.to_lowercase(), stderr.to_lowercase());
    for secret in ["csv-password-3", "captured-secret-7", "session-secret"] {
        assert!(
            !out_lower.contains(secret),
            "stdout leaks {secret}:\n{stdout}"
        );
        assert!(!err_lower.contains(secret), "stderr leaks {secret}");
    }
}
