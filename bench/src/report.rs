//! Turning tallies into results: latency percentiles, ratios, the Markdown table and the
//! JSON file.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

use crate::scenario::{Call, CpuSplit, CpuUse, Mix, Scenario, Tally, Window};
use crate::server::Argon2Cost;

/// Throughput and latency of a set of requests.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Stats {
    /// Requests completed in the measured window.
    pub requests: u64,
    /// `requests` over the measured time.
    pub requests_per_s: f64,
    /// Median latency.
    pub p50_ms: f64,
    /// 99th-percentile latency.
    pub p99_ms: f64,
    /// Slowest request.
    pub max_ms: f64,
    /// Non-2xx replies and transport errors.
    pub errors: u64,
}

impl Stats {
    fn of(latencies: &mut [u32], errors: u64, duration: Duration) -> Self {
        latencies.sort_unstable();
        let requests = latencies.len() as u64;
        let at = |quantile: f64| -> f64 {
            if latencies.is_empty() {
                return 0.0;
            }
            // Nearest rank: the smallest latency with at least `quantile` of all at or below.
            let rank = (quantile * latencies.len() as f64).ceil() as usize;
            let index = rank.clamp(1, latencies.len()) - 1;
            f64::from(latencies[index]) / 1000.0
        };
        Self {
            requests,
            requests_per_s: requests as f64 / duration.as_secs_f64(),
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            max_ms: at(1.0),
            errors,
        }
    }
}

/// One kind of request within a scenario (only `mixed` has more than one).
#[derive(Debug, Serialize)]
pub struct CallStats {
    /// The kind.
    pub call: Call,
    /// Its numbers.
    #[serde(flatten)]
    pub stats: Stats,
}

/// One scenario on one backend.
#[derive(Debug, Serialize)]
pub struct ScenarioResult {
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// The scenario.
    pub scenario: Scenario,
    /// Concurrent clients.
    pub clients: usize,
    /// All requests together.
    #[serde(flatten)]
    pub stats: Stats,
    /// Refresh chains that broke (refresh and mixed).
    pub broken_chains: Option<u64>,
    /// `requests_per_s` over its paired baseline's (see `paired_healthz`), or without one
    /// over the same backend's `healthz` row of the same run.
    pub ratio_to_healthz: Option<f64>,
    /// The `healthz` requests sent on the same connections in the slices interleaved with
    /// this scenario's (`--interleave`): the baseline of its ratios, measured in the same
    /// seconds of the machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paired_healthz: Option<PairedBaseline>,
    /// The baseline's requests per second that `ratio_to_healthz` divides by.
    pub baseline_requests_per_s: Option<f64>,
    /// `requests_per_s` over the same backend's `healthz` row of the same run, whether or
    /// not the scenario had a paired baseline. The two differ where the scenario leaves work
    /// behind that slows its baseline's slices (refresh: the log's checkpoints).
    pub ratio_to_healthz_row: Option<f64>,
    /// `requests_per_s` over cores / one argon2 hash (login).
    pub ratio_to_login_ceiling: Option<f64>,
    /// Concurrent login: argon2 verifications per second with one thread per core hashing
    /// in the load generator's process, the mean of half a second just before the scenario
    /// and half a second just after (the server idle). Unlike the ceiling from one hash
    /// timed alone, it has the cores contending for memory and cache as the server's
    /// argon2 threads do, and it is measured minutes later, next to the logins.
    pub hash_rate_per_s: Option<f64>,
    /// `requests_per_s` over `hash_rate_per_s`.
    pub ratio_to_hash_rate: Option<f64>,
    /// The server's peak resident memory during the scenario (with several instances,
    /// the largest of theirs).
    pub peak_rss_mib: Option<f64>,
    /// Per kind of request.
    pub calls: Vec<CallStats>,
    /// jwtd processes on the same database sharing the clients; absent for one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instances: Option<usize>,
    /// `requests_per_s` over the same backend's one-instance row of the same scenario.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio_to_one_instance: Option<f64>,
    /// Per instance, in start order (only with several).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_instance: Option<Vec<InstanceStats>>,
    /// Which run of the scenario list this is, from 1 (see `--repeat`).
    pub run: usize,
    /// CPU time of the servers and of the load generator over the measured window.
    pub cpu: Option<CpuUse>,
    /// Microseconds of CPU (servers and load generator) per request.
    pub cpu_per_request_us: Option<f64>,
    /// The baseline's CPU per request over this scenario's: the ratio of
    /// requests per CPU-second. For a scenario that keeps the cores busy (verify, me) it is
    /// the throughput ratio on cores nobody else uses; one that waits (refresh on the disk,
    /// login on its argon2 threads) does better by it than by requests per second.
    pub cpu_ratio_to_healthz: Option<f64>,
}

