//! The OpenAPI document served at `/openapi.json`, generated from the handlers' annotations.

use utoipa::OpenApi;

#[expect(
    dead_code,
    reason = "schema-only types: they describe the JSON bodies for the OpenAPI document"
)]
mod schema {
    use utoipa::ToSchema;

    /// `POST /token` body (JSON, form-encoded or multipart).
    #[derive(ToSchema)]
    pub struct Credentials {
        pub username: String,
        pub password: String,
    }

    /// A fresh token pair.
    #[derive(ToSchema)]
    pub struct TokenPair {
        pub refresh: String,
        pub access: String,
    }

    /// `POST /token/refresh` and `POST /logout` body.
    #[derive(ToSchema)]
    pub struct RefreshRequest {
        pub refresh: String,
    }

    /// `POST /token/refresh` answer; `refresh` only when rotation is on.
    #[derive(ToSchema)]
    pub struct Refreshed {
        pub access: String,
        pub refresh: Option<String>,
    }

    /// `POST /token/verify` body.
    #[derive(ToSchema)]
    pub struct VerifyRequest {
        pub token: String,
    }

    /// simplejwt's error body; `code` is absent on credential errors.
    #[derive(ToSchema)]
    pub struct Detail {
        pub detail: String,
        pub code: Option<String>,
    }

    /// `GET /me` answer.
    #[derive(ToSchema)]
    pub struct Me {
        pub id: i64,
        pub username: String,
    }

    /// One live session.
    #[derive(ToSchema)]
    pub struct Session {
        pub id: String,
        pub created_at: String,
        pub last_used_at: String,
        pub expires_at: String,
        pub user_agent: Option<String>,
        pub ip: Option<String>,
        pub current: bool,
    }
}

/// Paths only exist in this document; each mirrors a route in `routes.rs`.
#[expect(
    dead_code,
    reason = "documentation-only functions carrying utoipa path annotations"
)]
mod paths {
    use super::schema::*;

