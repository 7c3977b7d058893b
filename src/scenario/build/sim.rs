//! `[sim]`: the embedded simulator's settings (defaults when absent).

use super::Ctx;
use crate::scenario::{ScenarioError, bounds};
use crate::sim::SimConfig;
use std::time::Duration;

pub(super) fn build_sim(cx: &Ctx, sim: Option<&SimConfig>) -> Result<SimConfig, ScenarioError> {
    let sim = sim.cloned().unwrap_or_default();
    if let Err(e) = sim.validate() {
        let msg = e.to_string();
        // The simulator names the offending key first ("faults.error_rate: ...").
        let key = msg
            .trim_start_matches("invalid simulator config: ")
            .split(':')
            .next()
            .unwrap_or("")
            .trim();
        return Err(cx.err(&format!("sim.{key}"), msg));
    }
    check_bounds(cx, &sim)?;
    Ok(sim)
}

/// The simulator's own checks keep results meaningful; these keep its
/// arithmetic finite: a service time is `(base + k × in flight) / factor`,
/// deadlines are `now + ttl`, a Retry-After date is `now + wait`.
fn check_bounds(cx: &Ctx, sim: &SimConfig) -> Result<(), ScenarioError> {
    check_durations(cx, sim)?;
    check_counts(cx, sim)
}

fn key(k: &str) -> String {
    format!("sim.{k}")
}

/// Durations added to a clock (`long`) or to one answer's latency (`short`).
fn check_durations(cx: &Ctx, sim: &SimConfig) -> Result<(), ScenarioError> {
    let c = &sim.capacity;
    let f = &sim.faults;
    let mut long: Vec<(String, Duration)> = vec![
        (key("reservation_ttl"), sim.reservation_ttl),
        (key("sweep_interval"), sim.sweep_interval),
        (key("capacity.retry_after_503"), c.retry_after_503),
        (key("faults.http_date_retry_after"), f.http_date_retry_after),
    ];
    let mut short: Vec<(String, Duration)> = vec![
        (key("capacity.service_time"), c.service_time),
        (
            key("capacity.availability_service_time"),
            c.availability_service_time,
        ),
        (
            key("capacity.latency_per_in_flight"),
            c.latency_per_in_flight,
        ),
        (key("faults.extra_latency"), f.extra_latency),
    ];
    let dist = c.service_distribution;
    if let Err((field, why)) = dist.check() {
        return Err(cx.err(&key(&format!("capacity.service_distribution.{field}")), why));
    }
    if let crate::sim::ServiceDistribution::Bimodal { slow, .. } = dist {
        short.push((key("capacity.service_distribution.slow"), slow));
    }
    for (i, w) in f.windows.iter().enumerate() {
        let k = |field: &str| key(&format!("faults.windows[{i}].{field}"));
        long.push((k("from"), w.from));
        long.push((k("to"), w.to));
        short.push((k("extra_latency"), w.extra_latency));
        if w.capacity_factor < bounds::MIN_CAPACITY_FACTOR {
            return Err(cx.err(
                &k("capacity_factor"),
                format!(
                    "{} is too small: at least {}",
                    w.capacity_factor,
                    bounds::MIN_CAPACITY_FACTOR
                ),
            ));
        }
    }
    let b = &sim.booking_rush;
    for (k, d) in b.positive_durations() {
        long.push((key(&format!("booking_rush.{k}")), d));
    }
    long.push((
        key("booking_rush.availability_refresh"),
        b.availability_refresh,
    ));
    long.push((key("booking_rush.min_queue_time"), b.min_queue_time));
    if let Some(d) = b.sse_retry {
        long.push((key("booking_rush.sse_retry"), d));
    }
    for (k, d) in long {
        cx.within(&k, bounds::duration(d))?;
    }
    for (k, d) in short {
        cx.within(&k, bounds::duration_max(d, bounds::MAX_SIM_LATENCY))?;
    }
    Ok(())
}

