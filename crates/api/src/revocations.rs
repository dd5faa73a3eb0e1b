//! The revoked-session set: which families were revoked recently enough that access tokens
//! minted in them may still be unexpired. Checked on every authenticated request with no
//! database query; kept current from the database (or Redis) in the background.

pub mod redis_share;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use auth_core::FamilyId;
use tokio::sync::mpsc;

use crate::clock::Clock;
use crate::store::TokenStore;

/// The most families the set takes from Redis: past that (once expired entries are pruned),
/// announcements are refused, so that a flood of them cannot exhaust memory. Revocations
/// made here or read from the database are always kept: the database is the source of
/// truth, and its poll delivers any revocation Redis could not.
pub const MAX_SHARED_ENTRIES: usize = 100_000;

/// Families revoked within the last access-token lifetime, each with the time after which no
/// access token of it can be valid any more.
#[derive(Debug, Default)]
pub struct RevokedSessions {
    entries: RwLock<HashMap<FamilyId, i64>>,
    /// Where revocations made by this instance go to be shared (Redis), if anywhere.
    outbox: Option<mpsc::Sender<redis_share::Outgoing>>,
}

impl RevokedSessions {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty set that also hands each revocation made here to `outbox`, for
    /// `redis_share::publish_to_redis` to share with other instances.
    pub fn shared_through(outbox: mpsc::Sender<redis_share::Outgoing>) -> Self {
        Self {
            entries: RwLock::default(),
            outbox: Some(outbox),
        }
    }

    /// Records a revocation this instance just committed, and shares it when sharing is on.
    /// Sharing never blocks or fails the caller: the database holds the revocation, and
    /// polling delivers it if Redis cannot.
    pub fn revoke(&self, family: FamilyId, until: i64) {
        if let Some(outbox) = &self.outbox
            && outbox.try_send((family.clone(), until)).is_err()
        {
            tracing::warn!(
                "the Redis revocation outbox is full or closed; relying on database polling"
            );
        }
        self.insert(family, until);
    }

    /// Records that `family` was revoked; access tokens of it are refused until `until`
    /// (the revocation time plus the access lifetime and leeway).
    pub fn insert(&self, family: FamilyId, until: i64) {
        if let Ok(mut entries) = self.entries.write() {
            let entry = entries.entry(family).or_insert(until);
            *entry = (*entry).max(until);
        }
    }

    /// Records a revocation another instance announced through Redis, unless the set is full
    /// ([`MAX_SHARED_ENTRIES`] families not yet expired at `now`). Returns whether it is kept.
    pub fn insert_shared(&self, family: FamilyId, until: i64, now: i64) -> bool {
        let Ok(mut entries) = self.entries.write() else {
            return false;
        };
        if entries.len() >= MAX_SHARED_ENTRIES && !entries.contains_key(&family) {
            entries.retain(|_, until| *until > now);
            if entries.len() >= MAX_SHARED_ENTRIES {
                return false;
            }
        }
        let entry = entries.entry(family).or_insert(until);
        *entry = (*entry).max(until);
        true
    }

    /// Whether access tokens of `family` must be refused at `now`.
    pub fn contains(&self, family: &FamilyId, now: i64) -> bool {
        match self.entries.read() {
            Ok(entries) => entries.get(family).is_some_and(|until| *until > now),
            // A poisoned lock means a writer panicked mid-update: fail closed.
            Err(_) => true,
        }
    }

    /// Forgets entries whose tokens have all expired by `now`.
    pub fn prune(&self, now: i64) {
        if let Ok(mut entries) = self.entries.write() {
            entries.retain(|_, until| *until > now);
        }
    }

    /// How many families are in the set.
    pub fn len(&self) -> usize {
        self.entries
            .read()
            .map(|entries| entries.len())
            .unwrap_or_default()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Keeps `set` current from the database: fills it with every family revoked within
/// `window` seconds (the access lifetime plus leeway), then polls for new revocations every
/// `interval`, so a revocation made by any instance reaches this one within about `interval`.
/// Runs until the task is dropped.
pub async fn sync_from_store(
    store: Arc<dyn TokenStore>,
    set: Arc<RevokedSessions>,
    clock: Arc<dyn Clock>,
    window: i64,
    interval: Duration,
) {
    let overlap = i64::try_from(interval.as_secs())
        .unwrap_or(1)
        .saturating_add(2);
    let mut since = clock.now().saturating_sub(window);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let now = clock.now();
        match store.revoked_families_since(since).await {
            Ok(families) => {
                for (family, revoked_at) in families {
                    set.insert(family, revoked_at.saturating_add(window));
                }
                // Re-read a little of the past each time: a revocation committed just after
                // a poll may carry a timestamp from just before it.
                since = now.saturating_sub(overlap);
                set.prune(now);
            }
            Err(error) => {
                tracing::warn!(error = %error, "cannot refresh the revoked-session set; retrying");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revoked_family_is_refused_until_its_access_tokens_expire() {
        let set = RevokedSessions::new();
        let family = FamilyId::new("f");
        set.insert(family.clone(), 100);
        assert!(set.contains(&family, 99));
        assert!(!set.contains(&family, 100));
        assert!(!set.contains(&FamilyId::new("g"), 0));
        set.prune(100);
        assert!(set.is_empty());
    }

    #[test]
    fn shared_revocations_stop_at_the_bound_until_entries_expire() {
        let set = RevokedSessions::new();
        for index in 0..MAX_SHARED_ENTRIES {
            assert!(set.insert_shared(
                FamilyId::new(index.to_string()),
                50 + (index % 2) as i64,
                0
            ));
        }
        assert!(!set.insert_shared(FamilyId::new("over"), 60, 0));
        // An entry already in the set may still be extended.
        assert!(set.insert_shared(FamilyId::new("0"), 70, 0));
        // The database's and this instance's own revocations are always kept.
        set.insert(FamilyId::new("own"), 60);
        assert!(set.contains(&FamilyId::new("own"), 0));
        // Once half of them have expired, there is room again.
        assert!(set.insert_shared(FamilyId::new("later"), 80, 50));
        assert!(set.contains(&FamilyId::new("later"), 50));
        assert_eq!(set.len(), MAX_SHARED_ENTRIES / 2 + 3);
    }
}
