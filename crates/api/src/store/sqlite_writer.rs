//! Group-committed rotations for SQLite.
//!
//! SQLite has one writer at a time, so rotations are serialized whatever we do; what costs
//! is each statement's trip to a driver thread and each commit. Here one thread owns a
//! write connection, takes every rotation waiting in its queue, runs them all in one
//! `BEGIN IMMEDIATE` transaction with cached prepared statements, commits once, and only
//! then answers each request.
//!
//! The writer thread is the one thing rotations queue for, so it does nothing another thread
//! can do: the successor is minted and hashed by the request's own task before it is queued
//! (and minted again by the writer only in the rare case its expiry must be capped by the end
//! of the session), and the token, its family, its blacklist row and its user are read in one
//! query. Refusals write nothing, so a batch runs without savepoints; if a job fails with a
//! database error halfway through its writes, the batch is rolled back and run again with a
//! savepoint per job, so that the failure undoes that job's writes alone.
//!
//! The rules are the same `decide_refresh` as everywhere else, and the same unique
//! `blacklisted_tokens.token_id` guards exactly-one-wins.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use auth_core::{
    BlacklistEntry, FamilyId, FamilyState, Jti, RefreshDecision, RefreshSpec, Refusal, Revocation,
    StoredRefresh, SuccessorState, TokenCodec, TokenError, TokenHash, UserId, decide_refresh,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tokio::sync::{mpsc, oneshot};

use super::ahead::{Pending, take_waiting};
use super::{Presented, Rotated, revocation_deadline};
use crate::error::ApiError;
use crate::events::{self, Client, Event, EventKind};
use crate::revocations::RevokedSessions;

/// Most rotations committed together.
const MAX_BATCH: usize = 256;
/// Rotations waiting for the writer before senders wait too.
const QUEUE: usize = 4096;

/// One rotation for the writer thread.
struct Job {
    rotation: Pending,
    client: Client,
    reply: oneshot::Sender<Result<Rotated, ApiError>>,
}

/// What the writer needs besides its connection.
struct Rules {
    codec: Arc<TokenCodec>,
    check_user_is_active: bool,
    revoked: Arc<RevokedSessions>,
    /// What the writer and the checkpointer share about the log.
    wal: Arc<WalState>,
}

/// The log's state, shared by the writer and the checkpointer.
#[derive(Debug)]
struct WalState {
    /// The log file.
    file: std::path::PathBuf,
    /// Set by the checkpointer, after a checkpoint, when the log has grown past
    /// `RESTART_FRAMES`; cleared by the writer once it has restarted the log.
    long: AtomicBool,
    /// Held by whichever of the two is checkpointing. The writer only ever tries it, so it
    /// never sleeps on the checkpointer.
    checkpointing: Mutex<()>,
}

impl WalState {
    fn new(database: &Path) -> Self {
        let mut file = database.as_os_str().to_owned();
        file.push("-wal");
        Self {
            file: file.into(),
            long: AtomicBool::new(false),
            checkpointing: Mutex::new(()),
        }
    }

    /// The log file's size; zero if it cannot be read.
    fn file_len(&self) -> u64 {
        std::fs::metadata(&self.file).map_or(0, |metadata| metadata.len())
    }
}

/// A handle to the writer thread; rotations sent here are group-committed.
#[derive(Debug)]
pub struct SqliteRotator {
    jobs: mpsc::Sender<Job>,
    codec: Arc<TokenCodec>,
}

