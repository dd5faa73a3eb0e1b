//! The token lifecycle behind the simplejwt endpoints: login, refresh, verify, logout.
//! Handlers call one function each; this is where the steps are put in simplejwt's order.

use auth_core::{
    FamilyId, Jti, RefreshSpec, Refusal, TokenError, TokenHash, TokenKind, UserClaim, UserId,
    VerifiedToken,
};

use crate::AppState;
use crate::error::ApiError;
use crate::events::{self, Client, Event, EventKind};
use crate::metrics::Count;
use crate::store::{NewSession, Presented, Rotated};
use crate::users;

/// A fresh pair from a login; serialized, `/token`'s body (simplejwt's order).
#[derive(serde::Serialize)]
pub struct Pair {
    /// The refresh token.
    pub refresh: String,
    /// The access token.
    pub access: String,
}

/// The result of `/token/refresh`; serialized, its body (simplejwt's order).
#[derive(serde::Serialize)]
pub struct Refreshed {
    /// A new access token.
    pub access: String,
    /// The successor refresh token, when rotation is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh: Option<String>,
}

/// A new token id: a UUIDv7 as 32 lowercase hex characters. Its first 48 bits are the Unix
/// time in milliseconds and the other 74 are random, so ids are unique like simplejwt's uuid4
/// hex, and refresh-token ids arrive in order: each rotation appends to the unique `jti`
/// index instead of dirtying a random page of it.
pub(crate) fn new_jti() -> Jti {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        });
    let random: [u8; 10] = rand::random();
    let id = uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid();
    Jti::new(id.simple().to_string())
}

fn seconds(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

/// Checks credentials and, if they are good, starts a session.
///
/// # Errors
/// `ApiError::BadCredentials` for an unknown user, a wrong password or an inactive user.
pub async fn obtain_pair(
    state: &AppState,
    username: &str,
    password: String,
    client: &Client,
) -> Result<Pair, ApiError> {
    let user = users::find_by_username(&state.db.read, username).await?;
    let matches = users::check_login_password(state, user.as_ref(), password).await?;
    let user = match user {
        Some(user) if matches && user.is_active => user,
        other => {
            events::record(
                &state.db.write,
                Event {
                    kind: EventKind::LoginFailed,
                    user: other.as_ref().map(|user| UserId(user.id)),
                    username: Some(username),
                    family: None,
                    client,
                    at: state.clock.now(),
                },
            )
            .await?;
            state.metrics.add(Count::LoginFailed);
            return Err(ApiError::BadCredentials);
        }
    };
    let user_id = UserId(user.id);
    let now = state.clock.now();
    let settings = state.codec.settings();
    let family = FamilyId::from_random_bytes(rand::random());
    let jti = new_jti();
    let session_end = now.saturating_add(seconds(settings.session_max_lifetime));
    let spec = RefreshSpec {
        jti: &jti,
        user: user_id,
        family: &family,
        iat: now,
        exp: now
            .saturating_add(seconds(settings.refresh_token_lifetime))
            .min(session_end),
    };
    let refresh = state.codec.mint_refresh(&spec)?;
    let access = state.codec.mint_access_for(&spec, &new_jti(), now)?;
    state
        .store
        .start_session(NewSession {
            user: user_id,
            family: &family,
            first: &jti,
            token_hash: TokenHash::of(&refresh),
            issued_at: now,
            expires_at: spec.exp,
            session_expires_at: session_end,
            client,
        })
        .await?;
    if state.http.update_last_login {
        users::touch_last_login(&state.db.write, user_id, now).await?;
    }
    state.metrics.add(Count::LoginSucceeded);
    Ok(Pair { refresh, access })
}

fn presented<'a>(token: &str, verified: &'a VerifiedToken) -> Result<Presented<'a>, ApiError> {
    let user = match verified.user {
        UserClaim::Id(user) => user,
        UserClaim::Missing | UserClaim::Unrecognized => return Err(ApiError::NoAccountForToken),
    };
    Ok(Presented {
        jti: &verified.jti,
        hash: TokenHash::of(token),
        user,
        family: verified.family.as_ref(),
    })
}

/// Verifies a refresh token and mints an access token, rotating the refresh token when
/// rotation is on.
///
/// # Errors
/// `ApiError::Token` for refused tokens, `ApiError::NoAccountForToken` for a missing or
/// inactive user.
pub async fn refresh(
    state: &AppState,
    token: &str,
    client: &Client,
) -> Result<Refreshed, ApiError> {
    let outcome = refresh_once(state, token, client).await;
    let count = match &outcome {
        Ok((_, Some(Rotated::New(_)))) => Count::RefreshRotated,
        Ok((_, Some(Rotated::Replayed(_)))) => Count::RefreshReplayed,
        Ok((_, None)) => Count::RefreshWithoutRotation,
        Err(ApiError::Token(TokenError::Blacklisted(Refusal::ReuseDetected))) => {
            state.metrics.add(Count::ReuseDetected);
            Count::RefreshRefused
        }
        Err(_) => Count::RefreshRefused,
    };
    state.metrics.add(count);
    let (access, rotated) = outcome?;
    Ok(Refreshed {
        access,
        refresh: rotated.map(|rotated| rotated.token().to_owned()),
    })
}

