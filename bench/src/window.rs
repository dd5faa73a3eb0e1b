//! A scenario's measured window: its slices, shared in turn with the `healthz` baseline
//! when interleaved, and when each request and each CPU second belong to which.

use std::time::Duration;

use tokio::time::Instant;

use crate::cpu::{CpuSplit, CpuUse};

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
pub struct Schedule {
    /// When the warm-up ends and measuring starts.
    pub measure_from: Instant,
    /// When the clients stop.
    pub deadline: Instant,
    /// The length of the slices shared with the baseline, if any.
    pub slice: Option<Duration>,
}

impl Schedule {
    /// Whether a request started at `at` is one of the baseline's: in an odd-numbered slice
    /// of the measured window (the warm-up is the scenario's).
    pub fn baseline_at(&self, at: Instant) -> bool {
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
    pub async fn sample_cpu(self, pids: Vec<u32>) -> CpuSplit {
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
