//! What `compare` compares: the headline metrics of a fleet and the
//! per-step metrics of each journey step (the columns of report.html's
//! "Journey steps" table), each with its good direction and noise threshold.

use super::Better;
use crate::report::{FleetResult, Percentiles, StepResult};

#[derive(Debug, Clone, Copy)]
pub(super) enum Noise {
    /// Relative change above the fraction and absolute change above the value.
    Relative(f64, f64),
    Absolute(f64),
}

/// One compared metric of a `T` (a fleet's [`FleetResult`] or one of its
/// journey steps' [`StepResult`]): its name, unit, good direction, noise
/// threshold and how to read it.
pub(super) struct MetricDef<T> {
    pub name: &'static str,
    pub unit: &'static str,
    pub better: Better,
    pub noise: Noise,
    pub get: fn(&T) -> Option<f64>,
}

fn jsr(c: &FleetResult) -> Option<f64> {
    let j = &c.counts.journeys;
    let could = j.started.saturating_sub(j.sold_out + j.cancelled);
    (could > 0).then(|| j.succeeded as f64 / could as f64)
}

fn lat(p: &Percentiles, v: f64) -> Option<f64> {
    (p.count > 0).then_some(v)
}

const LAT: Noise = Noise::Relative(0.10, 1.0);
/// The headline rows of a fleet.
pub(super) const METRICS: &[MetricDef<FleetResult>] = &[
    MetricDef {
        name: "operations",
        unit: "",
        better: Better::Neither,
        noise: Noise::Absolute(0.0),
        get: |c| Some(c.counts.operations as f64),
    },
    MetricDef {
        name: "attempts",
        unit: "",
        better: Better::Neither,
        noise: Noise::Absolute(0.0),
        get: |c| Some(c.counts.attempts as f64),
    },
    MetricDef {
        name: "amplification",
        unit: "",
        better: Better::Lower,
        noise: Noise::Absolute(0.05),
        get: |c| (c.counts.operations > 0).then_some(c.counts.amplification),
    },
    MetricDef {
        name: "success_rate",
        unit: "%",
        better: Better::Higher,
        noise: Noise::Absolute(0.01),
        get: |c| (c.counts.operations > 0).then_some(c.counts.success_rate),
    },
    MetricDef {
        name: "journey_success_rate",
        unit: "%",
        better: Better::Higher,
        noise: Noise::Absolute(0.01),
        get: jsr,
    },
    MetricDef {
        name: "goodput",
        unit: "/s",
        better: Better::Higher,
        noise: Noise::Relative(0.10, 0.0),
        get: |c| Some(c.counts.goodput),
    },
    MetricDef {
        name: "achieved_rps",
        unit: "/s",
        better: Better::Higher,
        noise: Noise::Relative(0.10, 0.0),
        get: |c| Some(c.counts.achieved_rps),
    },
    MetricDef {
        name: "operation_latency.p50",
        unit: "ms",
        better: Better::Lower,
        noise: LAT,
        get: |c| {
            lat(
                &c.latency.ok_operation_latency_ms,
                c.latency.ok_operation_latency_ms.p50,
            )
        },
    },
    MetricDef {
        name: "operation_latency.p95",
        unit: "ms",
        better: Better::Lower,
        noise: LAT,
        get: |c| {
            lat(
                &c.latency.ok_operation_latency_ms,
                c.latency.ok_operation_latency_ms.p95,
            )
        },
    },
    MetricDef {
        name: "operation_latency.p99",
        unit: "ms",
        better: Better::Lower,
        noise: LAT,
        get: |c| {
            lat(
                &c.latency.ok_operation_latency_ms,
                c.latency.ok_operation_latency_ms.p99,
            )
        },
    },
    MetricDef {
        name: "journey_duration.p99",
        unit: "ms",
        better: Better::Lower,
        noise: LAT,
        get: |c| {
            lat(
                &c.latency.journey_duration_ms,
                c.latency.journey_duration_ms.p99,
            )
        },
    },
    MetricDef {
        name: "attempt_latency.p99",
        unit: "ms",
        better: Better::Lower,
        noise: LAT,
        get: |c| {
            lat(
                &c.latency.attempt_latency_ms,
                c.latency.attempt_latency_ms.p99,
            )
        },
    },
    MetricDef {
        name: "breaker_opens",
        unit: "",
        better: Better::Lower,
        noise: Noise::Relative(0.10, 0.0),
        get: |c| Some(c.retry.breaker_opens as f64),
    },
    MetricDef {
        name: "early_retries",
        unit: "",
        better: Better::Lower,
        noise: Noise::Absolute(0.0),
        get: |c| Some(c.harm.early_retries as f64),
    },
    MetricDef {
        name: "duplicates",
        unit: "",
        better: Better::Lower,
        noise: Noise::Absolute(0.0),
        get: |c| c.ledger.as_ref().map(|l| l.duplicates as f64),
    },
    MetricDef {
        name: "oversold",
        unit: "",
        better: Better::Lower,
        noise: Noise::Absolute(0.0),
        get: |c| c.ledger.as_ref().map(|l| l.oversold as f64),
    },
];

/// The rows of one journey step: what report.html's step table shows, the
/// latency read from the operations that ended OK (as the headline and the
/// gates read it).
pub(super) const STEP_METRICS: &[MetricDef<StepResult>] = &[
    MetricDef {
        name: "operations",
        unit: "",
        better: Better::Neither,
        noise: Noise::Absolute(0.0),
        get: |s| Some(s.operations as f64),
    },
    MetricDef {
        name: "attempts",
        unit: "",
        better: Better::Neither,
        noise: Noise::Absolute(0.0),
        get: |s| Some(s.attempts as f64),
    },
    MetricDef {
        name: "amplification",
        unit: "",
        better: Better::Lower,
        noise: Noise::Absolute(0.05),
        get: |s| (s.operations > 0).then(|| s.attempts as f64 / s.operations as f64),
    },
    MetricDef {
        name: "success_rate",
        unit: "%",
        better: Better::Higher,
        noise: Noise::Absolute(0.01),
        get: |s| (s.operations > 0).then_some(s.success_rate),
    },
    MetricDef {
        name: "operation_latency.p50",
        unit: "ms",
        better: Better::Lower,
        noise: LAT,
        get: |s| lat(&s.ok_operation_latency_ms, s.ok_operation_latency_ms.p50),
    },
    MetricDef {
        name: "operation_latency.p99",
        unit: "ms",
        better: Better::Lower,
        noise: LAT,
        get: |s| lat(&s.ok_operation_latency_ms, s.ok_operation_latency_ms.p99),
    },
    MetricDef {
        name: "attempt_latency.p99",
        unit: "ms",
        better: Better::Lower,
        noise: LAT,
        get: |s| lat(&s.attempt_latency_ms, s.attempt_latency_ms.p99),
    },
];
