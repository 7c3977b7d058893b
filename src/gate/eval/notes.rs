//! What a report says about a gated fleet that had nothing to gate on.

use super::Gate;
use crate::model::Report;

/// A note for each gated fleet none of whose operations succeeded (in a
/// run the target answered): which of its gates cannot pass, and that its
/// counts and ratios (`amplification` among them) are still measured, over
/// the failed operations. A dead target has its own note and fails every
/// gate.
pub fn no_success_notes(gates: &[Gate], report: &Report) -> Vec<String> {
    if report.unreachable().is_some() {
        return Vec::new();
    }
    let mut fleets: Vec<&str> = gates.iter().map(|g| g.fleet.as_str()).collect();
    fleets.sort_unstable();
    fleets.dedup();
    fleets
        .into_iter()
        .filter_map(|name| report.results.iter().find(|c| c.name == name))
        .filter(|c| c.counts.operations > 0 && c.latency.ok_operation_latency_ms.count == 0)
        .map(|c| {
            format!(
                "fleet `{}`: none of its {} operations succeeded, so its latency and rate gates fail (`no_successful_operations`); its counts and ratios, amplification ({:.2}x) included, are measured over the failed operations (docs/gates.md)",
                c.name, c.counts.operations, c.counts.amplification
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Percentiles;

    fn gates(exprs: &[&str], report: &Report) -> Vec<Gate> {
        let fleets: Vec<String> = report.results.iter().map(|c| c.name.clone()).collect();
        let steps = vec!["reserve".to_string()];
        exprs
            .iter()
            .map(|e| crate::gate::parse(e, &fleets, &steps).expect("gate"))
            .collect()
    }

    #[test]
    fn a_gated_fleet_with_no_successful_operation_gets_a_note() {
        let mut r = super::super::tests::report();
        for name in ["compliant", "remote"] {
            let c = r.results.iter_mut().find(|c| c.name == name).unwrap();
            c.latency.ok_operation_latency_ms = Percentiles::default();
        }
        // `remote` has no gate; `no-jitter` succeeded; `idle` had no operation.
        let g = gates(
            &[
                "compliant.amplification <= 1.3",
                "compliant.success_rate > 0",
                "no-jitter.amplification <= 2",
                "idle.operations == 0",
            ],
            &r,
        );
        let notes = no_success_notes(&g, &r);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].starts_with("fleet `compliant`: none of its 1000 operations succeeded"),
            "{}",
            notes[0]
        );
        assert!(notes[0].contains("amplification (1.25x)"), "{}", notes[0]);
        // A run with no HTTP answer says so in its own note: none of these.
        crate::sample::no_http_answer(&mut r);
        assert!(r.unreachable().is_some());
        assert!(no_success_notes(&g, &r).is_empty());
    }
}
