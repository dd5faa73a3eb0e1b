//! Sessions: `GET /sessions`, `DELETE /sessions/{id}`, `POST /logout/all`, and the absolute
//! session lifetime.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use integration_tests::{Backend, Send, T0, TestApp, TestResponse, backend_tests, claims, json};

/// A login from a client with this `User-Agent`; returns `(refresh, access, session id)`.
async fn login_from(app: &TestApp, username: &str, user_agent: &str) -> (String, String, String) {
    let response = app
        .request(
            Method::POST,
            "/token",
            Send::Json(json!({ "username": username, "password": "wonderland" })),
            &[("user-agent", user_agent)],
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    let refresh = response.str("refresh");
    let sid = claims(&refresh)["sid"].as_str().unwrap().to_owned();
    (refresh, response.str("access"), sid)
}

async fn delete_session(app: &TestApp, id: &str, access: &str) -> TestResponse {
    app.send_authed(Method::DELETE, &format!("/sessions/{id}"), access)
        .await
}

async fn sessions_lists_live_sessions_newest_first_and_marks_the_current_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("alice", "wonderland").await;
    app.create_user("bob", "wonderland").await;
    let (_, _, laptop) = login_from(&app, "alice", "laptop/1.0").await;
    app.clock.advance(60);
    let (phone_refresh, phone_access, phone) = login_from(&app, "alice", "phone/2.0").await;
    app.clock.advance(60);
    let (tablet_refresh, _, _) = login_from(&app, "alice", "tablet/3.0").await;
    login_from(&app, "bob", "bob's browser").await;
    app.clock.advance(30);
    // Using a session moves its last_used_at (and the refresh window's end) on.
    let rotated = app.refresh(&phone_refresh).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
    // A logged-out session is no longer listed.
    assert_eq!(app.logout(&tablet_refresh).await.status, StatusCode::OK);

    let response = app.get_authed("/sessions", &phone_access).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    let expected = json!([
        {
            "id": phone,
            "created_at": "2027-01-15T08:01:00Z",
            "last_used_at": "2027-01-15T08:02:30Z",
            "expires_at": "2027-01-16T08:02:30Z",
            "user_agent": "phone/2.0",
            "ip": null,
            "current": true,
        },
        {
            "id": laptop,
            "created_at": "2027-01-15T08:00:00Z",
            "last_used_at": "2027-01-15T08:00:00Z",
            "expires_at": "2027-01-16T08:00:00Z",
            "user_agent": "laptop/1.0",
            "ip": null,
            "current": false,
        },
    ]);
    assert_eq!(response.text, expected.to_string());
}

async fn sessions_requires_an_access_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .request(Method::GET, "/sessions", Send::Empty, &[])
        .await;
    response.assert_401(r#"{"detail":"Authentication credentials were not provided."}"#);
    let (refresh, _) = app.alice().await;
    app.get_authed("/sessions", &refresh)
        .await
        .assert_bearer_refused("Token has wrong type");
}

async fn deleting_a_session_revokes_it_and_only_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("alice", "wonderland").await;
    let (laptop_refresh, laptop_access, _) = login_from(&app, "alice", "laptop").await;
    let (phone_refresh, _, phone) = login_from(&app, "alice", "phone").await;

    let response = delete_session(&app, &phone, &laptop_access).await;
    response.assert(StatusCode::NO_CONTENT, "");

    app.refresh(&phone_refresh)
        .await
        .assert_blacklisted("session_revoked");
    assert_eq!(app.refresh(&laptop_refresh).await.status, StatusCode::OK);
    let listed = app.get_authed("/sessions", &laptop_access).await;
    assert_eq!(listed.json.as_array().unwrap().len(), 1, "{}", listed.text);
    assert_ne!(listed.json[0]["id"], json!(phone));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM auth_events WHERE kind = 'session_revoked'")
            .await,
        1
    );

    // Gone now: a second delete finds nothing.
    delete_session(&app, &phone, &laptop_access)
        .await
        .assert(StatusCode::NOT_FOUND, r#"{"detail":"Not found."}"#);
}

