//! Request bodies and routing as DRF answers them: JSON, form and multipart bodies, field
//! errors, trimming, malformed and non-object JSON, 415, 405 with `Allow`, trailing slashes
//! and 404.

use axum::http::{Method, StatusCode};
use integration_tests::{Backend, Send, TestApp, TestResponse, backend_tests, json};

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

fn multipart(fields: &[(&str, &str)]) -> (Option<&'static str>, Vec<u8>) {
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str("--XyZ--\r\n");
    (Some("multipart/form-data; boundary=XyZ"), body.into_bytes())
}

async fn post_raw(
    app: &TestApp,
    path: &str,
    content_type: Option<&'static str>,
    body: &[u8],
) -> TestResponse {
    app.request(
        Method::POST,
        path,
        Send::Raw(content_type, body.to_vec()),
        &[],
    )
    .await
}

#[track_caller]
fn assert_pair(response: &TestResponse) {
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    let keys: Vec<&String> = response.json.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["refresh", "access"]);
}

async fn every_endpoint_reads_json_form_and_multipart_bodies(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (refresh, access) = app.alice().await;
    assert_pair(&post_raw(&app, "/token", FORM, b"username=alice&password=wonderland").await);
    let (content_type, body) = multipart(&[("username", "alice"), ("password", "wonderland")]);
    assert_pair(&post_raw(&app, "/token", content_type, &body).await);

    let form = post_raw(
        &app,
        "/token/verify",
        FORM,
        format!("token={access}").as_bytes(),
    )
    .await;
    form.assert(StatusCode::OK, "{}");
    let (content_type, body) = multipart(&[("token", &access)]);
    post_raw(&app, "/token/verify", content_type, &body)
        .await
        .assert(StatusCode::OK, "{}");

    let (content_type, body) = multipart(&[("refresh", &refresh)]);
    let rotated = post_raw(&app, "/token/refresh", content_type, &body)
        .await
        .assert_ok();
    let body = format!("refresh={}", rotated.str("refresh"));
    post_raw(&app, "/logout", FORM, body.as_bytes())
        .await
        .assert(StatusCode::OK, "{}");
}

