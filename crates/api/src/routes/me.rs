//! `GET /me`: who the access token belongs to.

use axum::Json;
use serde_json::{Value, json};

use crate::auth::AuthenticatedUser;

/// `GET /me` -> `{"id": 1, "username": "alice"}`.
pub async fn me(auth: AuthenticatedUser) -> Json<Value> {
    Json(json!({ "id": auth.user.id, "username": auth.user.username }))
}
