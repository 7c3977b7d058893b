//! Rows of the gateway, auth and browsing: login and its JWT, refresh, the
//! gateway's 401s and 404s, the idempotency key browsing does not need and
//! booking calls do, h2c on the same port.

use super::client::{Http, Jwt, text};
use super::spec::*;
use super::target::{Knobs, Target};
use serde_json::json;
use std::time::Duration;

use Shape::{Data, Nested};

/// A login row: the access and refresh tokens, and the access token
/// checked as the spec's HS256 JWT of 15 minutes.
async fn tokens(http: &Http) -> (String, String) {
    let r = run(http, &Row::post("login", LOGIN, 200, Data).body(GOOD_LOGIN)).await;
    let data = &r.json()["data"];
    assert_eq!(data["token_type"], "Bearer");
    assert_eq!(data["expires_in"], 900, "15 minutes");
    let token = data["access_token"].as_str().expect("access_token");
    let refresh = data["refresh_token"].as_str().expect("refresh_token");
    let jwt = Jwt::read(token);
    assert_eq!(jwt.header, json!({"alg": "HS256", "typ": "JWT"}));
    assert_eq!(jwt.payload["sub"], "a@x.io");
    let (exp, iat) = (&jwt.payload["exp"], &jwt.payload["iat"]);
    let life = exp.as_i64().expect("exp") - iat.as_i64().expect("iat");
    assert_eq!(life, 900, "15 minutes");
    (token.to_owned(), refresh.to_owned())
}

