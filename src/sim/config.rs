//! Every simulator knob, with defaults tuned so a ticket drop separates
//! compliant clients from naive ones on a 2-core machine.

use super::SimError;
use super::rush::BookingRushConfig;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

/// One zone of an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneConfig {
    pub id: String,
    /// Seats on sale; never oversold whatever the concurrency.
    pub seats: u32,
}

/// One event on sale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventConfig {
    pub id: String,
    pub zones: Vec<ZoneConfig>,
}

/// Which API the simulator speaks (`[sim] api`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SimApi {
    /// `"guidelines"`: the client retry guidelines' dialect (camelCase,
    /// `Idempotency-Key`, the bearer token is the user id). The default.
    #[default]
    Guidelines,
    /// `"booking-rush"`: the real Booking Rush API as our users' staging
    /// runs it (`/api/v1`, JWT login, the virtual queue, snake_case, two
    /// envelopes, `X-Idempotency-Key`); its own knobs are in
    /// `[sim.booking_rush]`.
    BookingRush,
}

/// The `[sim]` table of a scenario file and `stampede serve --config`.
///
/// Read through [`SimConfigFile`]: a knob left out takes the default of the
/// profile `api` names (`reservation_ttl`, `max_tickets_per_user` and
/// `public_availability` differ between the two).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "SimConfigFile")]
pub struct SimConfig {
    /// The API profile (default `"guidelines"`).
    pub api: SimApi,
    /// Inventory. Default: event `E1` with zones `A`, `B`, `C` of 300 seats,
    /// small enough that a drop of a few thousand users sells out.
    pub events: Vec<EventConfig>,
    /// Seats one user may hold (reserved + confirmed) per event; beyond it
    /// reserve answers 409 MAX_TICKETS_EXCEEDED. 0 = unlimited.
    pub max_tickets_per_user: u32,
    /// How long a reservation holds its seats before confirm answers
    /// EXPIRED and the seats return to the zone.
    #[serde(with = "humantime_serde")]
    pub reservation_ttl: Duration,
    /// How often expired reservations are swept back into the zones, so
    /// availability recovers even if nobody touches the expired booking.
    #[serde(with = "humantime_serde")]
    pub sweep_interval: Duration,
    /// Largest accepted request body; beyond it 413 PAYLOAD_TOO_LARGE.
    pub max_body_bytes: usize,
    /// Seed of the fault-injection RNG, so a scenario replays the same
    /// sequence of decisions (given the same arrival order).
    pub seed: u64,
    /// Whether `GET .../availability` works without a bearer token (it is
    /// a public, cacheable read on most ticketing sites).
    pub public_availability: bool,
    pub capacity: CapacityConfig,
    pub rate_limit: RateLimitConfig,
    pub faults: FaultConfig,
    pub connections: ConnectionConfig,
    /// The Booking Rush profile's own knobs (read only with
    /// `api = "booking-rush"`).
    pub booking_rush: BookingRushConfig,
}

/// `[sim]` as written: every knob optional, filled from the defaults of the
/// profile `api` names.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SimConfigFile {
    #[serde(default)]
    api: SimApi,
    events: Option<Vec<EventConfig>>,
    max_tickets_per_user: Option<u32>,
    #[serde(default, with = "humantime_serde::option")]
    reservation_ttl: Option<Duration>,
    #[serde(default, with = "humantime_serde::option")]
    sweep_interval: Option<Duration>,
    max_body_bytes: Option<usize>,
    seed: Option<u64>,
    public_availability: Option<bool>,
    capacity: Option<CapacityConfig>,
    rate_limit: Option<RateLimitConfig>,
    faults: Option<FaultConfig>,
    connections: Option<ConnectionConfig>,
    booking_rush: Option<BookingRushConfig>,
}

