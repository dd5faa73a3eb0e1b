//! jwtd's HTTP surface: the axum router, extractors, handlers, the mapping of errors to
//! simplejwt's responses, and the token store that handlers use.
//!
//! This crate reads no environment and binds no sockets: the server builds an `AppState`
//! from its configuration and hands it to [`router`].

mod auth;
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
pub mod observe;
mod openapi;
pub mod passwords;
pub mod revocations;
mod routes;
pub mod security;
pub mod store;
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
    /// Take the client address from the first `X-Forwarded-For` entry (behind a proxy).
    pub trust_forwarded_for: bool,
    /// Refuse access tokens of revoked sessions until they expire.
    pub revoke_access_on_logout: bool,
    /// Cookie mode for browser apps (the refresh token in an `HttpOnly` cookie); `None`: off,
    /// and request cookies are ignored.
    pub refresh_cookie: Option<cookies::CookieSettings>,
    /// The origins allowed to call jwtd from a browser with credentials (CORS), and the only
    /// ones a cookie-authenticated request may come from. Empty: none.
    pub cors_allowed_origins: Vec<cors::AllowedOrigin>,
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
            trust_forwarded_for: false,
            revoke_access_on_logout: false,
            refresh_cookie: None,
            cors_allowed_origins: Vec::new(),
            request_timeout: None,
        }
    }
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
    }))
}
