//! The suite's HTTP client (one request, the whole answer) and readers of
//! what comes back: JWT claims and Server-Sent Events frames.

use super::target::Target;
use crate::common::{self, Reply};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use bytes::Bytes;
use http::Method;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::time::Duration;

/// A client of one target, HTTP/1.1 or h2c.
#[derive(Clone)]
pub struct Http {
    base: String,
    /// The `X-Stampede-Sim` header every answer carries (None: absent).
    pub mark: Option<&'static str>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Http {
    pub fn new(t: &impl Target) -> Self {
        Self::build(t, false)
    }

    /// h2c with prior knowledge, on the same port.
    pub fn h2(t: &impl Target) -> Self {
        Self::build(t, true)
    }

    fn build(t: &impl Target, h2: bool) -> Self {
        let client = Client::builder(TokioExecutor::new())
            .http2_only(h2)
            .build(HttpConnector::new());
        Self {
            base: t.url(),
            mark: t.mark(),
            client,
        }
    }

    /// One request, the whole answer (a stream until the server closes it).
    pub async fn try_send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Result<Reply, hyper_util::client::legacy::Error> {
        let url = format!("{}{}", self.base, path);
        let fut = async {
            let (status, headers, body) =
                common::exchange(&self.client, url, method, headers, body).await?;
            let body = body.collect().await.expect("body").to_bytes();
            Ok(Reply {
                status,
                headers,
                body,
            })
        };
        tokio::time::timeout(Duration::from_secs(30), fut)
            .await
            .unwrap_or_else(|_| panic!("{path}: no complete answer within 30 s"))
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        self.try_send(method, path, headers, body)
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// A GET with `token` as the bearer, and `extra` headers.
    pub async fn get(&self, path: &str, token: &str, extra: &[(&str, &str)]) -> Reply {
        let auth = bearer(token);
        let mut h = vec![("authorization", auth.as_str())];
        h.extend_from_slice(extra);
        self.send(Method::GET, path, &h, "").await
    }
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

pub fn text(r: &Reply) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

/// A JWT's three parts, the first two decoded.
pub struct Jwt {
    pub header: Value,
    pub payload: Value,
    parts: Vec<String>,
}

impl Jwt {
    pub fn read(token: &str) -> Self {
        let parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        assert_eq!(parts.len(), 3, "a JWT: {token}");
        let decode = |p: &str| -> Value {
            serde_json::from_slice(&B64.decode(p).expect("base64url")).expect("json")
        };
        Self {
            header: decode(&parts[0]),
            payload: decode(&parts[1]),
            parts,
        }
    }

    /// The token with `payload` in place of its own, under the same
    /// signature.
    pub fn forged(&self, payload: &str) -> String {
        format!(
            "{}.{}.{}",
            self.parts[0],
            B64.encode(payload),
            self.parts[2]
        )
    }
}

#[derive(Debug, Default)]
pub struct SseFrame {
    pub id: Option<u64>,
    pub event: Option<String>,
    pub data: String,
    pub retry: Option<u64>,
}

impl SseFrame {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).expect("data is JSON")
    }
}

/// Frames (blocks with a field) and the number of comment lines.
pub fn parse_sse(body: &str) -> (Vec<SseFrame>, usize) {
    let mut frames = Vec::new();
    let mut comments = 0;
    for block in body.split("\n\n") {
        let mut f = SseFrame::default();
        let mut any = false;
        for line in block.lines() {
            if line.starts_with(':') {
                comments += 1;
                continue;
            }
            let (k, v) = line.split_once(':').unwrap_or((line, ""));
            let v = v.strip_prefix(' ').unwrap_or(v);
            any = true;
            match k {
                "id" => f.id = Some(v.parse().expect("numeric id")),
                "event" => f.event = Some(v.to_owned()),
                "data" => f.data.push_str(v),
                "retry" => f.retry = Some(v.parse().expect("numeric retry")),
                other => panic!("unknown SSE field {other:?} in {body:?}"),
            }
        }
        if any {
            frames.push(f);
        }
    }
    (frames, comments)
}
