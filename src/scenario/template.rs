//! `${name}` placeholders in journey paths, bodies and headers.
//!
//! `${}` rather than `{}` because bodies are JSON and full of braces.
//! Templates are parsed once at plan time into literal, variable and helper
//! segments, so rendering on the hot path is a few `push_str`s and an
//! unknown variable is a configuration error, not a request with
//! `${bookingId}` in its URL.
//!
//! Helpers: `${uuid}`, `${unix_ms}`, `${random_int(a,b)}` (inclusive).

use std::fmt;

/// Index of a variable in a journey's variable table.
pub type VarId = usize;

/// A built-in helper, evaluated at render time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Helper {
    /// A random (v4) UUID.
    Uuid,
    /// Milliseconds since the Unix epoch.
    UnixMs,
    /// A random integer in `lo..=hi`.
    RandomInt(i64, i64),
}

/// Names of the helpers, for error messages.
pub const HELPERS: &str = "uuid, unix_ms, random_int(a,b)";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Lit(String),
    Var(VarId),
    Helper(Helper),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    segs: Vec<Seg>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unclosed `${{` in `{0}`")]
    Unclosed(String),
    #[error("unknown variable `${{{name}}}` (known: {known}; helpers: {HELPERS})")]
    Unknown { name: String, known: String },
    #[error("`${{{0}}}`: random_int takes two integers a <= b, e.g. `${{random_int(1,100)}}`")]
    BadHelper(String),
}

/// How variable values are written into the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// As they are (bodies, headers).
    None,
    /// Percent-encoded as one path segment or query value: only RFC 3986
    /// unreserved characters stay, so a value can neither add a segment
    /// (`/`), a query (`?`), a fragment (`#`) nor be a dot segment (`..`).
    Path,
}

/// Evaluates helpers while rendering (the engine seeds it per operation).
pub trait Helpers {
    fn write(&mut self, h: Helper, out: &mut String);
}

/// No helpers: they render empty (for tests and plan-time checks).
pub struct NoHelpers;
impl Helpers for NoHelpers {
    fn write(&mut self, _: Helper, _: &mut String) {}
}

fn parse_helper(name: &str) -> Result<Option<Helper>, TemplateError> {
    match name {
        "uuid" => return Ok(Some(Helper::Uuid)),
        "unix_ms" => return Ok(Some(Helper::UnixMs)),
        _ => {}
    }
    let Some(args) = name
        .strip_prefix("random_int")
        .map(str::trim_start)
        .and_then(|r| r.strip_prefix('('))
        .and_then(|r| r.strip_suffix(')'))
    else {
        return Ok(None);
    };
    let bad = || TemplateError::BadHelper(name.to_string());
    let (a, b) = args.split_once(',').ok_or_else(bad)?;
    let a: i64 = a.trim().parse().map_err(|_| bad())?;
    let b: i64 = b.trim().parse().map_err(|_| bad())?;
    if a > b {
        return Err(bad());
    }
    Ok(Some(Helper::RandomInt(a, b)))
}

