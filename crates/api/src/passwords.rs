//! Password hashing off the async runtime, on a bounded number of blocking threads.

use std::sync::Arc;

use auth_core::PasswordHasher;
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// Runs argon2 in `spawn_blocking`, at most `concurrency` hashes at once, so a burst of
/// logins queues instead of exhausting memory or the blocking pool.
#[derive(Clone, Debug)]
pub struct Passwords {
    hasher: Arc<PasswordHasher>,
    permits: Arc<Semaphore>,
}

impl Passwords {
    /// Wraps a hasher; `concurrency` is usually the number of cores.
    pub fn new(hasher: PasswordHasher, concurrency: usize) -> Self {
        Self {
            hasher: Arc::new(hasher),
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    /// Hashes a password with a fresh random salt.
    ///
    /// # Errors
    /// `ApiError::Internal` if hashing fails or the blocking task is lost.
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        let _permit = self.acquire().await?;
        let hasher = Arc::clone(&self.hasher);
        let salt: [u8; 16] = rand::random();
        tokio::task::spawn_blocking(move || hasher.hash(&password, salt))
            .await
            .map_err(|error| ApiError::Internal(error.to_string()))?
            .map_err(ApiError::from)
    }

    /// Whether `password` matches `stored`; with `None` (no such user) it spends the same
    /// time and answers `false`.
    ///
    /// # Errors
    /// `ApiError::Internal` if the blocking task is lost.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, ApiError> {
        let _permit = self.acquire().await?;
        let hasher = Arc::clone(&self.hasher);
        tokio::task::spawn_blocking(move || hasher.verify(&password, stored.as_deref()))
            .await
            .map_err(|error| ApiError::Internal(error.to_string()))
    }

    async fn acquire(&self) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
        self.permits
            .acquire()
            .await
            .map_err(|error| ApiError::Internal(error.to_string()))
    }
}
