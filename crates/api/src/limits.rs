//! What one request may cost: the size of its body and of its fields, and how long it may
//! take. The connection-level limits (header read, idle keep-alive, the connection cap) are
//! the server's, where the connections are.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The largest request body read, in bytes: a larger one is answered 413, whether it
/// declares its length or comes in chunks. The largest legitimate body, a refresh token
/// with its field name, is well under 2 KiB.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The longest token a `refresh` or `token` field may hold, in characters.
pub const MAX_TOKEN_CHARS: usize = 8 * 1024;

/// The longest password a `password` field may hold, in characters: a longer one is refused
/// before it is hashed.
pub const MAX_PASSWORD_CHARS: usize = 4 * 1024;

/// The longest value the field `name` may hold, in characters, if it is limited, with DRF's
/// `max_length` message for it.
pub(crate) fn max_chars(name: &str) -> Option<(usize, &'static str)> {
    match name {
        "password" => Some((
            MAX_PASSWORD_CHARS,
            "Ensure this field has no more than 4096 characters.",
        )),
        "refresh" | "token" => Some((
            MAX_TOKEN_CHARS,
            "Ensure this field has no more than 8192 characters.",
        )),
        _ => None,
    }
}

/// The middleware that answers 408 when a request (reading its body included) takes longer
/// than the given time; the handler's work is dropped.
pub(crate) async fn request_deadline(
    State(limit): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::RequestTimeout.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_length_message_names_its_limit() {
        for name in ["password", "refresh", "token"] {
            let (limit, message) = max_chars(name).unwrap();
            assert_eq!(
                message,
                format!("Ensure this field has no more than {limit} characters.")
            );
        }
        assert_eq!(max_chars("username"), None);
    }
}