async fn refresh_once(
    state: &AppState,
    token: &str,
    client: &Client,
) -> Result<(String, Option<Rotated>), ApiError> {
    let now = state.clock.now();
    let verified = state.codec.verify(token, Some(TokenKind::Refresh), now)?;
    let presented = presented(token, &verified)?;
    let rotated = if state.codec.settings().rotate_refresh_tokens {
        Some(state.store.rotate(presented, client, now).await?)
    } else {
        state.store.check_refresh(presented, now).await?;
        None
    };
    let access = state.codec.mint_access(&verified.claims, &new_jti(), now)?;
    Ok((access, rotated))
}

/// `/token/verify`: any valid token of either type; a blacklisted refresh token is a 400.
///
/// # Errors
/// `ApiError::Token` for invalid tokens, `ApiError::VerifyBlacklisted` for blacklisted ones.
pub async fn verify(state: &AppState, token: &str) -> Result<(), ApiError> {
    state.metrics.add(Count::Verification);
    let now = state.clock.now();
    let verified = state.codec.check(token, None, now)?;
    if verified.kind == Some(TokenKind::Access) {
        // Access tokens are never stored; they are refused only through their session.
        let revoked = state.http.revoke_access_on_logout
            && verified
                .family
                .as_ref()
                .is_some_and(|family| state.revoked.contains(family, now));
        return if revoked {
            Err(ApiError::VerifyBlacklisted)
        } else {
            Ok(())
        };
    }
    if state.codec.settings().blacklist_after_rotation
        && state.store.is_revoked(&verified.jti).await?
    {
        return Err(ApiError::VerifyBlacklisted);
    }
    Ok(())
}

/// `/logout`: blacklists the refresh token and ends its session.
///
/// # Errors
/// `ApiError::Token` for invalid or already blacklisted tokens.
pub async fn logout(state: &AppState, token: &str, client: &Client) -> Result<(), ApiError> {
    let now = state.clock.now();
    let verified = state.codec.verify(token, Some(TokenKind::Refresh), now)?;
    let presented = presented(token, &verified).map_err(|_| TokenError::Invalid)?;
    state.store.logout(presented, client, now).await?;
    state.metrics.add(Count::Logout);
    Ok(())
}

/// Resolves the user behind a refresh token for `/logout/all`: the token must be valid and
/// still usable.
///
/// # Errors
/// As `refresh`.
pub async fn refresh_token_owner(state: &AppState, token: &str) -> Result<UserId, ApiError> {
    let now = state.clock.now();
    let verified = state.codec.verify(token, Some(TokenKind::Refresh), now)?;
    let presented = presented(token, &verified)?;
    let user = presented.user;
    state.store.check_refresh(presented, now).await?;
    Ok(user)
}

/// Revokes every session of a user and records why.
///
/// # Errors
/// A database error.
pub async fn logout_all(state: &AppState, user: UserId, client: &Client) -> Result<u64, ApiError> {
    let now = state.clock.now();
    let revoked = state
        .store
        .revoke_user_families(user, auth_core::Revocation::LogoutAll, now)
        .await?;
    events::record(
        &state.db.write,
        Event {
            kind: EventKind::LogoutAll,
            user: Some(user),
            username: None,
            family: None,
            client,
            at: now,
        },
    )
    .await?;
    Ok(revoked)
}

#[cfg(test)]
mod tests {
    use super::new_jti;

    #[test]
    fn a_new_jti_is_a_uuid_v7_in_lowercase_hex() {
        let jti = new_jti();
        let text = jti.as_str();
        assert_eq!(text.len(), 32, "{text}");
        assert!(
            text.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
            "{text}"
        );
        let id = uuid::Uuid::parse_str(text).expect("a UUID");
        assert_eq!(id.get_version_num(), 7, "{text}");
        assert_ne!(new_jti(), jti);
    }

    #[test]
    fn jtis_minted_a_millisecond_apart_sort_in_minting_order() {
        let mut previous = new_jti();
        for _ in 0..5 {
            std::thread::sleep(std::time::Duration::from_millis(2));
            let next = new_jti();
            assert!(next.as_str() > previous.as_str(), "{previous} then {next}");
            previous = next;
        }
    }
}
