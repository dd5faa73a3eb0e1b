//! The report's numbers and table from made-up tallies.

use std::time::Duration;

use super::stats::median;
use super::{Argon2Measure, Report, ScenarioResult};
use crate::cpu::{CpuSplit, CpuUse};
use crate::scenario::{Call, Mix, Scenario};
use crate::server::Argon2Cost;
use crate::tally::Tally;
use crate::window::Window;

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
        table.contains(
            "| sqlite | verify | 32 | 800 (450–1400) | 0.800 (0.700–0.900) | 0.800 (0.700–0.900) |"
        ),
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
