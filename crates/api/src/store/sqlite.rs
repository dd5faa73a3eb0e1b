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
//! The rules are `auth_core::decide`, as for every engine; this one loads, decides and applies
//! the plan (`queries.rs`), and the same unique `blacklisted_tokens.token_id` guards
//! exactly-one-wins. Logouts go through the same queue. The log's checkpoints are `wal.rs`.

mod queries;
mod wal;

use std::path::Path;
use std::sync::Arc;

use auth_core::{Decision, RotationRules, TokenCodec, Use, decide};
use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use self::queries::{Target, sqlite_error};
use self::wal::{WalState, checkpoint_while, open_checkpointer, open_writer, restart_wal_if_due};
use super::ahead::{Minted, Pending, take_waiting};
use super::{Outcome, Presented, Report, StoreError, settled, successor_for};
use crate::events::Client;

/// Most rotations committed together.
const MAX_BATCH: usize = 256;
/// Rotations waiting for the writer before senders wait too.
const QUEUE: usize = 4096;

/// What a job is answered.
type Answer = Result<(Outcome, Report), StoreError>;

/// One rotation or logout for the writer thread.
struct Job {
    use_: Use,
    rotation: Pending,
    client: Client,
    reply: oneshot::Sender<Answer>,
}

/// What the writer needs besides its connection.
struct Rules {
    codec: Arc<TokenCodec>,
    rules: RotationRules,
    /// What the writer and the checkpointer share about the log.
    wal: Arc<WalState>,
}

/// A handle to the writer thread; rotations sent here are group-committed.
#[derive(Debug)]
pub struct SqliteRotator {
    jobs: mpsc::Sender<Job>,
}

impl SqliteRotator {
    /// Opens the writer's and the checkpointer's connections to the SQLite file at `path`.
    /// Starts nothing: the returned function starts the two threads, which end when the last
    /// handle is dropped.
    ///
    /// # Errors
    /// When the database cannot be opened, naming it.
    pub fn open(
        path: &Path,
        codec: Arc<TokenCodec>,
        rules: RotationRules,
    ) -> Result<(Self, super::Start), StoreError> {
        let cannot_open = |error: rusqlite::Error| {
            StoreError::Internal(format!(
                "cannot open the SQLite rotation writer on {}: {error}",
                path.display()
            ))
        };
        let connection = open_writer(path).map_err(cannot_open)?;
        let checkpoints = open_checkpointer(path).map_err(cannot_open)?;
        let (jobs, queue) = mpsc::channel(QUEUE);
        let alive = jobs.downgrade();
        let wal = Arc::new(WalState::new(path));
        let rules = Rules {
            codec,
            rules,
            wal: Arc::clone(&wal),
        };
        let start = move || {
            let cannot_start = |what: &str, error: std::io::Error| {
                StoreError::Internal(format!("cannot start the SQLite {what}: {error}"))
            };
            std::thread::Builder::new()
                .name("jwtd-sqlite-checkpoint".to_owned())
                .spawn(move || {
                    checkpoint_while(&checkpoints, &wal, || alive.upgrade().is_some());
                })
                .map_err(|error| cannot_start("checkpointer", error))?;
            std::thread::Builder::new()
                .name("jwtd-sqlite-writer".to_owned())
                .spawn(move || run(connection, queue, &rules))
                .map_err(|error| cannot_start("writer", error))?;
            Ok(())
        };
        Ok((Self { jobs }, Box::new(start)))
    }

