//! What a hostile or broken HTTP/1.1 target sends, and what the client
//! makes of it: raw bytes written by a target on 127.0.0.1:0 (so the wire
//! is exactly what the test says), read through [`HttpClient`] as a run
//! reads them (whole, or piece by piece as an event stream), and the
//! failure's kind and reason as the transport's stats keep them. Where
//! only the parse matters, [`parse_head`] and [`encode`] are table-tested
//! directly.

use super::*;
use crate::client::{Failure, HttpClient, Opened, Response, TlsOptions};
use crate::outcome::NetError;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// What a target does with a request on a connection.
enum Then {
    /// Write these bytes and read the next request.
    Answer(Vec<u8>),
    /// Write these bytes and close (unread bytes make the close a reset).
    AnswerAndClose(Vec<u8>),
    /// Hand the socket over (the test writes to it itself).
    Keep(Box<dyn FnOnce(TcpStream) + Send>),
}

/// A target on 127.0.0.1:0. `answer(connection, request, head)` decides
/// (connections and requests on each counted from 0); a connection the
/// client closes reports on `ends` how many requests it read whole and how
/// many bytes came after the last one (0: the client closed it without
/// writing to it again).
struct Target {
    url: String,
    accepted: Arc<AtomicU64>,
    ends: mpsc::UnboundedReceiver<(u64, u64, usize)>,
}

async fn target<F>(answer: F) -> Target
where
    F: Fn(u64, u64, &str) -> Then + Send + Sync + 'static,
{
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let accepted = Arc::new(AtomicU64::new(0));
    let count = accepted.clone();
    let answer = Arc::new(answer);
    let (tx, ends) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let conn = count.fetch_add(1, Relaxed);
            let (answer, tx) = (answer.clone(), tx.clone());
            tokio::spawn(async move {
                let mut req = 0;
                loop {
                    let head = match read_head(&mut s).await {
                        Ok(head) => head,
                        Err(stray) => {
                            let _ = tx.send((conn, req, stray));
                            return;
                        }
                    };
                    match answer(conn, req, &head) {
                        Then::Answer(b) => {
                            if s.write_all(&b).await.is_err() {
                                return;
                            }
                        }
                        Then::AnswerAndClose(b) => {
                            let _ = s.write_all(&b).await;
                            return;
                        }
                        Then::Keep(f) => return f(s),
                    }
                    req += 1;
                }
            });
        }
    });
    Target {
        url,
        accepted,
        ends,
    }
}

/// One request head (the body, if any, is left unread); at the end of the
/// connection, how many bytes of a head came before it.
async fn read_head(s: &mut TcpStream) -> Result<String, usize> {
    let mut got = Vec::new();
    while !got.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        if s.read(&mut b).await.unwrap_or(0) == 0 {
            return Err(got.len());
        }
        got.push(b[0]);
    }
    Ok(String::from_utf8_lossy(&got).into_owned())
}

/// The same answer to every request, on every connection.
async fn answering(raw: &[u8]) -> Target {
    let raw = raw.to_vec();
    target(move |_, _, _| Then::Answer(raw.clone())).await
}

fn client(url: &str) -> HttpClient {
    HttpClient::with_cap(
        url,
        4,
        http::HeaderMap::new(),
        &TlsOptions::default(),
        None,
        None,
    )
    .expect("client")
}

async fn get(c: &HttpClient) -> Result<Response, Failure> {
    c.send(
        &Method::GET,
        "/",
        http::HeaderMap::new(),
        None,
        Duration::from_secs(5),
    )
    .await
}

/// An event stream's events' data until its end, and how it ended.
async fn stream_data(c: &HttpClient) -> (Vec<String>, Result<(), Failure>) {
    let opened = c
        .open_stream(
            &Method::GET,
            "/",
            http::HeaderMap::new(),
            None,
            Duration::from_secs(5),
        )
        .await;
    let Ok(Opened::Stream(mut s)) = opened else {
        panic!("not a stream: {opened:?}");
    };
    let mut data = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(5), s.next_event())
            .await
            .expect("no hang")
        {
            Ok(Some(e)) => data.push(e.data),
            Ok(None) => return (data, Ok(())),
            Err(f) => return (data, Err(f)),
        }
    }
}

