//! What the virtual clients measured: latencies, errors and broken chains per kind of
//! request.

use std::time::Duration;

use crate::scenario::{Call, Scenario};

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

impl Tally {
    /// Counts one request of `call` that took `elapsed`.
    pub fn record(&mut self, call: Call, elapsed: Duration, success: bool) {
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
