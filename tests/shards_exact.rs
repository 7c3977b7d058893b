//! Sharding is exact: one scenario run once unsharded and once as 4 shard
//! processes (at once, one shared `stampede serve` target, deterministic:
//! enough seats, no faults, no rate limit), merged; operation and attempt
//! counts equal the single run's, and the shards' arrivals partition it.

mod common;
use common::TempDir;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const SCENARIO: &str = "name = \"exact\"\nseed = 3\ncompare = [\"compliant\"]\n\
gates = [\"compliant.amplification >= 1\"]\n\
[load]\nmodel = \"ticket-drop\"\nusers = 120\nover = \"1s\"\ndrain = \"10s\"\n\
[journey]\nevent = \"E1\"\nzones = [\"A\"]\nquantity = 1\n\
[sim]\nseed = 3\nmax_tickets_per_user = 4\n\
[[sim.events]]\nid = \"E1\"\nzones = [{ id = \"A\", seats = 5000 }]\n\
[sim.rate_limit]\nper_user_per_second = 0\n";

struct Serve(Child);
impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(config: &Path) -> (Serve, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["serve", "--port", "0", "--config"])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_string();
    (Serve(child), url)
}

fn run(scenario: &Path, url: &str, out: &Path, shard: Option<&str>) -> Child {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stampede"));
    c.arg("run")
        .arg(scenario)
        .args(["--target", url, "--quiet", "--out"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(s) = shard {
        c.args(["--shard", s]);
    }
    c.spawn().unwrap()
}

fn ok(child: Child) {
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn four_shards_merged_equal_one_run() {
    let dir = TempDir::new("shards");
    let scenario = dir.path().join("exact.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let (_serve, url) = serve(&scenario);
    let single = dir.path().join("single");
    ok(run(&scenario, &url, &single, None));

    let shards: Vec<_> = (0..4)
        .map(|i| dir.path().join(format!("shard-{i}")))
        .collect();
    let children: Vec<Child> = shards
        .iter()
        .enumerate()
        .map(|(i, d)| run(&scenario, &url, d, Some(&format!("{i}/4"))))
        .collect();
    children.into_iter().for_each(ok);
    let merged = dir.path().join("merged");
    let o = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .arg("merge")
        .args(&shards)
        .arg("--out")
        .arg(&merged)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    let load = |d: &Path| stampede::report::json::load_summary(d).unwrap();
    let one = load(&single);
    let m = load(&merged);
    let (a, b) = (&one.results[0], &m.results[0]);
    assert_eq!(a.journeys.started, 120);
    assert_eq!(b.journeys.started, a.journeys.started);
    assert_eq!(b.operations, a.operations);
    assert_eq!(b.attempts, a.attempts);
    assert_eq!(b.operation_latency_ms.count, a.operation_latency_ms.count);
    assert_eq!(b.attempt_latency_ms.count, a.attempt_latency_ms.count);
    for (x, y) in a.steps.iter().zip(&b.steps) {
        assert_eq!(
            (x.operations, x.attempts),
            (y.operations, y.attempts),
            "{}",
            x.name
        );
    }
    // Every shard ran its even quarter of the schedule.
    for (i, d) in shards.iter().enumerate() {
        let r = load(d);
        assert_eq!(r.results[0].journeys.started, 30, "shard {i}");
        assert_eq!(
            r.origin.shard.map(|s| (s.index, s.count)),
            Some((i as u32, 4))
        );
    }
    // The merged report evaluated the scenario's gate again.
    assert_eq!(m.gates.len(), 1);
}
