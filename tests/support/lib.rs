//! Test support: `TestApp` runs the real router over a real, fresh database, SQLite always
//! and PostgreSQL (or MySQL) when `JWTD_TEST_POSTGRES_URL` (`JWTD_TEST_MYSQL_URL`) is set.
//!
//! Tests drive the router with `tower::ServiceExt::oneshot` through typed helpers; the
//! `backend_tests!` macro runs each test once per available database.

#![expect(
    clippy::expect_used,
    reason = "test support: a failed setup must fail the test loudly"
)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use api::clock::ManualClock;
use api::db::{self, Database, DbOptions};
use api::passwords::Passwords;
use api::revocations::RevokedSessions;
use api::{AppState, HttpSettings, Parts};
use auth_core::{Algorithm, Keys, PasswordHasher, TokenCodec, TokenSettings};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use migration::{Migrator, MigratorTrait};
use sea_orm::ConnectionTrait;
use serde_json::Value;
use tower::ServiceExt;

pub use serde_json::json;

/// The signing key every test app uses, so tests can forge tokens with it.
pub const TEST_KEY: &[u8] = b"jwtd-test-signing-key-0123456789abcdef";

/// A fixed start time for the test clock: 2027-01-15T08:00:00Z.
pub const T0: i64 = 1_800_000_000;

/// Which database a test runs on.
#[derive(Clone, Debug)]
pub enum Backend {
    /// A SQLite file in a fresh temporary directory.
    Sqlite,
    /// A fresh schema in the PostgreSQL database at this URL.
    Postgres(String),
    /// A fresh database on the MySQL/MariaDB server at this URL.
    Mysql(String),
}

impl Backend {
    /// PostgreSQL, if `JWTD_TEST_POSTGRES_URL` is set.
    pub fn postgres() -> Option<Self> {
        std::env::var("JWTD_TEST_POSTGRES_URL")
            .ok()
            .filter(|url| !url.is_empty())
            .map(Backend::Postgres)
    }

    /// MySQL/MariaDB, if `JWTD_TEST_MYSQL_URL` is set.
    pub fn mysql() -> Option<Self> {
        std::env::var("JWTD_TEST_MYSQL_URL")
            .ok()
            .filter(|url| !url.is_empty())
            .map(Backend::Mysql)
    }
}

