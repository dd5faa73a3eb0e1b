//! Keys from PEM files: what fits each algorithm, the `kid` every token carries, the JWK
//! Set, and which key a token may be verified with.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::{Algorithm, Jti, KeyError, Keys, TokenCodec, TokenError, TokenKind, TokenSettings};

const NOW: i64 = 1_800_000_000;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn access_payload() -> String {
    json!({
        "token_type": "access", "exp": NOW + 300, "iat": NOW, "jti": "abc", "user_id": "1",
    })
    .to_string()
}

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/keys/",
            $name
        ))
        .as_slice()
    };
}

const RSA_A: &[u8] = fixture!("rsa-a.key.pem");
const RSA_A_PUB: &[u8] = fixture!("rsa-a.pub.pem");
const P256_A: &[u8] = fixture!("p256-a.key.pem");
const P256_A_PUB: &[u8] = fixture!("p256-a.pub.pem");
const P256_B: &[u8] = fixture!("p256-b.key.pem");
const P256_B_PUB: &[u8] = fixture!("p256-b.pub.pem");
const P384_A: &[u8] = fixture!("p384-a.key.pem");
const P384_A_PUB: &[u8] = fixture!("p384-a.pub.pem");
const ED_A: &[u8] = fixture!("ed25519-a.key.pem");
const ED_A_PUB: &[u8] = fixture!("ed25519-a.pub.pem");

/// A private key and its public key that fit `algorithm`.
fn pair(algorithm: Algorithm) -> (&'static [u8], &'static [u8]) {
    match algorithm {
        Algorithm::ES256 => (P256_A, P256_A_PUB),
        Algorithm::ES384 => (P384_A, P384_A_PUB),
        Algorithm::EdDSA => (ED_A, ED_A_PUB),
        _ => (RSA_A, RSA_A_PUB),
    }
}

fn encoding_key(algorithm: Algorithm, pem: &[u8]) -> EncodingKey {
    match algorithm {
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(pem),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(pem),
        _ => EncodingKey::from_rsa_pem(pem),
    }
    .unwrap()
}

/// A token with exactly this header and the default access payload, signed with `key`.
fn signed(header: &Value, algorithm: jsonwebtoken::Algorithm, key: &EncodingKey) -> String {
    let message = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(access_payload().as_bytes())
    );
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, algorithm).unwrap();
    format!("{message}.{signature}")
}

fn answer(codec: &TokenCodec, token: &str) -> Result<(), TokenError> {
    codec.check(token, Some(TokenKind::Access), NOW).map(|_| ())
}

