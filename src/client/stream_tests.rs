//! [`HttpClient::open_stream`] against real loopback sockets: HTTP/1.1
//! targets written here byte for byte (so the framing is what the test
//! says), and an HTTP/2 one on hyper's server behind TLS (ALPN `h2`, the
//! only way the client speaks HTTP/2).

use super::*;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};

/// A target on 127.0.0.1:0: every request head it reads is sent on
/// `heads`; `accepted` counts its connections.
struct Target {
    url: String,
    heads: mpsc::UnboundedReceiver<String>,
    accepted: Arc<AtomicU64>,
}

/// Serve every request with `answer(socket, request head)`; it gives the
/// socket back to read the next request on it, or `None` to close.
async fn target<F, Fut>(answer: F) -> Target
where
    F: Fn(TcpStream, String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<TcpStream>> + Send + 'static,
{
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let (tx, heads) = mpsc::unbounded_channel();
    let accepted = Arc::new(AtomicU64::new(0));
    let count = accepted.clone();
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            count.fetch_add(1, Relaxed);
            s.set_nodelay(true).unwrap();
            let (tx, answer) = (tx.clone(), answer.clone());
            tokio::spawn(async move {
                let mut s = s;
                loop {
                    let Some(head) = read_head(&mut s).await else {
                        return;
                    };
                    let _ = tx.send(head.clone());
                    match (*answer)(s, head).await {
                        Some(back) => s = back,
                        None => return,
                    }
                }
            });
        }
    });
    Target {
        url,
        heads,
        accepted,
    }
}

/// One request head, `None` at the end of the connection.
async fn read_head(s: &mut TcpStream) -> Option<String> {
    let mut got = Vec::new();
    while !got.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        if s.read(&mut b).await.unwrap_or(0) == 0 {
            return None;
        }
        got.push(b[0]);
    }
    Some(String::from_utf8(got).unwrap())
}

