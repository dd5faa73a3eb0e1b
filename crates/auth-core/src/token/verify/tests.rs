//! What jwtd refuses in a token's header whatever its claims say: critical extensions, other
//! algorithms, keys named by the token; and how a verifying key is chosen by `kid`.

use jsonwebtoken::Algorithm as Alg;

use super::corpus::{HEADER, KEY, NOW, access_payload, b64, codec, signed, signed_with};
use crate::token::keys::hmac_kid;
use crate::{Algorithm, Keys, TokenCodec, TokenError, TokenKind, TokenSettings};

fn answer(codec: &TokenCodec, token: impl AsRef<[u8]>) -> Result<(), TokenError> {
    codec.check(token, Some(TokenKind::Access), NOW).map(|_| ())
}

#[test]
fn a_token_listing_critical_header_parameters_is_refused() {
    let codec = codec(|_| {});
    // The same header without `crit` is accepted: only `crit` makes the difference.
    for (with_crit, without) in [
        (r#"{"alg":"HS256","crit":["exp"]}"#, r#"{"alg":"HS256"}"#),
        (r#"{"alg":"HS256","crit":[]}"#, r#"{"alg":"HS256"}"#),
        (
            r#"{"alg":"HS256","crit":["x-ext"],"x-ext":"v"}"#,
            r#"{"alg":"HS256","x-ext":"v"}"#,
        ),
    ] {
        assert_eq!(
            answer(&codec, signed(without, &access_payload(""), false)),
            Ok(())
        );
        let token = signed(with_crit, &access_payload(""), false);
        assert_eq!(
            answer(&codec, &token),
            Err(TokenError::Invalid),
            "{with_crit}"
        );
        assert_eq!(
            codec.verify(&token, None, NOW).map(|_| ()),
            Err(TokenError::Invalid)
        );
    }
}

#[test]
fn a_token_of_another_algorithm_or_none_is_refused() {
    let codec = codec(|_| {});
    assert_eq!(
        answer(&codec, signed(HEADER, &access_payload(""), false)),
        Ok(())
    );
    for (header, alg) in [
        (r#"{"alg":"HS512","typ":"JWT"}"#, Alg::HS512),
        // Another size of HMAC, signed with the very same secret.
        (r#"{"alg":"HS384","typ":"JWT"}"#, Alg::HS384),
        (r#"{"alg":"HS384"}"#, Alg::HS384),
    ] {
        let token = signed_with(header, access_payload(""), alg, KEY);
        assert_eq!(answer(&codec, &token), Err(TokenError::Invalid), "{header}");
    }
    // An HS256 token under an HS384 key of the same secret.
    let hs384 = TokenCodec::new(
        TokenSettings::default(),
        Keys::hmac(Algorithm::HS384, KEY).unwrap(),
    );
    let token = signed(HEADER, &access_payload(""), false);
    assert_eq!(answer(&hs384, &token), Err(TokenError::Invalid));
    // `none`, with no signature, an empty one, or one made with the key.
    let payload = b64(access_payload("").as_bytes());
    for header in [r#"{"alg":"none"}"#, r#"{"alg":"none","typ":"JWT"}"#] {
        let message = format!("{}.{payload}", b64(header.as_bytes()));
        let keyed = signed(header, &access_payload(""), false);
        for token in [format!("{message}."), message.clone(), keyed] {
            assert_eq!(answer(&codec, &token), Err(TokenError::Invalid), "{token}");
        }
    }
}

#[test]
fn keys_named_by_the_token_are_ignored() {
    let codec = codec(|_| {});
    let other_key = b"a key the token's sender chose";
    let jwk = format!(r#"{{"kty":"oct","k":"{}"}}"#, b64(other_key));
    for header in [
        r#"{"alg":"HS256","jku":"https://attacker.example/jwks.json"}"#.to_owned(),
        r#"{"alg":"HS256","x5u":"https://attacker.example/cert.pem"}"#.to_owned(),
        format!(r#"{{"alg":"HS256","jwk":{jwk}}}"#),
        format!(r#"{{"alg":"HS256","jku":"https://attacker.example/","jwk":{jwk}}}"#),
    ] {
        // Signed with jwtd's key, the header changes nothing...
        let ours = signed_with(&header, access_payload(""), Alg::HS256, KEY);
        assert_eq!(answer(&codec, &ours), Ok(()), "{header}");
        // ...and signed with the key it names or points to, the token is refused.
        let theirs = signed_with(&header, access_payload(""), Alg::HS256, other_key);
        assert_eq!(
            answer(&codec, &theirs),
            Err(TokenError::Invalid),
            "{header}"
        );
    }
}

#[test]
fn a_token_given_as_bytes_that_are_not_utf8_is_refused_as_invalid() {
    let codec = codec(|_| {});
    let good = signed(HEADER, &access_payload(""), false);
    assert_eq!(answer(&codec, good.as_bytes()), Ok(()));
    let (message, signature) = good.rsplit_once('.').unwrap();
    let (header, payload) = message.split_once('.').unwrap();
    let with_byte = |before: &str, after: &str| {
        let mut token = before.as_bytes().to_vec();
        token.push(0xe9);
        token.extend_from_slice(after.as_bytes());
        token
    };
    let mut latin1 = access_payload(r#","note":"?""#).into_bytes();
    if let Some(byte) = latin1.iter_mut().rev().find(|byte| **byte == b'?') {
        *byte = 0xe9;
    }
    for token in [
        with_byte(&format!("{header}.{payload}"), &format!(".{signature}")),
        with_byte(&format!("{message}."), signature),
        with_byte(header, &format!(".{payload}.{signature}")),
        with_byte("", &good),
        with_byte(&good, ""),
        // Correctly signed, with a byte that is not UTF-8 inside a claim's text.
        signed_with(HEADER, latin1, Alg::HS256, KEY).into_bytes(),
    ] {
        assert_eq!(
            answer(&codec, &token),
            Err(TokenError::Invalid),
            "{}",
            String::from_utf8_lossy(&token)
        );
    }
}

#[test]
fn the_verifying_key_is_the_one_the_token_names_by_kid() {
    let old_secret: &[u8] = b"the key that signed yesterday";
    let new = hmac_kid(Algorithm::HS256, KEY);
    let old = hmac_kid(Algorithm::HS512, old_secret);
    let keys = Keys::hmac(Algorithm::HS256, KEY)
        .unwrap()
        .also_verifying(Keys::hmac(Algorithm::HS512, old_secret).unwrap());
    let codec = TokenCodec::new(TokenSettings::default(), keys);
    let payload = access_payload("");
    let named = |alg: &str, kid: &str| format!(r#"{{"alg":"{alg}","kid":"{kid}"}}"#);
    let cases = [
        (named("HS256", &new), Alg::HS256, KEY, Ok(())),
        (named("HS512", &old), Alg::HS512, old_secret, Ok(())),
        // Each key with its own algorithm only.
        (
            named("HS256", &old),
            Alg::HS256,
            old_secret,
            Err(TokenError::Invalid),
        ),
        // A good signature under the other key's name.
        (
            named("HS256", &old),
            Alg::HS256,
            KEY,
            Err(TokenError::Invalid),
        ),
        (
            named("HS512", &new),
            Alg::HS512,
            old_secret,
            Err(TokenError::Invalid),
        ),
        // No kid: the signing key only.
        (r#"{"alg":"HS256"}"#.to_owned(), Alg::HS256, KEY, Ok(())),
        (
            r#"{"alg":"HS512"}"#.to_owned(),
            Alg::HS512,
            old_secret,
            Err(TokenError::Invalid),
        ),
        // A kid no key has, even over a good signature.
        (
            named("HS256", "other"),
            Alg::HS256,
            KEY,
            Err(TokenError::Invalid),
        ),
    ];
    for (header, alg, secret, expected) in cases {
        let token = signed_with(&header, &payload, alg, secret);
        assert_eq!(answer(&codec, &token), expected, "{header}");
    }
    // What jwtd mints names the signing key, and verifies.
    let minted = codec
        .mint_access(&serde_json::Map::new(), &crate::Jti::new("j"), NOW)
        .unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(&minted).unwrap().kid.as_deref(),
        Some(new.as_str())
    );
    assert!(codec.check(&minted, Some(TokenKind::Access), NOW).is_ok());
    // A single key verifies tokens naming it or none, and no others.
    let single = super::corpus::codec(|_| {});
    for (header, expected) in [
        (named("HS256", &new), Ok(())),
        (HEADER.to_owned(), Ok(())),
        (named("HS256", &old), Err(TokenError::Invalid)),
    ] {
        assert_eq!(
            answer(&single, signed_with(&header, &payload, Alg::HS256, KEY)),
            expected,
            "{header}"
        );
    }
}
