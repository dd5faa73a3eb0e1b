//! The sections of [`Config`](super::Config), each with its defaults. A section is flattened
//! into the one flat set of settings: its fields keep their `JWTD_*` and TOML names.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail};
use api::cookies::{CSRF_COOKIE, CookieSettings, SameSite};
use api::cors::AllowedOrigin;
use api::db::DbOptions;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::values::{Flag, List, LogFormat, Seconds, lenient};

/// Token lifetimes, rotation, signing and the claims tokens carry.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TokenConfig {
    /// Lifetime of access tokens.
    pub access_token_lifetime: Seconds,
    /// Lifetime of refresh tokens (each rotation starts a new one, capped by the session).
    pub refresh_token_lifetime: Seconds,
    /// Return a new refresh token from `/token/refresh`.
    pub rotate_refresh_tokens: Flag,
    /// Blacklist the old refresh token on rotation (enables reuse detection).
    pub blacklist_after_rotation: Flag,
    /// `HS256`, `HS384` or `HS512`.
    #[serde(deserialize_with = "lenient::text")]
    pub algorithm: String,
    /// The HMAC secret. Unset: generated once and kept in `signing_key_file`.
    #[serde(skip_serializing, default, deserialize_with = "lenient::secret")]
    pub signing_key: Option<SecretString>,
    /// Where a generated signing key is kept; default beside the SQLite database.
    pub signing_key_file: Option<PathBuf>,
    /// `aud` written into and required on every token.
    #[serde(default, deserialize_with = "lenient::optional_text")]
    pub audience: Option<String>,
    /// `iss` written into and required on every token.
    #[serde(default, deserialize_with = "lenient::optional_text")]
    pub issuer: Option<String>,
    /// Tolerated clock skew.
    pub leeway: Seconds,
    /// Claim holding the user id.
    #[serde(deserialize_with = "lenient::text")]
    pub user_id_claim: String,
    /// Claim holding the token type.
    #[serde(deserialize_with = "lenient::text")]
    pub token_type_claim: String,
    /// Claim holding the token id.
    #[serde(deserialize_with = "lenient::text")]
    pub jti_claim: String,
    /// Grace window for replays of a just-rotated token (0 = strict).
    pub rotation_grace_seconds: Seconds,
    /// Absolute lifetime of a session.
    pub session_max_lifetime: Seconds,
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            access_token_lifetime: Seconds(Duration::from_secs(5 * 60)),
            refresh_token_lifetime: Seconds(Duration::from_secs(24 * 60 * 60)),
            rotate_refresh_tokens: Flag(true),
            blacklist_after_rotation: Flag(true),
            algorithm: "HS256".to_owned(),
            signing_key: None,
            signing_key_file: None,
            audience: None,
            issuer: None,
            leeway: Seconds(Duration::ZERO),
            user_id_claim: "user_id".to_owned(),
            token_type_claim: "token_type".to_owned(),
            jti_claim: "jti".to_owned(),
            rotation_grace_seconds: Seconds(Duration::from_secs(10)),
            session_max_lifetime: Seconds(Duration::from_secs(30 * 24 * 60 * 60)),
        }
    }
}

/// The listener and how requests are authenticated.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HttpConfig {
    /// Listen address.
    #[serde(deserialize_with = "lenient::text")]
    pub bind: String,
    /// Accepted `Authorization` schemes.
    pub auth_header_types: List,
    /// The header carrying access tokens.
    #[serde(deserialize_with = "lenient::text")]
    pub auth_header_name: String,
    /// Record `last_login` on login.
    pub update_last_login: Flag,
    /// Refuse inactive users on refresh and authentication.
    pub check_user_is_active: Flag,
    /// Take client addresses from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_x_forwarded_for: Flag,
    /// Serve `/metrics` (`false`: nowhere).
    pub metrics: Flag,
    /// Serve `/metrics` on this `host:port` instead of the public listener.
    #[serde(default, deserialize_with = "lenient::optional_text")]
    pub metrics_bind: Option<String>,
    /// On SIGTERM or SIGINT: how long requests in flight may take to finish before the
    /// process exits anyway.
    pub shutdown_timeout: Seconds,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8000".to_owned(),
            auth_header_types: List(vec!["Bearer".to_owned()]),
            auth_header_name: "Authorization".to_owned(),
            update_last_login: Flag(false),
            check_user_is_active: Flag(true),
            trust_x_forwarded_for: Flag(false),
            metrics: Flag(true),
            metrics_bind: None,
            // Below the 30 s Kubernetes waits after SIGTERM before it kills.
            shutdown_timeout: Seconds(Duration::from_secs(25)),
        }
    }
}

