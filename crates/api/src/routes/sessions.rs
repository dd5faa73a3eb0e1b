//! Sessions a user can see and end: `GET /sessions`, `DELETE /sessions/{id}`,
//! `POST /logout/all`.

use auth_core::{FamilyId, Revocation, UserId};
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Json, RequestExt};
use serde_json::Value;

use crate::AppState;
use crate::auth::AuthenticatedUser;
use crate::cookies::{self, BrowserCookies};
use crate::error::ApiError;
use crate::events::Client;
use crate::input::Fields;
use crate::tokens;

/// `GET /sessions`: the caller's live sessions, newest first.
pub async fn list(
    State(state): State<AppState>,
    auth: AuthenticatedUser,
) -> Result<Json<Value>, ApiError> {
    let now = state.clock.now();
    let sessions = state.store.list_sessions(UserId(auth.user.id), now).await?;
    let body = sessions
        .into_iter()
        .map(|session| {
            let mut fields = session.to_json();
            let current = auth.family.as_ref() == Some(&session.id);
            fields.insert("current".to_owned(), current.into());
            Value::Object(fields)
        })
        .collect();
    Ok(Json(Value::Array(body)))
}

/// `DELETE /sessions/{id}`: ends one of the caller's sessions; 404 for an unknown id and for
/// another user's session alike.
pub async fn revoke(
    State(state): State<AppState>,
    auth: AuthenticatedUser,
    client: Client,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let now = state.clock.now();
    let family = FamilyId::new(id);
    let user = UserId(auth.user.id);
    let revoked = tokens::revoke_session(
        &state,
        user,
        &family,
        Revocation::SessionRevoked,
        &client,
        now,
    )
    .await?;
    if !revoked {
        return Err(ApiError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /logout/all` (also `/token/logout/all`): ends every session of the user named by a
/// Bearer access token, or, without one, by a `{refresh}` token in the body (or, in cookie
/// mode, the refresh cookie), and clears the cookie.
pub async fn logout_all(
    State(state): State<AppState>,
    client: Client,
    browser: BrowserCookies,
    request: Request,
) -> Result<Response, ApiError> {
    let (mut parts, body) = request.into_parts();
    let user = if AuthenticatedUser::present(&parts, &state) {
        let auth = AuthenticatedUser::from_request_parts(&mut parts, &state).await?;
        UserId(auth.user.id)
    } else {
        let fields: Fields = Request::from_parts(parts, body).extract().await?;
        // Without a usable `refresh` field (or cookie) the request carries no credentials at
        // all; a body DRF cannot parse is still refused as such.
        let presented = browser
            .refresh_token(&fields)
            .map_err(|error| match error {
                ApiError::Fields(_) => ApiError::NotAuthenticated,
                other => other,
            })?;
        tokens::refresh_token_owner(&state, &presented.token, &client).await?
    };
    tokens::logout_all(&state, user, &client).await?;
    cookies::ended(&state, &browser, None, super::token::empty_object())
}
