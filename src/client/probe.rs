//! Is the target a stampede simulator (`stampede serve`)? One
//! `GET /__sim/ledger` before the load: a simulator answers with its ledger
//! (JSON with `duplicates`, `early_retries` and `requests`), anything else
//! with a 404 or something of another shape.

use super::HttpClient;
use http::{HeaderMap, Method};
use std::time::Duration;

/// The path of the simulator's ledger.
pub const LEDGER_PATH: &str = "/__sim/ledger";

/// The ledger JSON, when the target answers like a stampede simulator.
pub async fn sim_ledger(client: &HttpClient) -> Option<serde_json::Value> {
    let r = client
        .send(
            &Method::GET,
            LEDGER_PATH,
            HeaderMap::new(),
            None,
            Duration::from_secs(3),
        )
        .await
        .ok()?;
    if r.status != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&r.body).ok()?;
    let v = match v.get("data") {
        Some(d) if d.is_object() => d.clone(),
        _ => v,
    };
    ["duplicates", "early_retries", "requests"]
        .iter()
        .all(|k| v.get(k).is_some())
        .then_some(v)
}

/// Before a round against a remote target: find out (once) whether it is a
/// stampede simulator, when the plan needs to know (generated tokens, the
/// ledger). When its ledger is to be read after the round, returns the
/// ledger as it is now: the round's own counts are the difference (the
/// simulator is not reset: it may be shared).
pub async fn remote_sim(
    plan: &crate::scenario::Plan,
    client: &HttpClient,
    known: &mut Option<bool>,
) -> Option<serde_json::Value> {
    plan.target.url.as_ref()?;
    let tokens_auto = matches!(
        plan.users,
        crate::scenario::UsersPlan::Generated {
            tokens: crate::scenario::GeneratedTokens::IfSimulator,
            ..
        }
    );
    let mut before = None;
    if known.is_none() {
        let needed = tokens_auto || plan.target.ledger != Some(false);
        before = if needed {
            sim_ledger(client).await
        } else {
            None
        };
        *known = Some(before.is_some());
    }
    if !plan.target.ledger.unwrap_or(*known == Some(true)) {
        return None;
    }
    match before {
        Some(b) => Some(b),
        None => sim_ledger(client).await,
    }
}

/// The remote simulator's ledger for the round that started at `before`.
pub async fn remote_ledger(
    client: &HttpClient,
    before: &serde_json::Value,
) -> Option<crate::sim::Ledger> {
    let mut after = sim_ledger(client).await?;
    subtract(&mut after, before);
    serde_json::from_value(after).ok()
}

/// `after - before` for every counter; `oversold` (a maximum) and `zones`
/// (seat state) stay as they are now.
fn subtract(after: &mut serde_json::Value, before: &serde_json::Value) {
    use serde_json::Value as J;
    match (after, before) {
        (J::Object(a), J::Object(b)) => {
            for (k, v) in a.iter_mut() {
                if k == "oversold" || k == "zones" {
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
    }
}