    #[utoipa::path(post, path = "/token", tag = "simplejwt",
        request_body(content = Credentials, description = "JSON, form-encoded or multipart"),
        responses(
            (status = 200, description = "A new session. In cookie mode (JWTD_REFRESH_COOKIE) the refresh token is set as an HttpOnly cookie at Path /token, the CSRF token is in X-CSRF-Token and a csrftoken cookie, and the body is {\"access\"} unless JWTD_REFRESH_COOKIE_BODY", body = TokenPair),
            (status = 400, description = "DRF field errors, e.g. {\"username\":[\"This field is required.\"]}"),
            (status = 401, description = "No active account found with the given credentials", body = Detail),
        ))]
    pub fn obtain() {}

    #[utoipa::path(post, path = "/token/refresh", tag = "simplejwt",
        request_body(content = RefreshRequest, description = "In cookie mode, `{}` takes the refresh cookie, with an allowed Origin and X-CSRF-Token equal to the csrftoken cookie"),
        responses(
            (status = 200, description = "A new access token, and the successor refresh token when rotation is on (in cookie mode, in its cookie)", body = Refreshed),
            (status = 400, description = "DRF field errors"),
            (status = 401, description = "Refused token (X-Jwtd-Reason says why) or no active account", body = Detail),
            (status = 403, description = "Cookie mode: the refresh cookie without the CSRF proof; nothing consumed", body = Detail),
        ))]
    pub fn refresh() {}

    #[utoipa::path(post, path = "/token/verify", tag = "simplejwt",
        request_body = VerifyRequest,
        responses(
            (status = 200, description = "Valid: {}"),
            (status = 400, description = "{\"non_field_errors\":[\"Token is blacklisted\"]}"),
            (status = 401, description = "Invalid or expired", body = Detail),
        ))]
    pub fn verify() {}

    #[utoipa::path(post, path = "/logout", tag = "simplejwt",
        request_body = RefreshRequest,
        responses(
            (status = 200, description = "Blacklisted, session ended: {}"),
            (status = 400, description = "DRF field errors, e.g. {\"refresh\":[\"This field is required.\"]}"),
            (status = 401, description = "Invalid or already blacklisted", body = Detail),
        ))]
    pub fn logout() {}

    #[utoipa::path(post, path = "/token/logout", tag = "simplejwt",
        request_body(content = Option<RefreshRequest>, description = "As /logout; in cookie mode, `{}` takes the refresh cookie (with the CSRF proof)"),
        responses(
            (status = 200, description = "Blacklisted, session ended, cookies cleared: {}"),
            (status = 400, description = "DRF field errors"),
            (status = 401, description = "Invalid or already blacklisted", body = Detail),
            (status = 403, description = "Cookie mode: the refresh cookie without the CSRF proof; nothing revoked", body = Detail),
        ))]
    pub fn token_logout() {}

    #[utoipa::path(get, path = "/me", tag = "sessions",
        security(("bearer" = [])),
        responses(
            (status = 200, body = Me),
            (status = 401, description = "simplejwt's JWTAuthentication errors", body = Detail),
        ))]
    pub fn me() {}

    #[utoipa::path(post, path = "/logout/all", tag = "sessions",
        security(("bearer" = [])),
        request_body(content = Option<RefreshRequest>, description = "Without a Bearer token: the refresh token of any live session"),
        responses(
            (status = 200, description = "Every session of the user ended: {}"),
            (status = 400, description = "DRF field errors, or {\"non_field_errors\":[\"No data provided\"]} for a body of JSON null"),
            (status = 401, body = Detail),
        ))]
    pub fn logout_all() {}

    #[utoipa::path(post, path = "/token/logout/all", tag = "sessions",
        security(("bearer" = [])),
        request_body(content = Option<RefreshRequest>, description = "As /logout/all; in cookie mode, `{}` takes the refresh cookie (with the CSRF proof)"),
        responses(
            (status = 200, description = "Every session of the user ended, cookies cleared: {}"),
            (status = 400, description = "DRF field errors, or {\"non_field_errors\":[\"No data provided\"]}"),
            (status = 401, body = Detail),
            (status = 403, description = "Cookie mode: the refresh cookie without the CSRF proof; nothing revoked", body = Detail),
        ))]
    pub fn token_logout_all() {}

    #[utoipa::path(get, path = "/sessions", tag = "sessions",
        security(("bearer" = [])),
        responses(
            (status = 200, description = "Live sessions, newest first", body = Vec<Session>),
            (status = 401, body = Detail),
        ))]
    pub fn sessions() {}

    #[utoipa::path(delete, path = "/sessions/{id}", tag = "sessions",
        security(("bearer" = [])),
        params(("id" = String, Path, description = "Session id")),
        responses(
            (status = 204, description = "Ended"),
            (status = 401, body = Detail),
            (status = 404, description = "Unknown, or another user's", body = Detail),
        ))]
    pub fn revoke_session() {}

    #[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200)))]
    pub fn healthz() {}

    #[utoipa::path(get, path = "/readyz", tag = "operations",
        responses((status = 200), (status = 503, body = Detail)))]
    pub fn readyz() {}

    #[utoipa::path(get, path = "/metrics", tag = "operations",
        responses((status = 200, description = "Prometheus text format")))]
    pub fn metrics() {}

    #[utoipa::path(get, path = "/.well-known/jwks.json", tag = "operations",
        responses((status = 200, description = "JSON Web Key Set")))]
    pub fn jwks() {}
}

struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// jwtd's API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "jwtd", description = "A refresh-token rotation server speaking djangorestframework-simplejwt's wire protocol."),
    paths(
        paths::obtain, paths::refresh, paths::verify, paths::logout, paths::token_logout,
        paths::me, paths::logout_all, paths::token_logout_all, paths::sessions, paths::revoke_session, paths::healthz,
        paths::readyz, paths::metrics, paths::jwks,
    ),
    components(schemas(
        schema::Credentials, schema::TokenPair, schema::RefreshRequest, schema::Refreshed,
        schema::VerifyRequest, schema::Detail, schema::Me, schema::Session,
    )),
    modifiers(&BearerScheme),
)]
pub struct ApiDoc;

/// The document as JSON, built once.
pub fn document() -> &'static serde_json::Value {
    static DOCUMENT: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| serde_json::to_value(ApiDoc::openapi()).unwrap_or_default())
}
