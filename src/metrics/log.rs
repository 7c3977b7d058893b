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

/// One attempt, packed to 12 bytes: 100k simulated users each keep their
/// attempts until the journey ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttemptLog {
    /// When it was sent, in ms since the round started (49 days of range).
    sent_at_ms: u32,
    /// Microseconds, saturating at ~71 minutes (far beyond any timeout).
    latency_us: u32,
    pub class: StatusClass,
    pub retry: bool,
}

impl AttemptLog {
    pub fn new(sent_at: Duration, latency: Duration, class: StatusClass, retry: bool) -> Self {
        Self {
            sent_at_ms: u32::try_from(sent_at.as_millis()).unwrap_or(u32::MAX),
            latency_us: u32::try_from(latency.as_micros()).unwrap_or(u32::MAX),
            class,
            retry,
        }
    }
    pub fn sent_at(&self) -> Duration {
        Duration::from_millis(u64::from(self.sent_at_ms))
    }
    pub fn latency(&self) -> Duration {
        Duration::from_micros(u64::from(self.latency_us))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OpLog {
    pub step: u32,
    /// When the operation should have started, in ms since the round started.
    intended_at_ms: u32,
    /// From the intended start to the final answer (retries and waits included).
    pub latency: Duration,
    /// Final outcome: "OK", an error code, "GAVE_UP", "BREAKER_OPEN", ...
    pub outcome: String,
    pub ok: bool,
    pub attempts: Vec<AttemptLog>,
    /// Total time spent sleeping between attempts, in ms.
    backoff_ms: u32,
    pub retry_after_honoured: u32,
    /// Retries sent sooner than the Retry-After the server gave.
    pub early_retries: u32,
}

impl OpLog {
    /// A fresh operation of journey step `step`, due `intended_at` after the
    /// round started. Packed (ms in u32) because every waiting user holds one.
    pub fn new(step: usize, intended_at: Duration) -> Self {
        Self {
            step: u32::try_from(step).unwrap_or(u32::MAX),
            intended_at_ms: u32::try_from(intended_at.as_millis()).unwrap_or(u32::MAX),
            latency: Duration::ZERO,
            outcome: String::new(),
            ok: false,
            // Most operations need one attempt.
            attempts: Vec::with_capacity(1),
            backoff_ms: 0,
            retry_after_honoured: 0,
            early_retries: 0,
        }
    }
    pub fn intended_at(&self) -> Duration {
        Duration::from_millis(u64::from(self.intended_at_ms))
    }
    pub fn backoff(&self) -> Duration {
        Duration::from_millis(u64::from(self.backoff_ms))
    }
    pub fn add_backoff(&mut self, d: Duration) {
        let ms = u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
        self.backoff_ms = self.backoff_ms.saturating_add(ms);
    }
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
