//! The sections of [`Config`](super::Config), each with its defaults. A section is flattened
//! into the one flat set of settings: its fields keep their `JWTD_*` and TOML names.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail};
use api::cookies::{CSRF_COOKIE, CookieSettings, SameSite};
use api::cors::AllowedOrigin;
use api::db::DbOptions;
use api::oauth::{ClientSecret, IntrospectionClient};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::values::{Binding, Flag, List, LogFormat, Seconds, lenient};

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
    /// `HS256`/`HS384`/`HS512`, `RS256`/`RS384`/`RS512`, `PS256`/`PS384`/`PS512`, `ES256`,
    /// `ES384` or `EdDSA`.
    #[serde(deserialize_with = "lenient::text")]
    pub algorithm: String,
    /// The HMAC secret. Unset: generated once and kept in `signing_key_file`.
    #[serde(skip_serializing, default, deserialize_with = "lenient::secret")]
    pub signing_key: Option<SecretString>,
    /// HMAC: where a generated secret is kept (default beside the SQLite database). Public-key
    /// algorithms: the PKCS#8 private key that signs.
    pub signing_key_file: Option<PathBuf>,
    /// Public-key algorithms: the signing key's public key and any older ones whose tokens
    /// still verify (or a newer one published ahead), comma-separated.
    pub verifying_key_file: List,
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
    /// What a replay inside the grace window must match of the client that rotated:
    /// `client` (its `User-Agent` and address), `user-agent`, or `none` (weaker).
    pub rotation_grace_binding: Binding,
    /// Absolute lifetime of a session.
    pub session_max_lifetime: Seconds,
    /// `simplejwt` (simplejwt's claims) or `rfc9068` (`typ: at+jwt`, with `sub` and
    /// `client_id`; needs the audience, the issuer and the client id set).
    #[serde(deserialize_with = "lenient::text")]
    pub access_token_profile: String,
    /// The `client_id` claim of access tokens under `rfc9068`.
    #[serde(default, deserialize_with = "lenient::optional_text")]
    pub access_token_client_id: Option<String>,
}

impl TokenConfig {
    /// The access-token profile, with what it needs.
    ///
    /// # Errors
    /// An unknown profile, or `rfc9068` without the settings RFC 9068 requires.
    pub fn access_token_profile(&self) -> anyhow::Result<auth_core::AccessTokenProfile> {
        let client_id = self.access_token_client_id.clone().unwrap_or_default();
        let profile = auth_core::AccessTokenProfile::parse(&self.access_token_profile, client_id)
            .ok_or_else(|| {
            anyhow!(
                "invalid setting JWTD_ACCESS_TOKEN_PROFILE: {:?} is not {}",
                self.access_token_profile,
                auth_core::AccessTokenProfile::NAMES.join(" or ")
            )
        })?;
        if profile != auth_core::AccessTokenProfile::Simplejwt {
            // RFC 9068 §2.2: `iss`, `aud` and `client_id` are required claims.
            let missing: Vec<&str> = [
                ("JWTD_ISSUER", &self.issuer),
                ("JWTD_AUDIENCE", &self.audience),
                ("JWTD_ACCESS_TOKEN_CLIENT_ID", &self.access_token_client_id),
            ]
            .into_iter()
            .filter(|(_, value)| value.as_deref().is_none_or(|value| value.trim().is_empty()))
            .map(|(name, _)| name)
            .collect();
            if !missing.is_empty() {
                bail!(
                    "invalid setting JWTD_ACCESS_TOKEN_PROFILE: rfc9068 tokens must carry iss, aud and client_id; set {}",
                    missing.join(", ")
                );
            }
        }
        Ok(profile)
    }
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
            verifying_key_file: List(Vec::new()),
            audience: None,
            issuer: None,
            leeway: Seconds(Duration::ZERO),
            user_id_claim: "user_id".to_owned(),
            token_type_claim: "token_type".to_owned(),
            jti_claim: "jti".to_owned(),
            rotation_grace_seconds: Seconds(Duration::from_secs(10)),
            rotation_grace_binding: Binding(auth_core::GraceBinding::Client),
            session_max_lifetime: Seconds(Duration::from_secs(30 * 24 * 60 * 60)),
            access_token_profile: "simplejwt".to_owned(),
            access_token_client_id: None,
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
    /// Proxies (addresses or CIDRs) whose `X-Forwarded-For` names the client; empty: the
    /// client address is the socket peer's.
    pub trusted_proxies: List,
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
            trusted_proxies: List(Vec::new()),
            metrics: Flag(true),
            metrics_bind: None,
            // Below the 30 s Kubernetes waits after SIGTERM before it kills.
            shutdown_timeout: Seconds(Duration::from_secs(25)),
        }
    }
}