/// The `healthz` slices of an interleaved scenario.
#[derive(Debug, Serialize)]
pub struct PairedBaseline {
    /// Their requests, over the time of the baseline's slices.
    #[serde(flatten)]
    pub stats: Stats,
    /// Seconds measured in the baseline's slices (the scenario's own are the rest).
    pub seconds: f64,
    /// CPU time over the baseline's slices.
    pub cpu: Option<CpuUse>,
    /// Microseconds of CPU (servers and load generator) per `healthz` request.
    pub cpu_per_request_us: Option<f64>,
}

/// One of several jwtd instances of a scenario, and the clients that talked to it.
#[derive(Debug, Serialize)]
pub struct InstanceStats {
    /// Clients dealt to this instance (each keeps its chain on it).
    pub clients: usize,
    /// Its requests.
    #[serde(flatten)]
    pub stats: Stats,
    /// Refresh chains of its clients that broke.
    pub broken_chains: u64,
    /// Its peak resident memory during the scenario.
    pub peak_rss_mib: Option<f64>,
}

impl ScenarioResult {
    /// Summarizes a scenario's tally, measured over `window`: for a scenario other than
    /// `healthz`, its `healthz` calls are those of the interleaved baseline.
    pub fn new(
        backend: &str,
        scenario: Scenario,
        clients: usize,
        mut tally: Tally,
        window: Window,
        peak_rss_kib: Option<u64>,
    ) -> Self {
        let paired_healthz = (scenario != Scenario::Healthz)
            .then(|| tally.take_baseline())
            .filter(|(latencies, _)| !latencies.is_empty() && !window.baseline.is_zero())
            .map(|(mut latencies, errors)| PairedBaseline {
                stats: Stats::of(&mut latencies, errors, window.baseline),
                seconds: window.baseline.as_secs_f64(),
                cpu: None,
                cpu_per_request_us: None,
            });
        let duration = window.scenario;
        let (mut all, errors) = tally.own_calls(scenario);
        let stats = Stats::of(&mut all, errors, duration);
        let calls = Call::ALL
            .iter()
            .zip(tally.latencies.iter_mut().zip(tally.errors))
            .filter(|(_, (latencies, _))| !latencies.is_empty())
            .map(|(call, (latencies, errors))| CallStats {
                call: *call,
                stats: Stats::of(latencies, errors, duration),
            })
            .collect();
        Self {
            backend: backend.to_owned(),
            scenario,
            clients,
            stats,
            broken_chains: matches!(scenario, Scenario::Refresh | Scenario::Mixed)
                .then_some(tally.broken_chains),
            ratio_to_healthz: None,
            paired_healthz,
            baseline_requests_per_s: None,
            ratio_to_healthz_row: None,
            ratio_to_login_ceiling: None,
            hash_rate_per_s: None,
            ratio_to_hash_rate: None,
            peak_rss_mib: peak_rss_kib.map(|kib| kib as f64 / 1024.0),
            calls,
            instances: None,
            ratio_to_one_instance: None,
            per_instance: None,
            run: 1,
            cpu: None,
            cpu_per_request_us: None,
            cpu_ratio_to_healthz: None,
        }
    }

    /// Records the CPU time of the measured window, and derives the CPU per request (the
    /// baseline's too, when it has one).
    pub fn set_cpu(&mut self, cpu: CpuSplit) {
        self.cpu = cpu.scenario;
        self.cpu_per_request_us = per_request_us(cpu.scenario, self.stats.requests);
        if let Some(paired) = &mut self.paired_healthz {
            paired.cpu = cpu.baseline;
            paired.cpu_per_request_us = per_request_us(cpu.baseline, paired.stats.requests);
        }
    }

