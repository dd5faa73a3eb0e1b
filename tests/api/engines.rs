//! The storage engines as the service sees them: chosen at start-up, failing there with the
//! cause, and reporting what they did so that the service records and shares it once.

use std::sync::Arc;

use api::Parts;
use api::clock::ManualClock;
use api::db::{self, DbOptions};
use api::passwords::Passwords;
use api::revocations::RevokedSessions;
use auth_core::{Algorithm, FamilyId, Keys, PasswordHasher, TokenCodec, TokenSettings};
use integration_tests::{Backend, T0, TEST_KEY, TestApp, backend_tests, claims, json};

backend_tests!(
    reuse_reaches_the_revoked_set_and_is_recorded_once,
    logout_and_logout_all_reach_the_revoked_set_and_are_recorded_once,
);

async fn events(app: &TestApp, kind: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM auth_events WHERE kind = '{kind}'"
    ))
    .await
}

fn family_of(token: &str) -> FamilyId {
    FamilyId::new(claims(token)["sid"].as_str().unwrap())
}

async fn reuse_reaches_the_revoked_set_and_is_recorded_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (first, _) = app.alice().await;
    let family = family_of(&first);
    app.refresh(&first).await.assert_ok();
    assert!(!app.state.revoked.contains(&family, T0));
    app.clock.advance(60);
    app.refresh(&first)
        .await
        .assert_blacklisted("reuse_detected");
    assert!(app.state.revoked.contains(&family, T0 + 60));
    assert_eq!(events(&app, "reuse_detected").await, 1);
    // Presenting it again revokes nothing more and records nothing more.
    app.refresh(&first)
        .await
        .assert_blacklisted("family_revoked");
    assert_eq!(events(&app, "reuse_detected").await, 1);
}

async fn logout_and_logout_all_reach_the_revoked_set_and_are_recorded_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (first, _) = app.alice().await;
    let one = family_of(&first);
    app.logout(&first).await.assert_ok();
    assert!(app.state.revoked.contains(&one, T0));
    assert_eq!(events(&app, "logout").await, 1);

    let second = app.login("alice", "wonderland").await.assert_ok();
    let third = app.login("alice", "wonderland").await.assert_ok();
    let others = [
        family_of(&second.str("refresh")),
        family_of(&third.str("refresh")),
    ];
    app.post("/logout/all", json!({ "refresh": second.str("refresh") }))
        .await
        .assert_ok();
    for family in &others {
        assert!(app.state.revoked.contains(family, T0), "{family:?}");
    }
    assert_eq!(events(&app, "logout_all").await, 1);
    assert_eq!(events(&app, "login_succeeded").await, 3);
}

/// In-memory SQLite cannot carry the rotation writer: start-up refuses it, saying so,
/// instead of running without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_that_cannot_open_is_a_start_up_error_naming_the_cause() {
    let db = db::connect(&DbOptions::new("sqlite::memory:"))
        .await
        .expect("in-memory SQLite");
    let codec = Arc::new(TokenCodec::new(
        TokenSettings::default(),
        Keys::hmac(Algorithm::HS256, TEST_KEY).expect("keys"),
    ));
    let hasher = PasswordHasher::new(256, 1, 1, [9; 16]).expect("hasher");
    let error = api::assemble(Parts {
        db,
        codec,
        passwords: Passwords::new(hasher, 1).expect("argon2 threads"),
        http: api::HttpSettings::default(),
        clock: Arc::new(ManualClock::new(T0)),
        revoked: Arc::new(RevokedSessions::new()),
    })
    .err()
    .expect("in-memory SQLite must be refused");
    assert!(error.to_string().contains("in-memory SQLite"), "{error}");
}
