//! `jwtd-bench`: the load benchmark behind `make bench`.
//!
//! Starts the release `jwtd` binary on a fresh SQLite database (and on a fresh PostgreSQL
//! schema when `JWTD_BENCH_POSTGRES_URL` is set), creates users, and drives it over loopback
//! with keep-alive connections, one scenario at a time, for a fixed time at fixed
//! concurrency. Prints a Markdown table and writes `bench/results/latest.json`. It never
//! sends traffic anywhere but the loopback server it started.

mod client;
mod cpu;
mod hashing;
mod report;
mod runner;
mod scenario;
mod server;
mod tally;
mod window;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use auth_core::PasswordHasher;
use clap::Parser;

use crate::hashing::HashProbe;
use crate::report::{Report, ScenarioResult};
use crate::scenario::{Load, Mix, Scenario};
use crate::server::{Argon2Cost, Jwtd, PgSchema, Server, TempDir};

/// Load benchmark of the jwtd binary over loopback.
#[derive(Debug, Parser)]
#[command(name = "jwtd-bench", about)]
struct Cli {
    /// The jwtd binary to start (build it with `cargo build --release -p jwtd`).
    #[arg(long, default_value = "./target/release/jwtd")]
    jwtd: PathBuf,
    /// Measured time per scenario (`10s`, `1m`).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Unmeasured warm-up per scenario.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    warmup: Duration,
    /// Interleave `verify`, `me`, `refresh` and `mixed` with their own `healthz` baseline:
    /// their measured time alternates in slices of this length between the scenario and
    /// `GET /healthz` on the same connections, and their ratios are to that baseline,
    /// measured in the same seconds. `0s` turns it off: the ratios are then to the
    /// `healthz` row, measured in a window of its own.
    #[arg(long, default_value = "500ms", value_parser = humantime::parse_duration)]
    interleave: Duration,
    /// Concurrent clients, each on its own keep-alive connection.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Scenarios to run, comma-separated; `healthz` is the baseline of the ratios.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = Scenario::ALL)]
    scenarios: Vec<Scenario>,
    /// Worker threads of the load generator (it shares the machine with the server).
    #[arg(long, default_value_t = 2)]
    client_threads: usize,
    /// `mixed`: `GET /me` requests between two refreshes.
    #[arg(long, default_value_t = 20)]
    mixed_me_per_refresh: u32,
    /// `mixed`: refreshes between a login and its logout.
    #[arg(long, default_value_t = 50)]
    mixed_refreshes_per_session: u32,
    /// argon2id memory cost in KiB given to the server (its default unless changed).
    #[arg(long, default_value_t = PasswordHasher::DEFAULT_MEMORY_KIB)]
    argon2_memory_kib: u32,
    /// argon2id iterations given to the server.
    #[arg(long, default_value_t = PasswordHasher::DEFAULT_ITERATIONS)]
    argon2_iterations: u32,
    /// argon2id lanes given to the server.
    #[arg(long, default_value_t = PasswordHasher::DEFAULT_PARALLELISM)]
    argon2_parallelism: u32,
    /// The signing algorithm (`JWTD_ALGORITHM`) of every server: `HS256` (the default), or
    /// e.g. `ES256` or `EdDSA`, whose key pair is generated for the run.
    #[arg(long, default_value = "HS256")]
    algorithm: String,
    /// An extra `JWTD_*` setting for every server, `KEY=VALUE`; repeatable. For example
    /// `--setting JWTD_REVOKE_ACCESS_ON_LOGOUT=true` measures the revoked-session check.
    #[arg(long = "setting", value_parser = parse_setting)]
    settings: Vec<(String, String)>,
    /// Also benchmark on this PostgreSQL database, in a fresh schema dropped afterwards.
    #[arg(long, env = "JWTD_BENCH_POSTGRES_URL", hide_env_values = true)]
    postgres_url: Option<String>,
    /// PostgreSQL only: numbers of jwtd instances on the same schema to run `refresh` with,
    /// comma-separated. 1 is the ordinary `refresh` row; each N above 1 adds a row
    /// `refresh (N instances)` right after it, the clients dealt out over N processes.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 2])]
    postgres_instances: Vec<usize>,
    /// PostgreSQL only: `JWTD_DATABASE_MAX_CONNECTIONS` of each instance (jwtd's default
    /// unless given). Two instances hold twice the connections of one: this separates the
    /// pool's size from the number of processes.
    #[arg(long)]
    postgres_max_connections: Option<u32>,
    /// Runs of the whole list of scenarios, one after another. With more than one, each
    /// run's ratios are to its own `healthz`, and a summary gives each ratio's median and
    /// range over the runs: on a machine whose speed drifts by tens of percent from one
    /// second to the next, one run's ratio says little.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Where the JSON results go.
    #[arg(long, default_value = "bench/results/latest.json")]
    out: PathBuf,
}

