//! HdrHistogram percentile-distribution text (`.hgrm`), the format Java's
//! `outputPercentileDistribution` writes and wrk2 prints as its "Detailed
//! Percentile spectrum". HdrHistogram's online plotter and `hdr-plot` read
//! it, so per-fleet files can be overlaid with results from other tools.
//!
//! The engine records in microseconds; everything here is printed and
//! returned in milliseconds.

use crate::model::{Percentiles, SpectrumPoint};
use hdrhistogram::Histogram;
use std::io::{self, Write};

/// Ticks per half distance to 100%, as wrk2 and the Java default use.
pub const TICKS_PER_HALF_DISTANCE: u32 = 5;

/// Java sizes sub-buckets to the next power of two above `2 * 10^sigfig`;
/// the Rust crate does the same but does not expose the number.
fn sub_bucket_count(sigfig: u8) -> u64 {
    let largest = 2.0 * 10f64.powi(i32::from(sigfig));
    1u64 << (largest.log2().ceil() as u32)
}

/// Writes `hist` as a percentile distribution, values divided by
/// `value_unit_per_ms` (1000.0 for a histogram recorded in microseconds).
///
/// Layout, byte for byte as Java's `outputPercentileDistribution(out, 5, ratio)`:
/// a `%12s %14s %10s %14s` header and a blank line, one
/// `%12.{sigfig}f %2.12f %10d %14.2f` row per percentile tick (the 100% row
/// has no last column), then the `#[Mean ...]`, `#[Max ...]` and
/// `#[Buckets ...]` footer.
pub fn write_percentile_distribution(
    hist: &Histogram<u64>,
    value_unit_per_ms: f64,
    out: &mut impl Write,
) -> io::Result<()> {
    let scale = if value_unit_per_ms.is_finite() && value_unit_per_ms > 0.0 {
        value_unit_per_ms
    } else {
        1.0
    };
    let dec = usize::from(hist.sigfig());
    writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    )?;
    let mut total: u64 = 0;
    for v in hist.iter_quantiles(TICKS_PER_HALF_DISTANCE) {
        total = total.saturating_add(v.count_since_last_iteration());
        let value = v.value_iterated_to() as f64 / scale;
        let q = v.quantile_iterated_to();
        if q < 1.0 {
            writeln!(
                out,
                "{value:>12.dec$} {q:>2.12} {total:>10} {:>14.2}",
                1.0 / (1.0 - q)
            )?;
        } else {
            writeln!(out, "{value:>12.dec$} {q:>2.12} {total:>10}")?;
        }
    }
    writeln!(
        out,
        "#[Mean    = {:>12.dec$}, StdDeviation   = {:>12.dec$}]",
        hist.mean() / scale,
        hist.stdev() / scale
    )?;
    writeln!(
        out,
        "#[Max     = {:>12.dec$}, Total count    = {:>12}]",
        hist.max() as f64 / scale,
        hist.len()
    )?;
    writeln!(
        out,
        "#[Buckets = {:>12}, SubBuckets     = {:>12}]",
        hist.buckets(),
        sub_bucket_count(hist.sigfig())
    )
}

/// A file name for a fleet's `.hgrm` file: fleet names come from scenario
/// files, so anything but ASCII letters, digits, `-` and `_` becomes `_`.
pub fn file_name(fleet: &str) -> String {
    let stem: String = fleet
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stem = if stem.is_empty() {
        "fleet".to_string()
    } else {
        stem
    };
    format!("{stem}.hgrm")
}

/// The `.hgrm` text of `hist` (written to [`file_name`] by the run and merge).
pub fn text(hist: &Histogram<u64>, value_unit_per_ms: f64) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = write_percentile_distribution(hist, value_unit_per_ms, &mut out);
    out
}

/// The report's percentile summary of a histogram recorded in
/// `value_unit_per_ms` units per millisecond.
pub fn percentiles(hist: &Histogram<u64>, value_unit_per_ms: f64) -> Percentiles {
    if hist.is_empty() {
        return Percentiles::default();
    }
    let ms = |v: u64| v as f64 / value_unit_per_ms;
    Percentiles {
        count: hist.len(),
        mean: hist.mean() / value_unit_per_ms,
        p50: ms(hist.value_at_quantile(0.50)),
        p90: ms(hist.value_at_quantile(0.90)),
        p95: ms(hist.value_at_quantile(0.95)),
        p99: ms(hist.value_at_quantile(0.99)),
        p999: ms(hist.value_at_quantile(0.999)),
        max: ms(hist.max()),
    }
}

