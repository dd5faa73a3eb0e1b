//! `SqlStore`: the token store on sea-orm, for SQLite, PostgreSQL and MySQL alike.

use std::sync::Arc;

use async_trait::async_trait;
use auth_core::{
    BlacklistEntry, FamilyId, FamilyState, Jti, RefreshDecision, RefreshSpec, Refusal, Revocation,
    StoredRefresh, SuccessorState, TokenCodec, TokenError, TokenHash, UserId, blacklisted_refusal,
    decide_refresh,
};
use entity::{auth_events, blacklisted_tokens, outstanding_tokens, token_families};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    IsolationLevel, QueryFilter, QueryOrder, QuerySelect, Set, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};

use super::{
    Flushed, NewSession, PostgresBatcher, Presented, Rotated, Session, SqliteRotator, TokenStore,
    revocation_deadline,
};
use crate::db::Database;
use crate::error::ApiError;
use crate::events::{self, Client, Event, EventKind};
use crate::revocations::RevokedSessions;
use crate::transient::classify;
use crate::users;

/// The token store over one database.
#[derive(Clone, Debug)]
pub struct SqlStore {
    db: Database,
    codec: Arc<TokenCodec>,
    check_user_is_active: bool,
    revoked: Arc<RevokedSessions>,
    /// For a SQLite file: the group-committing writer that carries out rotations.
    rotator: Option<Arc<SqliteRotator>>,
    /// For PostgreSQL: the task that group-commits plain rotations.
    batcher: Option<Arc<PostgresBatcher>>,
}

impl SqlStore {
    /// A store over `db`, minting successors with `codec`. `check_user_is_active` is
    /// simplejwt's `CHECK_USER_IS_ACTIVE`, applied on refresh. Every family this store
    /// revokes is added to `revoked` once the revocation has committed.
    pub fn new(
        db: Database,
        codec: Arc<TokenCodec>,
        check_user_is_active: bool,
        revoked: Arc<RevokedSessions>,
    ) -> Self {
        let rotator = db.sqlite_file.as_deref().and_then(|path| {
            match SqliteRotator::start(
                path,
                Arc::clone(&codec),
                check_user_is_active,
                Arc::clone(&revoked),
            ) {
                Ok(rotator) => Some(Arc::new(rotator)),
                Err(error) => {
                    // Rotations still work through the pool, one transaction each.
                    tracing::warn!(error = %error, "SQLite group commit is off");
                    None
                }
            }
        });
        let batcher = (db.backend() == DbBackend::Postgres)
            .then(|| {
                PostgresBatcher::start(
                    db.write.get_postgres_connection_pool().clone(),
                    Arc::clone(&codec),
                    check_user_is_active,
                )
            })
            .flatten()
            .map(Arc::new);
        Self {
            db,
            codec,
            check_user_is_active,
            revoked,
            rotator,
            batcher,
        }
    }

    /// Adds committed revocations to the in-memory set, for as long as access tokens minted
    /// before them can live.
    fn note_revoked(&self, families: Vec<FamilyId>, now: i64) {
        let until = revocation_deadline(self.codec.settings(), now);
        for family in families {
            self.revoked.revoke(family, until);
        }
    }
}

/// What is stored about a presented token.
struct Loaded {
    token: outstanding_tokens::Model,
    family: token_families::Model,
    blacklisted: Option<BlacklistEntry>,
}

/// How one attempt at a rotation ended.
enum Step {
    /// Commit and answer with the token.
    Done(Rotated),
    /// Commit (a revocation may have been written) and refuse.
    Refuse(ApiError),
}

const MAX_ATTEMPTS: usize = 3;

