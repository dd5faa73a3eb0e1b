//! RFC 7009 `POST /revoke`: 200 with an empty body whatever the token; a refresh token is
//! blacklisted and its session ended, an access token ends the session it was minted in.

use axum::http::StatusCode;
use integration_tests::{
    Backend, Send, T0, TestApp, VERIFY_BLACKLISTED, backend_tests, claims, json, sign, sign_with,
};

/// `POST /revoke` with a form body, as RFC 7009 clients send it.
async fn revoke_form(app: &TestApp, body: &str) -> integration_tests::TestResponse {
    app.request(
        axum::http::Method::POST,
        "/revoke",
        Send::Raw(
            Some("application/x-www-form-urlencoded"),
            body.as_bytes().to_vec(),
        ),
        &[],
    )
    .await
}

/// Asserts RFC 7009's answer: 200, no body, not to be cached.
#[track_caller]
fn assert_revoked(response: &integration_tests::TestResponse) {
    response.assert(StatusCode::OK, "");
    assert_eq!(
        response.header("cache-control").as_deref(),
        Some("no-store")
    );
}

async fn events(app: &TestApp, kind: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM auth_events WHERE kind = '{kind}'"
    ))
    .await
}

async fn revoking_a_refresh_token_blacklists_it_and_ends_its_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (first, _) = app.alice().await;
    let second = app.refresh(&first).await.assert_ok().str("refresh");
    let other = app.login("alice", "wonderland").await.str("refresh");
    // A hint naming the other type is ignored: the token says what it is.
    assert_revoked(
        &revoke_form(
            &app,
            &format!("token={second}&token_type_hint=access_token"),
        )
        .await,
    );
    app.refresh(&second).await.assert_blacklisted("logout");
    app.verify(&second)
        .await
        .assert(StatusCode::BAD_REQUEST, VERIFY_BLACKLISTED);
    assert_eq!(events(&app, "logout").await, 1);
    assert!(app.state.revoked.contains(
        &auth_core::FamilyId::new(claims(&second)["sid"].as_str().unwrap()),
        T0
    ));
    // Revoking it again changes nothing and says the same.
    assert_revoked(&app.post("/revoke", json!({ "token": second })).await);
    assert_eq!(events(&app, "logout").await, 1);
    // The user's other session is untouched.
    app.refresh(&other).await.assert_ok();
}

async fn revoking_an_already_rotated_refresh_token_is_reuse(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (first, _) = app.alice().await;
    let second = app.refresh(&first).await.assert_ok().str("refresh");
    app.clock.advance(60);
    assert_revoked(&app.post("/revoke", json!({ "token": first })).await);
    assert_eq!(events(&app, "reuse_detected").await, 1);
    app.refresh(&second)
        .await
        .assert_blacklisted("family_revoked");
}

async fn revoking_an_access_token_ends_its_session(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.http.revoke_access_on_logout = true;
    })
    .await;
    let (refresh, access) = app.alice().await;
    let other = app.login("alice", "wonderland").await.assert_ok();
    let body = json!({ "token": access, "token_type_hint": "access_token" });
    assert_revoked(&app.post("/revoke", body).await);
    app.refresh(&refresh)
        .await
        .assert_blacklisted("session_revoked");
    app.get_authed("/me", &access)
        .await
        .assert_bearer_refused("Token is blacklisted");
    assert_eq!(events(&app, "session_revoked").await, 1);
    app.get_authed("/me", &other.str("access"))
        .await
        .assert_ok();
    app.refresh(&other.str("refresh")).await.assert_ok();
}

async fn without_access_revocation_a_revoked_access_token_lives_until_it_expires(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (refresh, access) = app.alice().await;
    assert_revoked(&app.post("/revoke", json!({ "token": access })).await);
    // The session is over: its refresh token no longer refreshes ...
    app.refresh(&refresh)
        .await
        .assert_blacklisted("session_revoked");
    // ... but access tokens stay stateless, as simplejwt's are.
    app.get_authed("/me", &access).await.assert_ok();
}

async fn revoke_answers_200_to_whatever_it_cannot_revoke(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (refresh, access) = app.alice().await;
    let claims_of = |kind: &str, jti: char| {
        json!({
            "token_type": kind, "exp": T0 + 300, "iat": T0, "jti": jti.to_string().repeat(32),
            "user_id": "1",
        })
    };
    let foreign = sign_with(
        &claims_of("refresh", 'b'),
        jsonwebtoken::Algorithm::HS256,
        b"another-key-entirely-0123456789",
    );
    for token in [
        "garbage".to_owned(),
        // Signed with jwtd's key but never issued, or naming no session.
        sign(&claims_of("refresh", 'c')),
        sign(&claims_of("access", 'a')),
        foreign,
        integration_tests::unsigned(&claims_of("refresh", 'd')),
    ] {
        assert_revoked(&app.post("/revoke", json!({ "token": token })).await);
    }
    app.clock.advance(86_401);
    for token in [&refresh, &access] {
        assert_revoked(&app.post("/revoke", json!({ "token": token })).await);
    }
    assert_eq!(events(&app, "logout").await, 0);
    assert_eq!(events(&app, "session_revoked").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM blacklisted_tokens").await,
        0
    );
}

async fn revoke_without_a_token_is_a_field_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.post("/revoke", json!({})).await.assert(
        StatusCode::BAD_REQUEST,
        r#"{"token":["This field is required."]}"#,
    );
    app.post("/revoke", json!({ "token": "  " })).await.assert(
        StatusCode::BAD_REQUEST,
        r#"{"token":["This field may not be blank."]}"#,
    );
    app.request(axum::http::Method::GET, "/revoke/", Send::Empty, &[])
        .await
        .assert(
            StatusCode::METHOD_NOT_ALLOWED,
            r#"{"detail":"Method \"GET\" not allowed."}"#,
        );
}

backend_tests!(
    revoking_a_refresh_token_blacklists_it_and_ends_its_session,
    revoking_an_already_rotated_refresh_token_is_reuse,
    revoking_an_access_token_ends_its_session,
    without_access_revocation_a_revoked_access_token_lives_until_it_expires,
    revoke_answers_200_to_whatever_it_cannot_revoke,
    revoke_without_a_token_is_a_field_error,
);