impl Template {
    /// Parse `src`, resolving each `${name}` through `vars` (the variables
    /// defined before this point of the journey) or the helpers.
    pub fn parse(src: &str, vars: &[String]) -> Result<Self, TemplateError> {
        let mut segs = Vec::new();
        let mut rest = src;
        while let Some(start) = rest.find("${") {
            if start > 0 {
                segs.push(Seg::Lit(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| TemplateError::Unclosed(src.to_string()))?;
            let name = after[..end].trim();
            let seg = match vars.iter().position(|v| v == name) {
                Some(id) => Seg::Var(id),
                None => match parse_helper(name)? {
                    Some(h) => Seg::Helper(h),
                    None => {
                        return Err(TemplateError::Unknown {
                            name: name.to_string(),
                            known: vars.join(", "),
                        });
                    }
                },
            };
            segs.push(seg);
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            segs.push(Seg::Lit(rest.to_string()));
        }
        Ok(Self {
            source: src.to_string(),
            segs,
        })
    }

    /// Render with `values[id]` for each variable (missing values render empty).
    pub fn render(&self, values: &[String]) -> String {
        let mut out = String::new();
        self.render_into(
            &mut out,
            |id| values.get(id).map_or("", String::as_str),
            &mut NoHelpers,
            Escape::None,
        );
        out
    }

    /// Render with a lookup, so callers need not materialise every variable.
    pub fn render_with<'a>(&self, lookup: impl Fn(VarId) -> &'a str) -> String {
        let mut out = String::with_capacity(self.source.len() + 16);
        self.render_into(&mut out, lookup, &mut NoHelpers, Escape::None);
        out
    }

    /// Append the rendering to `out`; literal text is written as it is,
    /// variable and helper values escaped per `escape`.
    pub fn render_into<'a>(
        &self,
        out: &mut String,
        lookup: impl Fn(VarId) -> &'a str,
        helpers: &mut dyn Helpers,
        escape: Escape,
    ) {
        for seg in &self.segs {
            match seg {
                Seg::Lit(s) => out.push_str(s),
                Seg::Var(id) => push_escaped(out, lookup(*id), escape),
                Seg::Helper(h) => {
                    // Helpers write only unreserved characters ('-', digits,
                    // hex), except a negative random_int's '-': safe as is.
                    helpers.write(*h, out)
                }
            }
        }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the template reads any variable or helper (a literal is
    /// the whole value as written in the file).
    pub fn is_literal(&self) -> bool {
        self.segs.iter().all(|s| matches!(s, Seg::Lit(_)))
    }

    /// The literal text of the template with every placeholder replaced by
    /// `x`, for plan-time syntax checks (is it a valid path, header value?).
    pub fn sample(&self) -> String {
        self.segs
            .iter()
            .map(|s| match s {
                Seg::Lit(l) => l.as_str(),
                _ => "x",
            })
            .collect()
    }

    /// Variables this template reads.
    pub fn vars(&self) -> impl Iterator<Item = VarId> + '_ {
        self.segs.iter().filter_map(|s| match s {
            Seg::Var(id) => Some(*id),
            _ => None,
        })
    }
}

/// Is `b` an RFC 3986 unreserved character?
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn push_escaped(out: &mut String, v: &str, escape: Escape) {
    match escape {
        Escape::None => out.push_str(v),
        Escape::Path if v == "." || v == ".." => {
            // A dot segment would move the request up the tree.
            for _ in 0..v.len() {
                out.push_str("%2E");
            }
        }
        Escape::Path => {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            if v.bytes().all(unreserved) {
                out.push_str(v);
                return;
            }
            for b in v.bytes() {
                if unreserved(b) {
                    out.push(b as char);
                } else {
                    out.push('%');
                    out.push(HEX[(b >> 4) as usize] as char);
                    out.push(HEX[(b & 15) as usize] as char);
                }
            }
        }
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vec<String> {
        ["event", "zone", "bookingId"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn renders_json_body_with_braces() {
        let t = Template::parse(r#"{"eventId":"${event}","zoneId":"${zone}"}"#, &vars()).unwrap();
        let v = vec!["E1".to_string(), "A".to_string(), String::new()];
        assert_eq!(t.render(&v), r#"{"eventId":"E1","zoneId":"A"}"#);
    }

    #[test]
    fn unknown_variable_is_an_error_naming_it() {
        let e = Template::parse("/bookings/${booking}/confirm", &vars()).unwrap_err();
        assert!(e.to_string().contains("${booking}"), "{e}");
        assert!(e.to_string().contains("uuid"), "{e}");
    }

    #[test]
    fn unclosed_placeholder_is_an_error() {
        assert!(matches!(
            Template::parse("/x/${zone", &vars()),
            Err(TemplateError::Unclosed(_))
        ));
    }

    #[test]
    fn path_with_capture() {
        let t = Template::parse("/bookings/${bookingId}/confirm", &vars()).unwrap();
        let v = vec![String::new(), String::new(), "b-17".to_string()];
        assert_eq!(t.render(&v), "/bookings/b-17/confirm");
        assert_eq!(t.vars().collect::<Vec<_>>(), vec![2]);
        assert!(!t.is_literal());
        assert_eq!(t.sample(), "/bookings/x/confirm");
    }

    #[test]
    fn helpers_parse_and_bad_ones_are_errors() {
        let t = Template::parse("${uuid}-${unix_ms}-${random_int( -3 , 7 )}", &vars()).unwrap();
        assert_eq!(
            t.segs,
            vec![
                Seg::Helper(Helper::Uuid),
                Seg::Lit("-".into()),
                Seg::Helper(Helper::UnixMs),
                Seg::Lit("-".into()),
                Seg::Helper(Helper::RandomInt(-3, 7)),
            ]
        );
        for bad in [
            "${random_int(5,1)}",
            "${random_int(1)}",
            "${random_int(a,b)}",
        ] {
            assert!(
                matches!(
                    Template::parse(bad, &vars()),
                    Err(TemplateError::BadHelper(_))
                ),
                "{bad}"
            );
        }
        assert!(Template::parse("plain", &vars()).unwrap().is_literal());
    }

    fn path(t: &str, value: &str) -> String {
        let t = Template::parse(t, &vars()).unwrap();
        let mut out = String::new();
        t.render_into(&mut out, |_| value, &mut NoHelpers, Escape::Path);
        out
    }

    #[test]
    fn path_values_are_encoded_per_segment() {
        assert_eq!(
            path("/b/${bookingId}/confirm", "../../__sim/reset?x="),
            "/b/..%2F..%2F__sim%2Freset%3Fx%3D/confirm"
        );
        assert_eq!(path("/b/${bookingId}", "a b"), "/b/a%20b");
        assert_eq!(path("/b/${bookingId}", ".."), "/b/%2E%2E");
        assert_eq!(path("/b/${bookingId}", "."), "/b/%2E");
        assert_eq!(path("/b/${bookingId}", "b-17.x_~"), "/b/b-17.x_~");
        assert_eq!(path("/q?x=${bookingId}", "é#&"), "/q?x=%C3%A9%23%26");
        // Literal text is the scenario's own and stays as written.
        assert_eq!(path("/a/../b?c=d&e=${zone}", "1"), "/a/../b?c=d&e=1");
    }
}
