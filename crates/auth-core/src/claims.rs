//! Minting and verifying tokens with simplejwt's claims.

use std::collections::HashSet;

use jsonwebtoken::Validation;
use serde_json::{Map, Value};

use crate::error::TokenError;
use crate::keys::{KeyError, Keys};
use crate::settings::{TokenSettings, secs};
use crate::types::{FamilyId, Jti, UserId};

/// The claim that carries the token family (session) id.
pub const SESSION_CLAIM: &str = "sid";

/// The two token types jwtd issues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// Short-lived, stateless, sent as `Authorization: Bearer`.
    Access,
    /// Long-lived, stored by hash, rotated on use.
    Refresh,
}

impl TokenKind {
    /// The value of the type claim.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
        }
    }
}

/// The user-id claim as found in a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserClaim {
    /// Absent, null or empty: simplejwt skips every user check then.
    Missing,
    /// A string or integer holding an id.
    Id(UserId),
    /// Present but not an id this server could have issued.
    Unrecognized,
}

/// A token whose signature, algorithm, audience, issuer, times and required claims have been
/// checked. What the database knows about it (blacklist, family) is checked by the caller.
#[derive(Clone, Debug)]
pub struct VerifiedToken {
    /// The type claim, when it names a type jwtd knows.
    pub kind: Option<TokenKind>,
    /// The token id.
    pub jti: Jti,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// The user-id claim.
    pub user: UserClaim,
    /// The family (session) id, when the token carries one.
    pub family: Option<FamilyId>,
    /// Every claim, in the token's order.
    pub claims: Map<String, Value>,
}

/// What a new refresh token says.
#[derive(Clone, Debug)]
pub struct RefreshSpec<'a> {
    /// Its id.
    pub jti: &'a Jti,
    /// Its owner.
    pub user: UserId,
    /// Its family.
    pub family: &'a FamilyId,
    /// Issued-at, Unix seconds.
    pub iat: i64,
    /// Expiry, Unix seconds.
    pub exp: i64,
}

/// Mints and verifies tokens under one set of settings and keys.
#[derive(Clone, Debug)]
pub struct TokenCodec {
    settings: TokenSettings,
    keys: Keys,
    validation: Validation,
}

