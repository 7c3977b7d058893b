//! `stampede run --trace N`: every request and response on stdout, with
//! every secret redacted: credential headers (Authorization, Cookie,
//! Set-Cookie, Proxy-Authorization and any templated header), JSON fields
//! that name a secret (`token`, `password`, ...), and every known secret
//! value (users CSV cells, the `token_env` token) wherever it appears.

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

pub struct Tracer {
    /// Longest first, so a secret containing another is replaced whole.
    secrets: Vec<String>,
}

impl Tracer {
    pub fn new(mut secrets: Vec<String>) -> Self {
        secrets.retain(|s| s.len() >= 3);
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self { secrets }
    }

    fn text(&self, s: &str) -> String {
        let mut out = s.to_string();
        for sec in &self.secrets {
            if out.contains(sec.as_str()) {
                out = out.replace(sec.as_str(), REDACTED);
            }
        }
        out
    }

    fn header(&self, out: &mut String, name: &HeaderName, v: &HeaderValue) {
        let shown = if v.is_sensitive() || SECRET_HEADERS.contains(&name.as_str()) {
            REDACTED.to_string()
        } else {
            self.text(&String::from_utf8_lossy(v.as_bytes()))
        };
        out.push_str(&format!("  {name}: {shown}\n"));
    }

    fn body(&self, out: &mut String, body: &[u8]) {
        if body.is_empty() {
            return;
        }
        // The bytes as sent (key order, spacing), with the values of
        // secret-named JSON fields and every known secret replaced.
        let mut text = String::from_utf8_lossy(body).into_owned();
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
            let mut found = Vec::new();
            secret_values(&v, &mut found);
            found.sort_by_key(|s| std::cmp::Reverse(s.len()));
            for s in found.iter().filter(|s| !s.is_empty()) {
                // As JSON writes the value, quotes included, so only the
                // value is replaced (never a key or another string's part).
                let quoted = serde_json::Value::String(s.clone()).to_string();
                text = text.replace(&quoted, &format!("\"{REDACTED}\""));
            }
        }
        let text = self.text(&text);
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
        let mut out = format!("> {method} {}\n", self.text(&uri.to_string()));
        for (k, v) in headers {
            self.header(&mut out, k, v);
        }
        self.body(&mut out, body);
        emit(&out);
    }

    pub fn response(&self, status: u16, headers: &HeaderMap, body: &[u8]) {
        let mut out = format!("< {status}\n");
        for (k, v) in headers {
            self.header(&mut out, k, v);
        }
        self.body(&mut out, body);
        emit(&out);
    }

    pub fn failure(&self, what: &str) {
        emit(&format!("< no response: {}\n", self.text(what)));
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
        assert_eq!(t.text("/login?p=hunter2&x=ab"), "/login?p=***&x=ab");
        let mut out = String::new();
        t.body(
            &mut out,
            br#"{"data":{"accessToken":"T-1","user":"alice","n":[{"password":"x"}]}}"#,
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
        );
        t.header(&mut out, &HeaderName::from_static("x-user"), &sens);
        t.header(
            &mut out,
            &HeaderName::from_static("x-plain"),
            &HeaderValue::from_static("hunter2!"),
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
        t.body(&mut out, "é".repeat(600).as_bytes());
        assert!(out.contains("(1200 bytes in all)"), "{out}");
        assert!(out.len() < 600, "{}", out.len());
    }
}
