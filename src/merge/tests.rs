use super::fleet::{FleetHists, Source, refresh};
use crate::metrics::interval::write_pairs;
use crate::metrics::{SecondHistograms, US_PER_MS, new_histogram};
use crate::metrics::{hgrm, hlog};
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
    let mut dirs = Vec::new();
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
        dirs.push(d);
    }
    let sources: Vec<Source<'_>> = dirs.iter().map(|d| Source { dir: d, shift: 0 }).collect();
    let merged = FleetHists::read(&sources, "f", &steps, false).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let total = &merged.steps[0].op;
    assert!(*total == one, "bucket for bucket");
    let mut c = crate::sample::sample_report().results[0].clone();
    c.steps.truncate(1);
    refresh(&mut c, &merged);
    let want = hgrm::percentiles(&one, US_PER_MS);
    // Bit for bit: the same f64s, not merely close ones.
    for (got, want) in [
        (c.latency.operation_latency_ms, want),
        (c.steps[0].operation_latency_ms, want),
        (c.latency.attempt_latency_ms, want),
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
    assert_eq!(
        c.latency.operation_spectrum,
        hgrm::spectrum(&one, US_PER_MS)
    );
    // Per second too: second 5 of the merge is second 5 of every sample.
    let mut s5 = new_histogram();
    for (s, v) in &all {
        if *s == 5 {
            s5.saturating_record(*v);
        }
    }
    let mut log = Vec::new();
    hlog::write_header(&mut log, "f.reserve", base).unwrap();
    log.extend(merged.steps[0].seconds_log.concat());
    let parsed = hlog::HlogFile::parse(&log, std::path::Path::new("merged")).unwrap();
    assert!(parsed.per_second(hlog::TAG_OP)[&5] == s5);
    assert!(parsed.per_second(hlog::TAG_ATTEMPT)[&5] == s5);
    assert_eq!(parsed.per_second(hlog::TAG_OP).len(), 37);
    // Latency over time: second 5's row is the percentiles of second 5's samples.
    let row = merged.steps[0]
        .series
        .iter()
        .find(|r| r.t_ms == 5000)
        .unwrap();
    let want5 = crate::metrics::latency::dense_latency(&s5);
    assert_eq!(row.operation_latency_ms, want5);
    assert_eq!(row.attempt_latency_ms, want5);
    assert_eq!(merged.series.len(), 37, "one fleet row per second");
    assert_eq!(want5.count, s5.len());
}