impl SqlStore {
    /// Begins a write transaction. On MySQL at READ COMMITTED: under its default REPEATABLE
    /// READ, plain reads after `SELECT ... FOR UPDATE` still see the snapshot taken by the
    /// transaction's first read, before the family lock was granted, so a rotation that
    /// waited for the lock would not see the rotation that held it. PostgreSQL's default is
    /// READ COMMITTED already; SQLite has a single writer.
    ///
    /// On SQLite, `BEGIN IMMEDIATE`: the transaction takes the write lock before its first
    /// read, so it waits (up to the busy timeout) for the rotation writer instead of failing
    /// with `SQLITE_BUSY` when it later upgrades from reading to writing.
    async fn begin(&self) -> Result<DatabaseTransaction, ApiError> {
        let backend = self.db.backend();
        let options = TransactionOptions {
            isolation_level: (backend == DbBackend::MySql).then_some(IsolationLevel::ReadCommitted),
            access_mode: None,
            sqlite_transaction_mode: (backend == DbBackend::Sqlite)
                .then_some(SqliteTransactionMode::Immediate),
        };
        self.db
            .write
            .begin_with_options(options)
            .await
            .map_err(classify)
    }

    /// Loads the token, its family (locked for the rest of the transaction on databases
    /// with row locks, so that everything done to one family is serialized) and its
    /// blacklist row. An unknown id or a hash mismatch is `Token is invalid`.
    async fn load(
        &self,
        db: &impl ConnectionTrait,
        presented: &Presented<'_>,
        lock: bool,
    ) -> Result<Loaded, ApiError> {
        let token = outstanding_tokens::Entity::find()
            .filter(outstanding_tokens::Column::Jti.eq(presented.jti.as_str()))
            .one(db)
            .await?
            .ok_or(TokenError::Invalid)?;
        let stored_hash = TokenHash::from_hex(&token.token_hash).ok_or(TokenError::Invalid)?;
        if stored_hash != presented.hash {
            return Err(TokenError::Invalid.into());
        }
        let mut family = token_families::Entity::find_by_id(token.family_id.clone());
        if lock {
            family = family.lock_exclusive();
        }
        let family = family.one(db).await?.ok_or(TokenError::Invalid)?;
        let blacklisted = blacklist_entry(db, token.id).await?;
        Ok(Loaded {
            token,
            family,
            blacklisted,
        })
    }

    /// The successor a rotation of `token` produced, if there is one: its child in its
    /// family (a rotated token has exactly one).
    async fn successor(
        &self,
        db: &impl ConnectionTrait,
        token: &outstanding_tokens::Model,
    ) -> Result<Option<(outstanding_tokens::Model, bool)>, ApiError> {
        let Some(successor) = outstanding_tokens::Entity::find()
            .filter(outstanding_tokens::Column::FamilyId.eq(token.family_id.as_str()))
            .filter(outstanding_tokens::Column::ParentJti.eq(token.jti.as_str()))
            .order_by_asc(outstanding_tokens::Column::Id)
            .one(db)
            .await?
        else {
            return Ok(None);
        };
        let blacklisted = blacklist_entry(db, successor.id).await?.is_some();
        Ok(Some((successor, blacklisted)))
    }

    async fn require_active_user(
        &self,
        db: &impl ConnectionTrait,
        user: UserId,
    ) -> Result<(), ApiError> {
        match users::find_by_id(db, user).await? {
            Some(found) if found.is_active || !self.check_user_is_active => Ok(()),
            _ => Err(ApiError::NoAccountForToken),
        }
    }

