//! jwtd's HTTP surface: the axum router, extractors, handlers, the mapping of errors to
//! simplejwt's responses, and the token store that handlers use.
//!
//! This crate reads no environment and binds no sockets: the server builds an `AppState`
//! from its configuration and hands it to [`router`].

mod adoption;
mod auth;
pub mod client_address;
pub mod clock;
pub mod cookies;
pub mod cors;
pub mod db;
pub mod error;
pub mod events;
mod ids;
mod input;
pub mod limits;
pub mod metrics;
pub mod oauth;
pub mod observe;
mod openapi;
pub mod passwords;
pub mod revocations;
mod routes;
pub mod security;
pub mod store;
pub mod throttle;
mod tokens;
pub mod users;

use std::sync::Arc;

use auth_core::TokenCodec;

pub use auth::AuthenticatedUser;
pub use axum::http::HeaderName;
pub use events::Client;
pub use routes::{RouterOptions, metrics_router, router, router_with};
pub use tokens::{revoke_all, revoke_session};

use clock::Clock;
use db::Database;
use passwords::Passwords;
use store::TokenStore;

/// HTTP-level settings (the token settings live in the codec).
#[derive(Clone, Debug)]
pub struct HttpSettings {
    /// Accepted `Authorization` scheme words, case-sensitive; the first is used in
    /// `WWW-Authenticate`. simplejwt: `AUTH_HEADER_TYPES`.
    pub auth_header_types: Vec<String>,
    /// The header carrying the access token. simplejwt: `AUTH_HEADER_NAME`.
    pub auth_header_name: HeaderName,
    /// Record `last_login` on every successful login. simplejwt: `UPDATE_LAST_LOGIN`.
    pub update_last_login: bool,
    /// Refuse inactive users on refresh and authentication. simplejwt: `CHECK_USER_IS_ACTIVE`.
    pub check_user_is_active: bool,
    /// The proxies (addresses or networks) whose `X-Forwarded-For` names the client: read
    /// only when the socket peer is one of them, right to left, past every trusted hop.
    /// Empty: the client address is the socket peer's.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The key of the client marks rotations record (see `auth_core::ClientMark`). The
    /// server derives it from the signing key, so that every instance marks alike; the
    /// default is random, good for one process only.
    pub client_mark_key: auth_core::ClientMarkKey,
    /// Refuse access tokens of revoked sessions until they expire.
    pub revoke_access_on_logout: bool,
    /// Cookie mode for browser apps (the refresh token in an `HttpOnly` cookie); `None`: off,
    /// and request cookies are ignored.
    pub refresh_cookie: Option<cookies::CookieSettings>,
    /// The origins allowed to call jwtd from a browser with credentials (CORS), and the only
    /// ones a cookie-authenticated request may come from. Empty: none.
    pub cors_allowed_origins: Vec<cors::AllowedOrigin>,
    /// Login lockout and rate limits (issue 15).
    pub throttle: throttle::ThrottleSettings,
    /// The client allowed to call `/introspect`; `None`: the endpoint does not exist.
    pub introspection: Option<oauth::IntrospectionClient>,
    /// Adopt refresh tokens simplejwt issued (no `sid`, not stored) before this Unix time
    /// as new sessions on first use; `None`: refuse them as `Token is invalid`.
    pub adopt_refresh_tokens_issued_before: Option<i64>,
    /// How long a request may take, reading its body included, before it is answered 408;
    /// `None`: no limit (the server always sets one).
    pub request_timeout: Option<std::time::Duration>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            auth_header_types: vec!["Bearer".to_owned()],
            auth_header_name: axum::http::header::AUTHORIZATION,
            update_last_login: false,
            check_user_is_active: true,
            trusted_proxies: Vec::new(),
            client_mark_key: random_mark_key(),
            revoke_access_on_logout: false,
            refresh_cookie: None,
            cors_allowed_origins: Vec::new(),
            throttle: throttle::ThrottleSettings::default(),
            introspection: None,
            adopt_refresh_tokens_issued_before: None,
            request_timeout: None,
        }
    }
}

/// A client-mark key for one process alone.
fn random_mark_key() -> auth_core::ClientMarkKey {
    let halves: [[u8; 32]; 2] = rand::random();
    let mut bytes = [0u8; 64];
    bytes[..32].copy_from_slice(&halves[0]);
    bytes[32..].copy_from_slice(&halves[1]);
    auth_core::ClientMarkKey::from_bytes(bytes)
}

/// Everything handlers share: one pointer, so the clone every extractor makes is one
/// reference-count increment. Reads as its [`Shared`] fields.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// Wraps the shared pieces.
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The pieces of [`AppState`].
pub struct Shared {
    /// Database connections.
    pub db: Database,
    /// Refresh-token state.
    pub store: Arc<dyn TokenStore>,
    /// Mints and verifies tokens.
    pub codec: Arc<TokenCodec>,
    /// Hashes and verifies passwords off the runtime.
    pub passwords: Passwords,
    /// HTTP-level settings.
    pub http: Arc<HttpSettings>,
    /// The current time.
    pub clock: Arc<dyn Clock>,
    /// Sessions revoked recently enough that their access tokens may still be unexpired.
    pub revoked: Arc<revocations::RevokedSessions>,
    /// What `/metrics` shows.
    pub metrics: Arc<metrics::Metrics>,
    /// Users recently read by authentication; see [`users::UserCache`].
    pub users: Arc<users::UserCache>,
    /// Login lockout and rate limits.
    pub throttle: throttle::Throttle,
}

/// The pieces [`assemble`] turns into an [`AppState`]: everything but the store, which it
/// opens for the database.
pub struct Parts {
    /// Database connections.
    pub db: Database,
    /// Mints and verifies tokens.
    pub codec: Arc<TokenCodec>,
    /// Hashes and verifies passwords off the runtime.
    pub passwords: Passwords,
    /// HTTP-level settings.
    pub http: HttpSettings,
    /// The current time.
    pub clock: Arc<dyn Clock>,
    /// The revoked-session set (which may share revocations through Redis).
    pub revoked: Arc<revocations::RevokedSessions>,
}

/// The one constructor of an [`AppState`], for the server and the tests alike: opens the
/// storage engine for the database, starts its workers (on the current tokio runtime), and
/// puts the pieces together.
///
/// # Errors
/// When the engine cannot open or start; the message names the cause.
pub fn assemble(parts: Parts) -> Result<AppState, store::StoreError> {
    let (store, workers) = store::open(
        parts.db.clone(),
        Arc::clone(&parts.codec),
        parts.http.check_user_is_active,
    )?;
    workers.spawn()?;
    let throttle = throttle::Throttle::new(&parts.http.throttle, parts.db.clone());
    Ok(AppState::new(Shared {
        db: parts.db,
        store: Arc::new(store),
        codec: parts.codec,
        passwords: parts.passwords,
        http: Arc::new(parts.http),
        clock: parts.clock,
        revoked: parts.revoked,
        metrics: Arc::default(),
        users: Arc::default(),
        throttle,
    }))
}
