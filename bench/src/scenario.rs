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

    /// Whether the scenario's window is shared with a `healthz` baseline (see
    /// [`Load::slice`]): the ones whose ratio to `healthz` is a target. `login` is measured
    /// against the argon2 ceiling instead.
    pub fn pairs_with_baseline(self) -> bool {
        matches!(
            self,
            Scenario::Verify | Scenario::Me | Scenario::Refresh | Scenario::Mixed
        )
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
    /// When set, the measured window of a scenario that [pairs with the
    /// baseline](Scenario::pairs_with_baseline) alternates in slices of this length: the
    /// scenario's, then one of `GET /healthz` on the same connections, and so on. Both then
    /// sample the same seconds of a machine whose speed drifts, and their ratio is not
    /// skewed by what the machine did in another scenario's window. Never zero: `None`
    /// is no interleaving.
    pub slice: Option<Duration>,
}

impl Load {
    /// How `scenario`'s measured time is shared with its baseline.
    pub fn window(&self, scenario: Scenario) -> Window {
        Window::of(self.duration, self.slice_of(scenario))
    }

    fn slice_of(&self, scenario: Scenario) -> Option<Duration> {
        self.slice.filter(|_| scenario.pairs_with_baseline())
    }
}

/// A scenario's measured time, and the part of it given to its `healthz` baseline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    /// Time in the scenario's own slices.
    pub scenario: Duration,
    /// Time in the baseline's slices (zero without interleaving).
    pub baseline: Duration,
}

impl Window {
    /// Splits `duration` into slices of `slice` (see [`slices`]).
    pub fn of(duration: Duration, slice: Option<Duration>) -> Self {
        let mut window = Self::default();
        for part in slices(duration, slice) {
            let length = part.end - part.start;
            if part.baseline {
                window.baseline += length;
            } else {
                window.scenario += length;
            }
        }
        window
    }
}

/// One slice of a measured window, as offsets from its start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slice {
    start: Duration,
    end: Duration,
    baseline: bool,
}

/// `duration` cut into slices of `slice`, the scenario's first and then the baseline's in
/// turn, the last one cut short at the end; without a slice (or a zero one), one slice that
/// is all the scenario's.
fn slices(duration: Duration, slice: Option<Duration>) -> impl Iterator<Item = Slice> {
    let step = slice.filter(|slice| !slice.is_zero()).unwrap_or(duration);
    let mut start = Duration::ZERO;
    let mut baseline = false;
    std::iter::from_fn(move || {
        (start < duration).then(|| {
            let end = (start + step).min(duration);
            let slice = Slice {
                start,
                end,
                baseline,
            };
            start = end;
            baseline = !baseline;
            slice
        })
    })
}

/// When a run measures, and which of its slices belong to the baseline.
#[derive(Clone, Copy, Debug)]
struct Schedule {
    measure_from: Instant,
    deadline: Instant,
    slice: Option<Duration>,
}

impl Schedule {
    /// Whether a request started at `at` is one of the baseline's: in an odd-numbered slice
    /// of the measured window (the warm-up is the scenario's).
    fn baseline_at(&self, at: Instant) -> bool {
        match self.slice {
            Some(slice) if at >= self.measure_from => {
                let slices = (at - self.measure_from).as_nanos() / slice.as_nanos().max(1);
                slices % 2 == 1
            }
            _ => false,
        }
    }

    /// Samples the CPU of `pids` and of this process at every slice boundary from the
    /// start of measuring to the deadline, and adds each slice's use to its owner's.
    async fn sample_cpu(self, pids: Vec<u32>) -> CpuSplit {
        tokio::time::sleep_until(self.measure_from).await;
        let mut previous = CpuUse::sample(&pids);
        let mut split = CpuSplit {
            scenario: previous.map(|_| CpuUse::default()),
            baseline: self.slice.and(previous).map(|_| CpuUse::default()),
        };
        for part in slices(self.deadline - self.measure_from, self.slice) {
            tokio::time::sleep_until(self.measure_from + part.end).await;
            let now = CpuUse::sample(&pids);
            let used = now.zip(previous).map(|(now, before)| now.since(before));
            let owner = if part.baseline {
                &mut split.baseline
            } else {
                &mut split.scenario
            };
            *owner = owner.zip(used).map(|(total, used)| total.plus(used));
            previous = now;
        }
        split
    }
}

