//! `stampede run --virtual-time`, through the built binary: the same
//! scenario and seed give the same report, field by field; minutes of
//! load take seconds; a real target is refused.

use crate::common::stampede;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

/// summary.json fields that are allowed to differ between two identical
/// virtual runs: when the run happened, how long it took on the wall clock
/// and on which machine. Everything else, the command line and every
/// simulated duration and latency included, must be equal.
const NOT_COMPARED: &[&str] = &["/started_at", "/meta/wall_s", "/meta/host"];

fn out_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("stampede-vt-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// `run SCENARIO --virtual-time --out DIR` in `cwd`, which must succeed.
fn run_virtual_in(cwd: &Path, scenario: &Path, out: &Path) -> Output {
    let res = stampede()
        .current_dir(cwd)
        .args([
            "run",
            &scenario.display().to_string(),
            "--virtual-time",
            "--out",
            &out.display().to_string(),
        ])
        .run();
    assert!(
        res.status.success(),
        "exit {:?}\n{}\n{}",
        res.status.code(),
        String::from_utf8_lossy(&res.stdout),
        String::from_utf8_lossy(&res.stderr)
    );
    res
}

fn run_virtual(scenario: &Path, out: &Path) -> Output {
    run_virtual_in(Path::new("."), scenario, out)
}

fn summary(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("summary.json")).expect("summary.json"))
        .expect("valid JSON")
}

/// Every leaf where `a` and `b` differ, as JSON pointers.
fn differences(a: &Value, b: &Value, at: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                let p = format!("{at}/{k}");
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => differences(u, v, &p, out),
                    _ => out.push(p),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                differences(u, v, &format!("{at}/{i}"), out);
            }
        }
        _ if a != b => out.push(at.to_string()),
        _ => {}
    }
}

fn csv_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("report folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".csv"))
        .collect();
    v.sort();
    v
}

#[test]
fn two_virtual_runs_of_the_flagship_give_the_same_report() {
    let scenario = std::fs::canonicalize("scenarios/ticket-drop.toml").expect("flagship");
    // Each run in a folder of its own with the same relative --out, so
    // the two command lines are the same too.
    let (wa, wb) = (out_dir("flagship-a"), out_dir("flagship-b"));
    for w in [&wa, &wb] {
        std::fs::create_dir_all(w).expect("temp dir");
    }
    let (a, b) = (wa.join("report"), wb.join("report"));
    // At the same time: each run's result must not depend on the other
    // competing for the cores.
    let report = Path::new("report");
    let (ra, rb) = std::thread::scope(|s| {
        let ta = s.spawn(|| run_virtual_in(&wa, &scenario, report));
        let tb = s.spawn(|| run_virtual_in(&wb, &scenario, report));
        (ta.join().expect("run a"), tb.join().expect("run b"))
    });
    let (sa, sb) = (summary(&a), summary(&b));
    assert_eq!(sa["meta"]["clock"], "virtual");
    assert_eq!(sa["status"], "completed");
    assert_eq!(sa["meta"]["seed"], 7);
    assert!(sa["meta"]["wall_s"].as_f64().is_some_and(|w| w > 0.0));
    // Two fleets, each with work done: the comparison is not of nothing.
    let results = sa["results"].as_array().expect("results");
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(|c| c["attempts"].as_u64() > Some(1000)));

    let mut diff = Vec::new();
    differences(&sa, &sb, "", &mut diff);
    diff.retain(|p| {
        !NOT_COMPARED
            .iter()
            .any(|n| p == n || p.starts_with(&format!("{n}/")))
    });
    assert!(diff.is_empty(), "fields that differ: {diff:?}");

    let files = csv_files(&a);
    assert!(files.contains(&"summary.csv".to_string()), "{files:?}");
    assert_eq!(files, csv_files(&b));
    for f in &files {
        let (x, y) = (
            std::fs::read(a.join(f)).expect("csv a"),
            std::fs::read(b.join(f)).expect("csv b"),
        );
        assert!(x == y, "{f} differs between the two runs");
    }

    // The console says the run was on virtual time; so does the HTML.
    let stdout = String::from_utf8_lossy(&ra.stdout);
    assert!(stdout.contains("VIRTUAL TIME: "), "{stdout}");
    assert_eq!(
        stdout
            .lines()
            .find(|l| l.starts_with("VIRTUAL TIME"))
            .map(|l| l.split(" in ").next()),
        String::from_utf8_lossy(&rb.stdout)
            .lines()
            .find(|l| l.starts_with("VIRTUAL TIME"))
            .map(|l| l.split(" in ").next()),
        "the same simulated length"
    );
    let html = std::fs::read_to_string(a.join("report.html")).expect("report.html");
    assert!(html.contains("virtual time: "), "the HTML names the clock");
    readme_quotes_the_flagship(results);
    let _ = std::fs::remove_dir_all(&wa);
    let _ = std::fs::remove_dir_all(&wb);
}

