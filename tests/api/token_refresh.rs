//! `POST /token/refresh` (simplejwt's `TokenRefreshView`), with jwtd's defaults: rotation and
//! blacklist-after-rotation on.

use axum::http::StatusCode;
use integration_tests::{
    Backend, NO_ACCOUNT_FOR_TOKEN, T0, TestApp, backend_tests, claims, json, sign,
};

async fn refresh_returns_a_new_access_and_a_rotated_refresh(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (refresh, _) = app.alice().await;
    app.clock.advance(60);
    let response = app.refresh(&refresh).await.assert_ok();
    let keys: Vec<&String> = response.json.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["access", "refresh"], "simplejwt sends access first");
    let old = claims(&refresh);
    let new = claims(&response.str("refresh"));
    assert_ne!(new["jti"], old["jti"]);
    assert_eq!(new["iat"], json!(T0 + 60));
    assert_eq!(new["exp"], json!(T0 + 60 + 86_400));
    assert_eq!(new["user_id"], old["user_id"]);
    let me = app.get_authed("/me", &response.str("access")).await;
    me.assert(StatusCode::OK, r#"{"id":1,"username":"alice"}"#);
    app.refresh(&response.str("refresh")).await.assert_ok();
}

async fn refresh_refuses_tokens_it_cannot_verify_with_simplejwts_messages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (refresh, access) = app.alice().await;
    let real = claims(&refresh);
    let without = |name: &str| {
        let mut forged = real.clone();
        forged.as_object_mut().unwrap().remove(name);
        sign(&forged)
    };
    let mut tampered = refresh.clone();
    tampered.push('x');
    let mut unknown = real.clone();
    unknown["jti"] = json!("0123456789abcdef0123456789abcdef");
    let cases = [
        ("not.a.jwt".to_owned(), "Token is invalid"),
        ("garbage".to_owned(), "Token is invalid"),
        (tampered, "Token is invalid"),
        (sign(&unknown), "Token is invalid"),
        (access, "Token has wrong type"),
        (without("token_type"), "Token has no type"),
        (without("jti"), "Token has no id"),
        (without("exp"), "Token has no 'exp' claim"),
    ];
    for (token, detail) in cases {
        app.refresh(&token).await.assert_token_not_valid(detail);
    }
    // None of the refusals touched the real token.
    app.refresh(&refresh).await.assert_ok();
}

async fn refresh_is_refused_from_the_second_the_token_expires(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (refresh, _) = app.alice().await;
    let second = app.login("alice", "wonderland").await.str("refresh");
    app.clock.advance(86_399);
    app.refresh(&refresh).await.assert_ok();
    app.clock.advance(1);
    app.refresh(&second)
        .await
        .assert_token_not_valid("Token is expired");
}

async fn refresh_for_an_inactive_or_deleted_user_finds_no_account(backend: Backend) {
    for rotate in [true, false] {
        let app = TestApp::spawn_with(backend.clone(), |config| {
            config.tokens.rotate_refresh_tokens = rotate;
        })
        .await;
        let (refresh, _) = app.alice().await;
        app.set_active(1, false).await;
        app.refresh(&refresh).await.assert_401(NO_ACCOUNT_FOR_TOKEN);
        // The refusal changed nothing: the same token works once the user is back.
        app.set_active(1, true).await;
        app.refresh(&refresh).await.assert_ok();

        let bob = app.create_user("bob", "builder").await;
        let bobs = app.login("bob", "builder").await.str("refresh");
        app.delete_user(bob).await;
        app.refresh(&bobs).await.assert_401(NO_ACCOUNT_FOR_TOKEN);
    }
}

async fn refresh_checks_the_blacklist_before_the_user(backend: Backend) {
    // simplejwt verifies the token (blacklist included) before it looks up the user.
    let app = TestApp::spawn(backend).await;
    let (refresh, _) = app.alice().await;
    app.logout(&refresh).await.assert(StatusCode::OK, "{}");
    app.delete_user(1).await;
    app.refresh(&refresh)
        .await
        .assert_token_not_valid("Token is blacklisted");
}

async fn refresh_for_an_inactive_user_works_when_activity_is_not_checked(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.http.check_user_is_active = false;
    })
    .await;
    let (refresh, _) = app.alice().await;
    app.set_active(1, false).await;
    app.refresh(&refresh).await.assert_ok();
}

async fn refresh_with_a_logged_out_token_is_blacklisted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (refresh, _) = app.alice().await;
    app.logout(&refresh).await.assert(StatusCode::OK, "{}");
    app.refresh(&refresh)
        .await
        .assert_token_not_valid("Token is blacklisted");
}

async fn refresh_ignores_the_authorization_header(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (refresh, _) = app.alice().await;
    app.request(
        axum::http::Method::POST,
        "/token/refresh",
        integration_tests::Send::Json(json!({ "refresh": refresh })),
        &[("authorization", "Bearer not-a-token")],
    )
    .await
    .assert_ok();
}

backend_tests!(
    refresh_returns_a_new_access_and_a_rotated_refresh,
    refresh_refuses_tokens_it_cannot_verify_with_simplejwts_messages,
    refresh_is_refused_from_the_second_the_token_expires,
    refresh_for_an_inactive_or_deleted_user_finds_no_account,
    refresh_with_a_logged_out_token_is_blacklisted,
    refresh_checks_the_blacklist_before_the_user,
    refresh_for_an_inactive_user_works_when_activity_is_not_checked,
    refresh_ignores_the_authorization_header,
);