/// Runs each listed `async fn(Backend)` as one test per database: `sqlite::name` always,
/// `postgres::name` and `mysql::name` when their URLs are set (otherwise they print that
/// they were skipped, and `make test` says so too).
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    match $crate::Backend::postgres() {
                        Some(backend) => super::$name(backend).await,
                        None => eprintln!("SKIPPED: JWTD_TEST_POSTGRES_URL is not set"),
                    }
                }
            )*
        }
        mod mysql {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    match $crate::Backend::mysql() {
                        Some(backend) => super::$name(backend).await,
                        None => eprintln!("SKIPPED: JWTD_TEST_MYSQL_URL is not set"),
                    }
                }
            )*
        }
    };
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name no other test in any run uses.
pub fn unique_name(prefix: &str) -> String {
    let random: u32 = rand::random();
    format!(
        "{prefix}_{}_{}_{random:08x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// The pool timeouts of a test database on a shared server. The product's 5 s defaults
/// answer 503 under load; a test on a machine busy with other tests and builds is not about
/// that (the tests that are set their own timeouts), so it waits longer instead of failing.
const SHARED_SERVER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A fresh database; removed when dropped.
pub struct TestDb {
    /// The connection options a server would use.
    pub options: DbOptions,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(PathBuf),
    PostgresSchema { url: String, schema: String },
    MysqlDatabase { url: String, database: String },
}

fn admin_mysql_url(url: &str, database: &str) -> String {
    // Replace the path of mysql://user@host:port/path with the database name.
    match url
        .find("://")
        .and_then(|start| url[start + 3..].find('/').map(|slash| start + 3 + slash))
    {
        Some(slash) => format!("{}/{database}", &url[..slash]),
        None => format!("{url}/{database}"),
    }
}

impl TestDb {
    /// Creates a fresh, migrated database on `backend`.
    pub async fn create(backend: &Backend) -> (Self, Database) {
        let (options, cleanup) = match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(unique_name("jwtd_test"));
                std::fs::create_dir_all(&dir).expect("temp dir");
                let url = format!("sqlite://{}", dir.join("jwtd.db").display());
                (DbOptions::new(url), Cleanup::Dir(dir))
            }
            Backend::Postgres(url) => {
                let schema = unique_name("jwtd_test");
                let admin = sea_orm::Database::connect(url.as_str())
                    .await
                    .expect("connect to JWTD_TEST_POSTGRES_URL");
                admin
                    .execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
                    .await
                    .expect("create schema");
                admin.close().await.ok();
                let mut options = DbOptions::new(url.clone());
                options.schema = Some(schema.clone());
                options.max_connections = 20;
                options.acquire_timeout = SHARED_SERVER_TIMEOUT;
                options.statement_timeout = SHARED_SERVER_TIMEOUT;
                (
                    options,
                    Cleanup::PostgresSchema {
                        url: url.clone(),
                        schema,
                    },
                )
            }
            Backend::Mysql(url) => {
                let database = unique_name("jwtd_test");
                let admin = sea_orm::Database::connect(url.as_str())
                    .await
                    .expect("connect to JWTD_TEST_MYSQL_URL");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE `{database}`"))
                    .await
                    .expect("create database");
                admin.close().await.ok();
                let mut options = DbOptions::new(admin_mysql_url(url, &database));
                options.max_connections = 20;
                options.acquire_timeout = SHARED_SERVER_TIMEOUT;
                options.statement_timeout = SHARED_SERVER_TIMEOUT;
                (
                    options,
                    Cleanup::MysqlDatabase {
                        url: url.clone(),
                        database,
                    },
                )
            }
        };
        let db = db::connect(&options)
            .await
            .expect("connect to test database");
        Migrator::up(&db.write, None).await.expect("migrate");
        (Self { options, cleanup }, db)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let statement = match &self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
                return;
            }
            Cleanup::PostgresSchema { url, schema } => (
                url.clone(),
                format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"),
            ),
            Cleanup::MysqlDatabase { url, database } => {
                (url.clone(), format!("DROP DATABASE IF EXISTS `{database}`"))
            }
        };
        // Drop cannot be async: run the cleanup on a runtime of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cleanup runtime");
            runtime.block_on(async {
                if let Ok(admin) = sea_orm::Database::connect(statement.0.as_str()).await {
                    let _ = admin.execute_unprepared(&statement.1).await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}

/// Settings a test may change before its app starts.
#[derive(Clone, Debug)]
pub struct TestConfig {
    /// Token settings.
    pub tokens: TokenSettings,
    /// HTTP settings.
    pub http: HttpSettings,
    /// Signing algorithm.
    pub algorithm: Algorithm,
    /// Signing key.
    pub key: Vec<u8>,
    /// The argon2id memory cost, KiB: tiny by default, for speed.
    pub argon2_memory_kib: u32,
    /// Keys that replace `algorithm` and `key` when set (public-key algorithms).
    pub keys: Option<Keys>,
}

/// The page origin that cookie-mode tests allow.
pub const PAGE_ORIGIN: &str = "https://app.example.test";

impl TestConfig {
    /// Cookie mode on with its default cookies, and `PAGE_ORIGIN` allowed.
    pub fn cookie_mode(&mut self) {
        self.http.refresh_cookie = Some(api::cookies::CookieSettings::default());
        self.http.cors_allowed_origins =
            vec![api::cors::AllowedOrigin::parse(PAGE_ORIGIN).expect("an origin")];
    }
}

impl Default for TestConfig {
    fn default() -> Self {
        Self {
            tokens: TokenSettings::default(),
            http: HttpSettings::default(),
            algorithm: Algorithm::HS256,
            key: TEST_KEY.to_vec(),
            argon2_memory_kib: 256,
            keys: None,
        }
    }
}

/// The real router over a fresh database, with a clock the test moves.
pub struct TestApp {
    /// The router under test.
    pub router: Router,
    /// The state behind it.
    pub state: AppState,
    /// The clock; starts at `T0`.
    pub clock: Arc<ManualClock>,
    /// The codec, for forging and decoding tokens.
    pub codec: Arc<TokenCodec>,
    /// The database (kept alive for the test's length).
    pub db: TestDb,
}

/// A response, read whole.
#[derive(Debug)]
pub struct TestResponse {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body, parsed as JSON (`Value::Null` when empty or not JSON).
    pub json: Value,
    /// Body, raw.
    pub text: String,
}

impl TestResponse {
    /// A string field of the JSON body.
    pub fn str(&self, field: &str) -> String {
        self.json[field]
            .as_str()
            .unwrap_or_else(|| panic!("no string {field:?} in {}", self.text))
            .to_owned()
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|value| value.to_str().unwrap_or_default().to_owned())
    }

    /// Every `Set-Cookie` header, in order.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|value| value.to_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// The `Set-Cookie` header that sets the cookie `name`, whole.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        let prefix = format!("{name}=");
        self.set_cookies()
            .into_iter()
            .find(|cookie| cookie.starts_with(&prefix))
    }

    /// The value this response sets the cookie `name` to.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookie(name).map(|cookie| {
            let value = &cookie[name.len() + 1..];
            value.split(';').next().unwrap_or_default().to_owned()
        })
    }

    /// Asserts a 200, showing the body if not; returns the response for reading.
    #[track_caller]
    pub fn assert_ok(self) -> Self {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text);
        self
    }

    /// Asserts the status and the exact body text.
    #[track_caller]
    pub fn assert(&self, status: StatusCode, body: &str) {
        assert_eq!(
            (self.status, self.text.as_str()),
            (status, body),
            "unexpected response"
        );
    }

    /// Asserts a 401 with the exact body and simplejwt's `WWW-Authenticate: Bearer realm="api"`.
    #[track_caller]
    pub fn assert_401(&self, body: &str) {
        self.assert(StatusCode::UNAUTHORIZED, body);
        assert_eq!(
            self.header("www-authenticate").as_deref(),
            Some(r#"Bearer realm="api""#),
            "a 401 must name the scheme"
        );
    }

    /// Asserts simplejwt's token-view refusal: 401 `{"detail": detail, "code": "token_not_valid"}`.
    #[track_caller]
    pub fn assert_token_not_valid(&self, detail: &str) {
        self.assert_401(&json!({ "detail": detail, "code": "token_not_valid" }).to_string());
    }

    /// Asserts a refused refresh token: simplejwt's 401 "Token is blacklisted", with jwtd's
    /// machine-readable `reason` in the `x-jwtd-reason` header.
    #[track_caller]
    pub fn assert_blacklisted(&self, reason: &str) {
        self.assert_token_not_valid("Token is blacklisted");
        assert_eq!(
            self.header("x-jwtd-reason").as_deref(),
            Some(reason),
            "x-jwtd-reason"
        );
    }

    /// Asserts `JWTAuthentication`'s refusal of a Bearer token: 401 with one `messages` entry
    /// for `AccessToken` carrying `message`.
    #[track_caller]
    pub fn assert_bearer_refused(&self, message: &str) {
        self.assert_401(
            &json!({
                "detail": "Given token not valid for any token type",
                "code": "token_not_valid",
                "messages": [{
                    "token_class": "AccessToken",
                    "token_type": "access",
                    "message": message,
                }],
            })
            .to_string(),
        );
    }
}

