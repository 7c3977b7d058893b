//! What a step sends and what it makes of a 2xx answer: template helpers
//! seeded per operation, and the response checks (status, JSON, pointers,
//! captures, pre-check) that turn a 2xx into success or a named failure.

use crate::outcome::OpOutcome;
use crate::scenario::Step;
use crate::scenario::template::{Helper, Helpers};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use std::fmt::Write;

/// Helpers of one attempt. Seeded per operation, so a retry renders the
/// same `${uuid}` and `${random_int}` as the attempt it repeats (a retry
/// is the same request again); `${unix_ms}` is the attempt's own time.
pub struct AttemptHelpers {
    rng: SmallRng,
    unix_ms: u64,
}

impl AttemptHelpers {
    pub fn new(seed: u64, unix_ms: u64) -> Self {
        Self {
            rng: SmallRng::seed_from_u64(seed),
            unix_ms,
        }
    }
}

impl Helpers for AttemptHelpers {
    fn write(&mut self, h: Helper, out: &mut String) {
        match h {
            Helper::Uuid => {
                let mut b: [u8; 16] = self.rng.random();
                b[6] = (b[6] & 0x0f) | 0x40;
                b[8] = (b[8] & 0x3f) | 0x80;
                for (i, x) in b.iter().enumerate() {
                    if matches!(i, 4 | 6 | 8 | 10) {
                        out.push('-');
                    }
                    let _ = write!(out, "{x:02x}");
                }
            }
            Helper::UnixMs => {
                let _ = write!(out, "{}", self.unix_ms);
            }
            Helper::RandomInt(lo, hi) => {
                let _ = write!(out, "{}", self.rng.random_range(lo..=hi));
            }
        }
    }
}

/// What a 2xx answer means once the step's checks have read it.
#[derive(Debug, Clone, PartialEq)]
pub enum Inspected {
    /// Success; `short` when the pre-check found fewer than `quantity`.
    Ok { short: bool },
    /// A wait step's condition does not hold yet: ask again after `delay`
    /// (`early`: sooner than the server asked for in this answer).
    Pending {
        delay: std::time::Duration,
        early: bool,
    },
    /// A named failure that replaces `OK` as the operation's outcome.
    Failed(OpOutcome),
}

