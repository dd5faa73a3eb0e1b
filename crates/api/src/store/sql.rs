//! `SqlStore`: the store every backend shares. Rotations and logouts go to the backend's
//! engine; the one-transaction path here serves MySQL/MariaDB, and PostgreSQL for whatever
//! its batch leaves; the other operations are sea-orm queries for every backend
//! (`sessions.rs`, `flush.rs`).

mod flush;
mod rotation;
mod sessions;

use std::sync::Arc;

use async_trait::async_trait;
use auth_core::{
    Decision, EventKind, FamilyId, Jti, Revocation, RotationRules, TokenCodec, Use, UserId, decide,
};
use sea_orm::{
    DatabaseTransaction, DbBackend, IsolationLevel, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

use super::ahead::Minted;
use super::postgres::PostgresBatcher;
use super::sqlite::SqliteRotator;
use super::{
    Flushed, NewSession, Outcome, Presented, Report, Session, StoreError, TokenStore, settled,
    successor_for,
};
use crate::db::Database;
use crate::events::Client;

/// The engine that carries out rotations and logouts, one per backend.
#[derive(Debug)]
pub(super) enum Engine {
    /// A SQLite file: the group-committing writer thread.
    Sqlite(SqliteRotator),
    /// PostgreSQL: the batch, then the one-transaction path for what it leaves.
    Postgres(PostgresBatcher),
    /// MySQL/MariaDB: the one-transaction path.
    Transaction,
}

/// The token store over one database.
#[derive(Debug)]
pub struct SqlStore {
    db: Database,
    codec: Arc<TokenCodec>,
    rules: RotationRules,
    engine: Engine,
}

const MAX_ATTEMPTS: usize = 3;

impl SqlStore {
    pub(super) fn new(
        db: Database,
        codec: Arc<TokenCodec>,
        rules: RotationRules,
        engine: Engine,
    ) -> Self {
        Self {
            db,
            codec,
            rules,
            engine,
        }
    }

    /// Begins a write transaction. On MySQL at READ COMMITTED: under its default REPEATABLE
    /// READ, plain reads after `SELECT ... FOR UPDATE` still see the snapshot taken by the
    /// transaction's first read, before the family lock was granted, so a rotation that
    /// waited for the lock would not see the rotation that held it. PostgreSQL's default is
    /// READ COMMITTED already; SQLite has a single writer.
    ///
    /// On SQLite, `BEGIN IMMEDIATE`: the transaction takes the write lock before its first
    /// read, so it waits (up to the busy timeout) for the rotation writer instead of failing
    /// with `SQLITE_BUSY` when it later upgrades from reading to writing.
    async fn begin(&self) -> Result<DatabaseTransaction, StoreError> {
        let backend = self.db.backend();
        let options = TransactionOptions {
            isolation_level: (backend == DbBackend::MySql).then_some(IsolationLevel::ReadCommitted),
            access_mode: None,
            sqlite_transaction_mode: (backend == DbBackend::Sqlite)
                .then_some(SqliteTransactionMode::Immediate),
        };
        Ok(self.db.write.begin_with_options(options).await?)
    }

    /// The check when rotation is off: one read, nothing written.
    async fn check(&self, presented: &Presented<'_>, now: i64) -> Result<Outcome, StoreError> {
        let loaded = rotation::load(&self.db.read, presented, false).await?;
        let stored = loaded.as_ref().map(|(_, stored)| stored);
        let decision = decide(Use::Check, presented, stored, now, &self.rules);
        Ok(settled(&decision))
    }

    /// One attempt at `use_` in `txn`: load with the family locked, decide, apply the plan.
    async fn present_once(
        &self,
        txn: &DatabaseTransaction,
        use_: Use,
        presented: &Presented<'_>,
        successor: &mut Option<Minted>,
        client: &Client,
        now: i64,
    ) -> Result<(Outcome, Report), StoreError> {
        let Some((token_id, mut stored)) = rotation::load(txn, presented, true).await? else {
            let decision = decide(use_, presented, None, now, &self.rules);
            return Ok((settled(&decision), Report::default()));
        };
        if stored.needs_successor() {
            stored.successor = rotation::successor(txn, &stored.family_id, presented.jti).await?;
        }
        let decision = decide(use_, presented, Some(&stored), now, &self.rules);
        let plan = decision.plan(&stored, &self.rules);
        let issued = match plan.issue {
            Some(exp) => Some(successor_for(
                &self.codec,
                successor.take(),
                presented.user,
                &stored.family_id,
                now,
                exp,
            )?),
            None => None,
        };
        let target = rotation::Target {
            token_id,
            presented,
            family: &stored.family_id,
            now,
            client,
        };
        rotation::apply(txn, &plan, &target, issued.as_ref()).await?;
        let report = Report::of_plan(&plan, &stored.family_id);
        let outcome = match (decision, issued) {
            (_, Some(issued)) => Outcome::Issued(issued.token),
            (Decision::Replay(next), None) => Outcome::Replay(next, stored.family_id),
            (decision, None) => settled(&decision),
        };
        Ok((outcome, report))
    }

    /// Runs `use_` in a write transaction: commits what it decided, rolls back on error,
    /// and retries transient failures a few times before answering 503.
    async fn in_transaction(
        &self,
        use_: Use,
        presented: &Presented<'_>,
        mut successor: Option<Minted>,
        client: &Client,
        now: i64,
    ) -> Result<(Outcome, Report), StoreError> {
        let mut last = None;
        for _ in 0..MAX_ATTEMPTS {
            let txn = self.begin().await?;
            let attempt = self
                .present_once(&txn, use_, presented, &mut successor, client, now)
                .await;
            let attempt = match attempt {
                Ok(done) => txn.commit().await.map(|()| done).map_err(StoreError::from),
                Err(error) => {
                    // Dropping a transaction rolls it back; say so explicitly.
                    let _ = txn.rollback().await;
                    Err(error)
                }
            };
            match attempt {
                Err(StoreError::Unavailable(error)) => last = Some(error),
                settled => return settled,
            }
        }
        Err(StoreError::Unavailable(last.unwrap_or_else(|| {
            sea_orm::DbErr::Custom("transaction retries exhausted".into())
        })))
    }
}

#[async_trait]
impl TokenStore for SqlStore {
    async fn start_session(&self, session: NewSession<'_>) -> Result<Report, StoreError> {
        let txn = self.begin().await?;
        sessions::start(&txn, &session).await?;
        txn.commit().await?;
        Ok(Report {
            revoked: Vec::new(),
            events: vec![super::Recorded {
                kind: EventKind::LoginSucceeded,
                family: Some(session.family.clone()),
            }],
        })
    }

    async fn record(
        &self,
        kind: EventKind,
        user: Option<UserId>,
        username: Option<&str>,
        client: &Client,
        now: i64,
    ) -> Result<Report, StoreError> {
        let event = crate::events::Event {
            kind,
            user,
            username,
            family: None,
            client,
            at: now,
        };
        sessions::record(&self.db.write, &event).await?;
        Ok(Report {
            revoked: Vec::new(),
            events: vec![super::Recorded { kind, family: None }],
        })
    }

    async fn present(
        &self,
        use_: Use,
        presented: Presented<'_>,
        successor: Option<Minted>,
        client: &Client,
        now: i64,
    ) -> Result<(Outcome, Report), StoreError> {
        if use_ == Use::Check {
            return Ok((self.check(&presented, now).await?, Report::default()));
        }
        let successor = match (&self.engine, use_) {
            (Engine::Sqlite(rotator), _) => {
                return rotator
                    .present(use_, &presented, successor, client, now)
                    .await;
            }
            (Engine::Postgres(batcher), Use::Rotate) => {
                match batcher.rotate(&presented, successor, now).await? {
                    Ok(token) => return Ok((Outcome::Issued(token), Report::default())),
                    Err(successor) => successor,
                }
            }
            _ => successor,
        };
        self.in_transaction(use_, &presented, successor, client, now)
            .await
    }

    async fn is_revoked(&self, jti: &Jti) -> Result<bool, StoreError> {
        sessions::is_revoked(&self.db.read, jti).await
    }

    async fn revoke_user_families(
        &self,
        user: UserId,
        reason: Revocation,
        event: (EventKind, &Client),
        now: i64,
    ) -> Result<(u64, Report), StoreError> {
        let txn = self.begin().await?;
        let families = sessions::revoke_user_families(&txn, user, reason, now).await?;
        sessions::record(&txn, &crate::events::Event::about(event, user, None, now)).await?;
        txn.commit().await?;
        let count = u64::try_from(families.len()).unwrap_or(u64::MAX);
        let report = Report {
            revoked: families,
            events: vec![super::Recorded {
                kind: event.0,
                family: None,
            }],
        };
        Ok((count, report))
    }

    async fn revoke_session(
        &self,
        user: UserId,
        family: &FamilyId,
        reason: Revocation,
        event: (EventKind, &Client),
        now: i64,
    ) -> Result<(bool, Report), StoreError> {
        let txn = self.begin().await?;
        if !sessions::revoke_session(&txn, user, family, reason, now).await? {
            txn.rollback().await?;
            return Ok((false, Report::default()));
        }
        sessions::record(
            &txn,
            &crate::events::Event::about(event, user, Some(family), now),
        )
        .await?;
        txn.commit().await?;
        let report = Report {
            revoked: vec![family.clone()],
            events: vec![super::Recorded {
                kind: event.0,
                family: Some(family.clone()),
            }],
        };
        Ok((true, report))
    }

    async fn list_sessions(&self, user: UserId, now: i64) -> Result<Vec<Session>, StoreError> {
        let lifetime = auth_core::seconds(self.codec.settings().refresh_token_lifetime);
        sessions::list(&self.db.read, user, now, lifetime).await
    }

    async fn revoked_families_since(&self, since: i64) -> Result<Vec<(FamilyId, i64)>, StoreError> {
        sessions::revoked_since(&self.db.read, since).await
    }

    async fn flush_expired(
        &self,
        now: i64,
        events_before: i64,
        batch: u64,
    ) -> Result<Flushed, StoreError> {
        flush::flush_expired(self, now, events_before, batch).await
    }
}
