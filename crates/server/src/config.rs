//! `Config`: every setting, loaded once from defaults, an optional TOML file and `JWTD_*`
//! environment variables (in that order, later winning).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize};

/// The prefix of every environment variable jwtd reads.
pub const ENV_PREFIX: &str = "JWTD_";

/// A duration given as whole seconds (`300`) or in words (`"5m"`, `"1day"`, `"90s"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(into = "u64")]
pub struct Seconds(pub Duration);

impl From<Seconds> for u64 {
    fn from(value: Seconds) -> Self {
        value.0.as_secs()
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Whole(u64),
            Fraction(f64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Whole(seconds) => Ok(Seconds(Duration::from_secs(seconds))),
            Raw::Fraction(seconds) if seconds.is_finite() && seconds >= 0.0 => {
                Ok(Seconds(Duration::from_secs_f64(seconds)))
            }
            Raw::Fraction(seconds) => Err(serde::de::Error::custom(format!(
                "{seconds} is not a duration"
            ))),
            Raw::Text(text) => {
                let text = text.trim();
                if let Ok(seconds) = text.parse::<u64>() {
                    return Ok(Seconds(Duration::from_secs(seconds)));
                }
                humantime::parse_duration(text)
                    .map(Seconds)
                    .map_err(|error| {
                        serde::de::Error::custom(format!(
                            "{text:?} is not a duration (use seconds, or e.g. \"5m\", \"1day\"): {error}"
                        ))
                    })
            }
        }
    }
}

/// A boolean given as `true`/`false`, `1`/`0`, `yes`/`no` or `on`/`off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(into = "bool")]
pub struct Flag(pub bool);

impl From<Flag> for bool {
    fn from(value: Flag) -> Self {
        value.0
    }
}

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Int(i64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Bool(value) => Ok(Flag(value)),
            Raw::Int(1) => Ok(Flag(true)),
            Raw::Int(0) => Ok(Flag(false)),
            Raw::Int(other) => Err(serde::de::Error::custom(format!(
                "{other} is not a boolean (use true or false)"
            ))),
            Raw::Text(text) => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(Flag(true)),
                "false" | "0" | "no" | "off" => Ok(Flag(false)),
                _ => Err(serde::de::Error::custom(format!(
                    "{text:?} is not a boolean (use true or false)"
                ))),
            },
        }
    }
}

/// A list given as a TOML array or a comma-separated string (`"Bearer,JWT"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct List(pub Vec<String>);

impl<'de> Deserialize<'de> for List {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(String),
            Many(Vec<String>),
        }
        let items = match Raw::deserialize(deserializer)? {
            Raw::One(text) => text.split(',').map(str::to_owned).collect(),
            Raw::Many(items) => items,
        };
        Ok(List(
            items
                .into_iter()
                .map(|item| item.trim().to_owned())
                .filter(|item| !item.is_empty())
                .collect(),
        ))
    }
}

/// Settings arrive from the environment parsed as TOML values, so `JWTD_AUDIENCE=123` is a
/// number; text settings take any scalar as its text.
mod lenient {
    use secrecy::SecretString;
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Int(i64),
        Float(f64),
        Bool(bool),
    }

    impl Scalar {
        fn into_text(self) -> String {
            match self {
                Scalar::Text(text) => text,
                Scalar::Int(value) => value.to_string(),
                Scalar::Float(value) => value.to_string(),
                Scalar::Bool(value) => value.to_string(),
            }
        }
    }

    pub fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
        Scalar::deserialize(deserializer).map(Scalar::into_text)
    }

    pub fn optional_text<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<String>, D::Error> {
        Ok(Option::<Scalar>::deserialize(deserializer)?
            .map(Scalar::into_text)
            .filter(|text| !text.is_empty()))
    }

    pub fn secret<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<SecretString>, D::Error> {
        Ok(optional_text(deserializer)?.map(SecretString::from))
    }
}

