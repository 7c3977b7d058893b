//! `stampede run --trace N`: every request and response on stdout, with
//! every secret redacted: credential headers (Authorization, Cookie,
//! Set-Cookie, Proxy-Authorization and any templated header), JSON fields
//! that name a secret (`token`, `password`, ...), and every known secret
//! value (users CSV cells, the `token_env` token) wherever it appears.
//! Secrets the run learns on the way are redacted too, wherever the target
//! echoes them later: a credential header's value as sent (a captured
//! login token), a cookie the target set, a secret-named field's value in
//! an answer.

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use std::io::Write;

/// How much of each body is shown.
pub const BODY_BYTES: usize = 512;

/// Shown instead of a secret.
pub const REDACTED: &str = "***";

const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
];
const SECRET_KEYS: &[&str] = &[
    "token", "password", "passwd", "secret", "session", "cookie", "apikey", "api_key",
];

/// Most secrets learned from the wire (a trace covers a few journeys).
const MAX_LEARNED: usize = 4096;

/// Replaces every secret (and its cut, cased and encoded forms) in a text.
pub type Scrub = fn(&str, &[String]) -> String;

pub struct Tracer {
    /// Longest first, so a secret containing another is replaced whole.
    secrets: Vec<String>,
    /// Secrets seen on the wire so far (see the module docs).
    learned: std::sync::Mutex<Vec<String>>,
    /// The report's scrubber, when the run gives one: without it, only
    /// whole secrets are replaced.
    scrub: Option<Scrub>,
}

impl Tracer {
    pub fn new(mut secrets: Vec<String>) -> Self {
        secrets.retain(|s| s.len() >= 3);
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self {
            secrets,
            learned: std::sync::Mutex::new(Vec::new()),
            scrub: None,
        }
    }

    /// Scrub traced text with `scrub` (the one the report uses).
    pub fn with_scrub(mut self, scrub: Scrub) -> Self {
        self.scrub = Some(scrub);
        self
    }

    fn learn(&self, value: &str) {
        let value = value.trim();
        if value.len() < 3 {
            return;
        }
        if let Ok(mut l) = self.learned.lock()
            && l.len() < MAX_LEARNED
            && !l.iter().any(|s| s == value)
        {
            l.push(value.to_string());
        }
    }

    /// What a credential header's value holds: a bearer token, cookie
    /// values, or the whole value.
    fn learn_header(&self, name: &HeaderName, v: &HeaderValue) {
        let Ok(text) = v.to_str() else {
            return;
        };
        match name.as_str() {
            "cookie" => text
                .split(';')
                .filter_map(|c| c.split_once('=').map(|(_, v)| v))
                .for_each(|v| self.learn(v)),
            "set-cookie" => {
                let first = text.split(';').next().unwrap_or("");
                if let Some((_, v)) = first.split_once('=') {
                    self.learn(v);
                }
            }
            _ => {
                self.learn(text);
                if let Some((_, cred)) = text.split_once(' ') {
                    self.learn(cred);
                }
            }
        }
    }

    /// `s` without any secret: what stampede sent has them whole; what the
    /// target sent (`echo`) may hold them cut, cased or encoded, and goes
    /// through the report's scrubber.
    fn text(&self, s: &str, echo: bool) -> String {
        let mut all = self.secrets.clone();
        if let Ok(l) = self.learned.lock() {
            all.extend(l.iter().cloned());
        }
        if let Some(scrub) = self.scrub.filter(|_| echo) {
            return scrub(s, &all);
        }
        all.sort_by_key(|s| std::cmp::Reverse(s.len()));
        let mut out = s.to_string();
        for sec in &all {
            if out.contains(sec.as_str()) {
                out = out.replace(sec.as_str(), REDACTED);
            }
        }
        out
    }

    fn header(&self, out: &mut String, name: &HeaderName, v: &HeaderValue, echo: bool) {
        let shown = if v.is_sensitive() || SECRET_HEADERS.contains(&name.as_str()) {
            self.learn_header(name, v);
            REDACTED.to_string()
        } else {
            self.text(&String::from_utf8_lossy(v.as_bytes()), echo)
        };
        out.push_str(&format!("  {name}: {shown}\n"));
    }