/// The same ticks the `.hgrm` file lists, as report spectrum points.
pub fn spectrum(hist: &Histogram<u64>, value_unit_per_ms: f64) -> Vec<SpectrumPoint> {
    hist.iter_quantiles(TICKS_PER_HALF_DISTANCE)
        .map(|v| SpectrumPoint {
            percentile: v.quantile_iterated_to() * 100.0,
            value_ms: v.value_iterated_to() as f64 / value_unit_per_ms,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uniform() -> Histogram<u64> {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        for v in 1..=10_000u64 {
            h.record(v).unwrap();
        }
        h
    }

    fn render(h: &Histogram<u64>) -> String {
        let mut out = Vec::new();
        write_percentile_distribution(h, 1000.0, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn report_hgrm_structure_and_values() {
        let text = render(&uniform());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "       Value     Percentile TotalCount 1/(1-Percentile)"
        );
        assert_eq!(lines[1], "");
        assert_eq!(
            lines[2],
            "       0.001 0.000000000000          1           1.00"
        );
        // 5 ticks per half distance: 0, 10, 20, 30, 40, 50, 55, 60, ...
        assert!(lines[3].contains(" 0.100000000000 "), "{}", lines[3]);
        let p50 = lines
            .iter()
            .find(|l| l.contains(" 0.500000000000 "))
            .unwrap();
        // Values 4096..8191 share 4 µs buckets: the row shows the bucket's top.
        assert_eq!(
            p50,
            &"       5.003 0.500000000000       5003           2.00"
        );
        let p90 = lines
            .iter()
            .find(|l| l.contains(" 0.900000000000 "))
            .unwrap();
        assert!(p90.trim_start().starts_with("9.00"), "{p90}");
        assert!(p90.ends_with("10.00"), "{p90}");
        // The 100% row: max value, total count, no 1/(1-p) column.
        let last_row = lines[lines.len() - 4];
        assert_eq!(last_row, "      10.007 1.000000000000      10000");
        let footer = &lines[lines.len() - 3..];
        assert!(
            footer[0].starts_with("#[Mean    =        5.00"),
            "{}",
            footer[0]
        );
        assert!(
            footer[0].contains(", StdDeviation   =        2.88"),
            "{}",
            footer[0]
        );
        assert_eq!(
            footer[1],
            "#[Max     =       10.007, Total count    =        10000]"
        );
        assert_eq!(
            footer[2],
            "#[Buckets =           16, SubBuckets     =         2048]"
        );
        // Every data row has the same 4 (or 3 for 100%) whitespace columns.
        for row in &lines[2..lines.len() - 3] {
            let n = row.split_whitespace().count();
            assert!(n == 4 || n == 3, "{row}");
        }
        assert!(text.ends_with("]\n"));
    }

    #[test]
    fn report_hgrm_file_names_are_safe() {
        assert_eq!(file_name("compliant"), "compliant.hgrm");
        assert_eq!(file_name("../evil name"), "___evil_name.hgrm");
        assert_eq!(file_name(""), "fleet.hgrm");
        let text = String::from_utf8(text(&uniform(), 1000.0)).unwrap();
        assert!(text.starts_with("       Value     Percentile"));
        assert_eq!(text, render(&uniform()));
    }

    #[test]
    fn report_hgrm_empty_histogram_is_footer_only() {
        let h = Histogram::<u64>::new(3).unwrap();
        let text = render(&h);
        assert_eq!(text.lines().count(), 5, "{text}");
        assert!(text.contains("Total count    =            0]"));
        assert_eq!(percentiles(&h, 1000.0), Percentiles::default());
        assert!(spectrum(&h, 1000.0).is_empty());
    }

    #[test]
    fn report_hgrm_helpers_match_the_file() {
        let h = uniform();
        let p = percentiles(&h, 1000.0);
        assert_eq!(p.count, 10_000);
        assert!((p.p99 - 9.9).abs() < 0.02, "{p:?}");
        let s = spectrum(&h, 1000.0);
        assert_eq!(s.first().unwrap().percentile, 0.0);
        assert_eq!(s.last().unwrap().percentile, 100.0);
    }
}