/// Write `wire` in pieces of `size` bytes, each flushed, a moment apart.
async fn dribble(s: &mut TcpStream, wire: &str, size: usize) {
    for piece in wire.as_bytes().chunks(size) {
        s.write_all(piece).await.unwrap();
        s.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// One chunk of a chunked body.
fn chunk(data: &str) -> String {
    format!("{:x}\r\n{data}\r\n", data.len())
}

/// Wait until the server closes the connection (the client dropped it).
async fn until_closed(mut s: TcpStream) -> Option<TcpStream> {
    let mut sink = [0u8; 64];
    while s.read(&mut sink).await.unwrap_or(0) > 0 {}
    None
}

const STREAM_HEAD: &str =
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n";

fn client_of(url: &str, connections: usize) -> HttpClient {
    HttpClient::with_cap(
        url,
        connections,
        HeaderMap::new(),
        &TlsOptions::default(),
        None,
        None,
    )
    .expect("client")
}

async fn open(c: &HttpClient, path: &str, headers: HeaderMap) -> Result<Opened, Failure> {
    c.open_stream(&Method::GET, path, headers, None, Duration::from_secs(5))
        .await
}

async fn stream(c: &HttpClient, path: &str) -> EventStream {
    match open(c, path, HeaderMap::new()).await.expect("opened") {
        Opened::Stream(s) => s,
        Opened::Answer(r) => panic!("an answer, not a stream: {r:?}"),
    }
}

/// The next event, at most 5 s away (a hung test fails instead).
async fn next(s: &mut EventStream) -> Result<Option<Event>, Failure> {
    tokio::time::timeout(Duration::from_secs(5), s.next_event())
        .await
        .expect("no hang")
}

fn ev(event: &str, data: &str, id: Option<&str>) -> Event {
    Event {
        event: event.into(),
        data: data.into(),
        id: id.map(str::to_string),
    }
}

#[tokio::test]
async fn chunked_frames_split_across_writes_arrive_as_events_then_the_last_chunk_ends_it() {
    let body = [
        chunk(": connected\n\n"),
        chunk("event: position\ndata: {\"position\":3}\n\n"),
        // Two events in one chunk, then one event over two chunks.
        chunk("event: position\ndata: {\"position\":2}\n\nevent: position\ndata: {\"position\":1}\n\n"),
        chunk("event: position\ndata: {\"position\":0,"),
        chunk("\"queue_pass\":\"qp-1\"}\n\n"),
    ]
    .concat();
    let wire = format!("{STREAM_HEAD}transfer-encoding: chunked\r\n\r\n{body}0\r\n\r\n");
    let mut t = target(move |mut s, _| {
        let wire = wire.clone();
        async move {
            dribble(&mut s, &wire, 7).await;
            Some(s)
        }
    })
    .await;
    let c = client_of(&t.url, 4);
    let mut s = stream(&c, "/api/v1/queue/position/E1/stream").await;
    assert_eq!(s.status(), 200);
    let pos = |p: &str| ev("position", &format!("{{\"position\":{p}}}"), None);
    for expected in [pos("3"), pos("2"), pos("1")] {
        assert_eq!(next(&mut s).await, Ok(Some(expected)));
    }
    assert_eq!(
        next(&mut s).await,
        Ok(Some(pos("0,\"queue_pass\":\"qp-1\"")))
    );
    assert_eq!(next(&mut s).await, Ok(None));
    assert_eq!(next(&mut s).await, Ok(None), "the end, again");
    let data_len = ": connected\n\n".len()
        + "event: position\ndata: {\"position\":3}\n\n".len()
        + "event: position\ndata: {\"position\":2}\n\nevent: position\ndata: {\"position\":1}\n\n"
            .len()
        + "event: position\ndata: {\"position\":0,\"queue_pass\":\"qp-1\"}\n\n".len();
    assert_eq!(
        s.bytes(),
        data_len as u64,
        "body bytes, without chunk framing"
    );
    let head = t.heads.recv().await.unwrap();
    assert!(
        head.starts_with("GET /api/v1/queue/position/E1/stream HTTP/1.1\r\n"),
        "{head}"
    );
    assert!(head.contains("\r\naccept: text/event-stream\r\n"), "{head}");
    let st = c.stats();
    assert_eq!((st.answered, st.failed.iter().sum::<u64>()), (1, 0));
}

#[tokio::test]
async fn a_close_delimited_stream_ends_cleanly_at_the_close_and_exposes_retry_and_id() {
    let t = target(|mut s, _| async move {
        let wire = format!(
            "{STREAM_HEAD}\r\nretry: 2500\nid: e-1\nevent: position\ndata: {{\"position\":4}}\n\n\
             : keep-alive\n\nid: e-2\ndata: second\n\nid: e-3\ndata: never finished\n"
        );
        dribble(&mut s, &wire, 11).await;
        None
    })
    .await;
    let c = client_of(&t.url, 4);
    let mut s = stream(&c, "/s").await;
    assert_eq!((s.retry(), s.last_event_id()), (None, None));
    assert_eq!(
        next(&mut s).await,
        Ok(Some(ev("position", "{\"position\":4}", Some("e-1"))))
    );
    assert_eq!(s.retry(), Some(Duration::from_millis(2500)));
    assert_eq!(s.last_event_id(), Some("e-1"));
    assert_eq!(
        next(&mut s).await,
        Ok(Some(ev("message", "second", Some("e-2"))))
    );
    // The close ends it; the unfinished event is dropped, its id unused.
    assert_eq!(next(&mut s).await, Ok(None));
    assert_eq!(s.last_event_id(), Some("e-2"));
    assert_eq!(c.stats().failed.iter().sum::<u64>(), 0);
}

#[tokio::test]
async fn a_stream_cut_inside_a_chunk_or_before_its_length_is_a_closed_connection() {
    let t = target(|mut s, head| async move {
        let wire = if head.starts_with("GET /chunked ") {
            format!(
                "{STREAM_HEAD}transfer-encoding: chunked\r\n\r\n{}20\r\ndata: cut",
                chunk("data: one\n\n")
            )
        } else if head.starts_with("GET /short ") {
            format!("{STREAM_HEAD}content-length: 100\r\n\r\ndata: one\n\ndata: cut")
        } else {
            let body = "data: one\n\n";
            format!("{STREAM_HEAD}content-length: {}\r\n\r\n{body}", body.len())
        };
        dribble(&mut s, &wire, 16).await;
        None
    })
    .await;
    let c = client_of(&t.url, 4);
    for path in ["/chunked", "/short"] {
        let mut s = stream(&c, path).await;
        assert_eq!(next(&mut s).await, Ok(Some(ev("message", "one", None))));
        let cut = Err(Failure::Net(NetError::Closed));
        assert_eq!(next(&mut s).await, cut, "{path}");
        assert_eq!(next(&mut s).await, cut, "{path}: the same end, again");
    }
    assert_eq!(c.stats().count(NetError::Closed), 2, "each counted once");
    // A Content-Length stream read to its length ends cleanly.
    let mut s = stream(&c, "/whole").await;
    assert_eq!(next(&mut s).await, Ok(Some(ev("message", "one", None))));
    assert_eq!(next(&mut s).await, Ok(None));
}

#[tokio::test]
async fn a_409_and_a_200_json_are_answers_read_whole_on_a_kept_connection() {
    let mut t = target(|mut s, head| async move {
        let (status, body) = if head.starts_with("GET /busy ") {
            (
                "409 Conflict",
                r#"{"error":{"code":"NOT_IN_QUEUE","message":"join first"}}"#,
            )
        } else {
            ("200 OK", r#"{"position":7}"#)
        };
        let wire = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\nretry-after: 3\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(wire.as_bytes()).await.unwrap();
        Some(s)
    })
    .await;
    let c = client_of(&t.url, 4);
    let Opened::Answer(r) = open(&c, "/busy", HeaderMap::new()).await.unwrap() else {
        panic!("a 409 is an answer");
    };
    assert_eq!(r.status, 409);
    assert_eq!(r.retry_after.as_deref(), Some("3"));
    assert_eq!(
        &r.body[..],
        br#"{"error":{"code":"NOT_IN_QUEUE","message":"join first"}}"#
    );
    let mut own = HeaderMap::new();
    own.insert(
        http::header::ACCEPT,
        HeaderValue::from_static("application/json"),
    );
    let Opened::Answer(r) = open(&c, "/json", own).await.unwrap() else {
        panic!("a 200 that is not an event stream is an answer");
    };
    assert_eq!((r.status, &r.body[..]), (200, &br#"{"position":7}"#[..]));
    // Read whole, the connection went back to the pool and was used again.
    assert_eq!(t.accepted.load(Relaxed), 1);
    let first = t.heads.recv().await.unwrap();
    assert!(
        first.contains("\r\naccept: text/event-stream\r\n"),
        "{first}"
    );
    let second = t.heads.recv().await.unwrap();
    assert!(
        second.contains("\r\naccept: application/json\r\n"),
        "{second}"
    );
    assert!(!second.contains("event-stream"), "the caller's Accept kept");
}

#[tokio::test]
async fn an_event_is_handed_on_before_the_rest_of_its_chunk_arrives() {
    let go_on = Arc::new(Notify::new());
    let wait = go_on.clone();
    let t = target(move |mut s, _| {
        let wait = wait.clone();
        async move {
            let first = "data: early\n\n";
            let rest = "data: late\n\n";
            let wire = format!(
                "{STREAM_HEAD}transfer-encoding: chunked\r\n\r\n{:x}\r\n{first}",
                first.len() + rest.len()
            );
            s.write_all(wire.as_bytes()).await.unwrap();
            // The rest of the chunk only once the client has the event.
            wait.notified().await;
            s.write_all(format!("{rest}\r\n0\r\n\r\n").as_bytes())
                .await
                .unwrap();
            until_closed(s).await
        }
    })
    .await;
    let c = client_of(&t.url, 4);
    let mut s = stream(&c, "/s").await;
    assert_eq!(next(&mut s).await, Ok(Some(ev("message", "early", None))));
    go_on.notify_one();
    assert_eq!(next(&mut s).await, Ok(Some(ev("message", "late", None))));
    assert_eq!(next(&mut s).await, Ok(None));
}

#[tokio::test]
async fn a_stream_holds_its_permit_and_its_connection_never_goes_back_to_the_pool() {
    let t = target(|mut s, head| async move {
        if head.starts_with("GET /stream ") {
            let wire = format!(
                "{STREAM_HEAD}transfer-encoding: chunked\r\n\r\n{}",
                chunk("data: a\n\n")
            );
            s.write_all(wire.as_bytes()).await.unwrap();
            return until_closed(s).await;
        }
        s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            .await
            .unwrap();
        Some(s)
    })
    .await;
    let c = client_of(&t.url, 1);
    let mut s = stream(&c, "/stream").await;
    assert_eq!(next(&mut s).await, Ok(Some(ev("message", "a", None))));
    // The one permit is the stream's: a request waits for it, in vain.
    let waited = c
        .send(
            &Method::GET,
            "/x",
            HeaderMap::new(),
            None,
            Duration::from_millis(200),
        )
        .await;
    assert_eq!(waited.unwrap_err(), Failure::Timeout);
    drop(s);
    let r = c
        .send(
            &Method::GET,
            "/x",
            HeaderMap::new(),
            None,
            Duration::from_secs(5),
        )
        .await
        .expect("the permit is back");
    assert_eq!(&r.body[..], b"ok");
    assert_eq!(
        t.accepted.load(Relaxed),
        2,
        "the stream's connection was dropped"
    );
}

#[tokio::test]
async fn a_line_over_a_mib_is_body_too_large() {
    let t = target(|mut s, _| async move {
        s.write_all(format!("{STREAM_HEAD}\r\ndata: ").as_bytes())
            .await
            .unwrap();
        let block = vec![b'x'; 64 * 1024];
        for _ in 0..17 {
            if s.write_all(&block).await.is_err() {
                break;
            }
        }
        until_closed(s).await
    })
    .await;
    let c = client_of(&t.url, 4);
    let mut s = stream(&c, "/s").await;
    assert_eq!(
        next(&mut s).await,
        Err(Failure::Net(NetError::BodyTooLarge))
    );
    assert!(s.bytes() > sse::MAX_LINE as u64);
    assert_eq!(c.stats().count(NetError::BodyTooLarge), 1);
}

#[tokio::test]
async fn the_open_timeout_bounds_the_wait_for_the_head_only() {
    let t = target(|mut s, head| async move {
        if head.starts_with("GET /slow ") {
            // The client has given up by then: writes may fail.
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        let _ = s.write_all(format!("{STREAM_HEAD}\r\n").as_bytes()).await;
        tokio::time::sleep(Duration::from_millis(800)).await;
        let _ = s.write_all(b"data: after the timeout\n\n").await;
        None
    })
    .await;
    let c = client_of(&t.url, 4);
    let slow = c
        .open_stream(
            &Method::GET,
            "/slow",
            HeaderMap::new(),
            None,
            Duration::from_millis(100),
        )
        .await;
    assert_eq!(slow.unwrap_err(), Failure::Timeout);
    assert_eq!(c.stats().timeouts, 1);
    let Opened::Stream(mut s) = c
        .open_stream(
            &Method::GET,
            "/s",
            HeaderMap::new(),
            None,
            Duration::from_millis(500),
        )
        .await
        .unwrap()
    else {
        panic!("a stream");
    };
    // The event comes after the open's timeout: the stream has none.
    assert_eq!(
        next(&mut s).await,
        Ok(Some(ev("message", "after the timeout", None)))
    );
}

/// A response body fed by a channel: one data frame per message, the end
/// when the sender goes.
struct Chan(mpsc::Receiver<Bytes>);

impl http_body::Body for Chan {
    type Data = Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|m| m.map(|b| Ok(http_body::Frame::data(b))))
    }
}

/// An HTTPS target offering only `h2`, served by hyper: `/stream` is an
/// event stream whose events are split across data frames; anything else
/// a 409 JSON answer. Sends every request's Accept on the channel.
async fn h2_target() -> (String, mpsc::UnboundedReceiver<String>) {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).expect("cert");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![ck.cert.der().clone()], key)
        .unwrap();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    let tls = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", l.local_addr().unwrap());
    let (tx, accepts) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = l.accept().await {
            let (tls, tx) = (tls.clone(), tx.clone());
            tokio::spawn(async move {
                let Ok(io) = tls.accept(tcp).await else {
                    return;
                };
                let svc = hyper::service::service_fn(move |req: http::Request<_>| {
                    let accept = req
                        .headers()
                        .get(http::header::ACCEPT)
                        .map(|v| v.to_str().unwrap().to_string())
                        .unwrap_or_default();
                    let _ = tx.send(accept);
                    let (send, rx) = mpsc::channel::<Bytes>(4);
                    let is_stream = req.uri().path() == "/stream";
                    tokio::spawn(async move {
                        let frames: &[&str] = if is_stream {
                            &[
                                ": hi\n\nevent: position\ndata: {\"posi",
                                "tion\":1}\n\nid: 9\nevent: position\ndata: ",
                                "{\"position\":0}\n\ndata: unfinished",
                            ]
                        } else {
                            &[r#"{"error":{"code":"NOT_IN_QUEUE"}}"#]
                        };
                        for f in frames {
                            if send.send(Bytes::from_static(f.as_bytes())).await.is_err() {
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                    });
                    let (status, ct) = if is_stream {
                        (200, "text/event-stream")
                    } else {
                        (409, "application/json")
                    };
                    async move {
                        http::Response::builder()
                            .status(status)
                            .header(http::header::CONTENT_TYPE, ct)
                            .body(Chan(rx))
                    }
                });
                let _ =
                    hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                        .serve_connection(hyper_util::rt::TokioIo::new(io), svc)
                        .await;
            });
        }
    });
    (url, accepts)
}

#[tokio::test]
async fn over_http2_events_come_from_the_data_frames() {
    let (url, mut accepts) = h2_target().await;
    let tls = TlsOptions {
        insecure: true,
        ..TlsOptions::default()
    };
    let c = HttpClient::with_cap(&url, 4, HeaderMap::new(), &tls, None, None).expect("client");
    let mut s = stream(&c, "/stream").await;
    assert_eq!(s.status(), 200);
    assert_eq!(
        next(&mut s).await,
        Ok(Some(ev("position", "{\"position\":1}", None)))
    );
    assert_eq!(
        next(&mut s).await,
        Ok(Some(ev("position", "{\"position\":0}", Some("9"))))
    );
    assert_eq!(next(&mut s).await, Ok(None));
    assert_eq!(s.last_event_id(), Some("9"));
    assert_eq!(accepts.recv().await.unwrap(), "text/event-stream");

    let Opened::Answer(r) = open(&c, "/other", HeaderMap::new()).await.unwrap() else {
        panic!("a 409 is an answer");
    };
    assert_eq!(
        (r.status, &r.body[..]),
        (409, &br#"{"error":{"code":"NOT_IN_QUEUE"}}"#[..])
    );
    let st = c.stats();
    assert_eq!((st.answered, st.failed.iter().sum::<u64>()), (2, 0));
}

#[tokio::test]
async fn next_event_raced_by_short_deadlines_loses_nothing() {
    let body: String = (0..20)
        .map(|i| {
            chunk(&format!(
                "id: {i}\nevent: position\ndata: {{\"position\":{i}}}\n\n"
            ))
        })
        .collect();
    let wire = format!("{STREAM_HEAD}transfer-encoding: chunked\r\n\r\n{body}0\r\n\r\n");
    let t = target(move |mut s, _| {
        let wire = wire.clone();
        async move {
            dribble(&mut s, &wire, 3).await;
            Some(s)
        }
    })
    .await;
    let c = client_of(&t.url, 4);
    let mut s = stream(&c, "/s").await;
    let (mut got, mut cut_off) = (Vec::new(), 0);
    loop {
        match tokio::time::timeout(Duration::from_micros(200), s.next_event()).await {
            Err(_) => cut_off += 1,
            Ok(Ok(Some(e))) => got.push(e),
            Ok(Ok(None)) => break,
            Ok(Err(f)) => panic!("{f:?} after {} events", got.len()),
        }
    }
    let expected: Vec<Event> = (0..20)
        .map(|i| {
            let id = i.to_string();
            ev("position", &format!("{{\"position\":{i}}}"), Some(&id))
        })
        .collect();
    assert_eq!(got, expected);
    assert!(cut_off > 0, "the race did cut some reads off");
}
