//! simplejwt's endpoints: `/token`, `/token/refresh`, `/token/verify`, `/logout`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;

use crate::AppState;
use crate::error::ApiError;
use crate::events::Client;
use crate::input::Fields;
use crate::tokens;

/// `POST /token`: `{username, password}` -> `{"refresh", "access"}`.
pub async fn obtain(
    State(state): State<AppState>,
    client: Client,
    fields: Fields,
) -> Result<Json<tokens::Pair>, ApiError> {
    let [username, password] = fields.required_strings(["username", "password"])?;
    let pair = tokens::obtain_pair(&state, &username, password.into_owned(), &client).await?;
    Ok(Json(pair))
}

/// `POST /token/refresh`: `{refresh}` -> `{"access"}`, plus `"refresh"` with rotation on.
pub async fn refresh(
    State(state): State<AppState>,
    client: Client,
    fields: Fields,
) -> Result<Json<tokens::Refreshed>, ApiError> {
    let [token] = fields.required_strings(["refresh"])?;
    Ok(Json(tokens::refresh(&state, &token, &client).await?))
}

/// `POST /token/verify`: `{token}` -> `{}`.
pub async fn verify(
    State(state): State<AppState>,
    fields: Fields,
) -> Result<impl IntoResponse, ApiError> {
    let [token] = fields.required_strings(["token"])?;
    tokens::verify(&state, &token).await?;
    Ok(empty_object())
}

/// `POST /logout` (simplejwt's `TokenBlacklistView`): `{refresh}` -> `{}`.
pub async fn logout(
    State(state): State<AppState>,
    client: Client,
    fields: Fields,
) -> Result<impl IntoResponse, ApiError> {
    let [token] = fields.required_strings(["refresh"])?;
    tokens::logout(&state, &token, &client).await?;
    Ok(empty_object())
}

/// simplejwt's empty success body: the bytes and media type `Json(json!({}))` answers,
/// without building and serializing a map on every request.
fn empty_object() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        "{}",
    )
}
