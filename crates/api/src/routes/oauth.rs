//! RFC 7009 `POST /revoke` and RFC 7662 `POST /introspect`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use serde_json::{Map, Value};

use crate::AppState;
use crate::error::ApiError;
use crate::events::Client;
use crate::input::Fields;
use crate::oauth::{self, IntrospectionCaller};

/// `POST /revoke`: `{token}` (an optional `token_type_hint` is ignored) -> 200 with an empty
/// body, whatever the token was (RFC 7009 §2.2).
pub async fn revoke(
    State(state): State<AppState>,
    client: Client,
    fields: Fields,
) -> Result<impl IntoResponse, ApiError> {
    let [token] = fields.required_strings(["token"])?;
    oauth::revoke(&state, &token, &client).await?;
    Ok(NO_STORE)
}

/// `POST /introspect`, as the configured client (HTTP Basic): `{token}` ->
/// `{"active": true, ...}` for a live token, `{"active": false}` for anything else.
pub async fn introspect(
    State(state): State<AppState>,
    _caller: IntrospectionCaller,
    client: Client,
    fields: Fields,
) -> Result<impl IntoResponse, ApiError> {
    let [token] = fields.required_strings(["token"])?;
    let body = oauth::introspect(&state, &token, &client)
        .await?
        .unwrap_or_else(|| Map::from_iter([("active".to_owned(), Value::Bool(false))]));
    Ok((NO_STORE, Json(Value::Object(body))))
}

/// An answer about tokens is never cached (RFC 7009 §2.2, RFC 7662 §2.2 by RFC 6749 §5.1).
const NO_STORE: [(header::HeaderName, HeaderValue); 1] =
    [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))];