impl From<SimConfigFile> for SimConfig {
    fn from(f: SimConfigFile) -> Self {
        let d = SimConfig::for_api(f.api);
        Self {
            api: f.api,
            events: f.events.unwrap_or(d.events),
            max_tickets_per_user: f.max_tickets_per_user.unwrap_or(d.max_tickets_per_user),
            reservation_ttl: f.reservation_ttl.unwrap_or(d.reservation_ttl),
            sweep_interval: f.sweep_interval.unwrap_or(d.sweep_interval),
            max_body_bytes: f.max_body_bytes.unwrap_or(d.max_body_bytes),
            seed: f.seed.unwrap_or(d.seed),
            public_availability: f.public_availability.unwrap_or(d.public_availability),
            capacity: f.capacity.unwrap_or(d.capacity),
            rate_limit: f.rate_limit.unwrap_or(d.rate_limit),
            faults: f.faults.unwrap_or(d.faults),
            connections: f.connections.unwrap_or(d.connections),
            booking_rush: f.booking_rush.unwrap_or(d.booking_rush),
        }
    }
}

impl SimConfig {
    /// The defaults of one profile.
    pub fn for_api(api: SimApi) -> SimConfig {
        match api {
            SimApi::Guidelines => SimConfig::default(),
            SimApi::BookingRush => SimConfig::booking_rush(),
        }
    }

    /// The Booking Rush profile with the real system's values where the
    /// spec gives them: reservations live 10 minutes, browsing needs a
    /// token, at most 10 tickets per user per event (the spec's largest
    /// quantity; the per-user cap itself is not in the spec).
    pub fn booking_rush() -> SimConfig {
        SimConfig {
            api: SimApi::BookingRush,
            max_tickets_per_user: 10,
            reservation_ttl: Duration::from_secs(10 * 60),
            public_availability: false,
            ..SimConfig::default()
        }
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        let zones = ["A", "B", "C"]
            .iter()
            .map(|id| ZoneConfig {
                id: (*id).into(),
                seats: 300,
            })
            .collect();
        Self {
            api: SimApi::Guidelines,
            events: vec![EventConfig {
                id: "E1".into(),
                zones,
            }],
            max_tickets_per_user: 4,
            reservation_ttl: Duration::from_secs(120),
            sweep_interval: Duration::from_secs(1),
            max_body_bytes: 16 * 1024,
            seed: 42,
            public_availability: true,
            capacity: CapacityConfig::default(),
            rate_limit: RateLimitConfig::default(),
            faults: FaultConfig::default(),
            connections: ConnectionConfig::default(),
            booking_rush: BookingRushConfig::default(),
        }
    }
}

/// The longest any connection timeout may be set to.
pub const MAX_CONNECTION_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// Limits on client connections, so slow or idle clients (slowloris) cannot
/// hold the simulator's sockets and memory for good.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionConfig {
    /// From the first byte of a request to the end of its headers (and for
    /// the whole TLS handshake); a client slower than this is disconnected.
    #[serde(with = "humantime_serde")]
    pub header_timeout: Duration,
    /// From the end of the headers to the last byte of the body; beyond it
    /// 408 `REQUEST_TIMEOUT` and the connection is closed.
    #[serde(with = "humantime_serde")]
    pub body_timeout: Duration,
    /// How long a connection with no request in flight may stay open before
    /// it sends the first byte of its next request (keep-alive).
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Open connections at most; a connection beyond it is closed at once.
    pub max_open: u32,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_open: 20_000,
        }
    }
}

/// The overload model: a worker pool behind a bounded queue, where every
/// unit of work in flight slows every worker (lock/DB contention), so
/// throughput *falls* under overload and a retry storm can keep it down.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CapacityConfig {
    /// Concurrent workers executing booking work.
    pub workers: u32,
    /// Requests admitted beyond the busy workers; when workers + queue are
    /// all taken, the request is rejected with 503 SERVICE_UNAVAILABLE.
    pub queue: u32,
    /// Base time one reserve/confirm/release occupies a worker.
    #[serde(with = "humantime_serde")]
    pub service_time: Duration,
    /// Base time of an availability read. 0 = served from a cache: it skips
    /// the worker pool entirely (and is what the throughput bench measures).
    #[serde(with = "humantime_serde")]
    pub availability_service_time: Duration,
    /// Added to the service time per unit of admitted work (queued or
    /// running): `service = base + k × in_flight`. This is what makes the
    /// collapse metastable: a full queue makes every worker slower.
    #[serde(with = "humantime_serde")]
    pub latency_per_in_flight: Duration,
    /// Retry-After sent with a queue-full 503 (rounded up to whole
    /// seconds); "0s" = send none, as many real servers do.
    #[serde(with = "humantime_serde")]
    pub retry_after_503: Duration,
    /// How each operation's base time is drawn around `service_time` (and
    /// `availability_service_time`): fixed (the default), exponential,
    /// bimodal or lognormal ([`super::service::ServiceDistribution`]).
    pub service_distribution: super::service::ServiceDistribution,
    /// How the workers serve what is admitted: `fifo` (the default: each
    /// job holds one worker until done, the rest wait in line) or
    /// `processor-sharing` (every admitted job in service at once, the
    /// workers' capacity split evenly among them).
    pub discipline: Discipline,
}

