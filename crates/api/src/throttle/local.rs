//! Per-address limits kept in this process: `governor`'s keyed GCRA limiter, one state per
//! address, trimmed of idle addresses as it grows so that a flood of addresses cannot make
//! it grow without bound.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

/// Checks between two trims of idle addresses.
const TRIM_EVERY: usize = 4096;

/// A per-minute limit per address.
pub(super) struct PerAddress {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
    checks: AtomicUsize,
}

impl PerAddress {
    /// `per_minute` requests per address and minute, all of them at once if they come at
    /// once; `None` for 0 (no limit).
    pub(super) fn per_minute(per_minute: u32) -> Option<Self> {
        let per_minute = NonZeroU32::new(per_minute)?;
        Some(Self {
            limiter: DefaultKeyedRateLimiter::keyed(Quota::per_minute(per_minute)),
            clock: DefaultClock::default(),
            checks: AtomicUsize::new(0),
        })
    }

    /// `Ok` when `address` may make one more request now; else how long until it may.
    pub(super) fn check(&self, address: IpAddr) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % TRIM_EVERY == TRIM_EVERY - 1 {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&address)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_quota_and_then_a_wait_while_another_is_unaffected() {
        let limit = PerAddress::per_minute(3).unwrap();
        let one: IpAddr = "192.0.2.1".parse().unwrap();
        let two: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert!(limit.check(one).is_ok());
        }
        let wait = limit.check(one).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert!(limit.check(two).is_ok());
        assert!(PerAddress::per_minute(0).is_none());
    }
}
