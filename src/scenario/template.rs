//! `${name}` placeholders in journey paths and bodies.
//!
//! `${}` rather than `{}` because bodies are JSON and full of braces.
//! Templates are parsed once at plan time into literal and variable segments,
//! so rendering on the hot path is a few `push_str`s and an unknown variable
//! is a configuration error, not a request with `${bookingId}` in its URL.

use std::fmt;

/// Index of a variable in a journey's variable table.
pub type VarId = usize;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Lit(String),
    Var(VarId),
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
    #[error("unknown variable `${{{name}}}` (known: {known})")]
    Unknown { name: String, known: String },
}

impl Template {
    /// Parse `src`, resolving each `${name}` through `lookup` (the variables
    /// defined before this point of the journey).
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
            let id = vars
                .iter()
                .position(|v| v == name)
                .ok_or_else(|| TemplateError::Unknown {
                    name: name.to_string(),
                    known: vars.join(", "),
                })?;
            segs.push(Seg::Var(id));
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
        self.render_with(|id| values.get(id).map_or("", String::as_str))
    }

    /// Render with a lookup, so callers need not materialise every variable.
    pub fn render_with<'a>(&self, lookup: impl Fn(VarId) -> &'a str) -> String {
        let mut out = String::with_capacity(self.source.len() + 16);
        for seg in &self.segs {
            match seg {
                Seg::Lit(s) => out.push_str(s),
                Seg::Var(id) => out.push_str(lookup(*id)),
            }
        }
        out
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Variables this template reads.
    pub fn vars(&self) -> impl Iterator<Item = VarId> + '_ {
        self.segs.iter().filter_map(|s| match s {
            Seg::Var(id) => Some(*id),
            Seg::Lit(_) => None,
        })
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
    }
}
