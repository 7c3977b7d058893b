//! gRPC server pushback (gRFC A6, "Pushback"): the `grpc-retry-pushback-ms`
//! response header. "The value is to be an ASCII encoded signed 32-bit
//! integer with no unnecessary leading zeros that represents how many
//! milliseconds to wait before sending a retry. If the value for pushback
//! is negative or unparseable, then it will be seen as the server asking
//! the client not to retry at all."

use std::time::Duration;

/// The header's name, as a policy with `pushback = true` reads it.
pub const PUSHBACK_HEADER: &str = "grpc-retry-pushback-ms";

/// What the server said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushback {
    /// Retry after exactly this long (and reset the backoff afterwards).
    After(Duration),
    /// Do not retry.
    Stop,
}

/// Read a `grpc-retry-pushback-ms` value. Optional whitespace around it is
/// dropped; leading zeros are tolerated ("007" is 7 ms); anything that is
/// not a signed 32-bit integer, and any negative number, says stop.
pub fn parse_pushback(value: &str) -> Pushback {
    let v = value.trim_matches([' ', '\t']);
    let digits = v.strip_prefix('-').unwrap_or(v);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Pushback::Stop;
    }
    match v.parse::<i32>() {
        Ok(ms) if ms >= 0 => Pushback::After(Duration::from_millis(ms as u64)),
        _ => Pushback::Stop,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reading_of_pushback_in_one_table() {
        let after = |ms| Pushback::After(Duration::from_millis(ms));
        let cases: &[(&str, Pushback)] = &[
            ("0", after(0)),
            ("250", after(250)),
            (" 1500\t", after(1500)),
            ("007", after(7)),
            ("2147483647", after(2_147_483_647)),
            // Negative: do not retry.
            ("-1", Pushback::Stop),
            ("-0", after(0)),
            // Unparseable: do not retry.
            ("2147483648", Pushback::Stop),
            ("1.5", Pushback::Stop),
            ("+5", Pushback::Stop),
            ("1e3", Pushback::Stop),
            ("", Pushback::Stop),
            ("soon", Pushback::Stop),
            ("5 ms", Pushback::Stop),
            ("-", Pushback::Stop),
        ];
        for (v, want) in cases {
            assert_eq!(parse_pushback(v), *want, "{v:?}");
        }
    }
}
