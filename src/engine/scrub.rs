//! Keeping secrets out of what is kept: a string from the target (an error
//! code, an SSE error's reason) is scrubbed of every secret the user holds
//! before it is stored in a report, and of the forms an echo takes: a copy
//! cut short (any piece of 8 characters or more of the secret, so a
//! 64-byte cut of a JWT does not leak its first 60), upper or lower case,
//! percent-encoded, JSON-escaped, base64 or base64url. Classification reads the string as
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
/// its percent-encoded, JSON-escaped, base64 and base64url forms.
pub fn scrub<'t, S: AsRef<str>>(text: &'t str, secrets: &[S]) -> Cow<'t, str> {
    // Every form of every secret is looked for in the text as received, and
    // the spans found are masked together: one form masked first cannot
    // leave the tail another form would have covered.
    let lower = text.to_ascii_lowercase();
    let mut found: Vec<(usize, usize)> = Vec::new();
    for s in secrets {
        let s = s.as_ref();
        if s.len() < MIN_SECRET {
            continue;
        }
        for form in forms(s) {
            found.extend(spans(lower.as_bytes(), form.as_bytes()));
        }
    }
    if found.is_empty() {
        return Cow::Borrowed(text);
    }
    found.sort_unstable();
    Cow::Owned(mask(text, &found))
}

/// The secret as sent, percent-encoded, JSON-escaped, base64 and base64url
/// (each lower-cased).
pub(super) fn forms(s: &str) -> Vec<String> {
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
    // base64 and base64url (a cookie or a JWT claim carrying it); without
    // padding, so a cut copy is a piece of the form.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD.encode(s);
    let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    for f in [
        pct.to_ascii_lowercase(),
        json,
        b64.to_ascii_lowercase(),
        b64url.to_ascii_lowercase(),
    ] {
        if !v.contains(&f) {
            v.push(f);
        }
    }
    v
}

/// Every span of `t` (lower case) that is a piece of `secret` (lower case)
/// of at least [`MIN_PIECE`] bytes (or the whole secret, when it is
/// shorter), longest first at each position.
fn spans(t: &[u8], s: &[u8]) -> Vec<(usize, usize)> {
    let need = MIN_PIECE.min(s.len());
    let mut spans = Vec::new();
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
    spans
}

/// `text` with the sorted `spans` (overlapping ones merged) replaced by
/// the mask, on whole characters (the mask may eat a multi-byte one).
pub(super) fn mask(text: &str, spans: &[(usize, usize)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for &(a, b) in spans {
        let (a, b) = (floor(text, a), ceil(text, b));
        if b <= at {
            continue;
        }
        if a >= at {
            out.push_str(&text[at..a]);
            out.push_str(MASK);
        }
        // An overlapping span extends the mask already written.
        at = b;
    }
    out.push_str(&text[at..]);
    out
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
        // base64 (a Basic header echoed) and base64url, whole or cut.
        let pw = ["hunter2-secret?>>"];
        // STANDARD: aHVudGVyMi1zZWNyZXQ/Pj4, URL_SAFE: aHVudGVyMi1zZWNyZXQ_Pj4
        assert_eq!(scrub("BAD_aHVudGVyMi1zZWNyZXQ/Pj4=", &pw), "BAD_***=");
        assert_eq!(scrub("BAD_aHVudGVyMi1zZWNyZXQ_Pj4", &pw), "BAD_***");
        assert_eq!(scrub("E:aHVudGVyMi1z", &pw), "E:***");
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
