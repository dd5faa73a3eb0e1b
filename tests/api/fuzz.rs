//! Property tests of every body extractor and the `Authorization` header, through the real
//! router over SQLite: whatever a client sends (JSON, form, multipart or raw bytes, under any
//! of the media types jwtd knows and some it does not), the answer is never a 5xx, and its
//! body is simplejwt's or DRF's error shape. `make test` runs a few cases; `make fuzz` many
//! (`PROPTEST_CASES`). What these found is kept below as plain regression tests.

use axum::http::{Method, StatusCode};
use integration_tests::{Backend, Send, TestApp, TestResponse};
use proptest::prelude::*;
use serde_json::Value;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(32);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// One app (and runtime) for every case of a property: each case is one request.
struct Harness {
    runtime: tokio::runtime::Runtime,
    app: Option<TestApp>,
}

impl Harness {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let app = runtime.block_on(async {
            let app = TestApp::spawn(Backend::Sqlite).await;
            app.create_user("alice", "wonderland").await;
            app
        });
        Self {
            runtime,
            app: Some(app),
        }
    }

    fn send(
        &self,
        method: Method,
        path: &str,
        body: Send,
        headers: &[(&str, &str)],
    ) -> TestResponse {
        let app = self.app.as_ref().unwrap();
        self.runtime
            .block_on(app.request(method, path, body, headers))
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        // The app's pools and workers close on the runtime they started on.
        let app = self.app.take();
        self.runtime.block_on(async move { drop(app) });
    }
}

/// The answer is one jwtd gives on purpose, in one of simplejwt's or DRF's shapes.
fn assert_shaped(response: &TestResponse) {
    // 429: many cases log in with the same username, whose lockout then answers (DRF's
    // throttling shape), as it should.
    let allowed = [200, 400, 401, 403, 404, 405, 408, 413, 415, 429];
    assert!(
        allowed.contains(&response.status.as_u16()),
        "{}: {}",
        response.status,
        response.text
    );
    let Value::Object(body) = &response.json else {
        panic!("not a JSON object: {}", response.text);
    };
    if response.status == StatusCode::OK {
        assert!(body.values().all(Value::is_string), "{}", response.text);
    } else if let Some(detail) = body.get("detail") {
        assert!(detail.is_string(), "{}", response.text);
        assert!(
            body.keys()
                .all(|key| ["detail", "code", "messages"].contains(&key.as_str())),
            "{}",
            response.text
        );
    } else {
        assert!(!body.is_empty(), "{}", response.text);
        for messages in body.values() {
            let Value::Array(messages) = messages else {
                panic!("field errors are lists: {}", response.text);
            };
            assert!(
                !messages.is_empty() && messages.iter().all(Value::is_string),
                "{}",
                response.text
            );
        }
    }
}

static PATHS: [&str; 4] = ["/token", "/token/refresh", "/token/verify", "/logout"];

static CONTENT_TYPES: [Option<&str>; 12] = [
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    Some("application/json; charset=latin-1"),
    Some("application/json; charset=utf-16"),
    Some("application/json; charset=shift_jis"),
    Some("application/x-www-form-urlencoded"),
    Some("multipart/form-data; boundary=XyZ"),
    Some("multipart/form-data"),
    Some("*/*"),
    Some("application/vnd.api+json"),
    Some("text/plain"),
    None,
];

/// A field value of any JSON type, strings with whitespace and control characters.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,20}".prop_map(Value::from),
        "[ \t\n\u{1c}-\u{1f}\u{85}\u{a0}\u{0}a]{0,6}".prop_map(Value::from),
        Just(Value::from("alice")),
        Just(Value::from("wonderland")),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z]{1,3}", inner, 0..3)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// The wanted names, and a few others.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("username".to_owned()),
        Just("password".to_owned()),
        Just("refresh".to_owned()),
        Just("token".to_owned()),
        "[a-z]{1,4}",
    ]
}

/// A body: a JSON object of wanted fields, a form, a multipart body, or any bytes.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let fields = || proptest::collection::vec((field_name(), json_value()), 0..4);
    prop_oneof![
        fields().prop_map(|fields| {
            let object: serde_json::Map<String, Value> = fields.into_iter().collect();
            Value::Object(object).to_string().into_bytes()
        }),
        json_value().prop_map(|value| value.to_string().into_bytes()),
        fields().prop_map(|fields| {
            let mut form = form_urlencoded::Serializer::new(String::new());
            for (name, value) in fields {
                form.append_pair(&name, value.as_str().unwrap_or("%zz"));
            }
            form.finish().into_bytes()
        }),
        fields().prop_map(|fields| {
            let mut body = String::new();
            for (name, value) in fields {
                body.push_str(&format!(
                    "--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{}\r\n",
                    value.as_str().unwrap_or("x")
                ));
            }
            body.push_str("--XyZ--\r\n");
            body.into_bytes()
        }),
        proptest::collection::vec(any::<u8>(), 0..200),
    ]
}

#[test]
fn every_body_gets_a_shaped_answer_never_a_5xx() {
    let harness = Harness::new();
    proptest!(config(), |(
        path in proptest::sample::select(PATHS.as_slice()),
        content_type in proptest::sample::select(CONTENT_TYPES.as_slice()),
        body in body(),
    )| {
        let response = harness.send(Method::POST, path, Send::Raw(content_type, body), &[]);
        assert_shaped(&response);
    });
}

/// Header values as HTTP allows them: visible ASCII, space, tab, and bytes above 0x7f.
fn header_value() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("Bearer".to_owned()),
        Just("JWT".to_owned()),
        Just(" ".to_owned()),
        Just("\t".to_owned()),
        Just("eyJhbGciOiJIUzI1NiJ9.e30.".to_owned()),
        "[ -~]{1,8}",
    ];
    proptest::collection::vec(piece, 0..5).prop_map(|pieces| pieces.concat())
}

#[test]
fn every_authorization_header_gets_a_shaped_answer_never_a_5xx() {
    let harness = Harness::new();
    proptest!(config(), |(
        path in proptest::sample::select(&["/me", "/sessions", "/logout/all"][..]),
        value in header_value(),
    )| {
        let method = if path == "/logout/all" { Method::POST } else { Method::GET };
        let response = harness.send(method, path, Send::Empty, &[("authorization", &value)]);
        assert_shaped(&response);
    });
}
