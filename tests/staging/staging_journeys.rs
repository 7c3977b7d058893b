//! Journeys for any API, against a logging loopback server: templated
//! headers fed by captures and CSV columns, percent-encoded path values, no
//! invented credentials, and response checks whose failures are named
//! outcomes (never success, never "sold out"). Each test checks what the
//! report says against what the server saw.

use crate::common;

use common::TempDir;
use common::logserver::{LogServer, Seen};
use stampede::engine::Control;
use stampede::report::{FleetResult, Report};
use stampede::scenario::{self, Overrides, Plan, ScenarioError};
use std::path::Path;

fn plan_in(dir: &Path, src: &str) -> Result<Plan, ScenarioError> {
    scenario::parse(src, &dir.join("s.toml"), &Overrides::default())
}

fn plan(src: &str) -> Plan {
    let d = TempDir::new("journeys");
    plan_in(d.path(), src).unwrap_or_else(|e| panic!("scenario should be valid: {e}\n{src}"))
}

async fn run(plan: &Plan) -> Report {
    stampede::run::execute(plan, &Control::default(), None)
        .await
        .expect("run")
        .report
}

fn step<'a>(c: &'a FleetResult, name: &str) -> &'a stampede::report::StepResult {
    c.steps.iter().find(|s| s.name == name).expect("step")
}

/// `users` compliant journeys against `url`, their steps still to add.
fn scenario(url: &str, users: u32) -> common::scenario::Scenario {
    common::scenario()
        .compare(&["compliant"])
        .target(url)
        .ticket_drop(users, "100ms")
        .drain("20s")
}

/// `users` journeys of `steps` (TOML `[[journey.steps]]` tables) against `url`.
fn with_steps(url: &str, users: u32, steps: &str) -> String {
    scenario(url, users).table(steps).toml()
}

