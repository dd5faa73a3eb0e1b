//! `Config`: every setting, loaded once from defaults, an optional TOML file and `JWTD_*`
//! environment variables (in that order, later winning).
//!
//! The settings are one flat set of names (`JWTD_ACCESS_TOKEN_LIFETIME`, or
//! `access_token_lifetime` in TOML), grouped in the code into sections
//! ([`config/sections.rs`](sections)); the types their values are read into live in
//! [`config/values.rs`](values).

mod report;
mod sections;
mod values;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

pub use report::check;
pub use sections::{
    AbuseConfig, BrowserConfig, DatabaseConfig, HttpConfig, LimitsConfig, LogConfig,
    PasswordConfig, ResourceServerConfig, RevocationConfig, SimplejwtConfig, TokenConfig,
};
pub use values::{LogFormat, axum_header_name};

/// The prefix of every environment variable jwtd reads.
pub const ENV_PREFIX: &str = "JWTD_";

/// Every setting, by section. Names follow simplejwt's (`ACCESS_TOKEN_LIFETIME` is
/// `JWTD_ACCESS_TOKEN_LIFETIME` or `access_token_lifetime` in TOML); a section adds no
/// prefix of its own.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Config {
    /// Token lifetimes, rotation, signing and claims.
    #[serde(flatten)]
    pub tokens: TokenConfig,
    /// The listener and request authentication.
    #[serde(flatten)]
    pub http: HttpConfig,
    /// Login lockout and rate limits.
    #[serde(flatten)]
    pub abuse: AbuseConfig,
    /// Timeouts and the connection cap.
    #[serde(flatten)]
    pub limits: LimitsConfig,
    /// Cookie mode and CORS for browser apps.
    #[serde(flatten)]
    pub browser: BrowserConfig,
    /// Sharing revoked sessions between instances.
    #[serde(flatten)]
    pub revocation: RevocationConfig,
    /// Token introspection for resource servers.
    #[serde(flatten)]
    pub resource_servers: ResourceServerConfig,
    /// Moving from a running simplejwt.
    #[serde(flatten)]
    pub simplejwt: SimplejwtConfig,
    /// The database and its upkeep.
    #[serde(flatten)]
    pub database: DatabaseConfig,
    /// The argon2id cost.
    #[serde(flatten)]
    pub passwords: PasswordConfig,
    /// Logging.
    #[serde(flatten)]
    pub logging: LogConfig,
}

/// The setting `JWTD_TRUSTED_PROXIES` replaced: refused, so that a deployment that relied
/// on it does not silently start taking client addresses from the socket.
const REPLACED_FORWARDED_FOR: &str = "trust_x_forwarded_for";

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
    keys.push("introspect_client_secret".to_owned());
    keys
}

/// The environment variable for a setting.
pub fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_ascii_uppercase())
}

/// A setting that could not be read: its key (empty when the source itself is bad) and the
/// message naming it.
struct Refusal {
    key: String,
    message: String,
}

impl Refusal {
    fn of(error: figment::Error) -> Self {
        let key = error.path.last().cloned().unwrap_or_default();
        let source = error
            .metadata
            .as_ref()
            .map(|metadata| metadata.name.to_string())
            .unwrap_or_default();
        let message = if key.is_empty() {
            format!("{} ({source})", error.kind)
        } else {
            format!(
                "invalid setting {} ({source}): {}",
                env_name(&key),
                error.kind
            )
        };
        Self { key, message }
    }
}

/// Reads one section from the merged settings, or notes why it cannot be read.
fn section<T: for<'de> Deserialize<'de>>(
    figment: &Figment,
    refusals: &mut Vec<Refusal>,
) -> Option<T> {
    figment
        .extract()
        .map_err(|error| refusals.extend(error.into_iter().map(Refusal::of)))
        .ok()
}

impl Config {
    /// Loads defaults, then `file` (TOML) if given, then `JWTD_*` variables, and checks
    /// every value. Unknown `JWTD_*` variables are returned as warnings.
    ///
    /// # Errors
    /// A message naming the setting whose value is bad.
    pub fn load(file: Option<&Path>) -> anyhow::Result<(Self, Vec<String>)> {
        let (figment, mut warnings) = Self::sources(file)?;
        let config = Self::from_sources(&figment)?;
        if config.browser.refresh_cookie.0 && !config.browser.refresh_cookie_secure.0 {
            warnings.push(
                "JWTD_REFRESH_COOKIE_SECURE=false: the refresh cookie also travels over plain HTTP; for http://localhost development only".to_owned(),
            );
        }
        Ok((config, warnings))
    }