    async fn rotate_once(
        &self,
        txn: &DatabaseTransaction,
        presented: &Presented<'_>,
        client: &Client,
        now: i64,
        revoked: &mut Vec<FamilyId>,
    ) -> Result<Step, ApiError> {
        let loaded = self.load(txn, presented, true).await?;
        let settings = self.codec.settings();
        let successor = match loaded.blacklisted {
            Some(entry) if entry.reason == Revocation::Rotated => {
                self.successor(txn, &loaded.token).await?
            }
            _ => None,
        };
        let stored = StoredRefresh {
            family: family_state(&loaded.family),
            blacklisted: loaded.blacklisted,
            successor: successor.as_ref().map(|(row, blacklisted)| SuccessorState {
                jti: Jti::new(row.jti.clone()),
                issued_at: row.created_at,
                expires_at: row.expires_at,
                blacklisted: *blacklisted,
            }),
        };
        let family = FamilyId::new(loaded.family.id.clone());
        match decide_refresh(&stored, now, settings) {
            RefreshDecision::Reject(error) => Ok(Step::Refuse(error.into())),
            RefreshDecision::RevokeFamily => {
                revoke_family(txn, &family, Revocation::ReuseDetected, now).await?;
                revoked.push(family.clone());
                events::record(
                    txn,
                    Event {
                        kind: EventKind::ReuseDetected,
                        user: Some(presented.user),
                        username: None,
                        family: Some(&family),
                        client,
                        at: now,
                    },
                )
                .await?;
                Ok(Step::Refuse(
                    TokenError::Blacklisted(Refusal::ReuseDetected).into(),
                ))
            }
            RefreshDecision::ReplaySuccessor => {
                self.require_active_user(txn, presented.user).await?;
                let Some((row, _)) = successor else {
                    return Err(ApiError::Internal("grace replay without successor".into()));
                };
                let jti = Jti::new(row.jti.clone());
                let token = self.codec.mint_refresh(&RefreshSpec {
                    jti: &jti,
                    user: presented.user,
                    family: &family,
                    iat: row.created_at,
                    exp: row.expires_at,
                })?;
                // The re-minted successor must be the very token issued the first time;
                // if not (the signing key changed since), it is no use to the client.
                if TokenHash::from_hex(&row.token_hash) != Some(TokenHash::of(&token)) {
                    return Ok(Step::Refuse(TokenError::Invalid.into()));
                }
                Ok(Step::Done(Rotated::Replayed(token)))
            }
            RefreshDecision::Rotate { successor_exp } => {
                self.require_active_user(txn, presented.user).await?;
                if settings.blacklist_after_rotation {
                    let inserted =
                        blacklisted_tokens::Entity::insert(blacklisted_tokens::ActiveModel {
                            token_id: Set(loaded.token.id),
                            blacklisted_at: Set(now),
                            reason: Set(Revocation::Rotated.as_str().to_owned()),
                            ..Default::default()
                        })
                        .on_conflict_do_nothing_on([blacklisted_tokens::Column::TokenId])
                        .exec_without_returning(txn)
                        .await?;
                    if !matches!(inserted, sea_orm::TryInsertResult::Inserted(1)) {
                        // Another rotation of this token committed first. The family lock
                        // makes this unreachable on PostgreSQL and the single writer on
                        // SQLite; the unique constraint is the last line of defence.
                        return Err(ApiError::Unavailable(sea_orm::DbErr::Custom(
                            "concurrent rotation".into(),
                        )));
                    }
                }
                let successor_jti = crate::tokens::new_jti();
                let token = self.codec.mint_refresh(&RefreshSpec {
                    jti: &successor_jti,
                    user: presented.user,
                    family: &family,
                    iat: now,
                    exp: successor_exp,
                })?;
                outstanding_tokens::ActiveModel {
                    user_id: Set(Some(presented.user.0)),
                    jti: Set(successor_jti.as_str().to_owned()),
                    family_id: Set(family.as_str().to_owned()),
                    parent_jti: Set(Some(presented.jti.as_str().to_owned())),
                    token_hash: Set(TokenHash::of(&token).to_hex()),
                    created_at: Set(now),
                    expires_at: Set(successor_exp),
                    ..Default::default()
                }
                .insert(txn)
                .await?;
                token_families::Entity::update_many()
                    .col_expr(token_families::Column::LastUsedAt, Expr::value(now))
                    .filter(token_families::Column::Id.eq(family.as_str()))
                    .exec(txn)
                    .await?;
                Ok(Step::Done(Rotated::New(token)))
            }
        }
    }

