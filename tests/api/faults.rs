//! Faults jwtd must survive (issue 15), each played against the real binary: a SIGTERM with
//! requests in flight, a SIGKILL under refresh load, a PostgreSQL outage under load, and a
//! read-only or full disk under SQLite.

/// Runs each listed `async fn(Deployment)` once on SQLite and once on PostgreSQL (the
/// latter reported SKIPPED without `JWTD_TEST_POSTGRES_URL`).
macro_rules! sqlite_and_postgres {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(crate::faults::Deployment::sqlite()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    if let Some(deployment) = crate::faults::Deployment::postgres().await {
                        super::$name(deployment).await;
                    }
                }
            )*
        }
    };
}

mod crash;
mod disk;
mod outage;
mod shutdown;

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use integration_tests::unique_name;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::scale_out::{Schema, blacklisted, count, unavailable};
use crate::smoke::{Server, create_user};

/// The signing key of every instance in these tests.
const SIGNING_KEY: &str = "faults-test-signing-key-0123456789abcdef";

/// Where a test's jwtd keeps its data: a SQLite file in a fresh directory, or a fresh
/// PostgreSQL schema.
enum Deployment {
    Sqlite(PathBuf),
    Postgres(Schema),
}

impl Deployment {
    /// A fresh directory for a SQLite database.
    fn sqlite() -> Self {
        let dir = std::env::temp_dir().join(unique_name("jwtd_faults"));
        std::fs::create_dir_all(&dir).unwrap();
        Deployment::Sqlite(dir)
    }

    /// A fresh PostgreSQL schema; `None` (reported SKIPPED) without `JWTD_TEST_POSTGRES_URL`.
    async fn postgres() -> Option<Self> {
        Schema::create().await.map(Deployment::Postgres)
    }

    /// The directory for logs (and, for SQLite, the database).
    fn dir(&self) -> &Path {
        match self {
            Deployment::Sqlite(dir) => dir,
            Deployment::Postgres(schema) => &schema.dir,
        }
    }

    fn database_url(&self) -> String {
        match self {
            Deployment::Sqlite(dir) => format!("sqlite://{}", dir.join("jwtd.db").display()),
            Deployment::Postgres(schema) => schema.url.clone(),
        }
    }

    /// The environment of an instance, plus `extra` (later entries win).
    fn env(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env = match self {
            Deployment::Sqlite(_) => vec![
                ("JWTD_DATABASE_URL".to_owned(), self.database_url()),
                ("JWTD_SIGNING_KEY".to_owned(), SIGNING_KEY.to_owned()),
                ("JWTD_ARGON2_MEMORY_KIB".to_owned(), "1024".to_owned()),
                ("JWTD_ARGON2_ITERATIONS".to_owned(), "1".to_owned()),
                ("JWTD_LOG".to_owned(), "warn".to_owned()),
            ],
            Deployment::Postgres(schema) => schema
                .env(&[])
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect(),
        };
        env.extend(
            extra
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
        );
        env
    }

    /// Starts `jwtd serve` on this deployment with `extra` settings.
    fn start(&self, extra: &[(&str, &str)]) -> Server {
        let env = self.env(extra);
        let env: Vec<(&str, &str)> = env
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        Server::start(self.dir(), &env)
    }

    /// Creates a user with the real CLI.
    fn create_user(&self, name: &str, password: &str) {
        create_user(self.dir(), &self.env(&[]), name, password);
    }

    /// A connection to the deployment's database, to look at what jwtd stored.
    async fn connect(&self) -> api::db::Database {
        match self {
            Deployment::Sqlite(_) => {
                api::db::connect(&api::db::DbOptions::new(self.database_url()))
                    .await
                    .unwrap()
            }
            Deployment::Postgres(schema) => schema.connect().await,
        }
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        if let Deployment::Sqlite(dir) = self {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// An HTTP/1.1 client that reports a failed or unanswered request instead of panicking: a
/// killed server or a cut database is what these tests are about.
#[derive(Clone)]
struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    /// Longest wait for a whole answer; longer is a hung request.
    patience: Duration,
}

/// A response: status, `X-Jwtd-Reason`, JSON body.
#[derive(Debug)]
struct Reply {
    status: u16,
    reason: Option<String>,
    json: Value,
}

impl Http {
    fn new(patience: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(patience));
        Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            patience,
        }
    }

