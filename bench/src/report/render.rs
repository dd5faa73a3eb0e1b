//! The report as Markdown: one row per result, the summary over runs, and the notes.

use std::fmt::Write as _;

use super::Report;
use super::stats::{ScenarioResult, median};

impl Report {
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
}

/// A table cell: `value` with `digits` decimals, or `-` without one.
fn cell(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "-".to_owned(), |value| format!("{value:.digits$}"))
}
