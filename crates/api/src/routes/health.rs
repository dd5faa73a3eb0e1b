//! Operational endpoints: `/healthz`, `/readyz`, `/.well-known/jwks.json`, `/metrics`.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

/// `GET /healthz`: the process is up.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the database answers.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state
        .db
        .read
        .execute_unprepared("SELECT 1")
        .await
        .map_err(ApiError::Unavailable)?;
    Ok(Json(json!({ "status": "ready" })))
}

/// How long a resource server may cache the JWK Set (5 minutes): a key added to
/// `JWTD_VERIFYING_KEY_FILE` must be published this long before it signs.
pub const JWKS_CACHE_CONTROL: &str = "public, max-age=300";

/// `GET /.well-known/jwks.json`: the public keys, the signing key's first. HMAC keys are
/// secret, so with an HS* algorithm the set is empty.
pub async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, JWKS_CACHE_CONTROL)],
        Json(state.codec.keys().jwks()),
    )
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        state.metrics.render(&state),
    )
}

/// `GET /openapi.json`: the OpenAPI document.
pub async fn openapi() -> Json<&'static Value> {
    Json(crate::openapi::document())
}
