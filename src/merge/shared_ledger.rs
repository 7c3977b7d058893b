//! The ground-truth ledger of a merged report, taken once from a shared
//! target.
//!
//! Every shard pointed at one `stampede serve` reads that target's ledger
//! at the end of its round (`client::probe`), but the shards finish at
//! slightly different times, so an early reading misses the requests of
//! shards still draining. Within a round the ledger only grows (shard 0
//! resets it only at a round's start), so the reading that saw the most
//! requests is the one taken last: it is the merged ledger, and every other
//! reading must fit inside it, counter by counter. A reading that does not
//! (the shards hit different targets, or the target was reset mid-round)
//! leaves the ledger out, with a note saying why.

use crate::model::Ledger;
use crate::report::Report;

/// The `[truth]` reading of fleet `i` that saw the most: every shard read
/// the same target's counts before the common start and after its own
/// round, so the reading taken last (the largest counters) covers every
/// shard's requests, as the ledger's does.
pub(super) fn merged_truth(reports: &[&Report], i: usize) -> Option<crate::report::Truth> {
    let total = |t: &crate::report::Truth| t.counts.values().sum::<f64>();
    reports
        .iter()
        .filter_map(|r| r.results.get(i)?.truth.as_ref())
        .max_by(|a, b| total(a).total_cmp(&total(b)))
        .cloned()
}

/// The `requests` endpoint of the simulator's own `/__sim` routes: the
/// shards' ledger readings themselves, not load, so it is neither a
/// reading's size nor part of the consistency check.
const SIM_ENDPOINT: &str = "sim";

/// Requests of the load a reading saw (every endpoint but `/__sim`): the
/// monotone size readings are ordered by.
pub(super) fn load_requests(l: &Ledger) -> u64 {
    l.requests
        .iter()
        .filter(|(ep, _)| *ep != SIM_ENDPOINT)
        .flat_map(|(_, by)| by.values())
        .sum()
}

/// The counters that only grow within a round, by name. `zones` (seat
/// state), `attempts_per_op` (an operation moves between buckets as it is
/// retried) and the `/__sim` requests are left out.
fn counters(l: &Ledger) -> Vec<(String, u64)> {
    let mut v = vec![
        ("oversold".to_string(), l.oversold),
        ("duplicates".to_string(), l.duplicates),
        ("wasted_work".to_string(), l.wasted_work),
        ("early_retries".to_string(), l.early_retries),
        ("bookings_created".to_string(), l.bookings_created),
        ("bookings_confirmed".to_string(), l.bookings_confirmed),
        ("bookings_released".to_string(), l.bookings_released),
        ("bookings_expired".to_string(), l.bookings_expired),
        ("idempotent_replays".to_string(), l.idempotent_replays),
        ("connection_resets".to_string(), l.connection_resets),
    ];
    for (ep, by) in &l.requests {
        if ep == SIM_ENDPOINT {
            continue;
        }
        for (status, n) in by {
            v.push((format!("requests {ep} {status}"), *n));
        }
    }
    v
}

/// The first counter of `l` above `chosen`'s, if any: (name, l's, chosen's).
fn exceeds(l: &Ledger, chosen: &Ledger) -> Option<(String, u64, u64)> {
    let theirs = counters(chosen);
    counters(l).into_iter().find_map(|(name, n)| {
        let c = theirs
            .iter()
            .find(|(k, _)| *k == name)
            .map_or(0, |(_, c)| *c);
        (n > c).then_some((name, n, c))
    })
}

fn note(notes: &mut Vec<String>, n: String) {
    if !notes.contains(&n) {
        notes.push(n);
    }
}

/// The merged ledger of fleet `i` from the shards' reports (sorted by
/// shard), with a note saying which shard's reading it is, or why it is
/// left out.
pub(super) fn merged(reports: &[&Report], i: usize, notes: &mut Vec<String>) -> Option<Ledger> {
    let readings: Vec<(&Report, &Ledger)> = reports
        .iter()
        .filter_map(|r| r.results[i].ledger.as_ref().map(|l| (*r, l)))
        .collect();
    let &(first, _) = readings.first()?;
    if reports.len() == 1 {
        return readings.first().map(|(_, l)| (*l).clone());
    }
    let fleet = &first.results[i].name;
    let shard = |r: &Report| super::shard_of(r).to_string();
    if reports.iter().all(|r| r.target == "embedded simulator") {
        note(
            notes,
            "each shard ran its own embedded simulator: the ledgers are per shard and are not in the merged report (point every shard at one `stampede serve`)".to_string(),
        );
        return None;
    }
    if let Some(other) = reports.iter().find(|r| r.target != first.target) {
        note(
            notes,
            format!(
                "{fleet}: no ledger in the merged report: shard {} ran against {} but shard {} against {}; a ledger is ground truth only from one shared target",
                shard(first),
                first.target,
                shard(other),
                other.target
            ),
        );
        return None;
    }
    // The reading that saw the most; on a tie the lowest shard's.
    let &(chosen_report, chosen) = readings
        .iter()
        .reduce(|best, r| {
            let key = |l: &Ledger| (load_requests(l), l.bookings_created);
            if key(r.1) > key(best.1) { r } else { best }
        })
        .unwrap_or(&readings[0]);
    for (r, l) in &readings {
        if let Some((name, n, c)) = exceeds(l, chosen) {
            note(
                notes,
                format!(
                    "{fleet}: no ledger in the merged report: the shards' readings of {} disagree (shard {} counted {n} `{name}`, shard {}'s fuller reading {c}); were they pointed at one target that nothing reset mid-round?",
                    first.target,
                    shard(r),
                    shard(chosen_report)
                ),
            );
            return None;
        }
    }
    let missing = reports.len() - readings.len();
    note(
        notes,
        format!(
            "{fleet}: the ledger is shard {}'s reading of the shared target {} (the one that saw the most: {} requests; every other shard's reading fits inside it){}",
            shard(chosen_report),
            first.target,
            load_requests(chosen),
            if missing > 0 {
                format!("; {missing} shard(s) read no ledger")
            } else {
                String::new()
            }
        ),
    );
    Some(chosen.clone())
}