/// How logs are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Every setting. Names follow simplejwt's (`ACCESS_TOKEN_LIFETIME` is
/// `JWTD_ACCESS_TOKEN_LIFETIME` or `access_token_lifetime` in TOML).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Lifetime of access tokens.
    pub access_token_lifetime: Seconds,
    /// Lifetime of refresh tokens (each rotation starts a new one, capped by the session).
    pub refresh_token_lifetime: Seconds,
    /// Return a new refresh token from `/token/refresh`.
    pub rotate_refresh_tokens: Flag,
    /// Blacklist the old refresh token on rotation (enables reuse detection).
    pub blacklist_after_rotation: Flag,
    /// Record `last_login` on login.
    pub update_last_login: Flag,
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
    /// Accepted `Authorization` schemes.
    pub auth_header_types: List,
    /// The header carrying access tokens.
    #[serde(deserialize_with = "lenient::text")]
    pub auth_header_name: String,
    /// Claim holding the user id.
    #[serde(deserialize_with = "lenient::text")]
    pub user_id_claim: String,
    /// Claim holding the token type.
    #[serde(deserialize_with = "lenient::text")]
    pub token_type_claim: String,
    /// Claim holding the token id.
    #[serde(deserialize_with = "lenient::text")]
    pub jti_claim: String,
    /// Refuse inactive users on refresh and authentication.
    pub check_user_is_active: Flag,
    /// Grace window for replays of a just-rotated token (0 = strict).
    pub rotation_grace_seconds: Seconds,
    /// Absolute lifetime of a session.
    pub session_max_lifetime: Seconds,
    /// Refuse access tokens of revoked sessions (logout, reuse, ...) until they expire.
    pub revoke_access_on_logout: Flag,
    /// How often each instance polls the database for sessions revoked elsewhere.
    pub revocation_poll_interval: Seconds,
    /// Database URL: `sqlite://jwtd.db`, `postgres://...`, `mysql://...`.
    #[serde(deserialize_with = "lenient::text")]
    pub database_url: String,
    /// PostgreSQL schema (`search_path`) holding jwtd's tables; unset for the default.
    #[serde(default, deserialize_with = "lenient::optional_text")]
    pub database_schema: Option<String>,
    /// Connection pool size (readers, for SQLite).
    pub database_max_connections: u32,
    /// How long a request waits for a database connection before a 503.
    pub database_acquire_timeout: Seconds,
    /// Longest a database statement may run (PostgreSQL).
    pub database_statement_timeout: Seconds,
    /// Redis (`redis://host:port/db` or `redis+unix:///path`) through which instances share
    /// revoked sessions at once; unset: each instance polls the database.
    #[serde(skip_serializing, default, deserialize_with = "lenient::secret")]
    pub redis_url: Option<SecretString>,
    /// Apply migrations when `serve` starts.
    pub auto_migrate: Flag,
    /// Listen address.
    #[serde(deserialize_with = "lenient::text")]
    pub bind: String,
    /// argon2id memory cost in KiB.
    pub argon2_memory_kib: u32,
    /// argon2id iterations.
    pub argon2_iterations: u32,
    /// argon2id lanes.
    pub argon2_parallelism: u32,
    /// How long security events are kept.
    pub events_retention: Seconds,
    /// How often `serve` deletes expired tokens, sessions and old events (0 = never; then
    /// run `jwtd flush-expired` from a timer).
    pub flush_expired_interval: Seconds,
    /// Take client addresses from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_x_forwarded_for: Flag,
    /// `tracing` filter, e.g. `info` or `jwtd=debug`.
    #[serde(deserialize_with = "lenient::text")]
    pub log: String,
    /// `text` or `json`.
    pub log_format: LogFormat,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            access_token_lifetime: Seconds(Duration::from_secs(5 * 60)),
            refresh_token_lifetime: Seconds(Duration::from_secs(24 * 60 * 60)),
            rotate_refresh_tokens: Flag(true),
            blacklist_after_rotation: Flag(true),
            update_last_login: Flag(false),
            algorithm: "HS256".to_owned(),
            signing_key: None,
            signing_key_file: None,
            audience: None,
            issuer: None,
            leeway: Seconds(Duration::ZERO),
            auth_header_types: List(vec!["Bearer".to_owned()]),
            auth_header_name: "Authorization".to_owned(),
            user_id_claim: "user_id".to_owned(),
            token_type_claim: "token_type".to_owned(),
            jti_claim: "jti".to_owned(),
            check_user_is_active: Flag(true),
            rotation_grace_seconds: Seconds(Duration::from_secs(10)),
            session_max_lifetime: Seconds(Duration::from_secs(30 * 24 * 60 * 60)),
            revoke_access_on_logout: Flag(false),
            revocation_poll_interval: Seconds(Duration::from_secs(1)),
            database_url: "sqlite://jwtd.db".to_owned(),
            database_schema: None,
            database_max_connections: 10,
            database_acquire_timeout: Seconds(Duration::from_secs(5)),
            database_statement_timeout: Seconds(Duration::from_secs(5)),
            redis_url: None,
            auto_migrate: Flag(true),
            bind: "127.0.0.1:8000".to_owned(),
            argon2_memory_kib: auth_core::PasswordHasher::DEFAULT_MEMORY_KIB,
            argon2_iterations: auth_core::PasswordHasher::DEFAULT_ITERATIONS,
            argon2_parallelism: auth_core::PasswordHasher::DEFAULT_PARALLELISM,
            events_retention: Seconds(Duration::from_secs(90 * 24 * 60 * 60)),
            flush_expired_interval: Seconds(Duration::from_secs(60 * 60)),
            trust_x_forwarded_for: Flag(false),
            log: "info".to_owned(),
            log_format: LogFormat::Text,
        }
    }
}

