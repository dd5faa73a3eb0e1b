//! Algorithms and keys through the router: every algorithm end to end, the `kid` each token
//! carries, the JWK Set, forged headers (`none`, algorithm confusion, unknown or borrowed
//! `kid`, keys a token points to, `crit`), retired keys, and simplejwt's own tokens.

use axum::http::{Method, StatusCode};
use integration_tests::{
    Backend, Send, T0, TestApp, backend_tests, claims, json, jwt_header, key_fixture,
    key_pair_name, pem_keys,
};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::Value;

use auth_core::{Algorithm, Keys, TokenCodec};

use crate::claims::assert_refused_everywhere;

const ALICE: &str = r#"{"id":1,"username":"alice"}"#;

/// An HMAC secret as long as the longest hash.
const LONG_SECRET: &[u8] = b"a 64-byte secret for every HMAC size: HS256, HS384 and HS512 !!!";

/// The keys an app of `algorithm` gets: its fixture pair, or `LONG_SECRET`.
fn keys_for(algorithm: Algorithm) -> Keys {
    if algorithm.is_hmac() {
        Keys::hmac(algorithm, LONG_SECRET).unwrap()
    } else {
        let pair = key_pair_name(algorithm);
        pem_keys(algorithm, pair, &[pair])
    }
}

async fn app_with(backend: Backend, keys: Keys) -> TestApp {
    TestApp::spawn_with(backend, |config| config.keys = Some(keys)).await
}

/// `claims` signed with `key` under exactly `header`.
fn forge(header: &Header, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(header, claims, key).unwrap()
}

fn private_key(algorithm: Algorithm, name: &str) -> EncodingKey {
    let pem = key_fixture(&format!("{name}.key.pem"));
    match algorithm {
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(&pem),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(&pem),
        _ => EncodingKey::from_rsa_pem(&pem),
    }
    .unwrap()
}

fn jwt_algorithm(algorithm: Algorithm) -> jsonwebtoken::Algorithm {
    algorithm.as_str().parse().unwrap()
}

#[tokio::test]
async fn every_algorithm_round_trips_through_token_refresh_verify_and_me() {
    for algorithm in Algorithm::ALL {
        let app = app_with(Backend::Sqlite, keys_for(algorithm)).await;
        let kid = app.codec.keys().kid().to_owned();
        let (refresh, access) = app.alice().await;
        for token in [&refresh, &access] {
            assert_eq!(
                jwt_header(token),
                json!({ "typ": "JWT", "alg": algorithm.as_str(), "kid": kid }),
                "{algorithm}"
            );
            app.verify(token).await.assert(StatusCode::OK, "{}");
        }
        app.get_authed("/me", &access)
            .await
            .assert(StatusCode::OK, ALICE);
        let rotated = app.refresh(&refresh).await.assert_ok();
        let (next_refresh, next_access) = (rotated.str("refresh"), rotated.str("access"));
        assert_eq!(jwt_header(&next_refresh)["kid"], json!(kid), "{algorithm}");
        app.get_authed("/me", &next_access)
            .await
            .assert(StatusCode::OK, ALICE);
        app.verify(&next_refresh).await.assert(StatusCode::OK, "{}");
        app.logout(&next_refresh).await.assert(StatusCode::OK, "{}");
        // The JWK Set publishes the public key, never a secret.
        let jwks = app
            .request(Method::GET, "/.well-known/jwks.json", Send::Empty, &[])
            .await;
        let keys = jwks.json["keys"].as_array().unwrap();
        if algorithm.is_hmac() {
            assert!(keys.is_empty(), "{algorithm}: {}", jwks.text);
        } else {
            assert_eq!(keys.len(), 1);
            assert_eq!(
                (&keys[0]["kid"], &keys[0]["alg"]),
                (&json!(kid), &json!(algorithm.as_str()))
            );
        }
    }
}

