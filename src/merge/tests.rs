use super::cohort::{CohortHists, refresh};
use crate::metrics::interval::write_pairs;
use crate::metrics::{SecondHistograms, US_PER_MS, new_histogram};
use crate::report::{hgrm, hlog};
use std::time::{Duration, SystemTime};

/// A spread of latencies like a real run's: most fast, a slow tail.
fn samples(n: u64) -> Vec<(u32, u64)> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = match x % 100 {
                0..=89 => 200 + x % 5_000,
                90..=98 => 20_000 + x % 400_000,
                _ => 1_000_000 + x % 30_000_000,
            };
            ((i % 37) as u32, v)
        })
        .collect()
}

#[test]
fn merged_percentiles_equal_one_histogram_of_every_sample_bit_for_bit() {
    let all = samples(40_000);
    let mut one = new_histogram();
    for (_, v) in &all {
        one.saturating_record(*v);
    }
    let dir = std::env::temp_dir().join(format!("stampede-merge-exact-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let base = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
    let steps = vec!["reserve".to_string()];
    let mut merged = CohortHists::new(1);
    for shard in 0..4u64 {
        // Shard k gets samples k, k+4, ...: an uneven, interleaved split.
        let mut op = SecondHistograms::default();
        for (i, (s, v)) in all.iter().enumerate() {
            if i as u64 % 4 == shard {
                op.record(*s, *v);
            }
        }
        let d = dir.join(format!("s{shard}"));
        std::fs::create_dir_all(&d).unwrap();
        let mut step = Vec::new();
        hlog::write_header(&mut step, "f.reserve", base).unwrap();
        write_pairs(&mut step, &op, &op).unwrap();
        std::fs::write(d.join(hlog::file_name("f", Some("reserve"))), step).unwrap();
        let mut fleet = Vec::new();
        hlog::write_header(&mut fleet, "f", base).unwrap();
        std::fs::write(d.join(hlog::file_name("f", None)), fleet).unwrap();
        let h = CohortHists::read(&d, "f", &steps).unwrap();
        merged.add(&h, 0);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let total = merged.steps[0].op.total();
    assert!(total == one, "bucket for bucket");
    let mut c = crate::report::sample_report().results[0].clone();
    c.steps.truncate(1);
    refresh(&mut c, &merged);
    let want = hgrm::percentiles(&one, US_PER_MS);
    // Bit for bit: the same f64s, not merely close ones.
    for (got, want) in [
        (c.operation_latency_ms, want),
        (c.steps[0].operation_latency_ms, want),
        (c.attempt_latency_ms, want),
    ] {
        assert_eq!(got.count, 40_000);
        for (g, w) in [
            (got.p50, want.p50),
            (got.p90, want.p90),
            (got.p99, want.p99),
            (got.p999, want.p999),
            (got.max, want.max),
            (got.mean, want.mean),
        ] {
            assert_eq!(g.to_bits(), w.to_bits(), "{g} vs {w}");
        }
    }
    assert_eq!(c.operation_spectrum, hgrm::spectrum(&one, US_PER_MS));
    // Per second too: second 5 of the merge is second 5 of every sample.
    let mut s5 = new_histogram();
    for (s, v) in &all {
        if *s == 5 {
            s5.saturating_record(*v);
        }
    }
    assert!(merged.steps[0].op.histogram(5) == s5);
}
