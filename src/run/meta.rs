//! Run metadata for `summary.json`: what was run, how, and where, so two
//! runs can be compared (`stampede compare`) and a run can be reproduced.
//!
//! The command line is recorded with every secret-looking value redacted
//! (the value after a flag named like a token, key, password, secret or
//! header; `key=value` words with such a key; the user-info of a URL).

use crate::model::{Host, RunMeta, Schedule};
use crate::scenario::Plan;
use crate::scenario::plan::Arrivals;

use std::collections::BTreeMap;
use std::time::Duration;

/// The schedule's own length, before `--duration` (or `load.duration`) caps it.
fn natural(a: &Arrivals) -> Option<Duration> {
    match a {
        Arrivals::Open { stages } => Some(stages.iter().map(|s| s.duration).sum()),
        Arrivals::TicketDrop { over, .. } => Some(*over),
        Arrivals::Closed { .. } => None,
    }
}

/// `plan.load_summary()`, plus the cap when arrivals stop before the shape ends.
pub fn effective_load(plan: &Plan) -> String {
    let base = plan.load_summary();
    match natural(&plan.load.arrivals) {
        Some(n) if plan.load.duration < n => format!(
            "{base}; arrivals stop at {} (capped)",
            humantime::format_duration(plan.load.duration)
        ),
        None => format!(
            "{base}; at most {}",
            humantime::format_duration(plan.load.duration)
        ),
        _ => base,
    }
}

pub fn schedule(plan: &Plan) -> Schedule {
    Schedule {
        load: effective_load(plan),
        arrivals_stop_s: plan.load.duration.as_secs_f64(),
        natural_s: natural(&plan.load.arrivals)
            .unwrap_or(plan.load.duration)
            .as_secs_f64(),
        drain_s: plan.load.drain.as_secs_f64(),
        max_in_flight: plan.load.max_in_flight as u64,
        max_rps: plan.safety.max_rps,
        rounds: plan.rounds.len() as u64,
    }
}

fn read_trim(path: &str) -> Option<String> {
    let s = std::fs::read_to_string(path).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

pub fn host() -> Host {
    let name = read_trim("/proc/sys/kernel/hostname")
        .or_else(|| read_trim("/etc/hostname"))
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let mut os = format!("{} {}", std::env::consts::OS, std::env::consts::ARCH);
    if let Some(pretty) = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
    {
        os.push_str(&format!(", {pretty}"));
    }
    if let Some(k) = read_trim("/proc/sys/kernel/osrelease") {
        os.push_str(&format!(", kernel {k}"));
    }
    Host {
        name,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u64),
        os,
    }
}

const SECRET_WORDS: &[&str] = &[
    "token",
    "secret",
    "password",
    "passwd",
    "key",
    "auth",
    "header",
    "cookie",
    "credential",
    "bearer",
];

fn secretish(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| n.contains(w))
}

/// `http://user:pw@host/` -> `http://***@host/`.
fn redact_userinfo(s: &str) -> String {
    if let Some(scheme_end) = s.find("://") {
        let rest = &s[scheme_end + 3..];
        let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        if let Some(at) = rest[..auth_end].rfind('@') {
            return format!("{}***{}", &s[..scheme_end + 3], &rest[at..]);
        }
    }
    s.to_string()
}

/// The command line with secret-looking values replaced by `***`.
pub fn redact_argv(argv: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(argv.len());
    let mut hide_next = false;
    for a in argv {
        if hide_next {
            out.push("***".into());
            hide_next = false;
            continue;
        }
        if let Some(flag) = a.strip_prefix("--") {
            match flag.split_once('=') {
                Some((name, _)) if secretish(name) => out.push(format!("--{name}=***")),
                Some(_) => out.push(redact_userinfo(a)),
                None => {
                    hide_next = secretish(flag);
                    out.push(a.clone());
                }
            }
            continue;
        }
        match a.split_once('=') {
            Some((k, _)) if secretish(k) => out.push(format!("{k}=***")),
            _ => out.push(redact_userinfo(a)),
        }
    }
    out
}

