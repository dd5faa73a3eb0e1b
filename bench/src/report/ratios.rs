//! Each result compared with its baselines: `healthz` (paired or the run's row), one
//! instance, the argon2 ceiling and argon2 on every core.

use super::Report;
use crate::scenario::Scenario;

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
}
