//! Group-committed rotations for PostgreSQL.
//!
//! A rotation alone is a transaction of eight statements and a commit, each a round trip
//! to the server. Here one task per jwtd instance takes every rotation waiting in its queue
//! and commits them together in five statements: `BEGIN`, one that locks their families,
//! one that reads their tokens, families, blacklist rows and users, one that writes every
//! blacklist row, successor and family update, and `COMMIT`. One batch at a time measured
//! faster than two or four at once (the database's work per rotation falls as batches grow).
//!
//! The batch only ever commits plain rotations: a known token whose hash matches, not yet
//! blacklisted, of a live family this batch could lock, whose user is active. Everything
//! else (a refusal, a replay inside the grace window, reuse of a rotated token, a family
//! that another transaction holds or that already rotates in this batch, any database
//! error) is handed back to the caller, which runs it alone through the one-transaction
//! path after the batch has committed, where `decide_refresh` settles it exactly as for
//! any other rotation. So the rules live in one place, and the batch never waits for a
//! row lock: families are locked with `SKIP LOCKED`, in id order, so two instances' batches
//! cannot deadlock, and a family held by a long transaction does not hold up the others.
//!
//! Exactly-one-wins still rests on the family lock and on the unique
//! `blacklisted_tokens.token_id`: if the write does not insert exactly the rows planned,
//! the batch is rolled back and every rotation in it runs alone.

use std::collections::HashSet;
use std::sync::Arc;

use auth_core::{
    FamilyId, FamilyState, RefreshDecision, StoredRefresh, TokenCodec, TokenHash, decide_refresh,
};
use sea_orm::sqlx::{self, PgPool, Row};
use tokio::sync::{mpsc, oneshot};

use super::ahead::{Pending, take_waiting};
use super::{Presented, Rotated};
use crate::error::ApiError;

/// Most rotations committed together.
const MAX_BATCH: usize = 256;
/// Rotations waiting for the batch task before senders wait too.
const QUEUE: usize = 4096;

/// Locks the families of the presented tokens that no other transaction holds, in id order.
const LOCK_FAMILIES: &str = "\
    SELECT f.id FROM token_families f \
    WHERE f.id IN (SELECT o.family_id FROM outstanding_tokens o WHERE o.jti = ANY($1::text[])) \
    ORDER BY f.id \
    FOR UPDATE OF f SKIP LOCKED";

/// What is stored about each presented token, by its position (from 1) in the batch. Run
/// after `LOCK_FAMILIES`, as a statement of its own, so that it reads what was committed
/// before the locks were taken.
const READ_TOKENS: &str = "\
    SELECT p.position, o.id, o.token_hash, o.family_id, f.revoked_at IS NOT NULL, \
           f.expires_at, \
           EXISTS (SELECT 1 FROM blacklisted_tokens b WHERE b.token_id = o.id), \
           u.is_active \
    FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS p(jti, user_id, position) \
    JOIN outstanding_tokens o ON o.jti = p.jti \
    JOIN token_families f ON f.id = o.family_id \
    LEFT JOIN users u ON u.id = p.user_id";

/// Every write of the batch, and how many rows each part wrote.
const WRITE_ROTATIONS: &str = "\
    WITH blacklisted AS ( \
        INSERT INTO blacklisted_tokens (token_id, blacklisted_at, reason) \
        SELECT token_id, at, 'rotated' FROM unnest($1::bigint[], $2::bigint[]) AS r(token_id, at) \
        ON CONFLICT (token_id) DO NOTHING \
        RETURNING 1 \
    ), issued AS ( \
        INSERT INTO outstanding_tokens \
            (user_id, jti, family_id, parent_jti, token_hash, created_at, expires_at) \
        SELECT * FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], \
                             $8::bigint[], $9::bigint[]) \
        RETURNING 1 \
    ), used AS ( \
        UPDATE token_families f SET last_used_at = u.at \
        FROM unnest($5::text[], $8::bigint[]) AS u(id, at) \
        WHERE f.id = u.id \
        RETURNING 1 \
    ) \
    SELECT (SELECT COUNT(*) FROM blacklisted), (SELECT COUNT(*) FROM issued), \
           (SELECT COUNT(*) FROM used)";

/// One rotation for the batch task.
struct Job {
    rotation: Pending,
    reply: oneshot::Sender<Answer>,
}

/// What became of a rotation sent to the batch.
enum Answer {
    /// Committed: the successor to send.
    Rotated(String),
    /// Not for a batch: to run alone.
    Alone,
    /// The database could not be reached; running it alone would only wait again.
    Unavailable(ApiError),
}