async fn the_jwk_set_lists_every_verifying_key_with_cache_headers(backend: Backend) {
    let app = app_with(
        backend,
        pem_keys(Algorithm::ES256, "p256-b", &["p256-a", "p256-b"]),
    )
    .await;
    for path in ["/.well-known/jwks.json", "/.well-known/jwks.json/"] {
        let jwks = app.request(Method::GET, path, Send::Empty, &[]).await;
        assert_eq!(jwks.status, StatusCode::OK);
        assert_eq!(
            jwks.header("cache-control").as_deref(),
            Some("public, max-age=300")
        );
        assert_eq!(
            jwks.header("content-type").as_deref(),
            Some("application/json")
        );
        let keys = jwks.json["keys"].as_array().unwrap();
        let kids: Vec<&str> = keys
            .iter()
            .map(|key| key["kid"].as_str().unwrap())
            .collect();
        assert_eq!(kids, app.codec.keys().kids(), "the signing key's first");
        for key in keys {
            let members: Vec<&String> = key.as_object().unwrap().keys().collect();
            assert_eq!(members, ["use", "alg", "kid", "kty", "crv", "x", "y"]);
            assert_eq!(
                (&key["use"], &key["alg"], &key["kty"], &key["crv"]),
                (
                    &json!("sig"),
                    &json!("ES256"),
                    &json!("EC"),
                    &json!("P-256")
                )
            );
        }
    }
    let hmac = TestApp::spawn(Backend::Sqlite).await;
    let jwks = hmac
        .request(Method::GET, "/.well-known/jwks.json", Send::Empty, &[])
        .await;
    jwks.assert(StatusCode::OK, r#"{"keys":[]}"#);
    assert_eq!(
        jwks.header("cache-control").as_deref(),
        Some("public, max-age=300")
    );
}

async fn forged_headers_are_refused_and_key_locations_ignored(backend: Backend) {
    for algorithm in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
        let pair = key_pair_name(algorithm);
        let app = app_with(backend.clone(), pem_keys(algorithm, pair, &[pair])).await;
        let kid = app.codec.keys().kid().to_owned();
        let (refresh, access) = app.alice().await;
        let (refresh_claims, access_claims) = (claims(&refresh), claims(&access));
        let ours = private_key(algorithm, pair);
        let named = |alg: jsonwebtoken::Algorithm, kid: &str| {
            let mut header = Header::new(alg);
            header.kid = Some(kid.to_owned());
            header
        };
        let both = |header: &Header, key: &EncodingKey| {
            (
                forge(header, &access_claims, key),
                forge(header, &refresh_claims, key),
            )
        };
        // `alg: none`, naming the key.
        let none = |claims: &Value| {
            let b64 = |value: &Value| {
                use base64::Engine as _;
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(serde_json::to_vec(value).unwrap())
            };
            format!(
                "{}.{}.",
                b64(&json!({ "alg": "none", "kid": kid })),
                b64(claims)
            )
        };
        assert_refused_everywhere(&app, &none(&access_claims), &none(&refresh_claims)).await;
        // Algorithm confusion: HS256 keyed with the public key anyone can fetch, as PEM
        // and as its JWK, under the key's `kid` and under none.
        let public_pem = key_fixture(&format!("{pair}.pub.pem"));
        let jwk = app.codec.keys().jwks()["keys"][0].to_string();
        for secret in [public_pem.as_slice(), jwk.as_bytes()] {
            let key = EncodingKey::from_secret(secret);
            for header in [
                named(jsonwebtoken::Algorithm::HS256, &kid),
                Header::new(jsonwebtoken::Algorithm::HS256),
            ] {
                let (access, refresh) = both(&header, &key);
                assert_refused_everywhere(&app, &access, &refresh).await;
            }
        }
        // A good signature under a `kid` no key has; our `kid` over another key's signature.
        let alg = jwt_algorithm(algorithm);
        let (access, refresh) = both(&named(alg, "unknown"), &ours);
        assert_refused_everywhere(&app, &access, &refresh).await;
        let stranger = match algorithm {
            Algorithm::ES256 => private_key(algorithm, "p256-c"),
            Algorithm::EdDSA => private_key(algorithm, "ed25519-b"),
            _ => private_key(algorithm, "rsa-b"),
        };
        let (access, refresh) = both(&named(alg, &kid), &stranger);
        assert_refused_everywhere(&app, &access, &refresh).await;
        // `crit`: jwtd understands no extension.
        let mut critical = named(alg, &kid);
        critical.crit = Some(vec!["exp".to_owned()]);
        let (access, refresh) = both(&critical, &ours);
        assert_refused_everywhere(&app, &access, &refresh).await;
        // Where a key could be fetched from, or a key given inline, is never used: signed
        // by the stranger it points to, refused; signed with ours, accepted.
        let mut pointing = named(alg, &kid);
        pointing.jku = Some("https://keys.example.test/jwks.json".to_owned());
        pointing.x5u = Some("https://keys.example.test/cert.pem".to_owned());
        pointing.jwk = Some(serde_json::from_str(&jwk).unwrap());
        let (access, refresh) = both(&pointing, &stranger);
        assert_refused_everywhere(&app, &access, &refresh).await;
        let (access, _) = both(&pointing, &ours);
        app.get_authed("/me", &access)
            .await
            .assert(StatusCode::OK, ALICE);
        app.verify(&access).await.assert(StatusCode::OK, "{}");
    }
}