impl Cli {
    /// The slice of `--interleave`; `None` for `0s` (no interleaving).
    fn slice(&self) -> Option<Duration> {
        (!self.interleave.is_zero()).then_some(self.interleave)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.client_threads.max(1))
        .enable_all()
        .build();
    let outcome = runtime
        .context("cannot start the runtime")
        .and_then(|runtime| runtime.block_on(run(cli)));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("jwtd-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    anyhow::ensure!(
        cli.jwtd.is_file(),
        "{} not found: build it with `cargo build --release -p jwtd`",
        cli.jwtd.display()
    );
    anyhow::ensure!(cli.concurrency > 0, "--concurrency must be at least 1");
    anyhow::ensure!(cli.repeat > 0, "--repeat must be at least 1");
    anyhow::ensure!(
        cli.postgres_instances.iter().all(|&count| count > 0),
        "--postgres-instances must be at least 1"
    );
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let cost = Argon2Cost {
        memory_kib: cli.argon2_memory_kib,
        iterations: cli.argon2_iterations,
        parallelism: cli.argon2_parallelism,
    };
    let probe = HashProbe::new(cost)?;
    let argon2 = tokio::task::spawn_blocking({
        let probe = probe.clone();
        move || probe.measure(cores)
    })
    .await??;
    eprintln!(
        "argon2id: {:.1} ms per hash, ceiling {:.1} logins/s on {cores} cores",
        argon2.hash_ms, argon2.login_ceiling_per_s
    );
    let mut report = Report {
        generated_unix_s: 0,
        git_commit: git_commit(),
        load_average_before: load_average(),
        cores,
        client_threads: cli.client_threads.max(1),
        concurrency: cli.concurrency,
        repeats: cli.repeat,
        warmup_s: cli.warmup.as_secs_f64(),
        duration_s: cli.duration.as_secs_f64(),
        interleave_s: cli.slice().map(|slice| slice.as_secs_f64()),
        mix: Mix {
            me_per_refresh: cli.mixed_me_per_refresh,
            refreshes_per_session: cli.mixed_refreshes_per_session.max(1),
        },
        argon2,
        login_serial_p50_ms: None,
        postgres_max_connections: cli.postgres_max_connections,
        results: Vec::new(),
    };

    let dir = TempDir::new()?;
    let sqlite_url = format!("sqlite://{}", dir.path().join("jwtd.db").display());
    eprintln!("algorithm: {}", cli.algorithm);
    let jwtd = with_settings(Jwtd::new(&cli.jwtd, &sqlite_url, None, cost), &cli.settings)
        .with_algorithm(&cli.algorithm, dir.path())
        .await?;
    bench_backend(&cli, "sqlite", &jwtd, &probe, &mut report).await?;

    if let Some(url) = &cli.postgres_url {
        let schema = PgSchema::create(url).await?;
        let mut jwtd = with_settings(
            Jwtd::new(&cli.jwtd, url, Some(&schema.name), cost),
            &cli.settings,
        )
        .with_algorithm(&cli.algorithm, &dir.path().join("postgres"))
        .await?;
        if let Some(connections) = cli.postgres_max_connections {
            jwtd = jwtd.with_setting("JWTD_DATABASE_MAX_CONNECTIONS", &connections.to_string());
        }
        let outcome = bench_backend(&cli, "postgres", &jwtd, &probe, &mut report).await;
        let dropped = schema.drop_schema().await;
        outcome?;
        dropped?;
    }