    /// Summarizes a scenario run on several instances at once: one tally, client count and
    /// peak memory per instance, in the same order.
    pub fn of_instances(
        backend: &str,
        scenario: Scenario,
        clients: &[usize],
        tallies: Vec<Tally>,
        window: Window,
        peaks_kib: &[Option<u64>],
    ) -> Self {
        let duration = window.scenario;
        let per_instance: Vec<InstanceStats> = tallies
            .iter()
            .zip(clients)
            .zip(peaks_kib)
            .map(|((tally, &clients), peak)| {
                // Each instance's own numbers leave its baseline requests out; the merged
                // row has them as its paired baseline.
                let (mut own, errors) = tally.own_calls(scenario);
                InstanceStats {
                    clients,
                    stats: Stats::of(&mut own, errors, duration),
                    broken_chains: tally.broken_chains,
                    peak_rss_mib: peak.map(|kib| kib as f64 / 1024.0),
                }
            })
            .collect();
        let instances = tallies.len();
        let mut merged = Tally::default();
        for tally in tallies {
            merged.merge(tally);
        }
        let peak = peaks_kib.iter().flatten().copied().max();
        let mut result = Self::new(
            backend,
            scenario,
            clients.iter().sum(),
            merged,
            window,
            peak,
        );
        result.instances = Some(instances);
        result.per_instance = Some(per_instance);
        result
    }

    /// The scenario's name in the table: `refresh (2 instances)` with several.
    fn label(&self) -> String {
        match self.instances {
            Some(instances) => format!("{} ({instances} instances)", self.scenario.name()),
            None => self.scenario.name().to_owned(),
        }
    }

