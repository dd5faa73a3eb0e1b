//! Claims exactly as simplejwt writes them, access tokens minted from refresh tokens,
//! `aud`/`iss`/leeway when configured, and refusal of every other algorithm and key.

use auth_core::Algorithm;
use axum::http::StatusCode;
use integration_tests::{
    Backend, T0, TEST_KEY, TestApp, backend_tests, claims, json, jwt_header, sign, sign_with,
    unsigned,
};
use jsonwebtoken::Algorithm as Alg;
use serde_json::Value;

const ALICE: &str = r#"{"id":1,"username":"alice"}"#;
const AUDIENCE: &str = "jwtd-clients";
const ISSUER: &str = "https://auth.example.test";

fn keys_of(claims: &Value) -> Vec<&str> {
    claims
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

/// Asserts that every endpoint refuses `access`/`refresh` as invalid tokens.
pub(crate) async fn assert_refused_everywhere(app: &TestApp, access: &str, refresh: &str) {
    app.get_authed("/me", access)
        .await
        .assert_bearer_refused("Token is invalid");
    app.verify(access)
        .await
        .assert_token_not_valid("Token is invalid");
    app.refresh(refresh)
        .await
        .assert_token_not_valid("Token is invalid");
    app.logout(refresh)
        .await
        .assert_token_not_valid("Token is invalid");
}

async fn tokens_carry_simplejwts_claims_in_its_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (refresh, access) = app.alice().await;
    for (token, kind, lifetime) in [(&refresh, "refresh", 86_400), (&access, "access", 300)] {
        assert_eq!(
            jwt_header(token),
            json!({ "typ": "JWT", "alg": "HS256", "kid": app.codec.keys().kid() }),
            "simplejwt's header, and the key's id"
        );
        let claims = claims(token);
        // simplejwt's order; `sid` is jwtd's session id.
        assert_eq!(
            keys_of(&claims),
            ["token_type", "exp", "iat", "jti", "user_id", "sid"]
        );
        assert_eq!(claims["token_type"], kind);
        assert_eq!(claims["iat"], json!(T0));
        assert_eq!(claims["exp"], json!(T0 + lifetime));
        assert_eq!(claims["user_id"], json!("1"));
        let jti = claims["jti"].as_str().unwrap();
        assert_eq!(jti.len(), 32);
        assert!(
            jti.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
    }
    assert_eq!(claims(&refresh)["sid"], claims(&access)["sid"]);
}

async fn access_minted_on_refresh_copies_the_refresh_claims(backend: Backend) {
    for rotate in [true, false] {
        let app = TestApp::spawn_with(backend.clone(), |config| {
            config.tokens.rotate_refresh_tokens = rotate;
        })
        .await;
        let (refresh, first_access) = app.alice().await;
        app.clock.advance(100);
        let response = app.refresh(&refresh).await.assert_ok();
        let old = claims(&refresh);
        let access = claims(&response.str("access"));
        assert_eq!(
            keys_of(&access),
            ["token_type", "exp", "iat", "jti", "user_id", "sid"]
        );
        assert_eq!(access["token_type"], "access");
        assert_eq!(access["iat"], json!(T0 + 100));
        assert_eq!(access["exp"], json!(T0 + 100 + 300));
        assert_eq!(access["user_id"], old["user_id"]);
        assert_eq!(access["sid"], old["sid"]);
        assert_ne!(access["jti"], old["jti"]);
        assert_ne!(access["jti"], claims(&first_access)["jti"]);
        if rotate {
            let new = claims(&response.str("refresh"));
            assert_eq!(
                keys_of(&new),
                ["token_type", "exp", "iat", "jti", "user_id", "sid"]
            );
            assert_eq!(new["sid"], old["sid"]);
            assert_ne!(new["jti"], access["jti"]);
        }
    }
}

async fn audience_and_issuer_are_written_and_required_when_configured(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.tokens.audience = Some(AUDIENCE.to_owned());
        config.tokens.issuer = Some(ISSUER.to_owned());
    })
    .await;
    let (refresh, access) = app.alice().await;
    for token in [&refresh, &access] {
        let claims = claims(token);
        assert_eq!(claims["aud"], AUDIENCE);
        assert_eq!(claims["iss"], ISSUER);
    }
    app.get_authed("/me", &access)
        .await
        .assert(StatusCode::OK, ALICE);
    let response = app.refresh(&refresh).await.assert_ok();
    for token in [response.str("access"), response.str("refresh")] {
        let claims = claims(&token);
        assert_eq!(claims["aud"], AUDIENCE);
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(
            keys_of(&claims),
            [
                "token_type",
                "exp",
                "iat",
                "jti",
                "user_id",
                "sid",
                "aud",
                "iss"
            ]
        );
    }
    let refresh = response.str("refresh");
    let forge = |token: &str, name: &str, value: Option<&str>| {
        let mut forged = claims(token);
        match value {
            Some(value) => forged[name] = json!(value),
            None => {
                forged.as_object_mut().unwrap().remove(name);
            }
        }
        sign(&forged)
    };
    for (name, value) in [
        ("aud", Some("someone-else")),
        ("aud", None),
        ("iss", Some("https://evil.example.test")),
        ("iss", None),
    ] {
        assert_refused_everywhere(
            &app,
            &forge(&access, name, value),
            &forge(&refresh, name, value),
        )
        .await;
    }
    app.refresh(&refresh).await.assert_ok();
}

