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

/// Reads one section from the merged settings. A section that cannot be read notes why in
/// `refusals` and stands in as its defaults, which are never used: any refusal fails the load.
fn section<T: for<'de> Deserialize<'de> + Default>(
    figment: &Figment,
    refusals: &mut Vec<Refusal>,
) -> T {
    figment.extract().unwrap_or_else(|error: figment::Error| {
        refusals.extend(error.into_iter().map(Refusal::of));
        T::default()
    })
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
        let config = Self {
            tokens: section(figment, &mut refusals),
            http: section(figment, &mut refusals),
            abuse: section(figment, &mut refusals),
            limits: section(figment, &mut refusals),
            browser: section(figment, &mut refusals),
            revocation: section(figment, &mut refusals),
            resource_servers: section(figment, &mut refusals),
            simplejwt: section(figment, &mut refusals),
            database: section(figment, &mut refusals),
            passwords: section(figment, &mut refusals),
            logging: section(figment, &mut refusals),
        };
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
        Ok(config)
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
        self.tokens.access_token_profile()?;
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
mod tests;
