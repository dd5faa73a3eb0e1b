//! `AuthenticatedUser`: the access-token extractor, with simplejwt's `JWTAuthentication`
//! rules and error bodies.

use auth_core::{FamilyId, TokenKind, UserClaim};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::AppState;
use crate::error::ApiError;
use crate::users::CachedUser;

/// The user behind a valid `Authorization: Bearer <access token>`.
#[derive(Clone, Debug)]
pub struct AuthenticatedUser {
    /// The user, as read within the last second (see `users::UserCache`).
    pub user: CachedUser,
    /// The session the access token was minted in, if it says.
    pub family: Option<FamilyId>,
}

/// What the `Authorization` header holds.
enum Credentials<'a> {
    /// No header, or another scheme: anonymous.
    None,
    /// The configured scheme and one token.
    Token(&'a [u8]),
    /// The configured scheme with no token or more than one part.
    Malformed,
}

/// Splits as Python's `bytes.split()` does on the values HTTP allows in a header: on runs
/// of ASCII whitespace, ignoring it at either end.
fn parse_header<'a>(value: &'a [u8], schemes: &[String]) -> Credentials<'a> {
    let value = value.trim_ascii();
    if value.is_empty() {
        return Credentials::None;
    }
    let (first, rest) = match value.iter().position(u8::is_ascii_whitespace) {
        Some(end) => (&value[..end], value[end..].trim_ascii_start()),
        None => (value, &[][..]),
    };
    if !schemes.iter().any(|scheme| scheme.as_bytes() == first) {
        return Credentials::None;
    }
    // `rest` is trimmed at both ends, so any whitespace left in it separates more parts.
    if rest.is_empty() || has_ascii_whitespace(rest) {
        Credentials::Malformed
    } else {
        Credentials::Token(rest)
    }
}

/// Whether `bytes` holds ASCII whitespace; written as a fold without an early exit so that
/// it compiles to vector compares over a token's few hundred bytes.
fn has_ascii_whitespace(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .fold(false, |found, byte| found | byte.is_ascii_whitespace())
}

impl AuthenticatedUser {
    /// Whether the request carries credentials of the configured scheme at all.
    pub(crate) fn present(parts: &Parts, state: &AppState) -> bool {
        parts
            .headers
            .get(&state.http.auth_header_name)
            .is_some_and(|value| {
                !matches!(
                    parse_header(value.as_bytes(), &state.http.auth_header_types),
                    Credentials::None
                )
            })
    }
}

impl FromRequestParts<AppState> for AuthenticatedUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let outcome = Self::authenticate(parts, state).await;
        if outcome.is_err() {
            state
                .metrics
                .add(crate::metrics::Count::AuthenticationRefused);
        }
        outcome
    }
}

impl AuthenticatedUser {
    async fn authenticate(parts: &Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(&state.http.auth_header_name)
            .ok_or(ApiError::NotAuthenticated)?;
        let token = match parse_header(header.as_bytes(), &state.http.auth_header_types) {
            Credentials::None => return Err(ApiError::NotAuthenticated),
            Credentials::Malformed => return Err(ApiError::BadAuthorizationHeader),
            Credentials::Token(token) => token,
        };
        let now = state.clock.now();
        let verified = state
            .codec
            .check(token, Some(TokenKind::Access), now)
            .map_err(ApiError::BearerToken)?;
        if state.http.revoke_access_on_logout
            && let Some(family) = &verified.family
            && state.revoked.contains(family, now)
        {
            return Err(ApiError::BearerToken(auth_core::TokenError::Blacklisted(
                auth_core::Refusal::FamilyRevoked,
            )));
        }
        let id = match verified.user {
            UserClaim::Missing => return Err(ApiError::NoUserIdentification),
            UserClaim::Unrecognized => return Err(ApiError::UserNotFound),
            UserClaim::Id(id) => id,
        };
        let user = state
            .users
            .find(&state.db.read, id, now)
            .await?
            .ok_or(ApiError::UserNotFound)?;
        if state.http.check_user_is_active && !user.is_active {
            return Err(ApiError::UserInactive);
        }
        Ok(Self {
            user,
            family: verified.family,
        })
    }
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    fn schemes() -> Vec<String> {
        vec!["Bearer".to_owned(), "JWT".to_owned()]
    }

    #[test]
    fn headers_parse_as_drf_splits_them() {
        let cases: [(&[u8], &str); 14] = [
            (b"Bearer abc", "token"),
            (b"JWT \t abc", "token"),
            (b"  Bearer abc\t ", "token"),
            (b"bearer abc", "none"),
            (b"Basic abc", "none"),
            (b"Basic a b", "none"),
            (b"", "none"),
            (b" \t ", "none"),
            (b"Bearer", "malformed"),
            (b"Bearer  ", "malformed"),
            (b"Bearer a b", "malformed"),
            (b"Bearer a\tb", "malformed"),
            (b"Bearer a  b  c", "malformed"),
            (b"Bearerabc", "none"),
        ];
        for (header, expected) in cases {
            let got = match parse_header(header, &schemes()) {
                Credentials::None => "none",
                Credentials::Token(token) => {
                    assert_eq!(token, b"abc");
                    "token"
                }
                Credentials::Malformed => "malformed",
            };
            assert_eq!(got, expected, "{}", String::from_utf8_lossy(header));
        }
    }
}
