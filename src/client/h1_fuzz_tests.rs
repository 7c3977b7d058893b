//! Property tests of the HTTP/1 answer reader: whatever bytes a target
//! sends, cut into whatever pieces, [`H1`] returns an answer or a typed
//! error, never panics, never hangs, and never holds more than its
//! documented bounds ([`MAX_HEAD`] of head, [`super::super::BODY_LIMIT`] of
//! body). Bounded case counts: a few seconds under `cargo test`.

use super::*;
use proptest::prelude::*;
use tokio::io::{AsyncWriteExt, duplex};

/// The most the connection's buffer may hold at any time: a head, a body,
/// and one read's room beyond them.
const MAX_BUFFERED: usize = MAX_HEAD + super::super::BODY_LIMIT + 2 * READ_CHUNK;

/// `raw` cut at `cuts` (positions taken modulo its length), in order.
fn pieces(raw: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (raw.len() + 1)).collect();
    at.sort_unstable();
    at.dedup();
    let mut out = Vec::new();
    let mut from = 0;
    for a in at.into_iter().chain([raw.len()]) {
        if a > from {
            out.push(raw[from..a].to_vec());
            from = a;
        }
    }
    out
}

/// What one exchange came to.
#[derive(Debug)]
enum Got {
    Answer { body: usize },
    Failed(io::ErrorKind),
}

/// Send a GET on a pipe whose far end writes `parts` and closes; read the
/// answer whole (`streamed`: piece by piece instead). Checks the bounds
/// and that every error is typed.
fn exchange(parts: Vec<Vec<u8>>, streamed: bool) -> Result<Got, TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let (a, mut server) = duplex(64 * 1024);
        tokio::spawn(async move {
            for p in parts {
                if server.write_all(&p).await.is_err() {
                    return;
                }
                tokio::task::yield_now().await;
            }
        });
        let mut c = H1::new(Io::Other(Box::pin(a)));
        let wire = Wire::new(request());
        let run = async {
            let head = c.send(&wire, false).await?;
            if !streamed {
                return c.body(&head).await.map(|b| b.len());
            }
            let mut p = Pieces::of(&head);
            let mut total = 0;
            while let Some(piece) = c.next_piece(&mut p).await? {
                prop_assert_le_io(piece.len(), super::super::BODY_LIMIT + READ_CHUNK)?;
                total += piece.len();
            }
            Ok(total)
        };
        let got = tokio::time::timeout(std::time::Duration::from_secs(10), run)
            .await
            .map_err(|_| TestCaseError::fail("the reader hung on a closed pipe"))?;
        prop_assert!(c.buf.len() <= MAX_BUFFERED, "{} buffered", c.buf.len());
        match got {
            Ok(body) => {
                if !streamed {
                    prop_assert!(body <= super::super::BODY_LIMIT, "body {body}");
                }
                Ok(Got::Answer { body })
            }
            Err(e) => {
                // Typed: one of the reader's own, or the pipe's end.
                let own = WireError::of(&e).is_some();
                prop_assert!(
                    own || e.kind() == io::ErrorKind::BrokenPipe,
                    "untyped error: {e:?}"
                );
                Ok(Got::Failed(e.kind()))
            }
        }
    })
}

/// A bound checked inside the reader's `io::Result` flow.
fn prop_assert_le_io(n: usize, max: usize) -> io::Result<()> {
    if n > max {
        return Err(io::Error::other(format!("a piece of {n} bytes")));
    }
    Ok(())
}

fn request() -> Request<super::super::pool::Body> {
    let mut r = Request::new(http_body_util::Full::new(Bytes::new()));
    *r.uri_mut() = "/".parse().expect("uri");
    r.headers_mut()
        .insert("host", HeaderValue::from_static("t"));
    r
}

/// A header line a hostile target might send (mostly harmless ones, so
/// that answers get through as often as they are refused).
fn header() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => "[a-z-]{1,12}: [ -~]{0,40}\r\n",
        4 => (0u64..400).prop_map(|n| format!("content-length: {n}\r\n")),
        2 => Just("transfer-encoding: chunked\r\n".to_string()),
        1 => Just("content-length: 18446744073709551616\r\n".to_string()),
        1 => Just("content-length: 5, 6\r\n".to_string()),
        1 => Just("content-length: -1\r\n".to_string()),
        1 => Just("transfer-encoding: gzip\r\n".to_string()),
        1 => Just("connection: close\r\n".to_string()),
        1 => Just("x-a\u{7f}b: 1\r\n".to_string()),
        1 => Just("retry-after: 1.5\r\n".to_string()),
    ]
}

