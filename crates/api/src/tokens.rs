//! The token lifecycle behind the simplejwt endpoints: login, refresh, verify, logout.
//! Handlers call one function each; this is where the steps are put in simplejwt's order.

use auth_core::{
    EventKind, FamilyId, RefreshSpec, Refusal, Revocation, TokenError, TokenHash, TokenKind, Use,
    UserClaim, UserId, VerifiedToken, seconds,
};

use crate::AppState;
use crate::error::ApiError;
use crate::events::Client;
use crate::ids::new_jti;
use crate::metrics::Count;
use crate::security::{self, Actor};
use crate::store::{Minted, NewSession, Outcome, Presented};
use crate::throttle;
use crate::users;

/// What a successful refresh hands back.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Rotated {
    /// A new successor was issued.
    New(String),
    /// A retry within the grace window: the successor issued the first time.
    Replayed(String),
}

impl Rotated {
    fn into_token(self) -> String {
        match self {
            Rotated::New(token) | Rotated::Replayed(token) => token,
        }
    }
}

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
    // Counted before the password is hashed: a locked username or an address over its
    // limit costs no hashing, and parallel guesses cannot pass the count while they hash.
    throttle::admit_login(state, username, client, state.clock.now()).await?;
    let user = users::find_by_username(&state.db.read, username).await?;
    let matches = users::check_login_password(state, user.as_ref(), password).await?;
    let user = match user {
        Some(user) if matches && user.is_active => user,
        other => {
            let now = state.clock.now();
            let user = other.as_ref().map(|user| UserId(user.id));
            let report = state
                .store
                .record(EventKind::LoginFailed, user, Some(username), client, now)
                .await?;
            let actor = Actor {
                user,
                username: Some(username),
                client,
                now,
            };
            security::act(state, report, actor);
            state.metrics.add(Count::LoginFailed);
            return Err(ApiError::BadCredentials);
        }
    };
    throttle::login_succeeded(state, username).await?;
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
    let report = state
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
    security::act(state, report, Actor::user(user_id, client, now));
    if state.http.update_last_login {
        users::touch_last_login(&state.db.write, user_id, now).await?;
    }
    state.metrics.add(Count::LoginSucceeded);
    Ok(Pair { refresh, access })
}

/// A verified refresh token as the store takes it. A simplejwt refresh token to adopt (see
/// [`crate::adoption`]) is adopted first, so that every endpoint that takes a refresh token
/// finds it where `/token/refresh` would.
///
/// # Errors
/// `ApiError::NoAccountForToken` when it names no user; a database error.
pub(crate) async fn presented<'a>(
    state: &AppState,
    token: &str,
    verified: &'a VerifiedToken,
    client: &Client,
    now: i64,
) -> Result<Presented<'a>, ApiError> {
    let user = match verified.user {
        UserClaim::Id(user) => user,
        UserClaim::Missing | UserClaim::Unrecognized => return Err(ApiError::NoAccountForToken),
    };
    let presented = Presented {
        jti: &verified.jti,
        hash: TokenHash::of(token),
        user,
        family: verified.family.as_ref(),
        client: client.mark(&state.http.client_mark_key),
    };
    crate::adoption::adopt(state, verified, &presented, client, now).await?;
    Ok(presented)
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
        refresh: rotated.map(Rotated::into_token),
    })
}

async fn refresh_once(
    state: &AppState,
    token: &str,
    client: &Client,
) -> Result<(String, Option<Rotated>), ApiError> {
    let now = state.clock.now();
    let verified = state.codec.verify(token, Some(TokenKind::Refresh), now)?;
    let presented = presented(state, token, &verified, client, now).await?;
    let rotated = if state.codec.settings().rotate_refresh_tokens {
        // Minted here, on the request's task, so that the engine's one writer does not.
        let successor = Minted::ahead(&state.codec, &presented, now)?;
        let outcome = present(state, Use::Rotate, presented, successor, client, now).await?;
        Some(match outcome {
            Outcome::Issued(token) => Rotated::New(token),
            Outcome::Replay(next, family) => {
                Rotated::Replayed(remint(state, &verified, next, &family)?)
            }
            Outcome::Done | Outcome::Refused(_) => {
                return Err(ApiError::Internal("a rotation issued nothing".into()));
            }
        })
    } else {
        present(state, Use::Check, presented, None, client, now).await?;
        None
    };
    let access = state.codec.mint_access(&verified.claims, &new_jti(), now)?;
    Ok((access, rotated))
}

