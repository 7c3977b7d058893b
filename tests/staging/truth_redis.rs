//! `[truth]` against a target whose inventory lives in a real Redis: a
//! loopback booking service written here reserves with a Lua script in that
//! Redis (the way ticketing services keep seat counts), and stampede reads
//! the Redis counts before and after the round, by command (`redis-cli`) or
//! from the service's own HTTP endpoint. The report's server-side numbers
//! must equal what Redis holds, and ledger gates pass or fail on them.
//!
//! Needs Debian's `redis-server` (and its `redis-cli`); `.ci/run` installs it.

use crate::common;

use common::TempDir;
use common::logserver::{Answer, LogServer, Seen};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A `redis-server` listening on a Unix socket in its own directory (no TCP
/// port, so no other test's server can ever answer in its place), killed on
/// drop.
struct Redis {
    socket: PathBuf,
    child: Child,
    _dir: TempDir,
}

impl Redis {
    fn start() -> Self {
        let dir = TempDir::new("redis");
        let socket = dir.path().join("redis.sock");
        let mut child = Command::new("redis-server")
            .args(["--port", "0", "--unixsocket"])
            .arg(&socket)
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (Debian package redis-server; .ci/run installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while UnixStream::connect(&socket).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("redis-server exited: {status}");
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        let redis = Self {
            socket,
            child,
            _dir: dir,
        };
        assert_eq!(redis.conn().cmd(&["PING"]), Reply::Text("PONG".into()));
        redis
    }

    fn conn(&self) -> Resp {
        Resp(BufReader::new(
            UnixStream::connect(&self.socket).expect("connect to redis"),
        ))
    }

    fn socket(&self) -> &str {
        self.socket.to_str().expect("a UTF-8 temp path")
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Just enough RESP for integers, bulk strings and simple replies.
struct Resp(BufReader<UnixStream>);

#[derive(Debug, PartialEq)]
enum Reply {
    Int(i64),
    Text(String),
    Nil,
}

impl Resp {
    fn cmd(&mut self, args: &[&str]) -> Reply {
        let mut out = format!("*{}\r\n", args.len());
        for a in args {
            out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        self.0.get_mut().write_all(out.as_bytes()).expect("write");
        let mut line = String::new();
        self.0.read_line(&mut line).expect("read");
        let (kind, rest) = line.trim_end().split_at(1);
        match kind {
            ":" => Reply::Int(rest.parse().expect("int")),
            "+" => Reply::Text(rest.to_string()),
            "$" if rest == "-1" => Reply::Nil,
            "$" => {
                let n: usize = rest.parse().expect("len");
                let mut buf = vec![0; n + 2];
                self.0.read_exact(&mut buf).expect("bulk");
                Reply::Text(String::from_utf8_lossy(&buf[..n]).into_owned())
            }
            _ => panic!("redis: {line}"),
        }
    }

    fn int(&mut self, key: &str) -> i64 {
        match self.cmd(&["GET", key]) {
            Reply::Text(t) => t.parse().expect("a number"),
            Reply::Nil => 0,
            r => panic!("GET {key}: {r:?}"),
        }
    }
}

/// The seat-inventory script: reserve `ARGV[1]` seats for user `ARGV[2]`
/// if the zone has them; count the booking, and a second booking by the
/// same user as a duplicate.
const RESERVE: &str = "local left = tonumber(redis.call('GET', KEYS[1]) or '0') \
local q = tonumber(ARGV[1]) \
if left < q then return -1 end \
redis.call('DECRBY', KEYS[1], q) \
redis.call('INCR', KEYS[2]) \
if redis.call('HINCRBY', KEYS[3], ARGV[2], 1) > 1 then redis.call('INCR', KEYS[4]) end \
return left - q";

/// What the truth command prints: the counts as one JSON object.
const COUNTS: &str = "return cjson.encode({bookings = tonumber(redis.call('GET', 'bookings') or '0'), \
duplicates = tonumber(redis.call('GET', 'duplicates') or '0'), \
seats_left = tonumber(redis.call('GET', 'seats:A') or '0')})";

const ADMIN_TOKEN: &str = "Bearer truth-admin-s3cr3t-0123456789abcdef";

/// The booking service: `POST /reserve` runs the script (every `fail_every`th
/// booking is made, then answered 500, as a service that dies after its
/// commit); `GET /admin/counts` answers the counts to the admin token.
async fn booking_service(redis: &Redis, fail_every: u64) -> LogServer {
    let conn = Arc::new(Mutex::new(redis.conn()));
    let made = Arc::new(Mutex::new(0u64));
    LogServer::start(move |seen: &Seen| -> Answer {
        let mut r = conn.lock().unwrap();
        let json = vec![("content-type", "application/json".to_string())];
        if seen.method == "GET" && seen.path.starts_with("/admin/counts") {
            if seen.header("authorization") != Some(ADMIN_TOKEN) {
                return (
                    401,
                    json,
                    r#"{"error":"unauthorized","code":"UNAUTHORIZED"}"#.into(),
                );
            }
            let Reply::Text(counts) = r.cmd(&["EVAL", COUNTS, "0"]) else {
                return (500, json, "{}".into());
            };
            return (200, json, format!(r#"{{"data":{counts}}}"#));
        }
        let user = seen.header("x-user").unwrap_or("anonymous").to_string();
        let keys = ["seats:A", "bookings", "holders", "duplicates"];
        let reply = r.cmd(&[&["EVAL", RESERVE, "4"][..], &keys[..], &["1", &user][..]].concat());
        match reply {
            Reply::Int(left) if left >= 0 => {
                let mut n = made.lock().unwrap();
                *n += 1;
                if fail_every > 0 && (*n).is_multiple_of(fail_every) {
                    return (
                        500,
                        json,
                        r#"{"error":"internal","code":"INTERNAL_ERROR"}"#.into(),
                    );
                }
                (
                    201,
                    json,
                    format!(r#"{{"booking_id":"b{n}","seats_left":{left}}}"#),
                )
            }
            _ => (
                409,
                json,
                r#"{"error":"not enough seats","code":"INSUFFICIENT_SEATS"}"#.into(),
            ),
        }
    })
    .await
}

fn scenario(url: &str, truth: &str, gates: &[&str], fleet: &str) -> String {
    common::scenario()
        .name("truth-redis")
        .seed(3)
        .compare(&[fleet])
        .gates(gates)
        .target(url)
        .ticket_drop(140, "1s")
        .drain("20s")
        .event("E1", &["A"])
        .quantity(1)
        .journey_key("next_zone_on", r#"["INSUFFICIENT_SEATS"]"#)
        .steps(r#"[{ name = "reserve", method = "POST", path = "/reserve", body = '{"zone_id":"${zone}","quantity":${quantity}}', headers = { X-User = "${user}" }, expect_status = [201] }]"#)
        .table(truth)
        .toml()
}

struct Run {
    code: Option<i32>,
    output: String,
    summary: Value,
}

async fn run_scenario(dir: &Path, text: &str, env: &[(&str, &str)]) -> Run {
    let file = dir.join("truth.toml");
    std::fs::write(&file, text).unwrap();
    let out = dir.join("out");
    let o = common::stampede()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .envs(env.iter().copied())
        .run_async()
        .await;
    let summary = common::read_summary(&out);
    Run {
        code: o.status.code(),
        output: String::from_utf8_lossy(&o.stdout).into_owned()
            + &String::from_utf8_lossy(&o.stderr),
        summary,
    }
}

fn seed_inventory(redis: &Redis, seats: i64, earlier_bookings: i64) {
    let mut r = redis.conn();
    assert_eq!(
        r.cmd(&["SET", "seats:A", &seats.to_string()]),
        Reply::Text("OK".into())
    );
    // Bookings from before the run: the round's count is the difference.
    r.cmd(&["SET", "bookings", &earlier_bookings.to_string()]);
}

fn truth_command(socket: &str) -> String {
    format!(
        "[truth]\ncommand = [\"redis-cli\", \"-s\", {socket:?}, \"EVAL\", {COUNTS:?}, \"0\"]\n\
         [truth.counts]\nbookings_created = \"/bookings\"\nduplicates = \"/duplicates\"\n\
         [truth.levels]\nseats_left = \"/seats_left\"\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commands_reading_equals_redis_and_ledger_gates_pass_or_fail_on_it() {
    let redis = Redis::start();
    seed_inventory(&redis, 100, 7);
    let svc = booking_service(&redis, 0).await;
    let dir = TempDir::new("truth-cmd");
    let gates = [
        "compliant.bookings_created == 100",
        "compliant.truth.seats_left == 0",
        "compliant.duplicates == 0",
        // Fails on the target's own count: nothing was oversold here, and
        // the gate says there should be a booking per user.
        "compliant.bookings_created >= 140",
    ];
    let run = run_scenario(
        dir.path(),
        &scenario(
            &svc.url(),
            &truth_command(redis.socket()),
            &gates,
            "compliant",
        ),
        &[],
    )
    .await;
    assert_eq!(run.code, Some(1), "one gate fails:\n{}", run.output);
    let mut r = redis.conn();
    let c = &run.summary["results"][0];
    let truth = &c["truth"];
    assert_eq!(truth["source"], "command redis-cli", "{truth}");
    // Exactly what Redis holds: bookings made in the round, seats left.
    let made = (r.int("bookings") - 7) as f64;
    assert_eq!(truth["counts"]["bookings_created"].as_f64(), Some(made));
    assert_eq!(made, 100.0);
    assert_eq!(
        truth["levels"]["seats_left"].as_f64(),
        Some(r.int("seats:A") as f64)
    );
    assert_eq!(truth["counts"]["duplicates"].as_f64(), Some(0.0));
    // The client's view beside it: every booking the service made was
    // answered, so stampede's succeeded journeys equal them.
    assert_eq!(c["journeys"]["succeeded"].as_f64(), Some(made));
    assert_eq!(c["journeys"]["sold_out"].as_u64(), Some(40));
    let reserves = svc.seen().iter().filter(|s| s.path == "/reserve").count();
    assert_eq!(c["attempts"].as_u64(), Some(reserves as u64));
    let passed: Vec<(String, bool)> = (run.summary["gates"].as_array().unwrap().iter())
        .map(|g| (g["expr"].as_str().unwrap().to_string(), g["passed"] == true))
        .collect();
    let want: Vec<(String, bool)> = gates
        .iter()
        .map(|g| (g.to_string(), !g.contains(">= 140")))
        .collect();
    assert_eq!(passed, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_sees_duplicates_the_client_cannot() {
    // Every 10th booking is made, then answered 500: a client that retries
    // books again, and only the store knows.
    let redis = Redis::start();
    seed_inventory(&redis, 300, 0);
    let svc = booking_service(&redis, 10).await;
    let dir = TempDir::new("truth-dups");
    let run = run_scenario(
        dir.path(),
        &scenario(
            &svc.url(),
            &truth_command(redis.socket()),
            &["naive.duplicates == 0"],
            "naive",
        ),
        &[],
    )
    .await;
    let mut r = redis.conn();
    let c = &run.summary["results"][0];
    let dups = r.int("duplicates");
    assert!(
        dups > 0,
        "the naive client retried a 500 after a commit:\n{}",
        run.output
    );
    assert_eq!(
        c["truth"]["counts"]["duplicates"].as_f64(),
        Some(dups as f64)
    );
    assert_eq!(
        c["truth"]["counts"]["bookings_created"].as_f64(),
        Some(r.int("bookings") as f64)
    );
    // The gate fails on the store's count.
    assert_eq!(run.code, Some(1), "{}", run.output);
    assert_eq!(run.summary["gates"][0]["passed"], false);
    assert_eq!(
        run.summary["gates"][0]["measured"].as_f64(),
        Some(dups as f64)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_readings_token_comes_from_the_environment_and_stays_secret() {
    let redis = Redis::start();
    seed_inventory(&redis, 100, 0);
    let svc = booking_service(&redis, 0).await;
    let dir = TempDir::new("truth-http");
    let truth = format!(
        "[truth]\nurl = \"{}/admin/counts?verbose=1\"\nheaders_env = {{ Authorization = \"STAMPEDE_TEST_TRUTH_AUTH\" }}\n\
         [truth.counts]\nbookings_created = \"/data/bookings\"\n[truth.levels]\nseats_left = \"/data/seats_left\"\n",
        svc.url()
    );
    let run = run_scenario(
        dir.path(),
        &scenario(
            &svc.url(),
            &truth,
            &["compliant.bookings_created == 100"],
            "compliant",
        ),
        &[("STAMPEDE_TEST_TRUTH_AUTH", ADMIN_TOKEN)],
    )
    .await;
    assert_eq!(
        run.code,
        Some(0),
        "{}\n{}",
        run.output,
        run.summary["notes"]
    );
    let c = &run.summary["results"][0];
    assert_eq!(
        c["truth"]["source"],
        format!("GET {}/admin/counts", svc.url())
    );
    let mut r = redis.conn();
    assert_eq!(
        c["truth"]["counts"]["bookings_created"].as_f64(),
        Some(r.int("bookings") as f64)
    );
    assert_eq!(c["truth"]["levels"]["seats_left"].as_f64(), Some(0.0));
    // Two readings, each with the token; nothing else went to the endpoint.
    let admin: Vec<Seen> = svc
        .seen()
        .into_iter()
        .filter(|s| s.path.starts_with("/admin"))
        .collect();
    assert_eq!(admin.len(), 2);
    assert!(
        admin
            .iter()
            .all(|s| s.header("authorization") == Some(ADMIN_TOKEN))
    );
    // The token is in no report file and not on the console.
    let secret = "truth-admin-s3cr3t";
    assert!(!run.output.contains(secret));
    for f in std::fs::read_dir(dir.path().join("out")).unwrap() {
        let p = f.unwrap().path();
        let bytes = std::fs::read(&p).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(secret),
            "{} holds the admin token",
            p.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reading_that_fails_is_a_note_and_its_gates_fail_unmeasured() {
    let redis = Redis::start();
    seed_inventory(&redis, 100, 0);
    let svc = booking_service(&redis, 0).await;
    let dir = TempDir::new("truth-fail");
    // A socket nothing listens on: redis-cli exits non-zero or prints an
    // error; either way the reading is not a number.
    let dead = dir.path().join("nobody.sock");
    let run = run_scenario(
        dir.path(),
        &scenario(
            &svc.url(),
            &truth_command(dead.to_str().unwrap()),
            &["compliant.bookings_created == 100"],
            "compliant",
        ),
        &[],
    )
    .await;
    assert_eq!(run.code, Some(1), "{}", run.output);
    let s = &run.summary;
    assert!(s["results"][0].get("truth").is_none());
    let notes = s["notes"].to_string();
    assert!(
        notes.contains("could not be read before the round"),
        "{notes}"
    );
    assert_eq!(s["gates"][0]["passed"], false);
    assert!(s["gates"][0]["measured"].is_null());
    // Everything else was measured as usual.
    assert_eq!(s["results"][0]["journeys"]["succeeded"].as_u64(), Some(100));
}
