//! Rotation on and off, blacklist-after-rotation on and off, the grace window, and the
//! atomicity of rotation under 50 concurrent refreshes of one token.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use integration_tests::{Backend, TestApp, backend_tests, json};
use tower::ServiceExt;

const OUTSTANDING: &str = "SELECT COUNT(*) FROM outstanding_tokens";
const BLACKLISTED: &str = "SELECT COUNT(*) FROM blacklisted_tokens";

async fn zero_grace(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |config| {
        config.tokens.rotation_grace = Duration::ZERO;
    })
    .await
}

/// Presents `rotated` again and asserts reuse detection: a 401 "Token is blacklisted" that
/// says `reuse_detected`, and `successor` refused from then on.
async fn assert_reuse_revokes_the_family(app: &TestApp, rotated: &str, successor: &str) {
    let reuse = app.refresh(rotated).await;
    reuse.assert_token_not_valid("Token is blacklisted");
    assert_eq!(
        reuse.header("x-jwtd-reason").as_deref(),
        Some("reuse_detected")
    );
    app.refresh(successor)
        .await
        .assert_token_not_valid("Token is blacklisted");
}

async fn with_rotation_off_the_same_refresh_token_serves_again_and_again(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.tokens.rotate_refresh_tokens = false;
    })
    .await;
    let (refresh, _) = app.alice().await;
    for _ in 0..3 {
        app.clock.advance(60);
        let response = app.refresh(&refresh).await.assert_ok();
        let keys: Vec<&String> = response.json.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["access"]);
    }
    assert_eq!(
        app.count(OUTSTANDING).await,
        1,
        "no writes without rotation"
    );
    assert_eq!(app.count(BLACKLISTED).await, 0);
    app.logout(&refresh)
        .await
        .assert(axum::http::StatusCode::OK, "{}");
    app.refresh(&refresh)
        .await
        .assert_token_not_valid("Token is blacklisted");
}

async fn rotation_blacklists_the_presented_token(backend: Backend) {
    let app = zero_grace(backend).await;
    let (first, _) = app.alice().await;
    let second = app.refresh(&first).await.str("refresh");
    assert_eq!(app.count(OUTSTANDING).await, 2);
    assert_eq!(
        app.text("SELECT reason FROM blacklisted_tokens").await,
        "rotated"
    );
    app.refresh(&second).await.assert_ok();
    assert_eq!(app.count(BLACKLISTED).await, 2);
}

async fn without_blacklist_after_rotation_an_old_token_forks_new_ones(backend: Backend) {
    // simplejwt's ROTATE_REFRESH_TOKENS without BLACKLIST_AFTER_ROTATION.
    let app = TestApp::spawn_with(backend, |config| {
        config.tokens.blacklist_after_rotation = false;
        config.tokens.rotation_grace = Duration::ZERO;
    })
    .await;
    let (first, _) = app.alice().await;
    let mut successors = Vec::new();
    for _ in 0..3 {
        app.clock.advance(1);
        let response = app.refresh(&first).await.assert_ok();
        successors.push(response.str("refresh"));
    }
    successors.sort();
    successors.dedup();
    assert_eq!(successors.len(), 3, "each use mints a distinct successor");
    assert_eq!(app.count(OUTSTANDING).await, 4);
    assert_eq!(app.count(BLACKLISTED).await, 0);
    for successor in &successors {
        app.refresh(successor).await.assert_ok();
    }
}

async fn inside_the_grace_window_a_replay_gets_the_same_successor(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (first, _) = app.alice().await;
    let second = app.refresh(&first).await.str("refresh");
    app.clock.advance(9);
    let replay = app.refresh(&first).await.assert_ok();
    assert_eq!(replay.str("refresh"), second);
    assert_eq!(app.count(OUTSTANDING).await, 2);
}