/// How the workers serve admitted work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Discipline {
    /// First come, first served: a job holds a worker until it is done.
    #[default]
    Fifo,
    /// Every admitted job is served at once at min(1, workers / n) of a
    /// worker's speed ([`super::sharing::Sharing`]).
    ProcessorSharing,
}

impl Default for CapacityConfig {
    fn default() -> Self {
        // ~3,200 req/s when idle (32 / 10 ms), ~470 req/s with a full
        // queue (32 / (10 ms + 288 × 0.2 ms)): naive retries at ~5k req/s
        // push it into the slow state and keep it there.
        Self {
            workers: 32,
            queue: 256,
            service_time: Duration::from_millis(10),
            availability_service_time: Duration::ZERO,
            latency_per_in_flight: Duration::from_micros(200),
            retry_after_503: Duration::from_secs(1),
            service_distribution: super::service::ServiceDistribution::Fixed,
            discipline: Discipline::Fifo,
        }
    }
}

/// Token buckets (governor GCRA). 0 = that limiter is off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Sustained requests per second per user (bearer token).
    pub per_user_per_second: u32,
    /// Burst per user; 0 = same as the rate.
    pub per_user_burst: u32,
    /// Sustained requests per second over all users.
    pub global_per_second: u32,
    /// Global burst; 0 = same as the rate.
    pub global_burst: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            per_user_per_second: 2,
            per_user_burst: 4,
            global_per_second: 0,
            global_burst: 0,
        }
    }
}

/// Injected faults on the booking endpoints (reserve/confirm/release).
/// Probabilities are per request, in [0, 1], drawn from the seeded RNG.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultConfig {
    /// 500 INTERNAL_ERROR before any side effect.
    pub error_rate: f64,
    /// Drop the connection without a response before the booking is
    /// committed (a retry is harmless).
    pub reset_before_commit: f64,
    /// Drop the connection after the booking is committed (a retry with a
    /// new Idempotency-Key creates a duplicate).
    pub reset_after_commit: f64,
    /// A proxy-style HTML 502 page instead of the envelope.
    pub html_502: f64,
    /// A 502 `BAD_GATEWAY` in the API's own envelope (Booking Rush: the
    /// gateway's nested one) before the request reaches the service:
    /// nothing is stored for its key, nothing is booked.
    pub bad_gateway: f64,
    /// A 503 with an empty body.
    pub empty_503: f64,
    /// A 429 whose Retry-After is an HTTP-date.
    pub http_date_429: f64,
    /// A 503 whose Retry-After is an HTTP-date.
    pub http_date_503: f64,
    /// The wait the HTTP-date Retry-After answers ask for.
    #[serde(with = "humantime_serde")]
    pub http_date_retry_after: Duration,
    /// Probability of adding `extra_latency` to a request's service time.
    pub latency_rate: f64,
    #[serde(with = "humantime_serde")]
    pub extra_latency: Duration,
    /// Timed windows that model a trigger (a GC pause, a failing replica).
    pub windows: Vec<FaultWindow>,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            error_rate: 0.0,
            reset_before_commit: 0.0,
            reset_after_commit: 0.0,
            html_502: 0.0,
            bad_gateway: 0.0,
            empty_503: 0.0,
            http_date_429: 0.0,
            http_date_503: 0.0,
            http_date_retry_after: Duration::from_secs(2),
            latency_rate: 0.0,
            extra_latency: Duration::ZERO,
            windows: Vec::new(),
        }
    }
}

