//! Scenario TOML written by a test, built from its parts instead of typed
//! inline: `scenario().compare(&["compliant"]).open("3s", 20).drain("2s")`.
//!
//! Keys are written in the order TOML needs (top-level keys first, then
//! `[target]`, `[load]`, `[journey]`, then any raw tables). A test about
//! the TOML text itself (a bad key, a line number) writes its text by hand.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One idempotent reserve of a seat in zone A of event E1, the journey's
/// only step (a `steps` array).
pub const RESERVE_E1_A: &str = r#"[{ name = "reserve", method = "POST", path = "/bookings/reserve", body = '{"eventId":"E1","zoneId":"A","quantity":1}', idempotent = true }]"#;

/// One idempotent reserve with an empty JSON body (a target that does not
/// read it), the journey's only step.
pub const RESERVE_EMPTY_BODY: &str = r#"[{ name = "reserve", method = "POST", path = "/bookings/reserve", body = "{}", idempotent = true }]"#;

/// A bare `POST /reserve`, the journey's only step (a logging target).
pub const POST_RESERVE: &str = r#"[{ name = "reserve", method = "POST", path = "/reserve" }]"#;

/// An empty scenario: every key is the product's default until set.
pub fn scenario() -> Scenario {
    Scenario::default()
}

/// `users` buyers of fleet `fleet` arriving over 100 ms at the target
/// `url`, each reserving once in E1/A ([`RESERVE_EMPTY_BODY`]); the drain
/// is the caller's.
pub fn reserves_against(url: &str, fleet: &str, users: u32) -> Scenario {
    scenario()
        .compare(&[fleet])
        .target(url)
        .ticket_drop(users, "100ms")
        .event("E1", &["A"])
        .steps(RESERVE_EMPTY_BODY)
}

#[derive(Clone, Default)]
pub struct Scenario {
    top: Vec<(String, String)>,
    target: Vec<(String, String)>,
    load: Vec<(String, String)>,
    journey: Vec<(String, String)>,
    tables: Vec<String>,
}

/// A TOML string literal.
fn quoted(s: &str) -> String {
    format!("{s:?}")
}

/// A TOML array of strings.
fn list(items: &[&str]) -> String {
    let inner: Vec<String> = items.iter().map(|s| quoted(s)).collect();
    format!("[{}]", inner.join(", "))
}

impl Scenario {
    pub fn name(self, name: &str) -> Self {
        self.top_key("name", &quoted(name))
    }
    pub fn seed(self, seed: u64) -> Self {
        self.top_key("seed", &seed.to_string())
    }
    /// The fleets compared, by policy name, one round each.
    pub fn compare(self, fleets: &[&str]) -> Self {
        self.top_key("compare", &list(fleets))
    }
    /// Gate expressions, e.g. `"compliant.amplification > 5"`.
    pub fn gates(self, gates: &[&str]) -> Self {
        self.top_key("gates", &list(gates))
    }
    /// Any top-level key, its value already TOML.
    pub fn top_key(mut self, key: &str, toml_value: &str) -> Self {
        self.top.push((key.into(), toml_value.into()));
        self
    }

    /// A real target instead of the embedded simulator.
    pub fn target(self, url: &str) -> Self {
        self.target_key("url", &quoted(url))
    }
    pub fn target_key(mut self, key: &str, toml_value: &str) -> Self {
        self.target.push((key.into(), toml_value.into()));
        self
    }
    /// Several `[target]` keys, their values already TOML.
    pub fn target_keys(self, keys: &[(&str, &str)]) -> Self {
        keys.iter().fold(self, |s, (k, v)| s.target_key(k, v))
    }

    /// Open load: `rate` new journeys a second for `duration`.
    pub fn open(self, duration: &str, rate: u32) -> Self {
        self.load_key("model", "\"open\"").load_key(
            "stages",
            &format!("[{{ duration = {}, rate = {rate} }}]", quoted(duration)),
        )
    }
    /// A ticket drop: `users` buyers arriving over `over`.
    pub fn ticket_drop(self, users: u32, over: &str) -> Self {
        self.load_key("model", "\"ticket-drop\"")
            .load_key("users", &users.to_string())
            .load_key("over", &quoted(over))
    }
    /// Closed load: `users` each running `iterations` journeys, within
    /// `duration`.
    pub fn closed(self, users: u32, iterations: u32, duration: &str) -> Self {
        self.load_key("model", "\"closed\"")
            .load_key("users", &users.to_string())
            .load_key("iterations", &iterations.to_string())
            .load_key("duration", &quoted(duration))
    }
    /// How long journeys still running may finish after the last arrival.
    pub fn drain(self, drain: &str) -> Self {
        self.load_key("drain", &quoted(drain))
    }
    pub fn load_key(mut self, key: &str, toml_value: &str) -> Self {
        self.load.push((key.into(), toml_value.into()));
        self
    }