/// Presents a refresh token to the store, acts on its report, and turns a refusal into the
/// error to answer.
pub(crate) async fn present(
    state: &AppState,
    use_: Use,
    presented: Presented<'_>,
    successor: Option<Minted>,
    client: &Client,
    now: i64,
) -> Result<Outcome, ApiError> {
    let user = presented.user;
    let (outcome, report) = state
        .store
        .present(use_, presented, successor, client, now)
        .await?;
    security::act(state, report, Actor::user(user, client, now));
    match outcome {
        Outcome::Refused(denial) => Err(denial.into()),
        outcome => Ok(outcome),
    }
}

/// The successor a grace-window replay gets: re-minted from its stored row, and refused if
/// it is not the very token issued the first time (the signing key changed since).
fn remint(
    state: &AppState,
    verified: &VerifiedToken,
    next: auth_core::SuccessorState,
    family: &FamilyId,
) -> Result<String, ApiError> {
    let UserClaim::Id(user) = verified.user else {
        return Err(ApiError::NoAccountForToken);
    };
    let token = state.codec.mint_refresh(&RefreshSpec {
        jti: &next.jti,
        user,
        family,
        iat: next.issued_at,
        exp: next.expires_at,
    })?;
    if next.hash != Some(TokenHash::of(&token)) {
        return Err(TokenError::Invalid.into());
    }
    Ok(token)
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
    let presented = match presented(state, token, &verified, client, now).await {
        Err(ApiError::NoAccountForToken) => Err(TokenError::Invalid.into()),
        other => other,
    }?;
    present(state, Use::Logout, presented, None, client, now).await?;
    state.metrics.add(Count::Logout);
    Ok(())
}

/// Resolves the user behind a refresh token for `/logout/all`: the token must be valid and
/// still usable.
///
/// # Errors
/// As `refresh`.
pub async fn refresh_token_owner(
    state: &AppState,
    token: &str,
    client: &Client,
) -> Result<UserId, ApiError> {
    let now = state.clock.now();
    let verified = state.codec.verify(token, Some(TokenKind::Refresh), now)?;
    let presented = presented(state, token, &verified, client, now).await?;
    let user = presented.user;
    present(state, Use::Check, presented, None, client, now).await?;
    Ok(user)
}

/// Revokes every session of a user and records why (`logout_all`, or an operator's
/// `kind` and `reason`).
///
/// # Errors
/// A database error.
pub async fn revoke_all(
    state: &crate::Shared,
    user: UserId,
    reason: Revocation,
    kind: EventKind,
    client: &Client,
    now: i64,
) -> Result<u64, ApiError> {
    let (count, report) = state
        .store
        .revoke_user_families(user, reason, (kind, client), now)
        .await?;
    security::act(state, report, Actor::user(user, client, now));
    Ok(count)
}

/// Ends one session of a user and records why; `false` if it is not the user's live session.
///
/// # Errors
/// A database error.
pub async fn revoke_session(
    state: &crate::Shared,
    user: UserId,
    family: &FamilyId,
    reason: Revocation,
    client: &Client,
    now: i64,
) -> Result<bool, ApiError> {
    let (found, report) = state
        .store
        .revoke_session(
            user,
            family,
            reason,
            (EventKind::SessionRevoked, client),
            now,
        )
        .await?;
    security::act(state, report, Actor::user(user, client, now));
    Ok(found)
}

/// `/logout/all`: revokes every session of a user.
///
/// # Errors
/// A database error.
pub async fn logout_all(state: &AppState, user: UserId, client: &Client) -> Result<u64, ApiError> {
    let now = state.clock.now();
    revoke_all(
        state,
        user,
        Revocation::LogoutAll,
        EventKind::LogoutAll,
        client,
        now,
    )
    .await
}
