//! Each CLI command, carried out.

mod keys_generate;
mod user_import;

use std::io::BufRead;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use api::clock::{Clock, SystemClock, rfc3339};
use api::db::Database;
use api::events::{Client, EventKind};
use api::revocations::RevokedSessions;
use api::users;
use auth_core::{FamilyId, Revocation, UserId, seconds};
use entity::auth_events;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;

use crate::cli::{Command, PasswordSource, SessionsCommand, UserCommand};
use crate::config::Config;
use crate::state;

/// Runs a command.
///
/// # Errors
/// Whatever stops the command; `main` prints it.
pub async fn run(command: Command, mut config: Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve { bind } => {
            if let Some(bind) = bind {
                config.http.bind = bind;
            }
            serve(config).await
        }
        Command::Migrate => {
            let db = state::connect(&config).await?;
            state::migrate(&config, &db).await?;
            println!("migrations applied");
            Ok(ExitCode::SUCCESS)
        }
        Command::User(command) => user(command, &config).await,
        Command::FlushExpired { batch_size } => flush_expired(&config, batch_size).await,
        Command::Sessions(command) => sessions(command, &config).await,
        Command::Events { user, limit, json } => show_events(&config, user, limit, json).await,
        Command::Keys(command) => keys_generate::run(command),
    }
}

async fn serve(config: Config) -> anyhow::Result<ExitCode> {
    let address: SocketAddr = config.bind_address()?;
    let codec = Arc::new(state::codec(&config)?);
    let db = state::connect(&config).await?;
    if config.database.auto_migrate.0 {
        state::migrate(&config, &db).await?;
    }
    // Revocations are shared through Redis only with access-token revocation on; the login
    // counts use it whenever it is set (`state::app_state_with`).
    let redis = match &config.revocation.redis_url {
        Some(url) if config.revocation.revoke_access_on_logout.0 => Some(
            api::revocations::redis_share::client(url.expose_secret()).map_err(|error| {
                anyhow!("invalid setting JWTD_REDIS_URL ({})", error.category())
            })?,
        ),
        _ => None,
    };
    let (revoked, outbox) = match redis {
        Some(_) => {
            let (sender, receiver) =
                tokio::sync::mpsc::channel(api::revocations::redis_share::OUTBOX_CAPACITY);
            (
                Arc::new(RevokedSessions::shared_through(sender)),
                Some(receiver),
            )
        }
        None => (Arc::new(RevokedSessions::new()), None),
    };
    let state = state::app_state_with(&config, db, revoked, codec)?;
    let window = {
        let settings = state.codec.settings();
        seconds(
            settings
                .access_token_lifetime
                .saturating_add(settings.leeway),
        )
    };
    // Redis is the fast path; the database poll below keeps running as the fallback.
    let _redis_tasks = redis.zip(outbox).map(|(client, outbox)| {
        (
            tokio::spawn(api::revocations::redis_share::publish_to_redis(
                client.clone(),
                outbox,
                Arc::clone(&state.clock),
            )),
            tokio::spawn(api::revocations::redis_share::subscribe_to_redis(
                client,
                Arc::clone(&state.revoked),
                api::revocations::redis_share::Acceptance {
                    clock: Arc::clone(&state.clock),
                    window,
                },
            )),
        )
    });
    let _revocation_sync = config.revocation.revoke_access_on_logout.0.then(|| {
        tokio::spawn(api::revocations::sync_from_store(
            Arc::clone(&state.store),
            Arc::clone(&state.revoked),
            Arc::clone(&state.clock),
            window,
            config.revocation.revocation_poll_interval.0,
        ))
    });
    let _flush = (!config.database.flush_expired_interval.0.is_zero()).then(|| {
        tokio::spawn(flush_periodically(
            Arc::clone(&state.store),
            Arc::clone(&state.clock),
            config.database.flush_expired_interval.0,
            seconds(config.database.events_retention.0),
        ))
    });
    let (public, _metrics) = crate::metrics_listener::start(&config, &state).await?;
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    let local = listener.local_addr()?;
    tracing::info!(address = %local, database = %state::redact_url(&config.database_url()), "jwtd listening");
    // On stdout, for scripts and tests that start jwtd on port 0.
    println!("listening on http://{local}");
    let app = api::router_with(state, public);
    let limits = crate::connections::ConnectionLimits {
        header_read_timeout: config.limits.header_read_timeout.0,
        keep_alive_timeout: config.limits.keep_alive_timeout.0,
        max_connections: config.limits.max_connections,
    };
    // On the signal the listener closes (new connections are refused), idle keep-alive
    // connections close and the requests in flight finish; the timeout bounds that wait,
    // since a stalled client could otherwise hold the process forever.
    let (stopping, stop_requested) = tokio::sync::watch::channel(false);
    let signal = async move {
        shutdown_signal().await;
        tracing::info!("shutting down: no new connections; finishing the requests in flight");
        let _ = stopping.send(true);
    };
    let timeout = config.http.shutdown_timeout.0;
    tokio::select! {
        served = crate::connections::serve(listener, app, limits, signal) => {
            served.context("server error")?;
        }
        () = expire_after_stop(stop_requested, timeout) => tracing::warn!(
            timeout_seconds = timeout.as_secs_f64(),
            "shutdown timeout: requests still in flight are cut off (JWTD_SHUTDOWN_TIMEOUT)"
        ),
    }
    tracing::info!("jwtd stopped");
    Ok(ExitCode::SUCCESS)
}