const CHUNKED: &str = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
const STREAM: &str =
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";

fn chunk(data: &str) -> String {
    format!("{:x}\r\n{data}\r\n", data.len())
}

/// The reason the stats keep for the first invalid answer, as the report
/// says it (a note; never an unreachable line: the target answered).
fn invalid_reason(c: &HttpClient, url: &str) -> String {
    let st = c.stats();
    assert_eq!(st.unreachable(url), None, "an invalid answer is an answer");
    st.notes()
        .into_iter()
        .find(|n| n.starts_with("invalid answers:"))
        .unwrap_or_default()
}

// 1. Chunk sizes near u64::MAX.

#[tokio::test]
async fn a_chunk_size_near_u64_max_is_body_too_large_read_whole_or_piece_by_piece() {
    for size in ["fffffffffffffffe", "ffffffffffffffff", "100001"] {
        // Read whole, after a first chunk (the sum would overflow).
        let t = answering(format!("{CHUNKED}{}{size}\r\nabc", chunk("abcd")).as_bytes()).await;
        let c = client(&t.url);
        let e = get(&c).await.expect_err(size);
        assert_eq!(e, Failure::Net(NetError::BodyTooLarge), "{size}");

        // Read piece by piece: the event before it arrives, then the failure.
        let t =
            answering(format!("{STREAM}{}{size}\r\ndata: b\n\n", chunk("data: a\n\n")).as_bytes())
                .await;
        let c = client(&t.url);
        let (data, end) = stream_data(&c).await;
        assert_eq!(data, ["a"], "{size}");
        assert_eq!(end, Err(Failure::Net(NetError::BodyTooLarge)), "{size}");
    }
    // A chunk of exactly the limit is still a body.
    let big = "x".repeat(crate::client::BODY_LIMIT);
    let t = answering(format!("{CHUNKED}{}0\r\n\r\n", chunk(&big)).as_bytes()).await;
    assert_eq!(get(&client(&t.url)).await.unwrap().body.len(), big.len());
}

// 2. Trailers: bounded, linear.

#[tokio::test]
async fn trailers_are_bounded_in_lines_and_bytes_read_whole_or_piece_by_piece() {
    let many = format!("0\r\n{}\r\n", "a: b\r\n".repeat(MAX_TRAILERS as usize + 1));
    let long = format!("0\r\nx: {}\r\n\r\n", "a".repeat(MAX_TRAILER_BYTES as usize));
    // (trailer section, the reason)
    let cases = [
        (many.as_str(), "over 100 trailer lines"),
        (long.as_str(), "trailers over 16 KiB"),
    ];
    for (trailers, reason) in cases {
        let t = answering(format!("{CHUNKED}{}{trailers}", chunk("ok")).as_bytes()).await;
        let c = client(&t.url);
        assert_eq!(
            get(&c).await.unwrap_err(),
            Failure::Net(NetError::InvalidResponse)
        );
        let why = invalid_reason(&c, &t.url);
        assert!(why.contains(reason), "{why}");

        let t = answering(format!("{STREAM}{}{trailers}", chunk("data: a\n\n")).as_bytes()).await;
        let c = client(&t.url);
        let (data, end) = stream_data(&c).await;
        assert_eq!(
            (data, end),
            (
                vec!["a".to_string()],
                Err(Failure::Net(NetError::InvalidResponse))
            )
        );
        let why = invalid_reason(&c, &t.url);
        assert!(why.contains(reason), "{why}");
    }
    // A few trailers, with CRLF or bare LF line ends: read and dropped, and
    // the connection is used again.
    let t =
        answering(format!("{CHUNKED}{}0\r\nx-a: 1\r\nx-b: 2\n\r\n", chunk("ok")).as_bytes()).await;
    let c = client(&t.url);
    for _ in 0..2 {
        assert_eq!(&get(&c).await.unwrap().body[..], b"ok");
    }
    assert_eq!(t.accepted.load(Relaxed), 1);
}