/// A trigger active from `from` to `to` after start (or the last reset).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultWindow {
    #[serde(with = "humantime_serde")]
    pub from: Duration,
    #[serde(with = "humantime_serde")]
    pub to: Duration,
    /// Worker throughput multiplier inside the window (0.25 = a quarter of
    /// the capacity), applied by dividing the service time.
    pub capacity_factor: f64,
    /// Extra probability of 500 INTERNAL_ERROR inside the window.
    pub error_rate: f64,
    /// Added to every booking request's service time inside the window.
    #[serde(with = "humantime_serde")]
    pub extra_latency: Duration,
}

impl Default for FaultWindow {
    fn default() -> Self {
        Self {
            from: Duration::ZERO,
            to: Duration::ZERO,
            capacity_factor: 1.0,
            error_rate: 0.0,
            extra_latency: Duration::ZERO,
        }
    }
}

/// Fault probabilities and trigger windows.
fn validate_faults(f: &FaultConfig) -> Result<(), SimError> {
    prob("faults.error_rate", f.error_rate)?;
    prob("faults.reset_before_commit", f.reset_before_commit)?;
    prob("faults.reset_after_commit", f.reset_after_commit)?;
    prob("faults.html_502", f.html_502)?;
    prob("faults.bad_gateway", f.bad_gateway)?;
    prob("faults.empty_503", f.empty_503)?;
    prob("faults.http_date_429", f.http_date_429)?;
    prob("faults.http_date_503", f.http_date_503)?;
    prob("faults.latency_rate", f.latency_rate)?;
    let answers = f.error_rate
        + f.reset_before_commit
        + f.reset_after_commit
        + f.html_502
        + f.bad_gateway
        + f.empty_503
        + f.http_date_429
        + f.http_date_503;
    if answers > 1.0 + 1e-9 {
        return Err(bad(
            "faults",
            "error_rate + reset_* + html_502 + bad_gateway + empty_503 + http_date_* exceeds 1",
        ));
    }
    for (i, w) in f.windows.iter().enumerate() {
        let key = format!("faults.windows[{i}]");
        if w.to < w.from {
            return Err(bad(&format!("{key}.to"), "is before `from`"));
        }
        if !(w.capacity_factor > 0.0 && w.capacity_factor <= 1.0) {
            return Err(bad(&format!("{key}.capacity_factor"), "must be in (0, 1]"));
        }
        prob(&format!("{key}.error_rate"), w.error_rate)?;
    }
    Ok(())
}

fn bad(key: &str, why: &str) -> SimError {
    SimError::Config(format!("{key}: {why}"))
}

fn prob(key: &str, p: f64) -> Result<(), SimError> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(bad(key, &format!("probability {p} is outside [0, 1]")))
    }
}