impl TokenCodec {
    /// Builds a codec; the `jsonwebtoken` validation is prepared once here.
    pub fn new(settings: TokenSettings, keys: Keys) -> Self {
        let mut validation = Validation::new(keys.algorithm.to_jwt());
        validation.algorithms = vec![keys.algorithm.to_jwt()];
        // Times are checked against the caller's `now` below, with simplejwt's messages.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        let mut required = HashSet::new();
        match &settings.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.insert("aud".to_owned());
            }
            None => validation.validate_aud = false,
        }
        if let Some(issuer) = &settings.issuer {
            validation.set_issuer(&[issuer]);
            required.insert("iss".to_owned());
        }
        validation.required_spec_claims = required;
        Self {
            settings,
            keys,
            validation,
        }
    }

    /// The settings this codec was built with.
    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    /// The keys this codec was built with.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Mints a refresh token: `token_type`, `exp`, `iat`, `jti`, the user id (as a string),
    /// `sid`, then `aud`/`iss` when configured.
    ///
    /// Deterministic: the same spec always gives the same token, which is what lets a
    /// rotation retried within the grace window get back the very same successor.
    ///
    /// # Errors
    /// `KeyError::Encode` if signing fails.
    pub fn mint_refresh(&self, spec: &RefreshSpec<'_>) -> Result<String, KeyError> {
        let mut claims = Map::new();
        claims.insert(
            self.settings.token_type_claim.clone(),
            TokenKind::Refresh.as_str().into(),
        );
        claims.insert("exp".to_owned(), spec.exp.into());
        claims.insert("iat".to_owned(), spec.iat.into());
        claims.insert(self.settings.jti_claim.clone(), spec.jti.as_str().into());
        claims.insert(
            self.settings.user_id_claim.clone(),
            spec.user.0.to_string().into(),
        );
        claims.insert(SESSION_CLAIM.to_owned(), spec.family.as_str().into());
        self.encode(claims)
    }

    /// Mints an access token from a refresh token's claims, as simplejwt does: a fresh type,
    /// `exp`, `iat` and `jti`, then every other claim of the refresh token copied over.
    ///
    /// # Errors
    /// `KeyError::Encode` if signing fails.
    pub fn mint_access(
        &self,
        refresh_claims: &Map<String, Value>,
        jti: &Jti,
        now: i64,
    ) -> Result<String, KeyError> {
        let settings = &self.settings;
        let mut claims = Map::new();
        claims.insert(
            settings.token_type_claim.clone(),
            TokenKind::Access.as_str().into(),
        );
        claims.insert(
            "exp".to_owned(),
            now.saturating_add(secs(settings.access_token_lifetime))
                .into(),
        );
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

    /// Mints the claims of a refresh token that was just minted, without decoding it: what
    /// `mint_access` needs when an access token is derived from a fresh refresh token.
    pub fn refresh_claims(&self, spec: &RefreshSpec<'_>) -> Map<String, Value> {
        let mut claims = Map::new();
        claims.insert(
            self.settings.user_id_claim.clone(),
            spec.user.0.to_string().into(),
        );
        claims.insert(SESSION_CLAIM.to_owned(), spec.family.as_str().into());
        claims
    }

    fn encode(&self, mut claims: Map<String, Value>) -> Result<String, KeyError> {
        if let Some(audience) = &self.settings.audience {
            claims.insert("aud".to_owned(), audience.as_str().into());
        }
        if let Some(issuer) = &self.settings.issuer {
            claims.insert("iss".to_owned(), issuer.as_str().into());
        }
        jsonwebtoken::encode(&self.keys.header, &claims, &self.keys.encoding)
            .map_err(KeyError::Encode)
    }

    /// Verifies a token, as simplejwt's `Token(raw)` does, in its order: signature, `alg`,
    /// `aud`/`iss`, expiry (with leeway), immature `iat`/`nbf`, then the `exp`, id and type
    /// claims. `expected` is the type required, or `None` for `/token/verify`, which accepts
    /// either type.
    ///
    /// # Errors
    /// The `TokenError` whose message simplejwt gives for the first failed check.
    pub fn verify(
        &self,
        token: &str,
        expected: Option<TokenKind>,
        now: i64,
    ) -> Result<VerifiedToken, TokenError> {
        let claims = jsonwebtoken::decode::<Map<String, Value>>(
            token,
            &self.keys.decoding,
            &self.validation,
        )
        .map_err(|_| TokenError::Invalid)?
        .claims;
        let leeway = secs(self.settings.leeway);

        let exp = match claims.get("exp") {
            None => None,
            Some(value) => Some(unix_time(value).ok_or(TokenError::Invalid)?),
        };
        if let Some(exp) = exp
            && exp <= now.saturating_sub(leeway)
        {
            return Err(TokenError::Expired);
        }
        for name in ["iat", "nbf"] {
            if let Some(value) = claims.get(name) {
                let at = unix_time(value).ok_or(TokenError::Invalid)?;
                if at > now.saturating_add(leeway) {
                    return Err(TokenError::Invalid);
                }
            }
        }
        for name in ["sub", "jti"] {
            if claims.get(name).is_some_and(|value| !value.is_string()) {
                return Err(TokenError::Invalid);
            }
        }
        let exp = exp.ok_or(TokenError::NoExp)?;
        let jti = match claims.get(&self.settings.jti_claim) {
            Some(Value::String(jti)) => Jti::new(jti.clone()),
            Some(Value::Null) | None => return Err(TokenError::NoId),
            Some(other) => Jti::new(other.to_string()),
        };
        let kind = match claims.get(&self.settings.token_type_claim) {
            None | Some(Value::Null) => None,
            Some(Value::String(kind)) if kind == "access" => Some(TokenKind::Access),
            Some(Value::String(kind)) if kind == "refresh" => Some(TokenKind::Refresh),
            Some(_) => None,
        };
        if let Some(expected) = expected {
            if !claims.contains_key(&self.settings.token_type_claim) {
                return Err(TokenError::NoType);
            }
            if kind != Some(expected) {
                return Err(TokenError::WrongType);
            }
        }
        let user = match claims.get(&self.settings.user_id_claim) {
            None | Some(Value::Null) => UserClaim::Missing,
            Some(Value::String(text)) if text.is_empty() => UserClaim::Missing,
            Some(Value::String(text)) => text
                .parse::<i64>()
                .map_or(UserClaim::Unrecognized, |id| UserClaim::Id(UserId(id))),
            Some(Value::Number(number)) => number
                .as_i64()
                .map_or(UserClaim::Unrecognized, |id| UserClaim::Id(UserId(id))),
            Some(_) => UserClaim::Unrecognized,
        };
        let family = match claims.get(SESSION_CLAIM) {
            Some(Value::String(sid)) => Some(FamilyId::new(sid.clone())),
            _ => None,
        };
        Ok(VerifiedToken {
            kind,
            jti,
            exp,
            user,
            family,
            claims,
        })
    }
}

/// A NumericDate claim as whole Unix seconds; fractions are truncated, as PyJWT does.
fn unix_time(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64().or_else(|| {
            number
                .as_f64()
                .filter(|seconds| seconds.is_finite())
                // Truncation towards zero is the intent; the value is finite.
                .map(|seconds| seconds.trunc() as i64)
        }),
        _ => None,
    }
}
