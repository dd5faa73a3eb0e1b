//! Turning a `Config` into the pieces the api crate needs.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use api::clock::SystemClock;
use api::db::{self, Database, DbOptions};
use api::passwords::Passwords;
use api::revocations::RevokedSessions;
use api::{AppState, HttpSettings, Parts};
use auth_core::{PasswordHasher, TokenCodec, TokenSettings};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use secrecy::ExposeSecret;

use crate::config::{Config, axum_header_name};
use crate::signing_key::{self, Missing};

/// The token settings of a configuration.
///
/// # Errors
/// An access-token profile that is unknown or lacks what it needs.
pub fn token_settings(config: &Config) -> anyhow::Result<TokenSettings> {
    Ok(TokenSettings {
        access_token_lifetime: config.tokens.access_token_lifetime.0,
        refresh_token_lifetime: config.tokens.refresh_token_lifetime.0,
        rotate_refresh_tokens: config.tokens.rotate_refresh_tokens.0,
        blacklist_after_rotation: config.tokens.blacklist_after_rotation.0,
        audience: config.tokens.audience.clone(),
        issuer: config.tokens.issuer.clone(),
        leeway: config.tokens.leeway.0,
        user_id_claim: config.tokens.user_id_claim.clone(),
        token_type_claim: config.tokens.token_type_claim.clone(),
        jti_claim: config.tokens.jti_claim.clone(),
        rotation_grace: config.tokens.rotation_grace_seconds.0,
        rotation_grace_binding: config.tokens.rotation_grace_binding.0,
        session_max_lifetime: config.tokens.session_max_lifetime.0,
        access_token_profile: config.tokens.access_token_profile()?,
    })
}

/// Connects to the configured database.
///
/// # Errors
/// When the database cannot be reached, or is a SQLite file jwtd cannot write.
pub async fn connect(config: &Config) -> anyhow::Result<Database> {
    let options = db_options(config);
    if let Some(file) = db::sqlite_file(&options.url) {
        check_sqlite_writable(&file)?;
    }
    db::connect(&options).await.with_context(|| {
        format!(
            "cannot connect to the database ({})",
            redact_url(&options.url)
        )
    })
}

