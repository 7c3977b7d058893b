//! The window of a windowed gate: `in every 10s window`,
//! `in 99% of 10s windows`. The round is cut into tumbling windows of whole
//! seconds from its start; the gate holds when its bound holds in at least
//! the given share of the windows that had something to measure.

/// Widths from one second to one day.
pub const MAX_WIDTH_S: u32 = 86_400;

/// How a windowed gate is held.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GateWindow {
    pub width_s: u32,
    /// The share of measured windows that must hold, in (0, 1].
    pub share: f64,
}

/// Split `value [unit] in ...` into the value text and its window, if any.
/// `Err` carries the message for a window that cannot be understood.
pub fn split(rhs: &str) -> Result<(&str, Option<GateWindow>), String> {
    let Some(at) = find_in(rhs) else {
        return Ok((rhs, None));
    };
    let (value, window) = (rhs[..at].trim_end(), rhs[at + 2..].trim());
    parse(window).map(|w| (value, Some(w)))
}

/// The byte offset of the word `in` (after whitespace).
fn find_in(rhs: &str) -> Option<usize> {
    rhs.char_indices().find_map(|(i, c)| {
        let rest = &rhs[i + c.len_utf8()..];
        (c.is_whitespace()
            && rest.starts_with("in")
            && (rest.len() == 2 || rest[2..].starts_with(char::is_whitespace)))
        .then_some(i + c.len_utf8())
    })
}

const FORMS: &str = "`in every 10s window` or `in 99% of 10s windows` (widths in s, m or h)";

fn parse(text: &str) -> Result<GateWindow, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let (share, width, noun) = match words.as_slice() {
        ["every", width, noun] => (1.0, *width, *noun),
        [share, "of", width, noun] => (parse_share(share)?, *width, *noun),
        _ => return Err(format!("`in {text}`: expected {FORMS}")),
    };
    if !["window", "windows"].contains(&noun) {
        return Err(format!("`in {text}`: expected {FORMS}"));
    }
    Ok(GateWindow {
        width_s: parse_width(width)?,
        share,
    })
}

fn parse_share(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .strip_suffix('%')
        .and_then(|n| n.parse().ok())
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| format!("`{s}` is not a percentage of windows (e.g. 99%)"))?;
    if v <= 0.0 || v > 100.0 {
        return Err(format!("`{s}`: the share of windows must be in (0%, 100%]"));
    }
    Ok(v / 100.0)
}

fn parse_width(s: &str) -> Result<u32, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => {
            return Err(format!(
                "`{s}` is not a window width: whole seconds, minutes or hours (10s, 1m, 1h)"
            ));
        }
    };
    let width = n
        .parse::<u32>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .filter(|w| (1..=MAX_WIDTH_S).contains(w))
        .ok_or_else(|| format!("`{s}`: a window is 1s to 24h wide"))?;
    Ok(width)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(width_s: u32, share: f64) -> Option<GateWindow> {
        Some(GateWindow { width_s, share })
    }

    #[test]
    fn windows_are_split_off_the_value() {
        assert_eq!(split("800ms"), Ok(("800ms", None)));
        assert_eq!(
            split("800ms in every 10s window"),
            Ok(("800ms", w(10, 1.0)))
        );
        assert_eq!(
            split("800 ms  in 99% of 10s windows"),
            Ok(("800 ms", w(10, 0.99)))
        );
        assert_eq!(
            split("99% in 99.5% of 1m windows"),
            Ok(("99%", w(60, 0.995)))
        );
        assert_eq!(split("2 in every 1h window"), Ok(("2", w(3600, 1.0))));
        assert_eq!(split("5 in 100% of 1s windows"), Ok(("5", w(1, 1.0))));
    }

    #[test]
    fn a_window_that_cannot_be_read_is_an_error() {
        for bad in [
            "800ms in 10s windows",
            "800ms in every 10s",
            "800ms in every 10s minute",
            "800ms in 0% of 10s windows",
            "800ms in 101% of 10s windows",
            "800ms in 99 of 10s windows",
            "800ms in every 0s window",
            "800ms in every 1.5s window",
            "800ms in every 10ms window",
            "800ms in every 2d window",
            "800ms in every 25h window",
            "800ms in every 99999999999s window",
            "800ms in",
        ] {
            assert!(split(bad).is_err(), "{bad}");
        }
    }
}
