//! The scenarios and the kinds of request they send, and how hard each is driven.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;

use crate::window::Window;

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

    pub fn needs_session(self) -> bool {
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

    pub fn index(self) -> usize {
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

    pub fn slice_of(&self, scenario: Scenario) -> Option<Duration> {
        self.slice.filter(|_| scenario.pairs_with_baseline())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

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
}
