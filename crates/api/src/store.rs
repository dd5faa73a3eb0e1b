//! The token store: every read and write of refresh tokens, families, blacklist rows and
//! security events.
//!
//! The store reports, the service acts: each operation returns what it did (the families it
//! revoked, the events it recorded) and never logs, counts or publishes anything itself;
//! `crate::security` does that, once, after the store has committed. The rotation rules are
//! `auth_core::decide`; an engine only loads the stored state, asks it, and applies its plan.
//!
//! One engine per backend, chosen at start-up from the database URL by [`open`]: the
//! group-committing rusqlite writer for a SQLite file (`sqlite/`), the sea-orm transaction
//! with the family row lock for MySQL/MariaDB (`sql/`), and the same plus the group-committing
//! batch for PostgreSQL (`postgres/`). The operations other than rotation are one sea-orm
//! implementation for every backend (`sql/sessions.rs`, `sql/flush.rs`).

mod ahead;
mod postgres;
mod sql;
mod sqlite;
mod transient;

use std::sync::Arc;

use async_trait::async_trait;
use auth_core::{
    Denial, EventKind, FamilyId, Jti, Revocation, RotationRules, SuccessorState, TokenCodec,
    TokenHash, Use, UserId,
};
use sea_orm::DbBackend;

use crate::db::Database;
use crate::events::Client;

pub use auth_core::Presented;
pub use sql::SqlStore;
pub use transient::{classify, is_transient};

/// A store operation failed: the database could not be reached or refused the work.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Transient (busy, locked, timed out, connection lost): 503, safe to retry.
    #[error("database unavailable")]
    Unavailable(#[source] sea_orm::DbErr),
    /// Any other database error: 500.
    #[error("database error")]
    Database(#[source] sea_orm::DbErr),
    /// A successor could not be signed, or an engine could not start: 500.
    #[error("{0}")]
    Internal(String),
}

impl From<sea_orm::DbErr> for StoreError {
    fn from(error: sea_orm::DbErr) -> Self {
        classify(error)
    }
}

impl From<auth_core::KeyError> for StoreError {
    fn from(error: auth_core::KeyError) -> Self {
        StoreError::Internal(format!("cannot sign a successor: {error}"))
    }
}

/// A security event the store recorded, in the same transaction as the change it describes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// What happened.
    pub kind: EventKind,
    /// The session concerned, if one.
    pub family: Option<FamilyId>,
}

/// What a committed store operation did besides its outcome: for `crate::security` to log,
/// count and share.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Families revoked.
    pub revoked: Vec<FamilyId>,
    /// Security events recorded.
    pub events: Vec<Recorded>,
}

impl Report {
    /// The report of a decision's plan carried out on `family`.
    pub(crate) fn of_plan(plan: &auth_core::Plan, family: &FamilyId) -> Self {
        Self {
            revoked: plan
                .revoke_family
                .map(|_| vec![family.clone()])
                .unwrap_or_default(),
            events: plan
                .event
                .map(|kind| {
                    vec![Recorded {
                        kind,
                        family: Some(family.clone()),
                    }]
                })
                .unwrap_or_default(),
        }
    }
}

/// What became of a presented refresh token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Rotated: the successor issued.
    Issued(String),
    /// A retry within the grace window: the successor issued the first time, as stored (the
    /// service re-mints it and checks it against the stored digest).
    Replay(SuccessorState, FamilyId),
    /// The check passed (rotation off), or the session was ended (logout).
    Done,
    /// Refused; any revocation it caused is committed and reported.
    Refused(Denial),
}

/// Until when access tokens of a family revoked at `now` may still be presented: the
/// revocation time plus the access lifetime and the leeway.
pub(crate) fn revocation_deadline(settings: &auth_core::TokenSettings, now: i64) -> i64 {
    now.saturating_add(auth_core::seconds(settings.access_token_lifetime))
        .saturating_add(auth_core::seconds(settings.leeway))
}

