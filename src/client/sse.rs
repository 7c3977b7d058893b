//! Server-Sent Events: an incremental parser of the `text/event-stream`
//! format, as the WHATWG HTML standard interprets it
//! (<https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation>).
//! Pure: bytes in, events out, no I/O.
//!
//! Bytes are fed as they arrive, split anywhere (inside a UTF-8 sequence or
//! between the CR and LF of a line end). Each byte is looked at once: the
//! part of a line that ends in a later feed is kept, nothing is rescanned.
//! Memory is bounded: a line or a pending event over [`MAX_LINE`] /
//! [`MAX_EVENT`] bytes is [`SseError::TooLarge`], and a parser between
//! events holds no buffer (the line and data buffers go with the event).
//!
//! Lines are decoded one at a time, lossily: UTF-8 decoding with
//! replacement, as the standard decodes the whole stream (a line end is
//! ASCII and never inside a sequence, so decoding a line equals decoding
//! that part of the stream).

use std::borrow::Cow;
use std::time::Duration;

/// At most this many bytes in one line.
pub const MAX_LINE: usize = 1 << 20;
/// At most this many bytes of data in one event not yet dispatched.
pub const MAX_EVENT: usize = 1 << 20;

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The `event:` field, `"message"` when there was none.
    pub event: String,
    /// The `data:` lines joined by `\n`.
    pub data: String,
    /// The last event ID buffer at dispatch: `None` if no `id:` field was
    /// ever seen, `Some("")` after an empty one.
    pub id: Option<String>,
}

/// The stream broke the parser's memory bounds. After it the parser stays
/// failed: every later feed says so again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// A line over [`MAX_LINE`] bytes, or an event whose data is over
    /// [`MAX_EVENT`] bytes (the words "body too large" sort it as
    /// `BODY_TOO_LARGE`).
    #[error("event stream: a line or an event over 1 MiB (body too large)")]
    TooLarge,
}

/// The parser's state between feeds.
#[derive(Debug, Default)]
pub struct Parser {
    /// The start of a line that has not ended yet (unallocated between lines).
    line: Vec<u8>,
    /// The first bytes were looked at for the BOM.
    started: bool,
    /// Bytes of the BOM matched so far, while not `started`.
    bom: u8,
    /// The last byte fed ended a line with CR: an LF first in the next
    /// feed belongs to that line end.
    after_cr: bool,
    /// The data buffer; taken by the event it makes.
    data: String,
    /// The event type buffer.
    event: String,
    /// The last event ID buffer.
    id_buffer: Option<String>,
    /// The last event ID string: the buffer as it was at the last dispatch.
    last_id: Option<String>,
    retry: Option<Duration>,
    failed: bool,
}

