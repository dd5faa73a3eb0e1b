//! Cookie mode for browser apps: the refresh token in an `HttpOnly` cookie at Path `/token`,
//! the CSRF proof (allowed `Origin` and double-submit token) a cookie-authenticated request
//! needs, and CORS for the allowed origins.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use integration_tests::{
    Backend, PAGE_ORIGIN, Send, T0, TestApp, TestConfig, TestResponse, backend_tests, claims, json,
};

const DAY: i64 = 86_400;

/// The cookies a browser holds after a cookie-mode answer.
#[derive(Clone, Debug)]
struct Jar {
    refresh: String,
    csrf: String,
}

impl Jar {
    fn of(response: &TestResponse) -> Self {
        Self {
            refresh: response.cookie("refresh_token").expect("a refresh cookie"),
            csrf: response.cookie("csrftoken").expect("a csrftoken cookie"),
        }
    }

    fn header(&self) -> String {
        format!("refresh_token={}; csrftoken={}", self.refresh, self.csrf)
    }
}

/// What a request sends besides its cookies.
#[derive(Clone, Copy)]
struct Proof<'a> {
    origin: Option<&'a str>,
    csrf: Option<&'a str>,
}

impl<'a> Proof<'a> {
    fn of(jar: &'a Jar) -> Self {
        Self {
            origin: Some(PAGE_ORIGIN),
            csrf: Some(&jar.csrf),
        }
    }
}

/// POSTs `{}` to `path` with the jar's cookies, as the browser client does.
async fn post_cookie(app: &TestApp, path: &str, cookies: &str, proof: Proof<'_>) -> TestResponse {
    let mut headers = vec![("cookie", cookies)];
    if let Some(origin) = proof.origin {
        headers.push(("origin", origin));
    }
    if let Some(csrf) = proof.csrf {
        headers.push(("x-csrf-token", csrf));
    }
    app.request(Method::POST, path, Send::Json(json!({})), &headers)
        .await
}

async fn cookie_app(backend: Backend, configure: impl FnOnce(&mut TestConfig)) -> TestApp {
    TestApp::spawn_with(backend, |config| {
        config.cookie_mode();
        configure(config);
    })
    .await
}

/// Creates alice and logs her in from the page: the cookies the browser now holds.
async fn login(app: &TestApp) -> Jar {
    app.create_user("alice", "wonderland").await;
    let response = app
        .request(
            Method::POST,
            "/token",
            Send::Json(json!({ "username": "alice", "password": "wonderland" })),
            &[("origin", PAGE_ORIGIN)],
        )
        .await
        .assert_ok();
    Jar::of(&response)
}

fn rotations(app: &TestApp) -> impl std::future::Future<Output = i64> + '_ {
    app.count("SELECT COUNT(*) FROM outstanding_tokens")
}

async fn login_sets_the_refresh_cookie_and_answers_the_access_token_only(backend: Backend) {
    let app = cookie_app(backend, |_| {}).await;
    app.create_user("alice", "wonderland").await;
    let response = app.login("alice", "wonderland").await.assert_ok();
    let keys: Vec<&String> = response.json.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["access"], "{}", response.text);
    let jar = Jar::of(&response);
    assert_eq!(claims(&jar.refresh)["token_type"], "refresh");
    assert_eq!(claims(&jar.refresh)["exp"], T0 + DAY);
    assert_eq!(
        response.set_cookie("refresh_token").unwrap(),
        format!(
            "refresh_token={}; HttpOnly; SameSite=Strict; Secure; Path=/token; Max-Age={DAY}",
            jar.refresh
        )
    );
    assert_eq!(
        response.set_cookie("csrftoken").unwrap(),
        format!(
            "csrftoken={}; SameSite=Strict; Secure; Path=/; Max-Age={DAY}",
            jar.csrf
        )
    );
    assert_eq!(jar.csrf.len(), 64, "256 random bits in hex");
    assert_eq!(response.header("x-csrf-token"), Some(jar.csrf.clone()));
    let again = Jar::of(&app.login("alice", "wonderland").await);
    assert_ne!(
        again.csrf, jar.csrf,
        "each login hands over a new CSRF token"
    );
}