/// The setting names, as `JWTD_*` variables, for unknown-variable warnings.
fn known_keys() -> Vec<String> {
    let defaults = serde_json::to_value(Config::default()).unwrap_or_default();
    let mut keys: Vec<String> = defaults
        .as_object()
        .map(|object| object.keys().cloned().collect())
        .unwrap_or_default();
    // Not serialized (secrets), but settings all the same.
    keys.push("signing_key".to_owned());
    keys.push("redis_url".to_owned());
    keys
}

/// The environment variable for a setting.
pub fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_ascii_uppercase())
}

impl Config {
    /// Loads defaults, then `file` (TOML) if given, then `JWTD_*` variables, and checks
    /// every value. Unknown `JWTD_*` variables are returned as warnings.
    ///
    /// # Errors
    /// A message naming the setting whose value is bad.
    pub fn load(file: Option<&Path>) -> anyhow::Result<(Self, Vec<String>)> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.exists() {
                bail!("config file {} does not exist", file.display());
            }
            figment = figment.merge(Toml::file(file));
        }
        let known = known_keys();
        let mut warnings = Vec::new();
        for (name, _) in std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value)))
            .filter(|(name, _)| name.starts_with(ENV_PREFIX))
        {
            let key = name[ENV_PREFIX.len()..].to_ascii_lowercase();
            if !known.contains(&key)
                && !name.starts_with("JWTD_TEST_")
                && !name.starts_with("JWTD_BENCH_")
            {
                warnings.push(format!("unknown setting {name} is ignored"));
            }
        }
        let known_for_env = known.clone();
        figment = figment.merge(Env::prefixed(ENV_PREFIX).filter(move |key| {
            known_for_env
                .iter()
                .any(|known| key.as_str().eq_ignore_ascii_case(known))
        }));
        let config: Config = figment.extract().map_err(|error| {
            let messages: Vec<String> = error
                .into_iter()
                .map(|error| {
                    let key = error.path.last().cloned().unwrap_or_default();
                    let source = error
                        .metadata
                        .as_ref()
                        .map(|metadata| metadata.name.to_string())
                        .unwrap_or_default();
                    if key.is_empty() {
                        format!("{} ({source})", error.kind)
                    } else {
                        format!(
                            "invalid setting {} ({source}): {}",
                            env_name(&key),
                            error.kind
                        )
                    }
                })
                .collect();
            anyhow!(messages.join("; "))
        })?;
        config.check()?;
        Ok((config, warnings))
    }

    fn check(&self) -> anyhow::Result<()> {
        if auth_core::Algorithm::parse(&self.algorithm).is_none() {
            bail!(
                "invalid setting JWTD_ALGORITHM: unsupported algorithm {:?} (supported: HS256, HS384, HS512)",
                self.algorithm
            );
        }
        for (key, value) in [
            ("access_token_lifetime", self.access_token_lifetime),
            ("refresh_token_lifetime", self.refresh_token_lifetime),
            ("session_max_lifetime", self.session_max_lifetime),
        ] {
            if value.0.as_secs() == 0 {
                bail!(
                    "invalid setting {}: must be at least one second",
                    env_name(key)
                );
            }
        }
        if self.revocation_poll_interval.0.is_zero() {
            bail!("invalid setting JWTD_REVOCATION_POLL_INTERVAL: must be more than zero");
        }
        if self.auth_header_types.0.is_empty() {
            bail!("invalid setting JWTD_AUTH_HEADER_TYPES: at least one scheme is required");
        }
        axum_header_name(&self.auth_header_name)?;
        for (key, value) in [
            ("user_id_claim", &self.user_id_claim),
            ("token_type_claim", &self.token_type_claim),
            ("jti_claim", &self.jti_claim),
        ] {
            if value.trim().is_empty() {
                bail!("invalid setting {}: must not be empty", env_name(key));
            }
        }
        self.bind_address()?;
        if !["sqlite:", "postgres:", "postgresql:", "mysql:", "mariadb:"]
            .iter()
            .any(|scheme| self.database_url.starts_with(scheme))
        {
            bail!(
                "invalid setting JWTD_DATABASE_URL: expected a sqlite://, postgres:// or mysql:// URL"
            );
        }
        if self.database_max_connections == 0 {
            bail!("invalid setting JWTD_DATABASE_MAX_CONNECTIONS: must be at least 1");
        }
        if let Some(url) = &self.redis_url {
            // The URL may hold a password: name the key, never the value.
            api::revocations::redis_share::client(url.expose_secret()).map_err(|error| {
                anyhow!(
                    "invalid setting JWTD_REDIS_URL: expected redis://host:port/db or redis+unix:///path ({})",
                    error.category()
                )
            })?;
        }
        auth_core::PasswordHasher::new(
            self.argon2_memory_kib,
            self.argon2_iterations,
            self.argon2_parallelism,
            [0; 16],
        )
        .map_err(|error| anyhow!("invalid argon2 settings (JWTD_ARGON2_*): {error}"))?;
        tracing_subscriber::EnvFilter::try_new(&self.log)
            .map_err(|error| anyhow!("invalid setting JWTD_LOG: {error}"))?;
        Ok(())
    }

    /// The listen address.
    ///
    /// # Errors
    /// When `bind` is not `host:port`.
    pub fn bind_address(&self) -> anyhow::Result<SocketAddr> {
        self.bind.parse().with_context(|| {
            format!(
                "invalid setting JWTD_BIND: {:?} is not host:port",
                self.bind
            )
        })
    }

    /// The database URL, with `mariadb://` read as `mysql://`.
    pub fn database_url(&self) -> String {
        match self.database_url.strip_prefix("mariadb:") {
            Some(rest) => format!("mysql:{rest}"),
            None => self.database_url.clone(),
        }
    }

    /// Where the generated signing key lives: the configured file, or beside the SQLite
    /// database, or `jwtd.key` in the working directory.
    pub fn key_file(&self) -> PathBuf {
        if let Some(file) = &self.signing_key_file {
            return file.clone();
        }
        sqlite_path(&self.database_url)
            .map(|path| {
                let mut name = path.as_os_str().to_owned();
                name.push(".key");
                PathBuf::from(name)
            })
            .unwrap_or_else(|| PathBuf::from("jwtd.key"))
    }
}

