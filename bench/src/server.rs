//! The jwtd under test: a fresh database, its users, the running process and its memory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};

use crate::client::Credentials;

/// The password of every benchmark user.
const PASSWORD: &str = "jwtd-bench correct horse";

/// The argon2id cost the server is run with.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Argon2Cost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

/// How to run jwtd: the binary and the `JWTD_*` settings of one database.
#[derive(Clone, Debug)]
pub struct Jwtd {
    binary: PathBuf,
    env: Vec<(String, String)>,
}

impl Jwtd {
    /// jwtd on `database_url` (and `schema`, for PostgreSQL), with a fixed signing key,
    /// warnings-only logging and the given argon2 cost.
    pub fn new(binary: &Path, database_url: &str, schema: Option<&str>, cost: Argon2Cost) -> Self {
        let mut env = vec![
            ("JWTD_DATABASE_URL".to_owned(), database_url.to_owned()),
            (
                "JWTD_SIGNING_KEY".to_owned(),
                // As long as the longest HMAC hash, so that HS384 and HS512 accept it too.
                "jwtd-bench signing key, not a secret, 64 bytes for HS256/384/512".to_owned(),
            ),
            ("JWTD_LOG".to_owned(), "warn".to_owned()),
            (
                "JWTD_ARGON2_MEMORY_KIB".to_owned(),
                cost.memory_kib.to_string(),
            ),
            (
                "JWTD_ARGON2_ITERATIONS".to_owned(),
                cost.iterations.to_string(),
            ),
            (
                "JWTD_ARGON2_PARALLELISM".to_owned(),
                cost.parallelism.to_string(),
            ),
            // Every request of a benchmark comes from one loopback address: the per-address
            // limits, which exist to slow exactly such a client, would measure themselves.
            ("JWTD_LOGIN_ADDRESS_MAX_ATTEMPTS".to_owned(), "0".to_owned()),
            ("JWTD_REFRESH_RATE_PER_MINUTE".to_owned(), "0".to_owned()),
            ("JWTD_VERIFY_RATE_PER_MINUTE".to_owned(), "0".to_owned()),
        ];
        if let Some(schema) = schema {
            env.push(("JWTD_DATABASE_SCHEMA".to_owned(), schema.to_owned()));
        }
        Self {
            binary: binary.to_owned(),
            env,
        }
    }

    /// The same, with one more `JWTD_*` setting.
    #[must_use]
    pub fn with_setting(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The same, signing with `algorithm`: an HMAC algorithm with the benchmark's secret, or
    /// a public-key one with a pair `jwtd keys generate` writes into `dir`.
    ///
    /// # Errors
    /// When `jwtd keys generate` fails (an unknown algorithm, an existing file).
    pub async fn with_algorithm(mut self, algorithm: &str, dir: &Path) -> anyhow::Result<Self> {
        if !algorithm.starts_with("HS") {
            let name = format!("bench-{}", algorithm.to_ascii_lowercase());
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let status = self
                .command()
                .args([
                    "keys", "generate", "--alg", algorithm, "--name", &name, "--out",
                ])
                .arg(dir)
                .stdout(Stdio::null())
                .status()
                .await
                .with_context(|| format!("cannot run {}", self.binary.display()))?;
            anyhow::ensure!(
                status.success(),
                "`jwtd keys generate --alg {algorithm}` failed"
            );
            self.env.retain(|(key, _)| key != "JWTD_SIGNING_KEY");
            let file = |suffix: &str| dir.join(format!("{name}.{suffix}")).display().to_string();
            self = self
                .with_setting("JWTD_SIGNING_KEY_FILE", &file("key.pem"))
                .with_setting("JWTD_VERIFYING_KEY_FILE", &file("pub.pem"));
        }
        Ok(self.with_setting("JWTD_ALGORITHM", algorithm))
    }

    /// A `jwtd` command with only this benchmark's `JWTD_*` settings: none leak in from the
    /// caller's environment, so every run measures the same configuration.
    fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("JWTD_") {
                command.env_remove(key);
            }
        }
        command.envs(self.env.iter().map(|(key, value)| (key, value)));
        command.kill_on_drop(true);
        command
    }

    /// Applies the migrations.
    ///
    /// # Errors
    /// When `jwtd migrate` fails.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let status = self
            .command()
            .arg("migrate")
            .stdout(Stdio::null())
            .status()
            .await
            .with_context(|| format!("cannot run {}", self.binary.display()))?;
        anyhow::ensure!(status.success(), "`jwtd migrate` failed: {status}");
        Ok(())
    }

    /// Creates `count` users (`bench-000`, ...) with `jwtd user create`, as many at once as
    /// there are cores, since each one hashes a password.
    ///
    /// # Errors
    /// When a `jwtd user create` fails.
    pub async fn create_users(&self, count: usize) -> anyhow::Result<Vec<Credentials>> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let permits = Arc::new(Semaphore::new(cores));
        let mut creating = JoinSet::new();
        let users: Vec<Credentials> = (0..count)
            .map(|index| Credentials {
                username: format!("bench-{index:03}"),
                password: PASSWORD.to_owned(),
            })
            .collect();
        for user in &users {
            let permits = Arc::clone(&permits);
            let mut command = self.command();
            command
                .args(["user", "create", &user.username, "--password-stdin"])
                .stdin(Stdio::piped())
                .stdout(Stdio::null());
            let password = user.password.clone();
            let username = user.username.clone();
            creating.spawn(async move {
                let _permit = permits.acquire().await?;
                let mut child = command.spawn()?;
                if let Some(mut stdin) = child.stdin.take() {
                    stdin.write_all(format!("{password}\n").as_bytes()).await?;
                }
                let status = child.wait().await?;
                anyhow::ensure!(status.success(), "`jwtd user create {username}` failed");
                anyhow::Ok(())
            });
        }
        while let Some(joined) = creating.join_next().await {
            joined.context("a user-creation task panicked")??;
        }
        Ok(users)
    }

    /// Starts `jwtd serve` on a free loopback port and waits for its `listening on` line.
    ///
    /// # Errors
    /// When jwtd does not start or does not say where it listens.
    pub async fn serve(&self) -> anyhow::Result<Server> {
        let mut child = self
            .command()
            .args(["serve", "--bind", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot run {}", self.binary.display()))?;
        let pid = child.id().context("jwtd exited at once")?;
        let stdout = child.stdout.take().context("jwtd's stdout is not piped")?;
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .context("jwtd did not start within 60 s")??
            .context("jwtd exited before listening")?;
        let address: SocketAddr = first
            .strip_prefix("listening on http://")
            .with_context(|| format!("unexpected first line from jwtd: {first:?}"))?
            .parse()?;
        // Keep reading so that a later line never blocks jwtd on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Server {
            child,
            pid,
            address,
        })
    }
}

