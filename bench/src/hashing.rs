//! argon2 timed in-process, with the server's own hasher and cost: the ceiling of `login`.

use std::time::{Duration, Instant};

use anyhow::Context;
use auth_core::PasswordHasher;

use crate::report::Argon2Measure;
use crate::server::Argon2Cost;

/// The password every probe hashes (the users' own are never needed here).
const PASSWORD: &str = "jwtd-bench password";

/// The server's hasher and a stored hash of [`PASSWORD`] to verify against.
#[derive(Clone, Debug)]
pub struct HashProbe {
    cost: Argon2Cost,
    hasher: PasswordHasher,
    stored: String,
}

impl HashProbe {
    /// A hasher with the server's cost, and a hash to verify.
    ///
    /// # Errors
    /// When the cost is out of argon2's range.
    pub fn new(cost: Argon2Cost) -> anyhow::Result<Self> {
        let hasher =
            PasswordHasher::new(cost.memory_kib, cost.iterations, cost.parallelism, [7; 16])?;
        let stored = hasher.hash_with(PASSWORD, [9; 16], &mut hasher.memory())?;
        Ok(Self {
            cost,
            hasher,
            stored,
        })
    }

    /// Times one verification on one thread (the median of several), and derives the login
    /// ceiling the issue sets: cores / one hash's time.
    ///
    /// # Errors
    /// When argon2 does not verify its own hash.
    pub fn measure(&self, cores: usize) -> anyhow::Result<Argon2Measure> {
        // One memory reused for every hash, as each of the server's argon2 threads does.
        let mut memory = self.hasher.memory();
        // Two unmeasured runs first, to warm the caches.
        for _ in 0..2 {
            self.verify(&mut memory)?;
        }
        let mut times = (0..9)
            .map(|_| {
                let started = Instant::now();
                self.verify(&mut memory).map(|()| started.elapsed())
            })
            .collect::<anyhow::Result<Vec<Duration>>>()?;
        times.sort_unstable();
        let hash = times[times.len() / 2].as_secs_f64();
        Ok(Argon2Measure {
            cost: self.cost,
            hash_ms: hash * 1000.0,
            login_ceiling_per_s: cores as f64 / hash,
            ceiling_basis: "in-process argon2 (median of 9)",
        })
    }

    /// Verifications per second with `threads` threads verifying at once for about `time`
    /// (at least one each), each in memory of its own: argon2 alone on the machine as it is now, with the cores
    /// contending for memory bandwidth and cache as the server's argon2 threads do.
    ///
    /// # Errors
    /// When argon2 does not verify its own hash, or a thread panics.
    pub fn rate(&self, threads: usize, time: Duration) -> anyhow::Result<f64> {
        let started = Instant::now();
        let counts = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads.max(1))
                .map(|_| {
                    scope.spawn(|| {
                        let mut memory = self.hasher.memory();
                        // At least one hash each, however late the thread starts.
                        let mut done: u32 = 0;
                        loop {
                            self.verify(&mut memory)?;
                            done += 1;
                            if started.elapsed() >= time {
                                break anyhow::Ok(done);
                            }
                        }
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|worker| {
                    worker
                        .join()
                        .map_err(|_| anyhow::anyhow!("a hashing thread panicked"))?
                })
                .collect::<anyhow::Result<Vec<u32>>>()
        })?;
        // The last hash of each thread ends after `time`: the elapsed time counts it.
        let elapsed = started.elapsed().as_secs_f64();
        Ok(counts.iter().map(|&count| f64::from(count)).sum::<f64>() / elapsed)
    }

    fn verify(&self, memory: &mut auth_core::Argon2Memory) -> anyhow::Result<()> {
        self.hasher
            .verify_with(PASSWORD, Some(&self.stored), memory)
            .then_some(())
            .context("argon2 did not verify its own hash")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest cost argon2 accepts, so the test is quick.
    fn probe() -> HashProbe {
        HashProbe::new(Argon2Cost {
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap()
    }

    #[test]
    fn the_probe_gives_a_rate_and_the_ceiling_of_one_hash() {
        let probe = probe();
        let one = probe.rate(1, Duration::from_millis(50)).unwrap();
        assert!(one > 100.0, "{one} hashes/s at 8 KiB");
        let measure = probe.measure(2).unwrap();
        assert!(measure.hash_ms > 0.0);
        // cores / hash time, up to rounding (the hash time is kept in milliseconds).
        let cores = measure.login_ceiling_per_s * measure.hash_ms / 1000.0;
        assert!((cores - 2.0).abs() < 1e-9, "{measure:?}");
    }
}
