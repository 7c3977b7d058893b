use super::*;
use crate::metrics::new_histogram;

/// The first lines of HdrHistogram's own tagged V2 log (jHiccup output,
/// `tagged-Log.logV2.hlog` in HdrHistogram and the Rust crate's tests).
const JAVA_FIXTURE: &str = "\
#[Logged with jHiccup version 2.0.7-SNAPSHOT, manually edited to duplicate contents with Tag=A]
#[Histogram log format version 1.2]
#[StartTime: 1441812279.474 (seconds since epoch), Wed Sep 09 08:24:39 PDT 2015]
\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"
0.127,1.007,2.769,HISTFAAAAEV42pNpmSzMwMCgyAABTBDKT4GBgdnNYMcCBvsPEBEJISEuATEZMQ4uASkhIR4nrxg9v2lMaxhvMekILGZkKmcCAEf2CsI=
Tag=A,0.127,1.007,2.769,HISTFAAAAEV42pNpmSzMwMCgyAABTBDKT4GBgdnNYMcCBvsPEBEJISEuATEZMQ4uASkhIR4nrxg9v2lMaxhvMekILGZkKmcCAEf2CsI=
";

#[test]
fn reads_hdrhistograms_own_fixture() {
    let f = HlogFile::parse(JAVA_FIXTURE.as_bytes(), Path::new("fixture.hlog")).unwrap();
    assert_eq!(f.start_time, Some(Duration::from_millis(1_441_812_279_474)));
    assert_eq!(f.intervals.len(), 2);
    let (untagged, a) = (&f.intervals[0], &f.intervals[1]);
    assert_eq!(untagged.tag, "");
    assert_eq!(a.tag, "A");
    assert_eq!(a.start, Duration::from_millis(127));
    assert_eq!(a.duration, Duration::from_millis(1007));
    // jHiccup records nanoseconds and prints the max in milliseconds.
    let max_ms = a.histogram.max() as f64 / 1e6;
    assert!((max_ms - 2.769).abs() < 0.01, "{max_ms}");
    assert!(a.histogram == untagged.histogram);
    assert!(!a.histogram.is_empty());
}

fn sample(values: &[u64]) -> Histogram<u64> {
    let mut h = new_histogram();
    for v in values {
        h.record(*v).unwrap();
    }
    h
}

#[test]
fn written_lines_follow_the_documented_layout() {
    // HdrHistogram's HistogramLogWriter: `[Tag=<tag>,]<start s>,<length s>,<max>,<base64 V2 histogram>`,
    // three decimals, the compressed V2 cookie encoding to `HISTF`.
    let mut out = Vec::new();
    let h = sample(&[120, 950, 40_000]);
    write_interval(
        &mut out,
        TAG_OP,
        Duration::from_secs(7),
        Duration::from_secs(1),
        &h,
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.ends_with('\n') && text.lines().count() == 1,
        "{text:?}"
    );
    let fields: Vec<&str> = text.trim_end().split(',').collect();
    assert_eq!(fields.len(), 5, "{text}");
    assert_eq!(fields[0], "Tag=op");
    assert_eq!(fields[1], "7.000");
    assert_eq!(fields[2], "1.000");
    let max: f64 = fields[3].parse().unwrap();
    assert_eq!(max, h.max() as f64);
    assert!(fields[4].starts_with("HISTF"), "{}", fields[4]);
    for f in &fields[1..4] {
        let (_, dec) = f.split_once('.').unwrap();
        assert_eq!(dec.len(), 3, "{f}");
    }
}

#[test]
fn header_has_start_and_base_time_and_round_trips() {
    let base = SystemTime::UNIX_EPOCH + Duration::from_millis(1_767_225_600_250);
    let mut out = Vec::new();
    write_header(&mut out, "fleet.step", base).unwrap();
    let a = sample(&[1, 2, 3, 1_000_000]);
    let b = sample(&[5_000]);
    write_interval(
        &mut out,
        TAG_OP,
        Duration::from_secs(0),
        Duration::from_secs(1),
        &a,
    )
    .unwrap();
    write_interval(
        &mut out,
        TAG_ATTEMPT,
        Duration::from_secs(0),
        Duration::from_secs(1),
        &b,
    )
    .unwrap();
    write_interval(
        &mut out,
        TAG_OP,
        Duration::from_secs(0),
        Duration::from_secs(1),
        &b,
    )
    .unwrap();
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(
        text.contains("#[StartTime: 1767225600.250 (seconds since epoch)]\n"),
        "{text}"
    );
    assert!(
        text.contains("#[BaseTime: 1767225600.250 (seconds since epoch)]\n"),
        "{text}"
    );
    let f = HlogFile::parse(&out, Path::new("x.hlog")).unwrap();
    assert_eq!(f.base_time, Some(Duration::from_millis(1_767_225_600_250)));
    assert_eq!(f.tags(), [TAG_OP, TAG_ATTEMPT]);
    let op = f.sum(TAG_OP, &new_histogram()).unwrap();
    let mut want = a.clone();
    want.add(&b).unwrap();
    assert!(op == want);
    assert_eq!(f.per_second(TAG_OP).get(&0).map(|h| h.len()), Some(5));
}

#[test]
fn truncated_or_corrupt_lines_name_file_and_line() {
    let mut out = Vec::new();
    write_header(&mut out, "f", SystemTime::UNIX_EPOCH).unwrap();
    let h = sample(&[10]);
    write_interval(&mut out, TAG_OP, Duration::ZERO, Duration::from_secs(1), &h).unwrap();
    write_interval(
        &mut out,
        TAG_OP,
        Duration::from_secs(1),
        Duration::from_secs(1),
        &h,
    )
    .unwrap();
    let lines = String::from_utf8(out.clone()).unwrap().lines().count();
    // Cut inside the last line.
    let cut = &out[..out.len() - 10];
    let e = HlogFile::parse(cut, Path::new("d/a.hlog"))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with(&format!("d/a.hlog:{lines}:")), "{e}");
    assert!(e.contains("truncated"), "{e}");
    // A damaged histogram on the last line.
    let mut bad = out.clone();
    let n = bad.len();
    bad[n - 6] = b'!';
    let e = HlogFile::parse(&bad, Path::new("a.hlog"))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with(&format!("a.hlog:{lines}:")), "{e}");
    // Garbage in place of a line.
    let mut junk = out.clone();
    junk.extend_from_slice(b"Tag=op,notanumber,1.0\n");
    let e = HlogFile::parse(&junk, Path::new("a.hlog"))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with(&format!("a.hlog:{}:", lines + 1)), "{e}");
}

#[test]
fn mismatched_settings_are_refused() {
    let other = Histogram::<u64>::new_with_bounds(1, 60_000_000, 2).unwrap();
    let mut out = Vec::new();
    write_interval(
        &mut out,
        TAG_OP,
        Duration::ZERO,
        Duration::from_secs(1),
        &other,
    )
    .unwrap();
    let f = HlogFile::parse(&out, Path::new("a.hlog")).unwrap();
    assert!(
        f.sum(TAG_OP, &new_histogram())
            .unwrap_err()
            .contains("settings differ")
    );
}
