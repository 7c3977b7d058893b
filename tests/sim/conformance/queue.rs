//! Rows of the virtual queue: join, polling, the pass, and the stream of
//! Server-Sent Events (frames until the one with the pass, reconnects,
//! keep-alives, the timeout).

use super::client::{Http, SseFrame, parse_sse, text};
use super::spec::*;
use super::target::{Knobs, Target};
use crate::common::Reply;
use serde_json::json;
use std::time::Duration;

use Shape::{Fields, Flat};

fn queue_rows(a: &str, b: &str) -> Vec<Row> {
    let join = |name, key, who| {
        Row::post(name, JOIN, 201, Fields(JOIN_FIELDS))
            .auth(who)
            .key(key)
    };
    let refused =
        |name, status, code, key, who| Row::post(name, JOIN, status, Flat(code)).auth(who).key(key);
    let poll = |name, who| Row::get(name, POSITION, 200, Fields(POSITION_FIELDS)).auth(who);
    let other_event = "/api/v1/queue/position/EVT9";
    vec![
        Row::get("poll before join", POSITION, 404, Flat("NOT_IN_QUEUE")).auth(a),
        join("join a", "j-a", a).body(JOIN_BODY),
        refused("join a again", 409, "ALREADY_IN_QUEUE", "j-a2", a).body(JOIN_BODY),
        join("join b", "j-b", b).body(JOIN_BODY),
        refused("join without event", 400, "INVALID_REQUEST", "j-b2", b).body("{}"),
        refused("join another event", 409, "QUEUE_NOT_OPEN", "j-b3", b)
            .body(r#"{"event_id":"EVT9"}"#),
        poll("poll a", a),
        poll("poll b", b),
        Row::get("poll other event", other_event, 404, Flat("NOT_IN_QUEUE")).auth(a),
        join("join a replayed", "j-a", a).body(JOIN_BODY),
    ]
}

/// The joins and polls of `queue_rows`: positions, waits of position x 3,
/// Go's field order, the replayed join.
fn check_queue(r: &[Reply]) {
    let (ja, jb, pa, pb) = (r[1].json(), r[3].json(), r[6].json(), r[7].json());
    let join_a = text(&r[1]);
    assert!(join_a.starts_with(r#"{"position":1,"token":"#), "{join_a}");
    assert_eq!(r[1].body, r[9].body, "the join replayed byte for byte");
    let poll_a = text(&r[6]);
    assert!(
        poll_a.starts_with(r#"{"position":1,"total_in_queue":2,"#),
        "{poll_a}"
    );
    let wait =
        |v: &serde_json::Value| (v["position"].as_u64(), v["estimated_wait_seconds"].as_u64());
    assert_eq!(wait(&ja), (Some(1), Some(3)));
    assert_eq!(wait(&jb), (Some(2), Some(6)));
    let joined = ja["joined_at"].as_str();
    assert!(
        joined.is_some_and(|t| t.ends_with('Z') && t.contains('T')),
        "{ja}"
    );
    assert!(ja["token"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(wait(&pa), (Some(1), Some(3)), "position x 3");
    assert_eq!(pa["total_in_queue"], 2);
    assert_eq!(pa["is_ready"], false);
    assert!(pa.get("queue_pass").is_none(), "{pa}");
    assert_eq!(wait(&pb), (Some(2), Some(6)));
}

/// Two buyers join and wait 300 ms; the pass shows on the poll. Returns
/// the target and the first buyer's token.
pub async fn queue_join_poll_and_pass_after_the_wait<T: Target>() -> (T, String) {
    let t = T::start(Knobs {
        queue_wait: Duration::from_millis(300),
        ..Knobs::quiet()
    })
    .await;
    let http = Http::new(&t);
    let (a, b) = (login(&http, "a@x.io").await, login(&http, "b@x.io").await);
    check_queue(&run_all(&http, &queue_rows(&a, &b)).await);

    let pass = wait_pass(&http, &a).await;
    assert!(!pass.is_empty());
    let poll = Row::get(
        "poll holding a pass",
        POSITION,
        200,
        Fields(POSITION_FIELDS),
    );
    let again = run(&http, &poll.auth(&a)).await.json();
    assert_eq!(again["queue_pass"], pass.as_str(), "repeated while valid");
    let ready = (again["is_ready"].as_bool(), again["position"].as_u64());
    assert_eq!(ready, (Some(true), Some(0)));
    assert_ne!(pass, wait_pass(&http, &b).await);

    let c = t.counts();
    assert_eq!((c.joins, c.passes_issued, c.passes_used), (2, 2, 0));
    assert_eq!(c.waits.count, 2);
    let w = c.waits;
    assert!(
        w.p50 >= 300 && w.sum >= 600,
        "join -> pass is at least the wait: {w:?}"
    );
    let polls: u64 = c.of("queue_position").values().sum();
    assert_eq!(c.polls, polls, "every poll counted");
    let joins = statuses(&[(201, 3), (400, 1), (409, 2)]);
    assert_eq!(c.of("queue_join"), joins);
    assert_eq!((c.replays.clone(), c.replayed), (statuses(&[(201, 1)]), 1));
    (t, a)
}

/// A stream's answer: 200, the target's mark, `text/event-stream`.
fn check_stream(http: &Http, r: &Reply) {
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-stampede-sim").as_deref(), http.mark);
    let kind = r.header("content-type");
    let sse = kind.is_some_and(|t| t.starts_with("text/event-stream"));
    assert!(sse, "{:?}", r.headers);
}

/// Numbered position frames, `retry:` in the first, the pass in the last
/// only.
fn check_frames(frames: &[SseFrame]) {
    assert!(
        frames.len() >= 2,
        "waiting frames, then the pass: {frames:?}"
    );
    assert_eq!(frames[0].retry, Some(1500), "retry: in the first frame");
    assert!(frames[1..].iter().all(|f| f.retry.is_none()), "{frames:?}");
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.id, Some(i as u64 + 1), "{frames:?}");
        assert_eq!(f.event.as_deref(), Some("position"));
        let v = f.json();
        for k in POSITION_FIELDS {
            assert!(v.get(*k).is_some(), "{k} in {v}");
        }
        let last = i + 1 == frames.len();
        assert_eq!(
            v["is_ready"], last,
            "only the last frame is ready: {frames:?}"
        );
        assert_eq!(v.get("queue_pass").is_some(), last, "{frames:?}");
    }
}

/// Returns the target and the position frames read.
pub async fn sse_frames_until_the_one_with_the_pass<T: Target>() -> (T, u64) {
    let t = T::start(Knobs {
        queue_wait: Duration::from_millis(300),
        sse_interval: Duration::from_millis(50),
        sse_retry: Some(Duration::from_millis(1500)),
        ..Knobs::quiet()
    })
    .await;
    let http = Http::new(&t);
    let a = queued(&http, "a@x.io").await;
    let r = stream(&http, &a, None).await;
    check_stream(&http, &r);
    let (frames_waited, _) = parse_sse(&text(&r));
    check_frames(&frames_waited);
    let last = frames_waited.last().expect("frame").json();
    assert_eq!(last["queue_pass"], wait_pass(&http, &a).await.as_str());

    // Not in the queue: an error event, then the end.
    let r = stream(&http, &login(&http, "c@x.io").await, None).await;
    assert_eq!(r.status, 200);
    let (frames, _) = parse_sse(&text(&r));
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0].event.as_deref(), Some("error"));
    assert_eq!(frames[0].json(), json!({"event": "not_in_queue"}));
    // A stream needs a token like any call.
    let r = http.send(http::Method::GET, STREAM, &[], "").await;
    assert_eq!((r.status, r.code().as_str()), (401, "MISSING_TOKEN"));
    assert_eq!(t.counts().streams, 2);
    assert_eq!(
        t.counts().of("queue_stream"),
        statuses(&[(200, 2), (401, 1)])
    );
    // Holding a pass: one frame with it.
    let (held, _) = parse_sse(&text(&stream(&http, &a, None).await));
    assert_eq!(held.len(), 1, "holding a pass: one frame with it: {held:?}");
    assert_eq!(held[0].json()["queue_pass"], last["queue_pass"]);
    assert_eq!(t.counts().streams, 3);
    (t, (frames_waited.len() + held.len()) as u64)
}

/// A stream resumed after `Last-Event-ID` that times out before the pass:
/// one position frame numbered `id`, keep-alive comments, then the
/// timeout event.
pub fn check_resumed(r: &Reply, id: u64) {
    let (frames, comments) = parse_sse(&text(r));
    assert_eq!(
        frames.len(),
        2,
        "a position frame, then the timeout: {frames:?}"
    );
    let first = (frames[0].id, frames[0].event.as_deref());
    assert_eq!(first, (Some(id), Some("position")));
    assert_eq!(frames[1].event.as_deref(), Some("error"));
    assert_eq!(frames[1].json(), json!({"event": "timeout"}));
    assert!(comments >= 1, "keep-alive comments: {}", text(r));
    assert!(text(r).contains(": keep-alive\n"));
}

/// Streams that wait an hour for their pass but end after 400 ms, with a
/// keep-alive every 50 ms.
pub fn timing_out() -> Knobs {
    Knobs {
        queue_wait: Duration::from_secs(3600),
        sse_interval: Duration::from_secs(3600),
        sse_keepalive: Duration::from_millis(50),
        sse_timeout: Duration::from_millis(400),
        ..Knobs::quiet()
    }
}

pub async fn sse_reconnect_keepalive_and_timeout<T: Target>() -> T {
    let t = T::start(timing_out()).await;
    let http = Http::new(&t);
    let a = queued(&http, "a@x.io").await;
    // A reconnect carries Last-Event-ID: ids go on from it.
    check_resumed(&stream(&http, &a, Some("7")).await, 8);
    assert_eq!(t.counts().streams, 1);
    t
}
