//! Operational endpoints: `/healthz`, `/readyz`, `/metrics`, `/openapi.json`, JWKS.

use axum::http::{Method, StatusCode};
use integration_tests::{Backend, Send, TestApp, backend_tests};

async fn health_and_readiness_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let health = app.request(Method::GET, "/healthz", Send::Empty, &[]).await;
    assert_eq!(
        (health.status, health.text.as_str()),
        (StatusCode::OK, r#"{"status":"ok"}"#)
    );
    let ready = app.request(Method::GET, "/readyz/", Send::Empty, &[]).await;
    assert_eq!(
        (ready.status, ready.text.as_str()),
        (StatusCode::OK, r#"{"status":"ready"}"#)
    );
    let jwks = app
        .request(Method::GET, "/.well-known/jwks.json", Send::Empty, &[])
        .await;
    assert_eq!(
        (jwks.status, jwks.text.as_str()),
        (StatusCode::OK, r#"{"keys":[]}"#)
    );
}

async fn metrics_count_logins_refreshes_and_reuse(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.tokens.rotation_grace = std::time::Duration::ZERO;
    })
    .await;
    let (refresh, _) = app.alice().await;
    assert_eq!(
        app.login("alice", "wrong").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.refresh(&refresh).await.status, StatusCode::OK);
    assert_eq!(app.refresh(&refresh).await.status, StatusCode::UNAUTHORIZED);
    let metrics = app.request(Method::GET, "/metrics", Send::Empty, &[]).await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert_eq!(
        metrics.header("content-type").as_deref(),
        Some("text/plain; version=0.0.4")
    );
    for line in [
        "jwtd_logins_total{outcome=\"succeeded\"} 1",
        "jwtd_logins_total{outcome=\"failed\"} 1",
        "jwtd_refreshes_total{outcome=\"rotated\"} 1",
        "jwtd_refreshes_total{outcome=\"refused\"} 1",
        "jwtd_reuse_detected_total 1",
    ] {
        assert!(
            metrics.text.lines().any(|got| got == line),
            "missing {line:?} in\n{}",
            metrics.text
        );
    }
}

async fn the_openapi_document_lists_every_endpoint(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .request(Method::GET, "/openapi.json", Send::Empty, &[])
        .await;
    assert_eq!(response.status, StatusCode::OK);
    let paths: Vec<&String> = response.json["paths"].as_object().unwrap().keys().collect();
    for path in [
        "/token",
        "/token/refresh",
        "/token/verify",
        "/logout",
        "/logout/all",
        "/token/logout",
        "/token/logout/all",
        "/me",
        "/sessions",
        "/sessions/{id}",
        "/healthz",
        "/readyz",
        "/metrics",
        "/.well-known/jwks.json",
    ] {
        assert!(
            paths.iter().any(|got| *got == path),
            "{path} missing from {paths:?}"
        );
    }
    assert_eq!(
        response.json["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

backend_tests!(
    health_and_readiness_answer,
    metrics_count_logins_refreshes_and_reuse,
    the_openapi_document_lists_every_endpoint,
);
