//! A resource server's view: jwtd's tokens verified by an independent JOSE implementation
//! (`jwt-compact`, not the `jsonwebtoken` jwtd signs with), from nothing but the JWK Set
//! jwtd publishes, the key picked by the token's `kid`. `jwt-compact` has no ES384: those
//! tokens are checked with the `p384` crate's ECDSA directly from the JWK's coordinates.

use axum::http::Method;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use integration_tests::{Backend, Send, TestApp, key_pair_name, pem_keys};
use jwt_compact::alg::{Ed25519, Es256, Rsa};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{AlgorithmExt as _, Token, UntrustedToken};
use serde::Deserialize;
use serde_json::Value;

use auth_core::Algorithm;

/// The claims a resource server reads.
#[derive(Debug, Deserialize)]
struct Claims {
    token_type: String,
    user_id: String,
    jti: String,
}

/// The JWK of `jwks` that `kid` names.
fn key_named<'a>(jwks: &'a Value, kid: &str) -> &'a Value {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["kid"] == kid)
        .unwrap_or_else(|| panic!("no key {kid} in {jwks}"))
}

/// Verifies `token` with the key of `jwks` its `kid` names, under its `alg`; its claims, or
/// why it does not verify.
fn verify_from_jwks(token: &str, jwks: &Value) -> Result<Claims, String> {
    let untrusted = UntrustedToken::new(token).unwrap();
    let kid = untrusted.header().key_id.clone().expect("a kid");
    let published = key_named(jwks, &kid);
    assert_eq!(
        published["alg"].as_str(),
        Some(untrusted.algorithm()),
        "the key's alg"
    );
    if untrusted.algorithm() == "ES384" {
        return verify_es384(token, published);
    }
    let jwk: JsonWebKey<'_> = serde_json::from_value(published.clone()).unwrap();
    let token: Token<Claims> = match untrusted.algorithm() {
        "ES256" => {
            let key = p256::ecdsa::VerifyingKey::try_from(&jwk).unwrap();
            Es256.validator(&key).validate(&untrusted)
        }
        "EdDSA" => {
            let key = ed25519_dalek::VerifyingKey::try_from(&jwk).unwrap();
            Ed25519.validator(&key).validate(&untrusted)
        }
        name => {
            let key = rsa::RsaPublicKey::try_from(&jwk).unwrap();
            Rsa::with_name(name).validator(&key).validate(&untrusted)
        }
    }
    .map_err(|error| error.to_string())?;
    let (_, claims) = token.into_parts();
    Ok(claims.custom)
}

fn verify_es384(token: &str, jwk: &Value) -> Result<Claims, String> {
    use p384::ecdsa::signature::Verifier as _;
    let decode = |text: &str| URL_SAFE_NO_PAD.decode(text).unwrap();
    let mut point = vec![4];
    point.extend(decode(jwk["x"].as_str().unwrap()));
    point.extend(decode(jwk["y"].as_str().unwrap()));
    let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap();
    let (message, signature) = token.rsplit_once('.').unwrap();
    let signature = p384::ecdsa::Signature::from_slice(&decode(signature)).unwrap();
    key.verify(message.as_bytes(), &signature)
        .map_err(|error| error.to_string())?;
    let payload = message.split('.').nth(1).unwrap();
    Ok(serde_json::from_slice(&decode(payload)).unwrap())
}

#[tokio::test]
async fn an_independent_jose_library_verifies_every_public_key_algorithm_from_the_jwks() {
    for algorithm in Algorithm::ALL.into_iter().filter(|a| !a.is_hmac()) {
        let pair = key_pair_name(algorithm);
        let older = match algorithm {
            Algorithm::ES256 => Some("p256-b"),
            Algorithm::EdDSA => Some("ed25519-b"),
            Algorithm::ES384 => None,
            _ => Some("rsa-b"),
        };
        let mut verifying = vec![pair];
        verifying.extend(older);
        let keys = pem_keys(algorithm, pair, &verifying);
        let app = TestApp::spawn_with(Backend::Sqlite, |config| config.keys = Some(keys)).await;
        let (refresh, access) = app.alice().await;
        let jwks = app
            .request(Method::GET, "/.well-known/jwks.json", Send::Empty, &[])
            .await
            .json;
        assert_eq!(jwks["keys"].as_array().unwrap().len(), verifying.len());
        for (token, kind) in [(&refresh, "refresh"), (&access, "access")] {
            let claims = verify_from_jwks(token, &jwks).unwrap();
            assert_eq!(
                (claims.token_type.as_str(), claims.user_id.as_str()),
                (kind, "1"),
                "{algorithm}"
            );
            assert_eq!(claims.jti.len(), 32);
        }
        // A tampered token does not verify there either.
        let mut claims = integration_tests::claims(&access);
        claims["user_id"] = "2".into();
        let (header, rest) = access.split_once('.').unwrap();
        let signature = rest.rsplit_once('.').unwrap().1;
        let forged = format!(
            "{header}.{}.{signature}",
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        assert!(
            verify_from_jwks(&forged, &jwks).is_err(),
            "{algorithm}: a forged token verified"
        );
    }
}
