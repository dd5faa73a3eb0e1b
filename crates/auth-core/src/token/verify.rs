//! Verifying tokens: jsonwebtoken's `decode` checks the JWS, then simplejwt's claim rules.

use std::collections::HashSet;
use std::fmt;

use jsonwebtoken::{DecodingKey, TokenData, Validation};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::TokenCodec;
use super::keys::VerifyingKey;
use super::kinds::{CheckedToken, SESSION_CLAIM, TokenKind, UserClaim, VerifiedToken};
use crate::error::TokenError;
use crate::settings::{TokenSettings, seconds};
use crate::types::{FamilyId, Jti, UserId};
use claims::{Claims, ReadClaims};
pub(super) use own::OwnTokens;

/// A verifying key with the `Validation` jsonwebtoken checks tokens against, built once.
#[derive(Clone)]
pub(super) struct Verifier {
    kid: String,
    /// Whether tokens naming no `kid` are verified with this key (the signing key's).
    unnamed: bool,
    key: DecodingKey,
    validation: Validation,
}

impl Verifier {
    /// The library's checks for tokens of `key`: exactly its algorithm; `aud` and `iss`
    /// required and matched when configured. Its clock checks are off: `exp`, `iat` and `nbf`
    /// are checked against the caller's `now` by [`check_claims`], and a token without `exp`
    /// is refused there, with simplejwt's own message.
    pub(super) fn new(key: &VerifyingKey, settings: &TokenSettings) -> Self {
        let mut validation = Validation::new(key.algorithm.to_jwt());
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        let mut required = HashSet::new();
        match &settings.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.insert("aud".to_owned());
            }
            // simplejwt verifies `aud` only when an audience is configured.
            None => validation.validate_aud = false,
        }
        if let Some(issuer) = &settings.issuer {
            validation.set_issuer(&[issuer]);
            required.insert("iss".to_owned());
        }
        validation.required_spec_claims = required;
        Self {
            kid: key.kid.clone(),
            unnamed: key.unnamed,
            key: key.key.clone(),
            validation,
        }
    }

    /// Whether a token naming `kid` may be verified with this key: one naming it, or, for
    /// the signing key, one naming none (simplejwt writes no `kid`).
    fn accepts(&self, kid: Option<&str>) -> bool {
        match kid {
            Some(kid) => self.kid == kid,
            None => self.unnamed,
        }
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("kid", &self.kid)
            .field("algorithms", &self.validation.algorithms)
            .finish_non_exhaustive()
    }
}

impl TokenCodec {
    /// Verifies a token, as simplejwt's `Token(raw)` does, in its order: signature, `alg`,
    /// `aud`/`iss`, expiry (with leeway), immature `iat`/`nbf`, then the `exp`, id and type
    /// claims. `expected` is the type required, or `None` for `/token/verify`, which accepts
    /// either type. Returns every claim too; [`Self::check`] is the same without them.
    ///
    /// # Errors
    /// The `TokenError` whose message simplejwt gives for the first failed check.
    pub fn verify(
        &self,
        token: &str,
        expected: Option<TokenKind>,
        now: i64,
    ) -> Result<VerifiedToken, TokenError> {
        let data = self.decode::<Map<String, Value>>(token.as_bytes())?;
        let checked = self.check_decoded(&data, expected, now)?;
        Ok(VerifiedToken {
            checked,
            claims: data.claims,
        })
    }

    /// [`Self::verify`] without keeping the claims: every check is the same, for callers
    /// that only need the token's type, id, expiry, user and session (`/me`, `/token/verify`).
    /// The token may be given as bytes (an `Authorization` header's value): bytes that are
    /// not UTF-8 are refused as `Invalid`, as they would be as text.
    ///
    /// # Errors
    /// As [`Self::verify`].
    pub fn check(
        &self,
        token: impl AsRef<[u8]>,
        expected: Option<TokenKind>,
        now: i64,
    ) -> Result<CheckedToken, TokenError> {
        let token = token.as_ref();
        if !self.settings.default_claim_names() {
            let data = self.decode::<Map<String, Value>>(token)?;
            return self.check_decoded(&data, expected, now);
        }
        // The own path runs under simplejwt's profile only, where the header's `typ` is unread.
        if let Some(claims) = self
            .own
            .as_ref()
            .and_then(|own| own.claims::<ReadClaims>(token))
        {
            return check_claims(&claims?, &self.settings, expected, now);
        }
        let data = self.decode::<ReadClaims>(token)?;
        self.check_decoded(&data, expected, now)
    }

