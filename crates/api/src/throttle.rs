//! Abuse limits (issue 15): login lockout per username and login rate limit per client
//! address, counted where every instance sees them and a restart keeps them (the database,
//! or Redis when configured); and per-address limits of `/token/refresh` and
//! `/token/verify`, kept in each process (`governor`), generous, so that a stolen token
//! cannot be probed at wire speed.
//!
//! A login counts as an attempt before its password is checked, so that parallel guesses
//! cannot slip past the count while they hash; a successful login clears its username's
//! count. A refused request answers DRF's 429 (`Retry-After` and `{"detail": ...}`) and
//! costs no hashing.

mod counts;
mod local;

use std::net::IpAddr;
use std::time::Duration;

use crate::AppState;
use crate::db::Database;
use crate::error::ApiError;
use crate::events::Client;
use crate::metrics::Count;

use self::counts::Counts;
use self::local::PerAddress;

/// At most `max` in each `window`; `max` 0 turns the limit off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// How many are allowed in a window.
    pub max: u32,
    /// The window, from the first counted one.
    pub window: Duration,
}

impl Limit {
    /// `max` per `window`.
    pub const fn new(max: u32, window: Duration) -> Self {
        Self { max, window }
    }

    fn is_on(&self) -> bool {
        self.max > 0 && !self.window.is_zero()
    }
}

/// The limits, as configured.
#[derive(Clone, Debug)]
pub struct ThrottleSettings {
    /// Failed logins per username before it is locked for the rest of the window
    /// (`JWTD_LOGIN_USERNAME_MAX_FAILURES` in `JWTD_LOGIN_USERNAME_WINDOW`).
    pub login_username: Limit,
    /// Login attempts per client address (`JWTD_LOGIN_ADDRESS_MAX_ATTEMPTS` in
    /// `JWTD_LOGIN_ADDRESS_WINDOW`).
    pub login_address: Limit,
    /// `/token/refresh` requests per client address and minute
    /// (`JWTD_REFRESH_RATE_PER_MINUTE`); 0: unlimited.
    pub refresh_per_minute: u32,
    /// `/token/verify` requests per client address and minute (`JWTD_VERIFY_RATE_PER_MINUTE`);
    /// 0: unlimited.
    pub verify_per_minute: u32,
    /// Where login counts live instead of the database (`JWTD_REDIS_URL`).
    pub redis: Option<redis::Client>,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            login_username: Limit::new(5, Duration::from_secs(15 * 60)),
            login_address: Limit::new(30, Duration::from_secs(60)),
            refresh_per_minute: 120,
            verify_per_minute: 600,
            redis: None,
        }
    }
}

impl ThrottleSettings {
    /// Every limit off (for tests about something else).
    pub fn off() -> Self {
        Self {
            login_username: Limit::new(0, Duration::ZERO),
            login_address: Limit::new(0, Duration::ZERO),
            refresh_per_minute: 0,
            verify_per_minute: 0,
            redis: None,
        }
    }
}

/// An endpoint limited per address in process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `/token/refresh`.
    Refresh,
    /// `/token/verify`.
    Verify,
}

/// The limits of one server.
pub struct Throttle {
    username: Limit,
    address: Limit,
    counts: Counts,
    refresh: Option<PerAddress>,
    verify: Option<PerAddress>,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("username", &self.username)
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// What a login is counted under.
#[derive(Clone, Copy)]
enum Subject<'a> {
    Username(&'a str),
    Address(IpAddr),
}

impl Throttle {
    /// The limits of `settings`, counting logins in `db` (or Redis).
    pub fn new(settings: &ThrottleSettings, db: Database) -> Self {
        Self {
            username: settings.login_username,
            address: settings.login_address,
            counts: Counts::new(db, settings.redis.clone()),
            refresh: PerAddress::per_minute(settings.refresh_per_minute),
            verify: PerAddress::per_minute(settings.verify_per_minute),
        }
    }

    /// Counts a login attempt for `username` from `client` and refuses it when either the
    /// address has used up its attempts or the username is locked.
    async fn admit_login(&self, username: &str, client: &Client, now: i64) -> Result<(), ApiError> {
        if self.address.is_on()
            && let Some(address) = address_of(client)
        {
            self.count(Subject::Address(address), self.address, now)
                .await?;
        }
        if self.username.is_on() {
            self.count(Subject::Username(username), self.username, now)
                .await?;
        }
        Ok(())
    }

