//! The profile's rules on their own, then tokens minted and verified under each profile.

use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Map, Value};

use super::*;
use crate::{Algorithm, FamilyId, Jti, Keys, RefreshSpec, TokenCodec, TokenSettings, UserId};

const KEY: &[u8] = b"a profile-test key, at least as long as SHA-256's output";
const NOW: i64 = 1_800_000_000;

fn rfc9068() -> AccessTokenProfile {
    AccessTokenProfile::parse("rfc9068", "spa").unwrap()
}

#[test]
fn names_round_trip_and_unknown_names_are_refused() {
    for name in AccessTokenProfile::NAMES {
        assert_eq!(AccessTokenProfile::parse(name, "x").unwrap().as_str(), name);
    }
    assert_eq!(AccessTokenProfile::parse("RFC9068", "x"), None);
    assert_eq!(AccessTokenProfile::parse("", "x"), None);
    assert_eq!(rfc9068().client_id(), Some("spa"));
    assert_eq!(AccessTokenProfile::Simplejwt.client_id(), None);
}

#[test]
fn rfc9068_ties_at_jwt_to_access_tokens_both_ways() {
    let profile = rfc9068();
    let access = Some(TokenKind::Access);
    let refresh = Some(TokenKind::Refresh);
    assert!(profile.check_typ(Some("at+jwt"), access).is_ok());
    assert!(
        profile
            .check_typ(Some("application/AT+JWT"), access)
            .is_ok()
    );
    assert!(profile.check_typ(Some("JWT"), refresh).is_ok());
    assert!(profile.check_typ(None, refresh).is_ok());
    // An access token without the media type: one minted before the profile was on.
    assert_eq!(
        profile.check_typ(Some("JWT"), access),
        Err(TokenError::Invalid)
    );
    assert_eq!(profile.check_typ(None, access), Err(TokenError::Invalid));
    // A refresh token, or a token of no known type, dressed as an access token.
    assert_eq!(
        profile.check_typ(Some("at+jwt"), refresh),
        Err(TokenError::Invalid)
    );
    assert_eq!(
        profile.check_typ(Some("at+jwt"), None),
        Err(TokenError::Invalid)
    );
}

#[test]
fn simplejwt_reads_no_typ() {
    let profile = AccessTokenProfile::Simplejwt;
    for typ in [None, Some("JWT"), Some("at+jwt"), Some("anything")] {
        for kind in [None, Some(TokenKind::Access), Some(TokenKind::Refresh)] {
            assert!(profile.check_typ(typ, kind).is_ok());
        }
    }
}

fn codec(profile: AccessTokenProfile) -> TokenCodec {
    let settings = TokenSettings {
        audience: Some("https://api.example".to_owned()),
        issuer: Some("https://auth.example".to_owned()),
        access_token_profile: profile,
        ..TokenSettings::default()
    };
    TokenCodec::new(settings, Keys::hmac(Algorithm::HS256, KEY).unwrap())
}

/// A login's pair of tokens: refresh, then access.
fn login(codec: &TokenCodec) -> (String, String) {
    let (jti, family) = (Jti::new("refresh-1"), FamilyId::new("family-1"));
    let spec = RefreshSpec {
        jti: &jti,
        user: UserId(42),
        family: &family,
        iat: NOW,
        exp: NOW + 3600,
    };
    let refresh = codec.mint_refresh(&spec).unwrap();
    let access = codec
        .mint_access_for(&spec, &Jti::new("access-1"), NOW)
        .unwrap();
    (refresh, access)
}

fn header_and_claims(token: &str) -> (Header, Map<String, Value>) {
    let header = jsonwebtoken::decode_header(token).unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let json =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap();
    (header, serde_json::from_slice(&json).unwrap())
}

/// `token` re-signed with the same key and claims under another `typ`.
fn retyped(token: &str, typ: &str) -> String {
    let (mut header, claims) = header_and_claims(token);
    header.typ = Some(typ.to_owned());
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(KEY)).unwrap()
}

#[test]
fn rfc9068_access_tokens_are_typed_and_carry_sub_and_client_id() {
    let codec = codec(rfc9068());
    let (refresh, access) = login(&codec);
    let (header, claims) = header_and_claims(&access);
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(claims["sub"], "42");
    assert_eq!(claims["client_id"], "spa");
    assert_eq!(claims["aud"], "https://api.example");
    assert_eq!(claims["iss"], "https://auth.example");
    // simplejwt's claims stay, for the clients that read them.
    assert_eq!(claims["user_id"], "42");
    assert_eq!(claims["token_type"], "access");
    assert_eq!(claims["jti"], "access-1");
    assert!(claims["exp"].is_i64() && claims["iat"].is_i64());
    // Refresh tokens are simplejwt's under either profile.
    let (header, claims) = header_and_claims(&refresh);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert!(!claims.contains_key("client_id") && !claims.contains_key("sub"));
    // An access token minted from a refresh token's claims (a refresh) is the same shape.
    let verified = codec
        .verify(&refresh, Some(TokenKind::Refresh), NOW)
        .unwrap();
    let refreshed = codec
        .mint_access(&verified.claims, &Jti::new("access-2"), NOW)
        .unwrap();
    let (header, claims) = header_and_claims(&refreshed);
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(
        (&claims["sub"], &claims["client_id"]),
        (&"42".into(), &"spa".into())
    );
    assert!(
        codec
            .check(&refreshed, Some(TokenKind::Access), NOW)
            .is_ok()
    );
}

#[test]
fn rfc9068_verification_ties_the_typ_header_to_the_token_type() {
    let codec = codec(rfc9068());
    let (refresh, access) = login(&codec);
    assert!(codec.check(&access, Some(TokenKind::Access), NOW).is_ok());
    assert!(codec.verify(&access, None, NOW).is_ok());
    assert!(codec.check(&refresh, Some(TokenKind::Refresh), NOW).is_ok());
    // An access token from before the profile was turned on: same key, typed `JWT`.
    let (_, simplejwt_access) = login(&self::codec(AccessTokenProfile::Simplejwt));
    for expected in [Some(TokenKind::Access), None] {
        assert_eq!(
            codec.check(&simplejwt_access, expected, NOW).unwrap_err(),
            TokenError::Invalid
        );
        assert_eq!(
            codec
                .check(retyped(&access, "JWT"), expected, NOW)
                .unwrap_err(),
            TokenError::Invalid
        );
    }
    // A refresh token typed as an access token refreshes nothing.
    assert_eq!(
        codec
            .verify(&retyped(&refresh, "at+jwt"), Some(TokenKind::Refresh), NOW)
            .unwrap_err(),
        TokenError::Invalid
    );
}

#[test]
fn simplejwt_profile_mints_simplejwt_tokens_and_ignores_typ() {
    let codec = codec(AccessTokenProfile::Simplejwt);
    let (_, access) = login(&codec);
    let (header, claims) = header_and_claims(&access);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert!(!claims.contains_key("client_id") && !claims.contains_key("sub"));
    // A profile token is still a valid access token to a simplejwt-profile codec.
    let (_, profiled) = login(&self::codec(rfc9068()));
    assert!(codec.check(&profiled, Some(TokenKind::Access), NOW).is_ok());
}
