//! Issue 15: an unknown user, an inactive user and a wrong password take the same time (no
//! answer tells a guesser which usernames exist), and a locked username is refused without
//! hashing. Many samples, medians compared with a generous bound, never one timing.

use std::time::{Duration, Instant};

use api::throttle::ThrottleSettings;
use integration_tests::{Backend, TestApp, backend_tests};

const SAMPLES: usize = 30;

/// Bound on the ratio of the slowest median to the fastest.
const BOUND: f64 = 2.0;

/// A hash costly enough (16 MiB) that a shortcut around it would show.
const MEMORY_KIB: u32 = 16 * 1024;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

async fn timed(app: &TestApp, username: &str, password: &str) -> Duration {
    let started = Instant::now();
    let response = app.login(username, password).await;
    let elapsed = started.elapsed();
    assert_eq!(response.status, 401, "{username}: {}", response.text);
    elapsed
}

async fn unknown_inactive_and_wrong_password_logins_take_the_same_time(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.argon2_memory_kib = MEMORY_KIB;
        config.http.throttle = ThrottleSettings::off();
    })
    .await;
    app.create_user("alice", "wonderland").await;
    let inactive = app.create_user("ghost", "wonderland").await;
    app.set_active(inactive, false).await;
    let (mut unknown, mut deactivated, mut wrong) = (Vec::new(), Vec::new(), Vec::new());
    // Interleaved, so that whatever else the machine does falls on every kind alike.
    for _ in 0..SAMPLES {
        unknown.push(timed(&app, "nobody", "wonderland").await);
        deactivated.push(timed(&app, "ghost", "wonderland").await);
        wrong.push(timed(&app, "alice", "looking-glass").await);
    }
    let medians = [median(unknown), median(deactivated), median(wrong)];
    let slowest = medians.iter().max().unwrap().as_secs_f64();
    let fastest = medians.iter().min().unwrap().as_secs_f64();
    assert!(
        slowest / fastest <= BOUND,
        "medians (unknown, inactive, wrong password): {medians:?}"
    );
}

/// The lock is checked before the password: a locked username's refusal costs no hash, so
/// it is answered in well under the time one hash takes.
async fn a_locked_username_is_refused_without_hashing(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.argon2_memory_kib = MEMORY_KIB;
    })
    .await;
    app.create_user("alice", "wonderland").await;
    let mut hashed = Vec::new();
    for _ in 0..5 {
        hashed.push(timed(&app, "alice", "guess").await);
    }
    let mut locked = Vec::new();
    for _ in 0..SAMPLES {
        let started = Instant::now();
        let response = app.login("alice", "wonderland").await;
        locked.push(started.elapsed());
        assert_eq!(response.status, 429, "{}", response.text);
    }
    let (hashed, locked) = (median(hashed), median(locked));
    assert!(
        locked.as_secs_f64() * BOUND <= hashed.as_secs_f64(),
        "locked {locked:?}, hashed {hashed:?}"
    );
}

backend_tests!(
    unknown_inactive_and_wrong_password_logins_take_the_same_time,
    a_locked_username_is_refused_without_hashing,
);
