//! A `stampede serve` target's ledger, read before and after each round when
//! the scenario asks for it (`target.ledger = true`): `GET /__sim/ledger`
//! answers with its ledger (JSON with `duplicates`, `early_retries` and
//! `requests`). Nothing is sent to a target that did not ask: a simulator
//! also says what it is in an `x-stampede-sim` header on its ordinary
//! answers.

use crate::client::{Failure, HttpClient};
use http::{HeaderMap, Method};
use std::time::Duration;

/// The path of the simulator's ledger.
pub const LEDGER_PATH: &str = "/__sim/ledger";

/// The ledger JSON, when the target answers like a stampede simulator;
/// otherwise why not, said for a note (`the answer failed as
/// BODY_TOO_LARGE`, `it answered HTTP 404`).
pub async fn sim_ledger(client: &HttpClient) -> Result<serde_json::Value, String> {
    let timeout = Duration::from_secs(3);
    let r = client
        .send(&Method::GET, LEDGER_PATH, HeaderMap::new(), None, timeout)
        .await
        .map_err(|f| match f {
            Failure::Timeout => format!("no answer within {}s", timeout.as_secs()),
            Failure::Net(k) => format!("the answer failed as {}", k.label()),
        })?;
    if r.status != 200 {
        return Err(format!("it answered HTTP {}", r.status));
    }
    let not_a_ledger =
        || "its answer is not a ledger (JSON with duplicates, early_retries and requests)";
    let v: serde_json::Value =
        serde_json::from_slice(&r.body).map_err(|_| not_a_ledger().to_string())?;
    let v = match v.get("data") {
        Some(d) if d.is_object() => d.clone(),
        _ => v,
    };
    ["duplicates", "early_retries", "requests"]
        .iter()
        .all(|k| v.get(k).is_some())
        .then_some(v)
        .ok_or_else(|| not_a_ledger().to_string())
}

/// The note for round `r`'s ledger that could not be read `when` ("before
/// the round", "after the round").
fn unread(r: usize, when: &str, why: &str) -> String {
    format!(
        "round {r}: target.ledger = true, but the target's ledger (GET {LEDGER_PATH}) could not be read {when}: {why}; the report has no ledger for this round"
    )
}

/// Before round `r` against a remote target whose scenario says
/// `target.ledger = true`: the ledger as it is now (the round's own counts
/// are the difference: the simulator is not reset, it may be shared), and
/// whether the target answered like a simulator at all (`known`). A
/// ledger that cannot be read is a note, and the round has none. Sends
/// nothing otherwise.
pub async fn remote_sim(
    plan: &crate::scenario::Plan,
    client: &HttpClient,
    known: &mut Option<bool>,
    r: usize,
    notes: &mut Vec<String>,
) -> Option<serde_json::Value> {
    plan.target.url.as_ref()?;
    if plan.target.ledger != Some(true) {
        return None;
    }
    let before = sim_ledger(client)
        .await
        .map_err(|why| notes.push(unread(r, "before the round", &why)))
        .ok();
    if known.is_none() {
        *known = Some(before.is_some());
    }
    before
}

/// The remote simulator's ledger for round `r`, which started at `before`;
/// one that cannot be read is a note.
pub async fn remote_ledger(
    client: &HttpClient,
    before: &serde_json::Value,
    r: usize,
    notes: &mut Vec<String>,
) -> Option<crate::model::Ledger> {
    let mut after = sim_ledger(client)
        .await
        .map_err(|why| notes.push(unread(r, "after the round", &why)))
        .ok()?;
    subtract(&mut after, before);
    serde_json::from_value(after)
        .map_err(|e| notes.push(unread(r, "after the round", &format!("its counts: {e}"))))
        .ok()
}

/// `after - before` for every counter; `oversold` (a maximum), `zones`
/// (seat state) and a time summary's `max` and percentiles (the Booking
/// Rush profile's `queue.time_in_queue_ms`) stay as they are now.
fn subtract(after: &mut serde_json::Value, before: &serde_json::Value) {
    use serde_json::Value as J;
    match (after, before) {
        (J::Object(a), J::Object(b)) => {
            for (k, v) in a.iter_mut() {
                if matches!(
                    k.as_str(),
                    "oversold" | "zones" | "max" | "p50" | "p90" | "p99"
                ) {
                    continue;
                }
                if let Some(bv) = b.get(k) {
                    subtract(v, bv);
                }
            }
        }
        (J::Number(a), J::Number(b)) => {
            if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
                *a = x.saturating_sub(y).into();
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_rounds_ledger_is_the_difference() {
        let before = serde_json::json!({"duplicates": 2, "oversold": 1, "requests": {"reserve": {"200": 5}}, "zones": {"E1/A": {"sold": 3}}});
        let mut after = serde_json::json!({"duplicates": 5, "oversold": 1, "requests": {"reserve": {"200": 9, "503": 1}}, "zones": {"E1/A": {"sold": 7}}});
        super::subtract(&mut after, &before);
        assert_eq!(
            after,
            serde_json::json!({"duplicates": 3, "oversold": 1, "requests": {"reserve": {"200": 4, "503": 1}}, "zones": {"E1/A": {"sold": 7}}})
        );
        let before = serde_json::json!({"logins": 10, "replays_by_status": {"201": 10}, "queue": {"joins": 10, "time_in_queue_ms": {"count": 10, "sum": 900, "max": 300, "p50": 80, "p90": 200, "p99": 300}}});
        let mut after = serde_json::json!({"logins": 25, "replays_by_status": {"201": 30, "500": 2}, "queue": {"joins": 25, "time_in_queue_ms": {"count": 25, "sum": 2000, "max": 400, "p50": 70, "p90": 250, "p99": 390}}});
        super::subtract(&mut after, &before);
        assert_eq!(
            after,
            serde_json::json!({"logins": 15, "replays_by_status": {"201": 20, "500": 2}, "queue": {"joins": 15, "time_in_queue_ms": {"count": 15, "sum": 1100, "max": 400, "p50": 70, "p90": 250, "p99": 390}}})
        );
    }
}
