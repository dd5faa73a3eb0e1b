//! Operational endpoints: `/healthz`, `/readyz`, `/metrics`, `/openapi.json`, JWKS.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use integration_tests::{Backend, Send, TestApp, backend_tests, json};
use tower::ServiceExt;

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
        "/revoke",
        "/introspect",
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
    assert_eq!(
        response.json["components"]["securitySchemes"]["introspection_client"]["scheme"],
        "basic"
    );
}

/// The value of the sample `line` (name and labels, as in the exposition) in `text`.
fn sample(text: &str, line: &str) -> Option<f64> {
    text.lines()
        .find_map(|got| got.strip_prefix(line)?.strip_prefix(' '))
        .map(|value| value.parse().unwrap())
}

async fn metrics_count_requests_by_route_template_tokens_and_pools(backend: Backend) {
    let app = TestApp::spawn(backend.clone()).await;
    let (refresh, access) = app.alice().await;
    let rotated = app.refresh(&refresh).await.assert_ok();
    assert_eq!(app.get_authed("/me", &access).await.status, StatusCode::OK);
    assert_eq!(
        app.logout(&rotated.str("refresh")).await.status,
        StatusCode::OK
    );
    let secret_path = "/sessions/not-a-real-session-id-42";
    assert_eq!(
        app.request(Method::DELETE, secret_path, Send::Empty, &[])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    for path in ["/no/such/path", "/another-unknown"] {
        assert_eq!(
            app.request(Method::GET, path, Send::Empty, &[])
                .await
                .status,
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(
        app.request(Method::PUT, "/token", Send::Empty, &[])
            .await
            .status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    let metrics = app.request(Method::GET, "/metrics", Send::Empty, &[]).await;
    let text = &metrics.text;
    for (line, value) in [
        (
            r#"jwtd_http_requests_total{method="POST",route="/token",status="200"}"#,
            1.0,
        ),
        (
            r#"jwtd_http_requests_total{method="POST",route="/token/refresh",status="200"}"#,
            1.0,
        ),
        (
            r#"jwtd_http_requests_total{method="GET",route="/me",status="200"}"#,
            1.0,
        ),
        (
            r#"jwtd_http_requests_total{method="POST",route="/logout",status="200"}"#,
            1.0,
        ),
        (
            r#"jwtd_http_requests_total{method="DELETE",route="/sessions/{id}",status="401"}"#,
            1.0,
        ),
        (
            r#"jwtd_http_requests_total{method="GET",route="unmatched",status="404"}"#,
            2.0,
        ),
        (
            r#"jwtd_http_requests_total{method="PUT",route="/token",status="405"}"#,
            1.0,
        ),
        (
            r#"jwtd_http_request_duration_seconds_count{route="/token"}"#,
            2.0,
        ),
        (
            r#"jwtd_http_request_duration_seconds_count{route="unmatched"}"#,
            2.0,
        ),
        (r#"jwtd_tokens_issued_total{type="access"}"#, 2.0),
        (r#"jwtd_tokens_issued_total{type="refresh"}"#, 2.0),
        (r#"jwtd_tokens_blacklisted_total{reason="rotation"}"#, 1.0),
        (r#"jwtd_tokens_blacklisted_total{reason="logout"}"#, 1.0),
        ("jwtd_rate_limited_total", 0.0),
        // The logged-out session.
        ("jwtd_revoked_sessions", 1.0),
    ] {
        assert_eq!(sample(text, line), Some(value), "{line} in\n{text}");
    }
    assert!(!text.contains("not-a-real-session-id"), "{text}");
    assert!(!text.contains("/no/such/path"), "{text}");
    assert!(
        text.contains(r#"jwtd_http_request_duration_seconds_bucket{route="/me",le="+Inf"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("# TYPE jwtd_store_batch_size histogram"),
        "{text}"
    );
    if matches!(backend, Backend::Sqlite) {
        // The rotation went through the SQLite writer (the histogram is the process's).
        let batches = sample(text, "jwtd_store_batch_size_count").unwrap();
        assert!(batches >= 1.0, "{text}");
    }
    // The pools, as the backend has them: SQLite's writer (one connection) and readers, or
    // the one pool of the others, which opened at least the connection that served us.
    let pools: &[(&str, Option<f64>)] = match backend {
        Backend::Sqlite => &[("write", Some(1.0)), ("read", None)],
        Backend::Postgres(_) | Backend::Mysql(_) => &[("main", None)],
    };
    for (pool, max) in pools {
        let open = sample(
            text,
            &format!(r#"jwtd_db_pool_connections{{pool="{pool}"}}"#),
        );
        let in_use = sample(
            text,
            &format!(r#"jwtd_db_pool_connections_in_use{{pool="{pool}"}}"#),
        );
        let most = sample(
            text,
            &format!(r#"jwtd_db_pool_max_connections{{pool="{pool}"}}"#),
        );
        let (open, in_use, most) = (open.unwrap(), in_use.unwrap(), most.unwrap());
        assert!(
            open >= 1.0 && in_use <= open && open <= most,
            "{pool} in\n{text}"
        );
        if let Some(max) = max {
            assert_eq!(most, *max, "{pool}");
        }
    }
}

async fn request_ids_are_kept_when_sane_and_made_otherwise(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let echoed = |response: &integration_tests::TestResponse| {
        response.header("x-request-id").expect("an X-Request-Id")
    };
    // Kept: the client's own id, on successes and on each kind of error.
    let bad_body = Send::Raw(Some("application/json"), b"{".to_vec());
    for (method, path, body) in [
        (Method::GET, "/healthz", Send::Empty),
        (Method::GET, "/nowhere", Send::Empty),
        (Method::PATCH, "/token/refresh", Send::Empty),
        (Method::GET, "/me", Send::Empty),
        (Method::POST, "/token", bad_body),
        (
            Method::POST,
            "/token",
            Send::Json(json!({"username": "x", "password": "y"})),
        ),
    ] {
        let response = app
            .request(
                method.clone(),
                path,
                body,
                &[("x-request-id", "edge-4f2a/7")],
            )
            .await;
        assert_eq!(
            echoed(&response),
            "edge-4f2a/7",
            "{method} {path}: {}",
            response.status
        );
    }
    // Made: when absent, and when too long, empty or holding spaces.
    let long = "a".repeat(129);
    let mut seen = std::collections::HashSet::new();
    for sent in [None, Some(long.as_str()), Some(""), Some("two words")] {
        let headers: Vec<(&str, &str)> = sent.map(|id| ("x-request-id", id)).into_iter().collect();
        let response = app
            .request(Method::GET, "/nowhere", Send::Empty, &headers)
            .await;
        assert_eq!(response.status, StatusCode::NOT_FOUND);
        let id = echoed(&response);
        assert_eq!(
            uuid::Uuid::parse_str(&id).unwrap().get_version_num(),
            4,
            "{id}"
        );
        assert!(seen.insert(id), "ids repeat");
    }
    let longest = "b".repeat(128);
    let response = app
        .request(
            Method::GET,
            "/healthz",
            Send::Empty,
            &[("x-request-id", &longest)],
        )
        .await;
    assert_eq!(echoed(&response), longest);
}

/// `GET path` through `router`: status and body.
async fn get(router: axum::Router, path: &str) -> (StatusCode, String) {
    let request = Request::get(path).body(Body::empty()).unwrap();
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn metrics_can_leave_the_public_router(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let public = api::router_with(app.state.clone(), api::RouterOptions { metrics: false });
    let (status, body) = get(public.clone(), "/metrics").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::NOT_FOUND, r#"{"detail":"Not found."}"#)
    );
    assert_eq!(get(public, "/healthz").await.0, StatusCode::OK);
    let private = api::metrics_router(app.state.clone());
    let (status, body) = get(private.clone(), "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("# TYPE jwtd_logins_total counter"), "{body}");
    assert_eq!(get(private, "/healthz").await.0, StatusCode::NOT_FOUND);
}

backend_tests!(
    health_and_readiness_answer,
    metrics_count_logins_refreshes_and_reuse,
    metrics_count_requests_by_route_template_tokens_and_pools,
    request_ids_are_kept_when_sane_and_made_otherwise,
    metrics_can_leave_the_public_router,
    the_openapi_document_lists_every_endpoint,
);
