//! RFC 7662 `POST /introspect`: only for the configured client (HTTP Basic), `{"active":
//! false}` for anything not live, the token's claims for a live one; absent unconfigured.

use axum::http::{Method, StatusCode};
use base64::Engine as _;
use integration_tests::{
    Backend, Send, T0, TestApp, TestResponse, backend_tests, claims, json, sign,
};

const CLIENT_ID: &str = "billing-api";
const CLIENT_SECRET: &str = "Zq8-r2Lx.v0~secret";
const INACTIVE: &str = r#"{"active":false}"#;

/// Configures the introspection client that [`introspect`] authenticates as.
pub(crate) fn allow_introspection(config: &mut integration_tests::TestConfig) {
    config.http.introspection = Some(api::oauth::IntrospectionClient {
        id: CLIENT_ID.to_owned(),
        secret: api::oauth::ClientSecret::new(CLIENT_SECRET),
    });
}

async fn spawn(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, allow_introspection).await
}

fn basic(id: &str, secret: &str) -> String {
    let pair = format!("{id}:{secret}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// `POST /introspect` of `token` (form-encoded) with `authorization`, if any.
async fn introspect_as(app: &TestApp, authorization: Option<&str>, token: &str) -> TestResponse {
    let headers: Vec<(&str, &str)> = authorization
        .map(|value| vec![("authorization", value)])
        .unwrap_or_default();
    app.request(
        Method::POST,
        "/introspect",
        Send::Raw(
            Some("application/x-www-form-urlencoded"),
            format!("token={token}&token_type_hint=refresh_token").into_bytes(),
        ),
        &headers,
    )
    .await
}

/// `POST /introspect` as the client of [`allow_introspection`]; asserts 200 and `no-store`.
pub(crate) async fn introspect(app: &TestApp, token: &str) -> TestResponse {
    let response = introspect_as(app, Some(&basic(CLIENT_ID, CLIENT_SECRET)), token).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    assert_eq!(
        response.header("cache-control").as_deref(),
        Some("no-store")
    );
    response
}

/// What introspection says of a live token jwtd issued to alice (user 1).
fn live(token: &str) -> String {
    let claims = claims(token);
    json!({
        "active": true,
        "sub": "1",
        "username": "alice",
        "token_type": claims["token_type"],
        "exp": claims["exp"],
        "iat": claims["iat"],
        "jti": claims["jti"],
        "sid": claims["sid"],
    })
    .to_string()
}

async fn live_tokens_are_active_with_their_claims(backend: Backend) {
    let app = spawn(backend).await;
    let (refresh, access) = app.alice().await;
    for token in [&refresh, &access] {
        introspect(&app, token)
            .await
            .assert(StatusCode::OK, &live(token));
    }
    assert_eq!(claims(&access)["token_type"], "access");
    // A JSON body works too, and a token minted elsewhere with no session (simplejwt's
    // access tokens) is live while it verifies.
    let stateless = sign(&json!({
        "token_type": "access", "exp": T0 + 300, "iat": T0, "jti": "a".repeat(32), "user_id": "1",
    }));
    let authorization = basic(CLIENT_ID, CLIENT_SECRET);
    let response = app
        .request(
            Method::POST,
            "/introspect/",
            Send::Json(json!({ "token": stateless })),
            &[("authorization", &authorization)],
        )
        .await;
    response.assert(
        StatusCode::OK,
        &json!({
            "active": true, "sub": "1", "username": "alice", "token_type": "access",
            "exp": T0 + 300, "iat": T0, "jti": "a".repeat(32),
        })
        .to_string(),
    );
}

async fn anything_not_live_is_inactive(backend: Backend) {
    let app = spawn(backend).await;
    let (first, first_access) = app.alice().await;
    let rotated = app.refresh(&first).await.assert_ok();
    let second = rotated.str("refresh");
    // The rotated token is no longer live; its successor is.
    introspect(&app, &first)
        .await
        .assert(StatusCode::OK, INACTIVE);
    introspect(&app, &second)
        .await
        .assert(StatusCode::OK, &live(&second));
    for token in [
        "garbage".to_owned(),
        sign(
            &json!({ "token_type": "refresh", "exp": T0 + 300, "iat": T0, "jti": "c".repeat(32), "user_id": "1" }),
        ),
        sign(&json!({ "token_type": "access", "exp": T0 + 300, "iat": T0, "jti": "d".repeat(32) })),
        integration_tests::unsigned(
            &json!({ "token_type": "access", "exp": T0 + 300, "jti": "e", "user_id": "1" }),
        ),
    ] {
        introspect(&app, &token)
            .await
            .assert(StatusCode::OK, INACTIVE);
    }
    // Logging out ends the session: its refresh token and, though `/me` would still take
    // them (access revocation is off), its access tokens are inactive.
    app.logout(&second).await.assert_ok();
    for token in [&second, &first_access, &rotated.str("access")] {
        introspect(&app, token)
            .await
            .assert(StatusCode::OK, INACTIVE);
    }
    app.get_authed("/me", &first_access).await.assert_ok();
    // A revoked access token, and its session's refresh token.
    let (refresh, access) = {
        let pair = app.login("alice", "wonderland").await.assert_ok();
        (pair.str("refresh"), pair.str("access"))
    };
    app.post("/revoke", json!({ "token": access }))
        .await
        .assert_ok();
    for token in [&refresh, &access] {
        introspect(&app, token)
            .await
            .assert(StatusCode::OK, INACTIVE);
    }
    // Expired.
    let (refresh, access) = {
        let pair = app.login("alice", "wonderland").await.assert_ok();
        (pair.str("refresh"), pair.str("access"))
    };
    introspect(&app, &access)
        .await
        .assert(StatusCode::OK, &live(&access));
    app.clock.advance(301);
    introspect(&app, &access)
        .await
        .assert(StatusCode::OK, INACTIVE);
    introspect(&app, &refresh)
        .await
        .assert(StatusCode::OK, &live(&refresh));
    // A deactivated, then a deleted user.
    app.set_active(1, false).await;
    introspect(&app, &refresh)
        .await
        .assert(StatusCode::OK, INACTIVE);
    let bob = app.create_user("bob", "builder").await;
    let pair = app.login("bob", "builder").await.assert_ok();
    app.delete_user(bob).await;
    for token in [pair.str("refresh"), pair.str("access")] {
        introspect(&app, &token)
            .await
            .assert(StatusCode::OK, INACTIVE);
    }
}

async fn only_the_configured_client_may_introspect(backend: Backend) {
    let app = spawn(backend).await;
    let (refresh, _) = app.alice().await;
    let not_provided = r#"{"detail":"Authentication credentials were not provided."}"#;
    let invalid = r#"{"detail":"Invalid username/password."}"#;
    let bearer = format!("Bearer {refresh}");
    let malformed = "Basic not-base64!".to_owned();
    for (authorization, body) in [
        (None, not_provided),
        (Some(bearer.as_str()), not_provided),
        (Some(malformed.as_str()), invalid),
        (Some(&basic(CLIENT_ID, "wrong") as &str), invalid),
        (Some(&basic("other", CLIENT_SECRET) as &str), invalid),
        (
            Some(&basic(CLIENT_ID, &format!("{CLIENT_SECRET}x")) as &str),
            invalid,
        ),
        (Some(&basic("", "") as &str), invalid),
    ] {
        let response = introspect_as(&app, authorization, &refresh).await;
        response.assert(StatusCode::UNAUTHORIZED, body);
        assert_eq!(
            response.header("www-authenticate").as_deref(),
            Some(r#"Basic realm="jwtd""#),
            "{authorization:?}"
        );
    }
    // The scheme word is read in any case.
    let lower = basic(CLIENT_ID, CLIENT_SECRET).replacen("Basic", "basic", 1);
    introspect_as(&app, Some(&lower), &refresh)
        .await
        .assert(StatusCode::OK, &live(&refresh));
}

async fn the_challenge_stays_basic_under_another_bearer_scheme(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.http.auth_header_types = vec!["JWT".to_owned()];
        config.http.introspection = Some(api::oauth::IntrospectionClient {
            id: CLIENT_ID.to_owned(),
            secret: api::oauth::ClientSecret::new(CLIENT_SECRET),
        });
    })
    .await;
    let response = introspect_as(&app, None, "x").await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.header("www-authenticate").as_deref(),
        Some(r#"Basic realm="jwtd""#)
    );
    let me = app.get_authed("/me", "x").await;
    assert_eq!(
        me.header("www-authenticate").as_deref(),
        Some(r#"JWT realm="api""#)
    );
}

async fn unconfigured_there_is_no_introspection(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (refresh, _) = app.alice().await;
    let response = introspect_as(&app, Some(&basic(CLIENT_ID, CLIENT_SECRET)), &refresh).await;
    response.assert(StatusCode::NOT_FOUND, r#"{"detail":"Not found."}"#);
}

async fn introspection_needs_a_token(backend: Backend) {
    let app = spawn(backend).await;
    let authorization = basic(CLIENT_ID, CLIENT_SECRET);
    app.request(
        Method::POST,
        "/introspect",
        Send::Json(json!({ "token_type_hint": "access_token" })),
        &[("authorization", &authorization)],
    )
    .await
    .assert(
        StatusCode::BAD_REQUEST,
        r#"{"token":["This field is required."]}"#,
    );
}

backend_tests!(
    live_tokens_are_active_with_their_claims,
    anything_not_live_is_inactive,
    only_the_configured_client_may_introspect,
    the_challenge_stays_basic_under_another_bearer_scheme,
    unconfigured_there_is_no_introspection,
    introspection_needs_a_token,
);