impl Parser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed bytes as they arrive (any split, even mid-UTF-8 or mid-CRLF);
    /// complete events are pushed to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Event>) -> Result<(), SseError> {
        if self.failed {
            return Err(SseError::TooLarge);
        }
        let r = self.feed_inner(bytes, out);
        if r.is_err() {
            self.failed = true;
            // Nothing kept from a stream that broke the bounds.
            self.line = Vec::new();
            self.data = String::new();
        }
        r
    }

    /// The reconnection time the stream last set with a `retry:` field
    /// (digits only; other values are ignored).
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// The last event ID (for the `Last-Event-ID` header on reconnect), as
    /// it was at the last dispatch; `None` when never set or set to empty.
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_id.as_deref().filter(|s| !s.is_empty())
    }

    fn feed_inner(&mut self, mut bytes: &[u8], out: &mut Vec<Event>) -> Result<(), SseError> {
        if !self.started {
            // One leading BOM is skipped, however the feeds split it.
            while let Some((&b, rest)) = bytes.split_first() {
                if b != BOM[self.bom as usize] {
                    self.started = true;
                    // Not a BOM: the bytes matched so far start the first
                    // line (none of them ends a line).
                    self.line.extend_from_slice(&BOM[..self.bom as usize]);
                    break;
                }
                bytes = rest;
                self.bom += 1;
                if self.bom as usize == BOM.len() {
                    self.started = true;
                    break;
                }
            }
            if !self.started {
                return Ok(());
            }
        }
        if self.after_cr
            && let Some(&first) = bytes.first()
        {
            self.after_cr = false;
            if first == b'\n' {
                bytes = &bytes[1..];
            }
        }
        while let Some(i) = bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
            let (content, end, rest) = (&bytes[..i], bytes[i], &bytes[i + 1..]);
            if self.line.is_empty() {
                // The whole line is in this feed: used in place.
                bound(content.len())?;
                self.line(content, out)?;
            } else {
                bound(self.line.len() + content.len())?;
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(content);
                self.line(&line, out)?;
            }
            bytes = rest;
            if end == b'\r' {
                match bytes.first() {
                    Some(b'\n') => bytes = &bytes[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
        }
        if !bytes.is_empty() {
            bound(self.line.len() + bytes.len())?;
            self.line.extend_from_slice(bytes);
        }
        Ok(())
    }

    /// One line, without its line end.
    fn line(&mut self, line: &[u8], out: &mut Vec<Event>) -> Result<(), SseError> {
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &[][..]),
        };
        match name {
            b"event" => self.event = text(value).into_owned(),
            b"data" => {
                let v = text(value);
                if self.data.len() + v.len() + 1 > MAX_EVENT {
                    return Err(SseError::TooLarge);
                }
                self.data.push_str(&v);
                self.data.push('\n');
            }
            // An id with NUL is ignored.
            b"id" if !value.contains(&0) => self.id_buffer = Some(text(value).into_owned()),
            // Digits only; saturating: a number too large for u64 waits "forever".
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                let ms = value.iter().fold(0u64, |n, d| {
                    n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
                });
                self.retry = Some(Duration::from_millis(ms));
            }
            _ => {}
        }
        Ok(())
    }

    /// An empty line: the event so far, if it has data.
    fn dispatch(&mut self, out: &mut Vec<Event>) {
        if self.last_id != self.id_buffer {
            self.last_id.clone_from(&self.id_buffer);
        }
        if self.data.is_empty() {
            self.event = String::new();
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        if data.ends_with('\n') {
            data.pop();
        }
        let event = std::mem::take(&mut self.event);
        out.push(Event {
            event: if event.is_empty() {
                "message".to_string()
            } else {
                event
            },
            data,
            id: self.last_id.clone(),
        });
    }
}

fn bound(line: usize) -> Result<(), SseError> {
    if line > MAX_LINE {
        Err(SseError::TooLarge)
    } else {
        Ok(())
    }
}

