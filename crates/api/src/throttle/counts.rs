//! The shared login counters: one atomic "count one more in this window" per subject, in
//! the database's `login_attempts` table, or in Redis when it is configured (falling back to
//! the database while Redis cannot be reached, so that an outage opens no door).

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use tokio::sync::Mutex;

use crate::db::Database;
use crate::store::StoreError;

/// How long one Redis operation or connection attempt may take before the database is
/// used instead.
const REDIS_TIMEOUT: Duration = Duration::from_secs(1);

/// Prefix of the Redis keys.
const REDIS_PREFIX: &str = "jwtd:login:";

/// Where the counts live.
pub(super) struct Counts {
    db: Database,
    redis: Option<RedisCounts>,
}

struct RedisCounts {
    client: redis::Client,
    connection: Mutex<Option<MultiplexedConnection>>,
}

impl Counts {
    pub(super) fn new(db: Database, redis: Option<redis::Client>) -> Self {
        Self {
            db,
            redis: redis.map(|client| RedisCounts {
                client,
                connection: Mutex::new(None),
            }),
        }
    }

    /// Counts one more for `subject` in a window of `window` seconds that starts with its
    /// first count; returns the count so far in the window and when the window ends.
    pub(super) async fn hit(
        &self,
        subject: &str,
        window: i64,
        now: i64,
    ) -> Result<(u64, i64), StoreError> {
        if let Some(redis) = &self.redis {
            match redis.hit(subject, window, now).await {
                Ok(counted) => return Ok(counted),
                Err(error) => {
                    tracing::warn!(%error, "cannot count a login attempt in Redis; counting it in the database");
                }
            }
        }
        hit_in_database(&self.db, subject, window, now).await
    }

    /// Forgets `subject`'s count.
    pub(super) async fn clear(&self, subject: &str) -> Result<(), StoreError> {
        if let Some(redis) = &self.redis
            && let Err(error) = redis.clear(subject).await
        {
            tracing::warn!(%error, "cannot clear a login count in Redis");
        }
        // Also in the database: a count made there while Redis was down must go too.
        let backend = self.db.backend();
        let sql = format!(
            "DELETE FROM login_attempts WHERE subject = {}",
            placeholder(backend, 1)
        );
        self.db
            .write
            .execute_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [subject.into()],
            ))
            .await?;
        Ok(())
    }
}

/// The `n`th bind parameter in `backend`'s syntax.
fn placeholder(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        DbBackend::Sqlite => format!("?{n}"),
        _ => "?".to_owned(),
    }
}

/// `INSERT .. ON CONFLICT` (PostgreSQL, SQLite) or `ON DUPLICATE KEY UPDATE` (MySQL): the
/// row's count goes up by one, or starts again at one when its window has ended.
async fn hit_in_database(
    db: &Database,
    subject: &str,
    window: i64,
    now: i64,
) -> Result<(u64, i64), StoreError> {
    let backend = db.backend();
    let ends = now.saturating_add(window);
    let row = if backend == DbBackend::MySql {
        // MySQL has no RETURNING: the count is read back in the same transaction. Its
        // assignments run left to right, so `attempts` is set while `expires_at` is still
        // the old one.
        let txn = db.write.begin().await?;
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            "INSERT INTO login_attempts (subject, expires_at, attempts) VALUES (?, ?, 1) \
             ON DUPLICATE KEY UPDATE \
             attempts = IF(expires_at <= ?, 1, attempts + 1), \
             expires_at = IF(expires_at <= ?, ?, expires_at)",
            [
                subject.into(),
                ends.into(),
                now.into(),
                now.into(),
                ends.into(),
            ],
        ))
        .await?;
        let row = txn
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                "SELECT attempts, expires_at FROM login_attempts WHERE subject = ?",
                [subject.into()],
            ))
            .await?;
        txn.commit().await?;
        row
    } else {
        let p = |n| placeholder(backend, n);
        let sql = format!(
            "INSERT INTO login_attempts (subject, expires_at, attempts) VALUES ({}, {}, 1) \
             ON CONFLICT (subject) DO UPDATE SET \
             attempts = CASE WHEN login_attempts.expires_at <= {now} THEN 1 \
                        ELSE login_attempts.attempts + 1 END, \
             expires_at = CASE WHEN login_attempts.expires_at <= {now} THEN {ends} \
                          ELSE login_attempts.expires_at END \
             RETURNING attempts, expires_at",
            p(1),
            p(2),
            now = p(3),
            ends = p(2),
        );
        db.write
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [subject.into(), ends.into(), now.into()],
            ))
            .await?
    };
    let row = row.ok_or_else(|| StoreError::Internal("the login count was not written".into()))?;
    let attempts: i64 = row.try_get_by_index(0)?;
    let expires_at: i64 = row.try_get_by_index(1)?;
    Ok((u64::try_from(attempts).unwrap_or(0), expires_at))
}

impl RedisCounts {
    async fn connection(&self) -> redis::RedisResult<MultiplexedConnection> {
        let mut held = self.connection.lock().await;
        if let Some(connection) = held.as_ref() {
            return Ok(connection.clone());
        }
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT));
        let connection = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        *held = Some(connection.clone());
        Ok(connection)
    }

    /// Forgets the connection after a failure, so that the next call reconnects.
    async fn forget(&self) {
        *self.connection.lock().await = None;
    }

    /// `SET key 0 EX window NX`, `INCR`, `TTL`, atomically: the window starts with the first
    /// count and Redis expires it.
    async fn hit(&self, subject: &str, window: i64, now: i64) -> redis::RedisResult<(u64, i64)> {
        let key = format!("{REDIS_PREFIX}{subject}");
        let mut connection = self.connection().await?;
        let answer: redis::RedisResult<(u64, i64)> = redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(&key)
            .arg(0)
            .arg("EX")
            .arg(window.max(1))
            .arg("NX")
            .ignore()
            .cmd("INCR")
            .arg(&key)
            .cmd("TTL")
            .arg(&key)
            .query_async(&mut connection)
            .await;
        match answer {
            Ok((attempts, ttl)) => Ok((attempts, now.saturating_add(ttl.max(1)))),
            Err(error) => {
                self.forget().await;
                Err(error)
            }
        }
    }

    async fn clear(&self, subject: &str) -> redis::RedisResult<()> {
        let key = format!("{REDIS_PREFIX}{subject}");
        let mut connection = self.connection().await?;
        let answer: redis::RedisResult<()> = redis::cmd("DEL")
            .arg(&key)
            .query_async(&mut connection)
            .await;
        if answer.is_err() {
            self.forget().await;
        }
        answer
    }
}
