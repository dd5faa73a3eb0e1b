//! The virtual clients: each connects (and logs in), then loops over its scenario's requests
//! until the deadline, measuring after the warm-up.

use std::net::SocketAddr;

use anyhow::Context;
use hyper::body::Bytes;
use serde_json::json;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::client::{Connection, Credentials, Session, json_body};
use crate::cpu::CpuSplit;
use crate::scenario::{Call, Load, Mix, Scenario};
use crate::tally::Tally;
use crate::window::Schedule;

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
        schedule: Schedule,
    ) -> anyhow::Result<Tally> {
        let mut tally = Tally::default();
        loop {
            let started = Instant::now();
            if started >= schedule.deadline {
                return Ok(tally);
            }
            let call = if schedule.baseline_at(started) {
                Call::Healthz
            } else {
                self.next_call(scenario, mix)
            };
            let outcome = self.perform(call).await;
            if started >= schedule.measure_from {
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
    /// With a [slice](Load::slice), the clients turn to `GET /healthz` in every other slice:
    /// those requests are the tally's `healthz` calls, their CPU the split's baseline.
    ///
    /// # Errors
    /// When a client cannot recover from an error (the server is gone).
    pub async fn run(self, server_pids: &[u32]) -> anyhow::Result<(Tally, CpuSplit)> {
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
    ) -> anyhow::Result<(Vec<Tally>, CpuSplit)> {
        let measure_from = Instant::now() + self.load.warmup;
        let schedule = Schedule {
            measure_from,
            deadline: measure_from + self.load.duration,
            slice: self.load.slice_of(self.scenario),
        };
        let cpu = tokio::spawn(schedule.sample_cpu(server_pids.to_vec()));
        let mut running = JoinSet::new();
        for (instance, client) in self.clients {
            let driving = client.drive(self.scenario, self.load.mix, schedule);
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
