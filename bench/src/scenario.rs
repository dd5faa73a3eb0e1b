//! The scenarios: what each virtual client sends, in a loop, for a fixed time.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use hyper::body::Bytes;
use serde::Serialize;
use serde_json::json;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::client::{Connection, Session, json_body};

/// A workload, run at fixed concurrency for a fixed time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// `GET /healthz`: the HTTP stack alone, the baseline of every ratio.
    Healthz,
    /// `POST /token/verify` of an access token.
    Verify,
    /// `GET /me` with a bearer access token.
    Me,
    /// `POST /token/refresh`: each client rotates its own chain.
    Refresh,
    /// `POST /token`: argon2-bound by design.
    Login,
    /// A single-page app: many `me` per refresh, a login and a logout per session.
    Mixed,
}

impl Scenario {
    /// Every scenario, in the order they run.
    pub const ALL: [Scenario; 6] = [
        Scenario::Healthz,
        Scenario::Verify,
        Scenario::Me,
        Scenario::Refresh,
        Scenario::Login,
        Scenario::Mixed,
    ];

    /// The name used in the table and the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Healthz => "healthz",
            Scenario::Verify => "verify",
            Scenario::Me => "me",
            Scenario::Refresh => "refresh",
            Scenario::Login => "login",
            Scenario::Mixed => "mixed",
        }
    }

    fn needs_session(self) -> bool {
        !matches!(self, Scenario::Healthz | Scenario::Login)
    }
}

/// One kind of request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Call {
    /// `GET /healthz`.
    Healthz,
    /// `GET /me`.
    Me,
    /// `POST /token/verify`.
    Verify,
    /// `POST /token/refresh`.
    Refresh,
    /// `POST /token`.
    Login,
    /// `POST /logout`.
    Logout,
}

impl Call {
    /// Every kind, in index order.
    pub const ALL: [Call; 6] = [
        Call::Healthz,
        Call::Me,
        Call::Verify,
        Call::Refresh,
        Call::Login,
        Call::Logout,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// The proportions of the `mixed` scenario.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Mix {
    /// `GET /me` requests between two refreshes.
    pub me_per_refresh: u32,
    /// Refreshes between a login and its logout.
    pub refreshes_per_session: u32,
}

/// How hard and how long to drive one scenario.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    /// The server.
    pub address: SocketAddr,
    /// Virtual clients, each on its own keep-alive connection.
    pub concurrency: usize,
    /// Time before measuring starts (connections warm, caches filled).
    pub warmup: Duration,
    /// Time measured.
    pub duration: Duration,
    /// The `mixed` proportions.
    pub mix: Mix,
}

/// A user the virtual clients log in as.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The username.
    pub username: String,
    /// The password.
    pub password: String,
}

/// What the virtual clients measured, merged.
#[derive(Debug, Default)]
pub struct Tally {
    /// Latencies in microseconds, per `Call` index.
    pub latencies: [Vec<u32>; 6],
    /// Non-2xx replies and transport errors, per `Call` index.
    pub errors: [u64; 6],
    /// Refresh chains that broke: a rotation refused or lost, so the client logged in again.
    pub broken_chains: u64,
}

/// CPU time spent during a scenario's measured window: by the servers, and by this load
/// generator (every thread of it). On a machine whose cores the two share, their sum per
/// request is what sets the throughput, and unlike the throughput it does not move when
/// other tenants of the machine take CPU time away.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct CpuUse {
    /// Seconds of CPU used by the jwtd processes in user space.
    pub server_user_s: f64,
    /// Seconds of CPU used by the jwtd processes in the kernel (on loopback, that includes
    /// receiving what the load generator sent).
    pub server_system_s: f64,
    /// Seconds of CPU used by the load generator in user space.
    pub client_user_s: f64,
    /// Seconds of CPU used by the load generator in the kernel.
    pub client_system_s: f64,
}

impl CpuUse {
    /// The CPU of `server_pids` and of this process now; `None` if any cannot be read.
    fn sample(server_pids: &[u32]) -> Option<Self> {
        let mut sample = Self::default();
        for &pid in server_pids {
            let (user, system) = crate::server::cpu_seconds(pid)?;
            sample.server_user_s += user;
            sample.server_system_s += system;
        }
        (sample.client_user_s, sample.client_system_s) =
            crate::server::cpu_seconds(std::process::id())?;
        Some(sample)
    }

    /// What was used between `start` and `self`.
    fn since(self, start: Self) -> Self {
        Self {
            server_user_s: self.server_user_s - start.server_user_s,
            server_system_s: self.server_system_s - start.server_system_s,
            client_user_s: self.client_user_s - start.client_user_s,
            client_system_s: self.client_system_s - start.client_system_s,
        }
    }

    /// Everything, servers and load generator.
    pub fn total_s(self) -> f64 {
        self.server_user_s + self.server_system_s + self.client_user_s + self.client_system_s
    }
}

