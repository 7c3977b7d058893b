//! What one simulated user's journey produced, handed to a collector when the
//! journey ends (or is cut short, so nothing measured is lost).

use crate::outcome::{NetError, OpOutcome};
use crate::policy::AttemptFlags;
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
    /// An answer that is not valid HTTP ([`NetError::InvalidResponse`]):
    /// the target answered, badly.
    InvalidResponse,
    /// Never left the generator ([`NetError::not_sent`]): no file
    /// descriptor or local port for it. Not an attempt the target saw.
    NotSent,
    /// Failed by the policy's throttle before it was sent (the SRE book's
    /// adaptive throttling): never left the generator either, so it counts
    /// in `not_sent`, kept apart here so the two causes stay told apart.
    RejectedLocally,
    /// Sent, and still in flight when the run cancelled it.
    Cancelled,
    /// Sent, and dropped by the person who gave up on the operation
    /// (`abandon_after`): no timeout fired, no answer came.
    Abandoned,
    /// Sent, and dropped when another attempt of its hedge race answered
    /// first (`hedge`): the target saw it, its answer was not waited for.
    Superseded,
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
    /// The class of an attempt that got no HTTP answer of kind `n`.
    pub fn of_net(n: NetError) -> Self {
        match n {
            NetError::InvalidResponse => Self::InvalidResponse,
            n if n.not_sent() => Self::NotSent,
            _ => Self::Network,
        }
    }

    /// The attempt never left the generator: the target cannot have seen it.
    pub fn not_sent(self) -> bool {
        matches!(self, Self::NotSent | Self::RejectedLocally)
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
            Self::InvalidResponse => "invalid_response",
            Self::NotSent => "not_sent",
            Self::RejectedLocally => "rejected_locally",
            Self::Cancelled => "cancelled",
            Self::Abandoned => "abandoned",
            Self::Superseded => "superseded",
        }
    }
}

/// One attempt, packed to 20 bytes: 100k simulated users each keep their
/// attempts until the journey ends.
///
/// An attempt is logged the moment it is sent (as [`StatusClass::Cancelled`])
/// and completed when its answer arrives, so an attempt cut off by the end of
/// the run is still counted: the target saw it. The counters that belong to a
/// retry (Retry-After honoured, early) are its own, so a retry that is never
/// sent counts for nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttemptLog {
    /// When it was sent, in ms since the round started (49 days of range).
    sent_at_ms: u32,
    /// Microseconds, saturating at ~71 minutes (far beyond any timeout):
    /// from the moment the request could be written to its answer.
    latency_us: u32,
    /// Microseconds from the attempt's start until its request could be
    /// written (connection permit, new connection, HTTP/2 stream slot).
    queue_us: u32,
    pub class: StatusClass,
    pub retry: bool,
    /// The wait before this retry was the server's Retry-After.
    pub honoured: bool,
    /// This retry went sooner than the Retry-After the server gave.
    pub early: bool,
    /// This retry carries a new idempotency key although the previous
    /// attempt's fate was unknown (timeout, reset, 5xx): a possible duplicate.
    pub key_changed_after_ambiguous: bool,
    /// Sent while a Retry-After this user received was still running.
    pub while_told_to_wait: bool,
    /// A hedge: a copy of an attempt still in flight (`hedge`).
    pub hedge: bool,
}

impl AttemptLog {
    pub fn new(sent_at: Duration, latency: Duration, class: StatusClass, retry: bool) -> Self {
        Self {
            sent_at_ms: u32::try_from(sent_at.as_millis()).unwrap_or(u32::MAX),
            latency_us: u32::try_from(latency.as_micros()).unwrap_or(u32::MAX),
            queue_us: 0,
            class,
            retry,
            honoured: false,
            early: false,
            key_changed_after_ambiguous: false,
            while_told_to_wait: false,
            hedge: false,
        }
    }

    /// An attempt just sent: in flight until [`AttemptLog::answered`].
    pub fn sent(sent_at: Duration, retry: bool, flags: AttemptFlags) -> Self {
        Self {
            honoured: flags.honoured,
            early: flags.early,
            ..Self::new(sent_at, Duration::ZERO, StatusClass::Cancelled, retry)
        }
    }

    /// Its answer (or timeout) arrived after `latency`.
    pub fn answered(&mut self, class: StatusClass, latency: Duration) {
        self.class = class;
        self.latency_us = u32::try_from(latency.as_micros()).unwrap_or(u32::MAX);
    }

    /// How long it waited before its request could be written.
    pub fn set_queue_wait(&mut self, d: Duration) {
        self.queue_us = u32::try_from(d.as_micros()).unwrap_or(u32::MAX);
    }

    pub fn queue_wait(&self) -> Duration {
        Duration::from_micros(u64::from(self.queue_us))
    }

    /// When it ended, since the round started: sent, queued, answered.
    pub fn ended_at(&self) -> Duration {
        self.sent_at()
            .saturating_add(self.queue_wait())
            .saturating_add(self.latency())
    }