/// The overrides, as given (a target URL without its user-info).
pub fn overrides(ov: &crate::scenario::Overrides) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    if let Some(d) = ov.duration {
        m.insert("duration".into(), humantime::format_duration(d).to_string());
    }
    if let Some(r) = ov.rate {
        m.insert("rate".into(), r.to_string());
    }
    if let Some(t) = &ov.target {
        m.insert("target".into(), redact_userinfo(t));
    }
    if let Some(p) = &ov.policy {
        m.insert("policy".into(), p.clone());
    }
    if let Some(r) = ov.max_rps {
        m.insert("max_rps".into(), r.to_string());
    }
    if ov.insecure {
        m.insert("insecure".into(), "true".into());
    }
    if ov.ledger {
        m.insert("ledger".into(), "true".into());
    }
    m
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms(t: std::time::SystemTime) -> Option<u64> {
    t.duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|d| u64::try_from(d.as_millis()).ok())
}

/// The metadata of a finished run: [`collect`], plus its clock and, on
/// virtual time, the wall time it took (its `duration_s` is simulated).
pub fn of_run(
    plan: &Plan,
    argv: &[String],
    ov: &crate::scenario::Overrides,
    wall: Duration,
) -> RunMeta {
    let mut m = collect(plan, argv, ov);
    if plan.clock.is_virtual() {
        m.clock = plan.clock;
        m.wall_s = Some(wall.as_secs_f64());
    }
    m
}

/// The metadata of a run of `plan`, started as `argv` with `ov`.
pub fn collect(plan: &Plan, argv: &[String], ov: &crate::scenario::Overrides) -> RunMeta {
    RunMeta {
        seed: Some(plan.seed),
        argv: redact_argv(argv),
        overrides: overrides(ov),
        schedule: schedule(plan),
        host: host(),
        git_rev: option_env!("STAMPEDE_GIT_REV").map(str::to_string),
        clock: plan.clock,
        wall_s: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn secrets_on_the_command_line_are_redacted() {
        let got = redact_argv(&v(&[
            "stampede",
            "run",
            "s.toml",
            "--token",
            "abc123",
            "--api-key=zzz",
            "--target",
            "https://bob:hunter2@127.0.0.1:9/x",
            "AUTH_TOKEN=t0k",
            "--rate",
            "100",
        ]));
        assert_eq!(
            got,
            v(&[
                "stampede",
                "run",
                "s.toml",
                "--token",
                "***",
                "--api-key=***",
                "--target",
                "https://***@127.0.0.1:9/x",
                "AUTH_TOKEN=***",
                "--rate",
                "100",
            ])
        );
        let joined = got.join(" ");
        for secret in ["abc123", "zzz", "hunter2", "t0k"] {
            assert!(!joined.contains(secret), "{secret} leaked: {joined}");
        }
    }

    #[test]
    fn a_duration_cap_shorter_than_the_shape_is_visible() {
        let dir = std::env::temp_dir().join(format!("stampede-meta-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.toml");
        std::fs::write(
            &path,
            "[load]\nmodel = \"open\"\n[[load.stages]]\nduration = \"10s\"\nrate = 5\n[[load.stages]]\nduration = \"10s\"\nrate = 9\n",
        )
        .unwrap();
        let ov = crate::scenario::Overrides {
            duration: Some(Duration::from_secs(3)),
            rate: Some(100.0),
            ..Default::default()
        };
        let plan = crate::scenario::load(&path, &ov).unwrap();
        let s = schedule(&plan);
        assert!(s.load.contains("arrivals stop at 3s"), "{}", s.load);
        assert!(s.load.contains("100/s"), "{}", s.load);
        assert_eq!((s.arrivals_stop_s, s.natural_s), (3.0, 20.0));
        let o = overrides(&ov);
        assert_eq!(o.get("duration").map(String::as_str), Some("3s"));
        assert_eq!(o.get("rate").map(String::as_str), Some("100"));
        let uncapped = crate::scenario::load(&path, &Default::default()).unwrap();
        assert!(!effective_load(&uncapped).contains("capped"));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn host_is_described() {
        let h = host();
        assert!(h.cores >= 1);
        assert!(h.os.starts_with(std::env::consts::OS), "{}", h.os);
    }
}
