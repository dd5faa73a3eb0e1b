//! Minted tokens against `jsonwebtoken::encode` of a plain map of owned claims: the same
//! bytes, so the claim order, the replaced and copied claims and `aud`/`iss` are simplejwt's.

use std::time::Duration;

use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Map, Value, json};

use crate::settings::seconds;
use crate::{
    Algorithm, FamilyId, Jti, Keys, RefreshSpec, SESSION_CLAIM, TokenCodec, TokenKind,
    TokenSettings, UserId,
};

const KEY: &[u8] = b"a mint-test key longer than one block of SHA-256 input, which is 64 bytes";
const NOW: i64 = 1_800_000_000;

/// The minting jwtd did on `jsonwebtoken::encode`, from a map of owned claims: the
/// reference every token minted now must equal, byte for byte.
struct Reference<'a> {
    codec: &'a TokenCodec,
    algorithm: Algorithm,
    secret: &'a [u8],
}

impl Reference<'_> {
    fn encode(&self, mut claims: Map<String, Value>) -> String {
        let settings = self.codec.settings();
        if let Some(audience) = &settings.audience {
            claims.insert("aud".to_owned(), audience.as_str().into());
        }
        if let Some(issuer) = &settings.issuer {
            claims.insert("iss".to_owned(), issuer.as_str().into());
        }
        let mut header = Header::new(self.algorithm.to_jwt());
        header.kid = Some(crate::token::keys::hmac_kid(self.algorithm, self.secret));
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(self.secret)).unwrap()
    }

    fn refresh(&self, spec: &RefreshSpec<'_>) -> String {
        let settings = self.codec.settings();
        let mut claims = Map::new();
        claims.insert(settings.token_type_claim.clone(), "refresh".into());
        claims.insert("exp".to_owned(), spec.exp.into());
        claims.insert("iat".to_owned(), spec.iat.into());
        claims.insert(settings.jti_claim.clone(), spec.jti.as_str().into());
        claims.insert(
            settings.user_id_claim.clone(),
            spec.user.0.to_string().into(),
        );
        claims.insert(SESSION_CLAIM.to_owned(), spec.family.as_str().into());
        self.encode(claims)
    }

    fn access(&self, refresh_claims: &Map<String, Value>, jti: &Jti, now: i64) -> String {
        let settings = self.codec.settings();
        let mut claims = Map::new();
        claims.insert(settings.token_type_claim.clone(), "access".into());
        let exp = now.saturating_add(seconds(settings.access_token_lifetime));
        claims.insert("exp".to_owned(), exp.into());
        claims.insert("iat".to_owned(), now.into());
        claims.insert(settings.jti_claim.clone(), jti.as_str().into());
        for (name, value) in refresh_claims {
            let skipped = name == &settings.token_type_claim
                || name == "exp"
                || name == "iat"
                || name == "jti"
                || name == &settings.jti_claim;
            if !skipped {
                claims.insert(name.clone(), value.clone());
            }
        }
        self.encode(claims)
    }

    /// The claims login gave `mint_access`: the refresh token's user and session.
    fn login_claims(&self, spec: &RefreshSpec<'_>) -> Map<String, Value> {
        let mut claims = Map::new();
        claims.insert(
            self.codec.settings().user_id_claim.clone(),
            spec.user.0.to_string().into(),
        );
        claims.insert(SESSION_CLAIM.to_owned(), spec.family.as_str().into());
        claims
    }
}

fn settings() -> Vec<TokenSettings> {
    let configured = |configure: fn(&mut TokenSettings)| {
        let mut settings = TokenSettings::default();
        configure(&mut settings);
        settings
    };
    vec![
        TokenSettings::default(),
        configured(|settings| {
            settings.audience = Some("jwtd \"quoted\" \u{e9}".to_owned());
            settings.issuer = Some("https://issuer.example/\n".to_owned());
            settings.access_token_lifetime = Duration::from_secs(1);
        }),
        configured(|settings| {
            settings.user_id_claim = "sub".to_owned();
            settings.jti_claim = "id".to_owned();
            settings.token_type_claim = "typ".to_owned();
        }),
        // Names that collide: the later value takes the earlier place, as in a map.
        configured(|settings| {
            settings.user_id_claim = "sid".to_owned();
            settings.jti_claim = "exp".to_owned();
            settings.token_type_claim = "iat".to_owned();
            settings.audience = Some("a".to_owned());
        }),
        configured(|settings| {
            settings.user_id_claim = "aud".to_owned();
            settings.audience = Some("a".to_owned());
            settings.issuer = Some("i".to_owned());
        }),
    ]
}

