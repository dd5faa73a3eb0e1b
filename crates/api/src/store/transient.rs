//! Telling transient database failures (retry, or answer 503) from real errors (500).

use sea_orm::{DbErr, RuntimeErr};

use super::StoreError;

/// PostgreSQL SQLSTATEs that mean "try again": serialization failure, deadlock, lock not
/// available (`lock_timeout`), query canceled (`statement_timeout`), idle-in-transaction
/// timeout, too many connections, out of memory or disk, and the shutdown family (admin,
/// crash, cannot connect now, database dropped on failover). Class 08 (connection
/// exception) is matched as a whole below.
const TRANSIENT_SQLSTATES: [&str; 11] = [
    "40001", "40P01", "55P03", "57014", "25P03", "53300", "53100", "53200", "57P01", "57P02",
    "57P03",
];

/// MySQL/MariaDB error numbers that mean "try again": lock wait timeout (1205), deadlock
/// (1213), statement time limits (MySQL 3024, MariaDB 1969), query interrupted (1317), too
/// many connections (1040), server shutting down (1053), server gone or lost (2006, 2013).
const TRANSIENT_MYSQL_NUMBERS: [u16; 9] = [1205, 1213, 3024, 1969, 1317, 1040, 1053, 2006, 2013];

/// SQLite primary result codes that mean "try again": `SQLITE_BUSY` (5), `SQLITE_LOCKED`
/// (6), and the disk's trouble: `SQLITE_READONLY` (8), `SQLITE_IOERR` (10) and `SQLITE_FULL`
/// (13). SQLite rolls back a transaction that meets the latter, so nothing was written;
/// the request may succeed once space is freed or the file system is writable again, and a
/// 503 says so, where a 500 would say jwtd is broken.
const TRANSIENT_SQLITE_CODES: [i32; 5] = [5, 6, 8, 10, 13];

/// Whether a SQLite result code (primary or extended: the low byte is the primary one)
/// means "try again".
pub fn is_transient_sqlite_code(code: i32) -> bool {
    TRANSIENT_SQLITE_CODES.contains(&(code & 0xff))
}

/// Maps a database error to `StoreError::Unavailable` when it is transient, else
/// `StoreError::Database`.
pub fn classify(error: DbErr) -> StoreError {
    if is_transient(&error) {
        StoreError::Unavailable(error)
    } else {
        StoreError::Database(error)
    }
}

/// Whether a database error is worth retrying: the same request may well succeed in a
/// moment (a lock freed, a connection re-established, a failover finished).
pub fn is_transient(error: &DbErr) -> bool {
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
        Error::Io(_)
        | Error::Tls(_)
        | Error::Protocol(_)
        | Error::PoolTimedOut
        | Error::PoolClosed
        | Error::WorkerCrashed => true,
        Error::Database(db) => {
            if let Some(mysql) = db.try_downcast_ref::<sea_orm::sqlx::mysql::MySqlDatabaseError>() {
                return TRANSIENT_MYSQL_NUMBERS.contains(&mysql.number())
                    || mysql.code() == Some("40001");
            }
            let code = db.code();
            let code = code.as_deref().unwrap_or_default();
            if db
                .try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>()
                .is_some()
            {
                return code.parse().is_ok_and(is_transient_sqlite_code);
            }
            TRANSIENT_SQLSTATES.contains(&code) || code.starts_with("08")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::is_transient_sqlite_code;

    #[test]
    fn a_busy_locked_full_read_only_or_failing_sqlite_database_is_transient() {
        // BUSY, BUSY_RECOVERY, LOCKED, READONLY, READONLY_DBMOVED, IOERR, IOERR_WRITE, FULL.
        for code in [5, 261, 6, 8, 1032, 10, 778, 13] {
            assert!(is_transient_sqlite_code(code), "{code}");
        }
    }

    #[test]
    fn a_constraint_or_corrupt_sqlite_database_is_not_transient() {
        // ERROR, CORRUPT, CONSTRAINT, CONSTRAINT_UNIQUE, NOTADB.
        for code in [1, 11, 19, 2067, 26] {
            assert!(!is_transient_sqlite_code(code), "{code}");
        }
    }
}