impl SimConfig {
    /// Reads a standalone simulator config (`stampede serve --config`).
    pub fn from_toml_file(path: impl AsRef<Path>) -> Result<SimConfig, SimError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| SimError::ConfigFile {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let cfg: SimConfig = toml::from_str(&text).map_err(|e| SimError::ConfigFile {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        cfg.validate().map_err(|e| SimError::ConfigFile {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Ok(cfg)
    }

    /// Rejects configs that would make results meaningless; the message
    /// names the offending key.
    pub fn validate(&self) -> Result<(), SimError> {
        self.validate_events()?;
        if self.reservation_ttl.is_zero() {
            return Err(bad("reservation_ttl", "must be > 0"));
        }
        if self.sweep_interval.is_zero() {
            return Err(bad("sweep_interval", "must be > 0"));
        }
        if self.max_body_bytes == 0 {
            return Err(bad("max_body_bytes", "must be > 0"));
        }
        if self.capacity.workers == 0 {
            return Err(bad("capacity.workers", "must be > 0"));
        }
        self.connections.validate()?;
        validate_faults(&self.faults)?;
        if self.api == SimApi::BookingRush {
            self.booking_rush.validate()?;
            // `/api/v1/zones/{id}` and `/api/v1/shows/{id}/zones` name a
            // zone or a show without its event.
            let mut zones = std::collections::HashSet::new();
            for (i, ev) in self.events.iter().enumerate() {
                for (j, z) in ev.zones.iter().enumerate() {
                    if !zones.insert(z.id.as_str()) {
                        return Err(bad(
                            &format!("events[{i}].zones[{j}].id"),
                            "zone ids must be unique across events with api = \"booking-rush\"",
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Events and their zones: present, named, unique, with seats.
    fn validate_events(&self) -> Result<(), SimError> {
        if self.events.is_empty() {
            return Err(bad("events", "at least one event is required"));
        }
        let mut ids = std::collections::HashSet::new();
        for (i, ev) in self.events.iter().enumerate() {
            if ev.id.is_empty() || ev.id.contains('/') {
                return Err(bad(&format!("events[{i}].id"), "empty or contains '/'"));
            }
            if !ids.insert(ev.id.as_str()) {
                return Err(bad(&format!("events[{i}].id"), "duplicate event id"));
            }
            if ev.zones.is_empty() {
                return Err(bad(&format!("events[{i}].zones"), "at least one zone"));
            }
            let mut zids = std::collections::HashSet::new();
            for (j, z) in ev.zones.iter().enumerate() {
                let key = format!("events[{i}].zones[{j}]");
                if z.id.is_empty() || z.id.contains('/') {
                    return Err(bad(&format!("{key}.id"), "empty or contains '/'"));
                }
                if !zids.insert(z.id.as_str()) {
                    return Err(bad(&format!("{key}.id"), "duplicate zone id"));
                }
                if z.seats == 0 {
                    return Err(bad(&format!("{key}.seats"), "must be > 0"));
                }
            }
        }
        Ok(())
    }
}

impl ConnectionConfig {
    fn validate(&self) -> Result<(), SimError> {
        for (key, d) in [
            ("connections.header_timeout", self.header_timeout),
            ("connections.body_timeout", self.body_timeout),
            ("connections.idle_timeout", self.idle_timeout),
        ] {
            if d.is_zero() || d > MAX_CONNECTION_TIMEOUT {
                return Err(bad(key, "must be > 0 and at most 24h"));
            }
        }
        if self.max_open == 0 {
            return Err(bad("connections.max_open", "must be > 0"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_roundtrip() {
        let cfg = SimConfig::default();
        cfg.validate().expect("defaults are valid");
        let text = toml::to_string(&cfg).expect("serializes");
        let back: SimConfig = toml::from_str(&text).expect("parses");
        assert_eq!(back, cfg);
    }

    #[test]
    fn humantime_and_partial_tables() {
        let cfg: SimConfig = toml::from_str(
            "reservation_ttl = \"250ms\"\n[capacity]\nworkers = 2\n\
             [[faults.windows]]\nfrom = \"1s\"\nto = \"2s\"\nerror_rate = 0.5\n",
        )
        .expect("parses");
        assert_eq!(cfg.reservation_ttl, Duration::from_millis(250));
        assert_eq!(cfg.capacity.workers, 2);
        assert_eq!(cfg.capacity.queue, CapacityConfig::default().queue);
        assert_eq!(cfg.faults.windows[0].capacity_factor, 1.0);
    }

    #[test]
    fn the_profile_picks_the_defaults_of_unset_knobs() {
        let cfg: SimConfig = toml::from_str("seed = 3").expect("parses");
        assert_eq!(cfg.api, SimApi::Guidelines);
        assert_eq!(cfg.reservation_ttl, Duration::from_secs(120));
        let cfg: SimConfig = toml::from_str(
            "api = \"booking-rush\"\nseed = 3\n[booking_rush]\nmax_passes = 7\n\
             [booking_rush.rate_limit]\nauth = { per_second = 1, burst = 2 }\n",
        )
        .expect("parses");
        assert_eq!(cfg.api, SimApi::BookingRush);
        assert_eq!(cfg.seed, 3);
        assert_eq!(
            cfg.reservation_ttl,
            Duration::from_secs(600),
            "real: 10 min"
        );
        assert_eq!(cfg.max_tickets_per_user, 10);
        assert!(
            !cfg.public_availability,
            "every call after login has a token"
        );
        assert_eq!(cfg.booking_rush.max_passes, 7);
        assert_eq!(cfg.booking_rush.pass_ttl, Duration::from_secs(300));
        assert_eq!(cfg.booking_rush.rate_limit.auth.burst, 2);
        assert_eq!(cfg.booking_rush.rate_limit.confirm.per_second, 50);
        // A knob that is set wins over the profile's default.
        let cfg: SimConfig =
            toml::from_str("api = \"booking-rush\"\nreservation_ttl = \"1m\"").expect("parses");
        assert_eq!(cfg.reservation_ttl, Duration::from_secs(60));
        let back: SimConfig =
            toml::from_str(&toml::to_string(&SimConfig::booking_rush()).expect("serializes"))
                .expect("parses");
        assert_eq!(back, SimConfig::booking_rush());
        assert!(toml::from_str::<SimConfig>("api = \"rest\"").is_err());
        assert!(toml::from_str::<SimConfig>("[booking_rush]\nmax_passez = 1").is_err());
    }

    #[test]
    fn booking_rush_knobs_are_validated() {
        let mut cfg = SimConfig::booking_rush();
        cfg.validate().expect("defaults are valid");
        cfg.booking_rush.pass_ttl = Duration::ZERO;
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains("booking_rush.pass_ttl"), "{e}");
        let mut cfg = SimConfig::booking_rush();
        cfg.booking_rush.rate_limit.auth.burst = 0;
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains("booking_rush.rate_limit.auth.burst"), "{e}");
        let mut cfg = SimConfig::booking_rush();
        cfg.events.push(EventConfig {
            id: "E2".into(),
            zones: vec![ZoneConfig {
                id: "A".into(),
                seats: 1,
            }],
        });
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains("events[1].zones[0].id"), "{e}");
        // The guidelines profile ignores the Booking Rush knobs.
        let mut cfg = SimConfig::default();
        cfg.booking_rush.pass_ttl = Duration::ZERO;
        cfg.validate().expect("not read");
    }

    #[test]
    fn unknown_keys_rejected() {
        assert!(toml::from_str::<SimConfig>("bogus = 1").is_err());
        assert!(toml::from_str::<SimConfig>("[capacity]\nworkerz = 1").is_err());
    }

    #[test]
    fn validate_names_the_key() {
        let mut cfg = SimConfig::default();
        cfg.events[0].zones[1].seats = 0;
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains("events[0].zones[1].seats"), "{e}");

        let mut cfg = SimConfig::default();
        cfg.faults.html_502 = 1.5;
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains("faults.html_502"), "{e}");

        let mut cfg = SimConfig::default();
        cfg.faults.windows.push(FaultWindow {
            from: Duration::from_secs(5),
            to: Duration::from_secs(1),
            ..FaultWindow::default()
        });
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains("faults.windows[0].to"), "{e}");

        let mut cfg = SimConfig::default();
        cfg.connections.idle_timeout = Duration::from_secs(25 * 3600);
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains("connections.idle_timeout"), "{e}");
        let mut cfg = SimConfig::default();
        cfg.connections.header_timeout = Duration::ZERO;
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains("connections.header_timeout"), "{e}");
        let mut cfg = SimConfig::default();
        cfg.connections.max_open = 0;
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains("connections.max_open"), "{e}");
    }

    #[test]
    fn toml_file_error_names_file_and_line() {
        let dir = std::env::temp_dir().join(format!("stampede-sim-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp dir");
        let path = dir.join("bad.toml");
        std::fs::write(&path, "seed = 1\nmax_body_bytes = \"x\"\n").expect("write");
        let e = SimConfig::from_toml_file(&path).unwrap_err().to_string();
        assert!(e.contains("bad.toml"), "{e}");
        assert!(e.contains("line 2"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[cfg(test)]
mod example_file {
    #[test]
    fn metastable_example_parses() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sim-metastable.toml");
        let cfg = super::SimConfig::from_toml_file(path).expect("example config is valid");
        assert_eq!(cfg.faults.windows.len(), 1);
    }
}