async fn the_cookie_refreshes_with_the_proof_and_keeps_the_csrf_token(backend: Backend) {
    let app = cookie_app(backend, |_| {}).await;
    let jar = login(&app).await;
    app.clock.advance(100);
    let response = post_cookie(&app, "/token/refresh", &jar.header(), Proof::of(&jar))
        .await
        .assert_ok();
    let keys: Vec<&String> = response.json.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["access"], "{}", response.text);
    let next = Jar::of(&response);
    assert_ne!(next.refresh, jar.refresh, "rotated");
    assert!(
        response
            .set_cookie("refresh_token")
            .unwrap()
            .ends_with(&format!("Max-Age={DAY}")),
        "a successor lives a full refresh lifetime"
    );
    assert_eq!(next.csrf, jar.csrf, "a proved refresh keeps the CSRF token");
    assert_eq!(response.header("x-csrf-token"), Some(jar.csrf.clone()));
    // The trailing-slash path, with the successor.
    post_cookie(&app, "/token/refresh/", &next.header(), Proof::of(&next))
        .await
        .assert_ok();
}

async fn without_rotation_the_cookie_keeps_the_token_for_its_remaining_life(backend: Backend) {
    let app = cookie_app(backend, |config| {
        config.tokens.rotate_refresh_tokens = false;
    })
    .await;
    let jar = login(&app).await;
    app.clock.advance(1000);
    let response = post_cookie(&app, "/token/refresh", &jar.header(), Proof::of(&jar))
        .await
        .assert_ok();
    assert_eq!(
        response.set_cookie("refresh_token").unwrap(),
        format!(
            "refresh_token={}; HttpOnly; SameSite=Strict; Secure; Path=/token; Max-Age={}",
            jar.refresh,
            DAY - 1000
        )
    );
    assert!(
        response
            .set_cookie("csrftoken")
            .unwrap()
            .ends_with(&format!("Max-Age={}", DAY - 1000))
    );
}

async fn a_cookie_request_without_its_proof_is_refused_and_consumes_nothing(backend: Backend) {
    let app = cookie_app(backend, |_| {}).await;
    let jar = login(&app).await;
    let only_refresh = format!("refresh_token={}", jar.refresh);
    let wrong_origin = "https://evil.example.test";
    let cases: [(&str, &str, Proof<'_>, &str); 7] = [
        (
            "no X-CSRF-Token",
            &jar.header(),
            Proof {
                origin: Some(PAGE_ORIGIN),
                csrf: None,
            },
            "CSRF token missing.",
        ),
        (
            "a wrong X-CSRF-Token",
            &jar.header(),
            Proof {
                origin: Some(PAGE_ORIGIN),
                csrf: Some("not-the-token"),
            },
            "CSRF token incorrect.",
        ),
        (
            "no csrftoken cookie",
            &only_refresh,
            Proof::of(&jar),
            "CSRF cookie not set.",
        ),
        (
            "the right token from a foreign origin",
            &jar.header(),
            Proof {
                origin: Some(wrong_origin),
                csrf: Some(&jar.csrf),
            },
            "Origin checking failed - the origin is not a trusted origin.",
        ),
        (
            "the right token from the page's origin with a path",
            &jar.header(),
            Proof {
                origin: Some("https://app.example.test/"),
                csrf: Some(&jar.csrf),
            },
            "Origin checking failed - the origin is not a trusted origin.",
        ),
        (
            "the right token without an Origin",
            &jar.header(),
            Proof {
                origin: None,
                csrf: Some(&jar.csrf),
            },
            "Origin checking failed - no Origin header.",
        ),
        (
            "nothing but the cookie",
            &jar.header(),
            Proof {
                origin: None,
                csrf: None,
            },
            "Origin checking failed - no Origin header.",
        ),
    ];
    let before = rotations(&app).await;
    for (what, cookies, proof, reason) in cases {
        for path in [
            "/token/refresh",
            "/token/logout",
            "/token/logout/all",
            "/logout",
            "/logout/all",
        ] {
            let response = post_cookie(&app, path, cookies, proof).await;
            response.assert(
                StatusCode::FORBIDDEN,
                &json!({ "detail": format!("CSRF Failed: {reason}") }).to_string(),
            );
            assert_eq!(
                response.header("x-jwtd-reason").as_deref(),
                Some("csrf_failed"),
                "{what} to {path}"
            );
            assert!(response.set_cookies().is_empty(), "{what} to {path}");
        }
    }
    assert_eq!(rotations(&app).await, before, "nothing rotated");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM blacklisted_tokens").await,
        0,
        "nothing blacklisted"
    );
    // The refresh token was not consumed: it still refreshes, once.
    post_cookie(&app, "/token/refresh", &jar.header(), Proof::of(&jar))
        .await
        .assert_ok();
}

