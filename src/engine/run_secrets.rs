//! The secrets a run has learned, from every user: each users CSV value of
//! every row, the bearer tokens, each secret-named capture (its variable
//! name or JSON pointer says token, pass, secret, session, auth, cookie,
//! credential, bearer, jwt or key, or its step says `secret = true`) and
//! each cookie the target set.
//! A target that echoes user A's token into user B's error code is scrubbed
//! of it too: every outcome label of every fleet and step, and every note,
//! goes through [`RunSecrets`] at the report edge (`run::execute`, once the
//! last round is over), and each streamed second's labels go through it as
//! they are written (with the secrets known by then). Each user also
//! scrubs what it keeps of its own secrets at once (`user/flow.rs`).
//!
//! Cost: a secret is indexed by every 8-byte window of each of its forms
//! (lower case, percent-encoded, JSON-escaped, base64, base64url), packed
//! in a `u64`; a secret shorter than 8 bytes by its whole forms. Scrubbing
//! a text is then one lookup per byte and length, whatever the number of
//! secrets, and it runs over the distinct labels only (at most 256 per
//! step), never per operation. Registering is a write lock, taken once per
//! capture or cookie that arrives.

use super::scrub::{MIN_PIECE, MIN_SECRET, forms, mask};
use crate::model::FleetResult;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::sync::RwLock;

/// Words that make a capture's variable name or JSON pointer a secret.
const SECRET_WORDS: &[&str] = &[
    "token",
    "password",
    "passwd",
    "pass",
    "secret",
    "session",
    "auth",
    "cookie",
    "credential",
    "bearer",
    "jwt",
    "key",
];

/// Whether a capture named `name`, read at `pointer`, holds a secret.
pub fn secretish(name: &str, pointer: &str) -> bool {
    let (n, p) = (name.to_ascii_lowercase(), pointer.to_ascii_lowercase());
    SECRET_WORDS.iter().any(|w| n.contains(w) || p.contains(w))
}

/// Every secret the run has learned, indexed for scrubbing; shared by
/// every round and user of the run.
#[derive(Default)]
pub struct RunSecrets {
    index: RwLock<Index>,
}

/// Packed pieces by length: `by_len[l - MIN_SECRET]` holds the pieces of
/// `l` bytes (lower case). Length [`MIN_PIECE`] holds every window of the
/// longer forms; the shorter lengths hold whole short forms.
#[derive(Default)]
struct Index {
    by_len: [HashSet<u64>; MIN_PIECE - MIN_SECRET + 1],
}

/// Up to 8 bytes as one `u64` (lengths are kept apart by `by_len`).
fn pack(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |v, &b| (v << 8) | u64::from(b))
}

impl RunSecrets {
    /// Registers `secret` (shorter than [`MIN_SECRET`] bytes: ignored, as
    /// by [`super::scrub::scrub`]).
    pub fn add(&self, secret: &str) {
        if secret.len() < MIN_SECRET {
            return;
        }
        let forms = forms(secret);
        let mut index = self
            .index
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for f in &forms {
            let f = f.as_bytes();
            if f.len() < MIN_PIECE {
                index.by_len[f.len() - MIN_SECRET].insert(pack(f));
            } else {
                let set = &mut index.by_len[MIN_PIECE - MIN_SECRET];
                set.extend(f.windows(MIN_PIECE).map(pack));
            }
        }
    }

    /// Registers every one of `secrets`.
    pub fn add_all<S: AsRef<str>>(&self, secrets: impl IntoIterator<Item = S>) {
        for s in secrets {
            self.add(s.as_ref());
        }
    }

