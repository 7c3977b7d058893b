//! The one-sentence verdict shown at the top of the HTML report and under the
//! console table. It lives in one place so the terminal and the report never
//! disagree about which strategy kept the target healthy.

use super::format::{count, decimal, ms, ms_of, pct, times};
use crate::model::{FleetResult, Report, Trigger};
use std::cmp::Ordering;

/// Harm a fleet did that the simulator could see (0 without a ledger).
fn harm(c: &FleetResult) -> u64 {
    c.ledger
        .as_ref()
        .map_or(0, |l| l.duplicates.saturating_add(l.oversold))
}

/// The share of a fleet's ended journeys that got a right answer: booked,
/// or told every zone was sold out (in a sell-out, most buyers should hear
/// that, and a zone's sold-out answer on the way is no failure). Without
/// journeys, the share of operations that succeeded.
fn answered_rate(c: &FleetResult) -> f64 {
    let j = &c.counts.journeys;
    let ended = j.started.saturating_sub(j.cancelled);
    if ended == 0 {
        return c.counts.success_rate;
    }
    (j.succeeded + j.sold_out) as f64 / ended as f64
}

/// Orders fleets healthiest first: no ledger harm, then a higher share of
/// journeys answered ([`answered_rate`], in 0.5% steps so noise does not
/// decide), then lower amplification, then lower p99.
fn healthier(a: &FleetResult, b: &FleetResult) -> Ordering {
    let bucket = |r: f64| {
        if r.is_finite() {
            (r * 200.0).round() as i64
        } else {
            i64::MIN
        }
    };
    let by_f = |x: f64, y: f64| x.partial_cmp(&y).unwrap_or(Ordering::Equal);
    (harm(a) > 0)
        .cmp(&(harm(b) > 0))
        .then(bucket(answered_rate(b)).cmp(&bucket(answered_rate(a))))
        .then(by_f(a.counts.amplification, b.counts.amplification))
        .then(by_f(
            a.latency.operation_latency_ms.p99,
            b.latency.operation_latency_ms.p99,
        ))
}

/// What went well, for the healthiest fleet.
fn praise(c: &FleetResult) -> String {
    let mut s = if c.counts.journeys.started > 0 {
        // In a sell-out, a clean "sold out" is the right answer for most
        // journeys: say so, or "450 of 3,000" reads like a failure.
        let sold_out = if c.counts.journeys.sold_out > 0 {
            format!(
                " ({} more were told it was sold out)",
                count(c.counts.journeys.sold_out)
            )
        } else {
            String::new()
        };
        format!(
            "{} completed {} of {} journeys{sold_out}",
            c.name,
            count(c.counts.journeys.succeeded),
            count(c.counts.journeys.started)
        )
    } else {
        format!(
            "{} succeeded on {} of {} operations",
            c.name,
            pct(c.counts.success_rate),
            count(c.counts.operations)
        )
    };
    let (step, lat) = c.headline_latency();
    s.push_str(&format!(
        " at {} load amplification{} with {step} p99 {}",
        times(c.counts.amplification),
        on_steps(c),
        ms_of(lat, |p| p.p99)
    ));
    if let Some(l) = &c.ledger
        && l.duplicates == 0
        && l.oversold == 0
    {
        s.push_str(" and no duplicate or oversold bookings");
    }
    s
}

/// " on reserve": which steps the headline amplification is over.
fn on_steps(c: &FleetResult) -> String {
    if c.counts.amplification_steps.is_empty() {
        String::new()
    } else {
        format!(" on {}", c.counts.amplification_steps.join("+"))
    }
}