/// CPU time over a measured window, split between the scenario's slices and its baseline's.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuSplit {
    /// Over the scenario's slices; `None` where it could not be read.
    pub scenario: Option<CpuUse>,
    /// Over the baseline's slices; `None` without a baseline or where it could not be read.
    pub baseline: Option<CpuUse>,
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

    fn plus(self, other: Self) -> Self {
        Self {
            server_user_s: self.server_user_s + other.server_user_s,
            server_system_s: self.server_system_s + other.server_system_s,
            client_user_s: self.client_user_s + other.client_user_s,
            client_system_s: self.client_system_s + other.client_system_s,
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

    /// Takes out the `healthz` requests of a scenario whose own requests are other calls:
    /// those of its interleaved baseline (see [`Load::slice`]).
    pub fn take_baseline(&mut self) -> (Vec<u32>, u64) {
        let index = Call::Healthz.index();
        (
            std::mem::take(&mut self.latencies[index]),
            std::mem::take(&mut self.errors[index]),
        )
    }

    /// The latencies and error count of `scenario`'s own requests: every call but, for a
    /// scenario other than `healthz`, those of its interleaved baseline.
    pub fn own_calls(&self, scenario: Scenario) -> (Vec<u32>, u64) {
        let own = |call: &Call| scenario == Scenario::Healthz || *call != Call::Healthz;
        let latencies = Call::ALL
            .iter()
            .filter(|call| own(call))
            .flat_map(|call| self.latencies[call.index()].iter().copied())
            .collect();
        let errors = Call::ALL
            .iter()
            .filter(|call| own(call))
            .map(|call| self.errors[call.index()])
            .sum();
        (latencies, errors)
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

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_window_alternates_from_the_scenario_and_cuts_the_last_slice_short() {
        let even = Window::of(10_000 * MS, Some(500 * MS));
        assert_eq!((even.scenario, even.baseline), (5_000 * MS, 5_000 * MS));
        // 0–500 scenario, 500–1000 baseline, 1000–1200 scenario.
        let odd = Window::of(1_200 * MS, Some(500 * MS));
        assert_eq!((odd.scenario, odd.baseline), (700 * MS, 500 * MS));
        for slice in [None, Some(Duration::ZERO)] {
            let whole = Window::of(1_200 * MS, slice);
            assert_eq!(
                (whole.scenario, whole.baseline),
                (1_200 * MS, Duration::ZERO)
            );
        }
    }

    #[test]
    fn slices_alternate_and_cover_the_window_exactly_once() {
        let cut: Vec<(u128, u128, bool)> = slices(1_200 * MS, Some(500 * MS))
            .map(|part| (part.start.as_millis(), part.end.as_millis(), part.baseline))
            .collect();
        assert_eq!(
            cut,
            [(0, 500, false), (500, 1_000, true), (1_000, 1_200, false)]
        );
        assert_eq!(slices(1_200 * MS, None).count(), 1);
        assert_eq!(slices(Duration::ZERO, Some(500 * MS)).count(), 0);
    }

    #[test]
    fn only_the_targets_of_a_ratio_share_their_window() {
        let load = Load {
            address: SocketAddr::from(([127, 0, 0, 1], 8000)),
            concurrency: 1,
            warmup: Duration::ZERO,
            duration: 2_000 * MS,
            mix: Mix {
                me_per_refresh: 1,
                refreshes_per_session: 1,
            },
            slice: Some(500 * MS),
        };
        for scenario in Scenario::ALL {
            let shared = load.window(scenario).baseline == 1_000 * MS;
            let expected = !matches!(scenario, Scenario::Healthz | Scenario::Login);
            assert_eq!(shared, expected, "{scenario:?}");
        }
    }

    #[test]
    fn the_baseline_has_the_odd_slices_of_the_measured_window_only() {
        let measure_from = Instant::now() + 1_000 * MS;
        let schedule = Schedule {
            measure_from,
            deadline: measure_from + 2_000 * MS,
            slice: Some(500 * MS),
        };
        let at = |ms: u32| schedule.baseline_at(measure_from + ms * MS);
        assert!(!schedule.baseline_at(measure_from - 600 * MS), "warm-up");
        assert_eq!(
            [
                at(0),
                at(499),
                at(500),
                at(999),
                at(1_000),
                at(1_500),
                at(1_999)
            ],
            [false, false, true, true, false, true, true]
        );
        let unsliced = Schedule {
            slice: None,
            ..schedule
        };
        assert!(!unsliced.baseline_at(measure_from + 700 * MS));
    }
}
