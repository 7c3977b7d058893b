//! What one simulated user's journey produced, handed to a collector when the
//! journey ends (or is cut short, so nothing measured is lost).

use std::time::Duration;

/// Attempt latency is kept per status class: a fast 429 and a slow 201 are
/// different stories and must not share one histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StatusClass {
    S2xx,
    S3xx,
    S4xx,
    S429,
    S5xx,
    Timeout,
    Network,
}

impl StatusClass {
    pub fn of_status(status: u16) -> Self {
        match status {
            429 => Self::S429,
            200..=299 => Self::S2xx,
            300..=399 => Self::S3xx,
            500..=599 => Self::S5xx,
            _ => Self::S4xx,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::S2xx => "2xx",
            Self::S3xx => "3xx",
            Self::S4xx => "4xx",
            Self::S429 => "429",
            Self::S5xx => "5xx",
            Self::Timeout => "timeout",
            Self::Network => "network",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttemptLog {
    /// When it was sent, since the round started.
    pub sent_at: Duration,
    pub latency: Duration,
    pub class: StatusClass,
    pub retry: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OpLog {
    pub step: usize,
    /// When the operation should have started, since the round started.
    pub intended_at: Duration,
    /// From the intended start to the final answer (retries and waits included).
    pub latency: Duration,
    /// Final outcome: "OK", an error code, "GAVE_UP", "BREAKER_OPEN", ...
    pub outcome: String,
    pub ok: bool,
    pub attempts: Vec<AttemptLog>,
    /// Total time spent sleeping between attempts.
    pub backoff: Duration,
    pub retry_after_honoured: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JourneyEnd {
    Succeeded,
    SoldOut,
    #[default]
    Failed,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct JourneyLog {
    pub cohort: usize,
    /// How late the journey started versus its schedule.
    pub schedule_lag: Duration,
    /// When it was scheduled, since the round started.
    pub intended_at: Duration,
    pub ops: Vec<OpLog>,
    pub end: JourneyEnd,
    pub breaker_opens: u32,
    pub breaker_open_time: Duration,
}