async fn tokens_of_a_retired_key_are_refused_and_of_a_listed_one_accepted(backend: Backend) {
    // Tokens signed by the old key, as jwtd minted them before the new key took over.
    let old = TokenCodec::new(
        Default::default(),
        pem_keys(Algorithm::ES256, "p256-a", &["p256-a"]),
    );
    let still_listed = app_with(
        backend.clone(),
        pem_keys(Algorithm::ES256, "p256-b", &["p256-b", "p256-a"]),
    )
    .await;
    still_listed.create_user("alice", "wonderland").await;
    let spec_jti = auth_core::Jti::new("old-access");
    let family = auth_core::FamilyId::new("family".to_owned());
    let refresh_jti = auth_core::Jti::new("old-refresh");
    let spec = auth_core::RefreshSpec {
        jti: &refresh_jti,
        user: auth_core::UserId(1),
        family: &family,
        iat: T0,
        exp: T0 + 3_600,
    };
    let access = old.mint_access_for(&spec, &spec_jti, T0).unwrap();
    let refresh = old.mint_refresh(&spec).unwrap();
    still_listed
        .get_authed("/me", &access)
        .await
        .assert(StatusCode::OK, ALICE);
    still_listed
        .verify(&refresh)
        .await
        .assert(StatusCode::OK, "{}");
    let retired = app_with(backend, pem_keys(Algorithm::ES256, "p256-b", &["p256-b"])).await;
    retired.create_user("alice", "wonderland").await;
    assert_refused_everywhere(&retired, &access, &refresh).await;
}

async fn tokens_minted_by_simplejwt_with_the_same_key_are_accepted(backend: Backend) {
    let fixture: Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/simplejwt/tokens.json"
    )))
    .unwrap();
    let key = fixture["signing_key"].as_str().unwrap().as_bytes().to_vec();
    let app = TestApp::spawn_with(backend, |config| config.key = key).await;
    app.create_user("alice", "wonderland").await;
    let (access, refresh) = (
        fixture["access"].as_str().unwrap(),
        fixture["refresh"].as_str().unwrap(),
    );
    assert_eq!(
        jwt_header(access),
        json!({ "alg": "HS256", "typ": "JWT" }),
        "simplejwt writes no kid"
    );
    app.get_authed("/me", access)
        .await
        .assert(StatusCode::OK, ALICE);
    app.verify(access).await.assert(StatusCode::OK, "{}");
    app.verify(refresh).await.assert(StatusCode::OK, "{}");
    // Not in jwtd's store: refused until adopted (README, "A running simplejwt deployment").
    app.refresh(refresh)
        .await
        .assert_token_not_valid("Token is invalid");
    // With another key, nothing of simplejwt's verifies.
    let other = TestApp::spawn(Backend::Sqlite).await;
    other.create_user("alice", "wonderland").await;
    other
        .get_authed("/me", access)
        .await
        .assert_bearer_refused("Token is invalid");
    other
        .verify(refresh)
        .await
        .assert_token_not_valid("Token is invalid");
}

backend_tests!(
    the_jwk_set_lists_every_verifying_key_with_cache_headers,
    forged_headers_are_refused_and_key_locations_ignored,
    tokens_of_a_retired_key_are_refused_and_of_a_listed_one_accepted,
    tokens_minted_by_simplejwt_with_the_same_key_are_accepted,
);