async fn a_replay_after_the_grace_window_revokes_the_family(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (first, _) = app.alice().await;
    let second = app.refresh(&first).await.str("refresh");
    app.clock.advance(10);
    assert_reuse_revokes_the_family(&app, &first, &second).await;
}

async fn with_zero_grace_a_second_use_is_reuse_and_revokes_the_family(backend: Backend) {
    let app = zero_grace(backend).await;
    let (first, _) = app.alice().await;
    let second = app.refresh(&first).await.str("refresh");
    assert_reuse_revokes_the_family(&app, &first, &second).await;
    app.logout(&second)
        .await
        .assert_token_not_valid("Token is blacklisted");
}

/// Sends `count` refreshes of `token` at once, each a task of its own, and returns
/// `(status, body, refresh token if any)` of each.
async fn concurrent_refreshes(
    app: &TestApp,
    token: &str,
    count: usize,
) -> Vec<(StatusCode, String, Option<String>)> {
    let body = json!({ "refresh": token }).to_string();
    let tasks: Vec<_> = (0..count)
        .map(|_| {
            let request = Request::post("/token/refresh")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.clone()))
                .unwrap();
            let router = app.router.clone();
            tokio::spawn(async move {
                let response = router.oneshot(request).await.unwrap();
                let status = response.status();
                let has_auth_header = response.headers().contains_key(header::WWW_AUTHENTICATE);
                let bytes = response.into_body().collect().await.unwrap().to_bytes();
                let text = String::from_utf8(bytes.to_vec()).unwrap();
                assert_eq!(
                    has_auth_header,
                    status == StatusCode::UNAUTHORIZED,
                    "{status} {text}"
                );
                let json: serde_json::Value = serde_json::from_str(&text).unwrap();
                let refresh = json["refresh"].as_str().map(str::to_owned);
                (status, text, refresh)
            })
        })
        .collect();
    let mut results = Vec::with_capacity(count);
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

async fn with_zero_grace_exactly_one_of_fifty_concurrent_refreshes_wins(backend: Backend) {
    let app = zero_grace(backend).await;
    let (refresh, _) = app.alice().await;
    let results = concurrent_refreshes(&app, &refresh, 50).await;
    let winners = results
        .iter()
        .filter(|(status, _, _)| *status == StatusCode::OK)
        .count();
    let blacklisted = results
        .iter()
        .filter(|(status, text, _)| {
            *status == StatusCode::UNAUTHORIZED
                && text == r#"{"detail":"Token is blacklisted","code":"token_not_valid"}"#
        })
        .count();
    assert_eq!((winners, blacklisted), (1, 49), "{results:#?}");
    assert_eq!(
        app.count(OUTSTANDING).await,
        2,
        "exactly one successor minted"
    );
}

async fn inside_the_grace_window_fifty_concurrent_refreshes_share_one_successor(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (refresh, _) = app.alice().await;
    let results = concurrent_refreshes(&app, &refresh, 50).await;
    let mut successors: Vec<_> = results
        .iter()
        .map(|(status, text, successor)| {
            assert_eq!(*status, StatusCode::OK, "{text}");
            successor.clone().unwrap()
        })
        .collect();
    successors.sort();
    successors.dedup();
    assert_eq!(successors.len(), 1, "one successor for all");
    assert_eq!(app.count(OUTSTANDING).await, 2);
    app.refresh(&successors[0]).await.assert_ok();
}

backend_tests!(
    with_rotation_off_the_same_refresh_token_serves_again_and_again,
    rotation_blacklists_the_presented_token,
    without_blacklist_after_rotation_an_old_token_forks_new_ones,
    inside_the_grace_window_a_replay_gets_the_same_successor,
    a_replay_after_the_grace_window_revokes_the_family,
    with_zero_grace_a_second_use_is_reuse_and_revokes_the_family,
    with_zero_grace_exactly_one_of_fifty_concurrent_refreshes_wins,
    inside_the_grace_window_fifty_concurrent_refreshes_share_one_successor,
);