/// Completes `timeout` after a stop was requested; never, if none is.
async fn expire_after_stop(
    mut stop_requested: tokio::sync::watch::Receiver<bool>,
    timeout: Duration,
) {
    if stop_requested.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
    tokio::time::sleep(timeout).await;
}

/// Rows deleted per transaction by the background flush: small, so that it never holds the
/// single SQLite writer (or PostgreSQL row locks) for long.
const BACKGROUND_FLUSH_BATCH: u64 = 500;

/// `flush-expired`, run by `serve` every `interval`. Several instances may run it at once:
/// deleting expired rows is idempotent.
async fn flush_periodically(
    store: Arc<dyn api::store::TokenStore>,
    clock: Arc<dyn Clock>,
    interval: Duration,
    retention: i64,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let now = clock.now();
        match store
            .flush_expired(now, now.saturating_sub(retention), BACKGROUND_FLUSH_BATCH)
            .await
        {
            Ok(flushed) => tracing::info!(
                tokens = flushed.tokens,
                sessions = flushed.families,
                events = flushed.events,
                "flushed expired rows"
            ),
            Err(error) => tracing::warn!(error = %error, "expired-row flush failed; will retry"),
        }
    }
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

/// A database ready for an admin command: connected and migrated.
async fn admin_db(config: &Config) -> anyhow::Result<Database> {
    let db = state::connect(config).await?;
    state::migrate(config, &db).await?;
    Ok(db)
}

fn read_password(source: &PasswordSource) -> anyhow::Result<String> {
    let password = if source.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    } else {
        let first = rpassword::prompt_password("Password: ").context("cannot read the password")?;
        let second =
            rpassword::prompt_password("Password (again): ").context("cannot read the password")?;
        if first != second {
            bail!("the passwords do not match");
        }
        first
    };
    if password.is_empty() {
        bail!("the password must not be empty");
    }
    if password.trim() != password {
        // Logins trim whitespace (as simplejwt does), so such a password could never match.
        bail!("the password must not start or end with whitespace");
    }
    Ok(password)
}

async fn find_user(db: &Database, name: &str) -> anyhow::Result<entity::users::Model> {
    users::find_by_username(&db.read, name)
        .await?
        .with_context(|| format!("no user named {name:?}"))
}

fn admin_client() -> Client {
    Client {
        ip: None,
        user_agent: Some("jwtd cli".to_owned()),
    }
}