/// What the batch task needs besides its pool.
struct Rules {
    codec: Arc<TokenCodec>,
    check_user_is_active: bool,
}

/// A handle to the batch task; rotations sent here are group-committed.
#[derive(Debug)]
pub struct PostgresBatcher {
    jobs: mpsc::Sender<Job>,
    codec: Arc<TokenCodec>,
}

impl PostgresBatcher {
    /// Starts the batch task on the current tokio runtime; `None` outside one. The task
    /// ends when the last handle is dropped.
    pub fn start(pool: PgPool, codec: Arc<TokenCodec>, check_user_is_active: bool) -> Option<Self> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let (jobs, queue) = mpsc::channel(QUEUE);
        let rules = Rules {
            codec: Arc::clone(&codec),
            check_user_is_active,
        };
        runtime.spawn(run(pool, queue, rules));
        Some(Self { jobs, codec })
    }

    /// Rotates a refresh token in the next batch. `Ok(None)` when the batch left it to be
    /// run alone.
    ///
    /// # Errors
    /// 503 when the database cannot be reached; signing errors.
    pub async fn rotate(
        &self,
        presented: &Presented<'_>,
        now: i64,
    ) -> Result<Option<Rotated>, ApiError> {
        let rotation = Pending::mint(&self.codec, presented, now)?;
        let (reply, answer) = oneshot::channel();
        let job = Job { rotation, reply };
        if self.jobs.send(job).await.is_err() {
            return Ok(None);
        }
        match answer.await {
            Ok(Answer::Rotated(token)) => Ok(Some(Rotated::New(token))),
            Ok(Answer::Unavailable(error)) => Err(error),
            Ok(Answer::Alone) | Err(_) => Ok(None),
        }
    }
}

/// Takes every rotation waiting, commits them, answers them; again until the last handle is
/// dropped. One batch at a time: while it commits, the next one gathers.
async fn run(pool: PgPool, mut queue: mpsc::Receiver<Job>, rules: Rules) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.recv().await {
        batch.push(first);
        take_waiting(&mut queue, &mut batch, MAX_BATCH);
        let answers = match commit_batch(&pool, &mut batch, &rules).await {
            Ok(answers) => answers,
            Err(error) => {
                let answer = unavailable_or_alone(&error);
                batch.iter().map(|_| answer()).collect()
            }
        };
        for (job, answer) in batch.drain(..).zip(answers) {
            // The requester may have gone away; its rotation stands either way.
            let _ = job.reply.send(answer);
        }
    }
}

/// After a failed batch: a pool that gave no connection in time answers 503 (as a rotation
/// alone would, after waiting as long again); any other failure leaves each rotation to run
/// alone, with its own retries.
fn unavailable_or_alone(error: &sqlx::Error) -> impl Fn() -> Answer {
    let timed_out = matches!(error, sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed);
    if !timed_out {
        tracing::warn!(error = %error, "a PostgreSQL rotation batch failed; running it rotation by rotation");
    }
    move || {
        if timed_out {
            Answer::Unavailable(ApiError::Unavailable(sea_orm::DbErr::ConnectionAcquire(
                sea_orm::ConnAcquireErr::Timeout,
            )))
        } else {
            Answer::Alone
        }
    }
}

/// What is stored about one presented token.
struct Stored {
    token_id: i64,
    token_hash: String,
    family: FamilyId,
    family_revoked: bool,
    family_expires_at: i64,
    blacklisted: bool,
    user_active: Option<bool>,
}

/// The rows the batch writes, column by column.
#[derive(Default)]
struct Writes {
    blacklisted_ids: Vec<i64>,
    blacklisted_at: Vec<i64>,
    user_ids: Vec<i64>,
    jtis: Vec<String>,
    families: Vec<String>,
    parents: Vec<String>,
    hashes: Vec<String>,
    created_at: Vec<i64>,
    expires_at: Vec<i64>,
}