impl SqliteRotator {
    /// Opens a write connection to the SQLite file at `path` and starts the writer thread.
    /// The thread ends when the last handle is dropped.
    ///
    /// # Errors
    /// When the database cannot be opened.
    pub fn start(
        path: &Path,
        codec: Arc<TokenCodec>,
        check_user_is_active: bool,
        revoked: Arc<RevokedSessions>,
    ) -> Result<Self, ApiError> {
        let connection = open_writer(path).map_err(sqlite_error)?;
        let checkpoints = open_checkpointer(path).map_err(sqlite_error)?;
        let (jobs, queue) = mpsc::channel(QUEUE);
        let alive = jobs.downgrade();
        let wal = Arc::new(WalState::new(path));
        let shared = Arc::clone(&wal);
        std::thread::Builder::new()
            .name("jwtd-sqlite-checkpoint".to_owned())
            .spawn(move || checkpoint_while(&checkpoints, &shared, || alive.upgrade().is_some()))
            .map_err(|error| {
                ApiError::Internal(format!("cannot start the SQLite checkpointer: {error}"))
            })?;
        let rules = Rules {
            codec: Arc::clone(&codec),
            check_user_is_active,
            revoked,
            wal,
        };
        std::thread::Builder::new()
            .name("jwtd-sqlite-writer".to_owned())
            .spawn(move || run(connection, queue, &rules))
            .map_err(|error| {
                ApiError::Internal(format!("cannot start the SQLite writer: {error}"))
            })?;
        Ok(Self { jobs, codec })
    }

    /// Rotates a refresh token; answers once the rotation is committed.
    ///
    /// # Errors
    /// As `TokenStore::rotate`; 503 if the writer is gone.
    pub async fn rotate(
        &self,
        presented: &Presented<'_>,
        client: &Client,
        now: i64,
    ) -> Result<Rotated, ApiError> {
        // Minting is the costliest step of a rotation that needs no database: do it here,
        // on the request's task, rather than on the one writer thread.
        let rotation = Pending::mint(&self.codec, presented, now)?;
        let (reply, answer) = oneshot::channel();
        let job = Job {
            rotation,
            client: client.clone(),
            reply,
        };
        let gone =
            || ApiError::Unavailable(sea_orm::DbErr::Custom("the SQLite writer stopped".into()));
        self.jobs.send(job).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// The writer's connection.
fn open_writer(path: &Path) -> rusqlite::Result<Connection> {
    let connection = Connection::open(path)?;
    connection.busy_timeout(Duration::from_secs(5))?;
    // No automatic checkpoints on this connection: a checkpoint fsyncs, and the writer
    // should not wait for the disk. The checkpointer thread does them instead, and the
    // writer only restarts the log when it has grown long (see `restart_wal`).
    connection.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
         PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 0; \
         PRAGMA cache_size = -1024; PRAGMA journal_size_limit = {WAL_SIZE_LIMIT};"
    ))?;
    connection.set_prepared_statement_cache_capacity(32);
    Ok(connection)
}

/// The checkpointer's connection.
fn open_checkpointer(path: &Path) -> rusqlite::Result<Connection> {
    let connection = Connection::open(path)?;
    connection.busy_timeout(Duration::from_secs(5))?;
    // A checkpoint reads pages once; it needs no cache of its own.
    connection.execute_batch("PRAGMA cache_size = -64;")?;
    Ok(connection)
}

/// How often the WAL is copied back into the database file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(250);

/// Log length (in pages: 16 MiB) past which the writer restarts the log from its beginning.
/// Below it, or when load leaves moments between commits, passive checkpoints suffice. A
/// restart holds the writer for the final copy and two syncs (10 to 20 ms measured under
/// the refresh benchmark); longer and shorter logs both measured worse p99 latencies.
const RESTART_FRAMES: i64 = 4096;

/// Log file size at which the writer restarts the log without waiting for the checkpointer
/// to catch up: when writes outpace checkpoints, the writer waits for them instead.
const FORCE_RESTART_BYTES: u64 = 2 * WAL_SIZE_LIMIT.unsigned_abs();

/// Bytes of log file kept after a restart (larger files are truncated to this).
const WAL_SIZE_LIMIT: i64 = 64 << 20;

/// A checkpoint this short leaves the writer little to copy when it restarts the log.
const QUICK_CHECKPOINT: Duration = Duration::from_millis(5);

/// Back-to-back checkpoints before the writer is asked to restart the log regardless.
const MAX_CATCH_UP_ROUNDS: u32 = 20;

