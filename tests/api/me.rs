//! `GET /me` behind jwtd's `JWTAuthentication`: simplejwt's header rules and error bodies.

use axum::http::{Method, StatusCode};
use integration_tests::{Backend, Send, TestApp, backend_tests, claims, json, sign};

const NOT_PROVIDED: &str = r#"{"detail":"Authentication credentials were not provided."}"#;

async fn me_returns_the_user_behind_the_access_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, access) = app.alice().await;
    let bob = app.create_user("bob", "builder").await;
    let bobs = app.login("bob", "builder").await.str("access");
    app.get_authed("/me", &access)
        .await
        .assert(StatusCode::OK, r#"{"id":1,"username":"alice"}"#);
    app.get_authed("/me", &bobs).await.assert(
        StatusCode::OK,
        &format!(r#"{{"id":{bob},"username":"bob"}}"#),
    );
    // DRF splits the header on any run of whitespace.
    app.get_with_authorization("/me", &format!("Bearer \t  {access}  "))
        .await
        .assert(StatusCode::OK, r#"{"id":1,"username":"alice"}"#);
}

async fn me_without_credentials_of_our_scheme_is_not_authenticated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, access) = app.alice().await;
    app.request(Method::GET, "/me", Send::Empty, &[])
        .await
        .assert_401(NOT_PROVIDED);
    for header in [
        String::new(),
        "   ".to_owned(),
        format!("bearer {access}"),
        format!("Basic {access}"),
        format!("JWT {access}"),
    ] {
        app.get_with_authorization("/me", &header)
            .await
            .assert_401(NOT_PROVIDED);
    }
}

async fn me_with_a_malformed_bearer_header_is_a_bad_authorization_header(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, access) = app.alice().await;
    for header in ["Bearer".to_owned(), format!("Bearer {access} extra")] {
        app.get_with_authorization("/me", &header).await.assert_401(
            r#"{"detail":"Authorization header must contain two space-delimited values","code":"bad_authorization_header"}"#,
        );
    }
}

async fn me_refuses_tokens_that_are_not_valid_access_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (refresh, access) = app.alice().await;
    let mut tampered = access.clone();
    tampered.push('A');
    let mut untyped = claims(&access);
    untyped.as_object_mut().unwrap().remove("token_type");
    for (token, message) in [
        ("garbage".to_owned(), "Token is invalid"),
        (tampered, "Token is invalid"),
        (refresh, "Token has wrong type"),
        (sign(&untyped), "Token has no type"),
    ] {
        app.get_authed("/me", &token)
            .await
            .assert_bearer_refused(message);
    }
}

async fn me_refuses_an_access_token_from_the_second_it_expires(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, access) = app.alice().await;
    app.clock.advance(299);
    app.get_authed("/me", &access).await.assert_ok();
    app.clock.advance(1);
    app.get_authed("/me", &access)
        .await
        .assert_bearer_refused("Token is expired");
}

async fn me_refuses_a_token_without_user_identification(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, access) = app.alice().await;
    let mut anonymous = claims(&access);
    anonymous.as_object_mut().unwrap().remove("user_id");
    app.get_authed("/me", &sign(&anonymous)).await.assert_401(
        r#"{"detail":"Token contained no recognizable user identification","code":"token_not_valid"}"#,
    );
}

async fn me_for_a_deleted_user_is_user_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, access) = app.alice().await;
    app.delete_user(1).await;
    app.get_authed("/me", &access)
        .await
        .assert_401(r#"{"detail":"User not found","code":"user_not_found"}"#);
}

