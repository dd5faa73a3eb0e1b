//! Minting tokens with simplejwt's claims.
//!
//! A token is written as `jsonwebtoken::encode` writes it (the same header segment, the
//! claims serialized in the same order, the same signature), byte for byte, but without what
//! `encode` redoes on every call: it builds the HMAC's key pads from the secret and
//! serializes the header again, and the claims it is given are a map whose every name and
//! text is its own heap string. Here the key is the one keyed at start-up, the header is the
//! segment encoded then, and the claims are a short list of borrowed names and values.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::claims::{RefreshSpec, SESSION_CLAIM, TokenCodec, TokenKind};
use crate::keys::{KeyError, MAX_SIGNATURE};
use crate::settings::secs;
use crate::types::{Jti, UserId};

/// A claim's value in a token being minted.
#[derive(Clone, Copy, Debug)]
enum Minted<'a> {
    Text(&'a str),
    Number(i64),
    /// A user id, written as a string, as simplejwt writes it.
    User(UserId),
    /// A claim copied from another token.
    Json(&'a Value),
}

impl Serialize for Minted<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Text(text) => serializer.serialize_str(text),
            Self::Number(number) => serializer.serialize_i64(*number),
            Self::User(user) => serializer.collect_str(&user.0),
            Self::Json(value) => value.serialize(serializer),
        }
    }
}

/// The claims of a token being minted, in the order they were first set. Setting a name
/// again replaces its value in place, as inserting into a JSON object map does, so a
/// configured claim name that collides with another gives the token the map gave it.
struct Claims<'a> {
    list: Vec<(&'a str, Minted<'a>)>,
}

impl<'a> Claims<'a> {
    /// Room for the registered claims, two more for `aud` and `iss`, and `extra`.
    fn with_room_for(extra: usize) -> Self {
        Self {
            list: Vec::with_capacity(8 + extra),
        }
    }

    fn set(&mut self, name: &'a str, value: Minted<'a>) {
        match self.list.iter_mut().find(|(set, _)| *set == name) {
            Some((_, slot)) => *slot = value,
            None => self.list.push((name, value)),
        }
    }
}

impl Serialize for Claims<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.list.len()))?;
        for (name, value) in &self.list {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// Base64url characters (unpadded) for `bytes` bytes.
fn base64_len(bytes: usize) -> usize {
    (bytes * 4).div_ceil(3)
}

impl TokenCodec {
    /// Mints a refresh token: `token_type`, `exp`, `iat`, `jti`, the user id (as a string),
    /// `sid`, then `aud`/`iss` when configured.
    ///
    /// Deterministic: the same spec always gives the same token, which is what lets a
    /// rotation retried within the grace window get back the very same successor.
    ///
    /// # Errors
    /// `KeyError::Encode` if the claims cannot be serialized.
    pub fn mint_refresh(&self, spec: &RefreshSpec<'_>) -> Result<String, KeyError> {
        let settings = self.settings();
        let mut claims = Claims::with_room_for(0);
        claims.set(
            &settings.token_type_claim,
            Minted::Text(TokenKind::Refresh.as_str()),
        );
        claims.set("exp", Minted::Number(spec.exp));
        claims.set("iat", Minted::Number(spec.iat));
        claims.set(&settings.jti_claim, Minted::Text(spec.jti.as_str()));
        claims.set(&settings.user_id_claim, Minted::User(spec.user));
        claims.set(SESSION_CLAIM, Minted::Text(spec.family.as_str()));
        self.encode(claims)
    }

    /// Mints an access token from a refresh token's claims, as simplejwt does: a fresh type,
    /// `exp`, `iat` and `jti`, then every other claim of the refresh token copied over.
    ///
    /// # Errors
    /// `KeyError::Encode` if the claims cannot be serialized.
    pub fn mint_access(
        &self,
        refresh_claims: &Map<String, Value>,
        jti: &Jti,
        now: i64,
    ) -> Result<String, KeyError> {
        let copied = refresh_claims
            .iter()
            .map(|(name, value)| (name.as_str(), Minted::Json(value)));
        self.mint_access_copying(copied, jti, now)
    }

    /// The access token [`Self::mint_access`] derives from the refresh token `spec`
    /// describes, without that token's claims decoded: what a login issues with it.
    ///
    /// # Errors
    /// `KeyError::Encode` if the claims cannot be serialized.
    pub fn mint_access_for(
        &self,
        spec: &RefreshSpec<'_>,
        jti: &Jti,
        now: i64,
    ) -> Result<String, KeyError> {
        // The claims of the refresh token that `mint_access` does not replace.
        let copied = [
            (
                self.settings().user_id_claim.as_str(),
                Minted::User(spec.user),
            ),
            (SESSION_CLAIM, Minted::Text(spec.family.as_str())),
        ];
        self.mint_access_copying(copied.into_iter(), jti, now)
    }

    fn mint_access_copying<'a>(
        &'a self,
        copied: impl ExactSizeIterator<Item = (&'a str, Minted<'a>)>,
        jti: &'a Jti,
        now: i64,
    ) -> Result<String, KeyError> {
        let settings = self.settings();
        let mut claims = Claims::with_room_for(copied.len());
        claims.set(
            &settings.token_type_claim,
            Minted::Text(TokenKind::Access.as_str()),
        );
        let exp = now.saturating_add(secs(settings.access_token_lifetime));
        claims.set("exp", Minted::Number(exp));
        claims.set("iat", Minted::Number(now));
        claims.set(&settings.jti_claim, Minted::Text(jti.as_str()));
        for (name, value) in copied {
            let replaced = name == settings.token_type_claim
                || name == "exp"
                || name == "iat"
                || name == "jti"
                || name == settings.jti_claim;
            if !replaced {
                claims.set(name, value);
            }
        }
        self.encode(claims)
    }

    /// `header.payload.signature`, as `jsonwebtoken::encode` writes it, in one string.
    fn encode<'a>(&'a self, mut claims: Claims<'a>) -> Result<String, KeyError> {
        let settings = self.settings();
        if let Some(audience) = &settings.audience {
            claims.set("aud", Minted::Text(audience));
        }
        if let Some(issuer) = &settings.issuer {
            claims.set("iss", Minted::Text(issuer));
        }
        let mut payload = Vec::with_capacity(256);
        serde_json::to_writer(&mut payload, &claims)
            .map_err(|error| KeyError::Encode(error.into()))?;
        let keys = self.keys();
        let header = keys.header_segment.as_str();
        let mut token = String::with_capacity(
            header.len() + 2 + base64_len(payload.len()) + base64_len(MAX_SIGNATURE),
        );
        token.push_str(header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let signature = keys.sign(token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.as_bytes(), &mut token);
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    use super::*;
    use crate::{Algorithm, FamilyId, Keys, TokenSettings};

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
            jsonwebtoken::encode(
                &Header::new(self.algorithm.to_jwt()),
                &claims,
                &EncodingKey::from_secret(self.secret),
            )
            .unwrap()
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
            let exp = now.saturating_add(secs(settings.access_token_lifetime));
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
                    for (user, iat) in [(UserId(42), NOW), (UserId(-1), 0), (UserId(i64::MAX), -5)]
                    {
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
}
