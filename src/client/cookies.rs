//! A minimal per-user cookie jar: what a browser keeps for one site. One
//! target per run, so domain and path are not matched; `Max-Age=0` (or
//! negative) deletes a cookie, as a logout does. Values are credentials:
//! the `Cookie` header built from them is marked sensitive.

use http::HeaderValue;

#[derive(Debug, Default, Clone)]
pub struct CookieJar {
    cookies: Vec<(String, String)>,
}

/// Most cookies one user keeps (a runaway target cannot grow a user).
const MAX_COOKIES: usize = 50;
/// Longest `Set-Cookie` value read.
const MAX_COOKIE_BYTES: usize = 4096;

impl CookieJar {
    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }

    /// Absorb one `Set-Cookie` header value; the value kept, when it is
    /// one the jar did not hold (a new cookie, or a new value).
    pub fn set(&mut self, header: &[u8]) -> Option<&str> {
        if header.len() > MAX_COOKIE_BYTES {
            return None;
        }
        let s = std::str::from_utf8(header).ok()?;
        let mut parts = s.split(';');
        let (name, value) = parts.next().and_then(|nv| nv.split_once('='))?;
        let (name, value) = (name.trim(), value.trim().trim_matches('"'));
        if name.is_empty() {
            return None;
        }
        let expired = parts.any(|a| {
            a.split_once('=').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("max-age")
                    && v.trim().parse::<i64>().is_ok_and(|n| n <= 0)
            })
        });
        let known = self.cookies.iter().any(|(n, v)| n == name && v == value);
        self.cookies.retain(|(n, _)| n != name);
        if !expired && self.cookies.len() < MAX_COOKIES {
            self.cookies.push((name.to_string(), value.to_string()));
            if !known {
                return self.cookies.last().map(|(_, v)| v.as_str());
            }
        }
        None
    }

    /// The values the target set (credentials: never in a report).
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.cookies.iter().map(|(_, v)| v.as_str())
    }

    /// The `Cookie` header to send, when there is anything to send.
    pub fn header(&self) -> Option<HeaderValue> {
        if self.cookies.is_empty() {
            return None;
        }
        let mut s = String::new();
        for (i, (n, v)) in self.cookies.iter().enumerate() {
            if i > 0 {
                s.push_str("; ");
            }
            s.push_str(n);
            s.push('=');
            s.push_str(v);
        }
        let mut h = HeaderValue::from_str(&s).ok()?;
        h.set_sensitive(true);
        Some(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_replaces_and_deletes() {
        let mut j = CookieJar::default();
        assert!(j.header().is_none());
        j.set(b"sid=abc; Path=/; HttpOnly");
        j.set(b"theme=\"dark\"");
        assert_eq!(j.header().unwrap(), "sid=abc; theme=dark");
        assert!(j.header().unwrap().is_sensitive());
        j.set(b"sid=def");
        assert_eq!(j.header().unwrap(), "theme=dark; sid=def");
        j.set(b"theme=; Max-Age=0");
        assert_eq!(j.header().unwrap(), "sid=def");
        j.set(b"garbage");
        j.set(b"=novalue");
        assert_eq!(j.header().unwrap(), "sid=def");
        for i in 0..100 {
            j.set(format!("c{i}=v").as_bytes());
        }
        assert_eq!(j.cookies.len(), MAX_COOKIES);
    }

    #[test]
    fn a_value_is_returned_once_while_it_is_new() {
        let mut j = CookieJar::default();
        assert_eq!(j.set(b"sid=abc; Path=/"), Some("abc"));
        assert_eq!(j.set(b"sid=abc; Path=/"), None, "the same value again");
        assert_eq!(j.set(b"sid=\"def\""), Some("def"));
        assert_eq!(j.set(b"sid=; Max-Age=0"), None, "a deletion keeps nothing");
        assert_eq!(j.set(b"garbage"), None);
        assert_eq!(
            j.set(b"sid=abc"),
            Some("abc"),
            "new again after its deletion"
        );
    }
}