impl Tally {
    fn record(&mut self, call: Call, elapsed: Duration, success: bool) {
        let micros = u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX);
        self.latencies[call.index()].push(micros);
        if !success {
            self.errors[call.index()] += 1;
        }
    }

    /// Adds another tally's requests to this one.
    pub fn merge(&mut self, other: Tally) {
        for (mine, theirs) in self.latencies.iter_mut().zip(other.latencies) {
            mine.extend(theirs);
        }
        for (mine, theirs) in self.errors.iter_mut().zip(other.errors) {
            *mine += theirs;
        }
        self.broken_chains += other.broken_chains;
    }
}

/// One virtual client: a connection, a user, and where it is in its workload.
struct VirtualClient {
    address: SocketAddr,
    connection: Connection,
    login_body: Bytes,
    session: Option<Session>,
    me_done: u32,
    refreshes_done: u32,
}

impl VirtualClient {
    async fn connect(address: SocketAddr, credentials: &Credentials) -> anyhow::Result<Self> {
        Ok(Self {
            address,
            connection: Connection::open(address).await?,
            login_body: json_body(
                &json!({ "username": credentials.username, "password": credentials.password }),
            )?,
            session: None,
            me_done: 0,
            refreshes_done: 0,
        })
    }

    /// Logs in outside any measurement: set-up, or recovery from a broken chain.
    async fn log_in(&mut self) -> anyhow::Result<()> {
        let reply = self
            .connection
            .post_json("/token", self.login_body.clone())
            .await?;
        anyhow::ensure!(
            reply.status.is_success(),
            "login failed with {}: {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
        self.session = Some(Session::from_reply(&reply)?);
        Ok(())
    }

    fn next_call(&self, scenario: Scenario, mix: Mix) -> Call {
        match scenario {
            Scenario::Healthz => Call::Healthz,
            Scenario::Verify => Call::Verify,
            Scenario::Me => Call::Me,
            Scenario::Refresh => Call::Refresh,
            Scenario::Login => Call::Login,
            Scenario::Mixed => match &self.session {
                None => Call::Login,
                Some(_) if self.me_done < mix.me_per_refresh => Call::Me,
                Some(_) if self.refreshes_done < mix.refreshes_per_session => Call::Refresh,
                Some(_) => Call::Logout,
            },
        }
    }

    /// Sends one request; `Ok(false)` for a non-2xx reply.
    async fn perform(&mut self, call: Call) -> anyhow::Result<bool> {
        let session = self.session.as_ref();
        let missing = || anyhow::anyhow!("{call:?} needs a session");
        let reply = match call {
            Call::Healthz => self.connection.get("/healthz", None).await?,
            Call::Me => {
                let bearer = &session.ok_or_else(missing)?.bearer;
                self.connection.get("/me", Some(bearer)).await?
            }
            Call::Verify => {
                let body = session.ok_or_else(missing)?.verify_body.clone();
                self.connection.post_json("/token/verify", body).await?
            }
            Call::Refresh => {
                let body = session.ok_or_else(missing)?.refresh_body.clone();
                self.connection.post_json("/token/refresh", body).await?
            }
            Call::Logout => {
                let body = session.ok_or_else(missing)?.refresh_body.clone();
                self.connection.post_json("/logout", body).await?
            }
            Call::Login => {
                self.connection
                    .post_json("/token", self.login_body.clone())
                    .await?
            }
        };
        if !reply.status.is_success() {
            return Ok(false);
        }
        match call {
            // Every rotation uses the token the previous one returned.
            Call::Refresh | Call::Login => self.session = Some(Session::from_reply(&reply)?),
            Call::Logout => self.session = None,
            Call::Healthz | Call::Me | Call::Verify => {}
        }
        Ok(true)
    }

    /// Moves the `mixed` cycle on after a request, whatever its outcome.
    fn advance(&mut self, call: Call) {
        match call {
            Call::Login => {
                self.me_done = 0;
                self.refreshes_done = 0;
            }
            Call::Me => self.me_done += 1,
            Call::Refresh => {
                self.me_done = 0;
                self.refreshes_done += 1;
            }
            Call::Logout => self.session = None,
            Call::Healthz | Call::Verify => {}
        }
    }

    async fn drive(
        mut self,
        scenario: Scenario,
        mix: Mix,
        measure_from: Instant,
        deadline: Instant,
    ) -> anyhow::Result<Tally> {
        let mut tally = Tally::default();
        loop {
            let call = self.next_call(scenario, mix);
            let started = Instant::now();
            if started >= deadline {
                return Ok(tally);
            }
            let outcome = self.perform(call).await;
            if started >= measure_from {
                tally.record(call, started.elapsed(), matches!(outcome, Ok(true)));
            }
            let failed = !matches!(outcome, Ok(true));
            if outcome.is_err() {
                // The connection may be dead; a fresh one replaces it, as a browser would.
                self.connection = Connection::open(self.address).await?;
            }
            if failed && call == Call::Refresh {
                // Whether or not the server rotated, this client no longer holds a token
                // it can trust: the chain is broken, and a new login starts another.
                tally.broken_chains += 1;
                self.log_in().await?;
            }
            self.advance(call);
        }
    }
}

/// A scenario's clients, connected (and logged in) and ready to go.
pub struct Prepared {
    scenario: Scenario,
    load: Load,
    instances: usize,
    /// Each client with the index of the server it talks to.
    clients: Vec<(usize, VirtualClient)>,
}

/// Connects (and logs in) every client of a scenario, outside any measurement.
///
/// # Errors
/// When a client cannot connect or log in.
pub async fn prepare(
    scenario: Scenario,
    load: Load,
    users: &[Credentials],
) -> anyhow::Result<Prepared> {
    prepare_split(scenario, load, users, &[load.address]).await
}

/// As [`prepare`], with the clients dealt out over several servers (`addresses`) in turn:
/// client `i` talks only to server `i % addresses.len()`, so each chain stays on one server.
///
/// # Errors
/// When a client cannot connect or log in.
pub async fn prepare_split(
    scenario: Scenario,
    load: Load,
    users: &[Credentials],
    addresses: &[SocketAddr],
) -> anyhow::Result<Prepared> {
    anyhow::ensure!(
        users.len() >= load.concurrency,
        "{} users for {} clients",
        users.len(),
        load.concurrency
    );
    anyhow::ensure!(!addresses.is_empty(), "no server to send the load to");
    let mut setup = JoinSet::new();
    for (index, credentials) in users.iter().take(load.concurrency).enumerate() {
        let credentials = credentials.clone();
        let instance = index % addresses.len();
        let address = addresses[instance];
        let mix = load.mix;
        setup.spawn(async move {
            let mut client = VirtualClient::connect(address, &credentials).await?;
            if scenario.needs_session() {
                client.log_in().await?;
            }
            if scenario == Scenario::Mixed {
                // Spread the clients over the cycle so that logins do not come in a burst.
                let clients = u32::try_from(load.concurrency.max(1)).unwrap_or(u32::MAX);
                let index = u32::try_from(index).unwrap_or(0);
                client.me_done = index % mix.me_per_refresh.max(1);
                client.refreshes_done = index * mix.refreshes_per_session / clients;
            }
            anyhow::Ok((instance, client))
        });
    }
    let mut clients = Vec::with_capacity(load.concurrency);
    while let Some(joined) = setup.join_next().await {
        clients.push(joined.context("a set-up task panicked")??);
    }
    Ok(Prepared {
        scenario,
        load,
        instances: addresses.len(),
        clients,
    })
}

impl Prepared {
    /// Lets every client loop until the deadline, measuring only after the warm-up, and
    /// the CPU time of the servers `server_pids` and of this process over the same window.
    ///
    /// # Errors
    /// When a client cannot recover from an error (the server is gone).
    pub async fn run(self, server_pids: &[u32]) -> anyhow::Result<(Tally, Option<CpuUse>)> {
        let mut tally = Tally::default();
        let (parts, cpu) = self.run_per_instance(server_pids).await?;
        for part in parts {
            tally.merge(part);
        }
        Ok((tally, cpu))
    }

