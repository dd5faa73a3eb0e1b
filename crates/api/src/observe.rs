//! What every request gets on its way through the router: an id, a tracing span that
//! carries it, and its count and latency in the metrics.
//!
//! The id is the client's `X-Request-Id` when that is short and printable (so that a proxy's
//! id follows the request into jwtd's logs), a fresh UUID otherwise. It is set on the request
//! (for handlers) and on every response, errors included.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::AppState;
use crate::metrics::UNMATCHED_ROUTE;

/// The header carrying a request's id.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest client-sent request id that is kept; a longer one is replaced.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// The client's request id, when it is 1 to [`MAX_REQUEST_ID_LEN`] visible ASCII
/// characters (no spaces, no control characters: it goes into log lines as it is).
fn accepted_id(headers: &HeaderMap) -> Option<HeaderValue> {
    let mut values = headers.get_all(&REQUEST_ID).iter();
    let value = values.next()?;
    // Two ids are no id: which one would the logs mean?
    if values.next().is_some() {
        return None;
    }
    let bytes = value.as_bytes();
    let visible = |byte: &u8| byte.is_ascii_graphic();
    (!bytes.is_empty() && bytes.len() <= MAX_REQUEST_ID_LEN && bytes.iter().all(visible))
        .then(|| value.clone())
}

/// A fresh random id: a version-4 UUID from the thread's generator, which costs no system
/// call (unlike `Uuid::new_v4`, which asks the OS for every one).
fn new_id() -> HeaderValue {
    let uuid = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
    let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
    HeaderValue::from_str(uuid.hyphenated().encode_lower(&mut text))
        .unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// The middleware: runs the request inside a span named `request` with its id, method and
/// route, echoes the id on the response, and counts the request.
pub async fn observe(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = accepted_id(request.headers()).unwrap_or_else(new_id);
    request.headers_mut().insert(REQUEST_ID, id.clone());
    let route = request.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map_or(UNMATCHED_ROUTE, MatchedPath::as_str);
    let method = request.method().clone();
    // At ERROR level so that the span exists whenever any line is logged: a span below the
    // configured level would be skipped, and the lines of its request would lose their id.
    let span = tracing::error_span!(
        "request",
        request_id = %id.to_str().unwrap_or_default(),
        method = %method,
        route = %route,
    );
    let mut response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    span.in_scope(|| {
        tracing::debug!(
            status = response.status().as_u16(),
            micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            "answered"
        );
    });
    response.headers_mut().insert(REQUEST_ID, id);
    state
        .metrics
        .observe_request(route, &method, response.status(), elapsed);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(values: &[&[u8]]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(REQUEST_ID, HeaderValue::from_bytes(value).unwrap());
        }
        headers
    }

    #[test]
    fn short_printable_ids_are_kept_and_others_are_not() {
        let long = vec![b'a'; MAX_REQUEST_ID_LEN];
        let too_long = vec![b'a'; MAX_REQUEST_ID_LEN + 1];
        for (values, kept) in [
            (vec![b"abc-123".as_slice()], true),
            (vec![long.as_slice()], true),
            (vec![too_long.as_slice()], false),
            (vec![b"".as_slice()], false),
            (vec![b"two words".as_slice()], false),
            (vec![b"tab\there".as_slice()], false),
            (vec![b"caf\xc3\xa9".as_slice()], false),
            (vec![b"one".as_slice(), b"two".as_slice()], false),
            (vec![], false),
        ] {
            assert_eq!(accepted_id(&with(&values)).is_some(), kept, "{values:?}");
        }
    }

    #[test]
    fn fresh_ids_are_uuids() {
        let id = new_id();
        let text = id.to_str().unwrap();
        assert_eq!(text.len(), 36);
        assert_eq!(uuid::Uuid::parse_str(text).unwrap().get_version_num(), 4);
        assert_ne!(new_id(), id);
    }
}