    /// The settings as given, not yet read: defaults, then `file` (TOML) if given, then
    /// `JWTD_*` variables; with a warning for each unknown `JWTD_*` variable.
    ///
    /// # Errors
    /// When `file` does not exist.
    pub fn sources(file: Option<&Path>) -> anyhow::Result<(Figment, Vec<String>)> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.exists() {
                bail!("config file {} does not exist", file.display());
            }
            figment = figment.merge(Toml::file(file));
        }
        if figment.contains(REPLACED_FORWARDED_FOR)
            || std::env::var_os(env_name(REPLACED_FORWARDED_FOR)).is_some()
        {
            bail!(
                "{} was replaced by JWTD_TRUSTED_PROXIES: list the proxies whose X-Forwarded-For jwtd may read (addresses or CIDRs, e.g. JWTD_TRUSTED_PROXIES=127.0.0.1), and remove it",
                env_name(REPLACED_FORWARDED_FOR)
            );
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
        Ok((figment, warnings))
    }

    /// Reads and checks the settings of [`Config::sources`].
    ///
    /// # Errors
    /// A message naming the setting whose value is bad.
    pub fn from_sources(figment: &Figment) -> anyhow::Result<Self> {
        let config = Config::extract(figment, &known_keys())?;
        config.check()?;
        Ok(config)
    }

    /// Reads every section from the merged settings. As a single flat structure would, it
    /// refuses a key no section knows, and of several bad settings names the first by key.
    fn extract(figment: &Figment, known: &[String]) -> anyhow::Result<Self> {
        let mut refusals = Vec::new();
        let tokens = section(figment, &mut refusals);
        let http = section(figment, &mut refusals);
        let abuse = section(figment, &mut refusals);
        let limits = section(figment, &mut refusals);
        let browser = section(figment, &mut refusals);
        let revocation = section(figment, &mut refusals);
        let resource_servers = section(figment, &mut refusals);
        let simplejwt = section(figment, &mut refusals);
        let database = section(figment, &mut refusals);
        let passwords = section(figment, &mut refusals);
        let logging = section(figment, &mut refusals);
        // Environment variables are filtered to known keys: an unknown one is a file's.
        if let Ok(keys) =
            figment.extract::<std::collections::BTreeMap<String, figment::value::Value>>()
        {
            let expected = known
                .iter()
                .map(|key| format!("`{key}`"))
                .collect::<Vec<_>>()
                .join(", ");
            for key in keys.keys().filter(|key| !known.contains(key)) {
                let source = figment
                    .find_metadata(key)
                    .map(|metadata| metadata.name.to_string())
                    .unwrap_or_default();
                refusals.push(Refusal {
                    key: key.clone(),
                    message: format!(
                        "invalid setting {} ({source}): unknown field: found `{key}`, expected `one of {expected}`",
                        env_name(key)
                    ),
                });
            }
        }
        if let Some(first) = refusals.into_iter().min_by(|a, b| a.key.cmp(&b.key)) {
            bail!(first.message);
        }
        match (
            tokens,
            http,
            abuse,
            limits,
            browser,
            revocation,
            resource_servers,
            simplejwt,
            database,
            passwords,
            logging,
        ) {
            (
                Some(tokens),
                Some(http),
                Some(abuse),
                Some(limits),
                Some(browser),
                Some(revocation),
                Some(resource_servers),
                Some(simplejwt),
                Some(database),
                Some(passwords),
                Some(logging),
            ) => Ok(Self {
                tokens,
                http,
                abuse,
                limits,
                browser,
                revocation,
                resource_servers,
                simplejwt,
                database,
                passwords,
                logging,
            }),
            _ => bail!("the settings could not be read"),
        }
    }

    fn check(&self) -> anyhow::Result<()> {
        if auth_core::Algorithm::parse(&self.tokens.algorithm).is_none() {
            let supported: Vec<&str> = auth_core::Algorithm::ALL
                .iter()
                .map(|algorithm| algorithm.as_str())
                .collect();
            bail!(
                "invalid setting JWTD_ALGORITHM: unsupported algorithm {:?} (supported: {})",
                self.tokens.algorithm,
                supported.join(", ")
            );
        }
        for (key, value) in [
            ("access_token_lifetime", self.tokens.access_token_lifetime),
            ("refresh_token_lifetime", self.tokens.refresh_token_lifetime),
            ("session_max_lifetime", self.tokens.session_max_lifetime),
        ] {
            if value.0.as_secs() == 0 {
                bail!(
                    "invalid setting {}: must be at least one second",
                    env_name(key)
                );
            }
        }
        for (key, value) in [
            ("header_read_timeout", self.limits.header_read_timeout),
            ("request_timeout", self.limits.request_timeout),
            ("keep_alive_timeout", self.limits.keep_alive_timeout),
        ] {
            if value.0.is_zero() {
                bail!("invalid setting {}: must be more than zero", env_name(key));
            }
        }
        if self.limits.max_connections == 0 {
            bail!("invalid setting JWTD_MAX_CONNECTIONS: must be at least 1");
        }
        if self.revocation.revocation_poll_interval.0.is_zero() {
            bail!("invalid setting JWTD_REVOCATION_POLL_INTERVAL: must be more than zero");
        }
        if self.http.auth_header_types.0.is_empty() {
            bail!("invalid setting JWTD_AUTH_HEADER_TYPES: at least one scheme is required");
        }
        axum_header_name(&self.http.auth_header_name)?;
        self.trusted_proxies()?;
        self.browser.settings()?;
        self.resource_servers.introspection()?;
        self.simplejwt.cutover()?;
        for (key, value) in [
            ("user_id_claim", &self.tokens.user_id_claim),
            ("token_type_claim", &self.tokens.token_type_claim),
            ("jti_claim", &self.tokens.jti_claim),
        ] {
            if value.trim().is_empty() {
                bail!("invalid setting {}: must not be empty", env_name(key));
            }
        }
        self.bind_address()?;
        if let Some(metrics_bind) = &self.http.metrics_bind {
            let address: SocketAddr = metrics_bind.parse().map_err(|_| {
                anyhow!("invalid setting JWTD_METRICS_BIND: {metrics_bind:?} is not host:port")
            })?;
            if address == self.bind_address()? && address.port() != 0 {
                bail!("invalid setting JWTD_METRICS_BIND: it must differ from JWTD_BIND");
            }
        }
        if !["sqlite:", "postgres:", "postgresql:", "mysql:", "mariadb:"]
            .iter()
            .any(|scheme| self.database.url.starts_with(scheme))
        {
            bail!(
                "invalid setting JWTD_DATABASE_URL: expected a sqlite://, postgres:// or mysql:// URL"
            );
        }
        if let Some(schema) = &self.database.schema
            && !is_plain_identifier(schema)
        {
            bail!(
                "invalid setting JWTD_DATABASE_SCHEMA: {schema:?} is not a plain identifier (ASCII letters, digits and _, not starting with a digit, at most 63 characters)"
            );
        }
        if self.database.max_connections == 0 {
            bail!("invalid setting JWTD_DATABASE_MAX_CONNECTIONS: must be at least 1");
        }
        if let Some(url) = &self.revocation.redis_url {
            // The URL may hold a password: name the key, never the value.
            api::revocations::redis_share::client(url.expose_secret()).map_err(|error| {
                anyhow!(
                    "invalid setting JWTD_REDIS_URL: expected redis://host:port/db or redis+unix:///path ({})",
                    error.category()
                )
            })?;
        }
        auth_core::PasswordHasher::new(
            self.passwords.memory_kib,
            self.passwords.iterations,
            self.passwords.parallelism,
            [0; 16],
        )
        .map_err(|error| anyhow!("invalid argon2 settings (JWTD_ARGON2_*): {error}"))?;
        tracing_subscriber::EnvFilter::try_new(&self.logging.filter)
            .map_err(|error| anyhow!("invalid setting JWTD_LOG: {error}"))?;
        Ok(())
    }

    /// The parsed `JWTD_TRUSTED_PROXIES`.
    ///
    /// # Errors
    /// Naming the first entry that is neither an address nor a CIDR.
    pub fn trusted_proxies(&self) -> anyhow::Result<Vec<api::client_address::IpNet>> {
        api::client_address::parse_trusted(&self.http.trusted_proxies.0).map_err(|entry| {
            anyhow!(
                "invalid setting JWTD_TRUSTED_PROXIES: {entry:?} is not an address or a CIDR (e.g. 10.0.0.0/8)"
            )
        })
    }

    /// The listen address.
    ///
    /// # Errors
    /// When `bind` is not `host:port`.
    pub fn bind_address(&self) -> anyhow::Result<SocketAddr> {
        self.http.bind.parse().with_context(|| {
            format!(
                "invalid setting JWTD_BIND: {:?} is not host:port",
                self.http.bind
            )
        })
    }

    /// The database URL, with `mariadb://` read as `mysql://`.
    pub fn database_url(&self) -> String {
        match self.database.url.strip_prefix("mariadb:") {
            Some(rest) => format!("mysql:{rest}"),
            None => self.database.url.clone(),
        }
    }

    /// Where the generated signing key lives: the configured file, or beside the SQLite
    /// database, or `jwtd.key` in the working directory.
    pub fn key_file(&self) -> PathBuf {
        if let Some(file) = &self.tokens.signing_key_file {
            return file.clone();
        }
        api::db::sqlite_file(&self.database.url)
            .map(|path| {
                let mut name = path.as_os_str().to_owned();
                name.push(".key");
                PathBuf::from(name)
            })
            .unwrap_or_else(|| PathBuf::from("jwtd.key"))
    }
}

