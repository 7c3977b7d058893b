//! HTTP/1.1 on one connection, one request at a time, driven by the task
//! of the user who sends it.
//!
//! hyper's client connection is two halves: a task that owns the socket
//! and a channel the request goes through. With 10,000 connections that
//! was 9 KB of channel block, 8 KB of write buffer, 8 KB of read buffer and
//! a 1.5 KB task per connection (`heaptrack`, `scenarios/bench-peers-10k.toml`:
//! 280 of 350 MB), and every request crossed two tasks. Here the user's task
//! writes the request and reads the answer itself: a connection holds its
//! socket and nothing else while it waits (the read buffer is taken when
//! the socket is readable and let go with the answer's body).
//!
//! What is read: a status line and headers (`httparse`, at most
//! [`MAX_HEADERS`] headers in [`MAX_HEAD`] bytes, parsed again only when a
//! line end arrived), interim 1xx answers skipped, then a body framed by
//! `Transfer-Encoding: chunked`, by `Content-Length`, or by the end of the
//! connection (RFC 9112 §6.3); none for HEAD, 1xx, 204 and 304. What a
//! hostile or broken target can send is bounded and refused, never trusted:
//! `Content-Length` is digits only (a list of one repeated value, `5, 5`,
//! is that value; differing values are refused, RFC 9110 §8.6); an
//! HTTP/1.0 answer with `Transfer-Encoding` is refused and one with both
//! `Transfer-Encoding` and `Content-Length` is read as chunked and its
//! connection closed after it (RFC 9112 §6.1, §6.3); a chunk size is
//! checked against [`super::BODY_LIMIT`] before any arithmetic (a size
//! near `u64::MAX` is "body too large", in both ways of reading a body);
//! trailers are read once, in linear time, at most [`MAX_TRAILERS`] lines
//! in [`MAX_TRAILER_BYTES`]. A connection is used again only when its
//! answer said so (HTTP/1.1 without `Connection: close`, or HTTP/1.0 with
//! `keep-alive`) and its body was framed. Errors are `io::Error`s; the ones
//! this code finds itself carry a typed [`WireError`] (an answer cut short,
//! a body too large, an answer that is not valid HTTP with its reason, kept
//! by the transport's stats as `first_invalid`), read back by
//! [`WireError::of`], never from the error's text.
//!
//! A request whose write fails (the server answered early, e.g. a 413 to a
//! body it will not read, and closed) gets the answer the socket already
//! holds, if a whole head is there, before the write error counts.
//!
//! An event stream's body is read piece by piece instead ([`H1::next_piece`]):
//! whatever of it has arrived, as soon as it has, never waiting for the
//! rest of a chunk, and no buffer held while nothing arrives.

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// At most this many headers in an answer (hyper's default too).
pub const MAX_HEADERS: usize = 100;
/// At most this many bytes of status line and headers.
pub const MAX_HEAD: usize = 64 * 1024;
/// At most this many trailer lines after the last chunk (they are dropped).
pub const MAX_TRAILERS: u32 = MAX_HEADERS as u32;
/// At most this many bytes of trailers (hyper's limit too).
pub const MAX_TRAILER_BYTES: u32 = 16 * 1024;
/// The read buffer taken for an answer whose size is not known yet.
const READ_CHUNK: usize = 4096;

/// Any stream a connection can run on (TLS, a proxy's tunnel).
pub trait Stream: AsyncRead + AsyncWrite + Send {}
impl<T: AsyncRead + AsyncWrite + Send> Stream for T {}

/// The socket: plain TCP (most targets, and the one that can wait for
/// readability without a buffer), or anything else, boxed.
pub enum Io {
    Tcp(TcpStream),
    Other(Pin<Box<dyn Stream>>),
}

macro_rules! each {
    ($io:expr, $s:ident => $call:expr) => {
        match $io.get_mut() {
            Io::Tcp(t) => {
                let $s = Pin::new(t);
                $call
            }
            Io::Other(b) => {
                let $s = b.as_mut();
                $call
            }
        }
    };
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each!(self, s => s.poll_read(cx, buf))
    }
}

impl AsyncWrite for Io {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        each!(self, s => s.poll_write(cx, b))
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => s.poll_flush(cx))
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => s.poll_shutdown(cx))
    }
}

/// One HTTP/1.1 connection.
pub struct H1 {
    io: Io,
    /// Bytes read and not yet used; empty (and unallocated) between answers.
    buf: BytesMut,
    /// The last answer allows another request on this connection.
    reusable: bool,
    /// Some byte of an answer arrived since the last request was written.
    heard: bool,
}

/// A request as it goes on the wire, kept so that it can be written again
/// on a new connection ([`H1::is_stale`]).
pub struct Wire {
    bytes: Vec<u8>,
    head_only: bool,
    /// RFC 9110 §9.2.2: GET, HEAD, PUT, DELETE, OPTIONS, TRACE.
    pub idempotent: bool,
}

impl Wire {
    pub fn new(req: Request<super::pool::Body>) -> Self {
        let (parts, body) = req.into_parts();
        Wire {
            bytes: encode(&parts, &full_bytes(body)),
            head_only: parts.method == Method::HEAD,
            idempotent: matches!(
                parts.method,
                Method::GET
                    | Method::HEAD
                    | Method::PUT
                    | Method::DELETE
                    | Method::OPTIONS
                    | Method::TRACE
            ),
        }
    }
}