    /// Sends a request: `Err` says why no answer came (refused, reset, or none in time).
    async fn send(&self, method: &str, url: &str, body: Option<&Value>) -> Result<Reply, String> {
        let mut request = hyper::Request::builder().method(method).uri(url);
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let bytes = body
            .map(|body| serde_json::to_vec(body).unwrap())
            .unwrap_or_default();
        let request = request.body(Full::new(Bytes::from(bytes))).unwrap();
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|error| format!("{error:?}"))?;
            let status = response.status().as_u16();
            let reason = response
                .headers()
                .get("x-jwtd-reason")
                .map(|value| value.to_str().unwrap_or_default().to_owned());
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|error| format!("{error:?}"))?
                .to_bytes();
            Ok(Reply {
                status,
                reason,
                json: serde_json::from_slice(&body).unwrap_or(Value::Null),
            })
        };
        tokio::time::timeout(self.patience, exchange)
            .await
            .map_err(|_| format!("no answer within {:?}", self.patience))?
    }

    async fn post(&self, base: &str, path: &str, body: Value) -> Result<Reply, String> {
        self.send("POST", &format!("{base}{path}"), Some(&body))
            .await
    }

    async fn get(&self, base: &str, path: &str) -> Result<Reply, String> {
        self.send("GET", &format!("{base}{path}"), None).await
    }

    /// Logs in; panics unless it gets a 200. Returns the refresh token.
    async fn login(&self, base: &str, username: &str, password: &str) -> String {
        let reply = self
            .post(
                base,
                "/token",
                json!({ "username": username, "password": password }),
            )
            .await
            .unwrap();
        assert_eq!(reply.status, 200, "login: {reply:?}");
        reply.json["refresh"].as_str().unwrap().to_owned()
    }

    async fn refresh(&self, base: &str, refresh: &str) -> Result<Reply, String> {
        self.post(base, "/token/refresh", json!({ "refresh": refresh }))
            .await
    }
}

/// Waits at most `limit` for `server` to exit, and expects it to exit 0.
async fn assert_exits_0(server: &mut Server, limit: Duration) {
    let status = server.wait_exit(limit).await;
    assert_eq!(
        status.and_then(|status| status.code()),
        Some(0),
        "{}",
        server.log()
    );
}

/// Runs a query returning one text value.
async fn text(db: &api::db::Database, sql: &str) -> String {
    db.read
        .query_one_raw(Statement::from_string(db.backend(), sql.to_owned()))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<String>(0)
        .unwrap()
}

/// Asserts that no rotation is half done: every token with a parent was issued by
/// rotating that parent (the parent is blacklisted as `rotated`), every token blacklisted
/// as `rotated` has exactly one successor, and every family that is not revoked has exactly
/// one live token. For SQLite, also that the file is sound.
async fn assert_no_half_rotation(db: &api::db::Database) {
    if db.sqlite_file.is_some() {
        assert_eq!(text(db, "PRAGMA integrity_check").await, "ok");
    }
    let orphans = count(
        db,
        "SELECT COUNT(*) FROM outstanding_tokens c WHERE c.parent_jti IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM outstanding_tokens p \
             JOIN blacklisted_tokens b ON b.token_id = p.id \
             WHERE p.jti = c.parent_jti AND b.reason = 'rotated')",
    )
    .await;
    assert_eq!(orphans, 0, "successors whose parent was not rotated");
    let childless = count(
        db,
        "SELECT COUNT(*) FROM outstanding_tokens p \
         JOIN blacklisted_tokens b ON b.token_id = p.id \
         WHERE b.reason = 'rotated' \
         AND (SELECT COUNT(*) FROM outstanding_tokens c WHERE c.parent_jti = p.jti) <> 1",
    )
    .await;
    assert_eq!(childless, 0, "rotated tokens without exactly one successor");
    let unsound = count(
        db,
        "SELECT COUNT(*) FROM token_families f WHERE f.revoked_at IS NULL \
         AND (SELECT COUNT(*) FROM outstanding_tokens o WHERE o.family_id = f.id \
              AND NOT EXISTS (SELECT 1 FROM blacklisted_tokens b WHERE b.token_id = o.id)) <> 1",
    )
    .await;
    assert_eq!(unsound, 0, "live sessions without exactly one live token");
}