/// A login to record: its family and first refresh token.
#[derive(Clone, Debug)]
pub struct NewSession<'a> {
    /// The user who logged in.
    pub user: UserId,
    /// The new family's id.
    pub family: &'a FamilyId,
    /// The first refresh token's id.
    pub first: &'a Jti,
    /// The first refresh token's hash.
    pub token_hash: TokenHash,
    /// Login time, Unix seconds.
    pub issued_at: i64,
    /// The first refresh token's `exp`.
    pub expires_at: i64,
    /// The session's absolute end.
    pub session_expires_at: i64,
    /// The client that logged in.
    pub client: &'a Client,
}

/// A live session, as `GET /sessions` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The family id.
    pub id: FamilyId,
    /// Login time, Unix seconds.
    pub created_at: i64,
    /// Last rotation, Unix seconds.
    pub last_used_at: i64,
    /// When the session ends at the latest, Unix seconds.
    pub expires_at: i64,
    /// The login's `User-Agent`.
    pub user_agent: Option<String>,
    /// The login's client address.
    pub ip: Option<String>,
}

impl Session {
    /// The session as `GET /sessions` and `jwtd sessions list --json` show it (without the
    /// caller-relative `current` flag).
    pub fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        let rfc3339 = crate::clock::rfc3339;
        let mut fields = serde_json::Map::new();
        fields.insert("id".to_owned(), self.id.as_str().into());
        fields.insert("created_at".to_owned(), rfc3339(self.created_at).into());
        fields.insert("last_used_at".to_owned(), rfc3339(self.last_used_at).into());
        fields.insert("expires_at".to_owned(), rfc3339(self.expires_at).into());
        fields.insert("user_agent".to_owned(), self.user_agent.clone().into());
        fields.insert("ip".to_owned(), self.ip.clone().into());
        fields
    }
}

/// What `flush_expired` removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flushed {
    /// Outstanding token rows deleted (with their blacklist rows).
    pub tokens: u64,
    /// Family rows deleted.
    pub families: u64,
    /// Security events deleted (past retention).
    pub events: u64,
}

/// Reads and writes refresh-token state. Every method that changes state does so in one
/// transaction, and reports what it changed.
#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// Records a login (a new family and its first refresh token) and its event.
    ///
    /// # Errors
    /// A database error.
    async fn start_session(&self, session: NewSession<'_>) -> Result<Report, StoreError>;

    /// Records a security event that changes nothing else (a failed login).
    ///
    /// # Errors
    /// A database error.
    async fn record(
        &self,
        kind: EventKind,
        user: Option<UserId>,
        username: Option<&str>,
        client: &Client,
        now: i64,
    ) -> Result<Report, StoreError>;

    /// Carries out `use_` of a presented refresh token as `auth_core::decide` settles it,
    /// atomically: of any number of concurrent rotations of one token exactly one issues a
    /// successor. `successor` is the successor minted ahead for a full refresh lifetime
    /// from `now` (rotation only); the engine mints another only if the session caps it.
    ///
    /// # Errors
    /// A database error (nothing was written), or a signing error.
    async fn present(
        &self,
        use_: Use,
        presented: Presented<'_>,
        successor: Option<Minted>,
        client: &Client,
        now: i64,
    ) -> Result<(Outcome, Report), StoreError>;

    /// Whether a token id is blacklisted or belongs to a revoked family.
    ///
    /// # Errors
    /// A database error.
    async fn is_revoked(&self, jti: &Jti) -> Result<bool, StoreError>;

    /// Revokes every live family of a user and records `kind`; returns how many.
    ///
    /// # Errors
    /// A database error.
    async fn revoke_user_families(
        &self,
        user: UserId,
        reason: Revocation,
        event: (EventKind, &Client),
        now: i64,
    ) -> Result<(u64, Report), StoreError>;

    /// Revokes one family of a user and records `kind`; `false` (and nothing written) if it
    /// does not exist, is not the user's, or is not live.
    ///
    /// # Errors
    /// A database error.
    async fn revoke_session(
        &self,
        user: UserId,
        family: &FamilyId,
        reason: Revocation,
        event: (EventKind, &Client),
        now: i64,
    ) -> Result<(bool, Report), StoreError>;

    /// The user's live sessions, newest first.
    ///
    /// # Errors
    /// A database error.
    async fn list_sessions(&self, user: UserId, now: i64) -> Result<Vec<Session>, StoreError>;

    /// Families revoked at or after `since` whose tokens may still be unexpired, with the
    /// revocation time: feeds the in-memory revoked-session set.
    ///
    /// # Errors
    /// A database error.
    async fn revoked_families_since(&self, since: i64) -> Result<Vec<(FamilyId, i64)>, StoreError>;

    /// Deletes expired tokens (with their blacklist rows), expired families and events past
    /// `events_before`, `batch` rows at a time, never loading the tables into memory.
    ///
    /// # Errors
    /// A database error.
    async fn flush_expired(
        &self,
        now: i64,
        events_before: i64,
        batch: u64,
    ) -> Result<Flushed, StoreError>;
}

