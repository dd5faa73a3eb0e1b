//! Issue 15, "Abuse": login lockout per username and rate limit per client address (counts
//! in the database, or Redis when `JWTD_TEST_REDIS_URL` is set), per-address limits of
//! `/token/refresh` and `/token/verify`, and the client address behind trusted proxies.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use api::clock::Clock;
use api::throttle::{Limit, ThrottleSettings};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use integration_tests::{Backend, Send, TestApp, TestResponse, backend_tests, json, unique_name};
use tower::ServiceExt;

/// A client address for requests made "over a socket".
fn peer(text: &str) -> Option<SocketAddr> {
    Some(SocketAddr::new(text.parse().unwrap(), 40_000))
}

async fn login_from(
    app: &TestApp,
    from: Option<SocketAddr>,
    username: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> TestResponse {
    let body = json!({ "username": username, "password": password });
    app.request_from(from, Method::POST, "/token", Send::Json(body), headers)
        .await
}

/// Asserts DRF's throttled answer: 429, `Retry-After: wait`, the exact body.
#[track_caller]
fn assert_throttled(response: &TestResponse, wait: u64) {
    let unit = if wait == 1 { "second" } else { "seconds" };
    response.assert(
        StatusCode::TOO_MANY_REQUESTS,
        &json!({ "detail": format!("Request was throttled. Expected available in {wait} {unit}.") })
            .to_string(),
    );
    assert_eq!(response.header("retry-after"), Some(wait.to_string()));
}

fn redis_client() -> Option<redis::Client> {
    std::env::var("JWTD_TEST_REDIS_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .map(|url| redis::Client::open(url).unwrap())
}

/// An app whose login limits are the defaults (5 failures per username per 15 minutes, 30
/// attempts per address per minute), counting in Redis when `redis`.
async fn spawn(backend: Backend, redis: Option<redis::Client>) -> TestApp {
    TestApp::spawn_with(backend, |config| {
        config.http.throttle = ThrottleSettings {
            redis,
            ..ThrottleSettings::default()
        };
    })
    .await
}

/// `times` failed logins of `name`, each answered 401.
async fn fail_logins(app: &TestApp, name: &str, times: usize) {
    for _ in 0..times {
        let failed = login_from(app, None, name, "guess", &[]).await;
        assert_eq!(failed.status, StatusCode::UNAUTHORIZED, "{}", failed.text);
    }
}

/// Five failures lock the username for the rest of the 15 minutes: the sixth attempt is
/// refused even with the right password; when the window is over it logs in again.
async fn lockout(app: &TestApp) {
    let name = unique_name("user");
    app.create_user(&name, "correct horse").await;
    for _ in 0..5 {
        login_from(app, None, &name, "guess", &[])
            .await
            .assert_401(r#"{"detail":"No active account found with the given credentials"}"#);
    }
    assert_throttled(
        &login_from(app, None, &name, "correct horse", &[]).await,
        900,
    );
    app.clock.advance(600);
    assert_throttled(
        &login_from(app, None, &name, "correct horse", &[]).await,
        300,
    );
    app.clock.advance(300);
    login_from(app, None, &name, "correct horse", &[])
        .await
        .assert_ok();

    // A success starts the count again: four failures, a success, five more failures
    // before the lock.
    let other = unique_name("user");
    app.create_user(&other, "correct horse").await;
    fail_logins(app, &other, 4).await;
    login_from(app, None, &other, "correct horse", &[])
        .await
        .assert_ok();
    fail_logins(app, &other, 5).await;
    assert_throttled(&login_from(app, None, &other, "guess", &[]).await, 900);
    // An unknown username is counted like a known one: the lock tells nothing.
    let nobody = unique_name("nobody");
    fail_logins(app, &nobody, 5).await;
    assert_throttled(&login_from(app, None, &nobody, "guess", &[]).await, 900);
}

async fn a_username_is_locked_after_five_failures_even_for_the_right_password(backend: Backend) {
    let app = spawn(backend, None).await;
    lockout(&app).await;
    let metrics = app.request(Method::GET, "/metrics", Send::Empty, &[]).await;
    assert!(
        metrics.text.contains("jwtd_rate_limited_total 4"),
        "{}",
        metrics.text
    );
}

async fn the_lockout_counts_in_redis_when_it_is_configured(backend: Backend) {
    let Some(redis) = redis_client() else {
        eprintln!("SKIPPED: JWTD_TEST_REDIS_URL is not set");
        return;
    };
    let app = spawn(backend, Some(redis)).await;
    // The windows of Redis keys run on Redis's clock, not the test's: only the lock itself.
    let name = unique_name("user");
    app.create_user(&name, "correct horse").await;
    fail_logins(&app, &name, 5).await;
    let locked = login_from(&app, None, &name, "correct horse", &[]).await;
    assert_eq!(
        locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        locked.text
    );
    let wait: u64 = locked.header("retry-after").unwrap().parse().unwrap();
    assert!((890..=900).contains(&wait), "{wait}");
    assert_eq!(app.count("SELECT COUNT(*) FROM login_attempts").await, 0);
    // Another instance sharing the Redis sees the same lock.
    let second = another_instance(&app).await;
    let body = json!({ "username": name, "password": "correct horse" });
    assert_eq!(
        post_json(&second, "/token", &body).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// Counts live in the database: a second instance over the same database (or this one
/// after a restart) refuses the locked username too.
async fn the_lockout_holds_across_instances_and_restarts(backend: Backend) {
    let app = spawn(backend, None).await;
    let name = unique_name("user");
    app.create_user(&name, "correct horse").await;
    fail_logins(&app, &name, 5).await;
    let second = another_instance(&app).await;
    let body = json!({ "username": name, "password": "correct horse" });
    assert_eq!(
        post_json(&second, "/token", &body).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM login_attempts").await, 1);
    // The flush deletes counts whose window has ended.
    app.clock.advance(900);
    app.state
        .store
        .flush_expired(app.clock.now(), 0, 100)
        .await
        .unwrap();
    assert_eq!(app.count("SELECT COUNT(*) FROM login_attempts").await, 0);
}

/// 30 login attempts per address per minute (here 3, to keep the test short), whatever
/// the usernames; other addresses are not affected.
async fn an_address_is_limited_across_usernames(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.http.throttle.login_address = Limit::new(3, Duration::from_secs(60));
    })
    .await;
    let attacker = peer("203.0.113.50");
    for attempt in 0..3 {
        let name = format!("victim{attempt}");
        assert_eq!(
            login_from(&app, attacker, &name, "guess", &[]).await.status,
            401
        );
    }
    assert_throttled(
        &login_from(&app, attacker, "victim9", "guess", &[]).await,
        60,
    );
    assert_eq!(
        login_from(&app, peer("198.51.100.1"), "victim9", "guess", &[])
            .await
            .status,
        401
    );
    app.clock.advance(60);
    assert_eq!(
        login_from(&app, attacker, "victim9", "guess", &[])
            .await
            .status,
        401
    );
}

/// `/token/refresh` and `/token/verify` per address (here 3 a minute): a stolen token
/// cannot be probed at wire speed; other addresses go on.
async fn refresh_and_verify_are_limited_per_address(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.http.throttle.refresh_per_minute = 3;
        config.http.throttle.verify_per_minute = 3;
    })
    .await;
    let prober = peer("203.0.113.60");
    for (path, field) in [("/token/refresh", "refresh"), ("/token/verify", "token")] {
        let body = || Send::Json(json!({ field: "not.a.token" }));
        for _ in 0..3 {
            let answer = app
                .request_from(prober, Method::POST, path, body(), &[])
                .await;
            assert_eq!(
                answer.status,
                StatusCode::UNAUTHORIZED,
                "{path}: {}",
                answer.text
            );
        }
        let refused = app
            .request_from(prober, Method::POST, path, body(), &[])
            .await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{path}");
        let wait: u64 = refused.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=20).contains(&wait), "{path}: {wait}");
        assert!(
            refused
                .str("detail")
                .starts_with("Request was throttled. Expected available in "),
            "{}",
            refused.text
        );
        let other = app
            .request_from(peer("198.51.100.2"), Method::POST, path, body(), &[])
            .await;
        assert_eq!(other.status, StatusCode::UNAUTHORIZED, "{path}");
    }
}