/// A few headers, or about as many as an answer may have (100).
fn headers() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        8 => prop::collection::vec(header(), 0..5),
        1 => prop::collection::vec(header(), 95..110),
    ]
}

/// A chunked body: sizes that lie (too large, near u64::MAX, not hex),
/// data, and trailers.
fn chunked_body() -> impl Strategy<Value = String> {
    let chunk = prop_oneof![
        12 => "[a-z]{1,64}".prop_map(|d| format!("{:x}\r\n{d}\r\n", d.len())),
        1 => Just("ffffffffffffffff\r\n".to_string()),
        1 => Just("10000000000000000\r\n".to_string()),
        1 => Just("zz\r\n".to_string()),
        1 => (0u64..=u64::MAX).prop_map(|n| format!("{n:x}\r\nabc\r\n")),
    ];
    (
        prop::collection::vec(chunk, 0..8),
        prop_oneof![
            4 => prop::collection::vec("[a-z]{1,8}: [a-z]{0,8}\r\n", 0..3),
            1 => prop::collection::vec("[a-z]{1,8}: [a-z]{0,8}\r\n", 95..110),
        ],
    )
        .prop_map(|(chunks, trailers)| format!("{}0\r\n{}\r\n", chunks.concat(), trailers.concat()))
}

/// An answer shaped like HTTP, with hostile parts.
fn answer() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![
            Just("HTTP/1.1 200 OK\r\n"),
            Just("HTTP/1.0 200 OK\r\n"),
            Just("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n"),
            Just("HTTP/1.1 999 X\r\n"),
        ],
        headers(),
        prop_oneof![chunked_body(), "[ -~]{0,300}"],
    )
        .prop_map(|(status, headers, body)| {
            format!("{status}{}\r\n{body}", headers.concat()).into_bytes()
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 192,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_in_arbitrary_pieces_are_an_answer_or_a_typed_error(
        raw in prop::collection::vec(any::<u8>(), 0..2048),
        cuts in prop::collection::vec(any::<usize>(), 0..16),
        streamed in any::<bool>(),
    ) {
        exchange(pieces(&raw, &cuts), streamed)?;
    }

    #[test]
    fn hostile_answers_in_arbitrary_pieces_are_an_answer_or_a_typed_error(
        raw in answer(),
        cuts in prop::collection::vec(any::<usize>(), 0..16),
        streamed in any::<bool>(),
    ) {
        exchange(pieces(&raw, &cuts), streamed)?;
    }

    #[test]
    fn the_head_parser_never_panics_and_refuses_with_a_reason(
        raw in prop::collection::vec(any::<u8>(), 0..4096),
    ) {
        match parse_head(&raw, true) {
            Ok(Some((n, _))) => prop_assert!(n <= raw.len()),
            Ok(None) => {}
            Err(e) => prop_assert!(
                matches!(WireError::of(&e), Some(WireError::Invalid(_))),
                "{e:?}"
            ),
        }
    }
}

#[test]
fn a_valid_answer_cut_anywhere_reads_the_same() {
    let raw = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n";
    for cut in 0..=raw.len() {
        for streamed in [false, true] {
            let got = exchange(pieces(raw, &[cut, cut / 2]), streamed).unwrap();
            assert!(matches!(got, Got::Answer { body: 9 }), "{cut}: {got:?}");
        }
    }
}

#[test]
fn the_fuzz_reaches_answers_and_both_kinds_of_refusal() {
    // The generators are worth running only if they reach every path.
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut answers, mut invalid, mut closed) = (0, 0, 0);
    for _ in 0..64 {
        let raw = answer().new_tree(&mut runner).expect("a value").current();
        match exchange(vec![raw], false).unwrap() {
            Got::Answer { .. } => answers += 1,
            Got::Failed(io::ErrorKind::InvalidData) => invalid += 1,
            Got::Failed(_) => closed += 1,
        }
    }
    assert!(
        answers > 0 && invalid > 0 && closed > 0,
        "{answers} {invalid} {closed}"
    );
}