/// Login and the gateway's token checks.
fn auth_rows(token: &str, refresh: &str) -> Vec<Row> {
    // Another subject under the same signature: refused.
    let jwt = Jwt::read(token);
    let tampered = jwt.forged(&jwt.payload.to_string().replace("a@x.io", "b@x.io"));
    let bad = |name, code| Row::get(name, EVENTS, 401, Nested(code));
    vec![
        Row::post("wrong password", LOGIN, 401, Nested("INVALID_CREDENTIALS"))
            .body(r#"{"email":"a@x.io","password":"nope"}"#),
        Row::post("login bad json", LOGIN, 400, Nested("INVALID_REQUEST")).body("{"),
        Row::post("login without email", LOGIN, 400, Nested("INVALID_REQUEST"))
            .body(r#"{"password":"correct-horse"}"#),
        bad("no token", "MISSING_TOKEN"),
        bad("garbage token", "INVALID_TOKEN").auth("garbage"),
        bad("tampered token", "INVALID_TOKEN").auth(&tampered),
        bad("not bearer", "INVALID_TOKEN").header("authorization", format!("Basic {token}")),
        bad("refresh token as access", "INVALID_TOKEN").auth(refresh),
        Row::post("refresh", REFRESH, 200, Data)
            .body(json!({"refresh_token": refresh}).to_string()),
        Row::post(
            "refresh with an access token",
            REFRESH,
            401,
            Nested("INVALID_TOKEN"),
        )
        .body(json!({"refresh_token": token}).to_string()),
        Row::post(
            "refresh without a token",
            REFRESH,
            400,
            Nested("INVALID_REQUEST"),
        )
        .body("{}"),
    ]
}

/// Browsing, unknown paths (the guidelines' ones among them) and the
/// idempotency key booking calls need.
fn browse_rows(token: &str) -> Vec<Row> {
    let missing = |name, path| Row::get(name, path, 404, Nested("NOT_FOUND"));
    let no_key = |name, path| Row::post(name, path, 400, Nested("MISSING_IDEMPOTENCY_KEY"));
    vec![
        Row::get("events", EVENTS, 200, Data).auth(token),
        Row::get(
            "show zones",
            &format!("/api/v1/shows/{SHOW}/zones"),
            200,
            Data,
        )
        .auth(token),
        missing("unknown show", "/api/v1/shows/NOPE/zones").auth(token),
        Row::get("zone", ZONE, 200, Data).auth(token),
        missing("unknown zone", "/api/v1/zones/NOPE").auth(token),
        missing("unknown path", "/api/v1/nope").auth(token),
        Row::post(
            "the guidelines' path",
            "/bookings/reserve",
            404,
            Nested("NOT_FOUND"),
        )
        .auth(token),
        missing(
            "the guidelines' availability",
            "/events/EVT1/zones/Z1/availability",
        ),
        missing("login by GET", LOGIN),
        no_key("join without key", JOIN).auth(token).body(JOIN_BODY),
        no_key("reserve without key", RESERVE)
            .auth(token)
            .body(reserve_body("Z1", 1, None)),
    ]
}

pub async fn gateway_auth_and_browse_follow_the_spec<T: Target>() -> T {
    let t = T::start(Knobs::quiet()).await;
    let http = Http::new(&t);
    let (token, refresh) = tokens(&http).await;
    let mut rows = auth_rows(&token, &refresh);
    rows.extend(browse_rows(&token));
    let replies = run_all(&http, &rows).await;
    let by_name = |n: &str| replies[rows.iter().position(|r| r.name == n).expect("row")].json();
    let events = by_name("events");
    assert_eq!(events["data"][0]["id"], "EVT1");
    assert_eq!(events["data"][0]["show_id"], SHOW);
    let zones = by_name("show zones");
    assert_eq!(zones["data"][0]["id"], "Z1");
    assert_eq!(zones["data"][0]["available_seats"], 100);
    assert_eq!(zones["data"][0]["total_seats"], 100);
    assert_eq!(by_name("zone")["data"]["available_seats"], 100);
    let refreshed = by_name("refresh")["data"]["access_token"].clone();
    assert!(refreshed.as_str().is_some_and(|t| t != token));

    let h2 = Http::h2(&t).get(EVENTS, &token, &[]).await;
    assert_eq!(h2.status, 200, "h2c on the same port: {}", text(&h2));

    let c = t.counts();
    assert_eq!(c.sent(), 1 + rows.len() as u64 + 1, "every answer counted");
    assert_eq!((c.logins, c.refreshes), (1, 1));
    assert_eq!(c.of("login"), statuses(&[(200, 1), (400, 2), (401, 1)]));
    assert_eq!(c.of("events"), statuses(&[(200, 2), (401, 5)]));
    assert_eq!(c.of("show_zones"), statuses(&[(200, 1), (404, 1)]));
    assert_eq!(c.of("zone"), statuses(&[(200, 1), (404, 1)]));
    assert_eq!(c.of("other"), statuses(&[(404, 4)]));
    assert_eq!(c.of("refresh"), statuses(&[(200, 1), (400, 1), (401, 1)]));
    assert_eq!(c.of("queue_join"), statuses(&[(400, 1)]));
    assert_eq!(c.of("reserve"), statuses(&[(400, 1)]));
    assert_eq!((c.bookings, c.replayed), (0, 0));
    t
}

pub async fn an_expired_token_is_token_expired<T: Target>() {
    let t = T::start(Knobs {
        token_ttl: Duration::from_millis(200),
        ..Knobs::quiet()
    })
    .await;
    let http = Http::new(&t);
    let token = login(&http, "a@x.io").await;
    run(
        &http,
        &Row::get("fresh token", EVENTS, 200, Data).auth(&token),
    )
    .await;
    // Past the token's 200 ms lifetime.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let expired = Row::get("expired token", EVENTS, 401, Nested("TOKEN_EXPIRED"));
    run(&http, &expired.auth(&token)).await;
}

pub async fn browsing_needs_no_token_when_public<T: Target>() {
    let t = T::start(Knobs {
        browse_public: true,
        ..Knobs::quiet()
    })
    .await;
    run(
        &Http::new(&t),
        &Row::get("public browse", EVENTS, 200, Data),
    )
    .await;
}