/// Browser apps: cookie mode (the refresh token in an `HttpOnly` cookie) and CORS.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BrowserConfig {
    /// Cookie mode: `/token` and `/token/refresh` set the refresh token as a cookie, and the
    /// refresh and logout paths under `/token` take it from there.
    pub refresh_cookie: Flag,
    /// Mark the cookies `Secure`; off only for `http://localhost` development.
    pub refresh_cookie_secure: Flag,
    /// The cookies' `SameSite`: `Strict`, `Lax` or `None` (which requires `Secure`).
    #[serde(deserialize_with = "lenient::text")]
    pub refresh_cookie_samesite: String,
    /// The refresh cookie's name.
    #[serde(deserialize_with = "lenient::text")]
    pub refresh_cookie_name: String,
    /// The cookies' `Domain`; unset, they belong to jwtd's host alone.
    #[serde(default, deserialize_with = "lenient::optional_text")]
    pub refresh_cookie_domain: Option<String>,
    /// Keep the refresh token in the JSON body as well.
    pub refresh_cookie_body: Flag,
    /// Origins (`https://app.example.com`) allowed to call jwtd from a browser with
    /// credentials, and the only ones cookie-authenticated requests may come from.
    pub cors_allowed_origins: List,
}

impl Default for BrowserConfig {
    fn default() -> Self {
        Self {
            refresh_cookie: Flag(false),
            refresh_cookie_secure: Flag(true),
            refresh_cookie_samesite: "Strict".to_owned(),
            refresh_cookie_name: "refresh_token".to_owned(),
            refresh_cookie_domain: None,
            refresh_cookie_body: Flag(false),
            cors_allowed_origins: List(Vec::new()),
        }
    }
}

/// How revoked sessions reach every instance.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RevocationConfig {
    /// Refuse access tokens of revoked sessions (logout, reuse, ...) until they expire.
    pub revoke_access_on_logout: Flag,
    /// How often each instance polls the database for sessions revoked elsewhere.
    pub revocation_poll_interval: Seconds,
    /// Redis (`redis://host:port/db` or `redis+unix:///path`) through which instances share
    /// revoked sessions at once; unset: each instance polls the database.
    #[serde(skip_serializing, default, deserialize_with = "lenient::secret")]
    pub redis_url: Option<SecretString>,
}

impl Default for RevocationConfig {
    fn default() -> Self {
        Self {
            revoke_access_on_logout: Flag(false),
            revocation_poll_interval: Seconds(Duration::from_secs(1)),
            redis_url: None,
        }
    }
}

/// The database, its migrations and the deletion of expired rows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DatabaseConfig {
    /// Database URL: `sqlite://jwtd.db`, `postgres://...`, `mysql://...`.
    #[serde(rename = "database_url", deserialize_with = "lenient::text")]
    pub url: String,
    /// PostgreSQL schema (`search_path`) holding jwtd's tables; unset for the default.
    #[serde(
        rename = "database_schema",
        default,
        deserialize_with = "lenient::optional_text"
    )]
    pub schema: Option<String>,
    /// Connection pool size (readers, for SQLite).
    #[serde(rename = "database_max_connections")]
    pub max_connections: u32,
    /// How long a request waits for a database connection before a 503.
    #[serde(rename = "database_acquire_timeout")]
    pub acquire_timeout: Seconds,
    /// Longest a database statement may run (PostgreSQL).
    #[serde(rename = "database_statement_timeout")]
    pub statement_timeout: Seconds,
    /// Apply migrations when `serve` starts.
    pub auto_migrate: Flag,
    /// How long security events are kept.
    pub events_retention: Seconds,
    /// How often `serve` deletes expired tokens, sessions and old events (0 = never; then
    /// run `jwtd flush-expired` from a timer).
    pub flush_expired_interval: Seconds,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        // The connection defaults are the api crate's, so that a test database and a
        // configured one start alike.
        let connection = DbOptions::default();
        Self {
            url: connection.url,
            schema: connection.schema,
            max_connections: connection.max_connections,
            acquire_timeout: Seconds(connection.acquire_timeout),
            statement_timeout: Seconds(connection.statement_timeout),
            auto_migrate: Flag(true),
            events_retention: Seconds(Duration::from_secs(90 * 24 * 60 * 60)),
            flush_expired_interval: Seconds(Duration::from_secs(60 * 60)),
        }
    }
}