/// simplejwt's answer to a refresh for a user that is gone or inactive.
pub const NO_ACCOUNT_FOR_TOKEN: &str =
    r#"{"detail":"No active account found for the given token."}"#;

/// `TokenVerifyView`'s answer for a blacklisted token.
pub const VERIFY_BLACKLISTED: &str = r#"{"non_field_errors":["Token is blacklisted"]}"#;

/// A body to send.
pub enum Send {
    /// `application/json` from a value.
    Json(Value),
    /// Raw bytes with a content type (or none).
    Raw(Option<&'static str>, Vec<u8>),
    /// No body.
    Empty,
}

impl TestApp {
    /// An app with default settings.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// An app with settings changed by `configure`.
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut TestConfig)) -> Self {
        let mut config = TestConfig::default();
        configure(&mut config);
        let (test_db, db) = TestDb::create(&backend).await;
        let keys = match config.keys {
            Some(keys) => keys,
            None => Keys::hmac(config.algorithm, &config.key).expect("keys"),
        };
        let codec = Arc::new(TokenCodec::new(config.tokens.clone(), keys));
        let clock = Arc::new(ManualClock::new(T0));
        let hasher = PasswordHasher::new(config.argon2_memory_kib, 1, 1, [9; 16]).expect("hasher");
        let state = api::assemble(Parts {
            db,
            codec: Arc::clone(&codec),
            passwords: Passwords::new(hasher, 2).expect("argon2 threads"),
            http: config.http,
            clock: clock.clone(),
            revoked: Arc::new(RevokedSessions::new()),
        })
        .expect("open the token store");
        Self {
            router: api::router(state.clone()),
            state,
            clock,
            codec,
            db: test_db,
        }
    }

    /// Sends a request through the router.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Send,
        headers: &[(&str, &str)],
    ) -> TestResponse {
        self.request_from(None, method, path, body, headers).await
    }

    /// Sends a request through the router as if it came over a socket from `peer` (what
    /// the server's `ConnectInfo` gives; without one, the client has no address).
    pub async fn request_from(
        &self,
        peer: Option<SocketAddr>,
        method: Method,
        path: &str,
        body: Send,
        headers: &[(&str, &str)],
    ) -> TestResponse {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(peer) = peer {
            builder = builder.extension(axum::extract::ConnectInfo(peer));
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let body = match body {
            Send::Json(value) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                Body::from(serde_json::to_vec(&value).expect("json"))
            }
            Send::Raw(content_type, bytes) => {
                if let Some(content_type) = content_type {
                    builder = builder.header(header::CONTENT_TYPE, content_type);
                }
                Body::from(bytes)
            }
            Send::Empty => Body::empty(),
        };
        let response = self
            .router
            .clone()
            .oneshot(builder.body(body).expect("request"))
            .await
            .expect("router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        TestResponse {
            status,
            headers,
            json,
            text,
        }
    }

    /// POSTs a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> TestResponse {
        self.request(Method::POST, path, Send::Json(body), &[])
            .await
    }

    /// GETs with a Bearer access token.
    pub async fn get_authed(&self, path: &str, access: &str) -> TestResponse {
        self.send_authed(Method::GET, path, access).await
    }

    /// Sends `method` to `path` with no body and a Bearer access token.
    pub async fn send_authed(&self, method: Method, path: &str, access: &str) -> TestResponse {
        let header = format!("Bearer {access}");
        self.request(method, path, Send::Empty, &[("authorization", &header)])
            .await
    }

    /// Creates an active user and returns its id.
    pub async fn create_user(&self, username: &str, password: &str) -> i64 {
        let hash = self
            .state
            .passwords
            .hash(password.to_owned())
            .await
            .expect("hash");
        api::users::create(&self.state.db.write, username, &hash, T0)
            .await
            .expect("create user")
            .id
    }

    /// `POST /token`.
    pub async fn login(&self, username: &str, password: &str) -> TestResponse {
        self.post(
            "/token",
            json!({ "username": username, "password": password }),
        )
        .await
    }

    /// Creates `alice` (password `wonderland`), logs in, and returns `(refresh, access)`.
    pub async fn alice(&self) -> (String, String) {
        self.create_user("alice", "wonderland").await;
        let response = self.login("alice", "wonderland").await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text);
        (response.str("refresh"), response.str("access"))
    }

    /// `POST /token/refresh`.
    pub async fn refresh(&self, refresh: &str) -> TestResponse {
        self.post("/token/refresh", json!({ "refresh": refresh }))
            .await
    }

    /// `POST /token/verify`.
    pub async fn verify(&self, token: &str) -> TestResponse {
        self.post("/token/verify", json!({ "token": token })).await
    }

    /// `POST /logout`.
    pub async fn logout(&self, refresh: &str) -> TestResponse {
        self.post("/logout", json!({ "refresh": refresh })).await
    }

    /// GETs `path` with the `Authorization` header set to exactly `value`.
    pub async fn get_with_authorization(&self, path: &str, value: &str) -> TestResponse {
        self.request(Method::GET, path, Send::Empty, &[("authorization", value)])
            .await
    }

    /// Activates or deactivates a user through `api::users`, as the server would.
    pub async fn set_active(&self, id: i64, active: bool) {
        let found = api::users::set_active(
            &self.state.db.write,
            &self.state.users,
            auth_core::UserId(id),
            active,
        )
        .await
        .expect("set is_active");
        assert!(found, "no user {id}");
    }

    /// Deletes a user row (its outstanding tokens keep a NULL owner, as in simplejwt).
    pub async fn delete_user(&self, id: i64) {
        self.execute(&format!("DELETE FROM users WHERE id = {id}"))
            .await;
    }

    /// Runs one SQL statement.
    pub async fn execute(&self, sql: &str) {
        self.state
            .db
            .write
            .execute_unprepared(sql)
            .await
            .expect("statement");
    }

    /// Runs a query returning one text value, e.g. `SELECT reason FROM ...`.
    pub async fn text(&self, sql: &str) -> String {
        self.scalar(sql).await
    }

    /// Runs a query returning one integer, e.g. `SELECT COUNT(*) FROM ...`.
    pub async fn count(&self, sql: &str) -> i64 {
        self.scalar(sql).await
    }

    async fn scalar<T: sea_orm::TryGetable>(&self, sql: &str) -> T {
        let row = self
            .state
            .db
            .read
            .query_one_raw(sea_orm::Statement::from_string(
                self.state.db.backend(),
                sql.to_owned(),
            ))
            .await
            .expect("query")
            .expect("a row");
        row.try_get_by_index::<T>(0)
            .expect("a value of the expected type")
    }
}

