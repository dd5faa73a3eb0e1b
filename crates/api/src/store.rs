//! The token store: every read and write of refresh tokens, families and blacklist rows.
//!
//! A trait so that tests can put a failing or slow store behind the real router; the one
//! production implementation, `SqlStore`, serves SQLite, PostgreSQL and MySQL.

mod ahead;
mod postgres_batch;
mod sql;
mod sqlite_writer;

use async_trait::async_trait;
use auth_core::{FamilyId, Jti, Revocation, TokenHash, UserId};

use crate::error::ApiError;
use crate::events::Client;

pub use postgres_batch::PostgresBatcher;
pub use sql::SqlStore;
pub use sqlite_writer::SqliteRotator;

/// Until when access tokens of a family revoked at `now` may still be presented: the
/// revocation time plus the access lifetime and the leeway.
pub(crate) fn revocation_deadline(settings: &auth_core::TokenSettings, now: i64) -> i64 {
    let seconds =
        |duration: std::time::Duration| i64::try_from(duration.as_secs()).unwrap_or(i64::MAX);
    now.saturating_add(seconds(settings.access_token_lifetime))
        .saturating_add(seconds(settings.leeway))
}

/// A refresh token presented by a client, after its signature and claims were verified.
#[derive(Clone, Debug)]
pub struct Presented<'a> {
    /// Its id.
    pub jti: &'a Jti,
    /// SHA-256 of the token as presented; compared in constant time with the stored one.
    pub hash: TokenHash,
    /// The user id claim.
    pub user: UserId,
    /// The family (`sid`) claim, which every token jwtd mints carries.
    pub family: Option<&'a FamilyId>,
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

/// What a successful refresh hands back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rotated {
    /// A new successor was issued.
    New(String),
    /// A retry within the grace window: the successor issued the first time.
    Replayed(String),
}

impl Rotated {
    /// The refresh token to send.
    pub fn token(&self) -> &str {
        match self {
            Rotated::New(token) | Rotated::Replayed(token) => token,
        }
    }
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
/// transaction.
#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// Records a login: a new family and its first refresh token.
    ///
    /// # Errors
    /// A database error.
    async fn start_session(&self, session: NewSession<'_>) -> Result<(), ApiError>;

    /// Rotates a refresh token: blacklists it and issues its successor, atomically, so that
    /// of any number of concurrent rotations of one token exactly one issues a successor.
    /// A replay inside the grace window gets the same successor; any other reuse revokes
    /// the family.
    ///
    /// # Errors
    /// `ApiError::Token` for refused tokens (after committing any revocation),
    /// `ApiError::NoAccountForToken` for missing or inactive users, or a database error.
    async fn rotate(
        &self,
        presented: Presented<'_>,
        client: &Client,
        now: i64,
    ) -> Result<Rotated, ApiError>;

    /// Checks, without changing anything, that a refresh token may be used (rotation off):
    /// known, not blacklisted, family alive, user active.
    ///
    /// # Errors
    /// As `rotate`.
    async fn check_refresh(&self, presented: Presented<'_>, now: i64) -> Result<(), ApiError>;

    /// Whether a token id is blacklisted or belongs to a revoked family.
    ///
    /// # Errors
    /// A database error.
    async fn is_revoked(&self, jti: &Jti) -> Result<bool, ApiError>;

    /// Blacklists a refresh token and ends its session (`POST /logout`).
    ///
    /// # Errors
    /// `ApiError::Token` if it is unknown or already blacklisted, or a database error.
    async fn logout(
        &self,
        presented: Presented<'_>,
        client: &Client,
        now: i64,
    ) -> Result<(), ApiError>;

    /// Revokes every live family of a user; returns how many.
    ///
    /// # Errors
    /// A database error.
    async fn revoke_user_families(
        &self,
        user: UserId,
        reason: Revocation,
        now: i64,
    ) -> Result<u64, ApiError>;

    /// Revokes one family of a user; `false` if it does not exist, is not the user's, or is
    /// not live.
    ///
    /// # Errors
    /// A database error.
    async fn revoke_session(
        &self,
        user: UserId,
        family: &FamilyId,
        reason: Revocation,
        now: i64,
    ) -> Result<bool, ApiError>;

    /// The user's live sessions, newest first.
    ///
    /// # Errors
    /// A database error.
    async fn list_sessions(&self, user: UserId, now: i64) -> Result<Vec<Session>, ApiError>;

    /// Families revoked at or after `since` whose tokens may still be unexpired, with the
    /// revocation time: feeds the in-memory revoked-session set.
    ///
    /// # Errors
    /// A database error.
    async fn revoked_families_since(&self, since: i64) -> Result<Vec<(FamilyId, i64)>, ApiError>;

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
    ) -> Result<Flushed, ApiError>;
}
