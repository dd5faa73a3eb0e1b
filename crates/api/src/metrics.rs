//! Counters exposed at `/metrics` in the Prometheus text format. Plain atomics: counting
//! costs one relaxed increment on the request path.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// What jwtd counts.
#[derive(Debug, Default)]
pub struct Metrics {
    logins_succeeded: AtomicU64,
    logins_failed: AtomicU64,
    refreshes_rotated: AtomicU64,
    refreshes_replayed: AtomicU64,
    refreshes_without_rotation: AtomicU64,
    refreshes_refused: AtomicU64,
    reuse_detected: AtomicU64,
    logouts: AtomicU64,
    verifications: AtomicU64,
    authentications_refused: AtomicU64,
}

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
}

impl Metrics {
    /// Adds one.
    pub fn add(&self, count: Count) {
        let counter = match count {
            Count::LoginSucceeded => &self.logins_succeeded,
            Count::LoginFailed => &self.logins_failed,
            Count::RefreshRotated => &self.refreshes_rotated,
            Count::RefreshReplayed => &self.refreshes_replayed,
            Count::RefreshWithoutRotation => &self.refreshes_without_rotation,
            Count::RefreshRefused => &self.refreshes_refused,
            Count::ReuseDetected => &self.reuse_detected,
            Count::Logout => &self.logouts,
            Count::Verification => &self.verifications,
            Count::AuthenticationRefused => &self.authentications_refused,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition, with `revoked_sessions` as a gauge.
    pub fn render(&self, revoked_sessions: usize) -> String {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut family = |name: &str, help: &str, kind: &str, samples: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        family(
            "jwtd_logins_total",
            "Logins by outcome.",
            "counter",
            &[
                ("{outcome=\"succeeded\"}", read(&self.logins_succeeded)),
                ("{outcome=\"failed\"}", read(&self.logins_failed)),
            ],
        );
        family(
            "jwtd_refreshes_total",
            "Refreshes by outcome.",
            "counter",
            &[
                ("{outcome=\"rotated\"}", read(&self.refreshes_rotated)),
                ("{outcome=\"replayed\"}", read(&self.refreshes_replayed)),
                (
                    "{outcome=\"not_rotated\"}",
                    read(&self.refreshes_without_rotation),
                ),
                ("{outcome=\"refused\"}", read(&self.refreshes_refused)),
            ],
        );
        family(
            "jwtd_reuse_detected_total",
            "Replays of rotated refresh tokens that revoked a session.",
            "counter",
            &[("", read(&self.reuse_detected))],
        );
        family(
            "jwtd_logouts_total",
            "Successful logouts.",
            "counter",
            &[("", read(&self.logouts))],
        );
        family(
            "jwtd_verifications_total",
            "Calls to /token/verify.",
            "counter",
            &[("", read(&self.verifications))],
        );
        family(
            "jwtd_authentications_refused_total",
            "Bearer tokens refused.",
            "counter",
            &[("", read(&self.authentications_refused))],
        );
        family(
            "jwtd_revoked_sessions",
            "Sessions in the in-memory revoked set.",
            "gauge",
            &[("", u64::try_from(revoked_sessions).unwrap_or(u64::MAX))],
        );
        out
    }
}
