//! `jwtd-bench` end to end, scaled down: the real load generator drives the real `jwtd`
//! binary (the debug build `make test` makes first) through every scenario, with the
//! baselines interleaved, and writes its table and JSON.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The `jwtd` binary beside `jwtd-bench`, of the same profile.
fn jwtd_binary() -> PathBuf {
    let binary = Path::new(env!("CARGO_BIN_EXE_jwtd-bench")).with_file_name("jwtd");
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build -p jwtd` (make test does)",
        binary.display()
    );
    binary
}

fn number(result: &Value, field: &str) -> f64 {
    result[field]
        .as_f64()
        .unwrap_or_else(|| panic!("{field} missing in {result}"))
}

/// Equal up to the last bits that a trip through JSON text may change.
fn assert_close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() <= expected.abs() * 1e-12,
        "{actual} is not {expected}"
    );
}

#[test]
fn every_scenario_runs_against_the_real_server_with_its_baseline() {
    let dir = std::env::temp_dir().join(format!("jwtd-bench-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("latest.json");
    let output = Command::new(env!("CARGO_BIN_EXE_jwtd-bench"))
        .arg("--jwtd")
        .arg(jwtd_binary())
        .args([
            "--duration",
            "600ms",
            "--warmup",
            "0s",
            "--interleave",
            "100ms",
        ])
        .args(["--concurrency", "2", "--argon2-memory-kib", "64"])
        .args(["--argon2-iterations", "1"])
        .arg("--out")
        .arg(&out)
        .env_remove("JWTD_BENCH_POSTGRES_URL")
        .output()
        .expect("jwtd-bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("| × healthz | healthz req/s | × healthz row |"),
        "{stdout}"
    );
    assert!(stdout.contains("100 ms slices"), "{stdout}");

    let report: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert_close(number(&report, "interleave_s"), 0.1);
    let results = report["results"].as_array().unwrap();
    let scenarios: Vec<&str> = results
        .iter()
        .map(|result| result["scenario"].as_str().unwrap())
        .collect();
    assert_eq!(
        scenarios,
        [
            "healthz", "verify", "me", "refresh", "login", "login", "mixed"
        ]
    );
    for result in results {
        let scenario = result["scenario"].as_str().unwrap();
        assert_eq!(result["errors"], 0, "{result}");
        assert!(number(result, "requests") > 0.0, "{result}");
        if matches!(scenario, "refresh" | "mixed") {
            assert_eq!(result["broken_chains"], 0, "{result}");
        }
        let paired = &result["paired_healthz"];
        if matches!(scenario, "verify" | "me" | "refresh" | "mixed") {
            // Half of the 600 ms in the baseline's slices, and the ratio to their rate.
            assert_close(number(paired, "seconds"), 0.3);
            assert_eq!(paired["errors"], 0, "{result}");
            let rate = number(paired, "requests_per_s");
            assert!(rate > 0.0, "{result}");
            assert_close(number(result, "baseline_requests_per_s"), rate);
            assert_close(
                number(result, "ratio_to_healthz"),
                number(result, "requests_per_s") / rate,
            );
            // The scenario's own calls leave the baseline's out.
            let calls = result["calls"].as_array().unwrap();
            assert!(
                calls.iter().all(|call| call["call"] != "healthz"),
                "{result}"
            );
        } else {
            assert!(paired.is_null(), "{result}");
        }
        let concurrent_login = scenario == "login" && result["clients"] == 2;
        assert_eq!(
            result["hash_rate_per_s"]
                .as_f64()
                .is_some_and(|rate| rate > 0.0),
            concurrent_login,
            "{result}"
        );
        if concurrent_login {
            assert_close(
                number(result, "ratio_to_hash_rate"),
                number(result, "requests_per_s") / number(result, "hash_rate_per_s"),
            );
        }
    }
}