/// Longest the writer waits for readers of old snapshots when it restarts the log; if they
/// take longer, it tries again after its next batch.
const RESTART_PATIENCE: Duration = Duration::from_millis(5);

/// Runs passive checkpoints (which never block the writer) while `alive` says so, and tells
/// the writer when to restart the log.
///
/// A passive checkpoint copies pages back but cannot restart the log while commits keep
/// coming, and a log that is only ever appended to grows without end (by gigabytes a minute
/// under load, each new page costing the file system an allocation). Restarting it needs a
/// moment with no writer, which only the writer can find without sleeping on a lock. What
/// the writer must copy first is whatever was committed since the last checkpoint began, so
/// once the log is long the checkpointer runs checkpoints back to back, each shorter than the
/// one before, and flags the log after one quick enough to leave the writer little, or after
/// `MAX_CATCH_UP_ROUNDS`. Should writes outpace the copying, the writer restarts the log by
/// itself at `FORCE_RESTART_BYTES`.
fn checkpoint_while(connection: &Connection, wal: &WalState, alive: impl Fn() -> bool) {
    let mut catching_up = 0;
    while alive() {
        if catching_up == 0 {
            std::thread::sleep(CHECKPOINT_INTERVAL);
        }
        let started = std::time::Instant::now();
        let checkpoint = {
            let _checkpointing = wal
                .checkpointing
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                row.get::<_, i64>(1)
            })
        };
        let frames = match checkpoint {
            Ok(frames) => frames,
            Err(error) => {
                tracing::warn!(error = %error, "SQLite checkpoint failed; will retry");
                catching_up = 0;
                continue;
            }
        };
        catching_up = if frames < RESTART_FRAMES || wal.long.load(Ordering::Relaxed) {
            0
        } else if started.elapsed() <= QUICK_CHECKPOINT || catching_up >= MAX_CATCH_UP_ROUNDS {
            wal.long.store(true, Ordering::Relaxed);
            0
        } else {
            catching_up + 1
        };
    }
}

/// Run by the writer between batches: restarts the log when the checkpointer has flagged it,
/// or, whatever the checkpointer is doing, once the file reaches `FORCE_RESTART_BYTES`.
/// Returns whether the log was restarted.
fn restart_wal_if_due(connection: &Connection, wal: &WalState) -> bool {
    let forced = wal.file_len() >= FORCE_RESTART_BYTES;
    (forced || wal.long.load(Ordering::Relaxed)) && restart_wal(connection, wal, forced)
}

/// Copies what the checkpointer has not yet copied, waits briefly for readers of older
/// snapshots, and has the next transaction write the log from its beginning. Unless
/// `forced`, skipped (and left for a later batch) while the checkpointer is at work. Returns
/// whether the log was restarted.
fn restart_wal(connection: &Connection, wal: &WalState, forced: bool) -> bool {
    let _checkpointing = if forced {
        wal.checkpointing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    } else {
        match wal.checkpointing.try_lock() {
            Ok(guard) => guard,
            Err(_) => return false,
        }
    };
    let restart = || -> rusqlite::Result<bool> {
        connection.busy_timeout(RESTART_PATIENCE)?;
        let busy = connection.query_row("PRAGMA wal_checkpoint(RESTART)", [], |row| {
            row.get::<_, i64>(0)
        });
        connection.busy_timeout(Duration::from_secs(5))?;
        Ok(busy? == 0)
    };
    match restart() {
        Ok(true) => {
            wal.long.store(false, Ordering::Relaxed);
            true
        }
        // Readers held on; the flag stays set and a later batch tries again.
        Ok(false) => false,
        Err(error) => {
            tracing::warn!(error = %error, "cannot restart the SQLite log; will retry");
            false
        }
    }
}