    /// Rotates or logs out with a refresh token; answers once the change is committed.
    ///
    /// # Errors
    /// As `TokenStore::present`; 503 if the writer is gone.
    pub async fn present(
        &self,
        use_: Use,
        presented: &Presented<'_>,
        successor: Option<Minted>,
        client: &Client,
        now: i64,
    ) -> Answer {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            use_,
            rotation: Pending::new(presented, successor, now),
            client: client.clone(),
            reply,
        };
        let gone =
            || StoreError::Unavailable(sea_orm::DbErr::Custom("the SQLite writer stopped".into()));
        self.jobs.send(job).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

fn run(mut connection: Connection, mut queue: mpsc::Receiver<Job>, rules: &Rules) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.blocking_recv() {
        batch.push(first);
        take_waiting(&mut queue, &mut batch, MAX_BATCH);
        crate::metrics::record_batch_size(batch.len());
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

/// Runs every job in one transaction and returns each answer; if the commit fails, every
/// job is answered 503 and nothing was written. With `Isolation::Shared`, `None` when a job
/// failed: the batch was rolled back and nothing was written.
fn commit_batch(
    connection: &mut Connection,
    batch: &mut [Job],
    rules: &Rules,
    isolation: Isolation,
) -> Option<Vec<Answer>> {
    let unavailable = |error: &rusqlite::Error| {
        StoreError::Unavailable(sea_orm::DbErr::Custom(error.to_string()))
    };
    let mut transaction = match connection.transaction_with_behavior(TransactionBehavior::Immediate)
    {
        Ok(transaction) => transaction,
        Err(error) => {
            tracing::warn!(error = %error, "cannot begin a rotation batch");
            return Some(batch.iter().map(|_| Err(unavailable(&error))).collect());
        }
    };
    let mut answers = Vec::with_capacity(batch.len());
    for job in batch.iter_mut() {
        let answer = match isolation {
            Isolation::Shared => match present_one(&transaction, job, rules) {
                Ok(answer) => Ok(answer),
                // Dropping the transaction rolls the batch back.
                Err(_) => return None,
            },
            Isolation::Savepoints => in_savepoint(&mut transaction, job, rules),
        };
        answers.push(answer);
    }
    if let Err(error) = transaction.commit() {
        tracing::warn!(error = %error, "cannot commit a rotation batch");
        return Some(batch.iter().map(|_| Err(unavailable(&error))).collect());
    }
    Some(answers)
}

/// Runs one job in a savepoint, rolled back if the job fails.
fn in_savepoint(
    transaction: &mut rusqlite::Transaction<'_>,
    job: &mut Job,
    rules: &Rules,
) -> Answer {
    let mut savepoint = transaction.savepoint().map_err(sqlite_error)?;
    match present_one(&savepoint, job, rules) {
        Ok(answer) => {
            savepoint.commit().map_err(sqlite_error)?;
            Ok(answer)
        }
        Err(error) => {
            // Undo this job's partial writes only.
            let _ = savepoint.rollback();
            Err(error)
        }
    }
}

/// Loads, decides and applies one job. An error is a failure of the database (or of
/// signing), after which the job's writes may be half done.
fn present_one(connection: &Connection, job: &mut Job, rules: &Rules) -> Answer {
    let rotation = &mut job.rotation;
    let presented = rotation.presented();
    let loaded = queries::load(connection, &rotation.jti, rotation.user)?;
    let Some((token_id, mut stored)) = loaded else {
        let decision = decide(job.use_, &presented, None, rotation.now, &rules.rules);
        return Ok((settled(&decision), Report::default()));
    };
    if stored.needs_successor() {
        stored.successor = queries::successor(connection, &stored.family_id, &rotation.jti)?;
    }
    let decision = decide(
        job.use_,
        &presented,
        Some(&stored),
        rotation.now,
        &rules.rules,
    );
    let plan = decision.plan(&stored, &rules.rules);
    let successor = match plan.issue {
        Some(exp) => Some(successor_for(
            &rules.codec,
            rotation.successor.take(),
            rotation.user,
            &stored.family_id,
            rotation.now,
            exp,
        )?),
        None => None,
    };
    let target = Target {
        token_id,
        jti: &rotation.jti,
        family: &stored.family_id,
        user: rotation.user,
        now: rotation.now,
        client: &job.client,
        mark: rotation.client,
    };
    if !queries::apply(connection, &plan, &target, successor.as_ref())? {
        return Err(StoreError::Unavailable(sea_orm::DbErr::Custom(
            "concurrent rotation".into(),
        )));
    }
    let report = Report::of_plan(&plan, &stored.family_id);
    let outcome = match (decision, successor) {
        (_, Some(successor)) => Outcome::Issued(successor.token),
        (Decision::Replay(next), None) => Outcome::Replay(next, stored.family_id),
        (decision, None) => settled(&decision),
    };
    Ok((outcome, report))
}
