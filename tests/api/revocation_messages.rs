//! What another instance (or whoever can write to Redis) announces is validated before it
//! reaches the revoked-session set: malformed keys and messages are ignored, never a panic,
//! and a revocation's expiry is clamped to the access-token lifetime plus leeway. Runs
//! against `JWTD_TEST_REDIS_URL` (skipped when it is unset).

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use api::clock::ManualClock;
use api::revocations::RevokedSessions;
use api::revocations::redis_share::{Acceptance, client, subscribe_to_redis};
use auth_core::FamilyId;
use integration_tests::{T0, unique_name};

/// The access-token lifetime plus leeway these tests accept revocations for.
const WINDOW: i64 = 300;

fn redis_cli(url: &str, args: &[&str]) -> String {
    let output = Command::new("redis-cli")
        .args(["-u", url])
        .args(args)
        .output()
        .expect("run redis-cli");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A family id no other test uses.
fn family(what: &str) -> String {
    unique_name(what).replace(|c: char| !c.is_ascii_alphanumeric(), "_")
}

/// Waits until `family` is in the set (publishing `message` each time, when given, for a
/// subscription that may not be listening yet).
fn await_family(url: &str, set: &RevokedSessions, family: &str, message: Option<&str>) {
    let started = Instant::now();
    while !set.contains(&FamilyId::new(family), T0) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{family} never arrived"
        );
        if let Some(message) = message {
            redis_cli(url, &["PUBLISH", "jwtd:revocations", message]);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_revocations_are_validated_and_their_expiry_clamped() {
    let Some(url) = std::env::var("JWTD_TEST_REDIS_URL")
        .ok()
        .filter(|url| !url.is_empty())
    else {
        eprintln!("SKIPPED: JWTD_TEST_REDIS_URL is not set");
        return;
    };
    // Keys written before the subscriber starts: it loads them first.
    let kept_key = family("kept_key");
    let far = (T0 + 1_000_000_000).to_string();
    redis_cli(
        &url,
        &["SET", &format!("jwtd:revoked:{kept_key}"), &far, "EX", "60"],
    );
    let bad_value = family("bad_value");
    redis_cli(
        &url,
        &[
            "SET",
            &format!("jwtd:revoked:{bad_value}"),
            "soon",
            "EX",
            "60",
        ],
    );
    let bad_key = format!("jwtd:revoked:{} !", family("bad_key"));
    redis_cli(&url, &["SET", &bad_key, &far, "EX", "60"]);

    let set = Arc::new(RevokedSessions::new());
    let subscriber = tokio::spawn(subscribe_to_redis(
        client(&url).unwrap(),
        Arc::clone(&set),
        Acceptance {
            clock: Arc::new(ManualClock::new(T0)),
            window: WINDOW,
        },
    ));
    let ready = family("ready");
    tokio::task::block_in_place(|| {
        await_family(&url, &set, &ready, Some(&format!("{ready} {far}")));
        await_family(&url, &set, &kept_key, None);
    });
    // Clamped to now + the window, however far the key said.
    let kept = FamilyId::new(kept_key);
    assert!(set.contains(&kept, T0 + WINDOW - 1));
    assert!(!set.contains(&kept, T0 + WINDOW));
    assert!(!set.contains(&FamilyId::new(bad_value), T0));

    let expired = family("expired");
    let too_long = "f".repeat(65);
    let junk = [
        String::new(),
        "no-time".to_owned(),
        format!("{} soon", family("no_number")),
        format!("{} 1e12", family("float")),
        format!("{too_long} {far}"),
        format!("{} {far}", "bad family!"),
        format!("{expired} {}", T0 - 1),
        format!("{expired} {}", T0),
        format!("{} {far} extra", family("extra")),
    ];
    let last = family("last");
    tokio::task::block_in_place(|| {
        for message in &junk {
            redis_cli(&url, &["PUBLISH", "jwtd:revocations", message]);
        }
        // Messages on one channel arrive in order: once this one is in, so is all the junk.
        await_family(&url, &set, &last, Some(&format!("{last} {far}")));
    });
    assert!(!set.contains(&FamilyId::new(expired), T0 - 10));
    assert!(!set.contains(&FamilyId::new(too_long), T0));
    assert!(!subscriber.is_finished(), "the subscriber is still running");
    assert!(set.contains(&FamilyId::new(last.clone()), T0 + WINDOW - 1));
    assert!(!set.contains(&FamilyId::new(last), T0 + WINDOW));
    subscriber.abort();
    redis_cli(&url, &["DEL", &bad_key]);
}
