//! Telling transient database failures (retry, or answer 503) from real errors (500).

use sea_orm::{DbErr, RuntimeErr};

use crate::error::ApiError;

/// PostgreSQL SQLSTATEs that mean "try again": serialization failure, deadlock, lock not
/// available, statement timeout, admin shutdown, cannot connect now.
const TRANSIENT_SQLSTATES: [&str; 7] = [
    "40001", "40P01", "55P03", "57014", "57P01", "57P03", "08006",
];

/// Maps a database error to `ApiError::Unavailable` when it is transient, else
/// `ApiError::Database`.
pub fn classify(error: DbErr) -> ApiError {
    if is_transient(&error) {
        ApiError::Unavailable(error)
    } else {
        ApiError::Database(error)
    }
}

fn is_transient(error: &DbErr) -> bool {
    let runtime = match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Exec(runtime) | DbErr::Query(runtime) => runtime,
        _ => return false,
    };
    let RuntimeErr::SqlxError(sqlx) = runtime else {
        return false;
    };
    use sea_orm::sqlx::Error;
    match sqlx.as_ref() {
        Error::Io(_) | Error::PoolTimedOut | Error::PoolClosed | Error::WorkerCrashed => true,
        Error::Database(db) => {
            let code = db.code();
            let code = code.as_deref().unwrap_or_default();
            // SQLite: SQLITE_BUSY (5) and its extended codes, SQLITE_LOCKED (6).
            TRANSIENT_SQLSTATES.contains(&code)
                || code == "5"
                || code == "6"
                || code == "261"
                || code == "517"
                || code == "262"
        }
        _ => false,
    }
}
