//! Database connections: one writer and a pool of readers for SQLite, one pool for
//! PostgreSQL and MySQL.

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database as Connector, DatabaseConnection, DbBackend, DbErr};

/// How to reach the database.
#[derive(Clone, Debug)]
pub struct DbOptions {
    /// `sqlite://path`, `postgres://...` or `mysql://...`.
    pub url: String,
    /// Pool size for PostgreSQL/MySQL, and the reader pool size for SQLite.
    pub max_connections: u32,
    /// How long a request waits for a connection before it is answered 503.
    pub acquire_timeout: Duration,
    /// Longest a single statement may run (PostgreSQL/MySQL); zero for no limit.
    pub statement_timeout: Duration,
    /// PostgreSQL schema to use (its `search_path`); `None` for the server's default.
    pub schema: Option<String>,
}

impl Default for DbOptions {
    /// jwtd's defaults (the `JWTD_DATABASE_*` settings'): the `jwtd.db` SQLite file, ten
    /// connections, five seconds to get one and five for a statement.
    fn default() -> Self {
        Self {
            url: "sqlite://jwtd.db".to_owned(),
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
            schema: None,
        }
    }
}

impl DbOptions {
    /// Options with jwtd's defaults for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }
}

/// The connections a server uses. For SQLite all writes go through `write`, a single
/// connection: SQLite allows one writer at a time, and one connection in WAL mode is both
/// the fastest way to write and the way to never see `SQLITE_BUSY` between our own writers.
/// Reads that need no transaction use `read`. For other databases both are the same pool.
#[derive(Clone, Debug)]
pub struct Database {
    /// The connection that runs every transaction.
    pub write: DatabaseConnection,
    /// Connections for reads outside transactions.
    pub read: DatabaseConnection,
    /// The database file, for SQLite on disk.
    pub sqlite_file: Option<std::path::PathBuf>,
}

impl Database {
    /// The backend behind the connections.
    pub fn backend(&self) -> DbBackend {
        self.write.get_database_backend()
    }
}

/// The file of a `sqlite://path` or `sqlite:path` URL (query string removed); `None` for
/// an in-memory or another database.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
}

/// Whether `url` names a SQLite database.
pub fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// Connects. For SQLite, creates the file if missing (readable by its owner alone) and sets
/// WAL, `synchronous=NORMAL`, a busy timeout and foreign keys.
///
/// # Errors
/// The driver's error when the database cannot be reached or its file cannot be created.
pub async fn connect(options: &DbOptions) -> Result<Database, DbErr> {
    if is_sqlite(&options.url) {
        let in_memory = options.url.contains(":memory:") || options.url.contains("mode=memory");
        if !in_memory
            && !options.url.contains("mode=ro")
            && let Some(file) = sqlite_file(&options.url)
        {
            create_private(&file).map_err(|error| {
                DbErr::Custom(format!(
                    "cannot create the database file {}: {error}",
                    file.display()
                ))
            })?;
        }
        let write = Connector::connect(sqlite_options(options, 1)).await?;
        let read = if in_memory {
            write.clone()
        } else {
            // SQLite reads run on the connection's thread and rarely wait for the disk:
            // more readers than cores only cost memory.
            let cores = std::thread::available_parallelism().map_or(1, usize::from);
            let readers = options
                .max_connections
                .clamp(1, u32::try_from(cores).unwrap_or(u32::MAX));
            Connector::connect(sqlite_options(options, readers)).await?
        };
        let sqlite_file = if in_memory {
            None
        } else {
            sqlite_file(&options.url)
        };
        return Ok(Database {
            write,
            read,
            sqlite_file,
        });
    }
    let mut connect = ConnectOptions::new(options.url.clone());
    connect
        .max_connections(options.max_connections.max(1))
        .min_connections(1)
        .acquire_timeout(options.acquire_timeout)
        .sqlx_logging(false);
    if let Some(schema) = &options.schema {
        connect.set_schema_search_path(schema.clone());
    }
    if !options.statement_timeout.is_zero() {
        let millis = options.statement_timeout.as_millis().to_string();
        connect
            .map_sqlx_postgres_opts(move |pg| pg.options([("statement_timeout", millis.as_str())]));
    }
    let pool = Connector::connect(connect).await?;
    Ok(Database {
        write: pool.clone(),
        read: pool,
        sqlite_file: None,
    })
}

/// Creates an empty file with mode 0600 unless it exists. SQLite creates a database's
/// write-ahead log and shared-memory files with the database's own mode, so the tokens'
/// digests and the users' password hashes in all three stay readable by jwtd's user alone.
fn create_private(file: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
    {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

/// The page cache of each pooled SQLite connection, in KiB.
const POOLED_CACHE_KIB: u32 = 256;

fn sqlite_options(options: &DbOptions, connections: u32) -> ConnectOptions {
    let mut connect = ConnectOptions::new(options.url.clone());
    connect
        .max_connections(connections)
        .min_connections(1)
        .acquire_timeout(options.acquire_timeout)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|sqlite| {
            sqlite
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true)
                // SQLite's default page cache is 2 MiB per connection, and a long-lived
                // server fills it: with three pooled connections that alone is 6 MiB of a
                // 32 MiB budget. Their queries (users, sessions, the writes that bypass
                // the rotation writer) touch few pages, and a miss is one read from the
                // operating system's cache.
                .pragma("cache_size", format!("-{POOLED_CACHE_KIB}"))
        });
    connect
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_file("sqlite://jwtd.db"),
            Some(PathBuf::from("jwtd.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:/tmp/x.db?mode=rwc"),
            Some(PathBuf::from("/tmp/x.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://x"), None);
    }
}