/// Refresh claims as they arrive from tokens jwtd did not necessarily mint: extra claims
/// of every JSON type, names that are replaced, and escapes.
fn foreign_claims() -> Vec<Map<String, Value>> {
    let map = |value: Value| match value {
        Value::Object(map) => map,
        _ => unreachable!("an object"),
    };
    vec![
        Map::new(),
        map(json!({ "user_id": 7, "sid": "family", "extra": [1, {"a": null}], "f": 1.5 })),
        map(
            json!({ "token_type": "refresh", "exp": 1, "iat": 2, "jti": "j", "id": "x",
                    "typ": "t", "quote\"d": "line\nbreak", "n": -3, "b": true }),
        ),
        map(json!({ "aud": ["x", "y"], "iss": "other", "sub": "42" })),
    ]
}

#[test]
fn minted_tokens_are_byte_for_byte_what_jsonwebtoken_encode_wrote() {
    let family = FamilyId::new("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".to_owned());
    let jti = Jti::new("9f8e7d6c5b4a39281706f5e4d3c2b1a0".to_owned());
    let access_jti = Jti::new("access \"jti\"".to_owned());
    let mut compared = 0;
    for algorithm in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        for secret in [KEY, b"k".as_slice()] {
            for settings in settings() {
                let codec = TokenCodec::new(settings, Keys::hmac(algorithm, secret).unwrap());
                let reference = Reference {
                    codec: &codec,
                    algorithm,
                    secret,
                };
                for (user, iat) in [(UserId(42), NOW), (UserId(-1), 0), (UserId(i64::MAX), -5)] {
                    let spec = RefreshSpec {
                        jti: &jti,
                        user,
                        family: &family,
                        iat,
                        exp: iat.saturating_add(86_400),
                    };
                    assert_eq!(codec.mint_refresh(&spec).unwrap(), reference.refresh(&spec));
                    assert_eq!(
                        codec.mint_access_for(&spec, &access_jti, iat).unwrap(),
                        reference.access(&reference.login_claims(&spec), &access_jti, iat),
                    );
                    for claims in foreign_claims() {
                        assert_eq!(
                            codec.mint_access(&claims, &access_jti, iat).unwrap(),
                            reference.access(&claims, &access_jti, iat),
                        );
                    }
                    compared += 1;
                }
            }
        }
    }
    assert_eq!(compared, 3 * 2 * settings().len() * 3);
}

#[test]
fn the_access_token_of_a_login_is_the_one_derived_from_its_decoded_refresh_token() {
    let family = FamilyId::new("family".to_owned());
    let jti = Jti::new("refresh-jti".to_owned());
    let access_jti = Jti::new("access-jti".to_owned());
    for settings in settings().into_iter().take(3) {
        let codec = TokenCodec::new(settings, Keys::hmac(Algorithm::HS256, KEY).unwrap());
        let spec = RefreshSpec {
            jti: &jti,
            user: UserId(5),
            family: &family,
            iat: NOW,
            exp: NOW + 3_600,
        };
        let refresh = codec.mint_refresh(&spec).unwrap();
        let decoded = codec
            .verify(&refresh, Some(TokenKind::Refresh), NOW)
            .unwrap();
        let access = codec.mint_access_for(&spec, &access_jti, NOW).unwrap();
        assert_eq!(
            access,
            codec
                .mint_access(&decoded.claims, &access_jti, NOW)
                .unwrap()
        );
        let verified = codec.verify(&access, Some(TokenKind::Access), NOW).unwrap();
        assert_eq!(verified.jti, access_jti);
        assert_eq!(verified.family.as_ref(), Some(&family));
        assert_eq!(verified.user, crate::UserClaim::Id(UserId(5)));
    }
}