/// The bytes of a test key under `tests/fixtures/keys`.
pub fn key_fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/keys")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// The path of a test key under `tests/fixtures/keys`.
pub fn key_fixture_path(name: &str) -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/keys")
        .join(name)
}

/// The key pair fixture (`NAME.key.pem`, `NAME.pub.pem`) for each public-key algorithm.
pub fn key_pair_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::ES256 => "p256-a",
        Algorithm::ES384 => "p384-a",
        Algorithm::EdDSA => "ed25519-a",
        _ => "rsa-a",
    }
}

/// Keys signing with the private key fixture `signing` (`NAME.key.pem`) and verifying with
/// the public key fixtures `verifying` (`NAME.pub.pem`).
pub fn pem_keys(algorithm: Algorithm, signing: &str, verifying: &[&str]) -> Keys {
    let private = key_fixture(&format!("{signing}.key.pem"));
    let publics: Vec<Vec<u8>> = verifying
        .iter()
        .map(|name| key_fixture(&format!("{name}.pub.pem")))
        .collect();
    let slices: Vec<&[u8]> = publics.iter().map(Vec::as_slice).collect();
    Keys::from_pem(algorithm, &private, &slices).expect("keys from the fixtures")
}

/// Decodes a JWT's payload without checking anything (to look at claims).
pub fn claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("json payload")
}

/// Decodes a JWT's header without checking anything.
pub fn jwt_header(token: &str) -> Value {
    use base64::Engine;
    let header = token.split('.').next().expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("json header")
}

/// An unsecured JWT (`"alg":"none"`, empty signature) carrying `claims`.
pub fn unsigned(claims: &Value) -> String {
    use base64::Engine;
    let encode = |value: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(value).expect("json"))
    };
    format!(
        "{}.{}.",
        encode(&json!({ "alg": "none", "typ": "JWT" })),
        encode(claims)
    )
}

/// Signs arbitrary claims with the test key and algorithm HS256 (to forge edge cases).
pub fn sign(claims: &Value) -> String {
    sign_with(claims, jsonwebtoken::Algorithm::HS256, TEST_KEY)
}

/// Signs arbitrary claims with any HMAC algorithm and key.
pub fn sign_with(claims: &Value, algorithm: jsonwebtoken::Algorithm, key: &[u8]) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(algorithm),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(key),
    )
    .expect("sign")
}
