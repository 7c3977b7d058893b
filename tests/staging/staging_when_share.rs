//! `when` and `share` through the binary: 20% of buyers release instead of
//! confirming, and only the buyers the server called "vip" upgrade. Every
//! step's count in the report equals what a loopback server saw; the share
//! is a seeded draw per journey (not a fixed slice of user indexes), so it
//! is held to a binomial bound and to the same split on a second run of
//! the same seed.

use crate::common;
use crate::common::bin::{n0, run_scenario};

use common::TempDir;
use common::logserver::{LogServer, Seen};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

const USERS: u64 = 200;

/// Reserve answers a booking named after the user; every other reserve is
/// "vip". Upgrade, confirm and release answer 200.
async fn bookings(vips: Arc<AtomicU64>) -> LogServer {
    let reserves = AtomicU64::new(0);
    LogServer::start(move |s: &Seen| {
        let ct = ("content-type", "application/json".to_string());
        if let Some(user) = s.path.strip_prefix("/reserve/") {
            let vip = reserves.fetch_add(1, Ordering::SeqCst).is_multiple_of(2);
            vips.fetch_add(u64::from(vip), Ordering::SeqCst);
            let tier = if vip { "vip" } else { "std" };
            let body = format!(r#"{{"booking_id":"B-{user}","tier":"{tier}"}}"#);
            (200, vec![ct], body)
        } else {
            (200, vec![ct], "{}".into())
        }
    })
    .await
}

fn scenario(url: &str) -> String {
    common::scenario()
        .seed(11)
        .compare(&["compliant"])
        .target(url)
        .ticket_drop(USERS as u32, "300ms")
        .drain("20s")
        .table(
            r#"[[journey.steps]]
name = "reserve"
method = "POST"
path = "/reserve/${user}"
capture = { booking_id = "/booking_id", tier = "/tier" }
[[journey.steps]]
name = "upgrade"
method = "POST"
path = "/upgrade/${booking_id}"
when = { var = "tier", equals = "vip" }
[[journey.steps]]
name = "confirm"
method = "POST"
path = "/confirm/${booking_id}"
share = 0.8
group = "finish"
[[journey.steps]]
name = "release"
method = "DELETE"
path = "/release/${booking_id}"
share = 0.2
group = "finish""#,
        )
        .toml()
}

/// Requests the server saw under `prefix`.
fn under<'a>(seen: &'a [Seen], prefix: &str) -> Vec<&'a Seen> {
    seen.iter().filter(|s| s.path.starts_with(prefix)).collect()
}

/// One run: the bookings released, after checking every step's count.
async fn released(dir: &TempDir, out: &str) -> BTreeSet<String> {
    let vips = Arc::new(AtomicU64::new(0));
    let server = bookings(vips.clone()).await;
    let file = dir.path().join("s.toml");
    std::fs::write(&file, scenario(&server.url())).unwrap();
    let run = run_scenario(&file, &dir.path().join(out), &["--quiet"]).await;
    run.ok();
    assert_eq!(run.journeys(0, "succeeded"), USERS, "{}", run.summary);
    let seen = server.seen();
    for (step, prefix) in [
        ("reserve", "/reserve/"),
        ("upgrade", "/upgrade/"),
        ("confirm", "/confirm/"),
        ("release", "/release/"),
    ] {
        let reported = n0(&run.step(0, step)["outcomes"]["OK"]);
        assert_eq!(reported, under(&seen, prefix).len() as u64, "{step}");
    }
    // `when`: exactly the buyers the server called vip upgraded.
    let upgraded = under(&seen, "/upgrade/").len() as u64;
    assert_eq!(upgraded, vips.load(Ordering::SeqCst));
    assert_eq!(upgraded, USERS / 2);
    // `share`: one draw per journey splits the group: each buyer either
    // confirms or releases, never both, never neither.
    let confirmed: BTreeSet<String> = under(&seen, "/confirm/")
        .iter()
        .map(|s| s.path["/confirm/".len()..].to_string())
        .collect();
    let released: BTreeSet<String> = under(&seen, "/release/")
        .iter()
        .map(|s| s.path["/release/".len()..].to_string())
        .collect();
    assert!(confirmed.is_disjoint(&released));
    assert_eq!((confirmed.len() + released.len()) as u64, USERS);
    // 20% of 200 is 40, binomial sd 5.7: within 4 sd.
    let r = released.len() as u64;
    assert!((17..=63).contains(&r), "{r} of {USERS} released");
    released
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifth_release_and_vips_upgrade_as_the_server_counted() {
    let dir = TempDir::new("when-share");
    let first = released(&dir, "out1").await;
    // The same seed draws the same buyers for the same slice.
    let second = released(&dir, "out2").await;
    assert_eq!(first, second, "the split is the seed's");
}