    async fn count(&self, subject: Subject<'_>, limit: Limit, now: i64) -> Result<(), ApiError> {
        let window = i64::try_from(limit.window.as_secs()).unwrap_or(i64::MAX);
        let (attempts, ends) = self.counts.hit(&subject.key(), window, now).await?;
        if attempts > u64::from(limit.max) {
            return Err(ApiError::Throttled(retry_after(ends - now)));
        }
        Ok(())
    }

    /// A login of `username` succeeded: its count starts again.
    async fn login_succeeded(&self, username: &str) -> Result<(), ApiError> {
        if self.username.is_on() {
            self.counts
                .clear(&Subject::Username(username).key())
                .await?;
        }
        Ok(())
    }

    /// Refuses a request to `endpoint` from a client address over its per-minute limit.
    fn admit(&self, endpoint: Endpoint, client: &Client) -> Result<(), ApiError> {
        let limiter = match endpoint {
            Endpoint::Refresh => self.refresh.as_ref(),
            Endpoint::Verify => self.verify.as_ref(),
        };
        match (limiter, address_of(client)) {
            (Some(limiter), Some(address)) => limiter
                .check(address)
                .map_err(|wait| ApiError::Throttled(retry_after_duration(wait))),
            _ => Ok(()),
        }
    }
}

impl Subject<'_> {
    /// The stored key: fixed length whatever the username.
    fn key(&self) -> String {
        let text = match self {
            Subject::Username(name) => format!("username:{name}"),
            Subject::Address(address) => format!("address:{address}"),
        };
        auth_core::TokenHash::of(&text).to_hex()
    }
}

/// The address a client is limited under: its own for IPv4, its /64 network for IPv6 (one
/// host commonly holds a whole /64, and could otherwise change address per request).
fn address_of(client: &Client) -> Option<IpAddr> {
    Some(match client.ip?.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    })
}

fn retry_after(seconds: i64) -> u64 {
    u64::try_from(seconds).unwrap_or(0).max(1)
}

fn retry_after_duration(wait: Duration) -> u64 {
    let whole = wait.as_secs();
    let rounded = if wait.subsec_nanos() > 0 {
        whole.saturating_add(1)
    } else {
        whole
    };
    rounded.max(1)
}

/// Counts a login attempt of `username` from `client` and refuses it, as a 429, when the
/// address or the username is over its limit. Counted in `/metrics`.
///
/// # Errors
/// `ApiError::Throttled`, or a database error.
pub async fn admit_login(
    state: &AppState,
    username: &str,
    client: &Client,
    now: i64,
) -> Result<(), ApiError> {
    let admitted = state.throttle.admit_login(username, client, now).await;
    counted(state, admitted)
}

/// A successful login clears its username's count.
///
/// # Errors
/// A database error.
pub async fn login_succeeded(state: &AppState, username: &str) -> Result<(), ApiError> {
    state.throttle.login_succeeded(username).await
}

/// Refuses, as a 429, a request to `endpoint` from an address over its limit. Counted in
/// `/metrics`.
///
/// # Errors
/// `ApiError::Throttled`.
pub fn admit(state: &AppState, endpoint: Endpoint, client: &Client) -> Result<(), ApiError> {
    counted(state, state.throttle.admit(endpoint, client))
}

fn counted(state: &AppState, admitted: Result<(), ApiError>) -> Result<(), ApiError> {
    if let Err(ApiError::Throttled(_)) = &admitted {
        state.metrics.add(Count::RateLimited);
    }
    admitted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(ip: &str) -> Client {
        Client {
            ip: Some(ip.parse().unwrap()),
            user_agent: None,
        }
    }

    #[test]
    fn ipv6_clients_are_limited_by_their_64_network_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            address_of(&client("2001:db8:1:2:aaaa::1")),
            address_of(&client("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            address_of(&client("2001:db8:1:2::1")),
            address_of(&client("2001:db8:1:3::1"))
        );
        assert_eq!(
            address_of(&client("::ffff:192.0.2.1")),
            Some("192.0.2.1".parse().unwrap())
        );
        // No address (a request not over a socket): no per-address limit to count it in.
        assert_eq!(address_of(&Client::default()), None);
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up_and_at_least_one() {
        assert_eq!(retry_after(-3), 1);
        assert_eq!(retry_after(90), 90);
        assert_eq!(retry_after_duration(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_duration(Duration::ZERO), 1);
    }
}