/// An answer's status line and the headers the engine reads.
#[derive(Debug)]
pub struct Head {
    pub status: u16,
    pub retry_after: Option<String>,
    /// `grpc-retry-pushback-ms` (read by a policy with `pushback`).
    pub pushback: Option<String>,
    /// Rate-limit headers (read by a policy with `rate_limit_pacing`).
    pub rate_limit: crate::policy::RateLimitFields,
    pub set_cookies: Vec<HeaderValue>,
    /// `Content-Type: text/event-stream`.
    pub event_stream: bool,
    /// `x-stampede-sim`: the answer of a stampede simulator.
    pub simulator: bool,
    /// Every header, for `--trace` only.
    pub headers: Option<HeaderMap>,
    framing: Framing,
    keep_alive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

/// What this connection's own code found wrong with an answer: the typed
/// payload of the `io::Error`s it returns, so the attempt's kind is known
/// without reading any text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Not valid HTTP/1.1 (two different lengths, too many headers, a bad
    /// header name, a broken chunk); the reason says which.
    #[error("invalid response: {0}")]
    Invalid(Box<str>),
    /// The connection ended before the answer was complete.
    #[error("connection closed before the response was complete")]
    Closed,
    /// The body is over [`super::BODY_LIMIT`].
    #[error("response body too large (over {} bytes)", super::BODY_LIMIT)]
    TooLarge,
    /// A chunk of a body read piece by piece larger than any body read whole.
    #[error("streamed body too large: a chunk of {0} bytes (over {limit})", limit = super::BODY_LIMIT)]
    ChunkTooLarge(u64),
}

impl WireError {
    /// The attempt's failure kind.
    pub fn kind(&self) -> crate::outcome::NetError {
        use crate::outcome::NetError;
        match self {
            Self::Invalid(_) => NetError::InvalidResponse,
            Self::Closed => NetError::Closed,
            Self::TooLarge | Self::ChunkTooLarge(_) => NetError::BodyTooLarge,
        }
    }

    /// The `WireError` an `io::Error` of this module carries.
    pub fn of(e: &io::Error) -> Option<&WireError> {
        e.get_ref()?.downcast_ref()
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, WireError::Invalid(what.into()))
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, WireError::Closed)
}

fn too_large() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, WireError::TooLarge)
}

/// A chunk of a body read piece by piece larger than any body read whole.
fn chunk_too_large(size: u64) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, WireError::ChunkTooLarge(size))
}

impl Head {
    /// The head of an answer read by another transport (HTTP/2): its body
    /// is read there.
    pub fn from_map(status: u16, headers: &HeaderMap, trace: bool) -> Self {
        use http::header::{CONTENT_TYPE, RETRY_AFTER, SET_COOKIE};
        Head {
            status,
            retry_after: headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            pushback: headers
                .get(crate::policy::PUSHBACK_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            rate_limit: {
                let mut f = crate::policy::RateLimitFields::default();
                for (k, v) in headers {
                    f.offer(k.as_str(), v.as_bytes());
                }
                f
            },
            set_cookies: headers.get_all(SET_COOKIE).iter().cloned().collect(),
            event_stream: headers
                .get(CONTENT_TYPE)
                .is_some_and(|v| super::sse::is_event_stream(v.as_bytes())),
            simulator: headers.contains_key("x-stampede-sim"),
            headers: trace.then(|| headers.clone()),
            framing: Framing::None,
            keep_alive: false,
        }
    }
}

/// Where a body read piece by piece ([`H1::next_piece`]) stands.
#[derive(Debug)]
pub struct Pieces(Left);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Left {
    /// This many bytes of a `Content-Length` body.
    Length(u64),
    /// A chunk size line next.
    ChunkSize,
    /// This many bytes of the current chunk.
    ChunkData(u64),
    /// The CRLF after a chunk's data.
    ChunkEnd,
    /// The trailers after the last chunk, and how far they were read.
    Trailers(Trailers),
    /// Everything up to the end of the connection.
    UntilClose,
    Done,
}

/// How far the trailers after the last chunk were read: lines and bytes
/// consumed, and how much of the buffer is known to hold no line end (so
/// that no byte is looked at twice).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Trailers {
    lines: u32,
    bytes: u32,
    scanned: u32,
}

impl Pieces {
    /// The body of the answer whose head this is.
    pub fn of(head: &Head) -> Self {
        Pieces(match head.framing {
            Framing::None => Left::Done,
            Framing::Length(n) => Left::Length(n),
            Framing::Chunked => Left::ChunkSize,
            Framing::UntilClose => Left::UntilClose,
        })
    }
}

impl H1 {
    pub fn new(io: Io) -> Self {
        H1 {
            io,
            buf: BytesMut::new(),
            reusable: true,
            heard: false,
        }
    }

    /// `e`, from [`Self::send`], says the server had closed this connection
    /// before it answered anything: the end of the stream, a reset or a
    /// broken pipe, and not one byte of an answer. On a connection kept
    /// alive from an earlier request this is the race RFC 9112 §9.3.1
    /// describes (the server closed it as the request went out).
    pub fn is_stale(&self, e: &io::Error) -> bool {
        use io::ErrorKind as K;
        !self.heard
            && matches!(
                e.kind(),
                K::UnexpectedEof | K::ConnectionReset | K::BrokenPipe | K::ConnectionAborted
            )
    }