fn run(mut connection: Connection, mut queue: mpsc::Receiver<Job>, rules: &Rules) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.blocking_recv() {
        batch.push(first);
        take_waiting(&mut queue, &mut batch, MAX_BATCH);
        // A job that fails halfway may leave writes behind: run the batch again with a
        // savepoint per job, so that such a failure undoes that job alone.
        let answers = commit_batch(&mut connection, &mut batch, rules, Isolation::Shared)
            .unwrap_or_else(|| {
                commit_batch(&mut connection, &mut batch, rules, Isolation::Savepoints)
                    .unwrap_or_default()
            });
        for (job, answer) in batch.drain(..).zip(answers) {
            // The requester may have gone away; its rotation stands either way.
            let _ = job.reply.send(answer);
        }
        restart_wal_if_due(&connection, &rules.wal);
    }
}

/// How the jobs of one batch are kept apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Isolation {
    /// All in the batch's transaction: any failure rolls the whole batch back.
    Shared,
    /// Each in a savepoint of its own: a failure rolls back that job alone.
    Savepoints,
}

/// One rotation's outcome, committed with its batch. Refusals write nothing, except the
/// revocation of a family whose rotated token was reused.
enum Outcome {
    Issued(Rotated),
    Refused(ApiError),
}

/// Runs every job in one transaction and returns each answer; if the commit fails, every
/// job is answered 503 and nothing was written. With `Isolation::Shared`, `None` when a job
/// failed: the batch was rolled back and nothing was written.
fn commit_batch(
    connection: &mut Connection,
    batch: &mut [Job],
    rules: &Rules,
    isolation: Isolation,
) -> Option<Vec<Result<Rotated, ApiError>>> {
    let unavailable =
        |error: &rusqlite::Error| ApiError::Unavailable(sea_orm::DbErr::Custom(error.to_string()));
    let mut transaction = match connection.transaction_with_behavior(TransactionBehavior::Immediate)
    {
        Ok(transaction) => transaction,
        Err(error) => {
            tracing::warn!(error = %error, "cannot begin a rotation batch");
            return Some(batch.iter().map(|_| Err(unavailable(&error))).collect());
        }
    };
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut revoked = Vec::new();
    for job in batch.iter_mut() {
        let outcome = match isolation {
            Isolation::Shared => match rotate_one(&transaction, job, rules, &mut revoked) {
                Ok(outcome) => Ok(outcome),
                // Dropping the transaction rolls the batch back.
                Err(_) => return None,
            },
            Isolation::Savepoints => in_savepoint(&mut transaction, job, rules, &mut revoked),
        };
        outcomes.push(outcome);
    }
    if let Err(error) = transaction.commit() {
        tracing::warn!(error = %error, "cannot commit a rotation batch");
        return Some(batch.iter().map(|_| Err(unavailable(&error))).collect());
    }
    if let Some(now) = batch.first().map(|job| job.rotation.now) {
        let until = revocation_deadline(rules.codec.settings(), now);
        for family in revoked {
            rules.revoked.revoke(family, until);
        }
    }
    Some(
        outcomes
            .into_iter()
            .map(|outcome| match outcome {
                Ok(Outcome::Issued(rotated)) => Ok(rotated),
                Ok(Outcome::Refused(error)) | Err(error) => Err(error),
            })
            .collect(),
    )
}

/// Runs one job in a savepoint, rolled back if the job fails.
fn in_savepoint(
    transaction: &mut rusqlite::Transaction<'_>,
    job: &mut Job,
    rules: &Rules,
    revoked: &mut Vec<FamilyId>,
) -> Result<Outcome, ApiError> {
    let mut savepoint = transaction.savepoint().map_err(sqlite_error)?;
    let mut revoked_here = Vec::new();
    match rotate_one(&savepoint, job, rules, &mut revoked_here) {
        Ok(outcome) => {
            savepoint.commit().map_err(sqlite_error)?;
            revoked.append(&mut revoked_here);
            Ok(outcome)
        }
        Err(error) => {
            // Undo this rotation's partial writes only.
            let _ = savepoint.rollback();
            Err(error)
        }
    }
}