/// Check a 2xx answer (`status`, `body`, its parsed Retry-After) against
/// `step`; a value captured into variable `v` goes into `slots[v - first]`.
/// A wait step's answer whose `until` does not hold yet is
/// [`Inspected::Pending`]: its checks ran, its captures wait for the
/// answer that ends the wait.
pub fn inspect(
    step: &Step,
    (status, body, retry_after): (u16, &[u8], Option<std::time::Duration>),
    quantity: u32,
    slots: &mut [String],
    first: usize,
) -> Inspected {
    if !step.expect_status.is_empty() && !step.expect_status.contains(&status) {
        return Inspected::Failed(OpOutcome::UnexpectedStatus(status));
    }
    if !step.json {
        return Inspected::Ok { short: false };
    }
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Inspected::Failed(OpOutcome::NotJson);
    };
    if let Some(c) = step.checks.iter().find(|c| !c.passes(&json)) {
        return Inspected::Failed(OpOutcome::CheckFailed(c.pointer.as_str().into()));
    }
    if let Some(w) = &step.wait
        && !w.until.passes(&json)
    {
        let delay = w.interval.next(&json, retry_after);
        let asked = w.interval.asked(&json, retry_after);
        return Inspected::Pending {
            delay,
            early: asked.is_some_and(|a| delay < a),
        };
    }
    let mut short = false;
    if let Some(ptr) = &step.precheck {
        match json.pointer(ptr).and_then(serde_json::Value::as_f64) {
            Some(available) => short = available < f64::from(quantity),
            None => return Inspected::Failed(OpOutcome::PrecheckUnreadable),
        }
    }
    for (var, ptr) in &step.captures {
        let v = match json.pointer(ptr) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(v) if !v.is_null() => v.to_string(),
            _ => return Inspected::Failed(OpOutcome::CaptureMissing(ptr.as_str().into())),
        };
        if let Some(s) = var.checked_sub(first).and_then(|i| slots.get_mut(i)) {
            *s = v;
        }
    }
    Inspected::Ok { short }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::template::{Escape, Template};
    use crate::scenario::{Check, CheckExpect};

    fn step() -> Step {
        Step {
            name: "s".into(),
            method: http::Method::GET,
            path: Template::parse("/x", &[]).unwrap(),
            body: None,
            retry: true,
            idempotent: false,
            precheck: None,
            captures: Vec::new(),
            secret: false,
            think_time: crate::scenario::Pause::NONE,
            think_time_after: crate::scenario::Pause::NONE,
            phase: crate::scenario::Phase::Zone,
            wait: None,
            when: None,
            share: None,
            timeout: None,
            refresh_on: Vec::new(),
            headers: Vec::new(),
            expect_status: Vec::new(),
            checks: Vec::new(),
            json: true,
        }
    }

    fn run(step: &Step, status: u16, body: &str) -> (Inspected, Vec<String>) {
        let mut slots = vec![String::new(); 2];
        let r = inspect(step, (status, body.as_bytes(), None), 2, &mut slots, 0);
        (r, slots)
    }

    #[test]
    fn a_body_that_is_not_json_fails_a_json_step() {
        let s = step();
        assert_eq!(
            run(&s, 200, "<html>").0,
            Inspected::Failed(OpOutcome::NotJson)
        );
        assert_eq!(run(&s, 200, "{}").0, Inspected::Ok { short: false });
        let mut s = step();
        s.json = false;
        assert_eq!(run(&s, 200, "<html>").0, Inspected::Ok { short: false });
    }

    #[test]
    fn expected_statuses() {
        let mut s = step();
        s.expect_status = vec![201];
        assert_eq!(
            run(&s, 200, "{}").0,
            Inspected::Failed(OpOutcome::UnexpectedStatus(200))
        );
        assert_eq!(run(&s, 201, "{}").0, Inspected::Ok { short: false });
    }

    #[test]
    fn checks_equals_and_exists() {
        let mut s = step();
        s.checks = vec![
            Check {
                pointer: "/success".into(),
                expect: CheckExpect::Equals(serde_json::Value::Bool(true)),
            },
            Check {
                pointer: "/data/id".into(),
                expect: CheckExpect::Exists(true),
            },
            Check {
                pointer: "/error".into(),
                expect: CheckExpect::Exists(false),
            },
        ];
        let fail = |p: &str| Inspected::Failed(OpOutcome::CheckFailed(p.into()));
        assert_eq!(
            run(&s, 200, r#"{"success":true,"data":{"id":1}}"#).0,
            Inspected::Ok { short: false }
        );
        assert_eq!(run(&s, 200, r#"{"success":false}"#).0, fail("/success"));
        assert_eq!(run(&s, 200, r#"{"success":true}"#).0, fail("/data/id"));
        assert_eq!(
            run(&s, 200, r#"{"success":true,"data":{"id":null}}"#).0,
            fail("/data/id")
        );
        assert_eq!(
            run(&s, 200, r#"{"success":true,"data":{"id":1},"error":{}}"#).0,
            fail("/error")
        );
        // 1 and 1.0 are the same JSON number.
        s.checks = vec![Check {
            pointer: "/n".into(),
            expect: CheckExpect::Equals(serde_json::json!(1)),
        }];
        assert_eq!(
            run(&s, 200, r#"{"n":1.0}"#).0,
            Inspected::Ok { short: false }
        );
    }

    #[test]
    fn precheck_must_be_a_number() {
        let mut s = step();
        s.precheck = Some("/data/available".into());
        assert_eq!(
            run(&s, 200, r#"{"data":{"available":"lots"}}"#).0,
            Inspected::Failed(OpOutcome::PrecheckUnreadable)
        );
        assert_eq!(
            run(&s, 200, r#"{"data":{}}"#).0,
            Inspected::Failed(OpOutcome::PrecheckUnreadable)
        );
        assert_eq!(
            run(&s, 200, r#"{"data":{"available":1}}"#).0,
            Inspected::Ok { short: true }
        );
        assert_eq!(
            run(&s, 200, r#"{"data":{"available":2}}"#).0,
            Inspected::Ok { short: false }
        );
    }

    #[test]
    fn captures_fill_slots_or_name_the_missing_pointer() {
        let mut s = step();
        s.captures = vec![(0, "/data/bookingId".into()), (1, "/n".into())];
        let (r, slots) = run(&s, 200, r#"{"data":{"bookingId":"b-1"},"n":7}"#);
        assert_eq!(r, Inspected::Ok { short: false });
        assert_eq!(slots, vec!["b-1", "7"]);
        assert_eq!(
            run(&s, 200, r#"{"data":{}}"#).0,
            Inspected::Failed(OpOutcome::CaptureMissing("/data/bookingId".into()))
        );
    }

    #[test]
    fn helpers_are_well_formed_and_repeat_per_seed() {
        let t = Template::parse("${uuid} ${random_int(5,6)} ${unix_ms}", &[]).unwrap();
        let render = |seed| {
            let mut out = String::new();
            t.render_into(
                &mut out,
                |_| "",
                &mut AttemptHelpers::new(seed, 42),
                Escape::None,
            );
            out
        };
        let a = render(1);
        assert_eq!(a, render(1), "same operation, same values");
        assert_ne!(a, render(2));
        let parts: Vec<&str> = a.split(' ').collect();
        let uuid = parts[0];
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4", "version 4: {uuid}");
        assert!(matches!(&uuid[19..20], "8" | "9" | "a" | "b"), "{uuid}");
        assert!(matches!(parts[1], "5" | "6"));
        assert_eq!(parts[2], "42");
    }

    /// A not-ready answer's next poll, and whether it is sooner than the
    /// server asked for in that answer (its Retry-After or the seconds at the
    /// scenario's pointer, before the scenario's floor and cap).
    #[test]
    fn a_poll_is_early_when_sooner_than_the_answer_asked() {
        use crate::scenario::{PollInterval, Wait};
        use std::time::Duration;
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        let from = |pointer: Option<&str>, min, max| PollInterval::FromAnswer {
            pointer: pointer.map(str::to_string),
            default: s(3),
            min,
            max,
        };
        let eta = Some("/estimated_wait_seconds");
        #[rustfmt::skip]
        let table: [(PollInterval, &str, Option<Duration>, Duration, bool); 11] = [
            // Fixed interval: only Retry-After asks.
            (PollInterval::Fixed(s(3)), r#"{"estimated_wait_seconds":10}"#, None, s(3), false),
            (PollInterval::Fixed(s(3)), "{}", Some(s(5)), s(3), true),
            (PollInterval::Fixed(s(3)), "{}", Some(s(2)), s(3), false),
            // From the pointer: within floor and cap it is exactly what was asked.
            (from(eta, s(1), s(30)), r#"{"estimated_wait_seconds":7}"#, None, s(7), false),
            (from(eta, s(1), s(30)), r#"{"estimated_wait_seconds":0.5}"#, None, s(1), false),
            // A cap below the server's ask polls early.
            (from(eta, s(1), s(5)), r#"{"estimated_wait_seconds":12}"#, None, s(5), true),
            // A Retry-After longer than the pointer still counts.
            (from(eta, s(1), s(30)), r#"{"estimated_wait_seconds":2}"#, Some(s(4)), s(2), true),
            // Nothing asked: the default is never early.
            (from(eta, s(1), s(30)), r#"{"position":9}"#, None, s(3), false),
            (from(eta, s(1), s(30)), r#"{"estimated_wait_seconds":"soon"}"#, None, s(3), false),
            // From Retry-After, capped below it.
            (from(None, ms(500), s(2)), "{}", Some(s(6)), s(2), true),
            (from(None, ms(500), s(10)), "{}", Some(s(6)), s(6), false),
        ];
        for (i, (interval, body, retry_after, delay, early)) in table.into_iter().enumerate() {
            let mut st = step();
            st.wait = Some(Wait {
                until: Check {
                    pointer: "/is_ready".into(),
                    expect: CheckExpect::Equals(serde_json::Value::Bool(true)),
                },
                interval,
                max_wait: s(60),
                timeout_outcome: "QUEUE_TIMEOUT".into(),
                sse: None,
            });
            let mut slots = vec![String::new(); 2];
            let got = inspect(&st, (200, body.as_bytes(), retry_after), 1, &mut slots, 0);
            assert_eq!(got, Inspected::Pending { delay, early }, "row {i}: {body}");
        }
    }
}
