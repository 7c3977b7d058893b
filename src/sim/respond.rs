//! Response building: the envelope, the non-envelope answers real proxies
//! give, and the header formats clients must parse.

use super::limiter::LimitInfo;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER};
use http::{Response, StatusCode};
use http_body_util::Full;
use std::time::Duration;

pub type Resp = Response<Full<Bytes>>;

/// The body the server sends: a whole answer, or (Booking Rush profile) a
/// Server-Sent Events stream fed by a channel, which ends when its sender
/// is dropped. A stream holds its connection's request guard, so the
/// connection counts as busy (no idle timeout) while it lasts.
pub enum SimBody {
    Full(Full<Bytes>),
    Stream {
        rx: tokio::sync::mpsc::Receiver<Bytes>,
        hold: Option<super::conn::InFlight>,
    },
}

impl SimBody {
    pub fn stream(rx: tokio::sync::mpsc::Receiver<Bytes>) -> Self {
        SimBody::Stream { rx, hold: None }
    }
}

impl http_body::Body for SimBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        match self.get_mut() {
            SimBody::Full(f) => std::pin::Pin::new(f).poll_frame(cx),
            SimBody::Stream { rx, .. } => rx
                .poll_recv(cx)
                .map(|o| o.map(|b| Ok(http_body::Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            SimBody::Full(f) => f.is_end_stream(),
            SimBody::Stream { .. } => false,
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match self {
            SimBody::Full(f) => f.size_hint(),
            SimBody::Stream { .. } => http_body::SizeHint::default(),
        }
    }
}

/// The service error that makes hyper drop the connection without an
/// answer: an injected reset.
#[derive(Debug, thiserror::Error)]
#[error("connection reset by simulator fault injection")]
pub struct ResetConnection;

pub static X_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
pub static X_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
pub static X_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
pub static X_BURST: HeaderName = HeaderName::from_static("x-ratelimit-burst");
const JSON: HeaderValue = HeaderValue::from_static("application/json");
/// On every answer of a stampede simulator: how a run tells `stampede
/// serve` from a real target without sending it anything the scenario
/// does not name.
pub static SIM_HEADER: HeaderName = HeaderName::from_static("x-stampede-sim");

pub fn raw(status: u16, content_type: Option<&'static str>, body: Bytes) -> Resp {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert(SIM_HEADER.clone(), HeaderValue::from_static("1"));
    if let Some(ct) = content_type {
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    r
}

pub fn json(status: u16, body: Bytes) -> Resp {
    let mut r = raw(status, None, body);
    r.headers_mut().insert(CONTENT_TYPE, JSON);
    r
}

/// `{"success":true,"data":...}` as bytes.
pub fn ok_body(data: serde_json::Value) -> Bytes {
    let v = serde_json::json!({ "success": true, "data": data });
    Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
}

/// `{"success":false,"error":{"code","message"}}` as bytes.
pub fn err_body(code: &str, message: &str) -> Bytes {
    let v = serde_json::json!({
        "success": false,
        "error": { "code": code, "message": message }
    });
    Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
}

pub fn error(status: u16, code: &str, message: &str) -> Resp {
    json(status, err_body(code, message))
}

/// The hot path's body, formatted without building a JSON tree.
pub fn availability(n: u32) -> Resp {
    json(
        200,
        Bytes::from(format!(
            "{{\"success\":true,\"data\":{{\"available\":{n}}}}}"
        )),
    )
}

pub fn with_limit_headers(mut r: Resp, info: Option<LimitInfo>) -> Resp {
    if let Some(i) = info {
        let h = r.headers_mut();
        h.insert(X_LIMIT.clone(), HeaderValue::from(i.limit));
        h.insert(X_REMAINING.clone(), HeaderValue::from(i.remaining));
        h.insert(X_RESET.clone(), HeaderValue::from(i.reset_unix));
    }
    r
}

pub fn with_retry_after_secs(mut r: Resp, secs: u64) -> Resp {
    r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
    r
}

/// Retry-After as an HTTP-date at least `wait` from now (rounded up to the
/// next whole second, since the format has no fractions).
pub fn with_retry_after_date(mut r: Resp, wait: Duration) -> Resp {
    let at = crate::clock::wall_now() + wait + Duration::from_secs(1);
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(at)) {
        r.headers_mut().insert(RETRY_AFTER, v);
    }
    r
}

/// The fault `DateRetry429` or `DateRetry503`: a 429 or 503 in the nested
/// envelope whose Retry-After is an HTTP-date `wait` from now.
pub fn date_retry(too_many: bool, wait: Duration) -> Resp {
    let (status, code) = if too_many {
        (429, "TOO_MANY_REQUESTS")
    } else {
        (503, "SERVICE_UNAVAILABLE")
    };
    with_retry_after_date(error(status, code, "retry later"), wait)
}

pub fn html_502() -> Resp {
    raw(
        502,
        Some("text/html; charset=utf-8"),
        Bytes::from_static(
            b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n\
<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
        ),
    )
}

pub fn empty_503() -> Resp {
    raw(503, None, Bytes::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_shape() {
        let v: serde_json::Value =
            serde_json::from_slice(&err_body("NOT_FOUND", "x")).expect("json");
        assert_eq!(v["success"], false);
        assert_eq!(v["error"]["code"], "NOT_FOUND");
    }
}
