//! The Booking Rush API's bodies, byte for byte as its Go services write
//! them: the booking service's flat bodies keep their struct's field order
//! (`{"error","code","message"?}`, `{"booking_id","status",...}`); the
//! gateway's nested errors and `{"success":true,"data":...}` bodies are Go
//! maps, whose keys encode sorted.

use crate::sim::respond::{SIM_HEADER, SimBody};
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;
use std::time::{Duration, SystemTime};

/// What Gin sends with `c.JSON`.
const JSON: HeaderValue = HeaderValue::from_static("application/json; charset=utf-8");

pub type RushResp = Response<SimBody>;

/// A JSON answer with the simulator's header.
pub fn json(status: u16, body: Bytes) -> RushResp {
    let mut r = Response::new(SimBody::Full(Full::new(body)));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert(SIM_HEADER.clone(), HeaderValue::from_static("1"));
    h.insert(CONTENT_TYPE, JSON);
    r
}

/// Gateway, auth, JWT, idempotency and rate-limit layers:
/// `{"error":{"code","message"},"success":false}`.
pub fn nested(status: u16, code: &str, message: &str) -> RushResp {
    json(status, nested_body(code, message))
}

pub fn nested_body(code: &str, message: &str) -> Bytes {
    Obj::new()
        .raw(
            "error",
            &Obj::new().str("code", code).str("message", message).text(),
        )
        .bool("success", false)
        .finish()
}

/// The booking service's own error: `{"error":"<sentence>","code"}`.
pub fn flat(code: &str, sentence: &str) -> Bytes {
    Obj::new().str("error", sentence).str("code", code).finish()
}

/// A flat error with Go's optional `message`.
pub fn flat_msg(code: &str, sentence: &str, message: &str) -> Bytes {
    Obj::new()
        .str("error", sentence)
        .str("code", code)
        .str("message", message)
        .finish()
}

/// `{"data":<data>,"success":true}` around JSON text.
pub fn data(data: &str) -> Bytes {
    Obj::new().raw("data", data).bool("success", true).finish()
}

/// A JSON object written key by key, in the order given.
pub struct Obj(String);

impl Obj {
    pub fn new() -> Self {
        Obj(String::with_capacity(128))
    }

    fn key(&mut self, k: &str) {
        self.0.push(if self.0.is_empty() { '{' } else { ',' });
        push_str(&mut self.0, k);
        self.0.push(':');
    }

    pub fn str(mut self, k: &str, v: &str) -> Self {
        self.key(k);
        push_str(&mut self.0, v);
        self
    }

    pub fn num(mut self, k: &str, v: u64) -> Self {
        self.key(k);
        self.0.push_str(&v.to_string());
        self
    }

    /// A float as Go's encoding/json writes it (`100`, `12.5`).
    pub fn float(mut self, k: &str, v: f64) -> Self {
        self.key(k);
        self.0.push_str(&go_float(v));
        self
    }

    pub fn bool(mut self, k: &str, v: bool) -> Self {
        self.key(k);
        self.0.push_str(if v { "true" } else { "false" });
        self
    }

    /// A value that is already JSON text.
    pub fn raw(mut self, k: &str, json: &str) -> Self {
        self.key(k);
        self.0.push_str(json);
        self
    }

    pub fn text(mut self) -> String {
        if self.0.is_empty() {
            self.0.push('{');
        }
        self.0.push('}');
        self.0
    }

    pub fn finish(self) -> Bytes {
        Bytes::from(self.text())
    }
}

impl Default for Obj {
    fn default() -> Self {
        Self::new()
    }
}

/// A JSON string literal (serde_json's escaping).
fn push_str(out: &mut String, s: &str) {
    if s.bytes()
        .all(|b| b >= 0x20 && b != b'"' && b != b'\\' && b < 0x7f)
    {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&serde_json::Value::from(s).to_string());
    }
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)` for the prices we write.
pub fn go_float(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.is_finite() {
        format!("{v}")
    } else {
        "0".into()
    }
}

/// RFC 3339 with milliseconds (`2025-03-01T10:00:00.123Z`) of a Unix time
/// in milliseconds.
pub fn rfc3339_ms(unix_ms: u64) -> String {
    crate::timefmt::rfc3339_millis(SystemTime::UNIX_EPOCH + Duration::from_millis(unix_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_keeps_field_order_and_nested_sorts() {
        assert_eq!(
            flat("INSUFFICIENT_SEATS", "Not enough seats available"),
            Bytes::from_static(
                br#"{"error":"Not enough seats available","code":"INSUFFICIENT_SEATS"}"#
            )
        );
        assert_eq!(
            nested_body("NOT_FOUND", "say \"hi\""),
            Bytes::from_static(
                br#"{"error":{"code":"NOT_FOUND","message":"say \"hi\""},"success":false}"#
            )
        );
        let v: serde_json::Value = serde_json::from_slice(&data(r#"{"a":1}"#)).expect("valid json");
        assert_eq!(v["success"], true);
        assert_eq!(v["data"]["a"], 1);
        assert_eq!(go_float(100.0), "100");
        assert_eq!(go_float(12.5), "12.5");
        assert_eq!(Obj::new().text(), "{}");
        assert_eq!(rfc3339_ms(1_709_210_096_789), "2024-02-29T12:34:56.789Z");
    }
}
