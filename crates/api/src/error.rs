//! `ApiError`: every way a request can fail, and the one place that turns it into HTTP.

use axum::Json;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use auth_core::TokenError;

/// The header that says, for machines, why a token was refused (`reuse_detected`,
/// `family_revoked`, `expired`, ...). The body keeps simplejwt's exact shape.
pub const REASON_HEADER: HeaderName = HeaderName::from_static("x-jwtd-reason");

/// The challenge of a 401 from `/introspect`, whose caller authenticates with HTTP Basic.
pub const BASIC_CHALLENGE: HeaderValue = HeaderValue::from_static("Basic realm=\"jwtd\"");

/// A request failed. Each variant maps to one status and one simplejwt/DRF body.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A token sent to a token endpoint was refused: 401 `token_not_valid`.
    #[error("token refused: {0}")]
    Token(#[from] TokenError),
    /// `/token/verify` on a blacklisted token: 400 `non_field_errors`, as simplejwt does.
    #[error("verified token is blacklisted")]
    VerifyBlacklisted,
    /// DRF field validation errors: 400 `{field: [message]}`, fields in declaration order.
    #[error("invalid request fields")]
    Fields(Vec<(String, &'static str)>),
    /// DRF's whole-body validation error: 400 `{"non_field_errors": [message]}`.
    #[error("invalid request body: {0}")]
    NonField(String),
    /// The JSON body does not parse: 400.
    #[error("malformed JSON")]
    JsonParse(String),
    /// The body's media type is not JSON, form or multipart: 415.
    #[error("unsupported media type")]
    UnsupportedMediaType(String),
    /// A multipart body DRF's parser refuses (a missing or bad boundary): 400.
    #[error("malformed multipart body")]
    MultipartParse(String),
    /// The body is larger than [`crate::limits::MAX_BODY_BYTES`]: 413.
    #[error("request body too large")]
    PayloadTooLarge,
    /// The request took longer than the configured request timeout: 408.
    #[error("request timed out")]
    RequestTimeout,
    /// Wrong credentials, unknown or inactive user at login: 401, no `code`.
    #[error("no active account for the given credentials")]
    BadCredentials,
    /// The token's user is gone or inactive at refresh: 401, no `code`.
    #[error("no active account for the given token")]
    NoAccountForToken,
    /// No credentials on a protected endpoint: 401.
    #[error("no credentials")]
    NotAuthenticated,
    /// `Authorization` with the right scheme but not two parts: 401.
    #[error("bad authorization header")]
    BadAuthorizationHeader,
    /// A Bearer token that is not a valid access token: 401 with `messages`.
    #[error("bearer token refused: {0}")]
    BearerToken(TokenError),
    /// `/introspect` without the configured client's HTTP Basic credentials: 401 with DRF's
    /// `BasicAuthentication` message and `WWW-Authenticate: Basic realm="jwtd"`.
    #[error("introspection client not authenticated")]
    ClientUnauthorized(&'static str),
    /// A Bearer token without a user id claim: 401.
    #[error("bearer token has no user id")]
    NoUserIdentification,
    /// A Bearer token for a user that does not exist: 401.
    #[error("user not found")]
    UserNotFound,
    /// A Bearer token for an inactive user: 401.
    #[error("user inactive")]
    UserInactive,
    /// A request authenticated by the refresh cookie without proof of a trusted page (an
    /// allowed `Origin` and the CSRF token): 403 `{"detail": "CSRF Failed: ..."}`, as DRF's
    /// `SessionAuthentication` answers.
    #[error("CSRF check failed: {0}")]
    Csrf(&'static str),
    /// Over a rate limit, or a locked username: 429 with `Retry-After` (these seconds) and
    /// DRF's `Throttled` body.
    #[error("throttled for {0} s")]
    Throttled(u64),
    /// Unknown resource, or one that belongs to someone else: 404.
    #[error("not found")]
    NotFound,
    /// Wrong method: 405 with `Allow`.
    #[error("method not allowed")]
    MethodNotAllowed {
        /// The method used.
        method: String,
        /// The value of the `Allow` header.
        allow: &'static str,
    },
    /// The database is unavailable or overloaded right now: 503; safe to retry.
    #[error("service unavailable")]
    Unavailable(#[source] sea_orm::DbErr),
    /// A database error that is not the client's fault: 500 with a generic body.
    #[error("database error")]
    Database(#[source] sea_orm::DbErr),
    /// Anything else that is not the client's fault: 500 with a generic body.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Every `?` on a database error goes through the transient check, so a lock or statement
/// timeout, a dropped connection or a failover answers 503 wherever it happens, never 500.
impl From<sea_orm::DbErr> for ApiError {
    fn from(error: sea_orm::DbErr) -> Self {
        crate::store::StoreError::from(error).into()
    }
}

/// The one mapping of store failures to HTTP: transient 503, the rest 500.
impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match error {
            StoreError::Unavailable(error) => ApiError::Unavailable(error),
            StoreError::Database(error) => ApiError::Database(error),
            StoreError::Internal(message) => ApiError::Internal(message),
        }
    }
}

impl From<auth_core::Denial> for ApiError {
    fn from(denial: auth_core::Denial) -> Self {
        match denial {
            auth_core::Denial::Token(error) => ApiError::Token(error),
            auth_core::Denial::NoAccount => ApiError::NoAccountForToken,
        }
    }
}

impl From<auth_core::KeyError> for ApiError {
    fn from(error: auth_core::KeyError) -> Self {
        ApiError::Internal(error.to_string())
    }
}

impl From<auth_core::PasswordError> for ApiError {
    fn from(error: auth_core::PasswordError) -> Self {
        ApiError::Internal(error.to_string())
    }
}

fn detail_code(detail: &str, code: &str) -> Value {
    json!({ "detail": detail, "code": code })
}

impl ApiError {
    fn status_and_body(&self) -> (StatusCode, Value) {
        use ApiError::*;
        match self {
            Token(error) => (
                StatusCode::UNAUTHORIZED,
                detail_code(&error.to_string(), "token_not_valid"),
            ),
            VerifyBlacklisted => (
                StatusCode::BAD_REQUEST,
                json!({ "non_field_errors": ["Token is blacklisted"] }),
            ),
            Fields(errors) => {
                // A field may fail several validators; DRF lists each message, in order.
                let mut body = Map::new();
                for (field, message) in errors {
                    match body.get_mut(field) {
                        Some(Value::Array(messages)) => messages.push(json!(message)),
                        _ => {
                            body.insert(field.clone(), json!([message]));
                        }
                    }
                }
                (StatusCode::BAD_REQUEST, Value::Object(body))
            }
            NonField(message) => (
                StatusCode::BAD_REQUEST,
                json!({ "non_field_errors": [message] }),
            ),
            JsonParse(message) => (
                StatusCode::BAD_REQUEST,
                json!({ "detail": format!("JSON parse error - {message}") }),
            ),
            UnsupportedMediaType(media_type) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                json!({ "detail": format!("Unsupported media type \"{media_type}\" in request.") }),
            ),
            MultipartParse(message) => (
                StatusCode::BAD_REQUEST,
                json!({ "detail": format!("Multipart form parse error - {message}") }),
            ),
            PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({
                    "detail": format!(
                        "Request body too large: the limit is {} bytes.",
                        crate::limits::MAX_BODY_BYTES
                    )
                }),
            ),
            RequestTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                json!({ "detail": "Request timed out." }),
            ),
            BadCredentials => (
                StatusCode::UNAUTHORIZED,
                json!({ "detail": "No active account found with the given credentials" }),
            ),
            NoAccountForToken => (
                StatusCode::UNAUTHORIZED,
                json!({ "detail": "No active account found for the given token." }),
            ),
            NotAuthenticated => (
                StatusCode::UNAUTHORIZED,
                json!({ "detail": "Authentication credentials were not provided." }),
            ),
            BadAuthorizationHeader => (
                StatusCode::UNAUTHORIZED,
                detail_code(
                    "Authorization header must contain two space-delimited values",
                    "bad_authorization_header",
                ),
            ),
            BearerToken(error) => (
                StatusCode::UNAUTHORIZED,
                json!({
                    "detail": "Given token not valid for any token type",
                    "code": "token_not_valid",
                    "messages": [{
                        "token_class": "AccessToken",
                        "token_type": "access",
                        "message": error.to_string(),
                    }],
                }),
            ),
            ClientUnauthorized(message) => (StatusCode::UNAUTHORIZED, json!({ "detail": message })),
            NoUserIdentification => (
                StatusCode::UNAUTHORIZED,
                detail_code(
                    "Token contained no recognizable user identification",
                    "token_not_valid",
                ),
            ),
            UserNotFound => (
                StatusCode::UNAUTHORIZED,
                detail_code("User not found", "user_not_found"),
            ),
            UserInactive => (
                StatusCode::UNAUTHORIZED,
                detail_code("User is inactive", "user_inactive"),
            ),
            Csrf(reason) => (
                StatusCode::FORBIDDEN,
                json!({ "detail": format!("CSRF Failed: {reason}") }),
            ),
            Throttled(wait) => {
                let unit = if *wait == 1 { "second" } else { "seconds" };
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    json!({
                        "detail": format!("Request was throttled. Expected available in {wait} {unit}.")
                    }),
                )
            }
            NotFound => (StatusCode::NOT_FOUND, json!({ "detail": "Not found." })),
            MethodNotAllowed { method, .. } => (
                StatusCode::METHOD_NOT_ALLOWED,
                json!({ "detail": format!("Method \"{method}\" not allowed.") }),
            ),
            Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                detail_code(
                    "Service temporarily unavailable, try again later.",
                    "service_unavailable",
                ),
            ),
            Database(_) | Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({ "detail": "A server error occurred." }),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = self.status_and_body();
        if status.is_server_error() {
            // The whole chain, once, here; the client gets only the generic body.
            tracing::error!(error = %ErrorChain(&self), "request failed");
        }
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        if status == StatusCode::UNAUTHORIZED {
            // The scheme word is configurable; `www_authenticate` middleware rewrites this
            // default when `AUTH_HEADER_TYPES` names another first scheme.
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"api\""),
            );
        }
        match &self {
            ApiError::Token(error) | ApiError::BearerToken(error) => {
                headers.insert(REASON_HEADER, HeaderValue::from_static(error.reason()));
            }
            ApiError::VerifyBlacklisted => {
                headers.insert(REASON_HEADER, HeaderValue::from_static("blacklisted"));
            }
            ApiError::ClientUnauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, BASIC_CHALLENGE);
            }
            ApiError::Csrf(_) => {
                headers.insert(REASON_HEADER, HeaderValue::from_static("csrf_failed"));
            }
            ApiError::MethodNotAllowed { allow, .. } => {
                headers.insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            ApiError::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ApiError::Throttled(wait) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*wait));
            }
            _ => {}
        }
        response
    }
}

/// Displays an error with its sources, `a: b: c`.
struct ErrorChain<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(error) = source {
            write!(f, ": {error}")?;
            source = error.source();
        }
        Ok(())
    }
}