/// A name PostgreSQL takes as it is, unquoted: a letter or `_`, then letters, digits and
/// `_`, at most 63 bytes (its `NAMEDATALEN`).
fn is_plain_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= 63
        && bytes
            .next()
            .is_some_and(|first| first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schema_must_be_a_plain_identifier() {
        for good in ["jwtd", "_x", "Auth_2", &"s".repeat(63)] {
            assert!(is_plain_identifier(good), "{good}");
        }
        for bad in [
            "",
            "2fa",
            "jwtd; DROP TABLE users",
            "a-b",
            "\"quoted\"",
            "sch\u{e9}ma",
            "a b",
            &"s".repeat(64),
        ] {
            assert!(!is_plain_identifier(bad), "{bad}");
        }
    }

    #[test]
    fn every_setting_keeps_its_flat_name_and_default() {
        let defaults = serde_json::to_value(Config::default()).unwrap();
        // In parts: one `json!` of every setting is past the macro's recursion limit.
        let browser = serde_json::json!({
            "refresh_cookie": false,
            "refresh_cookie_secure": true,
            "refresh_cookie_samesite": "Strict",
            "refresh_cookie_name": "refresh_token",
            "refresh_cookie_domain": null,
            "refresh_cookie_body": false,
            "cors_allowed_origins": [],
            "header_read_timeout": 10,
            "request_timeout": 20,
            "keep_alive_timeout": 30,
            "max_connections": 512,
        });
        let mut expected = serde_json::json!({
            "access_token_lifetime": 300,
            "refresh_token_lifetime": 86_400,
            "rotate_refresh_tokens": true,
            "blacklist_after_rotation": true,
            "algorithm": "HS256",
            "signing_key_file": null,
            "verifying_key_file": [],
            "audience": null,
            "issuer": null,
            "leeway": 0,
            "user_id_claim": "user_id",
            "token_type_claim": "token_type",
            "jti_claim": "jti",
            "rotation_grace_seconds": 10,
            "rotation_grace_binding": "client",
            "session_max_lifetime": 2_592_000,
            "bind": "127.0.0.1:8000",
            "auth_header_types": ["Bearer"],
            "auth_header_name": "Authorization",
            "update_last_login": false,
            "check_user_is_active": true,
            "trusted_proxies": [],
            "metrics": true,
            "metrics_bind": null,
            "shutdown_timeout": 25,
            "revoke_access_on_logout": false,
            "revocation_poll_interval": 1,
            "introspect_client_id": null,
            "adopt_refresh_tokens_issued_before": null,
        });
        let storage = serde_json::json!({
            "database_url": "sqlite://jwtd.db",
            "database_schema": null,
            "database_max_connections": 10,
            "database_acquire_timeout": 5,
            "database_statement_timeout": 5,
            "auto_migrate": true,
            "events_retention": 7_776_000,
            "flush_expired_interval": 3600,
            "argon2_memory_kib": auth_core::PasswordHasher::DEFAULT_MEMORY_KIB,
            "argon2_iterations": auth_core::PasswordHasher::DEFAULT_ITERATIONS,
            "argon2_parallelism": auth_core::PasswordHasher::DEFAULT_PARALLELISM,
            "log": "info",
            "log_format": "text",
        });
        let abuse = serde_json::json!({
            "login_username_max_failures": 5,
            "login_username_window": 900,
            "login_address_max_attempts": 30,
            "login_address_window": 60,
            "refresh_rate_per_minute": 120,
            "verify_rate_per_minute": 600,
        });
        for part in [browser, abuse, storage] {
            if let (Some(expected), Some(part)) = (expected.as_object_mut(), part.as_object()) {
                expected.extend(part.clone());
            }
        }
        assert_eq!(defaults, expected);
        assert_eq!(known_keys().len(), 62);
    }

    #[test]
    fn a_file_is_read_flat_and_a_bad_or_unknown_key_is_named() {
        let load = |toml: &str| {
            let figment =
                Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(toml));
            Config::extract(&figment, &known_keys())
        };
        let config = load("leeway = \"5s\"\ndatabase_max_connections = 3\nlog = \"warn\"\nauth_header_types = \"JWT, Bearer\"\nsigning_key = 12").unwrap();
        assert_eq!(config.tokens.leeway.0.as_secs(), 5);
        assert_eq!(config.database.max_connections, 3);
        assert_eq!(config.logging.filter, "warn");
        assert_eq!(config.http.auth_header_types.0, ["JWT", "Bearer"]);
        assert_eq!(
            config
                .tokens
                .signing_key
                .as_ref()
                .map(ExposeSecret::expose_secret),
            Some("12")
        );
        let refusal = |toml: &str| load(toml).unwrap_err().to_string();
        assert!(
            refusal("log_format = \"xml\"\nleeway = \"soon\"").starts_with(
                "invalid setting JWTD_LEEWAY (TOML source string): \"soon\" is not a duration"
            ),
        );
        assert!(refusal("[tokens]\nleeway = 3").starts_with(
            "invalid setting JWTD_TOKENS (TOML source string): unknown field: found `tokens`, expected `one of `access_token_lifetime`, "
        ));
        assert_eq!(
            refusal("database_max_connections = \"x\""),
            "invalid setting JWTD_DATABASE_MAX_CONNECTIONS (TOML source string): invalid type: found string \"x\", expected u32"
        );
    }

    #[test]
    fn cookie_mode_settings_are_checked_and_a_bad_one_is_named() {
        let settings = |toml: &str| {
            let figment =
                Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(toml));
            let config = Config::extract(&figment, &known_keys()).unwrap();
            config.check().map(|()| config.browser.settings().unwrap())
        };
        let refusal = |toml: &str| settings(toml).unwrap_err().to_string();
        let (cookie, origins) = settings("").unwrap();
        assert!(
            cookie.is_none() && origins.is_empty(),
            "cookie mode and CORS are off by default"
        );
        let (cookie, origins) = settings(
            "refresh_cookie = true\nrefresh_cookie_samesite = \"lax\"\nrefresh_cookie_domain = \".Example.com\"\ncors_allowed_origins = \"https://app.example.com/, http://localhost:5173\"",
        )
        .unwrap();
        let cookie = cookie.unwrap();
        assert_eq!(cookie.same_site, api::cookies::SameSite::Lax);
        assert_eq!(cookie.domain.as_deref(), Some("example.com"));
        assert_eq!(
            origins
                .iter()
                .map(|origin| origin.as_str())
                .collect::<Vec<_>>(),
            ["https://app.example.com", "http://localhost:5173"]
        );
        for (toml, setting) in [
            (
                "refresh_cookie_samesite = \"sometimes\"",
                "JWTD_REFRESH_COOKIE_SAMESITE",
            ),
            (
                "refresh_cookie_samesite = \"None\"\nrefresh_cookie_secure = false",
                "JWTD_REFRESH_COOKIE_SAMESITE",
            ),
            ("refresh_cookie_name = \"a b\"", "JWTD_REFRESH_COOKIE_NAME"),
            (
                "refresh_cookie_name = \"csrftoken\"",
                "JWTD_REFRESH_COOKIE_NAME",
            ),
            (
                "refresh_cookie_domain = \"x;y\"",
                "JWTD_REFRESH_COOKIE_DOMAIN",
            ),
            ("cors_allowed_origins = \"*\"", "JWTD_CORS_ALLOWED_ORIGINS"),
            (
                "cors_allowed_origins = \"app.example.com\"",
                "JWTD_CORS_ALLOWED_ORIGINS",
            ),
            ("refresh_cookie = true", "JWTD_CORS_ALLOWED_ORIGINS"),
        ] {
            assert!(
                refusal(toml).starts_with(&format!("invalid setting {setting}: ")),
                "{toml}: {}",
                refusal(toml)
            );
        }
    }
}