    /// Whether `other` is the same measurement in another run.
    fn same_row(&self, other: &ScenarioResult) -> bool {
        self.backend == other.backend
            && self.scenario == other.scenario
            && self.clients == other.clients
            && self.instances == other.instances
    }
}

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
    /// Fills in each result's ratios: to its backend's `healthz`, and for `login` to the
    /// argon2 ceiling.
    pub fn compute_ratios(&mut self) {
        let baselines: Vec<(String, usize, f64, Option<f64>)> = self
            .results
            .iter()
            .filter(|result| result.scenario == Scenario::Healthz)
            .map(|result| {
                (
                    result.backend.clone(),
                    result.run,
                    result.stats.requests_per_s,
                    result.cpu_per_request_us,
                )
            })
            .collect();
        let one_instance: Vec<(String, Scenario, usize, f64)> = self
            .results
            .iter()
            .filter(|result| result.instances.is_none() && result.clients > 1)
            .map(|result| {
                (
                    result.backend.clone(),
                    result.scenario,
                    result.run,
                    result.stats.requests_per_s,
                )
            })
            .collect();
        // Of the in-process hash and a whole serial login, the faster is the better measure
        // of one hash on a noisy machine, and it gives the stricter ceiling.
        if let Some(serial) = self.login_serial_p50_ms.filter(|ms| *ms > 0.0)
            && serial < self.argon2.hash_ms
        {
            self.argon2.login_ceiling_per_s = self.cores as f64 * 1000.0 / serial;
            self.argon2.ceiling_basis = "login at concurrency 1 (p50)";
        }
        for result in &mut self.results {
            let baseline = baselines
                .iter()
                .find(|(backend, run, _, _)| *backend == result.backend && *run == result.run);
            result.ratio_to_healthz_row = baseline
                .filter(|(_, _, rate, _)| *rate > 0.0)
                .map(|(_, _, rate, _)| result.stats.requests_per_s / rate);
            // The baseline measured in the same seconds, when the scenario had one.
            let (rate, cpu) = match &result.paired_healthz {
                Some(paired) => (Some(paired.stats.requests_per_s), paired.cpu_per_request_us),
                None => (
                    baseline.map(|(_, _, rate, _)| *rate),
                    baseline.and_then(|(_, _, _, cpu)| *cpu),
                ),
            };
            result.baseline_requests_per_s = rate;
            result.ratio_to_healthz = rate
                .filter(|rate| *rate > 0.0)
                .map(|rate| result.stats.requests_per_s / rate);
            result.cpu_ratio_to_healthz = cpu
                .zip(result.cpu_per_request_us.filter(|us| *us > 0.0))
                .map(|(healthz_us, us)| healthz_us / us);
            if result.instances.is_some() {
                result.ratio_to_one_instance = one_instance
                    .iter()
                    .find(|(backend, scenario, run, rate)| {
                        *backend == result.backend
                            && *scenario == result.scenario
                            && *run == result.run
                            && *rate > 0.0
                    })
                    .map(|(_, _, _, rate)| result.stats.requests_per_s / rate);
            }
            if result.scenario == Scenario::Login && self.argon2.login_ceiling_per_s > 0.0 {
                result.ratio_to_login_ceiling =
                    Some(result.stats.requests_per_s / self.argon2.login_ceiling_per_s);
            }
            result.ratio_to_hash_rate = result
                .hash_rate_per_s
                .filter(|rate| *rate > 0.0)
                .map(|rate| result.stats.requests_per_s / rate);
        }
    }

    /// The results as a Markdown table, with a line on the argon2 ceiling.
    pub fn table(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "| backend | scenario | clients | req/s | p50 ms | p99 ms | max ms | errors | × healthz | healthz req/s | × healthz row | CPU µs/req | × healthz per CPU-s | peak RSS MiB | notes |\n",
        );
        out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
        for result in &self.results {
            let stats = &result.stats;
            let label = if self.repeats > 1 {
                format!("{} (run {})", result.label(), result.run)
            } else {
                result.label()
            };
            let ratio = cell(result.ratio_to_healthz, 3);
            let baseline = cell(result.baseline_requests_per_s, 0);
            let row_ratio = cell(result.ratio_to_healthz_row, 3);
            let cpu = cell(result.cpu_per_request_us, 1);
            let cpu_ratio = cell(result.cpu_ratio_to_healthz, 3);
            let mib = |peak: Option<f64>| cell(peak, 1);
            // Several instances: each one's peak, in start order.
            let rss = match &result.per_instance {
                Some(instances) => instances
                    .iter()
                    .map(|instance| mib(instance.peak_rss_mib))
                    .collect::<Vec<_>>()
                    .join(" / "),
                None => mib(result.peak_rss_mib),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.1} | {} | {ratio} | {baseline} | {row_ratio} | {cpu} | {cpu_ratio} | {rss} | {} |",
                result.backend,
                label,
                result.clients,
                stats.requests_per_s,
                stats.p50_ms,
                stats.p99_ms,
                stats.max_ms,
                stats.errors,
                self.notes(result),
            );
        }
        match self.interleave_s {
            Some(slice) => {
                let _ = writeln!(
                    out,
                    "\n× healthz: to the `healthz req/s` column, for verify, me, refresh and mixed the `GET /healthz` requests sent on the same connections in the {:.0} ms slices that alternate with the scenario's; for the others, the `healthz` row of the same run. × healthz row: to that row, always.",
                    slice * 1000.0
                );
            }
            None => {
                out.push_str("\n× healthz: to the `healthz` row of the same backend and run.\n")
            }
        }
        if self.repeats > 1 {
            out.push_str(&self.summary());
        }
        let argon2 = &self.argon2;
        let _ = writeln!(
            out,
            "\nargon2id m={} KiB t={} p={}: {:.1} ms per hash in-process; ceiling {} cores / hash = {:.1} logins/s (hash time from {}){}",
            argon2.cost.memory_kib,
            argon2.cost.iterations,
            argon2.cost.parallelism,
            argon2.hash_ms,
            self.cores,
            argon2.login_ceiling_per_s,
            argon2.ceiling_basis,
            self.login_serial_p50_ms
                .map_or_else(String::new, |ms| format!(
                    "; one login at a time takes {ms:.1} ms (p50)"
                )),
        );
        if let Some(connections) = self.postgres_max_connections {
            let _ = writeln!(
                out,
                "postgres: JWTD_DATABASE_MAX_CONNECTIONS={connections} per instance"
            );
        }
        if let Some(load) = &self.load_average_before {
            let _ = writeln!(out, "load average before the run: {load}");
        }
        out
    }

    /// Over the runs: each row's median ratio to `healthz` with its range, and the median
    /// requests per second and CPU per request.
    fn summary(&self) -> String {
        let mut out = format!(
            "\nOver {} runs (median, with the smallest and largest run):\n\n| backend | scenario | clients | req/s | × healthz | × healthz row | × healthz per CPU-s | CPU µs/req | × argon2 ceiling | × argon2 on every core |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
            self.repeats
        );
        let firsts = self.results.iter().filter(|result| result.run == 1);
        for first in firsts {
            let runs: Vec<&ScenarioResult> = self
                .results
                .iter()
                .filter(|result| result.same_row(first))
                .collect();
            let spread = |values: Vec<Option<f64>>, digits: usize| {
                let mut values: Vec<f64> = values.into_iter().flatten().collect();
                values.sort_by(f64::total_cmp);
                match (values.first(), values.last()) {
                    (Some(low), Some(high)) => format!(
                        "{:.digits$} ({low:.digits$}–{high:.digits$})",
                        median(&values)
                    ),
                    _ => "-".to_owned(),
                }
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                first.backend,
                first.label(),
                first.clients,
                spread(
                    runs.iter()
                        .map(|run| Some(run.stats.requests_per_s))
                        .collect(),
                    0
                ),
                spread(runs.iter().map(|run| run.ratio_to_healthz).collect(), 3),
                spread(runs.iter().map(|run| run.ratio_to_healthz_row).collect(), 3),
                spread(runs.iter().map(|run| run.cpu_ratio_to_healthz).collect(), 3),
                spread(runs.iter().map(|run| run.cpu_per_request_us).collect(), 1),
                spread(
                    runs.iter().map(|run| run.ratio_to_login_ceiling).collect(),
                    2
                ),
                spread(runs.iter().map(|run| run.ratio_to_hash_rate).collect(), 2),
            );
        }
        out
    }

    fn notes(&self, result: &ScenarioResult) -> String {
        let mut notes = Vec::new();
        if let Some(broken) = result.broken_chains {
            notes.push(format!("{broken} broken chains"));
        }
        if let Some(ratio) = result.ratio_to_one_instance {
            notes.push(format!("{ratio:.2}× one instance"));
        }
        if let Some(instances) = &result.per_instance {
            let each: Vec<String> = instances
                .iter()
                .enumerate()
                .map(|(index, instance)| {
                    format!(
                        "#{}: {} clients {:.0} req/s p50 {:.2} ms p99 {:.2} ms {} errors {} broken",
                        index + 1,
                        instance.clients,
                        instance.stats.requests_per_s,
                        instance.stats.p50_ms,
                        instance.stats.p99_ms,
                        instance.stats.errors,
                        instance.broken_chains,
                    )
                })
                .collect();
            notes.push(each.join(", "));
        }
        if let Some(ratio) = result.ratio_to_login_ceiling {
            notes.push(format!(
                "{ratio:.2}× the argon2 ceiling ({:.1}/s)",
                self.argon2.login_ceiling_per_s
            ));
        }
        if let Some((ratio, rate)) = result.ratio_to_hash_rate.zip(result.hash_rate_per_s) {
            notes.push(format!(
                "{ratio:.2}× argon2 on every core around it ({rate:.1}/s)"
            ));
        }
        if result.calls.len() > 1 {
            let total = result.stats.requests.max(1) as f64;
            let mix: Vec<String> = result
                .calls
                .iter()
                .map(|call| {
                    format!(
                        "{:?} {:.1}% p99 {:.1} ms",
                        call.call,
                        100.0 * call.stats.requests as f64 / total,
                        call.stats.p99_ms
                    )
                    .to_lowercase()
                })
                .collect();
            notes.push(mix.join(", "));
        }
        notes.join("; ")
    }

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

