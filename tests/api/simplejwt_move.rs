//! Moving a running simplejwt deployment to jwtd without logging anyone out: simplejwt's
//! tokens (HS256, its claim layout, no `kid`, no `sid`) keep working, and its refresh
//! tokens are adopted as sessions on first use when issued before the cut-over.

use axum::http::StatusCode;
use integration_tests::{Backend, T0, TestApp, backend_tests, claims, json, sign};

use crate::introspect::introspect;

/// The cut-over: jwtd took over ten minutes after `T0`.
const CUTOVER: i64 = T0 + 600;

async fn spawn(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |config| {
        config.http.adopt_refresh_tokens_issued_before = Some(CUTOVER);
    })
    .await
}

/// A token as simplejwt 5.5 mints it for user 1: its claims in its order, `user_id` a
/// string, `jti` 32 hex digits, the header `{"alg":"HS256","typ":"JWT"}` with no `kid`.
fn simplejwt_token(kind: &str, iat: i64, lifetime: i64, jti: &str) -> String {
    sign(&json!({
        "token_type": kind,
        "exp": iat + lifetime,
        "iat": iat,
        "jti": jti,
        "user_id": "1",
    }))
}

async fn events(app: &TestApp, kind: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM auth_events WHERE kind = '{kind}'"
    ))
    .await
}

async fn a_simplejwt_refresh_token_issued_before_the_cutover_refreshes_on_jwtd(backend: Backend) {
    let app = spawn(backend).await;
    app.create_user("alice", "wonderland").await;
    let refresh = simplejwt_token("refresh", T0, 86_400, "5f0e8a3c9b1d4e7fa2c6b8d0e4f1a3c5");
    // Issued just before the cut-over, so still unexpired after it.
    let access = simplejwt_token(
        "access",
        CUTOVER - 10,
        300,
        "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
    );
    app.clock.advance(700);
    // simplejwt's access tokens verify as they are (same key, same claims) ...
    app.get_authed("/me", &access)
        .await
        .assert(StatusCode::OK, r#"{"id":1,"username":"alice"}"#);
    // ... and its refresh token starts a session in jwtd and rotates.
    let rotated = app.refresh(&refresh).await.assert_ok();
    let successor = rotated.str("refresh");
    assert!(claims(&successor)["sid"].is_string());
    assert_eq!(claims(&rotated.str("access"))["user_id"], "1");
    assert_eq!(events(&app, "login_succeeded").await, 1);
    app.refresh(&successor).await.assert_ok();
    // From now on jwtd's rules hold: the adopted token was rotated, so presenting it again
    // outside the grace window is reuse, and the whole session ends.
    app.clock.advance(60);
    app.refresh(&refresh)
        .await
        .assert_blacklisted("reuse_detected");
    app.refresh(&successor)
        .await
        .assert_blacklisted("family_revoked");
    assert_eq!(events(&app, "login_succeeded").await, 1);
}

async fn a_logout_of_a_simplejwt_refresh_token_ends_it(backend: Backend) {
    let app = spawn(backend).await;
    app.create_user("alice", "wonderland").await;
    let refresh = simplejwt_token("refresh", T0, 86_400, "6a7b8c9d0e1f20314253647586970a1b");
    app.clock.advance(700);
    app.logout(&refresh).await.assert(StatusCode::OK, "{}");
    app.refresh(&refresh).await.assert_blacklisted("logout");
}

async fn only_tokens_issued_before_the_cutover_without_a_session_are_adopted(backend: Backend) {
    let app = spawn(backend).await;
    app.create_user("alice", "wonderland").await;
    app.clock.advance(700);
    // Issued after the cut-over, when simplejwt no longer issued any: not simplejwt's.
    let late = simplejwt_token(
        "refresh",
        CUTOVER,
        86_400,
        "7b8c9d0e1f2031425364758697a0b1c2",
    );
    app.refresh(&late)
        .await
        .assert_token_not_valid("Token is invalid");
    // Naming a session jwtd does not know: never adopted.
    let forged_sid = sign(&json!({
        "token_type": "refresh", "exp": T0 + 86_400, "iat": T0,
        "jti": "8c9d0e1f2031425364758697a0b1c2d3", "user_id": "1", "sid": "f".repeat(32),
    }));
    app.refresh(&forged_sid)
        .await
        .assert_token_not_valid("Token is invalid");
    // A user jwtd does not have.
    let stranger = sign(&json!({
        "token_type": "refresh", "exp": T0 + 86_400, "iat": T0,
        "jti": "9d0e1f2031425364758697a0b1c2d3e4", "user_id": "42",
    }));
    app.refresh(&stranger)
        .await
        .assert_token_not_valid("Token is invalid");
    assert_eq!(events(&app, "login_succeeded").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM token_families").await, 0);
}

async fn introspection_finds_an_adoptable_simplejwt_refresh_token_live(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.http.adopt_refresh_tokens_issued_before = Some(CUTOVER);
        crate::introspect::allow_introspection(config);
    })
    .await;
    app.create_user("alice", "wonderland").await;
    let refresh = simplejwt_token("refresh", T0, 86_400, "7c8d9e0f1a2b3c4d5e6f708192a3b4c5");
    app.clock.advance(700);
    // What `/token/refresh` would take is active, as it is there ...
    let live = introspect(&app, &refresh).await.json;
    assert_eq!((&live["active"], &live["sub"]), (&true.into(), &"1".into()));
    assert_eq!(live["token_type"], "refresh");
    // ... and once it is rotated it is not.
    app.refresh(&refresh).await.assert_ok();
    app.clock.advance(60);
    assert_eq!(introspect(&app, &refresh).await.text, r#"{"active":false}"#);
    assert_eq!(events(&app, "login_succeeded").await, 1);
}

async fn without_a_cutover_simplejwt_refresh_tokens_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("alice", "wonderland").await;
    let refresh = simplejwt_token("refresh", T0, 86_400, "a0e1f2031425364758697a0b1c2d3e4f");
    app.refresh(&refresh)
        .await
        .assert_token_not_valid("Token is invalid");
}

backend_tests!(
    a_simplejwt_refresh_token_issued_before_the_cutover_refreshes_on_jwtd,
    a_logout_of_a_simplejwt_refresh_token_ends_it,
    only_tokens_issued_before_the_cutover_without_a_session_are_adopted,
    without_a_cutover_simplejwt_refresh_tokens_are_refused,
    introspection_finds_an_adoptable_simplejwt_refresh_token_live,
);