    /// `text` with every piece of a registered secret (8 bytes or more, or
    /// a short secret whole), in any case and form, replaced by
    /// [`super::scrub::MASK`]: what [`super::scrub::scrub`] does with one user's
    /// secrets, over the whole run's.
    pub fn scrub<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let index = self
            .index
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let lower = text.to_ascii_lowercase();
        let t = lower.as_bytes();
        let mut found = Vec::new();
        for (k, set) in index.by_len.iter().enumerate() {
            let len = MIN_SECRET + k;
            if set.is_empty() || t.len() < len {
                continue;
            }
            for (i, w) in t.windows(len).enumerate() {
                if set.contains(&pack(w)) {
                    found.push((i, i + len));
                }
            }
        }
        if found.is_empty() {
            return Cow::Borrowed(text);
        }
        found.sort_unstable();
        Cow::Owned(mask(text, &found))
    }

    /// Every outcome label of `results` (per fleet and per step) scrubbed;
    /// labels that become one add up.
    pub fn scrub_results(&self, results: &mut [FleetResult]) {
        for r in results {
            self.scrub_labels(&mut r.counts.outcomes);
            for s in &mut r.steps {
                self.scrub_labels(&mut s.outcomes);
            }
        }
    }

    /// The keys of `labels` scrubbed, counts of equal keys added.
    pub fn scrub_labels(&self, labels: &mut BTreeMap<String, u64>) {
        if !labels.keys().any(|k| self.scrub(k) != k.as_str()) {
            return;
        }
        let mut out = BTreeMap::new();
        for (k, n) in std::mem::take(labels) {
            *out.entry(self.scrub(&k).into_owned()).or_default() += n;
        }
        *labels = out;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::scrub::MASK;

    const JWT: &str =
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJidXllcjFAZXhhbXBsZS50ZXN0In0.c2lnbmF0dXJlLWJ5dGVz";

    #[test]
    fn a_run_secret_is_scrubbed_whole_cut_cased_and_encoded() {
        let s = RunSecrets::default();
        s.add_all([JWT, "p@ss w\"rd/9!", "hunter2-secret?>>", "alice", "ab"]);
        assert_eq!(s.scrub(&format!("BAD_TOKEN_{JWT}")), "BAD_TOKEN_***");
        assert_eq!(s.scrub(&format!("TOKEN:{JWT}")[..64]), "TOKEN:***");
        assert_eq!(s.scrub(&JWT.to_ascii_lowercase()), "***");
        assert_eq!(s.scrub(&format!("x {} y", &JWT[20..40])), "x *** y");
        assert_eq!(s.scrub("E_p%40ss%20w%22rd%2f9%21"), "E_***");
        assert_eq!(s.scrub(r#"E_p@ss w\"rd/9!"#), "E_***");
        assert_eq!(s.scrub("BAD_aHVudGVyMi1zZWNyZXQ/Pj4="), "BAD_***=");
        assert_eq!(s.scrub("BAD_aHVudGVyMi1zZWNyZXQ_Pj4"), "BAD_***");
        // A short secret whole, any case; one under 4 bytes never.
        assert_eq!(s.scrub("USER_ALICE_BANNED"), "USER_***_BANNED");
        assert_eq!(s.scrub("TAB_FULL"), "TAB_FULL");
        // A piece under 8 bytes of a long secret is not one.
        assert_eq!(s.scrub("eyJhbGci"), "***");
        assert_eq!(s.scrub("eyJhbGc"), "eyJhbGc");
        assert!(matches!(s.scrub("INSUFFICIENT_SEATS"), Cow::Borrowed(_)));
        // Upper-case letters in a percent-encoded copy (`Alice%20pw`).
        s.add("Alice pw/42&more");
        assert_eq!(s.scrub("LEAK_Alice%20pw%2F42%26more"), "LEAK_***");
    }

    /// Pieces in `s`'s index, of every length.
    fn index_len(s: &RunSecrets) -> usize {
        s.index
            .read()
            .unwrap()
            .by_len
            .iter()
            .map(HashSet::len)
            .sum()
    }

    #[test]
    fn the_index_holds_at_most_a_window_per_byte_of_each_form() {
        let s = RunSecrets::default();
        s.add(JWT);
        let entries = index_len(&s);
        // Five forms at most (here the text, base64 and base64url).
        let bound: usize = forms(JWT).iter().map(|f| f.len() - MIN_PIECE + 1).sum();
        assert!(entries > 0 && entries <= bound, "{entries} > {bound}");
        // The same secret again indexes nothing new.
        s.add(JWT);
        let again = index_len(&s);
        assert_eq!(again, entries);
    }

    #[test]
    fn labels_that_scrub_alike_add_up() {
        let s = RunSecrets::default();
        s.add("tok-aaaaaaaaaaaa");
        let mut labels: BTreeMap<String, u64> = [
            ("BAD_tok-aaaaaaaaaaaa".to_string(), 2),
            ("BAD_TOK-AAAAAAAAAAAA".to_string(), 3),
            ("OK".to_string(), 5),
        ]
        .into_iter()
        .collect();
        s.scrub_labels(&mut labels);
        let want: BTreeMap<String, u64> = [(format!("BAD_{MASK}"), 5), ("OK".to_string(), 5)]
            .into_iter()
            .collect();
        assert_eq!(labels, want);
    }

    #[test]
    fn secret_named_captures() {
        assert!(secretish("token", "/data/x"));
        assert!(secretish("t", "/data/access_token"));
        assert!(secretish("sid", "/Session"));
        assert!(!secretish("booking_id", "/data/id"));
    }
}
