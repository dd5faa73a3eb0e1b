//! A scenario's numbers: throughput and latency percentiles, per kind of request, per
//! instance, and of its interleaved baseline.

use std::time::Duration;

use serde::Serialize;

use crate::cpu::{CpuSplit, CpuUse};
use crate::scenario::{Call, Scenario};
use crate::tally::Tally;
use crate::window::Window;

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
    /// The numbers of `latencies` (sorted here) and `errors` over `duration`.
    pub fn of(latencies: &mut [u32], errors: u64, duration: Duration) -> Self {
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
    pub fn label(&self) -> String {
        match self.instances {
            Some(instances) => format!("{} ({instances} instances)", self.scenario.name()),
            None => self.scenario.name().to_owned(),
        }
    }

    /// Whether `other` is the same measurement in another run.
    pub fn same_row(&self, other: &ScenarioResult) -> bool {
        self.backend == other.backend
            && self.scenario == other.scenario
            && self.clients == other.clients
            && self.instances == other.instances
    }
}

/// Microseconds of `cpu` per request of `requests`; `None` without either.
fn per_request_us(cpu: Option<CpuUse>, requests: u64) -> Option<f64> {
    cpu.filter(|_| requests > 0)
        .map(|cpu| cpu.total_s() * 1e6 / requests as f64)
}

/// The median of sorted values (the mean of the middle two for an even count).
pub fn median(sorted: &[f64]) -> f64 {
    let middle = sorted.len() / 2;
    match sorted.len() {
        0 => f64::NAN,
        even if even % 2 == 0 => (sorted[middle - 1] + sorted[middle]) / 2.0,
        _ => sorted[middle],
    }
}