/// A running `jwtd serve`, killed when dropped.
pub struct Server {
    child: Child,
    pid: u32,
    /// Where it listens.
    pub address: SocketAddr,
}

impl Server {
    /// Measures the peak resident memory while `during` runs.
    ///
    /// The kernel's high-water mark (`VmHWM`) is reset first through `clear_refs`, so the
    /// peak is this scenario's, not the process's since start; `VmRSS` is also sampled
    /// every 50 ms, which is all there is where the reset is refused.
    ///
    /// # Errors
    /// Whatever `during` returns.
    pub async fn peak_rss_during<T>(
        &self,
        during: impl Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<(T, Option<u64>)> {
        let (result, peaks) = peak_rss_of_all(&[self], during).await?;
        Ok((result, peaks.into_iter().next().flatten()))
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Stops the server.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// Measures the peak resident memory of each of `servers` while `during` runs, in their
/// order, as [`Server::peak_rss_during`] does for one.
///
/// # Errors
/// Whatever `during` returns.
pub async fn peak_rss_of_all<T>(
    servers: &[&Server],
    during: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<(T, Vec<Option<u64>>)> {
    let watches: Vec<RssWatch> = servers
        .iter()
        .map(|server| RssWatch::start(server.pid))
        .collect();
    let result = during.await;
    let peaks = watches.into_iter().map(RssWatch::finish).collect();
    Ok((result?, peaks))
}

/// One process's memory, watched from a `VmHWM` reset until `finish`.
struct RssWatch {
    status: PathBuf,
    reset: bool,
    sampled: Arc<AtomicU64>,
    sampler: JoinHandle<()>,
}

impl RssWatch {
    fn start(pid: u32) -> Self {
        let status = PathBuf::from(format!("/proc/{pid}/status"));
        let reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
        let sampled = Arc::new(AtomicU64::new(0));
        let sampler = tokio::spawn({
            let sampled = Arc::clone(&sampled);
            let status = status.clone();
            async move {
                let mut every = tokio::time::interval(Duration::from_millis(50));
                loop {
                    every.tick().await;
                    if let Some(kib) = status_field(&status, "VmRSS:") {
                        sampled.fetch_max(kib, Ordering::Relaxed);
                    }
                }
            }
        });
        Self {
            status,
            reset,
            sampled,
            sampler,
        }
    }

    /// The peak in KiB, if any was seen.
    fn finish(self) -> Option<u64> {
        self.sampler.abort();
        let mut peak = self.sampled.load(Ordering::Relaxed);
        if self.reset
            && let Some(hwm) = status_field(&self.status, "VmHWM:")
        {
            peak = peak.max(hwm);
        }
        (peak > 0).then_some(peak)
    }
}

/// A `kB` field of `/proc/<pid>/status`, in KiB.
fn status_field(path: &Path, name: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|line| line.starts_with(name))?;
    line[name.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// A fresh temporary directory, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `jwtd-bench-<pid>-<nanos>` under the system's temporary directory.
    ///
    /// # Errors
    /// When the directory cannot be created.
    pub fn new() -> anyhow::Result<Self> {
        let path = std::env::temp_dir().join(format!("jwtd-bench-{}", unique_suffix()));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Self(path))
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh PostgreSQL schema, dropped by `drop_schema`.
pub struct PgSchema {
    connection: DatabaseConnection,
    /// Its name.
    pub name: String,
}

impl PgSchema {
    /// Creates `jwtd_bench_<pid>_<nanos>` in the database at `url`.
    ///
    /// # Errors
    /// When the database cannot be reached or the schema not created.
    pub async fn create(url: &str) -> anyhow::Result<Self> {
        let connection = sea_orm::Database::connect(url)
            .await
            .context("cannot connect to JWTD_BENCH_POSTGRES_URL")?;
        let name = format!("jwtd_bench_{}", unique_suffix().replace('-', "_"));
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            bail!("unexpected schema name {name:?}");
        }
        connection
            .execute_unprepared(&format!("CREATE SCHEMA {name}"))
            .await
            .with_context(|| format!("cannot create schema {name}"))?;
        Ok(Self { connection, name })
    }

    /// Drops the schema and everything in it.
    ///
    /// # Errors
    /// When the drop fails.
    pub async fn drop_schema(self) -> anyhow::Result<()> {
        self.connection
            .execute_unprepared(&format!("DROP SCHEMA {} CASCADE", self.name))
            .await
            .with_context(|| format!("cannot drop schema {}", self.name))?;
        Ok(())
    }
}

fn unique_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    format!("{}-{nanos}", std::process::id())
}