/// Refuses a SQLite database that jwtd could not write: every login and refresh writes, and
/// SQLite would open a read-only file read-only without a word, leaving each of them to
/// fail. Checks the file and its write-ahead log and index when they exist, and that the
/// directory takes new files (SQLite creates those three there).
fn check_sqlite_writable(file: &Path) -> anyhow::Result<()> {
    let unwritable = |error: std::io::Error| {
        if error.kind() == std::io::ErrorKind::ReadOnlyFilesystem {
            anyhow!(
                "the SQLite database {} is on a read-only file system; jwtd writes to it on every login and refresh",
                file.display()
            )
        } else {
            anyhow!(
                "the SQLite database {} cannot be written: {error}",
                file.display()
            )
        }
    };
    let with_suffix = |suffix: &str| {
        let mut name = file.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    for path in ["", "-wal", "-shm"]
        .map(with_suffix)
        .iter()
        .filter(|path| path.exists())
    {
        OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(unwritable)?;
    }
    let directory = file
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let probe = directory.join(format!(".jwtd-write-check-{}", std::process::id()));
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(unwritable)?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

fn db_options(config: &Config) -> DbOptions {
    DbOptions {
        url: config.database_url(),
        max_connections: config.database.max_connections,
        acquire_timeout: config.database.acquire_timeout.0,
        statement_timeout: config.database.statement_timeout.0,
        schema: config.database.schema.clone(),
    }
}

/// Applies pending migrations, safely when several instances start at once.
///
/// On PostgreSQL and MySQL/MariaDB the migrations run on a connection of their own that
/// first takes a lock named after the schema (a session-level advisory lock, `GET_LOCK`):
/// instances starting together on an empty database queue on it, the first creates the
/// schema and the others find nothing left to do. That connection has no statement
/// timeout, since an index build on a big table may take longer than any request should.
/// SQLite needs no lock: its one writer serializes the migrations of the single instance.
///
/// # Errors
/// When the lock cannot be taken or a migration fails.
pub async fn migrate(config: &Config, db: &Database) -> anyhow::Result<()> {
    let backend = db.backend();
    if backend == DbBackend::Sqlite {
        return Migrator::up(&db.write, None)
            .await
            .context("database migration failed");
    }
    let mut options = db_options(config);
    options.max_connections = 1;
    options.statement_timeout = Duration::ZERO;
    let dedicated = db::connect(&options)
        .await
        .context("cannot open a connection for migrations")?;
    let conn = &dedicated.write;
    let (lock, unlock) = match backend {
        DbBackend::Postgres => (
            "SELECT pg_advisory_lock(hashtextextended('jwtd:migrate:' || coalesce(current_schema(), ''), 0))",
            "SELECT pg_advisory_unlock(hashtextextended('jwtd:migrate:' || coalesce(current_schema(), ''), 0))",
        ),
        _ => (
            // GET_LOCK waits at most this many seconds; a migration takes far less.
            "SELECT GET_LOCK(CONCAT('jwtd:migrate:', COALESCE(DATABASE(), '')), 600)",
            "SELECT RELEASE_LOCK(CONCAT('jwtd:migrate:', COALESCE(DATABASE(), '')))",
        ),
    };
    let locked = conn
        .query_one_raw(Statement::from_string(backend, lock))
        .await
        .context("cannot take the migration lock")?;
    if backend != DbBackend::Postgres {
        let granted = locked
            .and_then(|row| row.try_get_by_index::<Option<i64>>(0).ok())
            .flatten();
        if granted != Some(1) {
            bail!("timed out waiting for another instance's migrations (GET_LOCK)");
        }
    }
    let migrated = Migrator::up(conn, None)
        .await
        .context("database migration failed");
    // Closing the connection releases the lock too; unlock first to hand it on at once.
    let _ = conn
        .execute_raw(Statement::from_string(backend, unlock))
        .await;
    let _ = dedicated.write.close().await;
    migrated
}

/// The token codec of a configuration, with its keys (an HMAC secret is generated on first
/// use when none is configured).
///
/// # Errors
/// [`signing_key::InvalidKey`] naming the key setting that is wrong, or an error writing a
/// generated key.
pub fn codec(config: &Config) -> anyhow::Result<TokenCodec> {
    let keys =
        signing_key::keys(config, Missing::Generate)?.ok_or_else(|| anyhow!("no signing key"))?;
    Ok(TokenCodec::new(token_settings(config)?, keys))
}

/// The argon2 threads (one per core) with the configured cost.
///
/// # Errors
/// When the argon2 parameters are out of range or a thread cannot be started.
pub fn passwords(config: &Config) -> anyhow::Result<Passwords> {
    let hasher = PasswordHasher::new(
        config.passwords.memory_kib,
        config.passwords.iterations,
        config.passwords.parallelism,
        rand::random(),
    )?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    Passwords::new(hasher, cores).context("cannot start the argon2 threads")
}

/// Everything the router needs, with a revoked-session set of its own.
///
/// # Errors
/// When the key or the hasher cannot be set up.
pub fn app_state(config: &Config, db: Database) -> anyhow::Result<AppState> {
    let codec = Arc::new(codec(config)?);
    app_state_with(config, db, Arc::new(RevokedSessions::new()), codec)
}

/// Everything the router needs, around `revoked` (which may share revocations via Redis)
/// and `codec` (loaded before the database is touched, so that a bad key stops start-up
/// first).
///
/// # Errors
/// When the hasher or the store cannot be set up.
pub fn app_state_with(
    config: &Config,
    db: Database,
    revoked: Arc<RevokedSessions>,
    codec: Arc<TokenCodec>,
) -> anyhow::Result<AppState> {
    let client_mark_key = signing_key::client_mark_key(config)?;
    let (refresh_cookie, cors_allowed_origins) = config.browser.settings()?;
    let trusted_proxies = config.trusted_proxies()?;
    // Login counts live in Redis when it is set, so that every instance sees them.
    let redis = config
        .revocation
        .redis_url
        .as_ref()
        .map(|url| api::revocations::redis_share::client(url.expose_secret()))
        .transpose()
        .map_err(|error| anyhow!("invalid setting JWTD_REDIS_URL ({})", error.category()))?;
    let http = HttpSettings {
        auth_header_types: config.http.auth_header_types.0.clone(),
        auth_header_name: axum_header_name(&config.http.auth_header_name)?,
        update_last_login: config.http.update_last_login.0,
        check_user_is_active: config.http.check_user_is_active.0,
        trusted_proxies,
        client_mark_key,
        revoke_access_on_logout: config.revocation.revoke_access_on_logout.0,
        refresh_cookie,
        cors_allowed_origins,
        throttle: api::throttle::ThrottleSettings {
            redis,
            ..config.abuse.settings()
        },
        introspection: config.resource_servers.introspection()?,
        adopt_refresh_tokens_issued_before: config.simplejwt.cutover()?,
        request_timeout: Some(config.limits.request_timeout.0),
    };
    let state = api::assemble(Parts {
        db,
        codec,
        passwords: passwords(config)?,
        http,
        clock: Arc::new(SystemClock),
        revoked,
    })
    .context("cannot open the token store")?;
    Ok(state)
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
