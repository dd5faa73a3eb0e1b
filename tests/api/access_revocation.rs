//! Access tokens after logout: refused with `revoke_access_on_logout` on (until they would
//! have expired anyway), stateless and valid until `exp` with it off (simplejwt's way).

use axum::http::{Method, StatusCode};
use integration_tests::{Backend, T0, TestApp, backend_tests, claims, json};

const VERIFY_BLACKLISTED: &str = r#"{"non_field_errors":["Token is blacklisted"]}"#;

async fn spawn_revoking(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |config| {
        config.http.revoke_access_on_logout = true;
    })
    .await
}

/// Two sessions of alice: `(refresh, access)` of each.
async fn two_sessions(app: &TestApp) -> ((String, String), (String, String)) {
    let first = app.alice().await;
    let second = app.login("alice", "wonderland").await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    (first, (second.str("refresh"), second.str("access")))
}

async fn assert_access_refused(app: &TestApp, access: &str) {
    let me = app.get_authed("/me", access).await;
    me.assert_bearer_refused("Token is blacklisted");
    assert_eq!(
        me.header("x-jwtd-reason").as_deref(),
        Some("family_revoked")
    );
    app.verify(access)
        .await
        .assert(StatusCode::BAD_REQUEST, VERIFY_BLACKLISTED);
}

async fn assert_access_accepted(app: &TestApp, access: &str) {
    app.get_authed("/me", access)
        .await
        .assert(StatusCode::OK, r#"{"id":1,"username":"alice"}"#);
    app.verify(access).await.assert(StatusCode::OK, "{}");
}

async fn with_revocation_on_logout_refuses_that_sessions_access_tokens_only(backend: Backend) {
    let app = spawn_revoking(backend).await;
    let ((refresh, access), (_, other_access)) = two_sessions(&app).await;
    // An access token minted later in the same session is refused too.
    app.clock.advance(10);
    let rotated = app.refresh(&refresh).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
    let (newest_refresh, newest_access) = (rotated.str("refresh"), rotated.str("access"));
    assert_access_accepted(&app, &access).await;

    app.logout(&newest_refresh)
        .await
        .assert(StatusCode::OK, "{}");

    assert_access_refused(&app, &access).await;
    assert_access_refused(&app, &newest_access).await;
    assert_access_accepted(&app, &other_access).await;
}

async fn with_revocation_on_every_way_of_ending_a_session_refuses_its_access_tokens(
    backend: Backend,
) {
    let app = spawn_revoking(backend).await;
    let ((_, first), (second_refresh, second)) = two_sessions(&app).await;
    let third = app.login("alice", "wonderland").await.str("access");

    // DELETE /sessions/{id}, from another session.
    let sid = claims(&first)["sid"].as_str().unwrap().to_owned();
    app.send_authed(Method::DELETE, &format!("/sessions/{sid}"), &second)
        .await
        .assert(StatusCode::NO_CONTENT, "");
    assert_access_refused(&app, &first).await;
    assert_access_accepted(&app, &second).await;

    // Reuse detection, outside the grace window.
    let rotated = app.refresh(&second_refresh).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
    app.clock.advance(10);
    app.refresh(&second_refresh)
        .await
        .assert_blacklisted("reuse_detected");
    assert_access_refused(&app, &second).await;
    assert_access_refused(&app, &rotated.str("access")).await;
    assert_access_accepted(&app, &third).await;

    // POST /logout/all with the last session's own access token.
    app.send_authed(Method::POST, "/logout/all", &third)
        .await
        .assert(StatusCode::OK, "{}");
    assert_access_refused(&app, &third).await;
}

async fn with_revocation_on_entries_expire_with_the_access_lifetime(backend: Backend) {
    let app = spawn_revoking(backend).await;
    let (refresh, access) = app.alice().await;
    let sid = auth_core::FamilyId::new(claims(&refresh)["sid"].as_str().unwrap());
    app.clock.advance(100);
    app.logout(&refresh).await.assert(StatusCode::OK, "{}");
    assert_eq!(app.state.revoked.len(), 1);

    // Refused to the last second of the token's life, then simply expired.
    app.clock.set(T0 + 299);
    assert_access_refused(&app, &access).await;
    app.clock.set(T0 + 300);
    app.get_authed("/me", &access)
        .await
        .assert_bearer_refused("Token is expired");

    // The entry outlives every access token minted before the logout, and no longer.
    assert!(app.state.revoked.contains(&sid, T0 + 100 + 299));
    assert!(!app.state.revoked.contains(&sid, T0 + 100 + 300));
    app.state.revoked.prune(T0 + 100 + 300);
    assert!(app.state.revoked.is_empty());
}

async fn with_revocation_off_an_access_token_works_until_it_expires(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ((refresh, access), _) = two_sessions(&app).await;
    app.logout(&refresh).await.assert(StatusCode::OK, "{}");
    app.send_authed(Method::POST, "/logout/all", &access)
        .await
        .assert(StatusCode::OK, "{}");

    app.clock.set(T0 + 299);
    assert_access_accepted(&app, &access).await;
    app.clock.set(T0 + 300);
    app.get_authed("/me", &access)
        .await
        .assert_bearer_refused("Token is expired");
    app.verify(&access)
        .await
        .assert_token_not_valid("Token is expired");
    assert_eq!(claims(&access)["exp"], json!(T0 + 300));
}

backend_tests!(
    with_revocation_on_logout_refuses_that_sessions_access_tokens_only,
    with_revocation_on_every_way_of_ending_a_session_refuses_its_access_tokens,
    with_revocation_on_entries_expire_with_the_access_lifetime,
    with_revocation_off_an_access_token_works_until_it_expires,
);