    /// Its last answer allowed another request and left nothing unread
    /// (what [`super::pool::Pool::checkin`] asks; whether the server has
    /// closed it since is asked at checkout, by [`Self::is_open`]).
    pub fn is_reusable(&self) -> bool {
        self.reusable && self.buf.is_empty()
    }

    /// Whether the connection can take another request: its last answer
    /// allowed it, and the server has not closed it since (a read that
    /// would wait says open; an end of stream, stray bytes or an error
    /// say closed).
    ///
    /// On TCP the kernel is asked ([`peek_open`]): the socket's readiness
    /// as tokio last saw it is not enough, because a FIN that arrived after
    /// the answer's bytes were read is known to the I/O driver only once it
    /// has run again, and a task that sends its next request at once (or a
    /// busy runtime) writes it on a connection the server has closed. Over
    /// TLS or a tunnel, a read polled once with a no-op waker.
    pub fn is_open(&mut self) -> bool {
        if !self.is_reusable() {
            return false;
        }
        if let Io::Tcp(t) = &self.io {
            return peek_open(t);
        }
        let mut cx = Context::from_waker(Waker::noop());
        let mut probe = [0u8; 1];
        let mut rb = ReadBuf::new(&mut probe);
        matches!(
            Pin::new(&mut self.io).poll_read(&mut cx, &mut rb),
            Poll::Pending
        )
    }