    pub fn in_flight(&self) -> bool {
        self.class == StatusClass::Cancelled && self.latency_us == 0
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
    /// How it ended; [`OpOutcome::Cancelled`] until it does.
    pub outcome: OpOutcome,
    pub attempts: Vec<AttemptLog>,
    /// Total time spent sleeping between attempts, in ms.
    backoff_ms: u32,
    /// An SSE wait: from the intended start to the stream's first event, in
    /// microseconds (saturating); 0 when no event came.
    first_event_us: u32,
    /// The answer that settled it came from a hedge.
    pub hedge_won: bool,
}

impl OpLog {
    /// A fresh operation of journey step `step`, due `intended_at` after the
    /// round started. Packed (ms in u32) because every waiting user holds one.
    pub fn new(step: usize, intended_at: Duration) -> Self {
        Self {
            step: u32::try_from(step).unwrap_or(u32::MAX),
            intended_at_ms: u32::try_from(intended_at.as_millis()).unwrap_or(u32::MAX),
            latency: Duration::ZERO,
            outcome: OpOutcome::Cancelled,
            // Most operations need one attempt.
            attempts: Vec::with_capacity(1),
            backoff_ms: 0,
            first_event_us: 0,
            hedge_won: false,
        }
    }
    /// Hedges it sent (copies of attempts still in flight).
    pub fn hedges(&self) -> u32 {
        self.attempts.iter().filter(|a| a.hedge).count() as u32
    }
    /// Polls a wait step sent (attempts that are not retries; for an SSE
    /// wait, the connections it opened).
    pub fn polls(&self) -> u32 {
        self.attempts.iter().filter(|a| !a.retry).count() as u32
    }
    /// Polls sent sooner than the previous not-ready answer asked (its
    /// Retry-After or the seconds at the interval's pointer).
    pub fn early_polls(&self) -> u32 {
        self.attempts.iter().filter(|a| a.early && !a.retry).count() as u32
    }
    pub fn first_event(&self) -> Option<Duration> {
        (self.first_event_us > 0).then(|| Duration::from_micros(u64::from(self.first_event_us)))
    }
    pub fn set_first_event(&mut self, d: Duration) {
        self.first_event_us = us32(d).max(1);
    }
    pub fn ok(&self) -> bool {
        self.outcome.is_ok()
    }
    /// Retries sent after waiting out the server's Retry-After.
    pub fn retry_after_honoured(&self) -> u32 {
        self.attempts.iter().filter(|a| a.honoured).count() as u32
    }
    /// Retries sent sooner than the Retry-After the server gave.
    pub fn early_retries(&self) -> u32 {
        self.attempts.iter().filter(|a| a.early && a.retry).count() as u32
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

/// One journey's record. Packed (u32 microseconds and milliseconds, as
/// [`OpLog`] is) because every user waiting in backoff holds one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JourneyLog {
    pub fleet: u16,
    /// How late the journey started versus its schedule, in microseconds
    /// (saturating at ~71 minutes).
    schedule_lag_us: u32,
    /// When it was scheduled, in ms since the round started.
    intended_at_ms: u32,
    pub ops: Vec<OpLog>,
    pub end: JourneyEnd,
    /// Saturating (a journey's breaker opening 65,535 times is a bug).
    pub breaker_opens: u16,
    /// Time its breaker spent open, in microseconds.
    breaker_open_us: u32,
    /// From its intended start to its end, in microseconds (saturating at
    /// ~71 minutes).
    duration_us: u32,
    /// Times the login step ran again because an answer said the session
    /// had expired (`refresh_on`).
    pub relogins: u16,
}

fn us32(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

impl JourneyLog {
    /// A journey of fleet `fleet` due `intended_at` after the round
    /// started, begun `schedule_lag` late.
    pub fn new(fleet: usize, intended_at: Duration, schedule_lag: Duration, steps: usize) -> Self {
        Self {
            fleet: u16::try_from(fleet).unwrap_or(u16::MAX),
            schedule_lag_us: us32(schedule_lag),
            intended_at_ms: u32::try_from(intended_at.as_millis()).unwrap_or(u32::MAX),
            ops: Vec::with_capacity(steps),
            ..Self::default()
        }
    }

    pub fn schedule_lag(&self) -> Duration {
        Duration::from_micros(u64::from(self.schedule_lag_us))
    }

    pub fn intended_at(&self) -> Duration {
        Duration::from_millis(u64::from(self.intended_at_ms))
    }

    pub fn breaker_open_time(&self) -> Duration {
        Duration::from_micros(u64::from(self.breaker_open_us))
    }

    pub fn set_breaker_open_time(&mut self, d: Duration) {
        self.breaker_open_us = us32(d);
    }

    pub fn duration(&self) -> Duration {
        Duration::from_micros(u64::from(self.duration_us))
    }

    pub fn set_duration(&mut self, d: Duration) {
        self.duration_us = us32(d);
    }
}
