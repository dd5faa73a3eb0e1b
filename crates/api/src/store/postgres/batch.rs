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
//! path after the batch has committed. Each job is settled by the same `auth_core::decide` as
//! everywhere else, and only a plain `Rotate` is batched. So the rules live in one place, and the batch never waits for a
//! row lock: families are locked with `SKIP LOCKED`, in id order, so two instances' batches
//! cannot deadlock, and a family held by a long transaction does not hold up the others.
//!
//! Exactly-one-wins still rests on the family lock and on the unique
//! `blacklisted_tokens.token_id`: if the write does not insert exactly the rows planned,
//! the batch is rolled back and every rotation in it runs alone.

use std::collections::HashSet;
use std::sync::Arc;

use auth_core::{
    Decision, FamilyId, FamilyState, Plan, RotationRules, Stored, TokenCodec, Use, UserState,
    decide,
};
use sea_orm::sqlx::{self, PgPool, Row};
use tokio::sync::{mpsc, oneshot};

use crate::store::ahead::{Minted, Pending, take_waiting};
use crate::store::{Presented, Start, StoreError, stored_hash, successor_for};

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
            (user_id, jti, family_id, parent_jti, token_hash, created_at, expires_at, \
             client_mark) \
        SELECT * FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], \
                             $8::bigint[], $9::bigint[], $10::text[]) \
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
    Unavailable(StoreError),
}

/// What the batch task needs besides its pool.
struct Rules {
    codec: Arc<TokenCodec>,
    rules: RotationRules,
}

/// A handle to the batch task; rotations sent here are group-committed.
#[derive(Debug)]
pub struct PostgresBatcher {
    jobs: mpsc::Sender<Job>,
}

impl PostgresBatcher {
    /// A batcher over `pool`. Starts nothing: the returned function spawns the batch task
    /// on the current tokio runtime; it ends when the last handle is dropped.
    pub fn new(pool: PgPool, codec: Arc<TokenCodec>, rules: RotationRules) -> (Self, Start) {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let rules = Rules { codec, rules };
        let start = move || {
            let runtime = tokio::runtime::Handle::try_current().map_err(|error| {
                StoreError::Internal(format!("cannot start the PostgreSQL batch: {error}"))
            })?;
            runtime.spawn(run(pool, queue, rules));
            Ok(())
        };
        (Self { jobs }, Box::new(start))
    }

    /// Rotates a refresh token in the next batch. `Err` hands back the successor minted
    /// ahead when the batch left the rotation to be run alone.
    ///
    /// # Errors
    /// 503 when the database cannot be reached.
    pub async fn rotate(
        &self,
        presented: &Presented<'_>,
        successor: Option<Minted>,
        now: i64,
    ) -> Result<Result<String, Option<Minted>>, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            rotation: Pending::new(presented, successor, now),
            reply,
        };
        if let Err(refused) = self.jobs.send(job).await {
            return Ok(Err(refused.0.rotation.successor));
        }
        match answer.await {
            Ok(Answer::Rotated(token)) => Ok(Ok(token)),
            Ok(Answer::Unavailable(error)) => Err(error),
            // The successor minted ahead was used up by a batch that did not commit, or is
            // not worth a second trip; the path alone mints its own.
            Ok(Answer::Alone) | Err(_) => Ok(Err(None)),
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
        crate::metrics::record_batch_size(batch.len());
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
            Answer::Unavailable(StoreError::Unavailable(sea_orm::DbErr::ConnectionAcquire(
                sea_orm::ConnAcquireErr::Timeout,
            )))
        } else {
            Answer::Alone
        }
    }
}

/// What is stored about one presented token, as the batch reads it.
struct Loaded {
    token_id: i64,
    stored: Stored,
    /// Blacklisted: never a plain rotation, so never for the batch.
    blacklisted: bool,
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
    client_marks: Vec<String>,
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
    let mut stored: Vec<Option<Loaded>> = batch.iter().map(|_| None).collect();
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
                *slot = Some(Loaded {
                    token_id: row.try_get(1)?,
                    stored: Stored {
                        hash: stored_hash(&row.try_get::<String, _>(2)?),
                        family_id: FamilyId::new(row.try_get::<String, _>(3)?),
                        family: FamilyState {
                            revoked: row.try_get(4)?,
                            expires_at: row.try_get(5)?,
                        },
                        blacklisted: None,
                        successor: None,
                        user: UserState::from_active(row.try_get(7)?),
                    },
                    blacklisted: row.try_get(6)?,
                });
            }
        }
    }

    let mut writes = Writes::default();
    let mut rotating: HashSet<FamilyId> = HashSet::new();
    let mut answers = Vec::with_capacity(batch.len());
    for (job, stored) in batch.iter_mut().zip(stored) {
        let answer = stored
            .filter(|loaded| locked.contains(loaded.stored.family_id.as_str()))
            .filter(|loaded| rotating.insert(loaded.stored.family_id.clone()))
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
        .bind(&writes.client_marks)
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

/// Adds `job`'s rotation to `writes` and returns its successor, if `decide` makes it a plain
/// rotation; `None` leaves it to run alone.
fn plan(job: &mut Job, loaded: &Loaded, rules: &Rules, writes: &mut Writes) -> Option<String> {
    if loaded.blacklisted {
        return None;
    }
    let rotation = &mut job.rotation;
    let stored = &loaded.stored;
    let decision = decide(
        Use::Rotate,
        &rotation.presented(),
        Some(stored),
        rotation.now,
        &rules.rules,
    );
    let Decision::Rotate { .. } = decision else {
        return None;
    };
    let Plan {
        blacklist, issue, ..
    } = decision.plan(stored, &rules.rules);
    let successor = successor_for(
        &rules.codec,
        rotation.successor.take(),
        rotation.user,
        &stored.family_id,
        rotation.now,
        issue?,
    )
    .ok()?;
    if blacklist.is_some() {
        writes.blacklisted_ids.push(loaded.token_id);
        writes.blacklisted_at.push(rotation.now);
    }
    writes.user_ids.push(rotation.user.0);
    writes.jtis.push(successor.jti.as_str().to_owned());
    writes.families.push(stored.family_id.as_str().to_owned());
    writes.parents.push(rotation.jti.as_str().to_owned());
    writes.hashes.push(successor.hash.to_hex());
    writes.created_at.push(rotation.now);
    writes.expires_at.push(successor.exp);
    writes.client_marks.push(rotation.client.to_hex());
    Some(successor.token)
}