    /// Write the request (its URI as it was built: origin form, or
    /// absolute form for a forwarding proxy) and read the answer's head.
    ///
    /// When the write fails, the answer may be there already: a server that
    /// will not take the request (a 413 to a body too large, a 401 before
    /// an upload) answers early and closes, and the rest of the request
    /// meets the close. A whole head the socket already holds is the
    /// answer (the connection is not used again); otherwise the write's
    /// error stands.
    pub async fn send(&mut self, wire: &Wire, trace: bool) -> io::Result<Head> {
        self.reusable = false;
        self.heard = false;
        if let Err(e) = self.write(&wire.bytes).await {
            return match self.held_head(trace).await {
                Ok(Some(head)) => {
                    let mut head = frame(head, wire.head_only);
                    head.keep_alive = false;
                    Ok(head)
                }
                Ok(None) => Err(e),
                Err(invalid) => Err(invalid),
            };
        }
        // Bytes of the buffer known to hold no line end: the head is parsed
        // again only once one arrived (a head dribbled a byte at a time is
        // not parsed from its start for every byte).
        let mut scanned = 0;
        loop {
            if self.buf[scanned..].contains(&b'\n')
                && let Some(head) = self.next_head(trace)?
            {
                return Ok(frame(head, wire.head_only));
            }
            if self.buf.len() >= MAX_HEAD {
                return Err(invalid("head over 64 KiB"));
            }
            scanned = self.buf.len();
            if self.read_more(READ_CHUNK).await? == 0 {
                return Err(closed());
            }
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.io.write_all(bytes).await?;
        self.io.flush().await
    }

    /// The first head in the buffer that is not an interim answer (100
    /// Continue, 103 Early Hints: consumed and skipped); `None` while it is
    /// incomplete.
    fn next_head(&mut self, trace: bool) -> io::Result<Option<Head>> {
        while let Some((n, head)) = parse_head(&self.buf, trace)? {
            self.buf.advance(n);
            if !(100..200).contains(&head.status) || head.status == 101 {
                return Ok(Some(head));
            }
        }
        Ok(None)
    }

    /// After a failed write: what the socket already holds (read without
    /// waiting, once the I/O driver had its turn to see it), and the head
    /// at its start if it is whole.
    async fn held_head(&mut self, trace: bool) -> io::Result<Option<Head>> {
        // The driver marks the socket readable on its next turn; a yield
        // lets it run first (this is the failure path only).
        tokio::task::yield_now().await;
        let mut cx = Context::from_waker(Waker::noop());
        let mut chunk = [0u8; READ_CHUNK];
        while self.buf.len() < MAX_HEAD + super::BODY_LIMIT {
            let mut rb = ReadBuf::new(&mut chunk);
            match Pin::new(&mut self.io).poll_read(&mut cx, &mut rb) {
                Poll::Ready(Ok(())) if !rb.filled().is_empty() => {
                    self.heard = true;
                    self.buf.extend_from_slice(rb.filled());
                }
                // Nothing more now, the end, or the reset that broke the write.
                _ => break,
            }
        }
        self.next_head(trace)
    }

    /// The body of the answer whose head [`Self::send`] returned; after
    /// it the connection is reusable if the answer said so.
    pub async fn body(&mut self, head: &Head) -> io::Result<Bytes> {
        let limit = super::BODY_LIMIT as u64;
        let body = match head.framing {
            Framing::None => Bytes::new(),
            Framing::Length(n) if n > limit => return Err(too_large()),
            Framing::Length(n) => {
                let n = n as usize;
                while self.buf.len() < n {
                    let want = n - self.buf.len();
                    if self.read_more(want).await? == 0 {
                        return Err(closed());
                    }
                }
                self.buf.split_to(n).freeze()
            }
            Framing::Chunked => self.chunked().await?,
            Framing::UntilClose => {
                while self.read_more(READ_CHUNK).await? > 0 {
                    if self.buf.len() as u64 > limit {
                        return Err(too_large());
                    }
                }
                return Ok(std::mem::take(&mut self.buf).freeze());
            }
        };
        self.reusable = head.keep_alive && self.buf.is_empty();
        if self.buf.is_empty() {
            // Nothing kept between answers (the body's bytes stay with it).
            self.buf = BytesMut::new();
        }
        Ok(body)
    }

    /// A chunked body, its chunks joined; trailers are read and dropped.
    async fn chunked(&mut self) -> io::Result<Bytes> {
        let mut out = BytesMut::new();
        loop {
            let size = self.chunk_size().await?;
            if size == 0 {
                let mut t = Trailers::default();
                while !self.trailer_lines(&mut t)? {
                    if self.read_more(READ_CHUNK).await? == 0 {
                        return Err(closed());
                    }
                }
                return Ok(out.freeze());
            }
            // `out` never holds more than the limit, so no sum can overflow
            // whatever size the target wrote (up to `u64::MAX`).
            if size > (super::BODY_LIMIT - out.len()) as u64 {
                return Err(too_large());
            }
            let size = size as usize;
            while self.buf.len() < size + 2 {
                let want = size + 2 - self.buf.len();
                if self.read_more(want).await? == 0 {
                    return Err(closed());
                }
            }
            if &self.buf[size..size + 2] != b"\r\n" {
                return Err(invalid("chunk not followed by CRLF"));
            }
            out.extend_from_slice(&self.buf[..size]);
            self.buf.advance(size + 2);
        }
    }

    /// The next chunk's size, its size line read and consumed.
    async fn chunk_size(&mut self) -> io::Result<u64> {
        loop {
            match httparse::parse_chunk_size(&self.buf) {
                Ok(httparse::Status::Complete((at, size))) => {
                    self.buf.advance(at);
                    return Ok(size);
                }
                Ok(httparse::Status::Partial) => {
                    if self.buf.len() > 1024 {
                        return Err(invalid("chunk size line"));
                    }
                    if self.read_more(READ_CHUNK).await? == 0 {
                        return Err(closed());
                    }
                }
                Err(_) => return Err(invalid("chunk size")),
            }
        }
    }

    /// The next piece of the body [`Pieces`] follows: what has arrived of
    /// it, as soon as it has (a chunk's data is handed on as it comes, not
    /// once the chunk is whole); `None` at its end (the last chunk and its
    /// trailers, the whole `Content-Length`, or the close). An end before
    /// the framing's is "connection closed".
    ///
    /// Cancel safe: every await is a read into the buffer, and what was
    /// consumed is recorded in `p` before the next one. Between pieces the
    /// connection holds no buffer (on TCP one is taken when bytes arrive).
    /// The connection is not used again after a body read this way.
    pub async fn next_piece(&mut self, p: &mut Pieces) -> io::Result<Option<Bytes>> {
        self.reusable = false;
        loop {
            match p.0 {
                Left::Done => return Ok(None),
                Left::Length(0) => p.0 = Left::Done,
                Left::Length(n) | Left::ChunkData(n) => {
                    if self.buf.is_empty() && self.read_more(READ_CHUNK).await? == 0 {
                        return Err(closed());
                    }
                    let take = n.min(self.buf.len() as u64);
                    p.0 = match p.0 {
                        Left::ChunkData(_) if take == n => Left::ChunkEnd,
                        Left::ChunkData(_) => Left::ChunkData(n - take),
                        _ => Left::Length(n - take),
                    };
                    return Ok(Some(self.piece(take as usize)));
                }
                Left::UntilClose => {
                    if self.buf.is_empty() && self.read_more(READ_CHUNK).await? == 0 {
                        p.0 = Left::Done;
                        return Ok(None);
                    }
                    return Ok(Some(self.piece(self.buf.len())));
                }
                Left::ChunkSize => {
                    let size = self.chunk_size().await?;
                    // No one chunk larger than a whole body read at once
                    // (events are bounded by the same limit).
                    if size > super::BODY_LIMIT as u64 {
                        return Err(chunk_too_large(size));
                    }
                    p.0 = if size == 0 {
                        Left::Trailers(Trailers::default())
                    } else {
                        Left::ChunkData(size)
                    };
                }
                Left::ChunkEnd => {
                    while self.buf.len() < 2 {
                        if self.read_more(2).await? == 0 {
                            return Err(closed());
                        }
                    }
                    if &self.buf[..2] != b"\r\n" {
                        return Err(invalid("chunk not followed by CRLF"));
                    }
                    self.buf.advance(2);
                    p.0 = Left::ChunkSize;
                }
                Left::Trailers(mut t) => {
                    let done = self.trailer_lines(&mut t);
                    p.0 = Left::Trailers(t);
                    if done? {
                        p.0 = Left::Done;
                    } else if self.read_more(READ_CHUNK).await? == 0 {
                        return Err(closed());
                    }
                }
            }
        }
    }

    /// The first `n` bytes of the buffer; an emptied buffer is let go, so
    /// a connection waiting for more holds none.
    fn piece(&mut self, n: usize) -> Bytes {
        let piece = self.buf.split_to(n).freeze();
        if self.buf.is_empty() {
            self.buf = BytesMut::new();
        }
        piece
    }

    /// Consume the trailer lines the buffer holds whole; `true` once the
    /// empty line that ends them was consumed. Each byte is looked at once
    /// (`t.scanned`), and at most [`MAX_TRAILERS`] lines in
    /// [`MAX_TRAILER_BYTES`] are taken, counting a line still arriving: a
    /// target that sends trailers forever is refused, not buffered.
    fn trailer_lines(&mut self, t: &mut Trailers) -> io::Result<bool> {
        loop {
            let from = t.scanned as usize;
            let Some(i) = self.buf[from..].iter().position(|b| *b == b'\n') else {
                t.scanned = self.buf.len() as u32;
                if t.bytes as usize + self.buf.len() > MAX_TRAILER_BYTES as usize {
                    return Err(invalid("trailers over 16 KiB"));
                }
                return Ok(false);
            };
            let end = from + i + 1;
            // A line end is CRLF, or a bare LF (RFC 9112 §2.2).
            let empty = end == 1 || (end == 2 && self.buf[0] == b'\r');
            self.buf.advance(end);
            t.scanned = 0;
            if empty {
                return Ok(true);
            }
            t.lines += 1;
            t.bytes += end as u32;
            if t.lines > MAX_TRAILERS {
                return Err(invalid("over 100 trailer lines"));
            }
            if t.bytes > MAX_TRAILER_BYTES {
                return Err(invalid("trailers over 16 KiB"));
            }
        }
    }

    /// Read what the socket has into the buffer (room for at least `want`
    /// more bytes, at most [`READ_CHUNK`] unless `want` says more); 0 at
    /// the end of the stream. On TCP the buffer is taken only once the
    /// socket is readable, so a connection waiting for its answer holds
    /// none.
    async fn read_more(&mut self, want: usize) -> io::Result<usize> {
        if let Io::Tcp(t) = &self.io {
            t.readable().await?;
        }
        self.buf.reserve(want.max(READ_CHUNK));
        let n = self.io.read_buf(&mut self.buf).await?;
        self.heard |= n > 0;
        Ok(n)
    }
}

/// Whether the server has left this idle TCP connection open: one
/// `recv(MSG_PEEK | MSG_DONTWAIT)` of one byte. Nothing to read (EAGAIN)
/// is open; the end of the stream (the server's FIN), a byte nobody asked
/// for, or an error (a reset) is closed. Nothing is consumed.
fn peek_open(t: &TcpStream) -> bool {
    use std::os::fd::AsRawFd;
    let mut byte = 0u8;
    // SAFETY: a valid socket descriptor (owned by `t` for the whole call)
    // and a one-byte buffer that outlives it.
    let n = unsafe {
        libc::recv(
            t.as_raw_fd(),
            (&mut byte as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
}

/// The bytes of a request body (a `Full` yields its one frame at once).
fn full_bytes(mut body: super::pool::Body) -> Bytes {
    use http_body::Body as _;
    let mut cx = Context::from_waker(Waker::noop());
    match Pin::new(&mut body).poll_frame(&mut cx) {
        Poll::Ready(Some(Ok(frame))) => frame.into_data().unwrap_or_default(),
        _ => Bytes::new(),
    }
}

/// The request as bytes: request line, headers (names as `http` keeps
/// them, lower case; never a `Content-Length` or `Transfer-Encoding` of
/// theirs), `Content-Length` for a body (and 0 for an empty POST, PUT or
/// PATCH), the body.
fn encode(req: &http::request::Parts, body: &[u8]) -> Vec<u8> {
    let uri = &req.uri;
    let absolute;
    let target = match uri.scheme() {
        Some(_) => {
            absolute = uri.to_string();
            absolute.as_str()
        }
        None => uri.path_and_query().map_or("/", |p| p.as_str()),
    };
    let mut out = Vec::with_capacity(64 + target.len() + body.len() + 48 * req.headers.len());
    out.extend_from_slice(req.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in &req.headers {
        // The body is framed here, by its length, whatever a header said
        // (scenario validation refuses these names too).
        if name == http::header::CONTENT_LENGTH || name == http::header::TRANSFER_ENCODING {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let wants_length =
        !body.is_empty() || matches!(req.method, Method::POST | Method::PUT | Method::PATCH);
    if wants_length {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(body.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// The framing as the request and status decide it: no body for HEAD, 101,
/// 204 and 304; a connection whose body runs to the close (or that
/// switched protocols) is not used again.
fn frame(mut head: Head, head_only: bool) -> Head {
    if head_only || matches!(head.status, 101 | 204 | 304) {
        head.framing = Framing::None;
    }
    if head.status == 101 || head.framing == Framing::UntilClose {
        head.keep_alive = false;
    }
    head
}

/// The head at the start of `buf` and its length, `None` while it is
/// incomplete.
fn parse_head(buf: &[u8], trace: bool) -> io::Result<Option<(usize, Head)>> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut slots);
    let n = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(invalid("over 100 headers")),
        Err(e) => return Err(invalid(&e.to_string())),
    };
    let status = resp.code.unwrap_or(0);
    let http11 = resp.version == Some(1);
    let mut head = Head {
        status,
        retry_after: None,
        pushback: None,
        rate_limit: crate::policy::RateLimitFields::default(),
        set_cookies: Vec::new(),
        event_stream: false,
        simulator: false,
        headers: trace.then(HeaderMap::new),
        framing: Framing::UntilClose,
        keep_alive: http11,
    };
    let (mut length, mut chunked, mut coded) = (None::<u64>, false, false);
    for h in resp.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("content-length") {
            let v = content_length(h.value)?;
            if length.is_some_and(|l| l != v) {
                return Err(invalid("two different content-lengths"));
            }
            length = Some(v);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            coded = true;
            // Chunked only as the last coding frames the body.
            chunked = h
                .value
                .rsplit(|b| *b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|b| *b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    head.keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && !http11 {
                    head.keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case("set-cookie") {
            if let Ok(v) = HeaderValue::from_bytes(h.value) {
                head.set_cookies.push(v);
            }
        } else if name.eq_ignore_ascii_case("retry-after") {
            head.retry_after = std::str::from_utf8(h.value).ok().map(str::to_string);
        } else if name.eq_ignore_ascii_case(crate::policy::PUSHBACK_HEADER) {
            head.pushback = std::str::from_utf8(h.value).ok().map(str::to_string);
        } else if name.eq_ignore_ascii_case("content-type") {
            head.event_stream = super::sse::is_event_stream(h.value);
        } else if name.eq_ignore_ascii_case("x-stampede-sim") {
            head.simulator = true;
        } else if name.len() >= 9 && name.as_bytes()[..9].eq_ignore_ascii_case(b"ratelimit")
            || name.len() >= 11 && name.as_bytes()[..11].eq_ignore_ascii_case(b"x-ratelimit")
        {
            head.rate_limit.offer(name, h.value);
        }
        if let Some(map) = &mut head.headers
            && let (Ok(k), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_bytes(h.value),
            )
        {
            map.append(k, v);
        }
    }
    if coded && !http11 {
        // RFC 9112 §6.1: an HTTP/1.0 message cannot carry a transfer coding.
        return Err(invalid("transfer-encoding in an HTTP/1.0 answer"));
    }
    if coded && length.is_some() {
        // RFC 9112 §6.3: Transfer-Encoding wins, and the answer smells of
        // request smuggling: its connection is not used again.
        head.keep_alive = false;
    }
    head.framing = if coded {
        if chunked {
            Framing::Chunked
        } else {
            Framing::UntilClose
        }
    } else {
        match length {
            Some(0) => Framing::None,
            Some(n) => Framing::Length(n),
            None => Framing::UntilClose,
        }
    };
    Ok(Some((n, head)))
}

/// A `Content-Length` value as RFC 9110 §8.6 has it: digits only, or a
/// list of one value repeated (`5, 5`, as a proxy that joined two equal
/// fields sends it); a sign, a space inside, a hex prefix or two different
/// values are refused.
fn content_length(value: &[u8]) -> io::Result<u64> {
    let mut length = None;
    for part in value.split(|b| *b == b',') {
        let part = part.trim_ascii();
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return Err(invalid("content-length is not a number"));
        }
        let n = part
            .iter()
            .try_fold(0u64, |n, d| {
                n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
            })
            .ok_or_else(|| invalid("content-length out of range"))?;
        if length.is_some_and(|l| l != n) {
            return Err(invalid("two different content-lengths"));
        }
        length = Some(n);
    }
    length.ok_or_else(|| invalid("content-length is not a number"))
}

#[cfg(test)]
#[path = "h1_hostile_tests.rs"]
mod hostile_tests;

#[cfg(test)]
#[path = "h1_fuzz_tests.rs"]
mod fuzz_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::NetError;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};

    fn head(raw: &str) -> io::Result<Option<(usize, Head)>> {
        Ok(parse_head(raw.as_bytes(), true)?.map(|(n, h)| (n, frame(h, false))))
    }

    fn kind(e: &io::Error) -> NetError {
        WireError::of(e).expect("a typed error").kind()
    }

    #[test]
    fn the_head_says_how_the_body_is_framed_and_whether_the_connection_stays() {
        // (raw head, framing, keep-alive)
        let cases = [
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
                Framing::Length(5),
                true,
            ),
            (
                "HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n",
                Framing::None,
                true,
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                Framing::Chunked,
                true,
            ),
            // A coding other than chunked last: the body runs to the close.
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
                Framing::UntilClose,
                false,
            ),
            // Transfer-Encoding wins over Content-Length, and the
            // connection is not used again (RFC 9112 §6.3).
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                Framing::Chunked,
                false,
            ),
            ("HTTP/1.1 200 OK\r\n\r\n", Framing::UntilClose, false),
            (
                "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n",
                Framing::Length(2),
                false,
            ),
            (
                "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n",
                Framing::Length(2),
                false,
            ),
            (
                "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\n",
                Framing::Length(2),
                true,
            ),
            // No body, whatever the headers say, and the connection stays.
            ("HTTP/1.1 204 No Content\r\n\r\n", Framing::None, true),
            (
                "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
                Framing::None,
                true,
            ),
        ];
        for (raw, framing, keep) in cases {
            let (n, h) = head(raw).unwrap().unwrap();
            assert_eq!(n, raw.len(), "{raw:?}");
            assert_eq!((h.framing, h.keep_alive), (framing, keep), "{raw:?}");
        }
    }

    #[test]
    fn cookies_retry_after_and_traced_headers_are_read_from_the_head() {
        let raw = "HTTP/1.1 429 Too Many Requests\r\nSet-Cookie: a=1\r\nRetry-After: 2\r\nset-cookie: b=2\r\nX-Echo: yes\r\nContent-Length: 0\r\n\r\n";
        let (_, h) = head(raw).unwrap().unwrap();
        assert_eq!(h.status, 429);
        assert_eq!(h.retry_after.as_deref(), Some("2"));
        assert_eq!(h.set_cookies, ["a=1", "b=2"]);
        let all = h.headers.unwrap();
        assert_eq!(all.get("x-echo").unwrap(), "yes");
        assert_eq!(all.get_all("set-cookie").iter().count(), 2);
        // Untraced, no map is built.
        assert!(
            parse_head(raw.as_bytes(), false)
                .unwrap()
                .unwrap()
                .1
                .headers
                .is_none()
        );
    }

    #[test]
    fn a_partial_head_waits_and_a_broken_one_is_an_error() {
        assert!(head("HTTP/1.1 200 OK\r\nContent-Le").unwrap().is_none());
        let two = head("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n");
        assert_eq!(kind(&two.unwrap_err()), NetError::InvalidResponse);
        assert!(head("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n").is_err());
        assert!(head("SSH-2.0-OpenSSH\r\n\r\n").is_err());
        let many = format!(
            "HTTP/1.1 200 OK\r\n{}\r\n",
            "a: b\r\n".repeat(MAX_HEADERS + 1)
        );
        assert!(
            head(&many)
                .unwrap_err()
                .to_string()
                .contains("over 100 headers")
        );
    }

    fn request(method: Method, uri: &str, body: &'static str) -> Request<super::super::pool::Body> {
        let mut r = Request::new(http_body_util::Full::new(Bytes::from_static(
            body.as_bytes(),
        )));
        *r.method_mut() = method;
        *r.uri_mut() = uri.parse().unwrap();
        r.headers_mut()
            .insert("host", HeaderValue::from_static("t"));
        r
    }

    #[test]
    fn a_request_is_written_in_origin_or_absolute_form_with_its_length() {
        let wire = |r: Request<super::super::pool::Body>| {
            let (p, b) = r.into_parts();
            String::from_utf8(encode(&p, &full_bytes(b))).unwrap()
        };
        let cases = [
            (
                Method::GET,
                "/a?b=1",
                "",
                "GET /a?b=1 HTTP/1.1\r\nhost: t\r\n\r\n",
            ),
            (
                Method::POST,
                "/r",
                "{}",
                "POST /r HTTP/1.1\r\nhost: t\r\ncontent-length: 2\r\n\r\n{}",
            ),
            (
                Method::PUT,
                "/r",
                "",
                "PUT /r HTTP/1.1\r\nhost: t\r\ncontent-length: 0\r\n\r\n",
            ),
            // Absolute form, for a forwarding proxy.
            (
                Method::GET,
                "http://t:8/x",
                "",
                "GET http://t:8/x HTTP/1.1\r\nhost: t\r\n\r\n",
            ),
        ];
        for (method, uri, body, expected) in cases {
            assert_eq!(wire(request(method, uri, body)), expected);
        }
    }

    /// A connection over an in-memory pipe, and the server's end of it.
    fn pipe() -> (H1, DuplexStream) {
        let (a, b) = duplex(64 * 1024);
        (H1::new(Io::Other(Box::pin(a))), b)
    }

    /// Read one request head from the server's end.
    async fn read_request(server: &mut DuplexStream) -> String {
        let mut got = Vec::new();
        while !got.ends_with(b"\r\n\r\n") {
            let mut b = [0u8; 1];
            assert_eq!(server.read(&mut b).await.unwrap(), 1);
            got.push(b[0]);
        }
        String::from_utf8(got).unwrap()
    }

    /// Answer with `parts`, each written (and flushed) separately.
    async fn answer(server: &mut DuplexStream, parts: &[&str]) {
        for p in parts {
            server.write_all(p.as_bytes()).await.unwrap();
            server.flush().await.unwrap();
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn interim_answers_are_skipped_and_a_chunked_body_arriving_in_pieces_is_joined() {
        let (mut c, mut server) = pipe();
        let srv = tokio::spawn(async move {
            assert!(
                read_request(&mut server)
                    .await
                    .starts_with("GET /a HTTP/1.1\r\n")
            );
            answer(
                &mut server,
                &[
                    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Enc",
                    "oding: chunked\r\n\r\n4\r\nWi",
                    "ki\r\n5;ext=1\r\npedia\r\n0\r\nX-Trailer: t\r\n",
                    "\r\n",
                ],
            )
            .await;
            // The same connection, a second request.
            assert!(
                read_request(&mut server)
                    .await
                    .starts_with("GET /b HTTP/1.1\r\n")
            );
            answer(
                &mut server,
                &["HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"],
            )
            .await;
            server
        });
        let h = c
            .send(&Wire::new(request(Method::GET, "/a", "")), false)
            .await
            .unwrap();
        assert_eq!(h.status, 200);
        assert_eq!(c.body(&h).await.unwrap(), "Wikipedia");
        assert!(c.is_open(), "a chunked answer keeps the connection");
        let h = c
            .send(&Wire::new(request(Method::GET, "/b", "")), false)
            .await
            .unwrap();
        assert_eq!(c.body(&h).await.unwrap(), "abc");
        let server = srv.await.unwrap();
        assert!(c.is_open());
        // The server goes away: the idle connection is seen closed.
        drop(server);
        assert!(!c.is_open());
    }

    /// The pieces of the body of an answer to GET, until its end (or error).
    async fn pieces(c: &mut H1) -> io::Result<Vec<Bytes>> {
        let h = c
            .send(&Wire::new(request(Method::GET, "/", "")), false)
            .await?;
        let mut p = Pieces::of(&h);
        let mut out = Vec::new();
        while let Some(b) = c.next_piece(&mut p).await? {
            out.push(b);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn a_body_read_piece_by_piece_hands_on_what_arrived_and_ends_with_its_framing() {
        // (answer written in parts, the body joined, the server closes)
        let cases: [(&[&str], &str, bool); 4] = [
            (
                &[
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWi",
                    "ki\r",
                    "\n5\r\npedia\r\n0\r\nX-Trailer: t\r\n",
                    "\r\n",
                ],
                "Wikipedia",
                false,
            ),
            (
                &["HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nWiki", "pedia"],
                "Wikipedia",
                false,
            ),
            (&["HTTP/1.1 200 OK\r\n\r\nWiki", "pedia"], "Wikipedia", true),
            (&["HTTP/1.1 204 No Content\r\n\r\n"], "", false),
        ];
        for (parts, body, closes) in cases {
            let (mut c, mut server) = pipe();
            let owned: Vec<String> = parts.iter().map(|p| p.to_string()).collect();
            tokio::spawn(async move {
                read_request(&mut server).await;
                let parts: Vec<&str> = owned.iter().map(String::as_str).collect();
                answer(&mut server, &parts).await;
                // A framed body ends without the close.
                if !closes {
                    let _ = server.read(&mut [0u8; 1]).await;
                }
            });
            let got = pieces(&mut c).await.unwrap();
            assert_eq!(got.concat(), body.as_bytes(), "{parts:?}");
        }

        // Cut inside a chunk, or before the length: closed.
        for cut in [
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nWiki",
            "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nWiki",
        ] {
            let (mut c, mut server) = pipe();
            tokio::spawn(async move {
                read_request(&mut server).await;
                answer(&mut server, &[cut]).await;
            });
            assert_eq!(kind(&pieces(&mut c).await.unwrap_err()), NetError::Closed);
        }
    }

    #[tokio::test]
    async fn head_requests_and_no_content_answers_have_no_body() {
        let (mut c, mut server) = pipe();
        let srv = tokio::spawn(async move {
            read_request(&mut server).await;
            answer(
                &mut server,
                &["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"],
            )
            .await;
            read_request(&mut server).await;
            answer(&mut server, &["HTTP/1.1 204 No Content\r\n\r\n"]).await;
            server
        });
        let h = c
            .send(&Wire::new(request(Method::HEAD, "/", "")), false)
            .await
            .unwrap();
        assert_eq!(c.body(&h).await.unwrap(), "");
        let h = c
            .send(&Wire::new(request(Method::DELETE, "/", "")), false)
            .await
            .unwrap();
        assert_eq!((h.status, c.body(&h).await.unwrap().len()), (204, 0));
        let _server = srv.await.unwrap();
        assert!(c.is_open());
    }

    #[tokio::test]
    async fn a_body_framed_by_the_close_ends_the_connection_after_it() {
        let (mut c, mut server) = pipe();
        tokio::spawn(async move {
            read_request(&mut server).await;
            answer(&mut server, &["HTTP/1.1 200 OK\r\n\r\nall ", "of it"]).await;
        });
        let h = c
            .send(&Wire::new(request(Method::GET, "/", "")), false)
            .await
            .unwrap();
        assert_eq!(c.body(&h).await.unwrap(), "all of it");
        assert!(!c.is_open());
    }

    #[tokio::test]
    async fn an_answer_cut_short_is_a_closed_connection_and_an_oversized_one_too_large() {
        let (mut c, mut server) = pipe();
        tokio::spawn(async move {
            read_request(&mut server).await;
            answer(
                &mut server,
                &["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"],
            )
            .await;
        });
        let h = c
            .send(&Wire::new(request(Method::GET, "/", "")), false)
            .await
            .unwrap();
        assert_eq!(kind(&c.body(&h).await.unwrap_err()), NetError::Closed);
        assert!(!c.is_open());

        let (mut c, mut server) = pipe();
        tokio::spawn(async move {
            read_request(&mut server).await;
            let big = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                super::super::BODY_LIMIT + 1
            );
            answer(&mut server, &[&big]).await;
        });
        let h = c
            .send(&Wire::new(request(Method::GET, "/", "")), false)
            .await
            .unwrap();
        assert_eq!(kind(&c.body(&h).await.unwrap_err()), NetError::BodyTooLarge);

        // Nothing at all before the close.
        let (mut c, mut server) = pipe();
        tokio::spawn(async move {
            read_request(&mut server).await;
        });
        let e = c
            .send(&Wire::new(request(Method::GET, "/", "")), false)
            .await
            .unwrap_err();
        assert_eq!(kind(&e), NetError::Closed);
        assert!(c.is_stale(&e), "closed before any byte of an answer");
    }

    #[tokio::test]
    async fn an_answer_cut_after_its_first_bytes_is_not_stale() {
        let (mut c, mut server) = pipe();
        tokio::spawn(async move {
            read_request(&mut server).await;
            answer(&mut server, &["HTTP/1.1 200 OK\r\nContent-"]).await;
        });
        let e = c
            .send(&Wire::new(request(Method::GET, "/", "")), false)
            .await
            .unwrap_err();
        assert_eq!(kind(&e), NetError::Closed);
        assert!(!c.is_stale(&e), "the server had begun to answer");
    }
}