#[tokio::test]
async fn a_trailer_line_that_never_ends_is_refused_at_its_bound_not_buffered() {
    // The target writes one trailer line forever (until the client goes).
    let written = Arc::new(AtomicU64::new(0));
    let w = written.clone();
    let t = target(move |_, _, _| {
        let w = w.clone();
        Then::Keep(Box::new(move |mut s| {
            tokio::spawn(async move {
                let head = format!("{CHUNKED}{}0\r\nx-endless: ", chunk("ok"));
                s.write_all(head.as_bytes()).await.unwrap();
                let piece = [b'a'; 4096];
                while s.write_all(&piece).await.is_ok() {
                    w.fetch_add(piece.len() as u64, Relaxed);
                }
            });
        }))
    })
    .await;
    let c = client(&t.url);
    let started = std::time::Instant::now();
    assert_eq!(
        get(&c).await.unwrap_err(),
        Failure::Net(NetError::InvalidResponse)
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let why = invalid_reason(&c, &t.url);
    assert!(why.contains("trailers over 16 KiB"), "{why}");
    // The client stopped reading at once: what the target could write is
    // what the kernel's socket buffers hold, not what it wanted to send.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        written.load(Relaxed) < 64 << 20,
        "{}",
        written.load(Relaxed)
    );
}

/// Trailers arriving one byte at a time (each byte looked at once: the
/// scan goes on where it stopped) are read to their empty line, both ways.
#[tokio::test]
async fn trailers_dribbled_a_byte_at_a_time_end_at_their_empty_line() {
    for stream in [false, true] {
        let (a, mut server) = tokio::io::duplex(64 * 1024);
        let mut c = H1::new(Io::Other(Box::pin(a)));
        tokio::spawn(async move {
            let mut got = Vec::new();
            while !got.ends_with(b"\r\n\r\n") {
                let mut b = [0u8; 1];
                server.read_exact(&mut b).await.unwrap();
                got.push(b[0]);
            }
            let wire = format!("{CHUNKED}2\r\nok\r\n0\r\nx-a: 1\r\nx-b: 22\r\n\r\n");
            for b in wire.as_bytes() {
                server.write_all(&[*b]).await.unwrap();
                tokio::task::yield_now().await;
            }
            let _ = server.read(&mut [0u8; 1]).await;
        });
        let wire = Wire::new({
            let mut r = http::Request::new(http_body_util::Full::new(Bytes::new()));
            r.headers_mut()
                .insert("host", HeaderValue::from_static("t"));
            r
        });
        let h = c.send(&wire, false).await.unwrap();
        if stream {
            let mut p = Pieces::of(&h);
            let mut body = Vec::new();
            while let Some(b) = c.next_piece(&mut p).await.unwrap() {
                body.extend_from_slice(&b);
            }
            assert_eq!(body, b"ok");
        } else {
            assert_eq!(c.body(&h).await.unwrap(), "ok");
            assert!(c.is_reusable());
        }
    }
}

// 3. Content-Length as RFC 9110 §8.6 has it.

fn framing_of(raw: &str) -> io::Result<(Framing, bool)> {
    let (_, h) = parse_head(raw.as_bytes(), false)?.expect("a whole head");
    let h = frame(h, false);
    Ok((h.framing, h.keep_alive))
}

#[test]
fn content_length_is_digits_or_a_list_of_one_repeated_value() {
    // (Content-Length field lines, the length, or the reason it is refused)
    let cases: [(&str, Result<u64, &str>); 14] = [
        ("Content-Length: 5", Ok(5)),
        ("Content-Length: 5, 5", Ok(5)),
        ("Content-Length: 5,5 ,5", Ok(5)),
        ("Content-Length: 5\r\nContent-Length: 5", Ok(5)),
        ("Content-Length: 007", Ok(7)),
        ("Content-Length: +5", Err("not a number")),
        ("Content-Length: -1", Err("not a number")),
        ("Content-Length:  5x", Err("not a number")),
        ("Content-Length: 0x5", Err("not a number")),
        ("Content-Length: 5 5", Err("not a number")),
        ("Content-Length: 5,", Err("not a number")),
        ("Content-Length: 99999999999999999999", Err("out of range")),
        ("Content-Length: 5, 6", Err("two different")),
        (
            "Content-Length: 5\r\nContent-Length: 6",
            Err("two different"),
        ),
    ];
    for (fields, want) in cases {
        let raw = format!("HTTP/1.1 200 OK\r\n{fields}\r\n\r\n");
        match (framing_of(&raw), want) {
            (Ok((f, _)), Ok(n)) => assert_eq!(f, Framing::Length(n), "{fields}"),
            (Err(e), Err(reason)) => {
                let text = e.to_string();
                assert!(
                    text.starts_with("invalid response: ") && text.contains(reason),
                    "{fields}: {text}"
                );
            }
            (got, _) => panic!("{fields}: {got:?}"),
        }
    }
}