/// The file of a `sqlite://path` or `sqlite:path` URL; `None` for in-memory or other
/// databases.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Some(PathBuf::from(path))
}

/// Parses a header name setting.
///
/// # Errors
/// When it is not a valid HTTP header name.
pub fn axum_header_name(name: &str) -> anyhow::Result<axum::http::HeaderName> {
    // simplejwt names it as a Django META key (`HTTP_AUTHORIZATION`); accept that too.
    let name = name.strip_prefix("HTTP_").unwrap_or(name).replace('_', "-");
    axum::http::HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).map_err(|_| {
        anyhow!("invalid setting JWTD_AUTH_HEADER_NAME: {name:?} is not a header name")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_path("sqlite://jwtd.db"),
            Some(PathBuf::from("jwtd.db"))
        );
        assert_eq!(
            sqlite_path("sqlite:/tmp/x.db?mode=rwc"),
            Some(PathBuf::from("/tmp/x.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://x"), None);
    }

    #[test]
    fn durations_read_seconds_or_words() {
        let parse = |text: &str| -> Seconds { serde_json::from_str(text).unwrap() };
        assert_eq!(parse("300").0, Duration::from_secs(300));
        assert_eq!(parse("\"5m\"").0, Duration::from_secs(300));
        assert_eq!(parse("\"1day\"").0, Duration::from_secs(86_400));
        assert_eq!(parse("\"42\"").0, Duration::from_secs(42));
        assert!(serde_json::from_str::<Seconds>("\"soon\"").is_err());
    }

    #[test]
    fn header_names_accept_django_meta_spelling() {
        assert_eq!(
            axum_header_name("HTTP_X_ACCESS_TOKEN").unwrap().as_str(),
            "x-access-token"
        );
        assert_eq!(
            axum_header_name("Authorization").unwrap().as_str(),
            "authorization"
        );
    }
}
