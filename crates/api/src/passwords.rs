//! Password hashing off the async runtime, on a fixed pool of argon2 threads.
//!
//! Each thread owns at most one `Argon2Memory`, reused for every hash while jobs keep coming
//! and released as soon as the queue is empty, so hashing memory is bounded by threads × the
//! argon2 cost under load and is zero at rest. The buffer is one allocation of the same size
//! every time, which the allocator serves from a fresh mapping and returns to the system on
//! release. (Running argon2 in `spawn_blocking` instead left each of tokio's blocking threads
//! holding its own freed 19 MiB in the allocator: hundreds of MiB of RSS.)

use std::sync::{Arc, Mutex, PoisonError, TryLockError};

use auth_core::{Argon2Memory, PasswordError, PasswordHasher};
use tokio::sync::{mpsc, oneshot};

use crate::error::ApiError;

/// Hashes waiting for a thread, beyond which callers wait to enqueue.
const QUEUE: usize = 1024;

/// One piece of argon2 work and where its answer goes.
enum Job {
    Hash {
        password: String,
        salt: [u8; 16],
        reply: oneshot::Sender<Result<String, PasswordError>>,
    },
    Verify {
        password: String,
        stored: Option<String>,
        /// The salt of a fresh hash to make when the password matches a hash that is not
        /// the hasher's current argon2id; `None`: never rehash.
        rehash_salt: Option<[u8; 16]>,
        reply: oneshot::Sender<Checked>,
    },
}

/// The result of checking a password.
pub struct Checked {
    /// Whether the password matched the stored hash.
    pub matches: bool,
    /// A fresh hash of the password with the configured argon2id cost, made when it matched
    /// a hash that [`PasswordHasher::needs_rehash`] (and a rehash was asked for).
    pub rehashed: Option<String>,
}

impl Job {
    /// Whether the caller stopped waiting for the answer.
    fn is_abandoned(&self) -> bool {
        match self {
            Job::Hash { reply, .. } => reply.is_closed(),
            Job::Verify { reply, .. } => reply.is_closed(),
        }
    }
}

/// A handle to the argon2 threads; cheap to clone. The threads end when the last handle is
/// dropped.
#[derive(Clone, Debug)]
pub struct Passwords {
    jobs: mpsc::Sender<Job>,
}

impl Passwords {
    /// Starts `threads` argon2 threads (usually one per core), each with its memory.
    ///
    /// # Errors
    /// When a thread cannot be started.
    pub fn new(hasher: PasswordHasher, threads: usize) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let queue = Arc::new(Mutex::new(queue));
        let hasher = Arc::new(hasher);
        for index in 0..threads.max(1) {
            let queue = Arc::clone(&queue);
            let hasher = Arc::clone(&hasher);
            std::thread::Builder::new()
                .name(format!("jwtd-argon2-{index}"))
                .spawn(move || run_jobs(&hasher, &queue))?;
        }
        Ok(Self { jobs })
    }

    /// Hashes a password with a fresh random salt.
    ///
    /// # Errors
    /// `ApiError::Internal` if hashing fails or the pool is gone.
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        let (reply, answer) = oneshot::channel();
        let salt: [u8; 16] = rand::random();
        self.submit(Job::Hash {
            password,
            salt,
            reply,
        })
        .await?;
        answer.await.map_err(lost)?.map_err(ApiError::from)
    }

    /// Whether `password` matches `stored`; with `None` (no such user) it spends the same
    /// time and answers `false`.
    ///
    /// # Errors
    /// `ApiError::Internal` if the pool is gone.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, ApiError> {
        let checked = self.check(password, stored, false).await?;
        Ok(checked.matches)
    }

    /// Whether `password` matches `stored` (with `None`, the same time and `false`, as
    /// [`Self::verify`]); with `rehash`, a match against a hash that is not the configured
    /// argon2id also brings a fresh hash of the password, made on the same thread.
    ///
    /// # Errors
    /// `ApiError::Internal` if the pool is gone.
    pub async fn check(
        &self,
        password: String,
        stored: Option<String>,
        rehash: bool,
    ) -> Result<Checked, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Verify {
            password,
            stored,
            rehash_salt: rehash.then(rand::random),
            reply,
        })
        .await?;
        answer.await.map_err(lost)
    }

    async fn submit(&self, job: Job) -> Result<(), ApiError> {
        self.jobs.send(job).await.map_err(lost)
    }
}

fn lost(error: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(format!("the argon2 threads are gone: {error}"))
}

/// One argon2 thread: takes jobs until every `Passwords` handle is dropped.
fn run_jobs(hasher: &PasswordHasher, queue: &Mutex<mpsc::Receiver<Job>>) {
    let mut memory: Option<Argon2Memory> = None;
    loop {
        // One idle thread waits on the queue while holding the lock; the others wait for the
        // lock. A job's taker releases it at once, before hashing. A thread that has to wait,
        // for the lock or for a job, has nothing to hash: it gives its memory back first.
        let mut queue = match queue.try_lock() {
            Ok(queue) => queue,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => {
                memory = None;
                queue.lock().unwrap_or_else(PoisonError::into_inner)
            }
        };
        let job = match queue.try_recv() {
            Ok(job) => Some(job),
            Err(mpsc::error::TryRecvError::Empty) => {
                memory = None;
                queue.blocking_recv()
            }
            Err(mpsc::error::TryRecvError::Disconnected) => None,
        };
        drop(queue);
        let Some(job) = job else { return };
        // A caller that went away (its request was dropped) needs no answer: no hash.
        if job.is_abandoned() {
            continue;
        }
        let memory = memory.get_or_insert_with(|| hasher.memory());
        match job {
            Job::Hash {
                password,
                salt,
                reply,
            } => {
                let _ = reply.send(hasher.hash_with(&password, salt, memory));
            }
            Job::Verify {
                password,
                stored,
                rehash_salt,
                reply,
            } => {
                let matches = hasher.verify_with(&password, stored.as_deref(), memory);
                let rehashed = match (rehash_salt, stored) {
                    (Some(salt), Some(stored)) if matches && hasher.needs_rehash(&stored) => {
                        // A failed rehash only leaves the old hash in place until next time.
                        hasher.hash_with(&password, salt, memory).ok()
                    }
                    _ => None,
                };
                let _ = reply.send(Checked { matches, rehashed });
            }
        }
    }
}
