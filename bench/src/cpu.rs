//! CPU time used by the servers and by this load generator, read from `/proc`.

use serde::Serialize;

/// CPU time over a measured window, split between the scenario's slices and its baseline's.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuSplit {
    /// Over the scenario's slices; `None` where it could not be read.
    pub scenario: Option<CpuUse>,
    /// Over the baseline's slices; `None` without a baseline or where it could not be read.
    pub baseline: Option<CpuUse>,
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
    pub fn sample(server_pids: &[u32]) -> Option<Self> {
        let mut sample = Self::default();
        for &pid in server_pids {
            let (user, system) = cpu_seconds(pid)?;
            sample.server_user_s += user;
            sample.server_system_s += system;
        }
        (sample.client_user_s, sample.client_system_s) = cpu_seconds(std::process::id())?;
        Some(sample)
    }

    /// What was used between `start` and `self`.
    pub fn since(self, start: Self) -> Self {
        Self {
            server_user_s: self.server_user_s - start.server_user_s,
            server_system_s: self.server_system_s - start.server_system_s,
            client_user_s: self.client_user_s - start.client_user_s,
            client_system_s: self.client_system_s - start.client_system_s,
        }
    }

    /// Both uses together.
    pub fn plus(self, other: Self) -> Self {
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

/// Seconds of CPU in user space and in the kernel (all threads) that process `pid` has
/// used, from `/proc/<pid>/stat`; `None` where it cannot be read.
pub fn cpu_seconds(pid: u32) -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: the fields start after the last `)`,
    // with the state (field 3), so utime and stime (fields 14 and 15) are the 12th and 13th.
    let fields = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = fields.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    // /proc counts in USER_HZ, which Linux fixes at 100 for user space.
    Some((user as f64 / 100.0, system as f64 / 100.0))
}
