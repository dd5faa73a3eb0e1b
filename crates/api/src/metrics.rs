//! What jwtd measures, exposed at `/metrics` in the Prometheus text format through the
//! `prometheus` crate.
//!
//! Each [`Metrics`] has a registry of its own (so two servers in one process, as in the
//! tests, count apart); counting is one relaxed atomic increment on a handle resolved once.
//! Gauges that describe the present (database pools, revoked sessions) are read when
//! `/metrics` is scraped, not kept up to date on the request path.

mod batches;
mod http;

use std::sync::Mutex;

use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};
use sea_orm::DbBackend;

use crate::AppState;
use crate::db::Database;

pub use batches::record_batch_size;
pub use http::UNMATCHED_ROUTE;

/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

/// One counted thing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Count {
    /// A login succeeded.
    LoginSucceeded,
    /// A login failed.
    LoginFailed,
    /// A refresh rotated its token.
    RefreshRotated,
    /// A refresh inside the grace window got the existing successor.
    RefreshReplayed,
    /// A refresh with rotation off.
    RefreshWithoutRotation,
    /// A refresh was refused.
    RefreshRefused,
    /// A replay revoked a family.
    ReuseDetected,
    /// A logout.
    Logout,
    /// A `/token/verify` call.
    Verification,
    /// A Bearer token was refused.
    AuthenticationRefused,
    /// A request was refused for exceeding a rate limit.
    RateLimited,
}

/// The counters, gauges and histograms of one server.
pub struct Metrics {
    registry: Registry,
    logins_succeeded: IntCounter,
    logins_failed: IntCounter,
    refreshes_rotated: IntCounter,
    refreshes_replayed: IntCounter,
    refreshes_not_rotated: IntCounter,
    refreshes_refused: IntCounter,
    reuse_detected: IntCounter,
    logouts: IntCounter,
    verifications: IntCounter,
    authentications_refused: IntCounter,
    rate_limited: IntCounter,
    security_events: IntCounterVec,
    access_issued: IntCounter,
    refresh_issued: IntCounter,
    /// Derived when scraped from the counters above and the rotation setting.
    blacklisted: IntCounterVec,
    revoked_sessions: IntGauge,
    pool_open: IntGaugeVec,
    pool_in_use: IntGaugeVec,
    pool_max: IntGaugeVec,
    http: http::HttpMetrics,
    /// Scrapes set the derived values; one at a time keeps them consistent.
    scrape: Mutex<()>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    #[expect(
        clippy::expect_used,
        reason = "the names, labels and buckets are constants: every test that builds an app \
                  would fail first"
    )]
    fn default() -> Self {
        Self::new().expect("valid metric definitions")
    }
}