    async fn logout_once(
        &self,
        txn: &DatabaseTransaction,
        presented: &Presented<'_>,
        client: &Client,
        now: i64,
        revoked: &mut Vec<FamilyId>,
    ) -> Result<Step, ApiError> {
        let loaded = self.load(txn, presented, true).await?;
        let successor = match loaded.blacklisted {
            Some(entry) if entry.reason == Revocation::Rotated => {
                self.successor(txn, &loaded.token).await?
            }
            _ => None,
        };
        let stored = StoredRefresh {
            family: family_state(&loaded.family),
            blacklisted: loaded.blacklisted,
            successor: successor.map(|(row, blacklisted)| SuccessorState {
                jti: Jti::new(row.jti),
                issued_at: row.created_at,
                expires_at: row.expires_at,
                blacklisted,
            }),
        };
        let family = FamilyId::new(loaded.family.id.clone());
        let (kind, reason) = match decide_refresh(&stored, now, self.codec.settings()) {
            RefreshDecision::Reject(error) => return Ok(Step::Refuse(error.into())),
            // An old token still inside the grace window: its tab simply had not seen the
            // rotation yet. Logging out with it ends the session.
            RefreshDecision::ReplaySuccessor | RefreshDecision::Rotate { .. } => {
                (EventKind::Logout, Revocation::Logout)
            }
            RefreshDecision::RevokeFamily => (EventKind::ReuseDetected, Revocation::ReuseDetected),
        };
        if loaded.blacklisted.is_none() {
            blacklisted_tokens::ActiveModel {
                token_id: Set(loaded.token.id),
                blacklisted_at: Set(now),
                reason: Set(reason.as_str().to_owned()),
                ..Default::default()
            }
            .insert(txn)
            .await?;
        }
        revoke_family(txn, &family, reason, now).await?;
        revoked.push(family.clone());
        events::record(
            txn,
            Event {
                kind,
                user: Some(presented.user),
                username: None,
                family: Some(&family),
                client,
                at: now,
            },
        )
        .await?;
        if reason == Revocation::ReuseDetected {
            return Ok(Step::Refuse(
                TokenError::Blacklisted(Refusal::ReuseDetected).into(),
            ));
        }
        Ok(Step::Done(Rotated::New(String::new())))
    }

    /// Runs one operation in a write transaction: commits on `Done` and `Refuse`, rolls
    /// back on error, and retries transient failures a few times before answering 503.
    async fn in_transaction(
        &self,
        operation: Operation,
        presented: &Presented<'_>,
        client: &Client,
        now: i64,
    ) -> Result<Rotated, ApiError> {
        let mut last = None;
        for _ in 0..MAX_ATTEMPTS {
            let txn = self.begin().await?;
            let mut revoked = Vec::new();
            let outcome = match operation {
                Operation::Rotate => {
                    self.rotate_once(&txn, presented, client, now, &mut revoked)
                        .await
                }
                Operation::Logout => {
                    self.logout_once(&txn, presented, client, now, &mut revoked)
                        .await
                }
            };
            match outcome {
                Ok(step) => {
                    match txn.commit().await.map_err(classify) {
                        Ok(()) => {}
                        Err(ApiError::Unavailable(error)) => {
                            last = Some(error);
                            continue;
                        }
                        Err(other) => return Err(other),
                    }
                    self.note_revoked(revoked, now);
                    return match step {
                        Step::Done(rotated) => Ok(rotated),
                        Step::Refuse(error) => Err(error),
                    };
                }
                Err(error) => {
                    // Dropping a transaction rolls it back; say so explicitly.
                    let _ = txn.rollback().await;
                    match retryable(error) {
                        Ok(transient) => last = Some(transient),
                        Err(final_error) => return Err(final_error),
                    }
                }
            }
        }
        Err(ApiError::Unavailable(last.unwrap_or_else(|| {
            sea_orm::DbErr::Custom("transaction retries exhausted".into())
        })))
    }
}

/// The write operations that run through `in_transaction`.
#[derive(Clone, Copy, Debug)]
enum Operation {
    Rotate,
    Logout,
}