fn ok_json(body: &str) -> (u16, Vec<(&'static str, String)>, String) {
    (
        200,
        vec![("content-type", "application/json".into())],
        body.into(),
    )
}

fn paths(seen: &[Seen]) -> Vec<String> {
    let mut p: Vec<String> = seen.iter().map(|s| s.path.clone()).collect();
    p.sort();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flow_sends_the_captured_token_in_a_header() {
    let server = LogServer::start(|s| match s.path.as_str() {
        "/login" => {
            let v: serde_json::Value = serde_json::from_str(&s.body).unwrap_or_default();
            let ok = v["password"] == format!("pw-{}", v["user"].as_str().unwrap_or(""));
            if ok {
                ok_json(&format!(
                    r#"{{"token":"T-{}"}}"#,
                    v["user"].as_str().unwrap_or("")
                ))
            } else {
                (401, vec![], "{}".into())
            }
        }
        "/me" => match s.header("authorization") {
            Some(a) if a.starts_with("Bearer T-") => ok_json(r#"{"success":true}"#),
            _ => (401, vec![], "{}".into()),
        },
        _ => (404, vec![], String::new()),
    })
    .await;
    let d = TempDir::new("login");
    std::fs::write(
        d.path().join("users.csv"),
        "user_id,password\nalice,pw-alice\nbob,pw-bob\n",
    )
    .unwrap();
    let src = scenario(&server.url(), 4)
        .journey_key("headers", r#"{ X-Client = "stampede-${user_id}" }"#)
        .table(
            r#"[[journey.steps]]
name = "login"
method = "POST"
path = "/login"
body = '{"user":"${user_id}","password":"${password}"}'
capture = { token = "/token" }
[[journey.steps]]
name = "me"
path = "/me"
headers = { Authorization = "Bearer ${token}" }
check = [{ pointer = "/success", equals = true }]
[users]
csv = "users.csv""#,
        )
        .toml();
    let p = plan_in(d.path(), &src).unwrap_or_else(|e| panic!("{e}"));
    let r = run(&p).await;
    let c = &r.results[0];
    assert_eq!(c.counts.journeys.succeeded, 4, "{:?}", c.counts.outcomes);
    assert_eq!(c.counts.success_rate, 1.0);
    let seen = server.seen();
    assert_eq!(seen.len() as u64, c.counts.attempts);
    assert_eq!(seen.len(), 8);
    for s in &seen {
        let user = s
            .header("x-client")
            .unwrap_or("")
            .trim_start_matches("stampede-");
        assert!(user == "alice" || user == "bob", "{s:?}");
        match s.path.as_str() {
            // Nothing invented: the login carries no Authorization at all.
            "/login" => assert_eq!(s.header("authorization"), None, "{s:?}"),
            "/me" => assert_eq!(
                s.header("authorization"),
                Some(format!("Bearer T-{user}").as_str())
            ),
            p => panic!("unexpected {p}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_users_get_no_invented_token_unless_asked() {
    let server = LogServer::start(|_| ok_json("{}")).await;
    let steps = "[[journey.steps]]\nname = \"a\"\npath = \"/a\"\n";
    let r = run(&plan(&with_steps(&server.url(), 3, steps))).await;
    assert_eq!(r.results[0].counts.journeys.succeeded, 3);
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    assert!(
        seen.iter().all(|s| s.header("authorization").is_none()),
        "{seen:?}"
    );

    let server = LogServer::start(|_| ok_json("{}")).await;
    let extra = "[users]\ngenerated_tokens = true\n";
    run(&plan(
        &scenario(&server.url(), 2).table(extra).table(steps).toml(),
    ))
    .await;
    let mut auth: Vec<String> = server
        .seen()
        .iter()
        .filter_map(|s| s.header("authorization").map(str::to_string))
        .collect();
    auth.sort();
    assert_eq!(auth, vec!["Bearer tok-user-0", "Bearer tok-user-1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captured_values_cannot_steer_the_next_request() {
    let server = LogServer::start(|s| {
        if s.path == "/first" {
            ok_json(r#"{"id":"../../__sim/reset?x=","name":"a b"}"#)
        } else {
            ok_json("{}")
        }
    })
    .await;
    let steps = r#"[[journey.steps]]
name = "first"
path = "/first"
capture = { id = "/id", name = "/name" }
[[journey.steps]]
name = "second"
method = "POST"
path = "/items/${id}/by/${name}?q=${name}"
"#;
    let r = run(&plan(&with_steps(&server.url(), 1, steps))).await;
    let c = &r.results[0];
    assert_eq!(c.counts.journeys.succeeded, 1, "{:?}", c.counts.outcomes);
    assert_eq!(
        paths(&server.seen()),
        vec![
            "/first".to_string(),
            "/items/..%2F..%2F__sim%2Freset%3Fx%3D/by/a%20b?q=a%20b".to_string()
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_that_cannot_be_sent_is_invalid_header_not_a_network_error() {
    let server = LogServer::start(|s| {
        if s.path == "/first" {
            ok_json(r#"{"id":"line\nbreak"}"#)
        } else {
            ok_json("{}")
        }
    })
    .await;
    let steps = r#"[[journey.steps]]
name = "first"
path = "/first"
capture = { id = "/id" }
[[journey.steps]]
name = "second"
path = "/second"
headers = { X-Id = "${id}" }
"#;
    let r = run(&plan(&with_steps(&server.url(), 2, steps))).await;
    let c = &r.results[0];
    assert_eq!(c.counts.journeys.failed, 2);
    let second = step(c, "second");
    assert_eq!(
        second.outcomes.get("INVALID_HEADER"),
        Some(&2),
        "{:?}",
        second.outcomes
    );
    assert_eq!(second.attempts, 0, "nothing was sent, nothing retried");
    assert_eq!(paths(&server.seen()), vec!["/first", "/first"]);
    assert_eq!(server.seen().len() as u64, c.counts.attempts);
}

/// One step answering `body` with `status`, checked per `step_extra`.
async fn one_step(status: u16, body: &'static str, step_extra: &str, gates: &[&str]) -> Report {
    let server = LogServer::start(move |_| {
        (
            status,
            vec![("content-type", "application/json".into())],
            body.to_string(),
        )
    })
    .await;
    let steps = format!(
        "[[journey.steps]]\nname = \"s\"\nmethod = \"POST\"\npath = \"/s\"\n{step_extra}\n"
    );
    let r = run(&plan(
        &scenario(&server.url(), 4).gates(gates).table(&steps).toml(),
    ))
    .await;
    assert_eq!(server.seen().len() as u64, r.results[0].counts.attempts);
    assert_eq!(
        r.results[0].counts.attempts, 4,
        "a failed check is never retried"
    );
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_answers_are_named_failures_and_fail_the_gate() {
    let gates: &[&str] = &["compliant.success_rate >= 95%"];
    for (status, body, extra, want) in [
        (
            200,
            "<html>ok</html>",
            "capture = { id = \"/id\" }",
            "NOT_JSON",
        ),
        (200, "<html>ok</html>", "json = true", "NOT_JSON"),
        (
            200,
            r#"{"success":false}"#,
            "check = [{ pointer = \"/success\", equals = true }]",
            "CHECK_FAILED /success",
        ),
        (
            201,
            r#"{"data":{}}"#,
            "capture = { bookingId = \"/data/bookingId\" }",
            "CAPTURE_MISSING /data/bookingId",
        ),
        (
            200,
            "{}",
            "expect_status = [201]",
            "UNEXPECTED_STATUS HTTP_200",
        ),
        (
            200,
            r#"{"data":{"available":"lots"}}"#,
            "precheck = \"/data/available\"",
            "PRECHECK_UNREADABLE",
        ),
        (
            200,
            r#"{"data":{"avail":5}}"#,
            "precheck = \"/data/available\"",
            "PRECHECK_UNREADABLE",
        ),
    ] {
        let r = one_step(status, body, extra, gates).await;
        let c = &r.results[0];
        assert_eq!(
            c.counts.outcomes.get(want),
            Some(&4),
            "{extra}: {:?}",
            c.counts.outcomes
        );
        assert_eq!(c.counts.success_rate, 0.0, "{extra}");
        assert_eq!(c.counts.journeys.failed, 4, "{extra}: never sold out");
        assert_eq!(c.counts.journeys.sold_out, 0, "{extra}");
        assert!(!r.gates[0].passed, "{extra}: the gate fails");
    }
    // The same answers pass when they are what the step expects.
    let r = one_step(200, "<html>ok</html>", "", gates).await;
    assert_eq!(r.results[0].counts.success_rate, 1.0);
    assert!(r.gates[0].passed);
    let r = one_step(
        201,
        r#"{"success":true,"data":{"id":7}}"#,
        "expect_status = [200, 201]\ncheck = [{ pointer = \"/success\", equals = true }, { pointer = \"/data/id\", exists = true }]",
        gates,
    )
    .await;
    assert_eq!(r.results[0].counts.journeys.succeeded, 4);
}

fn invalid(src: &str) -> (usize, String, String) {
    let d = TempDir::new("invalid");
    match plan_in(d.path(), src) {
        Err(ScenarioError::Invalid { line, key, msg, .. }) => (line, key, msg),
        other => panic!("expected an invalid scenario: {other:?}"),
    }
}

#[test]
fn literal_credentials_are_refused_but_templates_are_not() {
    let url = "http://127.0.0.1:9";
    let s = |h: &str| {
        with_steps(
            url,
            1,
            &format!(
                "[[journey.steps]]\nname = \"a\"\npath = \"/a\"\ncapture = {{ t = \"/t\" }}\n[[journey.steps]]\nname = \"b\"\npath = \"/b\"\nheaders = {{ {h} }}\n"
            ),
        )
    };
    let (_, key, msg) = invalid(&s("Authorization = \"Bearer abc123\""));
    assert_eq!(key, "journey.steps[1].headers.Authorization");
    assert!(msg.contains("never go in scenario files"), "{msg}");
    let (_, key, msg) = invalid(&s("Authorization = \"Bearer ${nope}\""));
    assert_eq!(key, "journey.steps[1].headers.Authorization");
    assert!(msg.contains("unknown variable `${nope}`"), "{msg}");
    let p = plan(&s("Authorization = \"Bearer ${t}\""));
    assert_eq!(p.journey.steps[1].headers[0].0.as_str(), "authorization");
    let (_, key, _) = invalid(&s("\"Bad Name\" = \"x\""));
    assert_eq!(key, "journey.steps[1].headers.Bad Name");
    // An unknown variable in a path names file:line:col.
    let d = TempDir::new("unknown");
    let err = plan_in(
        d.path(),
        &with_steps(
            url,
            1,
            "[[journey.steps]]\nname = \"a\"\npath = \"/a/${passwrd}\"\n",
        ),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("s.toml:") && err.contains("${passwrd}"),
        "{err}"
    );
    let (_, key, msg) = invalid(&with_steps(
        url,
        1,
        "[[journey.steps]]\nname = \"a\"\npath = \"/a b\"\n",
    ));
    assert_eq!(key, "journey.steps[0].path", "{msg}");
}

#[test]
fn event_and_zones_only_when_steps_use_them() {
    let url = "http://127.0.0.1:9";
    let p = plan(&with_steps(
        url,
        1,
        "[[journey.steps]]\nname = \"a\"\npath = \"/a/${uuid}?n=${random_int(1,9)}&t=${unix_ms}&i=${iteration}\"\n",
    ));
    assert_eq!(p.journey.event, "");
    let (_, key, msg) = invalid(&with_steps(
        url,
        1,
        "[[journey.steps]]\nname = \"a\"\npath = \"/a/${zone}\"\n",
    ));
    assert_eq!(key, "journey.zones");
    assert!(msg.contains("${zone}"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stampede_serve_target_is_read_only_when_asked() {
    let sim = common::start(common::quiet_config()).await;
    let url = format!("http://{}", sim.addr());
    let src = common::scenario()
        .compare(&["compliant"])
        .target(&url)
        .target_key("ledger", "true")
        .ticket_drop(5, "100ms")
        .drain("20s")
        .event("E1", &["A"])
        .toml();
    // Twice: the second round's ledger is its own, not the total.
    for _ in 0..2 {
        let r = run(&plan(&src)).await;
        let c = &r.results[0];
        assert_eq!(
            c.counts.journeys.succeeded, 5,
            "generated tokens were sent: {:?}",
            c.counts.outcomes
        );
        let l = c.ledger.as_ref().expect("the remote ledger was read");
        assert_eq!(l.bookings_created, 5, "{l:?}");
        assert_eq!(
            l.requests.get("reserve").map(|m| m.values().sum::<u64>()),
            Some(5)
        );
    }
    assert_eq!(sim.ledger().bookings_created, 10);
    // Not asked: no ledger read, no invented token, and the note says what
    // the target is (from the header on its answers, not from a probe).
    let before = sim
        .ledger()
        .requests
        .values()
        .flat_map(|m| m.values())
        .sum::<u64>();
    let r = run(&plan(&src.replace("ledger = true\n", ""))).await;
    let c = &r.results[0];
    assert!(c.ledger.is_none());
    assert_eq!(
        c.counts.journeys.succeeded, 0,
        "no token: the simulator refuses"
    );
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("x-stampede-sim") && n.contains("target.ledger = true")),
        "{:?}",
        r.notes
    );
    let after = sim
        .ledger()
        .requests
        .values()
        .flat_map(|m| m.values())
        .sum::<u64>();
    assert_eq!(
        after - before,
        c.counts.attempts,
        "every request the simulator saw is an attempt"
    );
    sim.shutdown().await;
}
