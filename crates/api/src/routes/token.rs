//! simplejwt's endpoints: `/token`, `/token/refresh`, `/token/verify`, `/logout` (also
//! `/token/logout`, under the refresh cookie's `Path`).

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::cookies::{self, BrowserCookies};
use crate::error::ApiError;
use crate::events::Client;
use crate::input::Fields;
use crate::throttle::{self, Endpoint};
use crate::tokens;

/// `POST /token`: `{username, password}` -> `{"refresh", "access"}` (in cookie mode, the
/// refresh token in its cookie).
pub async fn obtain(
    State(state): State<AppState>,
    client: Client,
    browser: BrowserCookies,
    fields: Fields,
) -> Result<Response, ApiError> {
    let [username, password] = fields.required_strings(["username", "password"])?;
    let pair = tokens::obtain_pair(&state, &username, password.into_owned(), &client).await?;
    cookies::session(&state, &browser, &pair, &pair.access, &pair.refresh, None).map(not_stored)
}

/// `POST /token/refresh`: `{refresh}` (or, in cookie mode, the refresh cookie) ->
/// `{"access"}`, plus `"refresh"` with rotation on (in cookie mode, in its cookie).
pub async fn refresh(
    State(state): State<AppState>,
    client: Client,
    browser: BrowserCookies,
    fields: Fields,
) -> Result<Response, ApiError> {
    throttle::admit(&state, Endpoint::Refresh, &client)?;
    let presented = browser.refresh_token(&fields)?;
    let refreshed = tokens::refresh(&state, &presented.token, &client).await?;
    let current = refreshed.refresh.as_deref().unwrap_or(&presented.token);
    cookies::session(
        &state,
        &browser,
        &refreshed,
        &refreshed.access,
        current,
        Some(&presented),
    )
    .map(not_stored)
}

/// `POST /token/verify`: `{token}` -> `{}`.
pub async fn verify(
    State(state): State<AppState>,
    client: Client,
    fields: Fields,
) -> Result<impl IntoResponse, ApiError> {
    throttle::admit(&state, Endpoint::Verify, &client)?;
    let [token] = fields.required_strings(["token"])?;
    tokens::verify(&state, &token).await?;
    Ok(empty_object())
}

/// `POST /logout` (simplejwt's `TokenBlacklistView`): `{refresh}` (or, in cookie mode, the
/// refresh cookie) -> `{}`, clearing the cookie.
pub async fn logout(
    State(state): State<AppState>,
    client: Client,
    browser: BrowserCookies,
    fields: Fields,
) -> Result<Response, ApiError> {
    let presented = browser.refresh_token(&fields)?;
    tokens::logout(&state, &presented.token, &client).await?;
    cookies::ended(&state, &browser, Some(&presented.token), empty_object())
}

/// A response that carries tokens, marked so that no cache keeps it (RFC 6749 §5.1):
/// `Cache-Control: no-store` and, for HTTP/1.0 caches, `Pragma: no-cache`.
fn not_stored(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// simplejwt's empty success body: the bytes and media type `Json(json!({}))` answers,
/// without building and serializing a map on every request.
pub(super) fn empty_object() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        "{}",
    )
}
