//! The standard endpoints for OAuth clients and resource servers: RFC 7009 token revocation
//! (`POST /revoke`) and RFC 7662 token introspection (`POST /introspect`).
//!
//! Both take jwtd's own tokens; a JWT names its own type, so the optional
//! `token_type_hint` is never needed and is ignored (RFC 7009 §2.1 and RFC 7662 §2.1 let
//! the server do so).

mod basic;

use auth_core::{Revocation, TokenKind, Use, UserClaim, UserId, VerifiedToken};
use serde_json::{Map, Value};

pub use basic::{ClientSecret, IntrospectionCaller, IntrospectionClient};

use crate::AppState;
use crate::error::ApiError;
use crate::events::Client;
use crate::metrics::Count;
use crate::store::Outcome;
use crate::tokens;
use crate::users;

/// RFC 7009 revocation. Possession of the token is the authority, as for `/logout`: a
/// refresh token is blacklisted and its session ended (a `logout` event); an access token
/// ends the session it was minted in (a `session_revoked` event), which blacklists the
/// session's refresh tokens and, with `revoke_access_on_logout`, refuses its access
/// tokens. Anything else (invalid, expired, already revoked, an access token naming no
/// session) is answered the same way and changes nothing (RFC 7009 §2.2).
///
/// # Errors
/// Only a database error (503 when transient): a token is never the reason to fail.
pub async fn revoke(state: &AppState, token: &str, client: &Client) -> Result<(), ApiError> {
    let now = state.clock.now();
    let Ok(verified) = state.codec.verify(token, None, now) else {
        return Ok(());
    };
    let UserClaim::Id(user) = verified.user else {
        return Ok(());
    };
    match verified.kind {
        Some(TokenKind::Refresh) => {
            let presented = tokens::presented(state, token, &verified, client, now).await?;
            match tokens::present(state, Use::Logout, presented, None, client, now).await {
                Ok(_) => state.metrics.add(Count::Logout),
                // Refused (unknown, blacklisted, revoked): nothing left to revoke.
                Err(ApiError::Token(_) | ApiError::NoAccountForToken) => {}
                Err(other) => return Err(other),
            }
        }
        Some(TokenKind::Access) => {
            if let Some(family) = &verified.family {
                tokens::revoke_session(
                    state,
                    user,
                    family,
                    Revocation::SessionRevoked,
                    client,
                    now,
                )
                .await?;
            }
        }
        None => {}
    }
    Ok(())
}

/// RFC 7662 introspection: the token's claims when it is live, `None` when it is not.
///
/// Live means: valid as jwtd verifies it (signature, algorithm, audience, issuer, times,
/// type), its user present (and active, with `check_user_is_active`), and for a refresh
/// token, one that `/token/refresh` would honour (not blacklisted, rotated or of a revoked or
/// ended session); for an access token naming a session, that session still live, whether
/// or not `revoke_access_on_logout` is on.
///
/// # Errors
/// A database error.
pub async fn introspect(
    state: &AppState,
    token: &str,
    client: &Client,
) -> Result<Option<Map<String, Value>>, ApiError> {
    let now = state.clock.now();
    let Ok(verified) = state.codec.verify(token, None, now) else {
        return Ok(None);
    };
    let UserClaim::Id(user) = verified.user else {
        return Ok(None);
    };
    let live = match verified.kind {
        Some(TokenKind::Refresh) => {
            // A simplejwt refresh token that `/token/refresh` would adopt is adopted here too,
            // and so live, as it is there.
            let presented = tokens::presented(state, token, &verified, client, now).await?;
            match tokens::present(state, Use::Check, presented, None, client, now).await {
                Ok(outcome) => outcome == Outcome::Done,
                Err(ApiError::Token(_) | ApiError::NoAccountForToken) => false,
                Err(other) => return Err(other),
            }
        }
        Some(TokenKind::Access) => match &verified.family {
            Some(family) => state
                .store
                .list_sessions(user, now)
                .await?
                .iter()
                .any(|session| &session.id == family),
            // Minted elsewhere (simplejwt's): stateless, as `/me` takes it.
            None => true,
        },
        None => false,
    };
    if !live {
        return Ok(None);
    }
    let Some(account) = users::find_by_id(&state.db.read, user).await? else {
        return Ok(None);
    };
    if state.http.check_user_is_active && !account.is_active {
        return Ok(None);
    }
    Ok(Some(live_claims(state, &verified, user, account.username)))
}

/// RFC 7662's answer for a live token: `active`, then what the token says.
fn live_claims(
    state: &AppState,
    verified: &VerifiedToken,
    user: UserId,
    username: String,
) -> Map<String, Value> {
    let settings = state.codec.settings();
    let mut body = Map::new();
    body.insert("active".to_owned(), Value::Bool(true));
    body.insert("sub".to_owned(), Value::String(user.0.to_string()));
    body.insert("username".to_owned(), Value::String(username));
    let kind = verified.kind.map(TokenKind::as_str).unwrap_or_default();
    body.insert("token_type".to_owned(), Value::String(kind.to_owned()));
    body.insert("exp".to_owned(), Value::from(verified.exp));
    if let Some(iat) = verified.claims.get("iat").filter(|iat| iat.is_number()) {
        body.insert("iat".to_owned(), iat.clone());
    }
    body.insert(
        "jti".to_owned(),
        Value::String(verified.jti.as_str().to_owned()),
    );
    if let Some(family) = &verified.family {
        body.insert("sid".to_owned(), Value::String(family.as_str().to_owned()));
    }
    for (claim, configured) in [("iss", &settings.issuer), ("aud", &settings.audience)] {
        if configured.is_some()
            && let Some(value) = verified.claims.get(claim)
        {
            body.insert(claim.to_owned(), value.clone());
        }
    }
    // An RFC 9068 access token names the client it was issued to.
    if let Some(client_id) = verified.claims.get("client_id").filter(|id| id.is_string()) {
        body.insert("client_id".to_owned(), client_id.clone());
    }
    body
}
