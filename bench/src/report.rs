//! Turning tallies into results: latency percentiles ([`stats`]), ratios ([`ratios`]),
//! the Markdown table ([`render`]) and the JSON file.

mod ratios;
mod render;
mod stats;
#[cfg(test)]
mod tests;

use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use crate::scenario::Mix;
use crate::server::Argon2Cost;

pub use stats::ScenarioResult;

/// The argon2 cost, measured in-process with the server's hasher and parameters.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Argon2Measure {
    /// The parameters.
    #[serde(flatten)]
    pub cost: Argon2Cost,
    /// Median time of one password verification.
    pub hash_ms: f64,
    /// Cores / one hash's time: the most logins per second this machine can do.
    pub login_ceiling_per_s: f64,
    /// Which hash time the ceiling uses: the in-process median, or one serial login.
    pub ceiling_basis: &'static str,
}

/// Everything a run measured, as written to `bench/results/latest.json`.
#[derive(Debug, Serialize)]
pub struct Report {
    /// When the run ended, Unix seconds.
    pub generated_unix_s: u64,
    /// `git rev-parse --short HEAD`, when available.
    pub git_commit: Option<String>,
    /// `/proc/loadavg` before the run (1, 5, 15 minutes): other load skews the numbers.
    pub load_average_before: Option<String>,
    /// Cores available (server and load generator share them).
    pub cores: usize,
    /// Worker threads of the load generator.
    pub client_threads: usize,
    /// Concurrent clients per scenario.
    pub concurrency: usize,
    /// Runs of the whole scenario list (`--repeat`).
    pub repeats: usize,
    /// Unmeasured warm-up per scenario.
    pub warmup_s: f64,
    /// Measured time per scenario.
    pub duration_s: f64,
    /// Length of the slices in which `verify`, `me`, `refresh` and `mixed` alternate with
    /// their `healthz` baseline; `None` when they do not.
    pub interleave_s: Option<f64>,
    /// The `mixed` proportions.
    pub mix: Mix,
    /// argon2's cost on this machine.
    pub argon2: Argon2Measure,
    /// Median of logins one after another (concurrency 1), whole request.
    pub login_serial_p50_ms: Option<f64>,
    /// `JWTD_DATABASE_MAX_CONNECTIONS` of each PostgreSQL instance, when not jwtd's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postgres_max_connections: Option<u32>,
    /// Per backend and scenario.
    pub results: Vec<ScenarioResult>,
}

impl Report {
    /// Writes the JSON report, creating its directory.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let json = serde_json::to_string_pretty(self)?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("cannot write {}", path.display()))
    }
}
