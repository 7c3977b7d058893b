//! Human number formatting shared by the console table, the verdict and the
//! HTML report, so the same number reads the same everywhere. Non-finite
//! inputs (a NaN from a zero-operation fleet) print as "n/a" instead of
//! "NaN" or a panic.

/// The label of the headline amplification row: which steps it is over
/// (`amplification (reserve)`), when every fleet shares them.
pub fn amplification_label(cs: &[super::FleetResult]) -> String {
    let first = cs.first().map(|c| &c.counts.amplification_steps);
    match first {
        Some(steps)
            if !steps.is_empty() && cs.iter().all(|c| &c.counts.amplification_steps == steps) =>
        {
            format!("amplification ({})", steps.join("+"))
        }
        _ => "amplification".to_string(),
    }
}

/// Placeholder for a value that cannot be shown.
pub const NA: &str = "n/a";

/// `1180` -> `1,180`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A statistic of `p` in milliseconds, or "n/a" when `p` has no samples
/// (a fleet none of whose operations succeeded has no OK latency, not 0 ms).
pub fn ms_of(p: &crate::model::Percentiles, stat: fn(&crate::model::Percentiles) -> f64) -> String {
    if p.count == 0 {
        NA.to_string()
    } else {
        ms(stat(p))
    }
}

/// Milliseconds with a unit and about three significant digits:
/// `0.42 ms`, `4.2 ms`, `820 ms`, `9.8 s`, `125 s`.
pub fn ms(v: f64) -> String {
    if !v.is_finite() {
        return NA.to_string();
    }
    let a = v.abs();
    if a < 1.0 {
        format!("{v:.2} ms")
    } else if a < 10.0 {
        format!("{v:.1} ms")
    } else if a < 1000.0 {
        format!("{v:.0} ms")
    } else if a < 100_000.0 {
        format!("{:.1} s", v / 1000.0)
    } else {
        format!("{:.0} s", v / 1000.0)
    }
}

/// A rate in [0, 1] as a percentage: `0.9412` -> `94.1%`.
pub fn pct(rate: f64) -> String {
    if !rate.is_finite() {
        return NA.to_string();
    }
    format!("{:.1}%", rate * 100.0)
}

/// A multiplier: `6.4×`, or two decimals close to 1 where the difference matters (`1.04×`).
pub fn times(x: f64) -> String {
    if !x.is_finite() {
        return NA.to_string();
    }
    if x < 2.0 {
        format!("{x:.2}×")
    } else {
        format!("{x:.1}×")
    }
}

/// A number read from a target: whole numbers grouped (`1,180`, `-3`),
/// others with up to three decimals.
pub fn number(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        let n = count(v.abs() as u64);
        return if v < 0.0 { format!("-{n}") } else { n };
    }
    decimal(v, 3)
}

/// A plain decimal with up to `max_dec` decimals and trailing zeros removed.
pub fn decimal(v: f64, max_dec: usize) -> String {
    if !v.is_finite() {
        return NA.to_string();
    }
    let s = format!("{v:.max_dec$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Seconds as `1m 05s` / `12.5 s`.
pub fn seconds(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        return NA.to_string();
    }
    if s < 60.0 {
        format!("{s:.1} s")
    } else {
        let total = s.round() as u64;
        format!("{}m {:02}s", total / 60, total % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_format_numbers() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1180), "1,180");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(ms(0.421), "0.42 ms");
        assert_eq!(ms(820.2), "820 ms");
        assert_eq!(ms(9800.0), "9.8 s");
        assert_eq!(ms(f64::NAN), "n/a");
        assert_eq!(pct(0.9412), "94.1%");
        assert_eq!(times(6.43), "6.4×");
        assert_eq!(times(1.3), "1.30×");
        assert_eq!(decimal(2.50, 3), "2.5");
        assert_eq!(decimal(3.0, 3), "3");
        assert_eq!(seconds(65.0), "1m 05s");
    }
}