fn header_of(token: &str) -> Value {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

#[test]
fn every_public_key_algorithm_mints_tokens_naming_the_key_that_verify() {
    for algorithm in Algorithm::ALL.into_iter().filter(|a| !a.is_hmac()) {
        let (private, public) = pair(algorithm);
        let keys = Keys::from_pem(algorithm, private, &[public]).unwrap();
        let kid = keys.kid().to_owned();
        let codec = TokenCodec::new(TokenSettings::default(), keys);
        let token = codec.mint_access(&Map::new(), &Jti::new("j"), NOW).unwrap();
        assert_eq!(
            header_of(&token),
            json!({ "typ": "JWT", "alg": algorithm.as_str(), "kid": kid }),
            "{algorithm}"
        );
        assert_eq!(answer(&codec, &token), Ok(()), "{algorithm}");
        assert!(codec.verify(&token, None, NOW).is_ok(), "{algorithm}");
        // A token without `kid`, signed with the signing key, verifies as simplejwt's would.
        let unnamed = signed(
            &json!({ "alg": algorithm.as_str(), "typ": "JWT" }),
            algorithm.to_jwt(),
            &encoding_key(algorithm, private),
        );
        assert_eq!(answer(&codec, &unnamed), Ok(()), "{algorithm}");
    }
}

#[test]
fn a_key_that_does_not_parse_or_fit_its_algorithm_is_refused() {
    let signing = |algorithm, private: &[u8]| match Keys::from_pem(algorithm, private, &[]) {
        Err(KeyError::SigningKey(reason)) => reason,
        other => panic!("{algorithm} accepted a bad signing key: {other:?}"),
    };
    assert_eq!(
        signing(Algorithm::ES384, P256_A),
        "is not a PKCS#8 (BEGIN PRIVATE KEY) P-384 key, which ES384 needs"
    );
    assert_eq!(
        signing(Algorithm::RS256, fixture!("rsa-a.pkcs1.key.pem")),
        "is not a PKCS#8 (BEGIN PRIVATE KEY) RSA key, which RS256 needs"
    );
    assert_eq!(
        signing(Algorithm::PS256, fixture!("rsa-1024.key.pem")),
        "is an RSA key of 1024 bits; PS256 needs 2048 at least"
    );
    assert_eq!(
        signing(Algorithm::EdDSA, b"not a key"),
        "is not a PKCS#8 (BEGIN PRIVATE KEY) Ed25519 key, which EdDSA needs"
    );
    assert_eq!(signing(Algorithm::ES256, &[0xff, 0xfe]), "is not PEM text");
    // A public key where the private key belongs.
    signing(Algorithm::ES256, P256_A_PUB);
    match Keys::from_pem(Algorithm::ES256, P256_A, &[P256_A_PUB, P384_A_PUB]) {
        Err(KeyError::VerifyingKey { index: 1, reason }) => assert_eq!(
            reason,
            "is not a SPKI (BEGIN PUBLIC KEY) P-256 key, which ES256 needs"
        ),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Keys::from_pem(Algorithm::ES256, P256_A, &[P256_B_PUB]),
        Err(KeyError::SigningKeyNotListed)
    ));
    assert!(matches!(
        Keys::from_pem(Algorithm::HS256, P256_A, &[P256_A_PUB]),
        Err(KeyError::WrongKind(Algorithm::HS256))
    ));
    assert!(matches!(
        Keys::hmac(Algorithm::ES256, b"a secret"),
        Err(KeyError::WrongKind(Algorithm::ES256))
    ));
}

#[test]
fn the_jwk_set_publishes_each_public_key_under_its_rfc_7638_thumbprint() {
    let keys = Keys::from_pem(Algorithm::ES256, P256_A, &[P256_B_PUB, P256_A_PUB]).unwrap();
    let jwks = keys.jwks();
    let listed = jwks["keys"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    for jwk in listed {
        assert_eq!(
            jwk.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["use", "alg", "kid", "kty", "crv", "x", "y"]
        );
        assert_eq!((&jwk["kty"], &jwk["crv"]), (&json!("EC"), &json!("P-256")));
        assert_eq!((&jwk["alg"], &jwk["use"]), (&json!("ES256"), &json!("sig")));
        // RFC 7638 §3.2: the required members, in lexicographic order, no whitespace.
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":{},"y":{}}}"#,
            jwk["x"], jwk["y"]
        );
        let thumbprint = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
        assert_eq!(jwk["kid"], json!(thumbprint));
    }
    // The signing key first, whatever the order given.
    assert_eq!(listed[0]["kid"], json!(keys.kid()));
    assert_eq!(keys.kids().len(), 2);
    let rsa = Keys::from_pem(Algorithm::RS256, RSA_A, &[RSA_A_PUB]).unwrap();
    let jwk = &rsa.jwks()["keys"][0];
    assert_eq!((&jwk["kty"], &jwk["e"]), (&json!("RSA"), &json!("AQAB")));
    let canonical = format!(r#"{{"e":"AQAB","kty":"RSA","n":{}}}"#, jwk["n"]);
    assert_eq!(
        jwk["kid"],
        json!(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())))
    );
    let ed = Keys::from_pem(Algorithm::EdDSA, ED_A, &[ED_A_PUB]).unwrap();
    let jwk = &ed.jwks()["keys"][0];
    assert_eq!(
        (&jwk["kty"], &jwk["crv"], &jwk["alg"]),
        (&json!("OKP"), &json!("Ed25519"), &json!("EdDSA"))
    );
    assert_eq!(
        Keys::hmac(Algorithm::HS256, b"secret").unwrap().jwks(),
        json!({ "keys": [] })
    );
}