/// The README quotes the flagship's virtual-time numbers (its tour, step
/// 4): they are this run's, which every run of the seed repeats.
fn readme_quotes_the_flagship(results: &[Value]) {
    let readme = std::fs::read_to_string("README.md").expect("README.md");
    let text = readme.split_whitespace().collect::<Vec<_>>().join(" ");
    let (compliant, naive) = (&results[0], &results[1]);
    assert_eq!(
        (&compliant["name"], &naive["name"]),
        (&"compliant".into(), &"naive".into())
    );
    let amp = |c: &Value| c["amplification"].as_f64().expect("amplification");
    let n = |v: &Value| v.as_u64().expect("count");
    for quoted in [
        format!(
            "book all {} pairs of seats",
            n(&compliant["journeys"]["succeeded"])
        ),
        format!("at {:.3}× load amplification on reserve", amp(compliant)),
        "load amplification on reserve, with no duplicate booking".to_string(),
        format!("send {:.3} requests per reserve operation", amp(naive)),
        format!(
            "create {} duplicate bookings",
            n(&naive["ledger"]["duplicates"])
        ),
        format!(
            "fail {} of 3,000 journeys",
            fmt_thousands(n(&naive["journeys"]["failed"]))
        ),
        format!(
            "{} of them on `GAVE_UP/TOO_MANY_REQUESTS`",
            fmt_thousands(n(&naive["outcomes"]["GAVE_UP/TOO_MANY_REQUESTS"]))
        ),
    ] {
        assert!(text.contains(&quoted), "the README does not say `{quoted}`");
    }
    assert_eq!(n(&compliant["ledger"]["duplicates"]), 0);
}

/// 2335 -> "2,335".
fn fmt_thousands(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Two fleets of 200 buyers, each buying four times with six minutes
/// between journeys: about eighteen minutes of virtual time per fleet, against
/// the simulator with its lognormal service times, queue and faults.
/// 200 closed-model users, 4 journeys each 6 minutes apart, against four
/// lognormal workers failing 5%: half an hour of load.
fn long() -> crate::common::scenario::Scenario {
    crate::common::scenario()
        .name("virtual-long")
        .seed(11)
        .compare(&["compliant", "naive"])
        .closed(200, 4, "30m")
        .load_key("think_time", "\"6m\"")
        .drain("30s")
        .quantity(1)
        .table(
            r#"[sim]
seed = 11
[[sim.events]]
id = "E1"
zones = [{ id = "A", seats = 5000 }]
[sim.capacity]
workers = 4
queue = 64
service_time = "50ms"
service_distribution = { shape = "lognormal", sigma = 0.6 }
[sim.faults]
error_rate = 0.05"#,
        )
}

#[test]
fn minutes_of_virtual_load_take_a_small_part_of_that_on_the_wall() {
    let dir = out_dir("long");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let scenario = dir.join("long.toml");
    long().write(&scenario);
    let out = dir.join("report");
    let wall = Instant::now();
    run_virtual(&scenario, &out);
    let wall = wall.elapsed();
    let s = summary(&out);
    eprintln!("virtual {} s, wall {wall:?}", s["duration_s"]);
    let simulated = Duration::from_secs_f64(s["duration_s"].as_f64().expect("duration_s"));
    assert!(simulated >= Duration::from_secs(2000), "{simulated:?}");
    assert!(s["results"][0]["operations"].as_u64() > Some(2000), "{s}");
    // The one timing assertion: the whole process, start to exit, against
    // the simulated length (measured: 2,177 s of virtual time in 5.9 s of
    // wall time, a debug build on 2 shared cores: 370 times faster).
    assert!(
        wall * 20 <= simulated,
        "{wall:?} of wall time for {simulated:?} of virtual time"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_real_target_is_refused_on_virtual_time() {
    let dir = out_dir("refused");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let scenario = dir.join("real.toml");
    std::fs::write(
        &scenario,
        "name = \"real\"\n\n[target]\nurl = \"http://127.0.0.1:9\"\n\n[load]\nmodel = \"ticket-drop\"\nusers = 10\nover = \"1s\"\n\n[journey]\nevent = \"E1\"\nzones = [\"A\"]\n",
    )
    .expect("scenario");
    let path = scenario.display().to_string();
    let res = stampede()
        .args(["run", &path, "--virtual-time", "--quiet"])
        .run();
    let err = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("{path}:4:1: `target.url`")), "{err}");
    assert!(err.contains("cannot measure a real target"), "{err}");

    let flagship = "scenarios/ticket-drop.toml";
    let res = stampede()
        .args([
            "run",
            flagship,
            "--virtual-time",
            "--target",
            "http://127.0.0.1:9",
        ])
        .run();
    let err = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(2), "{err}");
    assert!(err.contains("--target http://127.0.0.1:9"), "{err}");

    // Nothing to scrape and no wall-clock start on virtual time.
    for clash in [
        &["--metrics-listen", "127.0.0.1:0"][..],
        &["--start-at", "1"][..],
    ] {
        let mut args = vec!["run", flagship, "--virtual-time"];
        args.extend_from_slice(clash);
        let res = stampede().args(&args).run();
        assert_eq!(res.status.code(), Some(2), "{args:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_library_refuses_a_url_on_virtual_time_too() {
    let src = "name = \"real\"\n[target]\nurl = \"http://127.0.0.1:9\"\n[load]\nmodel = \"ticket-drop\"\nusers = 1\nover = \"1s\"\n[journey]\nevent = \"E1\"\nzones = [\"A\"]\n";
    let mut plan =
        stampede::scenario::parse(src, Path::new("tests/inline.toml"), &Default::default())
            .expect("valid");
    plan.clock = stampede::clock::ClockMode::Virtual;
    let got = stampede::run::execute(&plan, &stampede::engine::Control::default(), None).await;
    match got {
        Err(stampede::run::RunError::VirtualTarget(what)) => {
            assert_eq!(what, "http://127.0.0.1:9")
        }
        Err(e) => panic!("another error: {e}"),
        Ok(_) => panic!("a virtual run against a URL ran"),
    }
}