/// What is stored about a presented token, read in one query.
struct Loaded {
    id: i64,
    token_hash: String,
    family: FamilyId,
    family_revoked: bool,
    family_expires_at: i64,
    blacklisted: Option<BlacklistEntry>,
    /// Whether the user the token names exists and is active.
    user_active: Option<bool>,
}

fn load(connection: &Connection, jti: &Jti, user: UserId) -> Result<Option<Loaded>, ApiError> {
    let mut statement = connection
        .prepare_cached(
            "SELECT o.id, o.token_hash, o.family_id, f.revoked_at, f.expires_at, \
                    b.reason, b.blacklisted_at, u.is_active \
             FROM outstanding_tokens o \
             JOIN token_families f ON f.id = o.family_id \
             LEFT JOIN blacklisted_tokens b ON b.token_id = o.id \
             LEFT JOIN users u ON u.id = ?2 \
             WHERE o.jti = ?1",
        )
        .map_err(sqlite_error)?;
    statement
        .query_row(params![jti.as_str(), user.0], |row| {
            let reason: Option<String> = row.get(5)?;
            let at: Option<i64> = row.get(6)?;
            Ok(Loaded {
                id: row.get(0)?,
                token_hash: row.get(1)?,
                family: FamilyId::new(row.get::<_, String>(2)?),
                family_revoked: row.get::<_, Option<i64>>(3)?.is_some(),
                family_expires_at: row.get(4)?,
                blacklisted: reason.zip(at).map(|(reason, at)| BlacklistEntry {
                    reason: Revocation::parse(&reason),
                    at,
                }),
                user_active: row.get(7)?,
            })
        })
        .optional()
        .map_err(sqlite_error)
}

/// The stored successor of a rotated token: its row and whether it is blacklisted.
struct Successor {
    jti: Jti,
    issued_at: i64,
    expires_at: i64,
    token_hash: String,
    blacklisted: bool,
}

/// A token that was rotated (and so blacklisted) has exactly one child in its family.
fn successor(
    connection: &Connection,
    family: &FamilyId,
    parent: &Jti,
) -> Result<Option<Successor>, ApiError> {
    let mut statement = connection
        .prepare_cached(
            "SELECT s.jti, s.created_at, s.expires_at, s.token_hash, \
                    EXISTS (SELECT 1 FROM blacklisted_tokens b WHERE b.token_id = s.id) \
             FROM outstanding_tokens s WHERE s.family_id = ?1 AND s.parent_jti = ?2 \
             ORDER BY s.id LIMIT 1",
        )
        .map_err(sqlite_error)?;
    statement
        .query_row(params![family.as_str(), parent.as_str()], |row| {
            Ok(Successor {
                jti: Jti::new(row.get::<_, String>(0)?),
                issued_at: row.get(1)?,
                expires_at: row.get(2)?,
                token_hash: row.get(3)?,
                blacklisted: row.get(4)?,
            })
        })
        .optional()
        .map_err(sqlite_error)
}