fn text(b: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// Whether a `Content-Type` value names `text/event-stream` (any case,
/// parameters allowed).
pub fn is_event_stream(content_type: &[u8]) -> bool {
    let media = content_type
        .split(|b| *b == b';')
        .next()
        .unwrap_or_default();
    media
        .trim_ascii()
        .eq_ignore_ascii_case(b"text/event-stream")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: &str, data: &str, id: Option<&str>) -> Event {
        Event {
            event: event.into(),
            data: data.into(),
            id: id.map(str::to_string),
        }
    }

    fn msg(data: &str) -> Event {
        ev("message", data, None)
    }

    /// The events of `input` fed in one piece, checked equal to feeding it
    /// one byte at a time and in pieces of 2, 3 and 7 bytes.
    fn parse(input: &[u8]) -> (Vec<Event>, Parser) {
        let mut p = Parser::new();
        let mut whole = Vec::new();
        p.feed(input, &mut whole).expect("within bounds");
        for size in [1, 2, 3, 7] {
            let mut q = Parser::new();
            let mut split = Vec::new();
            for piece in input.chunks(size) {
                q.feed(piece, &mut split).expect("within bounds");
            }
            assert_eq!(split, whole, "pieces of {size}: {input:?}");
            assert_eq!(
                (q.retry(), q.last_event_id()),
                (p.retry(), p.last_event_id())
            );
        }
        (whole, p)
    }

    #[test]
    fn each_rule_of_the_event_stream_format() {
        // (what, stream, events)
        let cases: Vec<(&str, &[u8], Vec<Event>)> = vec![
            ("one event", b"data: a\n\n", vec![msg("a")]),
            (
                "the event type",
                b"event: position\ndata: {\"p\":3}\n\n",
                vec![ev("position", "{\"p\":3}", None)],
            ),
            (
                "data lines joined by LF",
                b"data: YHOO\ndata: +2\ndata: 10\n\n",
                vec![msg("YHOO\n+2\n10")],
            ),
            (
                "comments ignored",
                b": keep-alive\n:\ndata: a\n: between\n\n",
                vec![msg("a")],
            ),
            (
                "one leading space removed, no more",
                b"data:a\n\ndata:  b\n\n",
                vec![msg("a"), msg(" b")],
            ),
            (
                "split at the first colon",
                b"data: a:b: c\n\n",
                vec![msg("a:b: c")],
            ),
            (
                "a field without a colon has an empty value",
                b"data\n\ndata\ndata\n\ndata:",
                vec![msg(""), msg("\n")],
            ),
            (
                "CRLF, CR and LF line ends, mixed",
                b"data: a\r\ndata: b\rdata: c\n\r\nevent: e\r\rdata: d\n\n",
                vec![msg("a\nb\nc"), msg("d")],
            ),
            (
                "CR CR is two line ends",
                b"data: a\r\rdata: b\r\n\r\n",
                vec![msg("a"), msg("b")],
            ),
            (
                "unknown fields ignored",
                b"foo: bar\ndata: a\nDATA: b\nEvent: x\n\n",
                vec![msg("a")],
            ),
            (
                "no data: no event, and the type is reset",
                b"event: a\n\ndata: x\n\nevent: b\nid: 1\n\n",
                vec![msg("x")],
            ),
            (
                "one trailing LF of the data removed",
                b"data: a\ndata:\n\n",
                vec![msg("a\n")],
            ),
            (
                "an incomplete event at the end is not dispatched",
                b"data: a\n\ndata: b\n",
                vec![msg("a")],
            ),
            (
                "a leading BOM skipped",
                b"\xEF\xBB\xBFdata: a\n\n",
                vec![msg("a")],
            ),
            (
                "only one BOM skipped: the second makes an unknown field",
                b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\ndata: b\n\n",
                vec![msg("b")],
            ),
            (
                "part of a BOM is not one",
                b"\xEF\xBBdata: a\n\ndata: b\n\n",
                vec![msg("b")],
            ),
            (
                "invalid UTF-8 decoded with replacement",
                b"data: a\xFFb\xE2\x82\n\n",
                vec![msg("a\u{FFFD}b\u{FFFD}")],
            ),
            (
                "multi-byte characters kept whole",
                "data: fête 🎟\n\n".as_bytes(),
                vec![msg("fête 🎟")],
            ),
            (
                "the id persists to later events, an empty one resets it",
                b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n",
                vec![
                    ev("message", "first event", Some("1")),
                    ev("message", "second event", Some("")),
                    ev("message", " third event", Some("")),
                ],
            ),
            (
                "an id with NUL ignored",
                b"id: 7\ndata: a\n\nid: 8\x009\ndata: b\n\n",
                vec![ev("message", "a", Some("7")), ev("message", "b", Some("7"))],
            ),
            (
                "the queue's stream",
                b": connected\n\nevent: position\ndata: {\"position\":12}\n\n: ping\n\nevent: position\ndata: {\"position\":0,\"queue_pass\":\"qp\"}\n\n",
                vec![
                    ev("position", "{\"position\":12}", None),
                    ev("position", "{\"position\":0,\"queue_pass\":\"qp\"}", None),
                ],
            ),
        ];
        for (what, input, expected) in cases {
            let (got, _) = parse(input);
            assert_eq!(got, expected, "{what}");
        }
    }

    #[test]
    fn retry_takes_digits_only() {
        // (stream, reconnection time)
        let cases: [(&[u8], Option<u64>); 7] = [
            (b"retry: 3000\n", Some(3000)),
            (b"retry:0\n", Some(0)),
            (b"retry: 3000\nretry: 5s\n", Some(3000)),
            (b"retry: -1\n", None),
            (b"retry: 1.5\n", None),
            (b"retry:\n", None),
            (b"retry: 99999999999999999999999\n", Some(u64::MAX)),
        ];
        for (input, ms) in cases {
            let (_, p) = parse(input);
            assert_eq!(p.retry(), ms.map(Duration::from_millis), "{input:?}");
        }
    }

    #[test]
    fn the_last_event_id_is_set_at_dispatch_and_empty_is_none() {
        let mut p = Parser::new();
        let mut out = Vec::new();
        p.feed(b"id: a1\ndata: x\n", &mut out).unwrap();
        assert_eq!(p.last_event_id(), None, "not dispatched yet");
        p.feed(b"\n", &mut out).unwrap();
        assert_eq!(p.last_event_id(), Some("a1"));
        // A blank line dispatches the id even without data.
        p.feed(b"id: a2\n\n", &mut out).unwrap();
        assert_eq!(p.last_event_id(), Some("a2"));
        p.feed(b"id\n\n", &mut out).unwrap();
        assert_eq!(p.last_event_id(), None);
        assert_eq!(out, [ev("message", "x", Some("a1"))]);
    }

    #[test]
    fn a_cr_ending_one_feed_and_an_lf_starting_the_next_are_one_line_end() {
        let mut p = Parser::new();
        let mut out = Vec::new();
        for piece in [&b"data: a\r"[..], b"\n", b"data: b\r", b"\n\r", b"\n"] {
            p.feed(piece, &mut out).unwrap();
        }
        assert_eq!(out, [msg("a\nb")]);
        // An empty feed between the CR and the LF changes nothing.
        let mut p = Parser::new();
        let mut out = Vec::new();
        for piece in [&b"data: a\r"[..], b"", b"\ndata: b\r", b"", b"\r\n"] {
            p.feed(piece, &mut out).unwrap();
        }
        assert_eq!(out, [msg("a\nb")]);
    }

    #[test]
    fn byte_at_a_time_gives_the_events_of_one_feed() {
        let stream =
            "\u{FEFF}: hi\r\nretry: 2500\r\nevent: position\r\ndata: {\"p\":3}\r\nid: 1\r\n\r\n\
                      data: é\rdata:line2\r\rid: 2\nevent: error\ndata: {\"event\":\"timeout\"}\n\n\
                      data: never\n"
                .as_bytes();
        let mut p = Parser::new();
        let mut out = Vec::new();
        for b in stream {
            p.feed(std::slice::from_ref(b), &mut out).unwrap();
        }
        assert_eq!(
            out,
            [
                ev("position", "{\"p\":3}", Some("1")),
                ev("message", "é\nline2", Some("1")),
                ev("error", "{\"event\":\"timeout\"}", Some("2")),
            ]
        );
        assert_eq!(p.retry(), Some(Duration::from_millis(2500)));
        assert_eq!(p.last_event_id(), Some("2"));
        let (whole, _) = parse(stream);
        assert_eq!(whole, out);
    }

    #[test]
    fn a_line_or_an_event_over_the_bound_is_too_large_and_stays_so() {
        // A line with no end, fed in pieces.
        let mut p = Parser::new();
        let mut out = Vec::new();
        let piece = vec![b'a'; 64 * 1024];
        let mut fed = 0;
        let err = loop {
            match p.feed(&piece, &mut out) {
                Ok(()) => fed += piece.len(),
                Err(e) => break e,
            }
            assert!(fed <= MAX_LINE, "no error past the bound");
        };
        assert_eq!(err, SseError::TooLarge);
        assert!(fed <= MAX_LINE);
        assert_eq!(p.feed(b"\n\n", &mut out), Err(SseError::TooLarge));
        assert!(out.is_empty());

        // One line exactly at the bound is fine.
        let mut p = Parser::new();
        let mut line = b"data:".to_vec();
        line.resize(MAX_LINE, b'x');
        line.extend_from_slice(b"\n\n");
        p.feed(&line, &mut out).unwrap();
        assert_eq!(out[0].data.len(), MAX_LINE - 5);

        // Short lines, but an event that never ends.
        let mut p = Parser::new();
        let line = format!("data: {}\n", "y".repeat(1000));
        let mut lines = 0;
        while p.feed(line.as_bytes(), &mut out).is_ok() {
            lines += 1;
            assert!(lines <= MAX_EVENT / 1000, "no error past the bound");
        }
        assert_eq!(p.feed(b"\n", &mut out), Err(SseError::TooLarge));
    }

    #[test]
    fn a_long_line_in_many_small_feeds_is_joined() {
        let mut p = Parser::new();
        let mut out = Vec::new();
        p.feed(b"data: ", &mut out).unwrap();
        let body = "z".repeat(200_000);
        for piece in body.as_bytes().chunks(5) {
            p.feed(piece, &mut out).unwrap();
        }
        p.feed(b"\n\n", &mut out).unwrap();
        assert_eq!(out, [msg(&body)]);
    }

    #[test]
    fn between_events_the_parser_holds_no_buffer() {
        let mut p = Parser::new();
        let mut out = Vec::new();
        p.feed(b"event: position\ndata: a", &mut out).unwrap();
        p.feed(b"bc\n\n", &mut out).unwrap();
        assert_eq!(out, [ev("position", "abc", None)]);
        assert_eq!(
            (p.line.capacity(), p.data.capacity(), p.event.capacity()),
            (0, 0, 0)
        );
    }

    #[test]
    fn the_content_type_names_an_event_stream() {
        for (v, yes) in [
            (&b"text/event-stream"[..], true),
            (b"Text/Event-Stream; charset=utf-8", true),
            (b" text/event-stream ;x=y", true),
            (b"application/json", false),
            (b"text/event-streams", false),
            (b"", false),
        ] {
            assert_eq!(is_event_stream(v), yes, "{v:?}");
        }
    }
}
