//! Keeping secrets out of what is kept: a string from the target (an error
//! code, an SSE error's reason) is scrubbed of every secret the user holds
//! before it is stored in a report, and of the forms an echo takes: a copy
//! cut short (any piece of 8 characters or more of the secret, so a
//! 64-byte cut of a JWT does not leak its first 60), upper or lower case,
//! percent-encoded, or JSON-escaped. Classification reads the string as
//! sent; only what is kept is scrubbed.

use std::borrow::Cow;

/// Shown instead of a secret.
pub const MASK: &str = "***";

/// Pieces of a secret at least this long are a leak.
pub const MIN_PIECE: usize = 8;

/// Secrets shorter than this are only scrubbed when seen whole (a "1"
/// quantity column would otherwise scrub everything).
pub const MIN_SECRET: usize = 4;

/// `text` with every secret, and every piece of one of at least
/// [`MIN_PIECE`] bytes, replaced by [`MASK`], case-insensitively, also in
/// its percent-encoded and JSON-escaped forms.
pub fn scrub<'t, S: AsRef<str>>(text: &'t str, secrets: &[S]) -> Cow<'t, str> {
    let mut out = Cow::Borrowed(text);
    for s in secrets {
        let s = s.as_ref();
        if s.len() < MIN_SECRET {
            continue;
        }
        for form in forms(s) {
            if let Some(masked) = mask(&out, &form) {
                out = Cow::Owned(masked);
            }
        }
    }
    out
}

/// The secret as sent, percent-encoded and JSON-escaped (each lower-cased).
fn forms(s: &str) -> Vec<String> {
    let mut v = vec![s.to_ascii_lowercase()];
    let pct: String = s
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02x}")
            }
        })
        .collect();
    let json = serde_json::Value::String(s.to_string()).to_string();
    let json = json[1..json.len() - 1].to_ascii_lowercase();
    for f in [pct, json] {
        if !v.contains(&f) {
            v.push(f);
        }
    }
    v
}

/// Every span of `text` that is a piece of `secret` (lower case) of at
/// least [`MIN_PIECE`] bytes (or the whole secret, when it is shorter)
/// replaced by the mask; `None` when there is none.
fn mask(text: &str, secret: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let (t, s) = (lower.as_bytes(), secret.as_bytes());
    let need = MIN_PIECE.min(s.len());
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i + need <= t.len() {
        // The longest piece of the secret that starts here.
        let best = (0..s.len())
            .map(|j| {
                t[i..]
                    .iter()
                    .zip(&s[j..])
                    .take_while(|(a, b)| a == b)
                    .count()
            })
            .max()
            .unwrap_or(0);
        if best >= need {
            spans.push((i, i + best));
            i += best;
        } else {
            i += 1;
        }
    }
    if spans.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (a, b) in spans {
        // Whole characters only (the mask may eat a multi-byte one).
        let a = floor(text, a);
        let b = ceil(text, b);
        if a < at {
            continue;
        }
        out.push_str(&text[at..a]);
        out.push_str(MASK);
        at = b;
    }
    out.push_str(&text[at..]);
    Some(out)
}

fn floor(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str =
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJidXllcjFAZXhhbXBsZS50ZXN0In0.c2lnbmF0dXJlLWJ5dGVz";

    #[test]
    fn whole_cut_cased_and_encoded_echoes_are_scrubbed() {
        let s = [JWT];
        assert_eq!(scrub(&format!("BAD_TOKEN_{JWT}"), &s), "BAD_TOKEN_***");
        // Cut at 64 bytes: no piece of 8 or more survives.
        let cut = &format!("TOKEN:{JWT}")[..64];
        let out = scrub(cut, &s);
        assert_eq!(out, "TOKEN:***", "{out}");
        // Lower-cased by the target, or only its middle.
        assert_eq!(scrub(&JWT.to_ascii_lowercase(), &s), "***");
        assert_eq!(scrub(&format!("x {} y", &JWT[20..40]), &s), "x *** y");
        // Percent-encoded and JSON-escaped.
        let pw = ["p@ss w\"rd/9!"];
        assert_eq!(scrub("E_p%40ss%20w%22rd%2f9%21", &pw), "E_***");
        assert_eq!(scrub(r#"E_p@ss w\"rd/9!"#, &pw), "E_***");
    }

    #[test]
    fn what_is_not_a_secret_stays() {
        let s = ["correct-horse-battery"];
        assert_eq!(scrub("INSUFFICIENT_SEATS", &s), "INSUFFICIENT_SEATS");
        // Pieces shorter than 8 bytes are ordinary text.
        assert_eq!(scrub("HORSE_ERROR", &s), "HORSE_ERROR");
        // Short secrets only whole; a 1-byte one never.
        assert_eq!(scrub("ID_4242_BAD", &["4242"]), "ID_***_BAD");
        assert_eq!(scrub("A1B", &["1"]), "A1B");
        assert!(matches!(
            scrub("OK", &["long-enough-secret"]),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn multibyte_text_is_cut_on_character_boundaries() {
        let s = ["secretvalue123"];
        let out = scrub("é:secretvalue123:é", &s);
        assert_eq!(out, "é:***:é");
    }
}
