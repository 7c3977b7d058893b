//! An answer read event by event ([`EventStream`]), or whole when it is no
//! event stream ([`Opened`]).

use super::*;

/// What [`HttpClient::open_stream`] got.
#[derive(Debug)]
pub enum Opened {
    /// Not an event stream (status not 2xx, or Content-Type not
    /// `text/event-stream`): the answer read whole, exactly as
    /// [`HttpClient::send`] returns it.
    Answer(Response),
    /// A 2xx `text/event-stream`: events as they arrive.
    Stream(EventStream),
}

/// A 2xx `text/event-stream` answer, read as its events arrive. It holds
/// its connection (HTTP/1) or its HTTP/2 stream and one of the client's
/// connection permits until it is dropped; between events it holds no
/// read buffer. Boxed: a task that may open a stream keeps a pointer's
/// room for it, not the stream's.
pub struct EventStream(pub(super) Box<Streaming>);

pub(super) struct Streaming {
    pub(super) status: u16,
    pub(super) body: Source,
    pub(super) parser: sse::Parser,
    /// Events parsed and not yet handed out, in order.
    pub(super) pending: std::vec::IntoIter<sse::Event>,
    pub(super) bytes: u64,
    /// How the stream ended: cleanly, or with this failure.
    pub(super) end: Option<Result<(), Failure>>,
    pub(super) stats: Arc<TransportStats>,
    pub(super) trace: Option<Arc<trace::Tracer>>,
    pub(super) _permit: OwnedSemaphorePermit,
}

/// Where an event stream's bytes come from.
pub(super) enum Source {
    H1(h1::H1, h1::Pieces),
    /// Its HTTP/2 stream, holding a stream slot until the stream goes.
    H2 {
        body: hyper::body::Incoming,
        _slot: Option<h2slots::Slot>,
    },
    /// Ended: the connection is gone.
    Gone,
}

impl EventStream {
    pub fn status(&self) -> u16 {
        self.0.status
    }

    /// The next event; `Ok(None)` when the server ended the stream (a clean
    /// close, the end of the body; an event not finished by then is
    /// dropped, as the standard says); `Err` on a transport error (a reset,
    /// a connection cut inside a chunk or before its `Content-Length`, a
    /// line or an event over 1 MiB as `BODY_TOO_LARGE`), counted in the
    /// transport's stats like a failure of `send`. No timeout inside: the
    /// caller races it with its own deadline (cancel safe: nothing read is
    /// lost when the race drops it). After the end, the same end again.
    pub async fn next_event(&mut self) -> Result<Option<sse::Event>, Failure> {
        let s = &mut *self.0;
        loop {
            if let Some(event) = s.pending.next() {
                if s.pending.len() == 0 {
                    s.pending = Vec::new().into_iter();
                }
                return Ok(Some(event));
            }
            if let Some(end) = s.end {
                return end.map(|()| None);
            }
            let piece = match &mut s.body {
                Source::H1(c, pieces) => c
                    .next_piece(pieces)
                    .await
                    .map_err(|e| transport_failure(&s.stats, s.trace.as_deref(), &e)),
                Source::H2 { body: b, .. } => match b.frame().await {
                    None => Ok(None),
                    // Trailers carry no data.
                    Some(Ok(frame)) => Ok(Some(frame.into_data().unwrap_or_default())),
                    Some(Err(e)) => Err(transport_failure(&s.stats, s.trace.as_deref(), &e)),
                },
                Source::Gone => Ok(None),
            };
            let piece = match piece {
                Ok(Some(p)) => p,
                Ok(None) => {
                    s.finish(Ok(()));
                    continue;
                }
                Err(f) => {
                    s.finish(Err(f));
                    continue;
                }
            };
            s.bytes += piece.len() as u64;
            let mut events = Vec::new();
            if let Err(e) = s.parser.feed(&piece, &mut events) {
                let f = failed(&s.stats, s.trace.as_deref(), NetError::BodyTooLarge, || {
                    e.to_string()
                });
                s.finish(Err(f));
                continue;
            }
            s.pending = events.into_iter();
        }
    }

    /// The reconnection time the stream last set (`retry:`).
    pub fn retry(&self) -> Option<Duration> {
        self.0.parser.retry()
    }

    /// The last event ID, for `Last-Event-ID` on a reconnect.
    pub fn last_event_id(&self) -> Option<&str> {
        self.0.parser.last_event_id()
    }

    /// Bytes of event stream received so far (the body, without HTTP/1
    /// chunk framing).
    pub fn bytes(&self) -> u64 {
        self.0.bytes
    }
}

impl Streaming {
    /// The stream is over: its connection goes at once (the permit stays
    /// until the stream is dropped).
    fn finish(&mut self, end: Result<(), Failure>) {
        self.end = Some(end);
        self.body = Source::Gone;
    }
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("status", &self.0.status)
            .field("bytes", &self.0.bytes)
            .field("end", &self.0.end)
            .finish_non_exhaustive()
    }
}