/// What the fleet cost the target, for the least healthy fleet.
fn cost(c: &FleetResult) -> String {
    let per_op = if c.counts.amplification.is_finite() {
        format!("{:.1}", c.counts.amplification)
    } else {
        super::format::NA.to_string()
    };
    let mut parts = vec![format!(
        "sent {per_op} requests per{} operation",
        match c.counts.amplification_steps.as_slice() {
            [one] => format!(" {one}"),
            _ => String::new(),
        }
    )];
    if let Some(l) = &c.ledger {
        if l.duplicates > 0 {
            parts.push(format!(
                "created {} duplicate bookings",
                count(l.duplicates)
            ));
        }
        if l.oversold > 0 {
            parts.push(format!("oversold {} seats", count(l.oversold)));
        }
    }
    let j = &c.counts.journeys;
    parts.push(if j.failed > 0 {
        format!(
            "failed {} of {} journeys",
            count(j.failed),
            count(j.started)
        )
    } else {
        format!("succeeded on {} of operations", pct(c.counts.success_rate))
    });
    let (step, lat) = c.headline_latency();
    let last = if lat.count == 0 {
        format!("its {step} p99 {} (no OK operation)", ms_of(lat, |p| p.p99))
    } else {
        format!("its {step} p99 reached {}", ms(lat.p99))
    };
    format!("{} {} and {}", c.name, parts.join(", "), last)
}

/// "6 s–10 s", for the trigger window.
pub fn trigger_window(t: &Trigger) -> String {
    format!("{} s–{} s", decimal(t.from_s, 1), decimal(t.to_s, 1))
}

/// How long a fleet took to recover, for tables ("did not recover" when never).
pub fn recovery_text(c: &FleetResult) -> String {
    match c.recovery_s {
        Some(s) => format!("{} s", decimal(s, 1)),
        None => "did not recover".to_string(),
    }
}

/// " After the trigger (6 s–10 s), compliant recovered in 2 s; naive never
/// did." — empty without a trigger. Fleets that never recovered are listed
/// together, so the sentence stays short with many fleets.
fn recovery_sentence(report: &Report, ran: &[&FleetResult]) -> String {
    let Some(t) = &report.trigger else {
        return String::new();
    };
    if ran.is_empty() {
        return String::new();
    }
    let mut parts: Vec<String> = ran
        .iter()
        .filter_map(|c| {
            c.recovery_s.map(|s| {
                if s <= 0.0 {
                    format!("{} was back as soon as it ended", c.name)
                } else {
                    format!("{} recovered {} s after it ended", c.name, decimal(s, 1))
                }
            })
        })
        .collect();
    let never: Vec<&str> = ran
        .iter()
        .filter(|c| c.recovery_s.is_none())
        .map(|c| c.name.as_str())
        .collect();
    match never.as_slice() {
        [] => {}
        [one] if parts.is_empty() => {
            parts.push(format!("{one} did not recover before its round ended"))
        }
        [one] => parts.push(format!("{one} never did")),
        many => parts.push(format!("{} never did", many.join(", "))),
    }
    format!(
        " After the trigger ({}): {}.",
        trigger_window(t),
        parts.join("; ")
    )
}