/// The argon2id cost of password hashes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PasswordConfig {
    /// argon2id memory cost in KiB.
    #[serde(rename = "argon2_memory_kib")]
    pub memory_kib: u32,
    /// argon2id iterations.
    #[serde(rename = "argon2_iterations")]
    pub iterations: u32,
    /// argon2id lanes.
    #[serde(rename = "argon2_parallelism")]
    pub parallelism: u32,
}

impl Default for PasswordConfig {
    fn default() -> Self {
        Self {
            memory_kib: auth_core::PasswordHasher::DEFAULT_MEMORY_KIB,
            iterations: auth_core::PasswordHasher::DEFAULT_ITERATIONS,
            parallelism: auth_core::PasswordHasher::DEFAULT_PARALLELISM,
        }
    }
}

/// What is logged, and how.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LogConfig {
    /// `tracing` filter, e.g. `info` or `jwtd=debug`.
    #[serde(rename = "log", deserialize_with = "lenient::text")]
    pub filter: String,
    /// `text` or `json`.
    #[serde(rename = "log_format")]
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            filter: "info".to_owned(),
            format: LogFormat::Text,
        }
    }
}

impl BrowserConfig {
    /// The cookie settings (`None` with cookie mode off) and the allowed origins, checked.
    ///
    /// # Errors
    /// A message naming the setting whose value is bad: an unknown `SameSite`, `None`
    /// without `Secure`, a cookie name or domain that cannot be one, an entry of the origin
    /// list that is not an origin, or cookie mode with no origin to come from.
    pub fn settings(&self) -> anyhow::Result<(Option<CookieSettings>, Vec<AllowedOrigin>)> {
        let same_site = SameSite::parse(&self.refresh_cookie_samesite).ok_or_else(|| {
            anyhow!(
                "invalid setting JWTD_REFRESH_COOKIE_SAMESITE: {:?} is not Strict, Lax or None",
                self.refresh_cookie_samesite
            )
        })?;
        if same_site == SameSite::None && !self.refresh_cookie_secure.0 {
            bail!(
                "invalid setting JWTD_REFRESH_COOKIE_SAMESITE: None requires JWTD_REFRESH_COOKIE_SECURE=true (browsers refuse a SameSite=None cookie without Secure)"
            );
        }
        let name = self.refresh_cookie_name.trim();
        if !is_cookie_name(name) || name == CSRF_COOKIE {
            bail!(
                "invalid setting JWTD_REFRESH_COOKIE_NAME: {name:?} is not a cookie name (letters, digits and !#$%&'*+-.^_`|~, not {CSRF_COOKIE:?})"
            );
        }
        let domain = match self.refresh_cookie_domain.as_deref().map(str::trim) {
            Some(domain) => {
                let bare = domain.strip_prefix('.').unwrap_or(domain);
                if !is_domain_name(bare) {
                    bail!(
                        "invalid setting JWTD_REFRESH_COOKIE_DOMAIN: {domain:?} is not a domain name"
                    );
                }
                Some(bare.to_ascii_lowercase())
            }
            None => None,
        };
        let origins = self
            .cors_allowed_origins
            .0
            .iter()
            .map(|origin| AllowedOrigin::parse(origin))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| anyhow!("invalid setting JWTD_CORS_ALLOWED_ORIGINS: {error}"))?;
        if !self.refresh_cookie.0 {
            return Ok((None, origins));
        }
        if origins.is_empty() {
            bail!(
                "invalid setting JWTD_CORS_ALLOWED_ORIGINS: cookie mode (JWTD_REFRESH_COOKIE=true) needs the origins of the pages that use it"
            );
        }
        let cookie = CookieSettings {
            name: name.to_owned(),
            secure: self.refresh_cookie_secure.0,
            same_site,
            domain,
            in_body: self.refresh_cookie_body.0,
        };
        Ok((Some(cookie), origins))
    }
}

/// An RFC 6265 cookie name: one or more token characters.
fn is_cookie_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte))
}

/// A host name: dot-separated labels of letters, digits and hyphens.
fn is_domain_name(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
        })
}