async fn a_refresh_token_in_the_body_needs_no_proof(backend: Backend) {
    let app = cookie_app(backend, |_| {}).await;
    let jar = login(&app).await;
    // No Origin, no CSRF token, no cookie: the body carries the token, as in body mode.
    let response = app.refresh(&jar.refresh).await.assert_ok();
    let keys: Vec<&String> = response.json.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["access"], "{}", response.text);
    let next = Jar::of(&response);
    assert_ne!(
        next.csrf, jar.csrf,
        "a refresh the cookie did not prove gets a new token"
    );
    // Even with a refresh cookie beside it, the body's token is the one used.
    let body = json!({ "refresh": next.refresh });
    app.request(
        Method::POST,
        "/token/logout",
        Send::Json(body),
        &[("cookie", &jar.header())],
    )
    .await
    .assert(StatusCode::OK, "{}");
    app.refresh(&next.refresh)
        .await
        .assert_blacklisted("logout");
}

async fn with_the_body_kept_answers_are_those_of_body_mode_plus_cookies(backend: Backend) {
    let body_mode = TestApp::spawn(backend.clone()).await;
    let app = cookie_app(backend, |config| {
        if let Some(cookie) = config.http.refresh_cookie.as_mut() {
            cookie.in_body = true;
        }
    })
    .await;
    for app in [&body_mode, &app] {
        app.create_user("alice", "wonderland").await;
    }
    let plain = body_mode.login("alice", "wonderland").await.assert_ok();
    let both = app.login("alice", "wonderland").await.assert_ok();
    let keys: Vec<&String> = both.json.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["refresh", "access"]);
    assert_eq!(both.cookie("refresh_token"), Some(both.str("refresh")));
    assert!(plain.set_cookies().is_empty(), "body mode sets no cookie");
    assert_eq!(plain.header("x-csrf-token"), None);
    let refreshed = app.refresh(&both.str("refresh")).await.assert_ok();
    let keys: Vec<&String> = refreshed.json.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["access", "refresh"]);
    assert_eq!(
        refreshed.cookie("refresh_token"),
        Some(refreshed.str("refresh"))
    );
    let plain = body_mode.refresh(&plain.str("refresh")).await.assert_ok();
    let keys: Vec<&String> = plain.json.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["access", "refresh"]);
}

async fn without_cookie_mode_cookies_are_ignored(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.http.cors_allowed_origins =
            vec![api::cors::AllowedOrigin::parse(PAGE_ORIGIN).unwrap()];
    })
    .await;
    let (refresh, _) = app.alice().await;
    let jar = Jar {
        refresh: refresh.clone(),
        csrf: "token".to_owned(),
    };
    for path in ["/token/refresh", "/token/logout", "/logout"] {
        post_cookie(&app, path, &jar.header(), Proof::of(&jar))
            .await
            .assert(
                StatusCode::BAD_REQUEST,
                r#"{"refresh":["This field is required."]}"#,
            );
    }
    post_cookie(&app, "/token/logout/all", &jar.header(), Proof::of(&jar))
        .await
        .assert_401(r#"{"detail":"Authentication credentials were not provided."}"#);
    // The aliases work in body mode too, with and without the trailing slash.
    let second = app.refresh(&refresh).await.assert_ok().str("refresh");
    app.post("/token/logout/", json!({ "refresh": second }))
        .await
        .assert(StatusCode::OK, "{}");
    let third = app.login("alice", "wonderland").await.str("refresh");
    app.post("/token/logout/all/", json!({ "refresh": third }))
        .await
        .assert(StatusCode::OK, "{}");
}

async fn logout_ends_the_session_and_clears_the_cookies(backend: Backend) {
    let app = cookie_app(backend, |_| {}).await;
    let jar = login(&app).await;
    let response = post_cookie(&app, "/token/logout", &jar.header(), Proof::of(&jar)).await;
    response.assert(StatusCode::OK, "{}");
    assert_eq!(
        response.set_cookies(),
        [
            "refresh_token=; HttpOnly; SameSite=Strict; Secure; Path=/token; Max-Age=0",
            "csrftoken=; SameSite=Strict; Secure; Path=/; Max-Age=0",
        ]
    );
    post_cookie(&app, "/token/refresh", &jar.header(), Proof::of(&jar))
        .await
        .assert_blacklisted("logout");
}

async fn logout_all_ends_every_session_and_clears_the_cookies(backend: Backend) {
    let app = cookie_app(backend, |_| {}).await;
    let jar = login(&app).await;
    let other = Jar::of(&app.login("alice", "wonderland").await);
    let response = post_cookie(&app, "/token/logout/all/", &jar.header(), Proof::of(&jar)).await;
    response.assert(StatusCode::OK, "{}");
    assert_eq!(response.set_cookies().len(), 2);
    assert!(
        response
            .set_cookie("refresh_token")
            .unwrap()
            .ends_with("Path=/token; Max-Age=0")
    );
    for jar in [jar, other] {
        let refused = post_cookie(&app, "/token/refresh", &jar.header(), Proof::of(&jar)).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.text);
    }
}