    report.generated_unix_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    report.compute_ratios();
    println!("{}", report.table());
    report.write_json(&cli.out)?;
    eprintln!("results written to {}", cli.out.display());
    Ok(())
}

/// Migrates, creates the users, starts the server, runs every scenario and stops it.
async fn bench_backend(
    cli: &Cli,
    backend: &str,
    jwtd: &Jwtd,
    probe: &HashProbe,
    report: &mut Report,
) -> anyhow::Result<()> {
    eprintln!(
        "{backend}: migrating and creating {} users",
        cli.concurrency
    );
    jwtd.migrate().await?;
    let users = jwtd.create_users(cli.concurrency).await?;
    let server = jwtd.serve().await?;
    eprintln!("{backend}: jwtd listening on {}", server.address);
    let outcome = run_scenarios(cli, backend, jwtd, &server, &users, probe, report).await;
    server.stop().await;
    outcome
}

async fn run_scenarios(
    cli: &Cli,
    backend: &str,
    jwtd: &Jwtd,
    server: &Server,
    users: &[client::Credentials],
    probe: &HashProbe,
    report: &mut Report,
) -> anyhow::Result<()> {
    let load = Load {
        address: server.address,
        concurrency: cli.concurrency,
        warmup: cli.warmup,
        duration: cli.duration,
        mix: report.mix,
        slice: cli.slice(),
    };
    for run in 1..=cli.repeat {
        if cli.repeat > 1 {
            eprintln!("{backend}: run {run} of {}", cli.repeat);
        }
        let first = report.results.len();
        for &scenario in &cli.scenarios {
            if scenario == Scenario::Login {
                // One login at a time: the whole request's cost over one hash, and the
                // single-client latency of the argon2-bound path.
                let serial = Load {
                    concurrency: 1,
                    warmup: Duration::ZERO,
                    duration: cli.duration.min(Duration::from_secs(3)),
                    ..load
                };
                let result = measure(backend, scenario, serial, server, users).await?;
                let fastest = report
                    .login_serial_p50_ms
                    .map_or(result.stats.p50_ms, |ms| ms.min(result.stats.p50_ms));
                report.login_serial_p50_ms = Some(fastest);
                report.results.push(result);
                // Then at full concurrency, with argon2 on every core in this process just
                // before and after: the ceiling as the machine stands while the logins run.
                let before = hash_rate(probe, report.cores).await?;
                let mut result = measure(backend, scenario, load, server, users).await?;
                let after = hash_rate(probe, report.cores).await?;
                result.hash_rate_per_s = Some(f64::midpoint(before, after));
                report.results.push(result);
                continue;
            }
            let result = measure(backend, scenario, load, server, users).await?;
            report.results.push(result);
            if scenario == Scenario::Refresh && backend == "postgres" {
                for &instances in cli.postgres_instances.iter().filter(|&&count| count > 1) {
                    let result =
                        measure_instances(backend, scenario, load, jwtd, server, instances, users)
                            .await?;
                    report.results.push(result);
                }
            }
        }
        for result in &mut report.results[first..] {
            result.run = run;
        }
    }
    Ok(())
}

