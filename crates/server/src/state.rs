//! Turning a `Config` into the pieces the api crate needs.

use std::sync::Arc;

use anyhow::{Context, anyhow};
use api::clock::SystemClock;
use api::db::{self, Database, DbOptions};
use api::passwords::Passwords;
use api::revocations::RevokedSessions;
use api::store::SqlStore;
use api::{AppState, HttpSettings};
use auth_core::{Algorithm, Keys, PasswordHasher, TokenCodec, TokenSettings};
use migration::{Migrator, MigratorTrait};
use secrecy::ExposeSecret;

use crate::config::{Config, axum_header_name};
use crate::signing_key;

/// The token settings of a configuration.
pub fn token_settings(config: &Config) -> TokenSettings {
    TokenSettings {
        access_token_lifetime: config.access_token_lifetime.0,
        refresh_token_lifetime: config.refresh_token_lifetime.0,
        rotate_refresh_tokens: config.rotate_refresh_tokens.0,
        blacklist_after_rotation: config.blacklist_after_rotation.0,
        audience: config.audience.clone(),
        issuer: config.issuer.clone(),
        leeway: config.leeway.0,
        user_id_claim: config.user_id_claim.clone(),
        token_type_claim: config.token_type_claim.clone(),
        jti_claim: config.jti_claim.clone(),
        rotation_grace: config.rotation_grace_seconds.0,
        session_max_lifetime: config.session_max_lifetime.0,
    }
}

/// Connects to the configured database.
///
/// # Errors
/// When the database cannot be reached.
pub async fn connect(config: &Config) -> anyhow::Result<Database> {
    let url = config.database_url();
    let options = DbOptions {
        url: url.clone(),
        max_connections: config.database_max_connections,
        acquire_timeout: config.database_acquire_timeout.0,
        statement_timeout: config.database_statement_timeout.0,
        schema: config.database_schema.clone(),
    };
    db::connect(&options)
        .await
        .with_context(|| format!("cannot connect to the database ({})", redact_url(&url)))
}

/// Applies pending migrations.
///
/// # Errors
/// When a migration fails.
pub async fn migrate(db: &Database) -> anyhow::Result<()> {
    Migrator::up(&db.write, None)
        .await
        .context("database migration failed")
}

/// The token codec of a configuration, with its signing key.
///
/// # Errors
/// When the key cannot be loaded or created.
pub fn codec(config: &Config) -> anyhow::Result<TokenCodec> {
    let algorithm = Algorithm::parse(&config.algorithm)
        .ok_or_else(|| anyhow!("unsupported algorithm {:?}", config.algorithm))?;
    let key = signing_key::load_or_create(config.signing_key.as_ref(), &config.key_file())?;
    let keys = Keys::hmac(algorithm, key.expose_secret().as_bytes())?;
    Ok(TokenCodec::new(token_settings(config), keys))
}

/// A password hasher with the configured cost.
///
/// # Errors
/// When the argon2 parameters are out of range.
pub fn passwords(config: &Config) -> anyhow::Result<Passwords> {
    let hasher = PasswordHasher::new(
        config.argon2_memory_kib,
        config.argon2_iterations,
        config.argon2_parallelism,
        rand::random(),
    )?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    Ok(Passwords::new(hasher, cores))
}

/// Everything the router needs.
///
/// # Errors
/// When the key or the hasher cannot be set up.
pub fn app_state(config: &Config, db: Database) -> anyhow::Result<AppState> {
    let codec = Arc::new(codec(config)?);
    let http = HttpSettings {
        auth_header_types: config.auth_header_types.0.clone(),
        auth_header_name: axum_header_name(&config.auth_header_name)?,
        update_last_login: config.update_last_login.0,
        check_user_is_active: config.check_user_is_active.0,
        trust_forwarded_for: config.trust_x_forwarded_for.0,
        revoke_access_on_logout: config.revoke_access_on_logout.0,
    };
    let revoked = Arc::new(RevokedSessions::new());
    let store = SqlStore::new(
        db.clone(),
        Arc::clone(&codec),
        config.check_user_is_active.0,
        Arc::clone(&revoked),
    );
    Ok(AppState {
        db,
        store: Arc::new(store),
        codec,
        passwords: passwords(config)?,
        http: Arc::new(http),
        clock: Arc::new(SystemClock),
        revoked,
    })
}

/// A database URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redact_url("sqlite://jwtd.db"), "sqlite://jwtd.db");
    }
}