/// Carries out `decide_refresh` for one job. Refusals are `Ok(Outcome::Refused)`; an error
/// is a failure of the database (or of signing), after which the job's writes may be half
/// done.
fn rotate_one(
    connection: &Connection,
    job: &mut Job,
    rules: &Rules,
    revoked: &mut Vec<FamilyId>,
) -> Result<Outcome, ApiError> {
    let refuse = |error: ApiError| Ok(Outcome::Refused(error));
    let settings = rules.codec.settings();
    let Some(loaded) = load(connection, &job.rotation.jti, job.rotation.user)? else {
        return refuse(TokenError::Invalid.into());
    };
    if TokenHash::from_hex(&loaded.token_hash) != Some(job.rotation.hash) {
        return refuse(TokenError::Invalid.into());
    }
    let next = match loaded.blacklisted {
        Some(entry) if entry.reason == Revocation::Rotated => {
            successor(connection, &loaded.family, &job.rotation.jti)?
        }
        _ => None,
    };
    let stored = StoredRefresh {
        family: FamilyState {
            revoked: loaded.family_revoked,
            expires_at: loaded.family_expires_at,
        },
        blacklisted: loaded.blacklisted,
        successor: next.as_ref().map(|next| SuccessorState {
            jti: next.jti.clone(),
            issued_at: next.issued_at,
            expires_at: next.expires_at,
            blacklisted: next.blacklisted,
        }),
    };
    let decision = decide_refresh(&stored, job.rotation.now, settings);
    let user_refused = match loaded.user_active {
        Some(active) => !active && rules.check_user_is_active,
        None => true,
    };
    if user_refused
        && matches!(
            decision,
            RefreshDecision::Rotate { .. } | RefreshDecision::ReplaySuccessor
        )
    {
        return refuse(ApiError::NoAccountForToken);
    }
    match decision {
        RefreshDecision::Reject(error) => refuse(error.into()),
        RefreshDecision::RevokeFamily => {
            revoke_family(
                connection,
                &loaded.family,
                Revocation::ReuseDetected,
                job.rotation.now,
            )?;
            revoked.push(loaded.family.clone());
            let event = Event {
                kind: EventKind::ReuseDetected,
                user: Some(job.rotation.user),
                username: None,
                family: Some(&loaded.family),
                client: &job.client,
                at: job.rotation.now,
            };
            record_event(connection, &event)?;
            refuse(TokenError::Blacklisted(Refusal::ReuseDetected).into())
        }
        RefreshDecision::ReplaySuccessor => {
            let next =
                next.ok_or_else(|| ApiError::Internal("grace replay without successor".into()))?;
            let token = rules.codec.mint_refresh(&RefreshSpec {
                jti: &next.jti,
                user: job.rotation.user,
                family: &loaded.family,
                iat: next.issued_at,
                exp: next.expires_at,
            })?;
            // The re-minted successor must be the very token issued the first time; if not
            // (the signing key changed since), it is of no use to the client.
            if TokenHash::from_hex(&next.token_hash) != Some(TokenHash::of(&token)) {
                return refuse(TokenError::Invalid.into());
            }
            Ok(Outcome::Issued(Rotated::Replayed(token)))
        }
        RefreshDecision::Rotate { successor_exp } => {
            if settings.blacklist_after_rotation {
                let inserted = connection
                    .prepare_cached(
                        "INSERT INTO blacklisted_tokens (token_id, blacklisted_at, reason) \
                         VALUES (?1, ?2, 'rotated') ON CONFLICT (token_id) DO NOTHING",
                    )
                    .and_then(|mut statement| {
                        statement.execute(params![loaded.id, job.rotation.now])
                    })
                    .map_err(sqlite_error)?;
                if inserted != 1 {
                    // Unreachable with one writer; the unique constraint is the last guard.
                    return refuse(ApiError::Unavailable(sea_orm::DbErr::Custom(
                        "concurrent rotation".into(),
                    )));
                }
            }
            let successor = job
                .rotation
                .successor(&rules.codec, &loaded.family, successor_exp)?;
            connection
                .prepare_cached(
                    "INSERT INTO outstanding_tokens \
                     (user_id, jti, family_id, parent_jti, token_hash, created_at, expires_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .and_then(|mut statement| {
                    statement.execute(params![
                        job.rotation.user.0,
                        successor.jti.as_str(),
                        loaded.family.as_str(),
                        job.rotation.jti.as_str(),
                        successor.hash.to_hex(),
                        job.rotation.now,
                        successor.exp,
                    ])
                })
                .map_err(sqlite_error)?;
            connection
                .prepare_cached("UPDATE token_families SET last_used_at = ?1 WHERE id = ?2")
                .and_then(|mut statement| {
                    statement.execute(params![job.rotation.now, loaded.family.as_str()])
                })
                .map_err(sqlite_error)?;
            Ok(Outcome::Issued(Rotated::New(successor.token)))
        }
    }
}