/// Runs `scenario` on `instances` jwtd processes on the same database: `server` and as many
/// more as needed, started for this measurement and stopped after it. Each client talks to
/// one of them only (client `i` to instance `i % instances`).
async fn measure_instances(
    backend: &str,
    scenario: Scenario,
    load: Load,
    jwtd: &Jwtd,
    server: &Server,
    instances: usize,
    users: &[client::Credentials],
) -> anyhow::Result<ScenarioResult> {
    let mut extra = Vec::with_capacity(instances - 1);
    for _ in 1..instances {
        match jwtd.serve().await {
            Ok(started) => extra.push(started),
            Err(error) => {
                for started in extra {
                    started.stop().await;
                }
                return Err(error.context(format!("{backend}: cannot start another jwtd")));
            }
        }
    }
    let servers: Vec<&Server> = std::iter::once(server).chain(&extra).collect();
    let addresses: Vec<_> = servers.iter().map(|server| server.address).collect();
    eprint!(
        "{backend}: {} with {} clients on {instances} instances ({}) for {:?} ... ",
        scenario.name(),
        load.concurrency,
        addresses
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        load.duration
    );
    let context = || format!("{backend} {} on {instances} instances", scenario.name());
    let outcome = async {
        let prepared = runner::prepare_split(scenario, load, users, &addresses)
            .await
            .with_context(context)?;
        let pids: Vec<u32> = servers.iter().map(|server| server.pid()).collect();
        server::peak_rss_of_all(&servers, prepared.run_per_instance(&pids))
            .await
            .with_context(context)
    }
    .await;
    drop(servers);
    for started in extra {
        started.stop().await;
    }
    let ((tallies, cpu), peaks) = outcome?;
    let clients: Vec<usize> = (0..instances)
        .map(|instance| (instance..load.concurrency).step_by(instances).count())
        .collect();
    let mut result = ScenarioResult::of_instances(
        backend,
        scenario,
        &clients,
        tallies,
        load.window(scenario),
        &peaks,
    );
    result.set_cpu(cpu);
    eprintln!(
        "{:.0} req/s, p99 {:.2} ms, {} errors, {} broken chains",
        result.stats.requests_per_s,
        result.stats.p99_ms,
        result.stats.errors,
        result.broken_chains.unwrap_or(0)
    );
    Ok(result)
}

async fn measure(
    backend: &str,
    scenario: Scenario,
    load: Load,
    server: &Server,
    users: &[client::Credentials],
) -> anyhow::Result<ScenarioResult> {
    eprint!(
        "{backend}: {} with {} clients for {:?} ... ",
        scenario.name(),
        load.concurrency,
        load.duration
    );
    let context = || format!("{backend} {}", scenario.name());
    // Set-up logins are left out of the memory peak: it is the load's own.
    let prepared = runner::prepare(scenario, load, users)
        .await
        .with_context(context)?;
    let ((tally, cpu), peak_rss_kib) = server
        .peak_rss_during(prepared.run(&[server.pid()]))
        .await
        .with_context(context)?;
    let mut result = ScenarioResult::new(
        backend,
        scenario,
        load.concurrency,
        tally,
        load.window(scenario),
        peak_rss_kib,
    );
    result.set_cpu(cpu);
    eprintln!(
        "{:.0} req/s, p99 {:.2} ms, {} errors, {}{}",
        result.stats.requests_per_s,
        result.stats.p99_ms,
        result.stats.errors,
        result.cpu_per_request_us.map_or_else(
            || "CPU not readable".to_owned(),
            |us| format!("{us:.1} CPU-µs per request")
        ),
        result
            .paired_healthz
            .as_ref()
            .map_or_else(String::new, |paired| format!(
                "; healthz in the slices between: {:.0} req/s",
                paired.stats.requests_per_s
            )),
    );
    Ok(result)
}

/// argon2 verifications per second with one thread per core hashing for half a second.
async fn hash_rate(probe: &HashProbe, cores: usize) -> anyhow::Result<f64> {
    let probe = probe.clone();
    tokio::task::spawn_blocking(move || probe.rate(cores, Duration::from_millis(500)))
        .await
        .context("the hashing probe panicked")?
}

fn git_commit() -> Option<String> {
    let output = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The 1, 5 and 15-minute load averages: other work on the machine skews every number.
fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(
        text.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// Parses `--setting KEY=VALUE`; only `JWTD_*` keys.
fn parse_setting(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))?;
    if !key.starts_with("JWTD_") {
        return Err(format!("{key:?} is not a JWTD_* setting"));
    }
    Ok((key.to_owned(), value.to_owned()))
}

fn with_settings(jwtd: Jwtd, settings: &[(String, String)]) -> Jwtd {
    settings
        .iter()
        .fold(jwtd, |jwtd, (key, value)| jwtd.with_setting(key, value))
}