async fn replaying_an_old_cookie_revokes_the_family(backend: Backend) {
    let app = cookie_app(backend, |config| {
        config.tokens.rotation_grace = Duration::ZERO;
    })
    .await;
    let old = login(&app).await;
    let current = Jar::of(
        &post_cookie(&app, "/token/refresh", &old.header(), Proof::of(&old))
            .await
            .assert_ok(),
    );
    post_cookie(&app, "/token/refresh", &old.header(), Proof::of(&old))
        .await
        .assert_blacklisted("reuse_detected");
    let newest = post_cookie(
        &app,
        "/token/refresh",
        &current.header(),
        Proof::of(&current),
    )
    .await;
    assert_eq!(newest.status, StatusCode::UNAUTHORIZED, "{}", newest.text);
}

/// A browser's preflight of `method` to `path` from `origin`, asking for `headers`.
async fn preflight(
    app: &TestApp,
    origin: &str,
    path: &str,
    method: &str,
    headers: &str,
) -> TestResponse {
    app.request(
        Method::OPTIONS,
        path,
        Send::Empty,
        &[
            ("origin", origin),
            ("access-control-request-method", method),
            ("access-control-request-headers", headers),
        ],
    )
    .await
}

async fn cors_answers_the_allowed_origin_only(backend: Backend) {
    let app = cookie_app(backend, |_| {}).await;
    for (path, method, headers) in [
        ("/token/refresh", "POST", "content-type,x-csrf-token"),
        ("/token/logout", "POST", "content-type,x-csrf-token"),
        ("/sessions/1", "DELETE", "authorization"),
        ("/me", "GET", "authorization"),
    ] {
        let allowed = preflight(&app, PAGE_ORIGIN, path, method, headers).await;
        assert!(allowed.status.is_success(), "{path}: {}", allowed.status);
        assert_eq!(
            allowed.header("access-control-allow-origin").as_deref(),
            Some(PAGE_ORIGIN)
        );
        assert_eq!(
            allowed
                .header("access-control-allow-credentials")
                .as_deref(),
            Some("true")
        );
        let allow_headers = allowed.header("access-control-allow-headers").unwrap();
        for header in headers.split(',') {
            assert!(allow_headers.contains(header), "{path}: {allow_headers}");
        }
        let allow_methods = allowed.header("access-control-allow-methods").unwrap();
        assert!(allow_methods.contains(method), "{path}: {allow_methods}");
        assert!(
            allowed.header("vary").unwrap().contains("origin"),
            "{path}: Vary"
        );
        let refused = preflight(&app, "https://evil.example.test", path, method, headers).await;
        assert_eq!(
            refused.header("access-control-allow-origin"),
            None,
            "{path}"
        );
    }
    let answer = app
        .request(
            Method::POST,
            "/token",
            Send::Json(json!({ "username": "nobody", "password": "x" })),
            &[("origin", PAGE_ORIGIN)],
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.header("access-control-allow-origin").as_deref(),
        Some(PAGE_ORIGIN)
    );
    let expose = answer.header("access-control-expose-headers").unwrap();
    assert!(
        expose.contains("x-csrf-token") && expose.contains("x-jwtd-reason"),
        "{expose}"
    );
}

async fn without_allowed_origins_no_cors_header_is_sent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let answer = app
        .request(
            Method::OPTIONS,
            "/token/refresh",
            Send::Empty,
            &[
                ("origin", PAGE_ORIGIN),
                ("access-control-request-method", "POST"),
            ],
        )
        .await;
    answer.assert(StatusCode::OK, "");
    assert_eq!(answer.header("allow").as_deref(), Some("POST, OPTIONS"));
    assert!(
        !answer
            .headers
            .keys()
            .any(|name| name.as_str().starts_with("access-control-")),
        "{:?}",
        answer.headers
    );
}

backend_tests!(
    login_sets_the_refresh_cookie_and_answers_the_access_token_only,
    the_cookie_refreshes_with_the_proof_and_keeps_the_csrf_token,
    without_rotation_the_cookie_keeps_the_token_for_its_remaining_life,
    a_cookie_request_without_its_proof_is_refused_and_consumes_nothing,
    a_refresh_token_in_the_body_needs_no_proof,
    with_the_body_kept_answers_are_those_of_body_mode_plus_cookies,
    without_cookie_mode_cookies_are_ignored,
    logout_ends_the_session_and_clears_the_cookies,
    logout_all_ends_every_session_and_clears_the_cookies,
    replaying_an_old_cookie_revokes_the_family,
    cors_answers_the_allowed_origin_only,
    without_allowed_origins_no_cors_header_is_sent,
);
