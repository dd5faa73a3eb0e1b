//! Where DRF's parsers and jwtd's differed, found by sending both the same requests: media
//! type matching, multipart boundaries, JSON charsets, and Python's whitespace.

use axum::http::{Method, StatusCode};
use integration_tests::{Backend, Send, TestApp, TestResponse, backend_tests, json};

async fn post_raw(
    app: &TestApp,
    path: &str,
    content_type: &'static str,
    body: impl Into<Vec<u8>>,
) -> TestResponse {
    app.request(
        Method::POST,
        path,
        Send::Raw(Some(content_type), body.into()),
        &[],
    )
    .await
}

const LOGIN: &str = r#"{"username": "alice", "password": "wonderland"}"#;

async fn json_suffix_types_are_415_and_wildcards_read_as_json(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("alice", "wonderland").await;
    // DRF's JSON parser takes `application/json` only.
    post_raw(&app, "/token", "application/vnd.api+json", LOGIN)
        .await
        .assert(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            r#"{"detail":"Unsupported media type \"application/vnd.api+json\" in request."}"#,
        );
    // A wildcard matches the first parser that fits it: JSON, then form, then multipart.
    for content_type in ["*/*", "application/*", "*/json"] {
        post_raw(&app, "/token", content_type, LOGIN)
            .await
            .assert_ok();
    }
    post_raw(
        &app,
        "/token",
        "*/x-www-form-urlencoded",
        "username=alice&password=wonderland",
    )
    .await
    .assert_ok();
}

async fn multipart_without_a_boundary_is_drfs_parse_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = "--XyZ\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\nabc\r\n--XyZ--\r\n";
    post_raw(&app, "/token/verify", "multipart/form-data", body)
        .await
        .assert(
            StatusCode::BAD_REQUEST,
            r#"{"detail":"Multipart form parse error - Invalid boundary in multipart: None"}"#,
        );
    post_raw(
        &app,
        "/token/verify",
        "multipart/form-data; boundary=\" \"",
        body,
    )
    .await
    .assert(
        StatusCode::BAD_REQUEST,
        r#"{"detail":"Multipart form parse error - Invalid boundary in multipart:  "}"#,
    );
    // No body, no parser: every field is required, as for any empty body.
    post_raw(&app, "/token/verify", "multipart/form-data", "")
        .await
        .assert(
            StatusCode::BAD_REQUEST,
            r#"{"token":["This field is required."]}"#,
        );
    // A quoted boundary, and a wildcard subtype, read as DRF reads them.
    let (refresh, _) = app.alice().await;
    let body = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"refresh\"\r\n\r\n{refresh}\r\n--XyZ--\r\n"
    );
    post_raw(
        &app,
        "/token/refresh",
        "multipart/*; boundary=\"XyZ\"",
        body,
    )
    .await
    .assert_ok();
}

async fn json_is_decoded_in_its_charset(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("zoë", "wönderland").await;
    let latin1 = b"{\"username\": \"zo\xeb\", \"password\": \"w\xf6nderland\"}";
    for content_type in [
        "application/json; charset=latin-1",
        "application/json; Charset=ISO-8859-1",
        "application/json; charset=\"latin1\"",
    ] {
        post_raw(&app, "/token", content_type, latin1.as_slice())
            .await
            .assert_ok();
    }
    let utf16: Vec<u8> = "\u{feff}{\"username\": \"zoë\", \"password\": \"wönderland\"}"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    post_raw(&app, "/token", "application/json; charset=utf-16", utf16)
        .await
        .assert_ok();
    // A charset Python does not know is ignored: the body is read as UTF-8.
    post_raw(
        &app,
        "/token",
        "application/json; charset=klingon",
        r#"{"username": "zoë", "password": "wönderland"}"#,
    )
    .await
    .assert_ok();
    // Bytes that do not decode are DRF's JSON parse error, in Python's words.
    post_raw(&app, "/token", "application/json; charset=utf-8", latin1.as_slice())
        .await
        .assert(
            StatusCode::BAD_REQUEST,
            r#"{"detail":"JSON parse error - 'utf-8' codec can't decode byte 0xeb in position 16: invalid continuation byte"}"#,
        );
    post_raw(&app, "/token", "application/json; charset=us-ascii", latin1.as_slice())
        .await
        .assert(
            StatusCode::BAD_REQUEST,
            r#"{"detail":"JSON parse error - 'ascii' codec can't decode byte 0xeb in position 16: ordinal not in range(128)"}"#,
        );
}

async fn values_are_trimmed_of_what_python_calls_whitespace(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (refresh, access) = app.alice().await;
    // U+001C to U+001F are whitespace to Python's `str.strip()`, not to Rust's `trim`.
    app.post(
        "/token/verify",
        json!({ "token": format!("\n{access}\u{1f}") }),
    )
    .await
    .assert(StatusCode::OK, "{}");
    let form = format!("refresh=%0A{refresh}%1F%1C%C2%85");
    let rotated = post_raw(
        &app,
        "/token/refresh",
        "application/x-www-form-urlencoded",
        form,
    )
    .await
    .assert_ok();
    app.post(
        "/token",
        json!({ "username": "\u{1e}alice\u{1d}", "password": "\u{3000}wonderland\u{1c}" }),
    )
    .await
    .assert_ok();
    // Only at either end: inside a value, a separator is part of it.
    app.post(
        "/token/refresh",
        json!({ "refresh": format!("{}\u{1f}x", rotated.str("refresh")) }),
    )
    .await
    .assert_token_not_valid("Token is invalid");
}

async fn a_null_character_is_a_field_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("alice", "wonderland").await;
    app.post("/token", json!({ "username": "al\u{0}ice", "password": "wonder\u{0}" }))
        .await
        .assert(
            StatusCode::BAD_REQUEST,
            r#"{"username":["Null characters are not allowed."],"password":["Null characters are not allowed."]}"#,
        );
    post_raw(
        &app,
        "/token",
        "application/x-www-form-urlencoded",
        "username=alice%00&password=wonderland",
    )
    .await
    .assert(
        StatusCode::BAD_REQUEST,
        r#"{"username":["Null characters are not allowed."]}"#,
    );
}

backend_tests!(
    json_suffix_types_are_415_and_wildcards_read_as_json,
    multipart_without_a_boundary_is_drfs_parse_error,
    json_is_decoded_in_its_charset,
    values_are_trimmed_of_what_python_calls_whitespace,
    a_null_character_is_a_field_error,
);