/// Registers a metric and hands it back.
fn registered<M: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: M,
) -> prometheus::Result<M> {
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

fn counter_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntCounterVec> {
    registered(registry, IntCounterVec::new(Opts::new(name, help), labels)?)
}

fn counter(registry: &Registry, name: &str, help: &str) -> prometheus::Result<IntCounter> {
    registered(registry, IntCounter::new(name, help)?)
}

fn gauge_vec(registry: &Registry, name: &str, help: &str) -> prometheus::Result<IntGaugeVec> {
    registered(
        registry,
        IntGaugeVec::new(Opts::new(name, help), &["pool"])?,
    )
}

impl Metrics {
    /// A registry with every jwtd metric, all at zero.
    ///
    /// # Errors
    /// When a definition is invalid (a programming error: they are constants).
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new();
        let logins = counter_vec(
            &registry,
            "jwtd_logins_total",
            "Logins by outcome.",
            &["outcome"],
        )?;
        let refreshes = counter_vec(
            &registry,
            "jwtd_refreshes_total",
            "Refreshes by outcome: rotated, replayed (inside the grace window), not_rotated \
             (rotation off), refused.",
            &["outcome"],
        )?;
        let issued = counter_vec(
            &registry,
            "jwtd_tokens_issued_total",
            "Tokens minted, by type.",
            &["type"],
        )?;
        let blacklisted = counter_vec(
            &registry,
            "jwtd_tokens_blacklisted_total",
            "Refresh tokens blacklisted by a rotation or a logout (tokens of families revoked \
             for reuse are counted in jwtd_reuse_detected_total).",
            &["reason"],
        )?;
        let metrics = Self {
            logins_succeeded: logins.get_metric_with_label_values(&["succeeded"])?,
            logins_failed: logins.get_metric_with_label_values(&["failed"])?,
            refreshes_rotated: refreshes.get_metric_with_label_values(&["rotated"])?,
            refreshes_replayed: refreshes.get_metric_with_label_values(&["replayed"])?,
            refreshes_not_rotated: refreshes.get_metric_with_label_values(&["not_rotated"])?,
            refreshes_refused: refreshes.get_metric_with_label_values(&["refused"])?,
            reuse_detected: counter(
                &registry,
                "jwtd_reuse_detected_total",
                "Replays of rotated refresh tokens that revoked a session (its family).",
            )?,
            logouts: counter(&registry, "jwtd_logouts_total", "Successful logouts.")?,
            verifications: counter(
                &registry,
                "jwtd_verifications_total",
                "Calls to /token/verify.",
            )?,
            authentications_refused: counter(
                &registry,
                "jwtd_authentications_refused_total",
                "Bearer tokens refused.",
            )?,
            rate_limited: counter(
                &registry,
                "jwtd_rate_limited_total",
                "Requests refused for exceeding a rate limit.",
            )?,
            security_events: counter_vec(
                &registry,
                "jwtd_security_events_total",
                "Security events recorded in auth_events, by kind (rotation_grace_replay, \
                 reuse_detected, login_failed, ...).",
                &["event"],
            )?,
            access_issued: issued.get_metric_with_label_values(&["access"])?,
            refresh_issued: issued.get_metric_with_label_values(&["refresh"])?,
            blacklisted,
            revoked_sessions: registered(
                &registry,
                IntGauge::new(
                    "jwtd_revoked_sessions",
                    "Sessions in the in-memory revoked set.",
                )?,
            )?,
            pool_open: gauge_vec(
                &registry,
                "jwtd_db_pool_connections",
                "Open database connections, by pool.",
            )?,
            pool_in_use: gauge_vec(
                &registry,
                "jwtd_db_pool_connections_in_use",
                "Database connections lent out, by pool.",
            )?,
            pool_max: gauge_vec(
                &registry,
                "jwtd_db_pool_max_connections",
                "The most connections a pool opens.",
            )?,
            http: http::HttpMetrics::register(&registry)?,
            scrape: Mutex::new(()),
            registry,
        };
        batches::register(&metrics.registry)?;
        Ok(metrics)
    }

    /// Adds one.
    pub fn add(&self, count: Count) {
        match count {
            Count::LoginSucceeded => {
                self.logins_succeeded.inc();
                self.access_issued.inc();
                self.refresh_issued.inc();
            }
            Count::LoginFailed => self.logins_failed.inc(),
            Count::RefreshRotated => {
                self.refreshes_rotated.inc();
                self.access_issued.inc();
                self.refresh_issued.inc();
            }
            Count::RefreshReplayed => {
                // The successor already exists: only a new access token is minted.
                self.refreshes_replayed.inc();
                self.access_issued.inc();
            }
            Count::RefreshWithoutRotation => {
                self.refreshes_not_rotated.inc();
                self.access_issued.inc();
            }
            Count::RefreshRefused => self.refreshes_refused.inc(),
            Count::ReuseDetected => self.reuse_detected.inc(),
            Count::Logout => self.logouts.inc(),
            Count::Verification => self.verifications.inc(),
            Count::AuthenticationRefused => self.authentications_refused.inc(),
            Count::RateLimited => self.rate_limited.inc(),
        }
    }

    /// Counts one recorded security event.
    pub fn add_event(&self, kind: crate::events::EventKind) {
        if let Ok(counter) = self
            .security_events
            .get_metric_with_label_values(&[kind.as_str()])
        {
            counter.inc();
        }
    }

    /// Counts one answered request: `route` is the matched path template (or
    /// [`UNMATCHED_ROUTE`]), never the raw URL.
    pub fn observe_request(
        &self,
        route: &str,
        method: &axum::http::Method,
        status: axum::http::StatusCode,
        elapsed: std::time::Duration,
    ) {
        self.http.observe(route, method, status, elapsed);
    }

    /// The Prometheus text exposition, with the gauges read from `state` now.
    pub fn render(&self, state: &AppState) -> String {
        let _one_scrape = self
            .scrape
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.revoked_sessions
            .set(i64::try_from(state.revoked.len()).unwrap_or(i64::MAX));
        self.read_pools(&state.db);
        // Rotation blacklists the old token exactly when BLACKLIST_AFTER_ROTATION is on, and
        // a logout blacklists the token it is given: derived here rather than counted twice.
        let rotated = if state.codec.settings().blacklist_after_rotation {
            self.refreshes_rotated.get()
        } else {
            0
        };
        for (reason, value) in [("rotation", rotated), ("logout", self.logouts.get())] {
            if let Ok(counter) = self.blacklisted.get_metric_with_label_values(&[reason]) {
                counter.reset();
                counter.inc_by(value);
            }
        }
        let mut text = String::new();
        if let Err(error) = TextEncoder::new().encode_utf8(&self.registry.gather(), &mut text) {
            tracing::error!(%error, "cannot encode the metrics");
        }
        text
    }

    fn read_pools(&self, db: &Database) {
        // The pool accessors panic on another backend: each is called only on its own.
        let pools = match db.backend() {
            DbBackend::Sqlite => vec![
                (
                    "write",
                    Occupancy::of(db.write.get_sqlite_connection_pool()),
                ),
                ("read", Occupancy::of(db.read.get_sqlite_connection_pool())),
            ],
            // For these, `read` and `write` are one pool.
            DbBackend::Postgres => vec![(
                "main",
                Occupancy::of(db.write.get_postgres_connection_pool()),
            )],
            DbBackend::MySql => vec![("main", Occupancy::of(db.write.get_mysql_connection_pool()))],
            // A backend jwtd does not connect to has no pool to show.
            _ => Vec::new(),
        };
        for (pool, occupancy) in pools {
            for (gauge, value) in [
                (&self.pool_open, occupancy.open),
                (&self.pool_in_use, occupancy.in_use),
                (&self.pool_max, occupancy.max),
            ] {
                if let Ok(gauge) = gauge.get_metric_with_label_values(&[pool]) {
                    gauge.set(value);
                }
            }
        }
    }
}

/// How full a connection pool is.
struct Occupancy {
    open: i64,
    in_use: i64,
    max: i64,
}

impl Occupancy {
    fn of<DB: sea_orm::sqlx::Database>(pool: &sea_orm::sqlx::Pool<DB>) -> Self {
        let open = i64::from(pool.size());
        let idle = i64::try_from(pool.num_idle()).unwrap_or(i64::MAX);
        Self {
            open,
            in_use: open.saturating_sub(idle).max(0),
            max: i64::from(pool.options().get_max_connections()),
        }
    }
}