#[test]
fn an_hmac_kid_names_the_secret_without_revealing_it() {
    let secret = b"a secret of thirty-two bytes, ok";
    let kid = Keys::hmac(Algorithm::HS256, secret)
        .unwrap()
        .kid()
        .to_owned();
    assert_eq!(kid.len(), 22);
    assert_eq!(
        kid,
        Keys::hmac(Algorithm::HS256, secret).unwrap().kid(),
        "stable across restarts"
    );
    assert_ne!(kid, Keys::hmac(Algorithm::HS256, b"another").unwrap().kid());
    assert_ne!(kid, Keys::hmac(Algorithm::HS512, secret).unwrap().kid());
    // Not the plain digest of the secret: a prefix separates it from any other use.
    assert!(
        !URL_SAFE_NO_PAD
            .encode(Sha256::digest(secret))
            .starts_with(&kid)
    );
}

#[test]
fn a_token_is_verified_only_with_the_key_its_kid_names_under_that_keys_algorithm() {
    let keys = Keys::from_pem(Algorithm::ES256, P256_B, &[P256_A_PUB, P256_B_PUB]).unwrap();
    let new_kid = keys.kid().to_owned();
    let old_kid = keys.kids()[1].to_owned();
    let codec = TokenCodec::new(TokenSettings::default(), keys);
    let es256 = jsonwebtoken::Algorithm::ES256;
    let old = encoding_key(Algorithm::ES256, P256_A);
    let new = encoding_key(Algorithm::ES256, P256_B);
    let stranger = encoding_key(Algorithm::ES256, fixture!("p256-c.key.pem"));
    let cases = [
        // The older key verifies the tokens naming it.
        (
            json!({ "alg": "ES256", "kid": old_kid }),
            es256,
            &old,
            Ok(()),
        ),
        (
            json!({ "alg": "ES256", "kid": new_kid }),
            es256,
            &new,
            Ok(()),
        ),
        // No kid: the signing key only.
        (json!({ "alg": "ES256" }), es256, &new, Ok(())),
        (
            json!({ "alg": "ES256" }),
            es256,
            &old,
            Err(TokenError::Invalid),
        ),
        // A good signature under the other key's name, or a name no key has.
        (
            json!({ "alg": "ES256", "kid": new_kid }),
            es256,
            &old,
            Err(TokenError::Invalid),
        ),
        (
            json!({ "alg": "ES256", "kid": "unknown" }),
            es256,
            &new,
            Err(TokenError::Invalid),
        ),
        (
            json!({ "alg": "ES256", "kid": "unknown" }),
            es256,
            &stranger,
            Err(TokenError::Invalid),
        ),
    ];
    for (header, alg, key, expected) in cases {
        assert_eq!(
            answer(&codec, &signed(&header, alg, key)),
            expected,
            "{header}"
        );
    }
}

#[test]
fn an_hmac_token_keyed_with_a_public_key_is_refused() {
    // Algorithm confusion: the public key, which anyone may fetch, used as an HMAC secret.
    for (algorithm, public) in [
        (Algorithm::RS256, RSA_A_PUB),
        (Algorithm::ES256, P256_A_PUB),
        (Algorithm::EdDSA, ED_A_PUB),
    ] {
        let (private, _) = pair(algorithm);
        let keys = Keys::from_pem(algorithm, private, &[public]).unwrap();
        let kid = keys.kid().to_owned();
        let codec = TokenCodec::new(TokenSettings::default(), keys);
        let jwk = codec.keys().jwks()["keys"][0].to_string();
        for secret in [public, jwk.as_bytes()] {
            for header in [
                json!({ "alg": "HS256", "kid": kid }),
                json!({ "alg": "HS256" }),
            ] {
                let token = signed(
                    &header,
                    jsonwebtoken::Algorithm::HS256,
                    &EncodingKey::from_secret(secret),
                );
                assert_eq!(
                    answer(&codec, &token),
                    Err(TokenError::Invalid),
                    "{algorithm}"
                );
            }
        }
        // `none`, naming the key.
        let none = format!(
            "{}.{}.",
            b64(json!({ "alg": "none", "kid": kid }).to_string().as_bytes()),
            b64(access_payload().as_bytes())
        );
        assert_eq!(answer(&codec, &none), Err(TokenError::Invalid));
    }
}
