//! `POST /logout` and its simplejwt name `POST /token/blacklist` (`TokenBlacklistView`).

use axum::http::StatusCode;
use integration_tests::{Backend, TestApp, backend_tests, json};

async fn logout_blacklists_the_token_and_a_second_logout_is_refused(backend: Backend) {
    for path in ["/logout", "/token/blacklist"] {
        let app = TestApp::spawn(backend.clone()).await;
        let (refresh, _) = app.alice().await;
        let body = json!({ "refresh": refresh });
        app.post(path, body.clone())
            .await
            .assert(StatusCode::OK, "{}");
        app.post(path, body)
            .await
            .assert_token_not_valid("Token is blacklisted");
        app.refresh(&refresh)
            .await
            .assert_token_not_valid("Token is blacklisted");
        assert_eq!(
            app.count("SELECT COUNT(*) FROM blacklisted_tokens WHERE reason = 'logout'")
                .await,
            1,
            "{path}"
        );
    }
}

async fn logout_ends_the_whole_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (first, _) = app.alice().await;
    let second = app.refresh(&first).await.str("refresh");
    let other = app.login("alice", "wonderland").await.str("refresh");
    app.logout(&second).await.assert(StatusCode::OK, "{}");
    app.refresh(&second)
        .await
        .assert_token_not_valid("Token is blacklisted");
    // Another login of the same user is another session, untouched.
    app.refresh(&other).await.assert_ok();
}

async fn logout_refuses_what_is_not_a_valid_refresh_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (refresh, access) = app.alice().await;
    app.logout(&access)
        .await
        .assert_token_not_valid("Token has wrong type");
    app.logout("garbage")
        .await
        .assert_token_not_valid("Token is invalid");
    app.clock.advance(86_400);
    app.logout(&refresh)
        .await
        .assert_token_not_valid("Token is expired");
}

async fn logout_needs_no_authentication_and_works_for_a_deleted_user(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (refresh, _) = app.alice().await;
    app.delete_user(1).await;
    app.logout(&refresh).await.assert(StatusCode::OK, "{}");
    app.logout(&refresh)
        .await
        .assert_token_not_valid("Token is blacklisted");
}

backend_tests!(
    logout_blacklists_the_token_and_a_second_logout_is_refused,
    logout_ends_the_whole_session,
    logout_refuses_what_is_not_a_valid_refresh_token,
    logout_needs_no_authentication_and_works_for_a_deleted_user,
);