pub use ahead::Minted;

/// Background work an engine needs, not yet started: [`Workers::spawn`] starts it, once, at
/// start-up (on a tokio runtime).
#[must_use = "the engine answers nothing until its workers are spawned"]
pub struct Workers(Vec<Start>);

/// Starts one piece of an engine's background work.
pub(crate) type Start = Box<dyn FnOnce() -> Result<(), StoreError> + Send>;

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Workers({})", self.0.len())
    }
}

impl Workers {
    /// Starts the engine's threads and tasks.
    ///
    /// # Errors
    /// When a thread cannot be started.
    pub fn spawn(self) -> Result<(), StoreError> {
        self.0.into_iter().try_for_each(|start| start())
    }
}

/// Opens the one engine for `db`'s backend: for a SQLite file the group-committing writer,
/// for PostgreSQL the one-transaction path with its batch, for MySQL/MariaDB the
/// one-transaction path. Starts nothing: spawn the returned [`Workers`].
///
/// # Errors
/// An engine that cannot open (the SQLite file, in-memory SQLite) names the cause.
pub fn open(
    db: Database,
    codec: Arc<TokenCodec>,
    check_user_is_active: bool,
) -> Result<(SqlStore, Workers), StoreError> {
    let rules = RotationRules::new(codec.settings(), check_user_is_active);
    let (engine, workers) = match db.backend() {
        DbBackend::Sqlite => {
            let path = db.sqlite_file.clone().ok_or_else(|| {
                StoreError::Internal(
                    "in-memory SQLite is not supported: the rotation writer needs a database file"
                        .to_owned(),
                )
            })?;
            let (rotator, start) = sqlite::SqliteRotator::open(&path, Arc::clone(&codec), rules)?;
            (sql::Engine::Sqlite(rotator), vec![start])
        }
        DbBackend::Postgres => {
            let pool = db.write.get_postgres_connection_pool().clone();
            let (batcher, start) = postgres::PostgresBatcher::new(pool, Arc::clone(&codec), rules);
            (sql::Engine::Postgres(batcher), vec![start])
        }
        _ => (sql::Engine::Transaction, Vec::new()),
    };
    Ok((SqlStore::new(db, codec, rules, engine), Workers(workers)))
}

/// The successor to issue for `presented` committed in `family` with an expiry of `exp`: the
/// one minted ahead if it fits, else one minted now (the session ends before a full refresh
/// lifetime, or the token names no family).
pub(crate) fn successor_for(
    codec: &TokenCodec,
    ahead: Option<Minted>,
    user: UserId,
    family: &FamilyId,
    now: i64,
    exp: i64,
) -> Result<Minted, StoreError> {
    match ahead {
        Some(minted) if minted.exp == exp && &minted.family == family => Ok(minted),
        _ => Ok(ahead::mint_successor(codec, user, family, now, exp)?),
    }
}

/// The outcome of a decision that issued no successor and replays none.
pub(crate) fn settled(decision: &auth_core::Decision) -> Outcome {
    decision.refusal().map_or(Outcome::Done, Outcome::Refused)
}

/// The stored digest of a row, `None` when it is not 64 hex digits.
pub(crate) fn stored_hash(text: &str) -> Option<TokenHash> {
    TokenHash::from_hex(text)
}
