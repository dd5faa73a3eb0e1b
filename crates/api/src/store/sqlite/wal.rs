//! The SQLite write-ahead log: the writer's and the checkpointer's connections, and the
//! checkpoints that keep the log bounded under writes that never pause.

use std::path::Path;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rusqlite::Connection;

/// The log's state, shared by the writer and the checkpointer.
#[derive(Debug)]
pub(super) struct WalState {
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
    pub(super) fn new(database: &Path) -> Self {
        let mut file = database.as_os_str().to_owned();
        file.push("-wal");
        Self {
            file: file.into(),
            long: AtomicBool::new(false),
            checkpointing: Mutex::new(()),
        }
    }

    /// The log file's size; zero if it cannot be read.
    pub(super) fn file_len(&self) -> u64 {
        std::fs::metadata(&self.file).map_or(0, |metadata| metadata.len())
    }
}

/// The writer's connection.
pub(super) fn open_writer(path: &Path) -> rusqlite::Result<Connection> {
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
pub(super) fn open_checkpointer(path: &Path) -> rusqlite::Result<Connection> {
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
pub(super) fn checkpoint_while(connection: &Connection, wal: &WalState, alive: impl Fn() -> bool) {
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
pub(super) fn restart_wal_if_due(connection: &Connection, wal: &WalState) -> bool {
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rusqlite::params;

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
