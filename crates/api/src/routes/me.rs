//! `GET /me`: who the access token belongs to.

use std::sync::Arc;

use axum::Json;
use serde::Serialize;

use crate::auth::AuthenticatedUser;

/// The body of `GET /me`.
#[derive(Serialize)]
pub struct Me {
    id: i64,
    #[serde(serialize_with = "text")]
    username: Arc<str>,
}

fn text<S: serde::Serializer>(value: &Arc<str>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(value)
}

/// `GET /me` -> `{"id": 1, "username": "alice"}`.
pub async fn me(auth: AuthenticatedUser) -> Json<Me> {
    Json(Me {
        id: auth.user.id,
        username: auth.user.username,
    })
}