async fn fields_are_validated_as_drf_char_fields(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let required =
        r#"{"username":["This field is required."],"password":["This field is required."]}"#;
    app.post("/token", json!({}))
        .await
        .assert(StatusCode::BAD_REQUEST, required);
    app.post("/token", json!({ "password": "x" })).await.assert(
        StatusCode::BAD_REQUEST,
        r#"{"username":["This field is required."]}"#,
    );
    let cases = [
        (
            json!({ "username": "", "password": "  " }),
            r#"{"username":["This field may not be blank."],"password":["This field may not be blank."]}"#,
        ),
        (
            json!({ "username": null, "password": "x" }),
            r#"{"username":["This field may not be null."]}"#,
        ),
        (
            json!({ "username": ["alice"], "password": { "a": 1 } }),
            r#"{"username":["Not a valid string."],"password":["Not a valid string."]}"#,
        ),
        (
            json!({ "username": true, "password": "x" }),
            r#"{"username":["Not a valid string."]}"#,
        ),
    ];
    for (body, expected) in cases {
        app.post("/token", body)
            .await
            .assert(StatusCode::BAD_REQUEST, expected);
    }
    for (path, field) in [
        ("/token/refresh", "refresh"),
        ("/token/verify", "token"),
        ("/logout", "refresh"),
    ] {
        app.post(path, json!({})).await.assert(
            StatusCode::BAD_REQUEST,
            &format!(r#"{{"{field}":["This field is required."]}}"#),
        );
        app.post(path, json!({ field: " \t" })).await.assert(
            StatusCode::BAD_REQUEST,
            &format!(r#"{{"{field}":["This field may not be blank."]}}"#),
        );
    }
}

async fn fields_are_trimmed_and_numbers_read_as_strings(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (refresh, _) = app.alice().await;
    assert_pair(&app.login("  alice\t", " wonderland  ").await);
    app.create_user("1234", "5678").await;
    assert_pair(
        &app.post("/token", json!({ "username": 1234, "password": 5678 }))
            .await,
    );
    app.refresh(&format!("  {refresh}\n")).await.assert_ok();
}

async fn non_object_and_malformed_json_get_drfs_400s(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let json_body = Some("application/json");
    for (body, expected) in [
        ("null", r#"{"non_field_errors":["No data provided"]}"#),
        (
            r#""alice""#,
            r#"{"non_field_errors":["Invalid data. Expected a dictionary, but got str."]}"#,
        ),
        (
            "12",
            r#"{"non_field_errors":["Invalid data. Expected a dictionary, but got int."]}"#,
        ),
        (
            "1.5",
            r#"{"non_field_errors":["Invalid data. Expected a dictionary, but got float."]}"#,
        ),
        (
            "false",
            r#"{"non_field_errors":["Invalid data. Expected a dictionary, but got bool."]}"#,
        ),
        (
            "[]",
            r#"{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}"#,
        ),
    ] {
        post_raw(&app, "/token", json_body, body.as_bytes())
            .await
            .assert(StatusCode::BAD_REQUEST, expected);
    }
    let malformed = post_raw(&app, "/token", json_body, b"{\"username\": ").await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    let detail = malformed.json["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("JSON parse error - "),
        "{}",
        malformed.text
    );
    assert_eq!(
        malformed.json.as_object().unwrap().len(),
        1,
        "{}",
        malformed.text
    );
}

async fn only_the_wanted_fields_are_read_but_the_whole_body_must_be_json(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, access) = app.alice().await;
    let json_body = Some("application/json");
    // Other fields, of any type and with escapes, are checked as JSON and passed over; the
    // last of a repeated name wins, as with Python's json.loads.
    let body = format!(
        r#"{{"token": "not it", "other": [1, {{"x": null}}, "\u00e9", "é"], "n": 1e999, "token": "{access}"}}"#
    );
    post_raw(&app, "/token/verify", json_body, body.as_bytes())
        .await
        .assert(StatusCode::OK, "{}");
    let escaped = format!(r#"{{"token": "\u0020{access}\t"}}"#);
    post_raw(&app, "/token/verify", json_body, escaped.as_bytes())
        .await
        .assert(StatusCode::OK, "{}");
    // A byte that is not UTF-8 anywhere in the body refuses it whole, as DRF decodes the
    // body before parsing it.
    let mut body = format!(r#"{{"token": "{access}", "other": ""#).into_bytes();
    let position = body.len();
    body.extend_from_slice(b"\xff\"}");
    post_raw(&app, "/token/verify", json_body, &body).await.assert(
        StatusCode::BAD_REQUEST,
        &format!(
            r#"{{"detail":"JSON parse error - 'utf-8' codec can't decode byte 0xff in position {position}: invalid start byte"}}"#
        ),
    );
    // Trailing text after the object is malformed JSON.
    let trailing = format!(r#"{{"token": "{access}"}} {{}}"#);
    let refused = post_raw(&app, "/token/verify", json_body, trailing.as_bytes()).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    assert!(
        refused.json["detail"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error - "),
        "{}",
        refused.text
    );
}

async fn empty_and_unbalanced_bodies_read_as_no_fields(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let required = r#"{"token":["This field is required."]}"#;
    for content_type in [None, Some("application/json"), FORM, Some("text/plain")] {
        post_raw(&app, "/token/verify", content_type, b"")
            .await
            .assert(StatusCode::BAD_REQUEST, required);
    }
    let unbalanced = b"--XyZ\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\nabc";
    post_raw(
        &app,
        "/token/verify",
        Some("multipart/form-data; boundary=XyZ"),
        unbalanced,
    )
    .await
    .assert(StatusCode::BAD_REQUEST, required);
}

async fn an_unsupported_media_type_is_a_415_naming_it_as_sent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for content_type in ["text/plain", "application/xml; charset=UTF-8"] {
        post_raw(&app, "/token", Some(content_type), b"username=alice")
            .await
            .assert(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &json!({ "detail": format!("Unsupported media type \"{content_type}\" in request.") })
                    .to_string(),
            );
    }
}

async fn a_wrong_method_is_a_405_with_allow(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for path in ["/token", "/token/refresh/", "/token/verify", "/logout/"] {
        for method in [Method::GET, Method::PUT, Method::DELETE] {
            let response = app.request(method.clone(), path, Send::Empty, &[]).await;
            response.assert(
                StatusCode::METHOD_NOT_ALLOWED,
                &format!(r#"{{"detail":"Method \"{method}\" not allowed."}}"#),
            );
            assert_eq!(
                response.header("allow").as_deref(),
                Some("POST, OPTIONS"),
                "{method} {path}"
            );
        }
    }
}

async fn a_protected_endpoint_asks_for_credentials_before_the_method(backend: Backend) {
    // DRF authenticates before it dispatches on the method: without credentials any
    // method gets the 401; with them, a wrong method gets the 405.
    let app = TestApp::spawn(backend).await;
    let (_, access) = app.alice().await;
    app.request(Method::POST, "/me", Send::Empty, &[])
        .await
        .assert_401(r#"{"detail":"Authentication credentials were not provided."}"#);
    let bearer = format!("Bearer {access}");
    let response = app
        .request(
            Method::POST,
            "/me",
            Send::Empty,
            &[("authorization", &bearer)],
        )
        .await;
    response.assert(
        StatusCode::METHOD_NOT_ALLOWED,
        r#"{"detail":"Method \"POST\" not allowed."}"#,
    );
    assert!(
        response.header("allow").unwrap().starts_with("GET"),
        "{:?}",
        response.headers
    );
}

async fn paths_work_with_and_without_a_trailing_slash(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("alice", "wonderland").await;
    let pair = app
        .post(
            "/token/",
            json!({ "username": "alice", "password": "wonderland" }),
        )
        .await;
    assert_pair(&pair);
    let rotated = app
        .post("/token/refresh/", json!({ "refresh": pair.str("refresh") }))
        .await
        .assert_ok();
    let access = rotated.str("access");
    app.post("/token/verify/", json!({ "token": access }))
        .await
        .assert(StatusCode::OK, "{}");
    app.get_authed("/me/", &access)
        .await
        .assert(StatusCode::OK, r#"{"id":1,"username":"alice"}"#);
    app.post("/logout/", json!({ "refresh": rotated.str("refresh") }))
        .await
        .assert(StatusCode::OK, "{}");
    app.post(
        "/token/blacklist/",
        json!({ "refresh": rotated.str("refresh") }),
    )
    .await
    .assert_token_not_valid("Token is blacklisted");
}

async fn an_unknown_path_is_a_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for path in ["/nope", "/token/refresh/extra", "/api/token"] {
        app.post(path, json!({}))
            .await
            .assert(StatusCode::NOT_FOUND, r#"{"detail":"Not found."}"#);
    }
}

async fn options_on_a_token_endpoint_lists_the_allowed_methods(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .request(Method::OPTIONS, "/token/refresh", Send::Empty, &[])
        .await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.header("allow").as_deref(), Some("POST, OPTIONS"));
}

backend_tests!(
    every_endpoint_reads_json_form_and_multipart_bodies,
    fields_are_validated_as_drf_char_fields,
    fields_are_trimmed_and_numbers_read_as_strings,
    non_object_and_malformed_json_get_drfs_400s,
    only_the_wanted_fields_are_read_but_the_whole_body_must_be_json,
    empty_and_unbalanced_bodies_read_as_no_fields,
    an_unsupported_media_type_is_a_415_naming_it_as_sent,
    a_wrong_method_is_a_405_with_allow,
    a_protected_endpoint_asks_for_credentials_before_the_method,
    paths_work_with_and_without_a_trailing_slash,
    an_unknown_path_is_a_404,
    options_on_a_token_endpoint_lists_the_allowed_methods,
);