#[tokio::test]
async fn a_repeated_content_length_frames_the_body_and_a_signed_one_is_refused_with_its_reason() {
    let t = answering(b"HTTP/1.1 200 OK\r\ncontent-length: 5, 5\r\n\r\nhello").await;
    let c = client(&t.url);
    for _ in 0..2 {
        assert_eq!(&get(&c).await.unwrap().body[..], b"hello");
    }
    assert_eq!(t.accepted.load(Relaxed), 1, "kept alive");

    let t = answering(b"HTTP/1.1 200 OK\r\ncontent-length: +5\r\n\r\nhello").await;
    let c = client(&t.url);
    assert_eq!(
        get(&c).await.unwrap_err(),
        Failure::Net(NetError::InvalidResponse)
    );
    let why = invalid_reason(&c, &t.url);
    assert!(why.contains("content-length is not a number"), "{why}");
}

// 4. Transfer-Encoding in HTTP/1.0, and with Content-Length.

#[test]
fn transfer_encoding_is_refused_in_http_1_0_and_closes_the_connection_beside_a_length() {
    let e = framing_of("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap_err();
    assert!(e.to_string().contains("HTTP/1.0"), "{e}");
    let e = framing_of(
        "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    .unwrap_err();
    assert!(e.to_string().contains("transfer-encoding"), "{e}");
    // Either order of the two fields: chunked, and not kept.
    for raw in [
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
    ] {
        assert_eq!(framing_of(raw).unwrap(), (Framing::Chunked, false), "{raw}");
    }
    assert_eq!(
        framing_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap(),
        (Framing::Chunked, true)
    );
}

#[tokio::test]
async fn an_answer_with_both_framings_is_read_chunked_on_a_connection_not_used_again() {
    let raw = format!(
        "HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n{}{}0\r\n\r\n",
        chunk("Wiki"),
        chunk("pedia")
    );
    let mut t = answering(raw.as_bytes()).await;
    let c = client(&t.url);
    for _ in 0..2 {
        assert_eq!(&get(&c).await.unwrap().body[..], b"Wikipedia");
    }
    assert_eq!(t.accepted.load(Relaxed), 2, "one connection per answer");
    assert_eq!(
        t.ends.recv().await,
        Some((0, 1, 0)),
        "closed after one answer"
    );

    let t = answering(b"HTTP/1.0 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
        .await;
    let c = client(&t.url);
    assert_eq!(
        get(&c).await.unwrap_err(),
        Failure::Net(NetError::InvalidResponse)
    );
    let why = invalid_reason(&c, &t.url);
    assert!(
        why.contains("transfer-encoding in an HTTP/1.0 answer"),
        "{why}"
    );
}

// 5. The body's framing is the client's own.

#[test]
fn encode_never_writes_a_given_content_length_or_transfer_encoding() {
    let wire = |method: Method, body: &'static str| {
        let mut r = http::Request::new(http_body_util::Full::new(Bytes::from_static(
            body.as_bytes(),
        )));
        *r.method_mut() = method;
        *r.uri_mut() = "/r".parse().unwrap();
        let h = r.headers_mut();
        h.insert("host", HeaderValue::from_static("t"));
        h.insert("content-length", HeaderValue::from_static("99"));
        h.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        h.insert("x-a", HeaderValue::from_static("1"));
        let (p, b) = r.into_parts();
        String::from_utf8(encode(&p, &full_bytes(b))).unwrap()
    };
    let cases = [
        (
            Method::POST,
            "{}",
            "POST /r HTTP/1.1\r\nhost: t\r\nx-a: 1\r\ncontent-length: 2\r\n\r\n{}",
        ),
        (
            Method::PUT,
            "",
            "PUT /r HTTP/1.1\r\nhost: t\r\nx-a: 1\r\ncontent-length: 0\r\n\r\n",
        ),
        (
            Method::GET,
            "",
            "GET /r HTTP/1.1\r\nhost: t\r\nx-a: 1\r\n\r\n",
        ),
    ];
    for (method, body, expected) in cases {
        assert_eq!(wire(method, body), expected);
    }
}

// 6. Idle connections expire.

#[test]
fn the_keep_alive_is_below_common_server_idle_timeouts() {
    // Node.js and Apache httpd close idle connections after 5 s.
    assert!(super::super::pool::KEEP_ALIVE < Duration::from_secs(5));
    assert!(super::super::pool::KEEP_ALIVE >= Duration::from_secs(1));
}

#[tokio::test]
async fn an_idle_connection_past_its_keep_alive_is_closed_at_checkout_never_written_to() {
    let mut t = answering(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await;
    let mut c = client(&t.url);
    Arc::get_mut(&mut c.pool)
        .unwrap()
        .set_keep_alive(Duration::from_millis(300));
    // Two at once: two connections go idle.
    let (a, b) = tokio::join!(get(&c), get(&c));
    assert!(a.is_ok() && b.is_ok());
    assert_eq!(t.accepted.load(Relaxed), 2);
    // Within the keep-alive: used again.
    assert!(get(&c).await.is_ok());
    assert_eq!(t.accepted.load(Relaxed), 2);
    tokio::time::sleep(Duration::from_millis(450)).await;
    // Past it: both old ones are closed unused, a new one carries it.
    assert!(get(&c).await.is_ok());
    assert_eq!(t.accepted.load(Relaxed), 3);
    let mut ends = [t.ends.recv().await.unwrap(), t.ends.recv().await.unwrap()];
    ends.sort();
    // Connections 0 and 1 closed, one after one request and the other after
    // two, and neither got a byte after its last answer.
    assert_eq!(
        (ends[0].0 + ends[1].0, ends[0].1 + ends[1].1),
        (1, 3),
        "{ends:?}"
    );
    assert_eq!((ends[0].2, ends[1].2), (0, 0), "written to: {ends:?}");
}

/// At the pool: a checkout drops the expired warmest connection and every
/// older one; a checkin drops the expired ones at the bottom of the list.
#[tokio::test(start_paused = true)]
async fn the_pool_drops_expired_idle_connections_at_checkout_and_checkin() {
    use super::super::pool::{Conn, KEEP_ALIVE, Pool};
    let pool = Pool::new("127.0.0.1", 9, None, None).unwrap();
    let conn = || {
        let (a, b) = tokio::io::duplex(64);
        (H1::new(Io::Other(Box::pin(a))), b)
    };
    /// Whether the client's end of a pipe was dropped (closed).
    async fn closed(far: &mut tokio::io::DuplexStream) -> bool {
        let mut b = [0u8; 1];
        tokio::time::timeout(Duration::from_millis(1), far.read(&mut b))
            .await
            .is_ok_and(|r| r.is_ok_and(|n| n == 0))
    }
    let (old, mut old_far) = conn();
    pool.checkin(Conn::H1(old));
    tokio::time::advance(KEEP_ALIVE - Duration::from_millis(100)).await;
    let (warm, mut warm_far) = conn();
    pool.checkin(Conn::H1(warm));
    tokio::time::advance(Duration::from_millis(200)).await;
    // `old` expired, `warm` did not: checkout takes `warm`, leaves `old`.
    let Ok((Conn::H1(warm), true)) = pool.checkout().await else {
        panic!("the warm connection");
    };
    assert!(!closed(&mut old_far).await && !closed(&mut warm_far).await);
    // Back in: `old` is at the bottom, expired, and goes now.
    pool.checkin(Conn::H1(warm));
    assert!(closed(&mut old_far).await);
    assert!(!closed(&mut warm_far).await);
    // Past its keep-alive, `warm` is closed at checkout, never handed out
    // (the pool then connects to 127.0.0.1:9: refused, or anything but it).
    tokio::time::advance(KEEP_ALIVE).await;
    let _ = pool.checkout().await;
    assert!(closed(&mut warm_far).await);
}

// 7. An early answer while the request is still being written.

#[tokio::test]
async fn an_answer_sent_before_the_request_was_read_is_the_answer_not_a_reset() {
    let early = b"HTTP/1.1 413 Content Too Large\r\ncontent-length: 9\r\nconnection: close\r\n\r\ntoo large";
    let body = Bytes::from(vec![b'x'; 8 << 20]);
    // (method, a first GET on the connection so it is a kept-alive one)
    let cases = [
        (Method::PUT, true),
        (Method::PUT, false),
        (Method::POST, true),
        (Method::POST, false),
    ];
    for (method, reused) in cases {
        let t = target(move |_, _, head| {
            if head.starts_with("GET ") {
                Then::Answer(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_vec())
            } else {
                // The 8 MB stay unread: the close is a reset.
                Then::AnswerAndClose(early.to_vec())
            }
        })
        .await;
        let c = client(&t.url);
        if reused {
            assert!(get(&c).await.is_ok());
        }
        let r = c
            .send(
                &method,
                "/upload",
                http::HeaderMap::new(),
                Some(body.clone()),
                Duration::from_secs(10),
            )
            .await;
        let label = format!("{method} reused={reused}");
        let r = r.unwrap_or_else(|e| panic!("{label}: {e:?}"));
        assert_eq!((r.status, &r.body[..]), (413, &b"too large"[..]), "{label}");
        let st = c.stats();
        assert_eq!(st.resent, 0, "{label}: not written again");
        assert_eq!(t.accepted.load(Relaxed), 1, "{label}");
        // The connection is not used again.
        assert!(get(&c).await.is_ok());
        assert_eq!(t.accepted.load(Relaxed), 2, "{label}");
    }
}

// 8. Answers that are not HTTP: classified, with their reason kept.

#[tokio::test]
async fn answers_that_are_not_valid_http_keep_their_reason_in_the_diagnosis() {
    let many = format!(
        "HTTP/1.1 200 OK\r\n{}content-length: 0\r\n\r\n",
        "x-a: 1\r\n".repeat(MAX_HEADERS + 1)
    );
    // (answer, the reason said)
    let cases: [(&[u8], &str); 4] = [
        (
            b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab",
            "invalid response: two different content-lengths",
        ),
        (many.as_bytes(), "invalid response: over 100 headers"),
        (
            b"HTTP/1.1 200 OK\r\nx-a\x7fb: 1\r\ncontent-length: 0\r\n\r\n",
            "invalid response: invalid header name",
        ),
        (
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 2, 3\r\n\r\nab",
            "invalid response: two different content-lengths",
        ),
    ];
    for (raw, reason) in cases {
        let t = answering(raw).await;
        let c = client(&t.url);
        for _ in 0..2 {
            assert_eq!(
                get(&c).await.unwrap_err(),
                Failure::Net(NetError::InvalidResponse)
            );
        }
        let st = c.stats();
        // The target answered: misbehaving, not unreachable.
        assert_eq!(st.unreachable(&t.url), None);
        assert_eq!(
            (
                st.count(NetError::InvalidResponse),
                st.count(NetError::Other)
            ),
            (2, 0)
        );
        assert!(
            st.notes().iter().any(|n| n.starts_with(
                "invalid answers: 2 attempts failed on an answer that is not valid HTTP/1.1 (INVALID_RESPONSE"
            ) && n.ends_with(reason)),
            "{:?}",
            st.notes()
        );
    }
}

#[tokio::test]
async fn plain_http_on_an_https_url_is_a_tls_failure_that_says_so() {
    // A plain HTTP server answers the ClientHello with a 400.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", l.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let _ = s.read(&mut [0u8; 512]).await;
                let _ = s
                    .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    let c = client(&url);
    assert_eq!(get(&c).await.unwrap_err(), Failure::Net(NetError::Tls));
    let line = c.stats().unreachable(&url).unwrap();
    assert!(
        line.contains("100% TLS_ERROR")
            && line.contains(
                "the server did not speak TLS (plain HTTP on an https:// URL? try http://)"
            ),
        "{line}"
    );
}