async fn user(command: UserCommand, config: &Config) -> anyhow::Result<ExitCode> {
    let db = admin_db(config).await?;
    let now = SystemClock.now();
    // This process caches no user; servers see the change when their entry expires, within
    // `UserCache::TTL_SECONDS`.
    let cache = users::UserCache::default();
    match command {
        UserCommand::Create { name, password } => {
            let name = users::normalized_username(&name)
                .context(user_import::BAD_USERNAME)?
                .to_owned();
            if users::find_by_username(&db.read, &name).await?.is_some() {
                bail!("a user named {name:?} already exists");
            }
            let password = read_password(&password)?;
            let hash = state::passwords(config)?.hash(password).await?;
            let user = users::create(&db.write, &name, &hash, now).await?;
            println!("created user {name:?} with id {}", user.id);
        }
        UserCommand::SetPassword { name, password } => {
            let user = find_user(&db, &name).await?;
            let password = read_password(&password)?;
            let hash = state::passwords(config)?.hash(password).await?;
            users::set_password_hash(&db.write, &cache, UserId(user.id), &hash).await?;
            let ended = revoke_all(
                config,
                &db,
                UserId(user.id),
                Revocation::PasswordChanged,
                EventKind::PasswordChanged,
            )
            .await?;
            println!("password changed for {name:?}; {ended} session(s) ended");
        }
        UserCommand::Deactivate { name } => {
            let user = find_user(&db, &name).await?;
            users::set_active(&db.write, &cache, UserId(user.id), false).await?;
            let ended = revoke_all(
                config,
                &db,
                UserId(user.id),
                Revocation::UserDeactivated,
                EventKind::UserDeactivated,
            )
            .await?;
            println!("deactivated {name:?}; {ended} session(s) ended");
        }
        UserCommand::Activate { name } => {
            let user = find_user(&db, &name).await?;
            users::set_active(&db.write, &cache, UserId(user.id), true).await?;
            println!("activated {name:?}");
        }
        UserCommand::Import { file } => {
            return user_import::import(config, &db, &file, now).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn revoke_all(
    config: &Config,
    db: &Database,
    user: UserId,
    reason: Revocation,
    kind: EventKind,
) -> anyhow::Result<u64> {
    let state = state::app_state(config, db.clone())?;
    let now = SystemClock.now();
    Ok(api::revoke_all(&state, user, reason, kind, &admin_client(), now).await?)
}

async fn flush_expired(config: &Config, batch_size: u64) -> anyhow::Result<ExitCode> {
    if batch_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    let db = admin_db(config).await?;
    let state = state::app_state(config, db)?;
    let now = SystemClock.now();
    let retention = seconds(config.database.events_retention.0);
    let flushed = state
        .store
        .flush_expired(now, now.saturating_sub(retention), batch_size)
        .await?;
    println!(
        "deleted {} expired token(s), {} expired session(s), {} old event(s)",
        flushed.tokens, flushed.families, flushed.events
    );
    Ok(ExitCode::SUCCESS)
}

async fn sessions(command: SessionsCommand, config: &Config) -> anyhow::Result<ExitCode> {
    let db = admin_db(config).await?;
    let state = state::app_state(config, db.clone())?;
    let now = SystemClock.now();
    match command {
        SessionsCommand::List { user, json } => {
            let found = find_user(&db, &user).await?;
            let sessions = state.store.list_sessions(UserId(found.id), now).await?;
            if !json {
                println!(
                    "{:<32}  {:<20}  {:<20}  {:<20}  {:<15}  user agent",
                    "id", "created", "last used", "expires", "ip"
                );
            }
            for session in sessions {
                if json {
                    println!("{}", serde_json::Value::Object(session.to_json()));
                } else {
                    println!(
                        "{:<32}  {:<20}  {:<20}  {:<20}  {:<15}  {}",
                        session.id.as_str(),
                        rfc3339(session.created_at),
                        rfc3339(session.last_used_at),
                        rfc3339(session.expires_at),
                        session.ip.unwrap_or_default(),
                        session.user_agent.unwrap_or_default()
                    );
                }
            }
        }
        SessionsCommand::Revoke { user, id, all } => {
            let found = find_user(&db, &user).await?;
            let user_id = UserId(found.id);
            if all {
                let ended = revoke_all(
                    config,
                    &db,
                    user_id,
                    Revocation::Admin,
                    EventKind::LogoutAll,
                )
                .await?;
                println!("{ended} session(s) revoked");
            } else if let Some(id) = id {
                let family = FamilyId::new(id);
                let client = admin_client();
                if !api::revoke_session(&state, user_id, &family, Revocation::Admin, &client, now)
                    .await?
                {
                    bail!("{user:?} has no live session {}", family.as_str());
                }
                println!("session {} revoked", family.as_str());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn show_events(
    config: &Config,
    user: Option<String>,
    limit: u64,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let db = admin_db(config).await?;
    let mut query = auth_events::Entity::find()
        .order_by_desc(auth_events::Column::Id)
        .limit(limit);
    if let Some(name) = user {
        let found = find_user(&db, &name).await?;
        query = query.filter(auth_events::Column::UserId.eq(found.id));
    }
    let rows = query.all(&db.read).await?;
    if !json {
        println!(
            "{:<20}  {:<17}  {:<8}  {:<32}  {:<15}  user agent",
            "at", "event", "user", "session", "ip"
        );
    }
    for row in rows {
        if json {
            println!(
                "{}",
                serde_json::json!({
                    "at": rfc3339(row.at),
                    "event": row.kind,
                    "user_id": row.user_id,
                    "username": row.username,
                    "session": row.family_id,
                    "ip": row.ip,
                    "user_agent": row.user_agent,
                })
            );
        } else {
            let user = row
                .user_id
                .map(|id| id.to_string())
                .or(row.username)
                .unwrap_or_default();
            println!(
                "{:<20}  {:<17}  {:<8}  {:<32}  {:<15}  {}",
                rfc3339(row.at),
                row.kind,
                user,
                row.family_id.unwrap_or_default(),
                row.ip.unwrap_or_default(),
                row.user_agent.unwrap_or_default()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
