//! Several real `jwtd` processes on one PostgreSQL database (issue 5): they start together
//! on an empty schema, and a token, a revocation or a session made on one is the same on
//! every other. Also: transient database trouble answers 503, never 500, and never leaves a
//! rotation half done; and revocations shared through Redis, with Redis up and down.
//!
//! Run when `JWTD_TEST_POSTGRES_URL` is set; each test works in a fresh schema of its own,
//! dropped afterwards. The Redis tests start their own `redis-server` on a Unix socket.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use api::db::{self, DbOptions};
use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use integration_tests::{claims, unique_name};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
use serde_json::{Value, json};

use crate::smoke::Server;

/// The signing key every instance of a test shares (as a real deployment must).
const SIGNING_KEY: &str = "scale-out-test-signing-key-0123456789abcdef";

/// An empty PostgreSQL schema, dropped with everything in it when the test ends.
pub(crate) struct Schema {
    /// `JWTD_TEST_POSTGRES_URL`.
    pub(crate) url: String,
    /// The schema's name.
    pub(crate) name: String,
    /// A temporary directory for the instances' logs.
    pub(crate) dir: PathBuf,
}

impl Schema {
    /// A fresh schema; `None` (the test is skipped) when PostgreSQL is not configured.
    pub(crate) async fn create() -> Option<Self> {
        let Some(url) = std::env::var("JWTD_TEST_POSTGRES_URL")
            .ok()
            .filter(|url| !url.is_empty())
        else {
            eprintln!("SKIPPED: JWTD_TEST_POSTGRES_URL is not set");
            return None;
        };
        let name = unique_name("jwtd_scale");
        let admin = sea_orm::Database::connect(url.as_str()).await.unwrap();
        admin
            .execute_unprepared(&format!("CREATE SCHEMA \"{name}\""))
            .await
            .unwrap();
        admin.close().await.ok();
        let dir = std::env::temp_dir().join(&name);
        std::fs::create_dir_all(&dir).unwrap();
        Some(Self { url, name, dir })
    }

    /// A connection pool whose `search_path` is this schema.
    pub(crate) async fn connect(&self) -> api::db::Database {
        let mut options = DbOptions::new(self.url.clone());
        options.schema = Some(self.name.clone());
        options.max_connections = 2;
        db::connect(&options).await.unwrap()
    }

    /// The environment of an instance on this schema, plus `extra`.
    pub(crate) fn env<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut env = vec![
            ("JWTD_DATABASE_URL", self.url.as_str()),
            ("JWTD_DATABASE_SCHEMA", self.name.as_str()),
            ("JWTD_SIGNING_KEY", SIGNING_KEY),
            ("JWTD_ROTATION_GRACE_SECONDS", "0"),
            // Cheap password hashing: these tests are about the database, not argon2.
            ("JWTD_ARGON2_MEMORY_KIB", "1024"),
            ("JWTD_ARGON2_ITERATIONS", "1"),
            ("JWTD_LOG", "warn"),
            // Load from one loopback address: the per-address limits are not under test.
            ("JWTD_LOGIN_ADDRESS_MAX_ATTEMPTS", "0"),
            ("JWTD_REFRESH_RATE_PER_MINUTE", "0"),
            ("JWTD_VERIFY_RATE_PER_MINUTE", "0"),
        ];
        env.extend_from_slice(extra);
        env
    }

    /// Starts `count` instances at the same moment and waits until all listen.
    fn start(&self, count: usize, extra: &[(&str, &str)]) -> Vec<Server> {
        let env: Vec<(String, String)> = self
            .env(extra)
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        let barrier = std::sync::Barrier::new(count);
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..count)
                .map(|_| {
                    scope.spawn(|| {
                        let env: Vec<(&str, &str)> = env
                            .iter()
                            .map(|(name, value)| (name.as_str(), value.as_str()))
                            .collect();
                        barrier.wait();
                        Server::start(&self.dir, &env)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().expect("an instance failed to start"))
                .collect()
        })
    }

    /// Creates a user with the real CLI, on this schema.
    fn create_user(&self, name: &str, password: &str) {
        crate::smoke::create_user(&self.dir, &self.env(&[]), name, password);
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let url = self.url.clone();
        let statement = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name);
        let _ = std::fs::remove_dir_all(&self.dir);
        // Drop cannot be async: run the cleanup on a runtime of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(admin) = sea_orm::Database::connect(url.as_str()).await {
                    let _ = admin.execute_unprepared(&statement).await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}

