//! `POST /token`.

use axum::http::StatusCode;
use integration_tests::{Backend, T0, TestApp, backend_tests, claims, json};

async fn login_returns_a_refresh_and_access_pair(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.create_user("alice", "wonderland").await;
    let response = app.login("alice", "wonderland").await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    let keys: Vec<&String> = response.json.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["refresh", "access"]);
    let refresh = claims(&response.str("refresh"));
    let access = claims(&response.str("access"));
    assert_eq!(refresh["token_type"], "refresh");
    assert_eq!(access["token_type"], "access");
    assert_eq!(refresh["user_id"], json!(id.to_string()));
    assert_eq!(access["user_id"], json!(id.to_string()));
    assert_eq!(
        refresh["exp"].as_i64().unwrap() - refresh["iat"].as_i64().unwrap(),
        86_400
    );
    assert_eq!(
        access["exp"].as_i64().unwrap() - access["iat"].as_i64().unwrap(),
        300
    );
    for jti in [&refresh["jti"], &access["jti"]] {
        let jti = jti.as_str().unwrap();
        assert_eq!(jti.len(), 32);
        assert!(jti.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')));
    }
    assert_ne!(refresh["jti"], access["jti"]);
}

async fn wrong_password_unknown_user_and_inactive_user_get_the_same_401(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.create_user("alice", "wonderland").await;
    app.create_user("bob", "builder").await;
    app.set_active(id, false).await;
    for (username, password) in [
        ("bob", "wrong"),
        ("nobody", "builder"),
        ("alice", "wonderland"),
    ] {
        let response = app.login(username, password).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{username}");
        assert_eq!(
            response.text,
            r#"{"detail":"No active account found with the given credentials"}"#
        );
        assert_eq!(
            response.header("www-authenticate").as_deref(),
            Some("Bearer realm=\"api\"")
        );
    }
}

async fn last_login_is_recorded_on_login_only_when_configured(backend: Backend) {
    const LAST_LOGIN: &str = "SELECT COUNT(*) FROM users WHERE last_login IS NOT NULL";
    let app = TestApp::spawn(backend.clone()).await;
    app.alice().await;
    assert_eq!(
        app.count(LAST_LOGIN).await,
        0,
        "UPDATE_LAST_LOGIN is off by default"
    );

    let app = TestApp::spawn_with(backend, |config| config.http.update_last_login = true).await;
    let (refresh, _) = app.alice().await;
    let at = format!("SELECT COUNT(*) FROM users WHERE last_login = {T0}");
    assert_eq!(app.count(&at).await, 1);
    app.clock.advance(60);
    app.refresh(&refresh).await.assert_ok();
    assert_eq!(app.count(&at).await, 1, "a refresh is not a login");
}

backend_tests!(
    login_returns_a_refresh_and_access_pair,
    last_login_is_recorded_on_login_only_when_configured,
    wrong_password_unknown_user_and_inactive_user_get_the_same_401,
);