    fn body(&self, out: &mut String, body: &[u8], echo: bool) {
        if body.is_empty() {
            return;
        }
        // The bytes as sent (key order, spacing), with the values of
        // secret-named JSON fields and every known secret replaced.
        let mut text = String::from_utf8_lossy(body).into_owned();
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
            let mut found = Vec::new();
            secret_values(&v, &mut found);
            found.iter().for_each(|s| self.learn(s));
            found.sort_by_key(|s| std::cmp::Reverse(s.len()));
            for s in found.iter().filter(|s| !s.is_empty()) {
                // As JSON writes the value, quotes included, so only the
                // value is replaced (never a key or another string's part).
                let quoted = serde_json::Value::String(s.clone()).to_string();
                text = text.replace(&quoted, &format!("\"{REDACTED}\""));
            }
        }
        let text = self.text(&text, echo);
        let mut end = text.len().min(BODY_BYTES);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        out.push_str("  \n  ");
        out.push_str(&text[..end].replace('\n', "\n  "));
        if end < text.len() {
            out.push_str(&format!(" … ({} bytes in all)", text.len()));
        }
        out.push('\n');
    }

    pub fn request(&self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) {
        // Credentials first, so the line that carries one is already scrubbed.
        for (k, v) in headers {
            if v.is_sensitive() || SECRET_HEADERS.contains(&k.as_str()) {
                self.learn_header(k, v);
            }
        }
        let mut out = format!("> {method} {}\n", self.text(&uri.to_string(), false));
        for (k, v) in headers {
            self.header(&mut out, k, v, false);
        }
        self.body(&mut out, body, false);
        emit(&out);
    }

    pub fn response(&self, status: u16, headers: &HeaderMap, body: &[u8]) {
        for v in headers.get_all(http::header::SET_COOKIE) {
            self.learn_header(&http::header::SET_COOKIE, v);
        }
        let mut out = format!("< {status}\n");
        for (k, v) in headers {
            self.header(&mut out, k, v, true);
        }
        self.body(&mut out, body, true);
        emit(&out);
    }

    pub fn failure(&self, what: &str) {
        emit(&format!("< no response: {}\n", self.text(what, true)));
    }
}

fn emit(s: &str) {
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{s}");
}

/// The string values of secret-named fields (`token`, `password`, ...).
fn secret_values(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, val) in m {
                let k = k.to_ascii_lowercase();
                match val {
                    serde_json::Value::String(s) if SECRET_KEYS.iter().any(|x| k.contains(x)) => {
                        out.push(s.clone());
                    }
                    other => secret_values(other, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| secret_values(x, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_headers_bodies_and_urls() {
        let t = Tracer::new(vec!["hunter2".into(), "ab".into()]);
        assert_eq!(t.text("/login?p=hunter2&x=ab", false), "/login?p=***&x=ab");
        let mut out = String::new();
        t.body(
            &mut out,
            br#"{"data":{"accessToken":"T-1","user":"alice","n":[{"password":"x"}]}}"#,
            true,
        );
        assert!(out.contains(r#""accessToken":"***""#), "{out}");
        assert!(
            out.contains(r#""password":"***""#) && out.contains("alice"),
            "{out}"
        );
        let mut out = String::new();
        let mut sens = HeaderValue::from_static("v-1");
        sens.set_sensitive(true);
        t.header(
            &mut out,
            &http::header::SET_COOKIE,
            &HeaderValue::from_static("s=1"),
            true,
        );
        t.header(&mut out, &HeaderName::from_static("x-user"), &sens, false);
        t.header(
            &mut out,
            &HeaderName::from_static("x-plain"),
            &HeaderValue::from_static("hunter2!"),
            false,
        );
        assert_eq!(out, "  set-cookie: ***\n  x-user: ***\n  x-plain: ***!\n");
    }

    #[test]
    fn a_body_is_shown_as_sent_with_its_secrets_out() {
        let t = Tracer::new(Vec::new());
        let mut out = String::new();
        t.body(
            &mut out,
            br#"{"zeta": 1, "password": "pw \"1\"", "alpha":"pw"}"#,
            false,
        );
        assert_eq!(
            out.trim(),
            r#"{"zeta": 1, "password": "***", "alpha":"pw"}"#,
            "key order and spacing kept, only the secret value replaced"
        );
    }

    #[test]
    fn bodies_are_cut() {
        let t = Tracer::new(Vec::new());
        let mut out = String::new();
        t.body(&mut out, "é".repeat(600).as_bytes(), true);
        assert!(out.contains("(1200 bytes in all)"), "{out}");
        assert!(out.len() < 600, "{}", out.len());
    }

    #[test]
    fn a_learned_credential_echoed_back_cut_and_cased_is_scrubbed() {
        fn whole(t: &str, s: &[String]) -> String {
            s.iter().fold(t.to_string(), |t, s| {
                t.to_lowercase().replace(&s.to_lowercase()[..8], REDACTED)
            })
        }
        let t = Tracer::new(Vec::new()).with_scrub(whole);
        let mut sent = HeaderMap::new();
        sent.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_static("Bearer TOKEN-ABCDEFGH-1"),
        );
        for (k, v) in &sent {
            t.learn_header(k, v);
        }
        let mut out = String::new();
        t.body(&mut out, br#"{"echo":"token-abcdefgh"}"#, true);
        assert!(!out.contains("token-ab"), "{out}");
        // What stampede sent is shown with whole secrets out only.
        assert_eq!(t.text("token-ab", false), "token-ab");
    }
}