async fn me_for_an_inactive_user_is_user_inactive_unless_not_checked(backend: Backend) {
    let app = TestApp::spawn(backend.clone()).await;
    let (_, access) = app.alice().await;
    app.set_active(1, false).await;
    app.get_authed("/me", &access)
        .await
        .assert_401(r#"{"detail":"User is inactive","code":"user_inactive"}"#);

    let unchecked = TestApp::spawn_with(backend, |config| {
        config.http.check_user_is_active = false;
    })
    .await;
    let (_, access) = unchecked.alice().await;
    unchecked.set_active(1, false).await;
    unchecked
        .get_authed("/me", &access)
        .await
        .assert(StatusCode::OK, r#"{"id":1,"username":"alice"}"#);
}

async fn me_accepts_the_integer_user_id_of_older_simplejwt_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, access) = app.alice().await;
    let mut older = claims(&access);
    older["user_id"] = json!(1);
    app.get_authed("/me", &sign(&older))
        .await
        .assert(StatusCode::OK, r#"{"id":1,"username":"alice"}"#);
}

async fn me_names_the_first_configured_scheme_in_www_authenticate(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.http.auth_header_types = vec!["JWT".to_owned(), "Bearer".to_owned()];
    })
    .await;
    let (_, access) = app.alice().await;
    let response = app.request(Method::GET, "/me", Send::Empty, &[]).await;
    response.assert(StatusCode::UNAUTHORIZED, NOT_PROVIDED);
    assert_eq!(
        response.header("www-authenticate").as_deref(),
        Some(r#"JWT realm="api""#)
    );
    for scheme in ["JWT", "Bearer"] {
        app.get_with_authorization("/me", &format!("{scheme} {access}"))
            .await
            .assert(StatusCode::OK, r#"{"id":1,"username":"alice"}"#);
    }
}

async fn me_sees_a_change_made_through_api_users_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, access) = app.alice().await;
    // Cached by the first request...
    app.get_authed("/me", &access)
        .await
        .assert(StatusCode::OK, r#"{"id":1,"username":"alice"}"#);
    // ...and dropped by the change, within the same clock second.
    app.set_active(1, false).await;
    app.get_authed("/me", &access)
        .await
        .assert_401(r#"{"detail":"User is inactive","code":"user_inactive"}"#);
    app.set_active(1, true).await;
    app.get_authed("/me", &access).await.assert_ok();
    let hash = app
        .state
        .passwords
        .hash("new password".to_owned())
        .await
        .unwrap();
    app.execute("UPDATE users SET username = 'alicia' WHERE id = 1")
        .await;
    api::users::set_password_hash(
        &app.state.db.write,
        &app.state.users,
        auth_core::UserId(1),
        &hash,
    )
    .await
    .unwrap();
    app.get_authed("/me", &access)
        .await
        .assert(StatusCode::OK, r#"{"id":1,"username":"alicia"}"#);
}

async fn me_sees_changes_made_elsewhere_within_one_second(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, access) = app.alice().await;
    app.get_authed("/me", &access)
        .await
        .assert(StatusCode::OK, r#"{"id":1,"username":"alice"}"#);
    // Another instance (or `jwtd user deactivate`) changes the row behind this one's back:
    // the cached copy serves until the clock's next second, never longer.
    app.execute("UPDATE users SET is_active = false, username = 'alicia' WHERE id = 1")
        .await;
    app.get_authed("/me", &access)
        .await
        .assert(StatusCode::OK, r#"{"id":1,"username":"alice"}"#);
    app.clock.advance(1);
    app.get_authed("/me", &access)
        .await
        .assert_401(r#"{"detail":"User is inactive","code":"user_inactive"}"#);
    app.execute("UPDATE users SET is_active = true WHERE id = 1")
        .await;
    app.clock.advance(1);
    app.get_authed("/me", &access)
        .await
        .assert(StatusCode::OK, r#"{"id":1,"username":"alicia"}"#);
    app.delete_user(1).await;
    app.clock.advance(1);
    app.get_authed("/me", &access)
        .await
        .assert_401(r#"{"detail":"User not found","code":"user_not_found"}"#);
}

backend_tests!(
    me_returns_the_user_behind_the_access_token,
    me_sees_a_change_made_through_api_users_at_once,
    me_sees_changes_made_elsewhere_within_one_second,
    me_without_credentials_of_our_scheme_is_not_authenticated,
    me_with_a_malformed_bearer_header_is_a_bad_authorization_header,
    me_refuses_tokens_that_are_not_valid_access_tokens,
    me_refuses_an_access_token_from_the_second_it_expires,
    me_refuses_a_token_without_user_identification,
    me_for_a_deleted_user_is_user_not_found,
    me_for_an_inactive_user_is_user_inactive_unless_not_checked,
    me_accepts_the_integer_user_id_of_older_simplejwt_tokens,
    me_names_the_first_configured_scheme_in_www_authenticate,
);