/// Login lockout and rate limits per client address (issue 15). A count of 0 turns its
/// limit off.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AbuseConfig {
    /// Failed logins per username before it is locked for the rest of the window.
    pub login_username_max_failures: u32,
    /// The username window, from its first failure.
    pub login_username_window: Seconds,
    /// Login attempts per client address in its window.
    pub login_address_max_attempts: u32,
    /// The address window, from its first attempt.
    pub login_address_window: Seconds,
    /// `/token/refresh` requests per client address and minute.
    pub refresh_rate_per_minute: u32,
    /// `/token/verify` requests per client address and minute.
    pub verify_rate_per_minute: u32,
}

impl Default for AbuseConfig {
    fn default() -> Self {
        let limits = api::throttle::ThrottleSettings::default();
        Self {
            login_username_max_failures: limits.login_username.max,
            login_username_window: Seconds(limits.login_username.window),
            login_address_max_attempts: limits.login_address.max,
            login_address_window: Seconds(limits.login_address.window),
            refresh_rate_per_minute: limits.refresh_per_minute,
            verify_rate_per_minute: limits.verify_per_minute,
        }
    }
}

impl AbuseConfig {
    /// The limits (counting logins in the database; the caller adds Redis).
    pub fn settings(&self) -> api::throttle::ThrottleSettings {
        use api::throttle::{Limit, ThrottleSettings};
        ThrottleSettings {
            login_username: Limit::new(
                self.login_username_max_failures,
                self.login_username_window.0,
            ),
            login_address: Limit::new(self.login_address_max_attempts, self.login_address_window.0),
            refresh_per_minute: self.refresh_rate_per_minute,
            verify_per_minute: self.verify_rate_per_minute,
            redis: None,
        }
    }
}

/// What a client may hold: how long it may take to send a request, how long an idle
/// connection stays open, and how many connections are served at once.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LimitsConfig {
    /// How long a request's line and headers may take to arrive, from its first byte.
    pub header_read_timeout: Seconds,
    /// How long a request may take once its headers are in, reading its body included:
    /// then it is answered 408.
    pub request_timeout: Seconds,
    /// How long a connection may stay open with no request on it (before the first, and
    /// between requests).
    pub keep_alive_timeout: Seconds,
    /// How many connections are served at once; more wait to be accepted.
    pub max_connections: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            header_read_timeout: Seconds(Duration::from_secs(10)),
            request_timeout: Seconds(Duration::from_secs(20)),
            keep_alive_timeout: Seconds(Duration::from_secs(30)),
            max_connections: 512,
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

/// Moving from simplejwt.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SimplejwtConfig {
    /// The moment jwtd took over from simplejwt (Unix seconds or RFC 3339): refresh tokens
    /// simplejwt issued before it are adopted as sessions on first use.
    #[serde(default, deserialize_with = "lenient::optional_text")]
    pub adopt_refresh_tokens_issued_before: Option<String>,
}

impl SimplejwtConfig {
    /// The cut-over as Unix seconds, `None` when unset.
    ///
    /// # Errors
    /// A message naming the setting when it is neither Unix seconds nor an RFC 3339 time.
    pub fn cutover(&self) -> anyhow::Result<Option<i64>> {
        let Some(text) = self.adopt_refresh_tokens_issued_before.as_deref() else {
            return Ok(None);
        };
        let text = text.trim();
        if let Ok(seconds) = text.parse::<i64>() {
            return Ok(Some(seconds));
        }
        humantime::parse_rfc3339_weak(text)
            .ok()
            .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
            .and_then(|since| i64::try_from(since.as_secs()).ok())
            .map(Some)
            .ok_or_else(|| {
                anyhow!(
                    "invalid setting JWTD_ADOPT_REFRESH_TOKENS_ISSUED_BEFORE: {text:?} is neither Unix seconds nor an RFC 3339 time (2026-12-05T08:00:00Z)"
                )
            })
    }
}

/// Resource servers: the client allowed to introspect tokens (`POST /introspect`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ResourceServerConfig {
    /// The HTTP Basic user name of the one client allowed to call `/introspect`; unset with
    /// the secret: the endpoint does not exist.
    #[serde(default, deserialize_with = "lenient::optional_text")]
    pub introspect_client_id: Option<String>,
    /// That client's HTTP Basic password.
    #[serde(skip_serializing, default, deserialize_with = "lenient::secret")]
    pub introspect_client_secret: Option<SecretString>,
}

impl ResourceServerConfig {
    /// The introspection client, `None` when neither half is set.
    ///
    /// # Errors
    /// A message naming the missing setting when only one of the two is set.
    pub fn introspection(&self) -> anyhow::Result<Option<IntrospectionClient>> {
        match (&self.introspect_client_id, &self.introspect_client_secret) {
            (None, None) => Ok(None),
            (Some(id), Some(secret)) => Ok(Some(IntrospectionClient {
                id: id.clone(),
                secret: ClientSecret::new(secret.expose_secret()),
            })),
            (Some(_), None) => bail!(
                "invalid setting JWTD_INTROSPECT_CLIENT_SECRET: required when JWTD_INTROSPECT_CLIENT_ID is set"
            ),
            (None, Some(_)) => bail!(
                "invalid setting JWTD_INTROSPECT_CLIENT_ID: required when JWTD_INTROSPECT_CLIENT_SECRET is set"
            ),
        }
    }
}