    /// Seats each journey books.
    pub fn quantity(self, n: u32) -> Self {
        self.journey_key("quantity", &n.to_string())
    }
    /// The event and zones the journey books in.
    pub fn event(self, event: &str, zones: &[&str]) -> Self {
        self.journey_key("event", &quoted(event))
            .journey_key("zones", &list(zones))
    }
    pub fn journey_key(mut self, key: &str, toml_value: &str) -> Self {
        self.journey.push((key.into(), toml_value.into()));
        self
    }

    /// One fleet of a mixed round: users of policy `name`, `share` of the
    /// arrivals.
    pub fn fleet(self, name: &str, share: f64) -> Self {
        self.table(&format!(
            "[[fleets]]\nname = {}\nshare = {share}",
            quoted(name)
        ))
    }

    /// The steps of the journey, a TOML array of inline tables.
    pub fn steps(self, toml_array: &str) -> Self {
        self.journey_key("steps", toml_array)
    }

    /// The embedded simulator's per-user rate limit off, so only the rule
    /// under test answers.
    pub fn no_sim_rate_limit(self) -> Self {
        self.table("[sim.rate_limit]\nper_user_per_second = 0")
    }

    /// The embedded simulator seeded with `seed`, its one event E1 with
    /// zone A of `seats`, each user allowed `max_tickets_per_user`.
    pub fn sim_e1_a(self, seed: u64, max_tickets_per_user: u32, seats: u32) -> Self {
        self.table(&format!(
            "[sim]\nseed = {seed}\nmax_tickets_per_user = {max_tickets_per_user}\n\
             [[sim.events]]\nid = \"E1\"\nzones = [{{ id = \"A\", seats = {seats} }}]"
        ))
    }

    /// The embedded simulator's `workers` each taking `service_time`, with
    /// no slowdown per request in flight and room for 10,000 waiting.
    pub fn sim_capacity(self, service_time: &str, workers: u32) -> Self {
        self.table(&format!(
            "[sim.capacity]\nservice_time = {}\nlatency_per_in_flight = \"0ms\"\n\
             workers = {workers}\nqueue = 10000",
            quoted(service_time)
        ))
    }

    /// A whole table (or array-of-tables entry) as TOML text, written
    /// after the built ones: `"[sim.rate_limit]\nper_user_per_second = 0"`.
    /// Empty text adds nothing.
    pub fn table(mut self, toml: &str) -> Self {
        if !toml.trim().is_empty() {
            self.tables.push(toml.trim().to_owned());
        }
        self
    }

    /// The scenario file's text.
    pub fn toml(&self) -> String {
        let mut s = String::new();
        let keys = |s: &mut String, kv: &[(String, String)]| {
            for (k, v) in kv {
                let _ = writeln!(s, "{k} = {v}");
            }
        };
        keys(&mut s, &self.top);
        for (name, kv) in [
            ("target", &self.target),
            ("load", &self.load),
            ("journey", &self.journey),
        ] {
            if !kv.is_empty() {
                let _ = writeln!(s, "[{name}]");
                keys(&mut s, kv);
            }
        }
        for t in &self.tables {
            let _ = writeln!(s, "{t}");
        }
        s
    }

    /// Writes the scenario to `path` and returns it.
    pub fn write(&self, path: impl AsRef<Path>) -> PathBuf {
        let path = path.as_ref().to_path_buf();
        std::fs::write(&path, self.toml())
            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// The parsed plan, as `stampede validate` would see it.
    pub fn plan(&self) -> stampede::scenario::Plan {
        super::plan(&self.toml())
    }
}

/// Ten buyers of the `impatient-user` preset who give up 150 ms after an
/// operation was due (two resubmissions) against a simulator that answers
/// every reserve 600 ms late: every try is abandoned, each a new operation.
pub fn impatient_users() -> Scenario {
    scenario()
        .compare(&["f5"])
        .ticket_drop(10, "100ms")
        .drain("20s")
        .steps(RESERVE_E1_A)
        .table("[policies.f5]\npreset = \"impatient-user\"\nabandon_after = \"150ms\"\nmax_resubmits = 2")
        .table("[sim.rate_limit]\nper_user_per_second = 0")
        .table("[sim.faults]\nlatency_rate = 1.0\nextra_latency = \"600ms\"")
}
