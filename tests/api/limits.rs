//! What one request may cost, through the router: bodies over 16 KiB are 413 however they
//! are framed, over-long tokens and passwords are field errors before any work, a request
//! whose body stalls is 408, and answers that carry tokens are never cached.

use std::time::{Duration, Instant};

use axum::body::{Body, Bytes, HttpBody};
use axum::http::{Request, StatusCode, header};
use futures_util::StreamExt;
use http_body_util::BodyExt;
use integration_tests::{Backend, PAGE_ORIGIN, Send, TestApp, backend_tests, json};
use tower::ServiceExt;

const TOO_LARGE: &str = r#"{"detail":"Request body too large: the limit is 16384 bytes."}"#;

/// Sends `body` (with its `Content-Length` when it has one, none when it is a stream) and
/// returns status and text.
async fn send(app: &TestApp, path: &str, content_type: &str, body: Body) -> (StatusCode, String) {
    let mut request = Request::post(path).header(header::CONTENT_TYPE, content_type);
    if let Some(length) = body.size_hint().exact() {
        request = request.header(header::CONTENT_LENGTH, length);
    }
    let request = request.body(body).unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// `total` bytes of a JSON object (`{"pad": "xxx…"}`), in chunks of at most 1 KiB and with no
/// declared length, as a chunked request would come.
fn chunked_json(total: usize) -> Body {
    let mut text = String::from(r#"{"pad": ""#);
    text.push_str(&"x".repeat(total - text.len() - 2));
    text.push_str("\"}");
    let chunks: Vec<Result<Bytes, std::io::Error>> = text
        .into_bytes()
        .chunks(1024)
        .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
        .collect();
    Body::from_stream(futures_util::stream::iter(chunks))
}

async fn bodies_over_16_kib_are_413_whatever_their_framing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (refresh, _) = app.alice().await;
    let too_large = (StatusCode::PAYLOAD_TOO_LARGE, TOO_LARGE.to_owned());
    // Declared: refused before a byte of it is read.
    let padded = |total: usize| {
        let mut body = format!(r#"{{"refresh": "{refresh}", "pad": ""#);
        body.push_str(&"x".repeat(total - body.len() - 2));
        body.push_str("\"}");
        Body::from(body)
    };
    for content_type in ["application/json", "application/x-www-form-urlencoded"] {
        let over = padded(16 * 1024 + 1);
        assert_eq!(
            send(&app, "/token/refresh", content_type, over).await,
            too_large
        );
    }
    let multipart = format!(
        "--b\r\nContent-Disposition: form-data; name=\"pad\"\r\n\r\n{}\r\n--b--\r\n",
        "x".repeat(17 * 1024)
    );
    let multipart_type = "multipart/form-data; boundary=b";
    assert_eq!(
        send(&app, "/token", multipart_type, Body::from(multipart)).await,
        too_large
    );
    // Streamed with no length: refused once the limit is passed.
    let json = "application/json";
    assert_eq!(
        send(&app, "/token/verify", json, chunked_json(20 * 1024)).await,
        too_large
    );
    // At the limit exactly, the body is read and its fields checked.
    let required = r#"{"token":["This field is required."]}"#.to_owned();
    let at_limit = send(&app, "/token/verify", json, chunked_json(16 * 1024)).await;
    assert_eq!(at_limit, (StatusCode::BAD_REQUEST, required));
    let (status, text) = send(&app, "/token/refresh", json, padded(16 * 1024)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
}

async fn long_tokens_and_passwords_are_field_errors_before_any_work(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("alice", "wonderland").await;
    let long_password = "p".repeat(4097);
    app.login("alice", &long_password).await.assert(
        StatusCode::BAD_REQUEST,
        r#"{"password":["Ensure this field has no more than 4096 characters."]}"#,
    );
    // Counted in characters after trimming, as DRF counts: 4096 two-byte characters are
    // within the limit, and so is the longest password with spaces around it.
    for password in ["é".repeat(4096), format!("  {}  ", "p".repeat(4096))] {
        app.login("alice", &password)
            .await
            .assert_401(r#"{"detail":"No active account found with the given credentials"}"#);
    }
    // Every field's errors at once, in DRF's order; no login was attempted, so none failed.
    app.post("/token", json!({ "password": long_password })).await.assert(
        StatusCode::BAD_REQUEST,
        r#"{"username":["This field is required."],"password":["Ensure this field has no more than 4096 characters."]}"#,
    );
    let metrics = app
        .request(axum::http::Method::GET, "/metrics", Send::Empty, &[])
        .await;
    assert!(
        metrics
            .text
            .contains("jwtd_logins_total{outcome=\"failed\"} 2\n"),
        "{}",
        metrics.text
    );
    let long_token = "t".repeat(8193);
    for (path, field) in [
        ("/token/refresh", "refresh"),
        ("/token/verify", "token"),
        ("/logout", "refresh"),
    ] {
        app.post(path, json!({ field: long_token })).await.assert(
            StatusCode::BAD_REQUEST,
            &format!(r#"{{"{field}":["Ensure this field has no more than 8192 characters."]}}"#),
        );
    }
    // Within the limit, a token is a token: refused for what it is.
    app.verify(&"t".repeat(8192))
        .await
        .assert_token_not_valid("Token is invalid");
}

async fn a_request_whose_body_stalls_is_answered_408(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.http.request_timeout = Some(Duration::from_millis(300));
    })
    .await;
    let first: Result<Bytes, std::io::Error> = Ok(Bytes::from_static(b"{\"token\": \"abc"));
    let stalled = futures_util::stream::iter([first]).chain(futures_util::stream::pending());
    let started = Instant::now();
    let (status, text) = send(
        &app,
        "/token/verify",
        "application/json",
        Body::from_stream(stalled),
    )
    .await;
    assert_eq!(
        (status, text.as_str()),
        (
            StatusCode::REQUEST_TIMEOUT,
            r#"{"detail":"Request timed out."}"#
        )
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // A request in time is answered as usual.
    app.verify("abc")
        .await
        .assert_token_not_valid("Token is invalid");
}

#[track_caller]
fn assert_not_stored(response: &integration_tests::TestResponse) {
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    assert_eq!(
        response.header("cache-control").as_deref(),
        Some("no-store")
    );
    assert_eq!(response.header("pragma").as_deref(), Some("no-cache"));
}

async fn answers_that_carry_tokens_are_never_cached(backend: Backend) {
    let app = TestApp::spawn(backend.clone()).await;
    app.create_user("alice", "wonderland").await;
    let pair = app.login("alice", "wonderland").await;
    assert_not_stored(&pair);
    let rotated = app.refresh(&pair.str("refresh")).await;
    assert_not_stored(&rotated);

    // Rotation off: the refresh answer carries a fresh access token all the same.
    let app = TestApp::spawn_with(backend.clone(), |config| {
        config.tokens.rotate_refresh_tokens = false;
    })
    .await;
    app.create_user("alice", "wonderland").await;
    let pair = app.login("alice", "wonderland").await;
    assert_not_stored(&app.refresh(&pair.str("refresh")).await);

    // Cookie mode: the tokens travel in a cookie and the body.
    let app = TestApp::spawn_with(backend, |config| config.cookie_mode()).await;
    app.create_user("alice", "wonderland").await;
    let login = app
        .request(
            axum::http::Method::POST,
            "/token",
            Send::Json(json!({ "username": "alice", "password": "wonderland" })),
            &[("origin", PAGE_ORIGIN)],
        )
        .await;
    assert_not_stored(&login);
}

backend_tests!(
    bodies_over_16_kib_are_413_whatever_their_framing,
    long_tokens_and_passwords_are_field_errors_before_any_work,
    a_request_whose_body_stalls_is_answered_408,
    answers_that_carry_tokens_are_never_cached,
);