/// An HTTP/1.1 client for the instances (one connection pool for the whole test).
#[derive(Clone)]
struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
}

/// A response: status, `X-Jwtd-Reason` and `Retry-After` headers, JSON body.
#[derive(Debug)]
struct Reply {
    status: u16,
    reason: Option<String>,
    retry_after: Option<String>,
    json: Value,
}

impl Http {
    fn new() -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    async fn send(
        &self,
        method: &str,
        url: &str,
        body: Option<Value>,
        bearer: Option<&str>,
    ) -> Reply {
        let mut request = hyper::Request::builder().method(method).uri(url);
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        if let Some(token) = bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let bytes = body
            .map(|body| serde_json::to_vec(&body).unwrap())
            .unwrap_or_default();
        let response = self
            .client
            .request(request.body(Full::new(Bytes::from(bytes))).unwrap())
            .await
            .unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|value| value.to_str().unwrap_or_default().to_owned())
        };
        let status = response.status().as_u16();
        let reason = header("x-jwtd-reason");
        let retry_after = header("retry-after");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            reason,
            retry_after,
            json: serde_json::from_slice(&body).unwrap_or(Value::Null),
        }
    }

    async fn post(&self, server: &Server, path: &str, body: Value) -> Reply {
        self.send("POST", &format!("{}{path}", server.base), Some(body), None)
            .await
    }

    async fn login(&self, server: &Server, username: &str, password: &str) -> (String, String) {
        let body = json!({ "username": username, "password": password });
        let reply = self.post(server, "/token", body).await;
        assert_eq!(reply.status, 200, "login: {reply:?}");
        (
            reply.json["refresh"].as_str().unwrap().to_owned(),
            reply.json["access"].as_str().unwrap().to_owned(),
        )
    }

    async fn refresh(&self, server: &Server, refresh: &str) -> Reply {
        self.post(server, "/token/refresh", json!({ "refresh": refresh }))
            .await
    }

    /// `POST /token/refresh` on a task of its own, to run many at once.
    fn spawn_refresh(&self, server: &Server, refresh: &str) -> tokio::task::JoinHandle<Reply> {
        let http = self.clone();
        let url = format!("{}/token/refresh", server.base);
        let body = json!({ "refresh": refresh });
        tokio::spawn(async move { http.send("POST", &url, Some(body), None).await })
    }

    async fn logout(&self, server: &Server, refresh: &str) -> Reply {
        self.post(server, "/logout", json!({ "refresh": refresh }))
            .await
    }

    async fn me(&self, server: &Server, access: &str) -> Reply {
        self.send("GET", &format!("{}/me", server.base), None, Some(access))
            .await
    }

    /// Polls `GET /me` until it answers `status`, for at most `deadline`; returns how long
    /// that took.
    async fn me_until(
        &self,
        server: &Server,
        access: &str,
        status: u16,
        deadline: Duration,
    ) -> Duration {
        let started = Instant::now();
        loop {
            let reply = self.me(server, access).await;
            if reply.status == status {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < deadline,
                "GET /me on {} still answers {:?} after {deadline:?}",
                server.base,
                reply
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A fresh schema, `count` instances started together on it with `extra` settings, and
/// `alice` (password `wonderland`); `None` when PostgreSQL is not configured.
async fn cluster(count: usize, extra: &[(&str, &str)]) -> Option<(Schema, Vec<Server>, Http)> {
    let schema = Schema::create().await?;
    let servers = schema.start(count, extra);
    schema.create_user("alice", "wonderland");
    Some((schema, servers, Http::new()))
}

/// simplejwt's refusal of a blacklisted token.
pub(crate) fn blacklisted() -> Value {
    json!({ "detail": "Token is blacklisted", "code": "token_not_valid" })
}

/// jwtd's answer when the database cannot serve a request right now.
pub(crate) fn unavailable() -> Value {
    json!({
        "detail": "Service temporarily unavailable, try again later.",
        "code": "service_unavailable",
    })
}

/// Runs a query returning one integer.
pub(crate) async fn count(db: &api::db::Database, sql: &str) -> i64 {
    db.read
        .query_one_raw(Statement::from_string(db.backend(), sql.to_owned()))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_starting_together_migrate_once_and_one_of_50_concurrent_refreshes_wins() {
    let Some((schema, servers, http)) = cluster(3, &[]).await else {
        return;
    };
    let db = schema.connect().await;
    let migrations = i64::try_from(Migrator::migrations().len()).unwrap();
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM seaql_migrations").await,
        migrations
    );
    for server in &servers {
        let (status, _) = crate::smoke::http_get(&format!("{}/readyz", server.base)).await;
        assert_eq!(status, 200);
    }

    let (refresh, _) = http.login(&servers[0], "alice", "wonderland").await;
    let attempts: Vec<_> = (0..50)
        .map(|i| http.spawn_refresh(&servers[i % 3], &refresh))
        .collect();
    let mut replies = Vec::new();
    for attempt in attempts {
        replies.push(attempt.await.unwrap());
    }
    let won: Vec<&Reply> = replies.iter().filter(|reply| reply.status == 200).collect();
    assert_eq!(won.len(), 1, "{replies:?}");
    for reply in replies.iter().filter(|reply| reply.status != 200) {
        assert_eq!(reply.status, 401, "{reply:?}");
        assert_eq!(reply.json, blacklisted());
    }
    // One successor was issued, and with no grace window the losers' reuse revoked it.
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM outstanding_tokens").await,
        2
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM token_families WHERE revoked_at IS NOT NULL"
        )
        .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_on_b_of_a_token_rotated_on_a_revokes_the_family_on_all_three() {
    let Some((_schema, servers, http)) = cluster(3, &[]).await else {
        return;
    };
    let (first, _) = http.login(&servers[0], "alice", "wonderland").await;
    let rotated = http.refresh(&servers[0], &first).await;
    assert_eq!(rotated.status, 200, "{rotated:?}");
    let second = rotated.json["refresh"].as_str().unwrap().to_owned();

    let replay = http.refresh(&servers[1], &first).await;
    assert_eq!(replay.status, 401);
    assert_eq!(replay.json, blacklisted());
    assert_eq!(replay.reason.as_deref(), Some("reuse_detected"));
    for server in &servers {
        let reply = http.refresh(server, &second).await;
        assert_eq!(reply.status, 401, "{} {reply:?}", server.base);
        assert_eq!(reply.json, blacklisted());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_and_logouts_made_on_a_are_seen_by_b_and_c() {
    let Some((_schema, servers, http)) = cluster(
        3,
        &[
            ("JWTD_REVOKE_ACCESS_ON_LOGOUT", "true"),
            ("JWTD_REVOCATION_POLL_INTERVAL", "1"),
        ],
    )
    .await
    else {
        return;
    };
    let [a, b, c] = &servers[..] else {
        unreachable!()
    };
    let (refresh, access) = http.login(a, "alice", "wonderland").await;
    let sid = claims(&access)["sid"].as_str().unwrap().to_owned();

    let listed = http
        .send("GET", &format!("{}/sessions", c.base), None, Some(&access))
        .await;
    assert_eq!(listed.status, 200);
    let ids: Vec<&str> = listed
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [sid.as_str()]);
    assert_eq!(listed.json[0]["current"], json!(true));
    for server in [b, c] {
        assert_eq!(http.me(server, &access).await.status, 200);
    }

    assert_eq!(http.logout(a, &refresh).await.status, 200);
    // The refresh token is refused everywhere at once: every instance reads the database.
    for server in [b, c] {
        let reply = http.refresh(server, &refresh).await;
        assert_eq!(reply.status, 401, "{reply:?}");
        assert_eq!(reply.json, blacklisted());
    }
    // The access token, within about the poll interval.
    for server in [b, c] {
        http.me_until(server, &access, 401, Duration::from_secs(10))
            .await;
        let reply = http.me(server, &access).await;
        assert_eq!(reply.reason.as_deref(), Some("family_revoked"));
    }
}

/// Holds the row lock of every family from another connection until dropped.
async fn lock_families(schema: &Schema) -> (api::db::Database, sea_orm::DatabaseTransaction) {
    let db = schema.connect().await;
    let txn = db.write.begin().await.unwrap();
    txn.execute_unprepared("SELECT id FROM token_families FOR UPDATE")
        .await
        .unwrap();
    (db, txn)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_timeout_on_a_locked_family_answers_503_and_leaves_no_half_rotation() {
    let Some((schema, servers, http)) =
        cluster(1, &[("JWTD_DATABASE_STATEMENT_TIMEOUT", "1")]).await
    else {
        return;
    };
    let (refresh, _) = http.login(&servers[0], "alice", "wonderland").await;
    let db = schema.connect().await;

    let (_holder, lock) = lock_families(&schema).await;
    let started = Instant::now();
    let reply = http.refresh(&servers[0], &refresh).await;
    assert_eq!(reply.status, 503, "{reply:?}");
    assert_eq!(reply.json, unavailable());
    assert_eq!(reply.retry_after.as_deref(), Some("1"));
    // Each attempt waited out the 1 s statement timeout; none ran unbounded.
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM outstanding_tokens").await,
        1
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM blacklisted_tokens").await,
        0
    );
    lock.rollback().await.unwrap();

    // Nothing of the failed attempts remains: the same token rotates normally.
    let reply = http.refresh(&servers[0], &refresh).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM outstanding_tokens").await,
        2
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM blacklisted_tokens").await,
        1
    );
}

/// One instance with a single database connection, given up on after 1 s of waiting.
async fn one_connection_instance() -> Option<(Schema, Vec<Server>, Http)> {
    cluster(
        1,
        &[
            ("JWTD_DATABASE_MAX_CONNECTIONS", "1"),
            ("JWTD_DATABASE_ACQUIRE_TIMEOUT", "1"),
            ("JWTD_DATABASE_STATEMENT_TIMEOUT", "30"),
        ],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_waits_longer_than_the_acquire_timeout_answers_503() {
    let Some((schema, servers, http)) = one_connection_instance().await else {
        return;
    };
    let (refresh, _) = http.login(&servers[0], "alice", "wonderland").await;

    let (_holder, lock) = lock_families(&schema).await;
    // This refresh takes the instance's only connection and waits on the row lock...
    let blocked = http.spawn_refresh(&servers[0], &refresh);
    // ...so a login finds no connection within the acquire timeout.
    let deadline = Instant::now() + Duration::from_secs(10);
    let login = loop {
        let reply = http
            .send(
                "POST",
                &format!("{}/token", servers[0].base),
                Some(json!({ "username": "alice", "password": "wonderland" })),
                None,
            )
            .await;
        if reply.status != 200 || Instant::now() > deadline {
            break reply;
        }
    };
    assert_eq!(login.status, 503, "{login:?}");
    assert_eq!(login.json, unavailable());
    lock.rollback().await.unwrap();
    let reply = blocked.await.unwrap();
    assert_eq!(reply.status, 200, "{reply:?}");
}

/// A `redis-server` of the test's own on a Unix socket, killed on drop.
struct Redis {
    child: Child,
    socket: PathBuf,
}

impl Redis {
    fn start(dir: &Path) -> Option<Self> {
        let socket = dir.join("redis.sock");
        let child = match Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--save",
                "",
                "--appendonly",
                "no",
                "--unixsocket",
            ])
            .arg(&socket)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(_) => {
                eprintln!("SKIPPED: redis-server is not installed");
                return None;
            }
        };
        let redis = Self { child, socket };
        let started = Instant::now();
        while redis.cli(&["PING"]) != "PONG" {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(redis)
    }

    fn url(&self) -> String {
        format!("redis+unix://{}", self.socket.display())
    }

    fn cli(&self, args: &[&str]) -> String {
        Command::new("redis-cli")
            .arg("-s")
            .arg(&self.socket)
            .args(args)
            .output()
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
            .unwrap_or_default()
    }

    /// Waits until `count` instances subscribe to the revocation channel.
    fn await_subscribers(&self, count: usize) {
        let started = Instant::now();
        loop {
            let numsub = self.cli(&["PUBSUB", "NUMSUB", "jwtd:revocations"]);
            if numsub.lines().nth(1) == Some(count.to_string().as_str()) {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "subscribers: {numsub:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_a_logout_on_a_reaches_b_within_a_second_without_polling() {
    let Some(schema) = Schema::create().await else {
        return;
    };
    let Some(redis) = Redis::start(&schema.dir) else {
        return;
    };
    let url = redis.url();
    // Polling is hourly here: only Redis can carry the revocation in time.
    let servers = schema.start(
        2,
        &[
            ("JWTD_REVOKE_ACCESS_ON_LOGOUT", "true"),
            ("JWTD_REVOCATION_POLL_INTERVAL", "1h"),
            ("JWTD_REDIS_URL", url.as_str()),
        ],
    );
    redis.await_subscribers(2);
    schema.create_user("alice", "wonderland");
    let http = Http::new();
    let (refresh, access) = http.login(&servers[0], "alice", "wonderland").await;
    assert_eq!(http.me(&servers[1], &access).await.status, 200);

    assert_eq!(http.logout(&servers[0], &refresh).await.status, 200);
    let took = http
        .me_until(&servers[1], &access, 401, Duration::from_secs(5))
        .await;
    assert!(took < Duration::from_secs(1), "took {took:?}");

    // One key per revoked family, living as long as the family's access tokens can.
    let sid = claims(&access)["sid"].as_str().unwrap().to_owned();
    let ttl: i64 = redis
        .cli(&["TTL", &format!("jwtd:revoked:{sid}")])
        .parse()
        .unwrap();
    assert!((1..=300).contains(&ttl), "ttl {ttl}");

    // An instance started later learns it from the keys, with no message and no poll.
    let late = schema.start(
        1,
        &[
            ("JWTD_REVOKE_ACCESS_ON_LOGOUT", "true"),
            ("JWTD_REVOCATION_POLL_INTERVAL", "1h"),
            ("JWTD_REDIS_URL", url.as_str()),
        ],
    );
    http.me_until(&late[0], &access, 401, Duration::from_secs(5))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_revocations_fall_back_to_database_polling() {
    let Some(schema) = Schema::create().await else {
        return;
    };
    let Some(mut redis) = Redis::start(&schema.dir) else {
        return;
    };
    let url = redis.url();
    let env = [
        ("JWTD_REVOKE_ACCESS_ON_LOGOUT", "true"),
        ("JWTD_REVOCATION_POLL_INTERVAL", "1"),
        ("JWTD_REDIS_URL", url.as_str()),
    ];
    let servers = schema.start(2, &env);
    redis.await_subscribers(2);
    schema.create_user("alice", "wonderland");
    let http = Http::new();
    let (refresh, access) = http.login(&servers[0], "alice", "wonderland").await;
    let (other_refresh, other_access) = http.login(&servers[1], "alice", "wonderland").await;

    redis.stop();
    // An instance whose Redis is unreachable from the start still comes up and serves.
    let late = schema.start(1, &env);
    assert_eq!(http.me(&late[0], &access).await.status, 200);

    // Logging out does not depend on Redis: the revocation is in the database...
    assert_eq!(http.logout(&servers[0], &refresh).await.status, 200);
    assert_eq!(http.logout(&late[0], &other_refresh).await.status, 200);
    // ...and every instance picks it up from there within about the poll interval.
    for server in servers.iter().chain(&late) {
        http.me_until(server, &access, 401, Duration::from_secs(10))
            .await;
        http.me_until(server, &other_access, 401, Duration::from_secs(10))
            .await;
    }
}

/// Storage per rotation on PostgreSQL, for the capacity estimate in the README. Run by
/// hand: `JWTD_TEST_POSTGRES_URL=... cargo test -p integration-tests --test api --release
/// -- --ignored --nocapture bytes_per_rotation`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run by hand"]
async fn bytes_per_rotation_on_postgres() {
    use integration_tests::{Backend, TestApp};
    const SESSIONS: usize = 1000;
    const ROTATIONS_PER_SESSION: usize = 20;
    let Some(backend) = Backend::postgres() else {
        eprintln!("SKIPPED: JWTD_TEST_POSTGRES_URL is not set");
        return;
    };
    let app = TestApp::spawn(backend).await;
    app.create_user("alice", "wonderland").await;
    let sizes = |app: &TestApp| {
        let db = app.state.db.clone();
        async move {
            let mut sizes = Vec::new();
            for table in [
                "token_families",
                "outstanding_tokens",
                "blacklisted_tokens",
                "auth_events",
            ] {
                let heap = format!("SELECT pg_table_size('{table}')::bigint");
                let total = format!("SELECT pg_total_relation_size('{table}')::bigint");
                sizes.push((table, count(&db, &heap).await, count(&db, &total).await));
            }
            // WAL written so far (server-wide: run it on an otherwise idle server).
            let wal = "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint";
            sizes.push(("WAL", 0, count(&db, wal).await));
            sizes
        }
    };
    let empty = sizes(&app).await;
    let mut tokens = Vec::new();
    for _ in 0..SESSIONS {
        let login = app.login("alice", "wonderland").await;
        tokens.push(login.str("refresh"));
    }
    let logged_in = sizes(&app).await;
    for _ in 0..ROTATIONS_PER_SESSION {
        for token in &mut tokens {
            let reply = app.refresh(token).await;
            assert_eq!(reply.status, 200, "{}", reply.text);
            *token = reply.str("refresh");
        }
    }
    let rotated = sizes(&app).await;
    let rotations = i64::try_from(SESSIONS * ROTATIONS_PER_SESSION).unwrap();
    let sessions = i64::try_from(SESSIONS).unwrap();
    println!("{SESSIONS} logins, then {rotations} rotations:");
    println!(
        "table                 per login (table / +indexes)   per rotation (table / +indexes)"
    );
    for ((before, after), last) in empty.iter().zip(&logged_in).zip(&rotated) {
        println!(
            "{:<20}  {:>8} / {:>8} B              {:>8} / {:>8} B",
            before.0,
            (after.1 - before.1) / sessions,
            (after.2 - before.2) / sessions,
            (last.1 - after.1) / rotations,
            (last.2 - after.2) / rotations,
        );
    }
}

/// Holds the row lock of the family of `token` from another connection until dropped, and
/// returns that connection's backend pid.
async fn lock_family_of(
    schema: &Schema,
    token: &str,
) -> (api::db::Database, sea_orm::DatabaseTransaction, i32) {
    let db = schema.connect().await;
    let txn = db.write.begin().await.unwrap();
    let family = claims(token)["sid"].as_str().unwrap().to_owned();
    txn.execute_unprepared(&format!(
        "SELECT id FROM token_families WHERE id = '{family}' FOR UPDATE"
    ))
    .await
    .unwrap();
    let pid = txn
        .query_one_raw(Statement::from_string(
            db.backend(),
            "SELECT pg_backend_pid()".to_owned(),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i32>(0)
        .unwrap();
    (db, txn, pid)
}

/// Waits until some backend waits for a lock that backend `holder` holds.
async fn until_blocked_by(db: &api::db::Database, holder: i32) {
    let blocked = format!(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE {holder} = ANY(pg_blocking_pids(pid))"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while count(db, &blocked).await == 0 {
        assert!(Instant::now() < deadline, "nothing waits for the held lock");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A rotation batch that gets no connection within the acquire timeout answers 503 (not
/// 500, not a hang), and the token it could not rotate stays usable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_batch_that_finds_no_connection_answers_503() {
    let Some((schema, servers, http)) = one_connection_instance().await else {
        return;
    };
    let (held, _) = http.login(&servers[0], "alice", "wonderland").await;
    let (other, _) = http.login(&servers[0], "alice", "wonderland").await;
    let (db, lock, holder) = lock_family_of(&schema, &held).await;
    // The batch skips the held family; its rotation, run alone, takes the instance's only
    // connection and waits on the row lock...
    let blocked = http.spawn_refresh(&servers[0], &held);
    until_blocked_by(&db, holder).await;
    // ...so the next batch finds no connection.
    let reply = http.refresh(&servers[0], &other).await;
    assert_eq!(reply.status, 503, "{reply:?}");
    assert_eq!(reply.json, unavailable());
    assert_eq!(reply.retry_after.as_deref(), Some("1"));

    lock.rollback().await.unwrap();
    assert_eq!(blocked.await.unwrap().status, 200);
    let reply = http.refresh(&servers[0], &other).await;
    assert_eq!(reply.status, 200, "{reply:?}");
}