/// A table cell: `value` with `digits` decimals, or `-` without one.
fn cell(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "-".to_owned(), |value| format!("{value:.digits$}"))
}

/// Microseconds of `cpu` per request of `requests`; `None` without either.
fn per_request_us(cpu: Option<CpuUse>, requests: u64) -> Option<f64> {
    cpu.filter(|_| requests > 0)
        .map(|cpu| cpu.total_s() * 1e6 / requests as f64)
}

/// The median of sorted values (the mean of the middle two for an even count).
fn median(sorted: &[f64]) -> f64 {
    let middle = sorted.len() / 2;
    match sorted.len() {
        0 => f64::NAN,
        even if even % 2 == 0 => (sorted[middle - 1] + sorted[middle]) / 2.0,
        _ => sorted[middle],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A result of `requests` requests over one second, using `cpu_s` seconds of CPU.
    fn result(scenario: Scenario, run: usize, requests: u32, cpu_s: f64) -> ScenarioResult {
        let mut tally = Tally::default();
        let call = match scenario {
            Scenario::Healthz => Call::Healthz,
            _ => Call::Verify,
        };
        tally.latencies[call as usize] = vec![100; requests as usize];
        let window = Window::of(Duration::from_secs(1), None);
        let mut result = ScenarioResult::new("sqlite", scenario, 32, tally, window, None);
        result.run = run;
        result.set_cpu(CpuSplit {
            scenario: Some(cpu(cpu_s)),
            baseline: None,
        });
        result
    }

    /// `seconds` of CPU, half the server's and half the load generator's.
    fn cpu(seconds: f64) -> CpuUse {
        CpuUse {
            server_user_s: seconds / 2.0,
            server_system_s: 0.0,
            client_user_s: seconds / 2.0,
            client_system_s: 0.0,
        }
    }

    /// A tally of `calls` requests of 100 µs each, and `errors` of them failed, per call.
    fn tally(calls: &[(Call, usize, u64)]) -> Tally {
        let mut tally = Tally::default();
        for &(call, requests, errors) in calls {
            tally.latencies[call as usize] = vec![100; requests];
            tally.errors[call as usize] = errors;
        }
        tally
    }

    #[test]
    fn an_interleaved_scenario_is_compared_with_its_own_healthz_slices() {
        // 2 s measured in 500 ms slices: 1 s of refresh and 1 s of healthz in between.
        let window = Window::of(Duration::from_secs(2), Some(Duration::from_millis(500)));
        let mut refresh = ScenarioResult::new(
            "sqlite",
            Scenario::Refresh,
            32,
            tally(&[(Call::Refresh, 200, 0), (Call::Healthz, 1000, 1)]),
            window,
            None,
        );
        refresh.set_cpu(CpuSplit {
            scenario: Some(cpu(0.8)),
            baseline: Some(cpu(1.0)),
        });
        // The healthz row of the run, measured apart, is not what the ratio uses.
        let mut report = report(vec![result(Scenario::Healthz, 1, 3000, 2.0), refresh], 1);
        report.compute_ratios();
        let refresh = &report.results[1];
        assert_eq!(refresh.stats.requests, 200);
        assert_eq!(refresh.stats.requests_per_s, 200.0);
        assert_eq!(refresh.stats.errors, 0);
        assert_eq!(refresh.calls.len(), 1, "{:?}", refresh.calls);
        let paired = refresh.paired_healthz.as_ref().unwrap();
        assert_eq!(paired.stats.requests_per_s, 1000.0);
        assert_eq!(paired.stats.errors, 1);
        assert_eq!(refresh.baseline_requests_per_s, Some(1000.0));
        assert_eq!(refresh.ratio_to_healthz, Some(0.2));
        assert_eq!(refresh.ratio_to_healthz_row, Some(200.0 / 3000.0));
        // 0.8 s over 200 refreshes is 4,000 µs; 1 s over 1000 healthz is 1,000 µs.
        assert_eq!(refresh.cpu_per_request_us, Some(4000.0));
        assert_eq!(paired.cpu_per_request_us, Some(1000.0));
        assert_eq!(refresh.cpu_ratio_to_healthz, Some(0.25));
        let table = report.table();
        assert!(
            table.contains(
                "| sqlite | refresh | 32 | 200 | 0.10 | 0.10 | 0.1 | 0 | 0.200 | 1000 | 0.067 |"
            ),
            "{table}"
        );
    }

    #[test]
    fn a_login_is_compared_with_the_ceiling_and_with_argon2_on_every_core() {
        let login = |run, rate| {
            let mut login = ScenarioResult::new(
                "sqlite",
                Scenario::Login,
                32,
                tally(&[(Call::Login, 150, 0)]),
                Window::of(Duration::from_secs(1), None),
                None,
            );
            login.run = run;
            login.hash_rate_per_s = Some(rate);
            login
        };
        let mut report = report(vec![login(1, 160.0), login(2, 200.0)], 2);
        report.compute_ratios();
        let login = &report.results[0];
        assert_eq!(login.stats.requests_per_s, 150.0);
        assert!(login.paired_healthz.is_none());
        assert_eq!(login.ratio_to_login_ceiling, Some(0.75));
        assert_eq!(login.ratio_to_hash_rate, Some(150.0 / 160.0));
        let table = report.table();
        assert!(
            table.contains("0.94× argon2 on every core around it (160.0/s)"),
            "{table}"
        );
        assert!(
            table.contains("| 0.75 (0.75–0.75) | 0.84 (0.75–0.94) |"),
            "{table}"
        );
    }

    #[test]
    fn instances_leave_the_baseline_out_of_their_own_numbers() {
        let window = Window::of(Duration::from_secs(2), Some(Duration::from_millis(500)));
        let result = ScenarioResult::of_instances(
            "postgres",
            Scenario::Refresh,
            &[16, 16],
            vec![
                tally(&[(Call::Refresh, 100, 0), (Call::Healthz, 600, 0)]),
                tally(&[(Call::Refresh, 300, 0), (Call::Healthz, 400, 0)]),
            ],
            window,
            &[None, None],
        );
        let instances = result.per_instance.as_ref().unwrap();
        assert_eq!(instances[0].stats.requests, 100);
        assert_eq!(instances[1].stats.requests, 300);
        assert_eq!(result.stats.requests_per_s, 400.0);
        let paired = result.paired_healthz.as_ref().unwrap();
        assert_eq!(paired.stats.requests, 1000);
        assert_eq!(paired.seconds, 1.0);
    }

    fn report(results: Vec<ScenarioResult>, repeats: usize) -> Report {
        Report {
            generated_unix_s: 0,
            git_commit: None,
            load_average_before: None,
            cores: 2,
            client_threads: 2,
            concurrency: 32,
            repeats,
            warmup_s: 0.0,
            duration_s: 1.0,
            interleave_s: None,
            mix: Mix {
                me_per_refresh: 20,
                refreshes_per_session: 50,
            },
            argon2: Argon2Measure {
                cost: Argon2Cost {
                    memory_kib: 8,
                    iterations: 1,
                    parallelism: 1,
                },
                hash_ms: 10.0,
                login_ceiling_per_s: 200.0,
                ceiling_basis: "test",
            },
            login_serial_p50_ms: None,
            postgres_max_connections: None,
            results,
        }
    }

    #[test]
    fn each_run_is_compared_with_its_own_healthz_and_summarized_by_median() {
        let mut report = report(
            vec![
                result(Scenario::Healthz, 1, 1000, 2.0),
                result(Scenario::Verify, 1, 800, 2.0),
                result(Scenario::Healthz, 2, 500, 2.0),
                result(Scenario::Verify, 2, 450, 1.8),
                result(Scenario::Healthz, 3, 2000, 2.0),
                result(Scenario::Verify, 3, 1400, 2.0),
            ],
            3,
        );
        report.compute_ratios();
        let verify: Vec<&ScenarioResult> = report
            .results
            .iter()
            .filter(|result| result.scenario == Scenario::Verify)
            .collect();
        let ratios: Vec<f64> = verify
            .iter()
            .map(|result| result.ratio_to_healthz.unwrap())
            .collect();
        assert_eq!(ratios, [0.8, 0.9, 0.7]);
        // 2 s of CPU over 1000 requests is 2,000 µs each; healthz of run 2: 4,000 µs.
        assert_eq!(report.results[0].cpu_per_request_us, Some(2000.0));
        assert_eq!(verify[1].cpu_per_request_us, Some(4000.0));
        assert_eq!(verify[1].cpu_ratio_to_healthz, Some(1.0));
        let table = report.table();
        assert!(table.contains("| verify (run 2) |"), "{table}");
        assert!(
            table.contains("| sqlite | verify | 32 | 800 (450–1400) | 0.800 (0.700–0.900) | 0.800 (0.700–0.900) |"),
            "{table}"
        );
    }

    #[test]
    fn one_run_has_no_summary_and_no_run_labels() {
        let mut report = report(
            vec![
                result(Scenario::Healthz, 1, 1000, 2.0),
                result(Scenario::Verify, 1, 800, 2.0),
            ],
            1,
        );
        report.compute_ratios();
        let table = report.table();
        assert!(!table.contains("Over "), "{table}");
        assert!(table.contains("| sqlite | verify | 32 | 800 |"), "{table}");
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(&[1.0, 2.0, 3.0]), 2.0);
        assert_eq!(median(&[1.0, 2.0, 4.0, 8.0]), 3.0);
        assert!(median(&[]).is_nan());
    }
}
