//! Adopting refresh tokens that simplejwt issued, for a move without logging anyone out.
//!
//! simplejwt's refresh tokens carry no session (`sid`) and are not in jwtd's store, so jwtd
//! would refuse them as `Token is invalid`. With
//! `JWTD_ADOPT_REFRESH_TOKENS_ISSUED_BEFORE` set to the moment of the move, such a token
//! (signed with the configured key, valid, issued before that moment) starts a session in
//! jwtd the first time it is presented: it becomes that session's first token, and from
//! there jwtd's rules apply to it as to any other (rotation, reuse detection, logout).

use auth_core::{FamilyId, VerifiedToken, seconds};
use sea_orm::SqlErr;

use crate::AppState;
use crate::error::ApiError;
use crate::events::Client;
use crate::security::{self, Actor};
use crate::store::{NewSession, Presented, StoreError};

/// Starts a session for `presented` if it is a simplejwt refresh token to adopt: adoption
/// is on, the token names no session and was issued before the cut-over. Adopting a token
/// twice (a retry, two requests at once) inserts it once; the second finds it stored.
///
/// # Errors
/// A database error.
pub(crate) async fn adopt(
    state: &AppState,
    verified: &VerifiedToken,
    presented: &Presented<'_>,
    client: &Client,
    now: i64,
) -> Result<(), ApiError> {
    let Some(cutover) = state.http.adopt_refresh_tokens_issued_before else {
        return Ok(());
    };
    let issued_at = verified
        .claims
        .get("iat")
        .and_then(serde_json::Value::as_i64);
    let Some(issued_at) = issued_at.filter(|iat| *iat < cutover) else {
        return Ok(());
    };
    if verified.family.is_some() {
        return Ok(());
    }
    // No session for a user that is gone: the store refuses the token as it would any of a
    // missing user.
    if crate::users::find_by_id(&state.db.read, presented.user)
        .await?
        .is_none()
    {
        return Ok(());
    }
    let family = FamilyId::from_random_bytes(rand::random());
    let session_end = now.saturating_add(seconds(state.codec.settings().session_max_lifetime));
    let session = NewSession {
        user: presented.user,
        family: &family,
        first: presented.jti,
        token_hash: presented.hash,
        issued_at,
        expires_at: verified.exp,
        session_expires_at: session_end,
        client,
    };
    match state.store.start_session(session).await {
        Ok(report) => {
            tracing::info!(
                target: "jwtd::security",
                user = presented.user.0,
                "a simplejwt refresh token was adopted as a new session"
            );
            security::act(state, report, Actor::user(presented.user, client, now));
            Ok(())
        }
        // Stored already: adopted before, and now under jwtd's rules like any other.
        Err(StoreError::Database(error))
            if matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) =>
        {
            Ok(())
        }
        // Deleted meanwhile: as above.
        Err(StoreError::Database(error))
            if matches!(
                error.sql_err(),
                Some(SqlErr::ForeignKeyConstraintViolation(_))
            ) =>
        {
            Ok(())
        }
        Err(error) => Err(error.into()),
    }
}
