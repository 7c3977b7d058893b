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
/// ledger); true when its ledger is to be read after the round, in which
/// case it is reset first (`POST /__sim/reset`) so the ledger is the round's.
pub async fn remote_sim(
    plan: &crate::scenario::Plan,
    client: &HttpClient,
    known: &mut Option<bool>,
) -> bool {
    if plan.target.url.is_none() {
        return false;
    }
    let tokens_auto = matches!(
        plan.users,
        crate::scenario::UsersPlan::Generated {
            tokens: crate::scenario::GeneratedTokens::IfSimulator,
            ..
        }
    );
    if known.is_none() {
        let needed = tokens_auto || plan.target.ledger != Some(false);
        *known = Some(needed && sim_ledger(client).await.is_some());
    }
    let read = plan.target.ledger.unwrap_or(*known == Some(true));
    if read {
        let _ = client
            .send(
                &Method::POST,
                "/__sim/reset",
                HeaderMap::new(),
                None,
                Duration::from_secs(3),
            )
            .await;
    }
    read
}

/// The remote simulator's ledger after a round.
pub async fn remote_ledger(client: &HttpClient) -> Option<crate::sim::Ledger> {
    serde_json::from_value(sim_ledger(client).await?).ok()
}