/// Counts, rates and sizes.
fn check_counts(cx: &Ctx, sim: &SimConfig) -> Result<(), ScenarioError> {
    let c = &sim.capacity;
    let b = &sim.booking_rush;
    let mut counts = vec![
        (key("max_tickets_per_user"), sim.max_tickets_per_user),
        (key("capacity.workers"), c.workers),
        (key("capacity.queue"), c.queue),
        (key("booking_rush.max_passes"), b.max_passes),
        (key("booking_rush.release_batch"), b.release_batch),
        (key("booking_rush.queue_capacity"), b.queue_capacity),
    ];
    for (i, e) in sim.events.iter().enumerate() {
        for (j, z) in e.zones.iter().enumerate() {
            counts.push((key(&format!("events[{i}].zones[{j}].seats")), z.seats));
        }
    }
    for (k, n) in counts {
        cx.within(&k, bounds::count(n, bounds::MAX_COUNT))?;
    }
    let r = &sim.rate_limit;
    for (k, n) in [
        ("rate_limit.per_user_per_second", r.per_user_per_second),
        ("rate_limit.per_user_burst", r.per_user_burst),
        ("rate_limit.global_per_second", r.global_per_second),
        ("rate_limit.global_burst", r.global_burst),
    ] {
        cx.within(&key(k), bounds::rate(f64::from(n)))?;
    }
    let rl = &b.rate_limit;
    for (k, bucket) in [
        ("default", rl.default),
        ("auth", rl.auth),
        ("confirm", rl.confirm),
    ] {
        let k = |f: &str| key(&format!("booking_rush.rate_limit.{k}.{f}"));
        cx.within(&k("per_second"), bounds::rate(f64::from(bucket.per_second)))?;
        cx.within(&k("burst"), bounds::rate(f64::from(bucket.burst)))?;
    }
    cx.within(
        &key("max_body_bytes"),
        bounds::size(sim.max_body_bytes as u64, bounds::MAX_SIM_BODY_BYTES as u64),
    )
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::sim::SimConfig;

    #[test]
    fn absent_table_means_the_default_simulator() {
        assert_eq!(plan(OK_LOAD).sim, SimConfig::default());
    }

    #[test]
    fn partial_table_keeps_the_other_defaults() {
        let p = plan(&format!(
            "{OK_LOAD}\n[sim]\nseed = 7\n[sim.capacity]\nworkers = 3\n"
        ));
        assert_eq!((p.sim.seed, p.sim.capacity.workers), (7, 3));
        assert_eq!(p.sim.capacity.queue, SimConfig::default().capacity.queue);
    }

    #[test]
    fn latencies_durations_and_sizes_are_bounded() {
        for (table, body, want_key, want) in [
            (
                "sim",
                "reservation_ttl = \"9300000000000000000s\"",
                "sim.reservation_ttl",
                "at most 30days",
            ),
            (
                "sim.capacity",
                "latency_per_in_flight = \"2h\"",
                "sim.capacity.latency_per_in_flight",
                "at most 1h",
            ),
            (
                "sim.capacity",
                "service_time = \"2h\"",
                "sim.capacity.service_time",
                "at most 1h",
            ),
            (
                "sim.capacity",
                "queue = 4000000000",
                "sim.capacity.queue",
                "at most 100000000",
            ),
            (
                "sim.capacity",
                "retry_after_503 = \"31days\"",
                "sim.capacity.retry_after_503",
                "at most 30days",
            ),
            (
                "sim.faults",
                "extra_latency = \"2h\"",
                "sim.faults.extra_latency",
                "at most 1h",
            ),
            (
                "sim.faults",
                "http_date_retry_after = \"31days\"",
                "sim.faults.http_date_retry_after",
                "at most 30days",
            ),
            (
                "sim.rate_limit",
                "global_per_second = 4000000000",
                "sim.rate_limit.global_per_second",
                "at most 10000000/s",
            ),
            (
                "sim",
                "max_body_bytes = 2305843009213693952",
                "sim.max_body_bytes",
                "at most 64 MiB",
            ),
            (
                "[sim.faults.windows]",
                "to = \"31days\"\nfrom = \"1s\"",
                "sim.faults.windows[0].to",
                "at most 30days",
            ),
            (
                "[sim.faults.windows]",
                "capacity_factor = 1e-300\nto = \"1s\"",
                "sim.faults.windows[0].capacity_factor",
                "at least 0.001",
            ),
        ] {
            let src = format!("{OK_LOAD}\n[{table}]\n{body}\n");
            let (line, col, key, msg) = invalid(&src);
            assert_eq!((line, col, key.as_str()), (7, 1, want_key), "{src}");
            assert!(msg.contains(want), "{src}: {msg}");
        }
    }

    #[test]
    fn the_discipline_is_read_and_an_unknown_one_named() {
        let p = plan(&format!(
            "{OK_LOAD}\n[sim.capacity]\ndiscipline = \"processor-sharing\"\n"
        ));
        assert_eq!(
            p.sim.capacity.discipline,
            crate::sim::Discipline::ProcessorSharing
        );
        assert_eq!(
            plan(OK_LOAD).sim.capacity.discipline,
            crate::sim::Discipline::Fifo
        );
        let src = format!("{OK_LOAD}\n[sim.capacity]\ndiscipline = \"lifo\"\n");
        let e = crate::scenario::parse(&src, std::path::Path::new("s.toml"), &Default::default())
            .expect_err("unknown discipline")
            .to_string();
        assert!(e.starts_with("s.toml:7:"), "{e}");
        assert!(e.contains("fifo") && e.contains("processor-sharing"), "{e}");
    }

    #[test]
    fn service_distributions_are_read_and_checked() {
        let p = plan(&format!(
            "{OK_LOAD}\n[sim.capacity]\nservice_distribution = {{ shape = \"lognormal\", sigma = 0.5 }}\n"
        ));
        assert_eq!(
            p.sim.capacity.service_distribution,
            crate::sim::ServiceDistribution::Lognormal { sigma: 0.5 }
        );
        let d = "sim.capacity.service_distribution";
        for (body, field, want) in [
            (
                r#"shape = "lognormal", sigma = 9"#,
                "sigma",
                "not a lognormal shape",
            ),
            (
                r#"shape = "bimodal", slow = "2h", slow_share = 0.1"#,
                "slow",
                "at most 1h",
            ),
            (
                r#"shape = "bimodal", slow = "1s", slow_share = 2"#,
                "slow_share",
                "between 0 and 1",
            ),
        ] {
            let src = format!("{OK_LOAD}\n[sim.capacity]\nservice_distribution = {{ {body} }}\n");
            let (line, col, key, msg) = invalid(&src);
            assert_eq!((line, col, key), (7, 1, format!("{d}.{field}")), "{src}");
            assert!(msg.contains(want), "{src}: {msg}");
        }
    }

    #[test]
    fn booking_rush_knobs_are_read_and_bounded() {
        let p = plan(&format!(
            "{OK_LOAD}\n[journey]\n[[journey.steps]]\nname = \"x\"\npath = \"/api/v1/events\"\n\
             [sim]\napi = \"booking-rush\"\n[sim.booking_rush]\nmax_passes = 9\n"
        ));
        assert_eq!(p.sim.api, crate::sim::SimApi::BookingRush);
        assert_eq!(p.sim.booking_rush.max_passes, 9);
        assert_eq!(p.sim.reservation_ttl, std::time::Duration::from_secs(600));
        let (line, _, key, msg) = invalid(&format!(
            "{OK_LOAD}\n[sim]\napi = \"booking-rush\"\n[sim.booking_rush]\npass_ttl = \"31days\"\n"
        ));
        assert_eq!((line, key.as_str()), (9, "sim.booking_rush.pass_ttl"));
        assert!(msg.contains("at most 30days"), "{msg}");
        let (_, _, key, msg) = invalid(&format!(
            "{OK_LOAD}\n[sim]\napi = \"booking-rush\"\n[sim.booking_rush]\nmax_passes = 0\n"
        ));
        assert_eq!(key, "sim.booking_rush.max_passes");
        assert!(msg.contains("must be > 0"), "{msg}");
    }

    #[test]
    fn seats_are_bounded() {
        let (line, _, key, msg) = invalid(&format!(
            "{OK_LOAD}\n[[sim.events]]\nid = \"E1\"\nzones = [{{ id = \"A\", seats = 4000000000 }}]\n"
        ));
        assert_eq!((line, key.as_str()), (8, "sim.events[0].zones[0].seats"));
        assert!(msg.contains("at most 100000000"), "{msg}");
    }

    #[test]
    fn invalid_knob_points_at_its_line() {
        let (line, col, key, msg) =
            invalid(&format!("{OK_LOAD}\n[sim.faults]\nerror_rate = 1.5\n"));
        assert_eq!((line, col, key.as_str()), (7, 1, "sim.faults.error_rate"));
        assert!(msg.contains("outside [0, 1]"), "{msg}");
    }
}
