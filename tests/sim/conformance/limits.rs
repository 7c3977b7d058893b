//! Rows of the gateway's rate limiter: a token bucket per client IP (the
//! leftmost `X-Forwarded-For`) and endpoint class, its headers on every
//! answer, 429 with an honest `Retry-After`.

use super::client::Http;
use super::spec::*;
use super::target::{Knobs, Limits, Target};
use crate::common::Reply;
use crate::common::booking_rush::Bucket;

use Shape::{Data, Flat, Nested};

const IP1: &str = "10.0.0.1, 192.168.7.7";

/// A login row, from `xff` when given.
fn login_row(name: &'static str, status: u16, shape: Shape, xff: Option<&str>) -> Row {
    let row = Row::post(name, LOGIN, status, shape).body(GOOD_LOGIN);
    match xff {
        Some(ip) => row.header("x-forwarded-for", ip),
        None => row,
    }
}

fn unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// `X-RateLimit-Limit`, `-Remaining`, `-Reset` and `-Burst`.
fn limit_headers(r: &Reply) -> [String; 4] {
    ["limit", "remaining", "reset", "burst"].map(|h| {
        let name = format!("x-ratelimit-{h}");
        r.header(&name)
            .unwrap_or_else(|| panic!("{name} missing: {:?}", r.headers))
    })
}

/// The auth class's burst of 3 from ip 1, then a 429: its Retry-After and
/// the last access token.
async fn spend_the_burst(http: &Http) -> (u64, String) {
    let mut token = String::new();
    for left in ["2", "1", "0"] {
        let r = run(http, &login_row("login from ip 1", 200, Data, Some(IP1))).await;
        let [limit, remaining, reset, burst] = limit_headers(&r);
        assert_eq!(
            (limit.as_str(), remaining.as_str(), burst.as_str()),
            ("1", left, "3")
        );
        let reset: u64 = reset.parse().expect("unix seconds");
        assert!(
            (unix()..=unix() + 2).contains(&reset),
            "reset is now + 1: {reset}"
        );
        token = r.json()["data"]["access_token"]
            .as_str()
            .expect("token")
            .to_owned();
    }
    let row = login_row("4th from ip 1", 429, Nested("TOO_MANY_REQUESTS"), Some(IP1));
    let limited = run(http, &row).await;
    let [_, remaining, _, burst] = limit_headers(&limited);
    assert_eq!((remaining.as_str(), burst.as_str()), ("0", "3"));
    let retry = limited.header("retry-after").expect("Retry-After");
    let retry: u64 = retry.parse().expect("integer seconds");
    assert!(retry >= 1);
    (retry, token)
}

/// Other classes and other IPs have buckets of their own.
async fn other_buckets(http: &Http, token: &str) {
    // Refresh is in the same auth class.
    let refresh = Row::post(
        "refresh from ip 1",
        REFRESH,
        429,
        Nested("TOO_MANY_REQUESTS"),
    )
    .header("x-forwarded-for", "10.0.0.1")
    .body(r#"{"refresh_token":"x"}"#);
    run(http, &refresh).await;
    // Other IPs, and the peer address without the header, have their own buckets.
    let other = run(
        http,
        &login_row("login from ip 2", 200, Data, Some("10.0.0.2")),
    )
    .await;
    assert_eq!(other.header("x-ratelimit-remaining").as_deref(), Some("2"));
    let peer = run(http, &login_row("login from the peer", 200, Data, None)).await;
    assert_eq!(peer.header("x-ratelimit-remaining").as_deref(), Some("2"));
    // Another class for the same IP; unknown paths go through the limiter too.
    let events = Row::get("events from ip 1", EVENTS, 200, Data).auth(token);
    let events = run(http, &events.header("x-forwarded-for", IP1)).await;
    assert_eq!(events.header("x-ratelimit-limit").as_deref(), Some("1000"));
    assert_eq!(events.header("x-ratelimit-burst").as_deref(), Some("100"));
    assert!(events.header("retry-after").is_none());
    let unknown = Row::get("unknown path", "/nope", 404, Nested("NOT_FOUND"));
    let unknown = run(http, &unknown.header("x-forwarded-for", IP1)).await;
    // (Remaining is not compared: the default class refills 1,000/s, so a
    // millisecond between the two requests gives a token back.)
    assert_eq!(unknown.header("x-ratelimit-limit").as_deref(), Some("1000"));
    // Confirm has its own class; the limiter runs before the booking service.
    let confirm = |name, status, shape| {
        Row::post(name, "/api/v1/bookings/nope/confirm", status, shape)
            .auth(token)
            .key("c1")
            .header("x-forwarded-for", "10.0.0.3")
    };
    let first = run(http, &confirm("confirm", 404, Flat("NOT_FOUND"))).await;
    assert_eq!(first.header("x-ratelimit-limit").as_deref(), Some("1"));
    run(
        http,
        &confirm("confirm again", 429, Nested("TOO_MANY_REQUESTS")),
    )
    .await;
}

pub async fn rate_limit_per_forwarded_ip_and_class<T: Target>() -> T {
    let bucket = |per_second, burst| Bucket { per_second, burst };
    let t = T::start(Knobs {
        limits: Some(Limits {
            auth: bucket(1, 3),
            confirm: bucket(1, 1),
        }),
        ..Knobs::quiet()
    })
    .await;
    let http = Http::new(&t);
    let (retry, token) = spend_the_burst(&http).await;
    other_buckets(&http, &token).await;
    // Retry-After is honest: after it, ip 1 gets in again.
    tokio::time::sleep(std::time::Duration::from_secs(retry)).await;
    let again = login_row("login from ip 1 after Retry-After", 200, Data, Some(IP1));
    run(&http, &again).await;
    let c = t.counts();
    assert_eq!(c.logins, 6);
    assert_eq!(c.of("login"), statuses(&[(200, 6), (429, 1)]));
    assert_eq!(c.of("confirm"), statuses(&[(404, 1), (429, 1)]));
    assert_eq!(c.sent(), 12, "every answer counted");
    t
}