/// Marks a family revoked and blacklists every one of its tokens not yet blacklisted.
fn revoke_family(
    connection: &Connection,
    family: &FamilyId,
    reason: Revocation,
    now: i64,
) -> Result<(), ApiError> {
    connection
        .prepare_cached(
            "UPDATE token_families SET revoked_at = ?1, revoke_reason = ?2 \
             WHERE id = ?3 AND revoked_at IS NULL",
        )
        .and_then(|mut statement| statement.execute(params![now, reason.as_str(), family.as_str()]))
        .map_err(sqlite_error)?;
    connection
        .prepare_cached(
            "INSERT INTO blacklisted_tokens (token_id, blacklisted_at, reason) \
             SELECT o.id, ?1, ?2 FROM outstanding_tokens o \
             WHERE o.family_id = ?3 \
               AND NOT EXISTS (SELECT 1 FROM blacklisted_tokens b WHERE b.token_id = o.id)",
        )
        .and_then(|mut statement| statement.execute(params![now, reason.as_str(), family.as_str()]))
        .map_err(sqlite_error)?;
    Ok(())
}

fn record_event(connection: &Connection, event: &Event<'_>) -> Result<(), ApiError> {
    events::log(event);
    connection
        .prepare_cached(
            "INSERT INTO auth_events (at, kind, user_id, username, family_id, ip, user_agent) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .and_then(|mut statement| {
            statement.execute(params![
                event.at,
                event.kind.as_str(),
                event.user.map(|user| user.0),
                event.username,
                event.family.map(FamilyId::as_str),
                event.client.ip.as_deref(),
                event.client.user_agent.as_deref(),
            ])
        })
        .map_err(sqlite_error)?;
    Ok(())
}

/// Busy and locked databases are transient (503, safe to retry); anything else is a 500.
fn sqlite_error(error: rusqlite::Error) -> ApiError {
    let transient = matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    );
    let error = sea_orm::DbErr::Custom(format!("sqlite: {error}"));
    if transient {
        ApiError::Unavailable(error)
    } else {
        ApiError::Database(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Under writes that never pause, the log is restarted and stays near its size limit
    /// instead of growing with everything written.
    #[test]
    fn under_sustained_writes_the_log_is_restarted_and_stays_bounded() {
        let dir = std::env::temp_dir().join(format!(
            "jwtd-wal-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("wal.db");
        let writer = open_writer(&path).unwrap();
        writer
            .execute_batch("CREATE TABLE pages (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
            .unwrap();
        let checkpoints = open_checkpointer(&path).unwrap();
        let wal = Arc::new(WalState::new(&path));
        let stop = Arc::new(AtomicBool::new(false));
        let checkpointer = {
            let (wal, stop) = (Arc::clone(&wal), Arc::clone(&stop));
            std::thread::spawn(move || {
                checkpoint_while(&checkpoints, &wal, || !stop.load(Ordering::Relaxed));
            })
        };
        let body = vec![7_u8; 4000];
        let (mut written, mut longest, mut restarts) = (0_u64, 0_u64, 0);
        // Four times the size limit, one page per row, 64 rows per transaction.
        while written < 4 * WAL_SIZE_LIMIT.unsigned_abs() {
            writer.execute_batch("BEGIN IMMEDIATE").unwrap();
            for _ in 0..64 {
                writer
                    .execute("INSERT INTO pages (body) VALUES (?1)", params![body])
                    .unwrap();
            }
            writer.execute_batch("COMMIT").unwrap();
            written += 64 * 4096;
            longest = longest.max(wal.file_len());
            restarts += u32::from(restart_wal_if_due(&writer, &wal));
        }
        stop.store(true, Ordering::Relaxed);
        checkpointer.join().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(restarts > 0, "the log was never restarted");
        assert!(
            longest <= FORCE_RESTART_BYTES + 64 * 4096 + 4096,
            "the log reached {longest} bytes after {written} written"
        );
    }
}
