//! `POST /token/verify` (simplejwt's `TokenVerifyView`): any valid token, no user lookup, and
//! a 400 for a blacklisted one while blacklist-after-rotation is on.

use axum::http::StatusCode;
use integration_tests::{Backend, TestApp, VERIFY_BLACKLISTED, backend_tests, claims, sign};

async fn verify_accepts_access_and_refresh_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (refresh, access) = app.alice().await;
    app.verify(&access).await.assert(StatusCode::OK, "{}");
    app.verify(&refresh).await.assert(StatusCode::OK, "{}");
    // No type check: an untyped token with an id and an expiry verifies.
    let mut untyped = claims(&access);
    untyped.as_object_mut().unwrap().remove("token_type");
    app.verify(&sign(&untyped))
        .await
        .assert(StatusCode::OK, "{}");
}

async fn verify_refuses_invalid_tokens_with_simplejwts_messages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, access) = app.alice().await;
    let without = |name: &str| {
        let mut forged = claims(&access);
        forged.as_object_mut().unwrap().remove(name);
        sign(&forged)
    };
    let mut tampered = access.clone();
    tampered.truncate(tampered.len() - 2);
    for (token, detail) in [
        ("garbage".to_owned(), "Token is invalid"),
        (tampered, "Token is invalid"),
        (without("jti"), "Token has no id"),
        (without("exp"), "Token has no 'exp' claim"),
    ] {
        app.verify(&token).await.assert_token_not_valid(detail);
    }
    app.clock.advance(299);
    app.verify(&access).await.assert(StatusCode::OK, "{}");
    app.clock.advance(1);
    app.verify(&access)
        .await
        .assert_token_not_valid("Token is expired");
}

async fn verify_of_a_blacklisted_refresh_token_is_a_400(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (refresh, access) = app.alice().await;
    let rotated = app.refresh(&refresh).await.str("refresh");
    // Rotated away, so blacklisted.
    app.verify(&refresh)
        .await
        .assert(StatusCode::BAD_REQUEST, VERIFY_BLACKLISTED);
    app.verify(&rotated).await.assert(StatusCode::OK, "{}");
    app.logout(&rotated).await.assert(StatusCode::OK, "{}");
    app.verify(&rotated)
        .await
        .assert(StatusCode::BAD_REQUEST, VERIFY_BLACKLISTED);
    // Access tokens are stateless: logout does not reach them.
    app.verify(&access).await.assert(StatusCode::OK, "{}");
}

async fn verify_ignores_the_blacklist_when_blacklist_after_rotation_is_off(backend: Backend) {
    // simplejwt gates the check on BLACKLIST_AFTER_ROTATION (its issue #786); so does jwtd.
    let app = TestApp::spawn_with(backend, |config| {
        config.tokens.blacklist_after_rotation = false;
    })
    .await;
    let (refresh, _) = app.alice().await;
    app.logout(&refresh).await.assert(StatusCode::OK, "{}");
    app.verify(&refresh).await.assert(StatusCode::OK, "{}");
    app.refresh(&refresh)
        .await
        .assert_token_not_valid("Token is blacklisted");
}

async fn verify_does_not_look_up_the_user(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (refresh, access) = app.alice().await;
    app.delete_user(1).await;
    app.verify(&access).await.assert(StatusCode::OK, "{}");
    app.verify(&refresh).await.assert(StatusCode::OK, "{}");
}

backend_tests!(
    verify_accepts_access_and_refresh_tokens,
    verify_refuses_invalid_tokens_with_simplejwts_messages,
    verify_of_a_blacklisted_refresh_token_is_a_400,
    verify_ignores_the_blacklist_when_blacklist_after_rotation_is_off,
    verify_does_not_look_up_the_user,
);
