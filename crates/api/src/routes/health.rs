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

/// `GET /.well-known/jwks.json`: the public keys. HMAC keys are secret, so with an HS*
/// algorithm the set is empty.
pub async fn jwks() -> Json<Value> {
    Json(json!({ "keys": [] }))
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