async fn audience_and_issuer_are_not_checked_when_not_configured(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, access) = app.alice().await;
    let mut foreign = claims(&access);
    foreign["aud"] = json!("anyone");
    foreign["iss"] = json!("anywhere");
    let foreign = sign(&foreign);
    app.get_authed("/me", &foreign)
        .await
        .assert(StatusCode::OK, ALICE);
    app.verify(&foreign).await.assert(StatusCode::OK, "{}");
}

async fn leeway_stretches_expiry_and_issued_at_by_as_many_seconds(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.tokens.leeway = std::time::Duration::from_secs(30);
    })
    .await;
    let (refresh, access) = app.alice().await;
    app.clock.advance(329);
    app.get_authed("/me", &access)
        .await
        .assert(StatusCode::OK, ALICE);
    app.verify(&access).await.assert(StatusCode::OK, "{}");
    app.clock.advance(1);
    app.get_authed("/me", &access)
        .await
        .assert_bearer_refused("Token is expired");
    app.verify(&access)
        .await
        .assert_token_not_valid("Token is expired");

    app.clock.set(T0 + 86_400 + 29);
    let response = app.refresh(&refresh).await.assert_ok();

    // An `iat` ahead of the clock is tolerated up to the leeway.
    let now = T0 + 86_400 + 29;
    app.clock.set(now);
    let fresh = claims(&response.str("access"));
    for (ahead, accepted) in [(30, true), (31, false)] {
        let mut early = fresh.clone();
        early["iat"] = json!(now + ahead);
        let response = app.get_authed("/me", &sign(&early)).await;
        if accepted {
            response.assert(StatusCode::OK, ALICE);
        } else {
            response.assert_bearer_refused("Token is invalid");
        }
    }
}

async fn without_leeway_a_token_issued_in_the_future_is_invalid(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, access) = app.alice().await;
    let mut early = claims(&access);
    early["iat"] = json!(T0 + 1);
    app.get_authed("/me", &sign(&early))
        .await
        .assert_bearer_refused("Token is invalid");
    let mut immature = claims(&access);
    immature["nbf"] = json!(T0 + 1);
    app.verify(&sign(&immature))
        .await
        .assert_token_not_valid("Token is invalid");
}

async fn other_algorithms_and_keys_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (refresh, access) = app.alice().await;
    let (refresh_claims, access_claims) = (claims(&refresh), claims(&access));
    assert_refused_everywhere(&app, &unsigned(&access_claims), &unsigned(&refresh_claims)).await;
    for (alg, key) in [
        (Alg::HS512, TEST_KEY),
        (Alg::HS384, TEST_KEY),
        (
            Alg::HS256,
            b"some-other-key-of-the-same-length-0123".as_slice(),
        ),
    ] {
        assert_refused_everywhere(
            &app,
            &sign_with(&access_claims, alg, key),
            &sign_with(&refresh_claims, alg, key),
        )
        .await;
    }
    // The genuine tokens are untouched by all of that.
    app.get_authed("/me", &access)
        .await
        .assert(StatusCode::OK, ALICE);
    app.refresh(&refresh).await.assert_ok();
}

async fn a_configured_hs512_signs_with_hs512_and_refuses_hs256(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.algorithm = Algorithm::HS512;
    })
    .await;
    let (refresh, access) = app.alice().await;
    assert_eq!(
        jwt_header(&access),
        json!({ "typ": "JWT", "alg": "HS512", "kid": app.codec.keys().kid() })
    );
    app.get_authed("/me", &access)
        .await
        .assert(StatusCode::OK, ALICE);
    assert_refused_everywhere(
        &app,
        &sign_with(&claims(&access), Alg::HS256, TEST_KEY),
        &sign_with(&claims(&refresh), Alg::HS256, TEST_KEY),
    )
    .await;
    app.refresh(&refresh).await.assert_ok();
}

/// Signs `claims` with the test key under HS256 and `header`'s other fields.
fn sign_with_header(claims: &Value, edit: impl FnOnce(&mut jsonwebtoken::Header)) -> String {
    let mut header = jsonwebtoken::Header::new(Alg::HS256);
    edit(&mut header);
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_secret(TEST_KEY),
    )
    .unwrap()
}

async fn critical_headers_are_refused_and_key_locations_ignored(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (refresh, access) = app.alice().await;
    let (refresh_claims, access_claims) = (claims(&refresh), claims(&access));
    // RFC 7515 §4.1.11: jwtd understands no extension a token could mark critical.
    let critical = |header: &mut jsonwebtoken::Header| header.crit = Some(vec!["exp".to_owned()]);
    assert_refused_everywhere(
        &app,
        &sign_with_header(&access_claims, critical),
        &sign_with_header(&refresh_claims, critical),
    )
    .await;
    // Where a key could be fetched from is never read: a token signed with jwtd's key is
    // accepted whatever its header points to.
    let pointing = sign_with_header(&access_claims, |header| {
        header.jku = Some("https://keys.example.test/jwks.json".to_owned());
        header.x5u = Some("https://keys.example.test/cert.pem".to_owned());
    });
    app.get_authed("/me", &pointing)
        .await
        .assert(StatusCode::OK, ALICE);
    app.verify(&pointing).await.assert(StatusCode::OK, "{}");
}

backend_tests!(
    tokens_carry_simplejwts_claims_in_its_order,
    access_minted_on_refresh_copies_the_refresh_claims,
    audience_and_issuer_are_written_and_required_when_configured,
    audience_and_issuer_are_not_checked_when_not_configured,
    leeway_stretches_expiry_and_issued_at_by_as_many_seconds,
    without_leeway_a_token_issued_in_the_future_is_invalid,
    other_algorithms_and_keys_are_refused,
    a_configured_hs512_signs_with_hs512_and_refuses_hs256,
    critical_headers_are_refused_and_key_locations_ignored,
);