    /// As [`Prepared::run`], with one tally per server, in the order of their addresses.
    ///
    /// # Errors
    /// When a client cannot recover from an error (the server is gone).
    pub async fn run_per_instance(
        self,
        server_pids: &[u32],
    ) -> anyhow::Result<(Vec<Tally>, Option<CpuUse>)> {
        let measure_from = Instant::now() + self.load.warmup;
        let deadline = measure_from + self.load.duration;
        let pids = server_pids.to_vec();
        let cpu = tokio::spawn(async move {
            tokio::time::sleep_until(measure_from).await;
            let start = CpuUse::sample(&pids);
            tokio::time::sleep_until(deadline).await;
            let end = CpuUse::sample(&pids);
            start.zip(end).map(|(start, end)| end.since(start))
        });
        let mut running = JoinSet::new();
        for (instance, client) in self.clients {
            let driving = client.drive(self.scenario, self.load.mix, measure_from, deadline);
            running.spawn(async move { anyhow::Ok((instance, driving.await?)) });
        }
        let mut tallies: Vec<Tally> = (0..self.instances).map(|_| Tally::default()).collect();
        while let Some(joined) = running.join_next().await {
            let (instance, tally) = joined.context("a client task panicked")??;
            tallies[instance].merge(tally);
        }
        let cpu = cpu.await.context("the CPU sampler panicked")?;
        Ok((tallies, cpu))
    }
}