/// Commits the batch's plain rotations and answers every job.
async fn commit_batch(
    pool: &PgPool,
    batch: &mut [Job],
    rules: &Rules,
) -> Result<Vec<Answer>, sqlx::Error> {
    let jtis: Vec<&str> = batch.iter().map(|job| job.rotation.jti.as_str()).collect();
    let users: Vec<i64> = batch.iter().map(|job| job.rotation.user.0).collect();
    let mut transaction = pool.begin().await?;
    let locked: HashSet<String> = unprepared(LOCK_FAMILIES)
        .bind(&jtis)
        .fetch_all(&mut *transaction)
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
    let mut stored: Vec<Option<Stored>> = batch.iter().map(|_| None).collect();
    if !locked.is_empty() {
        for row in unprepared(READ_TOKENS)
            .bind(&jtis)
            .bind(&users)
            .fetch_all(&mut *transaction)
            .await?
        {
            let position: i64 = row.try_get(0)?;
            let slot = position
                .checked_sub(1)
                .and_then(|index| usize::try_from(index).ok())
                .and_then(|index| stored.get_mut(index));
            if let Some(slot) = slot {
                *slot = Some(Stored {
                    token_id: row.try_get(1)?,
                    token_hash: row.try_get(2)?,
                    family: FamilyId::new(row.try_get::<String, _>(3)?),
                    family_revoked: row.try_get(4)?,
                    family_expires_at: row.try_get(5)?,
                    blacklisted: row.try_get(6)?,
                    user_active: row.try_get(7)?,
                });
            }
        }
    }

    let mut writes = Writes::default();
    let mut rotating: HashSet<FamilyId> = HashSet::new();
    let mut answers = Vec::with_capacity(batch.len());
    for (job, stored) in batch.iter_mut().zip(stored) {
        let answer = stored
            .filter(|stored| locked.contains(stored.family.as_str()))
            .filter(|stored| rotating.insert(stored.family.clone()))
            .and_then(|stored| plan(job, &stored, rules, &mut writes))
            .map_or(Answer::Alone, Answer::Rotated);
        answers.push(answer);
    }
    if writes.jtis.is_empty() {
        transaction.rollback().await?;
        return Ok(answers);
    }

    let row = unprepared(WRITE_ROTATIONS)
        .bind(&writes.blacklisted_ids)
        .bind(&writes.blacklisted_at)
        .bind(&writes.user_ids)
        .bind(&writes.jtis)
        .bind(&writes.families)
        .bind(&writes.parents)
        .bind(&writes.hashes)
        .bind(&writes.created_at)
        .bind(&writes.expires_at)
        .fetch_one(&mut *transaction)
        .await?;
    let written: (i64, i64, i64) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    let planned = (
        count(&writes.blacklisted_ids),
        count(&writes.jtis),
        count(&writes.jtis),
    );
    if written != planned {
        // A token was rotated by someone else after all (the unique blacklist row says so):
        // undo the batch and let each rotation find out alone.
        transaction.rollback().await?;
        tracing::warn!(
            ?written,
            ?planned,
            "a PostgreSQL rotation batch wrote other than planned; running it rotation by rotation"
        );
        return Ok(batch.iter().map(|_| Answer::Alone).collect());
    }
    transaction.commit().await?;
    Ok(answers)
}

/// A statement planned afresh on each run. A prepared statement soon runs a generic plan,
/// made once; for these array queries one made while the tables were small scans them whole
/// (measured: the server's CPU went to sequential scans of `outstanding_tokens`), and would
/// go on doing so as they grow.
fn unprepared(
    sql: &'static str,
) -> sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(sql).persistent(false)
}

fn count<T>(rows: &[T]) -> i64 {
    i64::try_from(rows.len()).unwrap_or(i64::MAX)
}

/// Adds `job`'s rotation to `writes` and returns its successor, if it is a plain rotation;
/// `None` leaves it to run alone.
fn plan(job: &mut Job, stored: &Stored, rules: &Rules, writes: &mut Writes) -> Option<String> {
    if stored.blacklisted || TokenHash::from_hex(&stored.token_hash) != Some(job.rotation.hash) {
        return None;
    }
    let user_may = match stored.user_active {
        Some(active) => active || !rules.check_user_is_active,
        None => false,
    };
    if !user_may {
        return None;
    }
    let state = StoredRefresh {
        family: FamilyState {
            revoked: stored.family_revoked,
            expires_at: stored.family_expires_at,
        },
        blacklisted: None,
        successor: None,
    };
    let settings = rules.codec.settings();
    let RefreshDecision::Rotate { successor_exp } =
        decide_refresh(&state, job.rotation.now, settings)
    else {
        return None;
    };
    let successor = job
        .rotation
        .successor(&rules.codec, &stored.family, successor_exp)
        .ok()?;
    if settings.blacklist_after_rotation {
        writes.blacklisted_ids.push(stored.token_id);
        writes.blacklisted_at.push(job.rotation.now);
    }
    writes.user_ids.push(job.rotation.user.0);
    writes.jtis.push(successor.jti.as_str().to_owned());
    writes.families.push(stored.family.as_str().to_owned());
    writes.parents.push(job.rotation.jti.as_str().to_owned());
    writes.hashes.push(successor.hash.to_hex());
    writes.created_at.push(job.rotation.now);
    writes.expires_at.push(successor.exp);
    Some(successor.token)
}