    /// simplejwt's claim checks of a token the library decoded, then the access-token
    /// profile's check of its `typ` header.
    fn check_decoded(
        &self,
        data: &TokenData<impl Claims>,
        expected: Option<TokenKind>,
        now: i64,
    ) -> Result<CheckedToken, TokenError> {
        let checked = check_claims(&data.claims, &self.settings, expected, now)?;
        self.settings
            .access_token_profile
            .check_typ(data.header.typ.as_deref(), checked.kind)?;
        Ok(checked)
    }

    /// This codec with every token decoded by the library: what the own-token path is
    /// compared against.
    #[cfg(test)]
    pub(super) fn without_own_path(mut self) -> Self {
        self.own = None;
        self
    }

    /// Whether `check` decodes tokens with this header segment on the own-token path.
    #[cfg(test)]
    pub(super) fn has_own_path(&self) -> bool {
        self.own.is_some()
    }

    /// A token jsonwebtoken finds well-formed, signed by one of our keys with its algorithm,
    /// and naming our audience and issuer when configured: its header and claims.
    fn decode<C: DeserializeOwned>(&self, token: &[u8]) -> Result<TokenData<C>, TokenError> {
        let verifier = match self.verifiers.as_slice() {
            // One key: the library reads the header once, in `decode`.
            [only] => only,
            several => {
                let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
                let kid = header.kid.as_deref();
                // A `kid` no key has is refused here, before any signature is checked.
                several
                    .iter()
                    .find(|verifier| verifier.accepts(kid))
                    .ok_or(TokenError::Invalid)?
            }
        };
        let data = jsonwebtoken::decode::<C>(token, &verifier.key, &verifier.validation)
            .map_err(|_| TokenError::Invalid)?;
        // RFC 7515 §4.1.11: jwtd understands no header extension, so a token that lists any
        // as critical must be refused. `jku`, `x5u` and `jwk` are never read: the key is ours,
        // chosen by `kid` alone, and the algorithm is that key's, whatever `alg` says.
        if data.header.crit.is_some() || !verifier.accepts(data.header.kid.as_deref()) {
            return Err(TokenError::Invalid);
        }
        Ok(data)
    }
}

/// simplejwt's checks of a decoded token's claims, in its order, each with its error.
fn check_claims(
    claims: &impl Claims,
    settings: &TokenSettings,
    expected: Option<TokenKind>,
    now: i64,
) -> Result<CheckedToken, TokenError> {
    let leeway = seconds(settings.leeway);
    // PyJWT's checks first: a malformed or passed `exp`, an `iat`/`nbf` in the future.
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
    // Then simplejwt's own: `exp`, the id, the type.
    let exp = exp.ok_or(TokenError::NoExp)?;
    let jti = match claims.get(&settings.jti_claim) {
        Some(Value::String(jti)) => Jti::new(jti.as_str()),
        Some(Value::Null) | None => return Err(TokenError::NoId),
        Some(other) => Jti::new(other.to_string()),
    };
    let kind_claim = claims.get(&settings.token_type_claim);
    let kind = match kind_claim {
        Some(Value::String(kind)) if kind == "access" => Some(TokenKind::Access),
        Some(Value::String(kind)) if kind == "refresh" => Some(TokenKind::Refresh),
        _ => None,
    };
    if let Some(expected) = expected {
        if kind_claim.is_none() {
            return Err(TokenError::NoType);
        }
        if kind != Some(expected) {
            return Err(TokenError::WrongType);
        }
    }
    let user = match claims.get(&settings.user_id_claim) {
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
        Some(Value::String(sid)) => Some(FamilyId::new(sid.as_str())),
        _ => None,
    };
    Ok(CheckedToken {
        kind,
        jti,
        exp,
        user,
        family,
    })
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

mod claims;
#[cfg(test)]
mod corpus;
#[cfg(test)]
mod fuzz;
mod own;
#[cfg(test)]
mod tests;
