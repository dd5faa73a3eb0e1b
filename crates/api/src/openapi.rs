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

    /// `POST /revoke` and `POST /introspect` body (JSON, form-encoded or multipart).
    #[derive(ToSchema)]
    pub struct TokenRequest {
        pub token: String,
        /// `refresh_token` or `access_token`; accepted and ignored (a JWT names its type).
        pub token_type_hint: Option<String>,
    }

    /// `POST /introspect` answer: `{"active": false}` alone for anything not live.
    #[derive(ToSchema)]
    pub struct Introspection {
        pub active: bool,
        /// The user id, as a string.
        pub sub: Option<String>,
        pub username: Option<String>,
        /// `access` or `refresh`.
        pub token_type: Option<String>,
        pub exp: Option<i64>,
        pub iat: Option<i64>,
        pub jti: Option<String>,
        /// The session (token family) id.
        pub sid: Option<String>,
        /// With JWTD_ISSUER.
        pub iss: Option<String>,
        /// With JWTD_AUDIENCE.
        pub aud: Option<String>,
        /// Access tokens under JWTD_ACCESS_TOKEN_PROFILE=rfc9068.
        pub client_id: Option<String>,
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

    /// A public key (RFC 7517): RSA (`n`, `e`), EC (`crv`, `x`, `y`) or OKP (`crv`, `x`).
    #[derive(ToSchema)]
    pub struct Jwk {
        /// Always `sig`.
        #[schema(rename = "use")]
        pub use_: String,
        pub alg: String,
        /// The RFC 7638 thumbprint, which tokens signed with this key name in their `kid`.
        pub kid: String,
        /// `RSA`, `EC` or `OKP`.
        pub kty: String,
        pub crv: Option<String>,
        pub n: Option<String>,
        pub e: Option<String>,
        pub x: Option<String>,
        pub y: Option<String>,
    }

    /// `GET /.well-known/jwks.json` answer: empty with an HMAC algorithm.
    #[derive(ToSchema)]
    pub struct JwkSet {
        pub keys: Vec<Jwk>,
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
            (status = 429, description = "Too many login attempts from this address (JWTD_LOGIN_ADDRESS_*) or failures for this username (JWTD_LOGIN_USERNAME_*; refused even with the right password): {\"detail\":\"Request was throttled. Expected available in N seconds.\"}", body = Detail,
                headers(("Retry-After" = u64, description = "Seconds until the limit lets a login through"))),
        ))]
    pub fn obtain() {}

    #[utoipa::path(post, path = "/token/refresh", tag = "simplejwt",
        request_body(content = RefreshRequest, description = "In cookie mode, `{}` takes the refresh cookie, with an allowed Origin and X-CSRF-Token equal to the csrftoken cookie"),
        responses(
            (status = 200, description = "A new access token, and the successor refresh token when rotation is on (in cookie mode, in its cookie)", body = Refreshed),
            (status = 400, description = "DRF field errors"),
            (status = 401, description = "Refused token (X-Jwtd-Reason says why) or no active account", body = Detail),
            (status = 403, description = "Cookie mode: the refresh cookie without the CSRF proof; nothing consumed", body = Detail),
            (status = 429, description = "Too many refreshes from this address (JWTD_REFRESH_RATE_PER_MINUTE); nothing consumed", body = Detail,
                headers(("Retry-After" = u64, description = "Seconds until the limit lets a refresh through"))),
        ))]
    pub fn refresh() {}

    #[utoipa::path(post, path = "/token/verify", tag = "simplejwt",
        request_body = VerifyRequest,
        responses(
            (status = 200, description = "Valid: {}"),
            (status = 400, description = "{\"non_field_errors\":[\"Token is blacklisted\"]}"),
            (status = 401, description = "Invalid or expired", body = Detail),
            (status = 429, description = "Too many verifications from this address (JWTD_VERIFY_RATE_PER_MINUTE)", body = Detail,
                headers(("Retry-After" = u64, description = "Seconds until the limit lets a verification through"))),
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

    #[utoipa::path(post, path = "/revoke", tag = "oauth",
        request_body(content = TokenRequest, description = "RFC 7009. No client authentication: possession of the token is the authority, as for /logout"),
        responses(
            (status = 200, description = "Empty body, whatever the token (RFC 7009 §2.2). A refresh token is blacklisted and its session ended; an access token ends the session it was minted in (its access tokens refused with JWTD_REVOKE_ACCESS_ON_LOGOUT)"),
            (status = 400, description = "DRF field errors, e.g. {\"token\":[\"This field is required.\"]}"),
            (status = 503, description = "The database is unavailable; retry", body = Detail),
        ))]
    pub fn revoke() {}

    #[utoipa::path(post, path = "/introspect", tag = "oauth",
        security(("introspection_client" = [])),
        request_body(content = TokenRequest, description = "RFC 7662"),
        responses(
            (status = 200, description = "Cache-Control: no-store. {\"active\": false} for anything invalid, expired, blacklisted or of an ended session", body = Introspection),
            (status = 400, description = "DRF field errors"),
            (status = 401, description = "Missing or wrong client credentials; WWW-Authenticate: Basic realm=\"jwtd\"", body = Detail),
            (status = 404, description = "JWTD_INTROSPECT_CLIENT_ID and JWTD_INTROSPECT_CLIENT_SECRET are unset: no such endpoint", body = Detail),
        ))]
    pub fn introspect() {}

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
        responses((status = 200, description = "The public keys that verify jwtd's tokens, the signing key's first",
            body = JwkSet,
            headers(("Cache-Control" = String, description = "public, max-age=300")))))]
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
        components.add_security_scheme(
            "introspection_client",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
    }
}

/// jwtd's API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "jwtd", description = "A refresh-token rotation server speaking djangorestframework-simplejwt's wire protocol."),
    paths(
        paths::obtain, paths::refresh, paths::verify, paths::logout, paths::token_logout,
        paths::revoke, paths::introspect, paths::me, paths::logout_all, paths::token_logout_all, paths::sessions, paths::revoke_session, paths::healthz,
        paths::readyz, paths::metrics, paths::jwks,
    ),
    components(schemas(
        schema::Credentials, schema::TokenPair, schema::RefreshRequest, schema::Refreshed,
        schema::VerifyRequest, schema::TokenRequest, schema::Introspection, schema::Detail,
        schema::Me, schema::Session, schema::Jwk, schema::JwkSet,
    )),
    modifiers(&BearerScheme),
)]
pub struct ApiDoc;

/// The document as JSON, built once.
pub fn document() -> &'static serde_json::Value {
    static DOCUMENT: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| serde_json::to_value(ApiDoc::openapi()).unwrap_or_default())
}