/// One sentence, with numbers, saying which strategy kept the target healthy
/// (and, with a trigger, a second one on who recovered from it).
pub fn verdict(report: &Report) -> String {
    let ran: Vec<&FleetResult> = report
        .results
        .iter()
        .filter(|c| c.counts.operations > 0)
        .collect();
    let idle: Vec<&str> = report
        .results
        .iter()
        .filter(|c| c.counts.operations == 0)
        .map(|c| c.name.as_str())
        .collect();
    let idle_note = if idle.is_empty() {
        String::new()
    } else {
        format!(" ({} ran no operations.)", idle.join(", "))
    };
    let stopped = if report.status != super::RunStatus::Completed {
        format!(
            " The run was {}, so treat these numbers as partial.",
            report.status
        )
    } else {
        String::new()
    };
    let rec = recovery_sentence(report, &ran);
    match ran.as_slice() {
        [] if report.results.is_empty() => {
            format!("No fleet ran, so there is nothing to judge.{stopped}")
        }
        [] => format!("No fleet completed any operation, so there is nothing to judge.{stopped}"),
        [only] => {
            let mut s = praise(only);
            if harm(only) > 0 {
                s = cost(only);
            }
            format!("{s}.{rec}{idle_note}{stopped}")
        }
        many => {
            let mut sorted = many.to_vec();
            sorted.sort_by(|a, b| healthier(a, b));
            let best = sorted[0];
            let worst = sorted[sorted.len() - 1];
            let others = if sorted.len() > 2 {
                format!(
                    " ({} fleets compared; the table ranks the rest.)",
                    sorted.len()
                )
            } else {
                String::new()
            };
            if healthier(best, worst) == Ordering::Equal {
                return format!(
                    "All fleets fared alike: {}.{rec}{others}{idle_note}{stopped}",
                    praise(best)
                );
            }
            let lead = if harm(best) > 0 {
                "No fleet kept the target clean; the least harmful"
            } else {
                "Healthiest"
            };
            format!(
                "{lead}: {}; {}.{rec}{others}{idle_note}{stopped}",
                praise(best),
                cost(worst)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::JourneyCounts;
    use crate::sample::sample_report;

    #[test]
    fn report_verdict_names_the_healthy_fleet_first() {
        let r = sample_report();
        let v = verdict(&r);
        assert!(v.starts_with("Healthiest: compliant"), "{v}");
        assert!(v.contains("load amplification on reserve with"), "{v}");
        let amp = r.results[1].counts.amplification;
        assert!(
            v.contains(&format!(
                "naive sent {amp:.1} requests per reserve operation"
            )),
            "{v}"
        );
        assert!(v.contains("created 37 duplicate bookings"), "{v}");
        assert!(
            v.contains(
                ". After the trigger (8 s–12 s): compliant recovered 2 s after it ended; naive never did."
            ),
            "{v}"
        );
    }

    #[test]
    fn report_verdict_counts_sold_out_journeys_as_answered() {
        let mut r = sample_report();
        r.results[0].counts.journeys = JourneyCounts {
            started: 3000,
            succeeded: 450,
            sold_out: 2550,
            failed: 0,
            cancelled: 0,
        };
        let v = verdict(&r);
        assert!(
            v.contains("compliant completed 450 of 3,000 journeys (2,550 more were told it was sold out) at"),
            "{v}"
        );
    }

    /// A compliant fleet whose buyers met sold-out zones on the way (a low
    /// operation success rate) and ended every journey with an answer
    /// beats a naive one that failed most of its journeys.
    #[test]
    fn report_verdict_ranks_by_journeys_answered_not_operations() {
        let mut r = sample_report();
        for c in &mut r.results {
            c.ledger = None;
        }
        r.results[0].counts.success_rate = 0.57;
        r.results[0].counts.journeys = JourneyCounts {
            started: 3000,
            succeeded: 439,
            sold_out: 2387,
            failed: 174,
            cancelled: 0,
        };
        r.results[1].counts.success_rate = 0.99;
        r.results[1].counts.journeys = JourneyCounts {
            started: 3000,
            succeeded: 432,
            sold_out: 0,
            failed: 2568,
            cancelled: 0,
        };
        let v = verdict(&r);
        assert!(v.starts_with("Healthiest: compliant"), "{v}");
        assert!(v.contains("naive sent"), "{v}");
        assert!(v.contains("failed 2,568 of 3,000 journeys"), "{v}");
    }

    #[test]
    fn report_verdict_recovery_sentence() {
        let mut r = sample_report();
        r.trigger = None;
        assert!(!verdict(&r).contains("trigger"));
        let mut r = sample_report();
        r.results[0].recovery_s = Some(0.0);
        assert!(verdict(&r).contains("compliant was back as soon as it ended; naive never did"));
        r.results[0].recovery_s = None;
        assert!(verdict(&r).contains("After the trigger (8 s–12 s): compliant, naive never did."));
        r.results.truncate(1);
        assert!(verdict(&r).contains("compliant did not recover before its round ended"));
    }

    #[test]
    fn report_verdict_handles_edge_cases() {
        let mut r = sample_report();
        r.results.truncate(1);
        assert!(verdict(&r).starts_with("compliant completed"));
        r.results[0].ledger = None;
        r.results[0].counts.operations = 0;
        assert!(verdict(&r).contains("No fleet completed any operation"));
        r.results.clear();
        r.status = crate::report::RunStatus::Aborted;
        let v = verdict(&r);
        assert!(
            v.contains("nothing to judge") && v.contains("aborted"),
            "{v}"
        );
        let mut r = sample_report();
        r.results[0].counts.success_rate = f64::NAN;
        let _ = verdict(&r);
    }
}
