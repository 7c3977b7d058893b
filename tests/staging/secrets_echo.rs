//! A target that echoes secrets back in its error codes (a captured login
//! token cut short and lower-cased, a session cookie, a users-CSV password
//! percent-encoded or base64url-encoded): no piece of any of them reaches a report file or the
//! console, and the codes are still classified as the target sent them.

use crate::common;

use common::TempDir;
use common::logserver::LogServer;
use std::path::Path;

const TOKEN: &str =
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6OTk5OTk5OTk5OX0.SIGNATURE-abcdefghij";
const COOKIE: &str = "sess-7f3a9c1b2d4e6f80";
const PASSWORD: &str = "p@ss w0rd/correct";

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

/// Does `text` hold any piece of `secret` of 8 bytes or more, in any case?
fn leaks(text: &str, secret: &str) -> Option<String> {
    let (t, s) = (text.to_ascii_lowercase(), secret.to_ascii_lowercase());
    (0..=s.len().saturating_sub(8))
        .map(|i| &s[i..i + 8])
        .find(|piece| t.contains(piece))
        .map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echoed_secrets_never_reach_a_report() {
    let server = LogServer::start(|s| {
        let json = |status: u16, body: String| {
            (
                status,
                vec![("content-type", "application/json".into())],
                body,
            )
        };
        match s.path.as_str() {
            "/login" => (
                200,
                vec![
                    ("content-type", "application/json".into()),
                    ("set-cookie", format!("sid={COOKIE}; Path=/")),
                ],
                format!(r#"{{"data":{{"access_token":"{TOKEN}"}}}}"#),
            ),
            // The token, cut at 60 bytes and lower-cased, in a flat code.
            "/a" => json(
                403,
                format!(
                    r#"{{"error":"no","code":"BAD_TOKEN_{}"}}"#,
                    TOKEN[..60].to_ascii_lowercase()
                ),
            ),
            // The cookie in the nested envelope.
            "/b" => json(
                409,
                format!(r#"{{"error":{{"code":"SESSION_{COOKIE}_LOCKED"}}}}"#),
            ),
            // The password, base64url-encoded (as a cookie or a JWT claim
            // would carry it).
            "/d" => json(
                400,
                format!(r#"{{"code":"PW_{}_REJECTED"}}"#, b64(PASSWORD)),
            ),
            // The password, percent-encoded.
            _ => json(
                400,
                r#"{"code":"PW_p%40ss%20w0rd%2fcorrect_REJECTED"}"#.to_string(),
            ),
        }
    })
    .await;
    let dir = TempDir::new("secrets-echo");
    std::fs::write(
        dir.path().join("users.csv"),
        format!("user_id,password\nalice,{PASSWORD}\n"),
    )
    .unwrap();
    let file = dir.path().join("s.toml");
    let steps = ["a", "b", "c", "d"]
        .iter()
        .map(|n| {
            format!(
                "[[journey.steps]]\nname = \"{n}\"\npath = \"/{n}\"\nheaders = {{ Authorization = \"Bearer ${{token}}\" }}\n"
            )
        })
        .collect::<String>();
    common::scenario()
        .compare(&["compliant"])
        .target(&server.url())
        .closed(1, 3, "20s")
        .journey_key("next_zone_on", r#"["HTTP_599"]"#)
        .table("[users]\ncsv = \"users.csv\"")
        .table(
            r#"[[journey.steps]]
name = "login"
method = "POST"
path = "/login"
body = '{"user":"${user_id}","password":"${password}"}'
capture = { token = "/data/access_token" }"#,
        )
        .table(&steps)
        .write(&file);
    // A journey stops at its first failed step: three runs, each with
    // another echo first.
    let mut outputs = Vec::new();
    for (i, first) in ["a", "b", "c", "d"].iter().enumerate() {
        let text = std::fs::read_to_string(&file).unwrap().replacen(
            "path = \"/a\"",
            &format!("path = \"/{first}\""),
            1,
        );
        let f = dir.path().join(format!("s{i}.toml"));
        std::fs::write(&f, text).unwrap();
        let out = dir.path().join(format!("out{i}"));
        let o = run(&f, &out).await;
        outputs.push((out, o));
    }
    // The target really sent them: they were classified as sent (a 403 and
    // a 409 are permanent, nothing was retried) and kept scrubbed.
    let seen = server.seen();
    assert!(seen.iter().all(
        |s| s.path == "/login" || s.header("authorization") == Some(&format!("Bearer {TOKEN}"))
    ));
    let mut checked = 0;
    for (out, o) in &outputs {
        let mut all = Vec::new();
        files(out, &mut all);
        let mut texts: Vec<(String, String)> = all
            .iter()
            .filter_map(|p| Some((p.display().to_string(), std::fs::read_to_string(p).ok()?)))
            .collect();
        texts.push((
            "stdout".into(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        ));
        texts.push((
            "stderr".into(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        ));
        for (name, text) in &texts {
            for secret in [
                TOKEN,
                COOKIE,
                PASSWORD,
                "p%40ss%20w0rd%2fcorrect",
                &b64(PASSWORD),
            ] {
                assert!(
                    leaks(text, secret).is_none(),
                    "{name} leaks a piece of a secret ({:?})",
                    leaks(text, secret)
                );
            }
            checked += 1;
        }
        let summary = std::fs::read_to_string(out.join("summary.json")).unwrap();
        assert!(
            summary.contains("BAD_TOKEN_***")
                || summary.contains("SESSION_***_LOCKED")
                || summary.contains("PW_***_REJECTED"),
            "the scrubbed code is kept: {summary}"
        );
    }
    assert!(checked > 20, "{checked}");
}

const TOKEN_A: &str =
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZS1hLXVzZXIiLCJleHAiOjk5OTk5OTk5fQ.ALICE-sig-0123456789";
const TOKEN_B: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.BOB-sig-9876543210";
const COOKIE_A: &str = "sess-alice-5c2e8d1f0a9b";
/// A value only a `secret = true` step makes secret (its capture is `h`).
const HANDLE_A: &str = "alice-handle-7f3e9b2c";
const PASSWORD_A: &str = "Alice pw/42&more";
const PASSWORD_B: &str = "bobs-own-password";

/// The secrets of one user are the run's: a target that echoes alice's
/// captured token (cut and lower-cased), her cookie, her users-CSV
/// password (percent-encoded) and a capture of a `secret = true` step
/// whose name says nothing (`h`) into bob's error codes leaks none of
/// them, while bob's codes are still kept, scrubbed, and classified as sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_users_secrets_echoed_to_another_never_reach_a_report() {
    let bob_errors = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let n = bob_errors.clone();
    let server = LogServer::start(move |s| {
        let json = |status: u16, body: String| {
            (
                status,
                vec![("content-type", "application/json".into())],
                body,
            )
        };
        match s.path.as_str() {
            "/login" if s.body.contains("alice") => (
                200,
                vec![
                    ("content-type", "application/json".into()),
                    ("set-cookie", format!("sid={COOKIE_A}; Path=/")),
                ],
                format!(r#"{{"data":{{"access_token":"{TOKEN_A}","handle":"{HANDLE_A}"}}}}"#),
            ),
            "/login" => json(
                200,
                format!(r#"{{"data":{{"access_token":"{TOKEN_B}","handle":"bob-handle-0"}}}}"#),
            ),
            _ if s.header("authorization") == Some(&format!("Bearer {TOKEN_B}")) => {
                // Bob's answers carry alice's secrets, one per iteration.
                let echo = match n.fetch_add(1, std::sync::atomic::Ordering::SeqCst) % 4 {
                    0 => TOKEN_A[..60].to_ascii_lowercase(),
                    1 => COOKIE_A.to_string(),
                    2 => HANDLE_A.to_string(),
                    _ => "Alice%20pw%2F42%26more".to_string(),
                };
                json(400, format!(r#"{{"code":"LEAK_{echo}"}}"#))
            }
            _ => json(200, "{}".into()),
        }
    })
    .await;
    let dir = TempDir::new("secrets-cross");
    std::fs::write(
        dir.path().join("users.csv"),
        format!("user_id,password\nalice,{PASSWORD_A}\nbob,{PASSWORD_B}\n"),
    )
    .unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(
        &file,
        format!(
            r#"
compare = ["compliant"]
[target]
url = "{}"
[load]
model = "closed"
users = 2
iterations = 6
duration = "20s"
[users]
csv = "users.csv"
[[journey.steps]]
name = "login"
method = "POST"
path = "/login"
body = '{{"user":"${{user_id}}","password":"${{password}}"}}'
capture = {{ token = "/data/access_token", h = "/data/handle" }}
secret = true
[[journey.steps]]
name = "x"
path = "/x"
headers = {{ Authorization = "Bearer ${{token}}" }}
"#,
            server.url()
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = run(&file, &out).await;
    // Bob got every echo, and each was kept (a 400 is permanent: sent once).
    assert!(
        bob_errors.load(std::sync::atomic::Ordering::SeqCst) >= 4,
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut all = Vec::new();
    files(&out, &mut all);
    let mut texts: Vec<(String, String)> = all
        .iter()
        .filter_map(|p| Some((p.display().to_string(), std::fs::read_to_string(p).ok()?)))
        .collect();
    texts.push(("stdout".into(), String::from_utf8_lossy(&o.stdout).into()));
    texts.push(("stderr".into(), String::from_utf8_lossy(&o.stderr).into()));
    assert!(texts.len() > 5, "{texts:?}");
    for (name, text) in &texts {
        for secret in [
            TOKEN_A,
            COOKIE_A,
            HANDLE_A,
            PASSWORD_A,
            "Alice%20pw%2F42%26more",
            TOKEN_B,
            PASSWORD_B,
        ] {
            assert!(
                leaks(text, secret).is_none(),
                "{name} leaks a piece of a secret ({:?})",
                leaks(text, secret)
            );
        }
    }
    let summary = std::fs::read_to_string(out.join("summary.json")).unwrap();
    assert!(
        summary.contains("LEAK_***"),
        "bob's codes kept, scrubbed: {summary}"
    );
}

/// `stampede run SCENARIO --out OUT`, off the runtime that serves the target.
async fn run(scenario: &std::path::Path, out: &std::path::Path) -> std::process::Output {
    crate::common::stampede()
        .arg("run")
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .run_async()
        .await
}