async fn deleting_an_unknown_or_another_users_session_is_404_alike(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("alice", "wonderland").await;
    app.create_user("bob", "wonderland").await;
    let (_, alice_access, _) = login_from(&app, "alice", "laptop").await;
    let (bob_refresh, _, bob_session) = login_from(&app, "bob", "phone").await;

    for id in [
        "0123456789abcdef0123456789abcdef",
        "not-a-session-id",
        bob_session.as_str(),
    ] {
        delete_session(&app, id, &alice_access)
            .await
            .assert(StatusCode::NOT_FOUND, r#"{"detail":"Not found."}"#);
    }
    // Bob's session is untouched.
    assert_eq!(app.refresh(&bob_refresh).await.status, StatusCode::OK);

    // Without credentials: 401, before anything is looked up.
    app.request(
        Method::DELETE,
        &format!("/sessions/{bob_session}"),
        Send::Empty,
        &[],
    )
    .await
    .assert_401(r#"{"detail":"Authentication credentials were not provided."}"#);
}

async fn logout_all_with_a_bearer_token_ends_every_session_of_the_user_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("alice", "wonderland").await;
    app.create_user("bob", "wonderland").await;
    let (laptop, access, _) = login_from(&app, "alice", "laptop").await;
    let (phone, _, _) = login_from(&app, "alice", "phone").await;
    let (bob, _, _) = login_from(&app, "bob", "bob").await;

    app.send_authed(Method::POST, "/logout/all", &access)
        .await
        .assert(StatusCode::OK, "{}");

    for refresh in [&laptop, &phone] {
        app.refresh(refresh).await.assert_blacklisted("logout_all");
    }
    assert_eq!(app.refresh(&bob).await.status, StatusCode::OK);
    // Access tokens are stateless (revocation of them is off by default): the list is empty.
    app.get_authed("/sessions", &access)
        .await
        .assert(StatusCode::OK, "[]");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM auth_events WHERE kind = 'logout_all'")
            .await,
        1
    );
}

async fn logout_all_with_a_refresh_token_in_the_body_ends_every_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("alice", "wonderland").await;
    let (laptop, _, _) = login_from(&app, "alice", "laptop").await;
    let (phone, _, _) = login_from(&app, "alice", "phone").await;

    app.post("/logout/all", json!({ "refresh": phone }))
        .await
        .assert(StatusCode::OK, "{}");
    for refresh in [&laptop, &phone] {
        app.refresh(refresh).await.assert_blacklisted("logout_all");
    }
    // The token is dead now: it cannot name its user any more.
    let again = app.post("/logout/all", json!({ "refresh": phone })).await;
    again.assert_token_not_valid("Token is blacklisted");
    // Neither a Bearer token nor a refresh token: not authenticated.
    app.post("/logout/all", json!({}))
        .await
        .assert_401(r#"{"detail":"Authentication credentials were not provided."}"#);
    // An access token is not a refresh token.
    let (_, access, _) = login_from(&app, "alice", "laptop").await;
    app.post("/logout/all", json!({ "refresh": access }))
        .await
        .assert_token_not_valid("Token has wrong type");
}

async fn rotation_never_extends_a_session_past_its_absolute_lifetime(backend: Backend) {
    const SESSION: i64 = 36 * 3600;
    let app = TestApp::spawn_with(backend, |config| {
        config.tokens.session_max_lifetime = Duration::from_secs(36 * 3600);
    })
    .await;
    let (r0, _) = app.alice().await;
    assert_eq!(claims(&r0)["exp"], json!(T0 + 86_400));

    app.clock.advance(20 * 3600);
    let response = app.refresh(&r0).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    let r1 = response.str("refresh");
    // A day from now would be T0 + 44 h; the session ends at T0 + 36 h.
    assert_eq!(claims(&r1)["exp"], json!(T0 + SESSION));
    let sessions = app.get_authed("/sessions", &response.str("access")).await;
    assert_eq!(sessions.json[0]["expires_at"], "2027-01-16T20:00:00Z");

    app.clock.set(T0 + SESSION - 1);
    let response = app.refresh(&r1).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    let r2 = response.str("refresh");
    assert_eq!(claims(&r2)["exp"], json!(T0 + SESSION));
    // The access token is capped only by its own lifetime.
    assert_eq!(
        claims(&response.str("access"))["exp"],
        json!(T0 + SESSION - 1 + 300)
    );

    app.clock.set(T0 + SESSION);
    let response = app.refresh(&r2).await;
    response.assert_token_not_valid("Token is expired");
    assert_eq!(response.header("x-jwtd-reason").as_deref(), Some("expired"));
}

backend_tests!(
    sessions_lists_live_sessions_newest_first_and_marks_the_current_one,
    sessions_requires_an_access_token,
    deleting_a_session_revokes_it_and_only_it,
    deleting_an_unknown_or_another_users_session_is_404_alike,
    logout_all_with_a_bearer_token_ends_every_session_of_the_user_only,
    logout_all_with_a_refresh_token_in_the_body_ends_every_session,
    rotation_never_extends_a_session_past_its_absolute_lifetime,
);