/// Splits errors worth retrying (transient database failures) from final ones.
fn retryable(error: ApiError) -> Result<sea_orm::DbErr, ApiError> {
    match error {
        ApiError::Database(db) => match classify(db) {
            ApiError::Unavailable(transient) => Ok(transient),
            other => Err(other),
        },
        ApiError::Unavailable(transient) => Ok(transient),
        other => Err(other),
    }
}

fn family_state(family: &token_families::Model) -> FamilyState {
    FamilyState {
        revoked: family.revoked_at.is_some(),
        expires_at: family.expires_at,
    }
}

async fn blacklist_entry(
    db: &impl ConnectionTrait,
    token_id: i64,
) -> Result<Option<BlacklistEntry>, ApiError> {
    Ok(blacklisted_tokens::Entity::find()
        .filter(blacklisted_tokens::Column::TokenId.eq(token_id))
        .one(db)
        .await?
        .map(|row| BlacklistEntry {
            reason: Revocation::parse(&row.reason),
            at: row.blacklisted_at,
        }))
}

/// Marks a family revoked and blacklists every one of its tokens not yet blacklisted.
async fn revoke_family(
    db: &impl ConnectionTrait,
    family: &FamilyId,
    reason: Revocation,
    now: i64,
) -> Result<(), ApiError> {
    token_families::Entity::update_many()
        .col_expr(token_families::Column::RevokedAt, Expr::value(now))
        .col_expr(
            token_families::Column::RevokeReason,
            Expr::value(reason.as_str()),
        )
        .filter(token_families::Column::Id.eq(family.as_str()))
        .filter(token_families::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    let already = Query::select()
        .expr(Expr::val(1))
        .from(blacklisted_tokens::Entity)
        .and_where(
            Expr::col((
                blacklisted_tokens::Entity,
                blacklisted_tokens::Column::TokenId,
            ))
            .equals((outstanding_tokens::Entity, outstanding_tokens::Column::Id)),
        )
        .to_owned();
    let unrevoked = Query::select()
        .column((outstanding_tokens::Entity, outstanding_tokens::Column::Id))
        .expr(Expr::val(now))
        .expr(Expr::val(reason.as_str()))
        .from(outstanding_tokens::Entity)
        .and_where(
            Expr::col((
                outstanding_tokens::Entity,
                outstanding_tokens::Column::FamilyId,
            ))
            .eq(family.as_str()),
        )
        .and_where(Expr::exists(already).not())
        .to_owned();
    let insert = Query::insert()
        .into_table(blacklisted_tokens::Entity)
        .columns([
            blacklisted_tokens::Column::TokenId,
            blacklisted_tokens::Column::BlacklistedAt,
            blacklisted_tokens::Column::Reason,
        ])
        .select_from(unrevoked)
        .map_err(|error| ApiError::Internal(error.to_string()))?
        .to_owned();
    db.execute(&insert).await?;
    Ok(())
}

#[async_trait]
impl TokenStore for SqlStore {
    async fn start_session(&self, session: NewSession<'_>) -> Result<(), ApiError> {
        let txn = self.begin().await?;
        token_families::ActiveModel {
            id: Set(session.family.as_str().to_owned()),
            user_id: Set(session.user.0),
            created_at: Set(session.issued_at),
            last_used_at: Set(session.issued_at),
            expires_at: Set(session.session_expires_at),
            revoked_at: Set(None),
            revoke_reason: Set(None),
            user_agent: Set(session.client.user_agent.clone()),
            ip: Set(session.client.ip.clone()),
        }
        .insert(&txn)
        .await
        .map_err(classify)?;
        outstanding_tokens::ActiveModel {
            user_id: Set(Some(session.user.0)),
            jti: Set(session.first.as_str().to_owned()),
            family_id: Set(session.family.as_str().to_owned()),
            parent_jti: Set(None),
            token_hash: Set(session.token_hash.to_hex()),
            created_at: Set(session.issued_at),
            expires_at: Set(session.expires_at),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .map_err(classify)?;
        events::record(
            &txn,
            Event {
                kind: EventKind::LoginSucceeded,
                user: Some(session.user),
                username: None,
                family: Some(session.family),
                client: session.client,
                at: session.issued_at,
            },
        )
        .await
        .map_err(classify)?;
        txn.commit().await.map_err(classify)
    }

    async fn rotate(
        &self,
        presented: Presented<'_>,
        client: &Client,
        now: i64,
    ) -> Result<Rotated, ApiError> {
        if let Some(rotator) = &self.rotator {
            return rotator.rotate(&presented, client, now).await;
        }
        if let Some(batcher) = &self.batcher
            && let Some(rotated) = batcher.rotate(&presented, now).await?
        {
            return Ok(rotated);
        }
        self.in_transaction(Operation::Rotate, &presented, client, now)
            .await
    }

    async fn check_refresh(&self, presented: Presented<'_>, now: i64) -> Result<(), ApiError> {
        let loaded = self.load(&self.db.read, &presented, false).await?;
        if let Some(entry) = loaded.blacklisted {
            let family_revoked = loaded.family.revoked_at.is_some();
            return Err(TokenError::Blacklisted(blacklisted_refusal(entry, family_revoked)).into());
        }
        if loaded.family.revoked_at.is_some() {
            return Err(TokenError::Blacklisted(Refusal::FamilyRevoked).into());
        }
        if now >= loaded.family.expires_at {
            return Err(TokenError::Expired.into());
        }
        self.require_active_user(&self.db.read, presented.user)
            .await
    }

    async fn is_revoked(&self, jti: &Jti) -> Result<bool, ApiError> {
        let Some(token) = outstanding_tokens::Entity::find()
            .filter(outstanding_tokens::Column::Jti.eq(jti.as_str()))
            .one(&self.db.read)
            .await?
        else {
            return Ok(false);
        };
        if blacklist_entry(&self.db.read, token.id).await?.is_some() {
            return Ok(true);
        }
        let family = token_families::Entity::find_by_id(token.family_id)
            .one(&self.db.read)
            .await?;
        Ok(family.is_some_and(|family| family.revoked_at.is_some()))
    }

    async fn logout(
        &self,
        presented: Presented<'_>,
        client: &Client,
        now: i64,
    ) -> Result<(), ApiError> {
        self.in_transaction(Operation::Logout, &presented, client, now)
            .await
            .map(|_| ())
    }

    async fn revoke_user_families(
        &self,
        user: UserId,
        reason: Revocation,
        now: i64,
    ) -> Result<u64, ApiError> {
        let txn = self.begin().await?;
        let families: Vec<String> = token_families::Entity::find()
            .select_only()
            .column(token_families::Column::Id)
            .filter(token_families::Column::UserId.eq(user.0))
            .filter(token_families::Column::RevokedAt.is_null())
            .lock_exclusive()
            .into_tuple()
            .all(&txn)
            .await?;
        let families: Vec<FamilyId> = families.into_iter().map(FamilyId::new).collect();
        for family in &families {
            revoke_family(&txn, family, reason, now).await?;
        }
        txn.commit().await.map_err(classify)?;
        let count = u64::try_from(families.len()).unwrap_or(u64::MAX);
        self.note_revoked(families, now);
        Ok(count)
    }

    async fn revoke_session(
        &self,
        user: UserId,
        family: &FamilyId,
        reason: Revocation,
        now: i64,
    ) -> Result<bool, ApiError> {
        let txn = self.begin().await?;
        let found = token_families::Entity::find_by_id(family.as_str().to_owned())
            .filter(token_families::Column::UserId.eq(user.0))
            .filter(token_families::Column::RevokedAt.is_null())
            .filter(token_families::Column::ExpiresAt.gt(now))
            .lock_exclusive()
            .one(&txn)
            .await?;
        if found.is_none() {
            txn.rollback().await.map_err(classify)?;
            return Ok(false);
        }
        revoke_family(&txn, family, reason, now).await?;
        txn.commit().await.map_err(classify)?;
        self.note_revoked(vec![family.clone()], now);
        Ok(true)
    }

    async fn list_sessions(&self, user: UserId, now: i64) -> Result<Vec<Session>, ApiError> {
        let lifetime = i64::try_from(self.codec.settings().refresh_token_lifetime.as_secs())
            .unwrap_or(i64::MAX);
        let families = token_families::Entity::find()
            .filter(token_families::Column::UserId.eq(user.0))
            .filter(token_families::Column::RevokedAt.is_null())
            .filter(token_families::Column::ExpiresAt.gt(now))
            .filter(token_families::Column::LastUsedAt.gt(now.saturating_sub(lifetime)))
            .order_by_desc(token_families::Column::CreatedAt)
            .order_by_desc(token_families::Column::Id)
            .all(&self.db.read)
            .await?;
        Ok(families
            .into_iter()
            .map(|family| Session {
                id: FamilyId::new(family.id),
                created_at: family.created_at,
                last_used_at: family.last_used_at,
                expires_at: Ord::min(
                    family.expires_at,
                    family.last_used_at.saturating_add(lifetime),
                ),
                user_agent: family.user_agent,
                ip: family.ip,
            })
            .collect())
    }

    async fn revoked_families_since(&self, since: i64) -> Result<Vec<(FamilyId, i64)>, ApiError> {
        let rows: Vec<(String, Option<i64>)> = token_families::Entity::find()
            .select_only()
            .column(token_families::Column::Id)
            .column(token_families::Column::RevokedAt)
            .filter(token_families::Column::RevokedAt.gte(since))
            .into_tuple()
            .all(&self.db.read)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, at)| at.map(|at| (FamilyId::new(id), at)))
            .collect())
    }

    async fn flush_expired(
        &self,
        now: i64,
        events_before: i64,
        batch: u64,
    ) -> Result<Flushed, ApiError> {
        let mut flushed = Flushed::default();
        loop {
            let ids: Vec<i64> = outstanding_tokens::Entity::find()
                .select_only()
                .column(outstanding_tokens::Column::Id)
                .filter(outstanding_tokens::Column::ExpiresAt.lte(now))
                .order_by_asc(outstanding_tokens::Column::Id)
                .limit(batch)
                .into_tuple()
                .all(&self.db.write)
                .await?;
            if ids.is_empty() {
                break;
            }
            let txn = self.begin().await?;
            blacklisted_tokens::Entity::delete_many()
                .filter(blacklisted_tokens::Column::TokenId.is_in(ids.clone()))
                .exec(&txn)
                .await?;
            let deleted = outstanding_tokens::Entity::delete_many()
                .filter(outstanding_tokens::Column::Id.is_in(ids))
                .exec(&txn)
                .await?;
            txn.commit().await.map_err(classify)?;
            flushed.tokens += deleted.rows_affected;
        }
        loop {
            let ids: Vec<String> = token_families::Entity::find()
                .select_only()
                .column(token_families::Column::Id)
                .filter(token_families::Column::ExpiresAt.lte(now))
                .limit(batch)
                .into_tuple()
                .all(&self.db.write)
                .await?;
            if ids.is_empty() {
                break;
            }
            let deleted = token_families::Entity::delete_many()
                .filter(token_families::Column::Id.is_in(ids))
                .exec(&self.db.write)
                .await?;
            flushed.families += deleted.rows_affected;
        }
        loop {
            let ids: Vec<i64> = auth_events::Entity::find()
                .select_only()
                .column(auth_events::Column::Id)
                .filter(auth_events::Column::At.lt(events_before))
                .order_by_asc(auth_events::Column::Id)
                .limit(batch)
                .into_tuple()
                .all(&self.db.write)
                .await?;
            if ids.is_empty() {
                break;
            }
            let deleted = auth_events::Entity::delete_many()
                .filter(auth_events::Column::Id.is_in(ids))
                .exec(&self.db.write)
                .await?;
            flushed.events += deleted.rows_affected;
        }
        Ok(flushed)
    }
}