/// Behind a trusted proxy the client is the right-most `X-Forwarded-For` entry that is not
/// a trusted proxy; from anyone else the header is ignored, so a client cannot pick a fresh
/// address per request to escape its limit.
async fn the_client_address_is_read_only_from_trusted_proxies(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.http.trusted_proxies =
            api::client_address::parse_trusted(&["10.0.0.0/8".to_owned()]).unwrap();
        config.http.throttle.login_address = Limit::new(2, Duration::from_secs(60));
    })
    .await;
    app.create_user("alice", "wonderland").await;
    let proxy = peer("10.0.0.2");
    let forwarded = [("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.9.9.9")];
    let session = login_from(&app, proxy, "alice", "wonderland", &forwarded)
        .await
        .assert_ok();
    let sessions = app.get_authed("/sessions", &session.str("access")).await;
    assert_eq!(sessions.json[0]["ip"], "198.51.100.7", "{}", sessions.text);

    // A client that writes the header itself keeps its socket address, and its limit.
    let direct = peer("203.0.113.70");
    for fake in ["1.1.1.1", "2.2.2.2"] {
        let header = [("x-forwarded-for", fake)];
        assert_eq!(
            login_from(&app, direct, "alice", "guess", &header)
                .await
                .status,
            401
        );
    }
    let header = [("x-forwarded-for", "3.3.3.3")];
    assert_throttled(
        &login_from(&app, direct, "alice", "guess", &header).await,
        60,
    );
    let ips = app
        .text("SELECT MIN(ip) FROM auth_events WHERE kind = 'login_failed'")
        .await;
    assert_eq!(ips, "203.0.113.70");
}

/// A second jwtd instance over the same database as `app` (and the same settings).
async fn another_instance(app: &TestApp) -> axum::Router {
    let db = api::db::connect(&app.db.options).await.unwrap();
    let state = api::assemble(api::Parts {
        db,
        codec: Arc::clone(&app.codec),
        passwords: app.state.passwords.clone(),
        http: (*app.state.http).clone(),
        clock: app.clock.clone(),
        revoked: Arc::new(api::revocations::RevokedSessions::new()),
    })
    .unwrap();
    api::router(state)
}

async fn post_json(router: &axum::Router, path: &str, body: &serde_json::Value) -> StatusCode {
    let request = Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(body).unwrap()))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let _ = response.into_body().collect().await;
    status
}

backend_tests!(
    a_username_is_locked_after_five_failures_even_for_the_right_password,
    the_lockout_counts_in_redis_when_it_is_configured,
    the_lockout_holds_across_instances_and_restarts,
    an_address_is_limited_across_usernames,
    refresh_and_verify_are_limited_per_address,
    the_client_address_is_read_only_from_trusted_proxies,
);