#[test]
fn a_shifted_source_lands_seconds_later_and_a_bad_line_names_file_and_line() {
    let dir = std::env::temp_dir().join(format!("stampede-merge-shift-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let base = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
    let steps = vec!["reserve".to_string()];
    let mut op = SecondHistograms::default();
    op.record(0, 1_000);
    op.record(2, 9_000);
    for name in ["a", "b"] {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        let mut step = Vec::new();
        hlog::write_header(&mut step, "f.reserve", base).unwrap();
        write_pairs(&mut step, &op, &SecondHistograms::default()).unwrap();
        std::fs::write(d.join(hlog::file_name("f", Some("reserve"))), step).unwrap();
        let mut fleet = Vec::new();
        hlog::write_header(&mut fleet, "f", base).unwrap();
        std::fs::write(d.join(hlog::file_name("f", None)), fleet).unwrap();
    }
    let (a, b) = (dir.join("a"), dir.join("b"));
    let sources = [Source { dir: &a, shift: 0 }, Source { dir: &b, shift: 1 }];
    let merged = FleetHists::read(&sources, "f", &steps, false).unwrap();
    let mut log = Vec::new();
    hlog::write_header(&mut log, "f.reserve", base).unwrap();
    log.extend(merged.steps[0].seconds_log.concat());
    let per = hlog::HlogFile::parse(&log, std::path::Path::new("m"))
        .unwrap()
        .per_second(hlog::TAG_OP);
    let counts: Vec<(u32, u64)> = per.iter().map(|(s, h)| (*s, h.len())).collect();
    assert_eq!(counts, [(0, 1), (1, 1), (2, 1), (3, 1)]);
    assert_eq!(merged.steps[0].op.len(), 4);
    assert!(
        merged.seconds_log.iter().any(|c| !c.is_empty()),
        "the fleet's per-second sums"
    );
    // A corrupt histogram in b's step file: the error names it and its line.
    let path = b.join(hlog::file_name("f", Some("reserve")));
    let text = std::fs::read_to_string(&path).unwrap();
    let broken = text.replacen("HISTF", "HISTx", 1);
    std::fs::write(&path, broken).unwrap();
    let e = FleetHists::read(&sources, "f", &steps, false).unwrap_err();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(e.contains("f.reserve.hlog:"), "{e}");
    assert!(
        e.contains("cannot be decoded") || e.contains("base64"),
        "{e}"
    );
}

/// Shard `index` of 3 against `target`, whose first fleet read `ledger`
/// (reserve 201s, availability 200s, bookings, /__sim reads).
fn shard_report(
    index: u32,
    target: &str,
    ledger: Option<(u64, u64, u64, u64)>,
) -> crate::report::Report {
    let mut r = crate::sample::sample_report();
    r.target = target.into();
    r.origin.shard = Some(crate::report::Shard { index, count: 3 });
    r.results[0].ledger = ledger.map(|(reserve, avail, booked, sim)| {
        let mut l = crate::sim::Ledger {
            bookings_created: booked,
            ..Default::default()
        };
        l.requests
            .insert("reserve".into(), [(201, reserve)].into_iter().collect());
        l.requests
            .insert("availability".into(), [(200, avail)].into_iter().collect());
        l.requests
            .insert("sim".into(), [(200, sim)].into_iter().collect());
        l
    });
    r
}

const SHARED: &str = "http://127.0.0.1:9/";

#[test]
fn the_ledger_reading_that_saw_the_most_wins_and_a_note_names_its_shard() {
    // Shard 1 finished last: its reading holds every shard's requests; the
    // /__sim reads (shard 1 read fewer of them) are not load and not compared.
    let rs = [
        shard_report(0, SHARED, Some((40, 90, 40, 7))),
        shard_report(1, SHARED, Some((60, 120, 60, 3))),
        shard_report(2, SHARED, Some((55, 120, 55, 5))),
    ];
    let refs: Vec<_> = rs.iter().collect();
    let mut notes = Vec::new();
    let l = super::shared_ledger::merged(&refs, 0, &mut notes).expect("a ledger");
    assert_eq!(l, rs[1].results[0].ledger.clone().unwrap());
    assert_eq!(super::shared_ledger::load_requests(&l), 180);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains("shard 1/3's reading"), "{notes:?}");
    assert!(notes[0].contains("180 requests"), "{notes:?}");
    // The same readings in another order: the same choice.
    let refs: Vec<_> = [&rs[2], &rs[1], &rs[0]].into_iter().collect();
    assert_eq!(
        super::shared_ledger::merged(&refs, 0, &mut Vec::new()),
        rs[1].results[0].ledger
    );
    // A shard that read no ledger is said, the others still merge.
    let rs2 = [rs[0].clone(), shard_report(1, SHARED, None), rs[2].clone()];
    let refs: Vec<_> = rs2.iter().collect();
    let mut notes = Vec::new();
    let l = super::shared_ledger::merged(&refs, 0, &mut notes).unwrap();
    assert_eq!(l, rs[2].results[0].ledger.clone().unwrap());
    assert!(notes[0].contains("shard 2/3's reading"), "{notes:?}");
    assert!(notes[0].contains("1 shard(s) read no ledger"), "{notes:?}");
}

#[test]
fn inconsistent_ledger_readings_are_refused_with_a_note() {
    // Shard 0 saw more availability requests than the fullest reading:
    // not one growing ledger.
    let rs = [
        shard_report(0, SHARED, Some((10, 130, 10, 1))),
        shard_report(1, SHARED, Some((60, 120, 60, 1))),
        shard_report(2, SHARED, Some((55, 120, 55, 1))),
    ];
    let refs: Vec<_> = rs.iter().collect();
    let mut notes = Vec::new();
    assert_eq!(super::shared_ledger::merged(&refs, 0, &mut notes), None);
    assert_eq!(notes.len(), 1, "{notes:?}");
    let n = &notes[0];
    assert!(n.contains("no ledger in the merged report"), "{n}");
    assert!(
        n.contains("shard 0/3 counted 130 `requests availability 200`"),
        "{n}"
    );
    assert!(n.contains("shard 1/3's fuller reading 120"), "{n}");
    // Bookings count too, not only requests.
    let rs = [
        shard_report(0, SHARED, Some((40, 90, 70, 1))),
        shard_report(1, SHARED, Some((60, 120, 60, 1))),
        shard_report(2, SHARED, Some((55, 120, 55, 1))),
    ];
    let refs: Vec<_> = rs.iter().collect();
    let mut notes = Vec::new();
    assert_eq!(super::shared_ledger::merged(&refs, 0, &mut notes), None);
    assert!(notes[0].contains("`bookings_created`"), "{notes:?}");
    // Shards against different targets: refused, both named.
    let rs = [
        shard_report(0, SHARED, Some((40, 90, 40, 1))),
        shard_report(1, "http://127.0.0.1:10/", Some((60, 120, 60, 1))),
        shard_report(2, SHARED, Some((55, 120, 55, 1))),
    ];
    let refs: Vec<_> = rs.iter().collect();
    let mut notes = Vec::new();
    assert_eq!(super::shared_ledger::merged(&refs, 0, &mut notes), None);
    assert!(notes[0].contains("http://127.0.0.1:10/"), "{notes:?}");
    assert!(notes[0].contains("one shared target"), "{notes:?}");
}

#[test]
fn embedded_simulator_shards_keep_their_ledgers_out_with_todays_note() {
    let rs: Vec<_> = (0..3)
        .map(|i| {
            shard_report(
                i,
                "embedded simulator",
                Some((10 + u64::from(i), 20, 10, 1)),
            )
        })
        .collect();
    let refs: Vec<_> = rs.iter().collect();
    let mut notes = Vec::new();
    assert_eq!(super::shared_ledger::merged(&refs, 0, &mut notes), None);
    assert_eq!(
        notes,
        [
            "each shard ran its own embedded simulator: the ledgers are per shard and are not in the merged report (point every shard at one `stampede serve`)"
        ]
    );
    // Two fleets: one note, not one per fleet.
    assert_eq!(super::shared_ledger::merged(&refs, 1, &mut notes), None);
    assert_eq!(notes.len(), 1);
    // One shard alone keeps its ledger, whatever its target.
    assert!(super::shared_ledger::merged(&refs[..1], 0, &mut Vec::new()).is_some());
}

#[test]
fn the_truth_reading_that_saw_the_most_is_the_merged_one() {
    let mut rs: Vec<crate::report::Report> =
        (0..3).map(|i| shard_report(i, SHARED, None)).collect();
    for (r, booked) in rs.iter_mut().zip([40.0, 90.0, 70.0]) {
        r.results[0].truth = Some(crate::report::Truth {
            source: "command redis-cli".into(),
            counts: [("bookings_created".to_string(), booked)].into(),
            levels: [("seats_left".to_string(), 100.0 - booked)].into(),
        });
    }
    rs[2].results[0].truth = None;
    let refs: Vec<&crate::report::Report> = rs.iter().collect();
    let t = super::shared_ledger::merged_truth(&refs, 0).expect("a reading");
    assert_eq!(t.get("bookings_created"), Some(90.0));
    assert_eq!(t.get("seats_left"), Some(10.0));
    assert_eq!(super::shared_ledger::merged_truth(&refs, 1), None);
}

/// Every counter of the retry and harm groups, summed over two shards'
/// fleets, and over a killed run's stream lines: none kept from one side.
#[test]
fn shards_and_stream_lines_sum_every_retry_and_harm_counter() {
    use crate::model::{ClientHarm, RetryBehaviour};
    let mut one = crate::sample::sample_report().results[1].clone();
    one.retry = RetryBehaviour {
        retry_after_honoured: 13,
        breaker_opens: 17,
        breaker_open_s: 19.5,
    };
    one.harm = ClientHarm {
        early_retries: 23,
        key_changed_after_ambiguous: 29,
        sent_while_told_to_wait: 31,
    };
    let (retry, harm) = (one.retry.clone(), one.harm.clone());
    let mut two = one.clone();
    super::fleet::add_counters(&mut two, &one, 0);
    let double_harm = ClientHarm {
        early_retries: 2 * harm.early_retries,
        key_changed_after_ambiguous: 2 * harm.key_changed_after_ambiguous,
        sent_while_told_to_wait: 2 * harm.sent_while_told_to_wait,
    };
    let double_retry = RetryBehaviour {
        retry_after_honoured: 2 * retry.retry_after_honoured,
        breaker_opens: 2 * retry.breaker_opens,
        breaker_open_s: 2.0 * retry.breaker_open_s,
    };
    assert_eq!(two.harm, double_harm);
    assert_eq!(two.retry, double_retry);

    // A stream line as a killed run wrote it, read back and added.
    let line = crate::metrics::stream::StreamLine {
        round: one.round,
        fleet: one.name.clone(),
        retry_after_honoured: 3,
        breaker_opens: 2,
        breaker_open_s: 1.5,
        harm: ClientHarm {
            early_retries: 5,
            key_changed_after_ambiguous: 7,
            sent_while_told_to_wait: 11,
        },
        ..Default::default()
    };
    let text = serde_json::to_string(&line).unwrap();
    assert!(text.contains("\"key_changed_after_ambiguous\":7"), "{text}");
    let read: crate::metrics::stream::StreamLine = serde_json::from_str(&text).unwrap();
    let mut rebuilt = one.clone();
    super::partial::add_lines(&mut rebuilt, &[read]);
    assert_eq!(
        rebuilt.harm,
        ClientHarm {
            early_retries: harm.early_retries + 5,
            key_changed_after_ambiguous: harm.key_changed_after_ambiguous + 7,
            sent_while_told_to_wait: harm.sent_while_told_to_wait + 11,
        }
    );
    assert_eq!(rebuilt.retry.breaker_open_s, retry.breaker_open_s + 1.5);
    assert_eq!(rebuilt.retry.breaker_opens, retry.breaker_opens + 2);
}
