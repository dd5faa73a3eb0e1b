//! A short-lived, bounded copy of what authentication reads about a user on every request.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use auth_core::UserId;
use entity::users;
use sea_orm::{ConnectionTrait, DbErr};

/// What the access-token extractor needs of a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedUser {
    /// The user id.
    pub id: i64,
    /// The username.
    pub username: Arc<str>,
    /// Whether the account is active.
    pub is_active: bool,
}

impl From<&users::Model> for CachedUser {
    fn from(user: &users::Model) -> Self {
        Self {
            id: user.id,
            username: Arc::from(user.username.as_str()),
            is_active: user.is_active,
        }
    }
}

/// Users read by id within the last [`UserCache::TTL_SECONDS`], so that `GET /me` and the
/// other Bearer-authenticated requests need no query each.
///
/// A change made through [`crate::users`] (`set_active`, `set_password_hash`) drops the
/// user's entry in this process at once. Other processes (other instances, the `jwtd user`
/// command) are seen when the entry expires: a deactivation takes effect on other instances
/// within 1 s. Users that are not found are not cached. At most `capacity` users are held;
/// a full cache drops its expired entries, and if that is not enough, all of them.
#[derive(Debug)]
pub struct UserCache {
    state: RwLock<Entries>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Entries {
    users: HashMap<i64, Entry>,
    /// Bumped by every invalidation: a read from the database that started before one may
    /// hold the old row, and is then not kept.
    generation: u64,
}

#[derive(Debug)]
struct Entry {
    user: CachedUser,
    fetched_at: i64,
}

impl Entry {
    fn is_fresh(&self, now: i64) -> bool {
        (self.fetched_at..self.fetched_at.saturating_add(UserCache::TTL_SECONDS)).contains(&now)
    }
}

impl Default for UserCache {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

impl UserCache {
    /// How long an entry is used, in seconds of the injected clock: one clock second, so a
    /// change elsewhere is seen in under a second.
    pub const TTL_SECONDS: i64 = 1;

    /// The default bound: 10,000 users (about a megabyte).
    pub const DEFAULT_CAPACITY: usize = 10_000;

    /// An empty cache holding at most `capacity` users (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            state: RwLock::default(),
            capacity: capacity.max(1),
        }
    }

    /// The user `id`: cached if read at most a TTL before `now`, else read from `db` (and
    /// cached when found).
    ///
    /// # Errors
    /// The database error.
    pub async fn find(
        &self,
        db: &impl ConnectionTrait,
        id: UserId,
        now: i64,
    ) -> Result<Option<CachedUser>, DbErr> {
        let generation = match self.fresh(id, now) {
            Ok(user) => return Ok(Some(user)),
            Err(generation) => generation,
        };
        let found = super::find_by_id(db, id)
            .await?
            .map(|user| CachedUser::from(&user));
        if let Some(user) = &found {
            self.keep(user, generation, now);
        }
        Ok(found)
    }

    /// The fresh entry for `id`, or else the generation to keep a database read under.
    fn fresh(&self, id: UserId, now: i64) -> Result<CachedUser, u64> {
        let entries = self.state.read().unwrap_or_else(PoisonError::into_inner);
        match entries.users.get(&id.0).filter(|entry| entry.is_fresh(now)) {
            Some(entry) => Ok(entry.user.clone()),
            None => Err(entries.generation),
        }
    }

    /// Drops the user's entry; call after the change is written.
    pub fn forget(&self, id: UserId) {
        let mut entries = self.state.write().unwrap_or_else(PoisonError::into_inner);
        entries.generation = entries.generation.wrapping_add(1);
        entries.users.remove(&id.0);
    }

    /// How many users are held.
    pub fn len(&self) -> usize {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .users
            .len()
    }

    /// Whether no user is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn keep(&self, user: &CachedUser, generation: u64, now: i64) {
        let mut entries = self.state.write().unwrap_or_else(PoisonError::into_inner);
        if entries.generation != generation {
            return;
        }
        if entries.users.len() >= self.capacity && !entries.users.contains_key(&user.id) {
            entries.users.retain(|_, entry| entry.is_fresh(now));
            if entries.users.len() >= self.capacity {
                entries.users.clear();
            }
        }
        entries.users.insert(
            user.id,
            Entry {
                user: user.clone(),
                fetched_at: now,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64) -> CachedUser {
        CachedUser {
            id,
            username: Arc::from(format!("user{id}")),
            is_active: true,
        }
    }

    /// Caches `id` as read from the database at `now`, as `find` does after a miss.
    fn read_from_database(cache: &UserCache, id: i64, now: i64) {
        let generation = cache.fresh(UserId(id), now).unwrap_err();
        cache.keep(&user(id), generation, now);
    }

    #[test]
    fn an_entry_is_used_for_one_clock_second_only() {
        let cache = UserCache::default();
        read_from_database(&cache, 1, 100);
        assert_eq!(cache.fresh(UserId(1), 100), Ok(user(1)));
        assert!(cache.fresh(UserId(1), 101).is_err());
        // A clock that went back does not make an entry fresh again.
        assert!(cache.fresh(UserId(1), 99).is_err());
    }

    #[test]
    fn forgetting_drops_the_entry_at_once() {
        let cache = UserCache::default();
        read_from_database(&cache, 1, 100);
        read_from_database(&cache, 2, 100);
        cache.forget(UserId(1));
        assert!(cache.fresh(UserId(1), 100).is_err());
        assert_eq!(cache.fresh(UserId(2), 100), Ok(user(2)));
    }

    #[test]
    fn a_read_that_raced_a_change_is_not_kept() {
        let cache = UserCache::default();
        // A request misses and starts reading the row...
        let generation = cache.fresh(UserId(1), 100).unwrap_err();
        // ...the user is changed and forgotten meanwhile...
        cache.forget(UserId(1));
        // ...so the row it read may be the old one, and is not cached.
        cache.keep(&user(1), generation, 100);
        assert!(cache.fresh(UserId(1), 100).is_err());
        assert!(cache.is_empty());
    }

    #[test]
    fn the_cache_never_holds_more_than_its_capacity() {
        let cache = UserCache::new(3);
        for id in 0..3 {
            read_from_database(&cache, id, 100);
        }
        // Full of expired entries: they make room.
        read_from_database(&cache, 10, 101);
        assert_eq!(cache.len(), 1);
        for id in 11..40 {
            read_from_database(&cache, id, 101);
            assert!(cache.len() <= 3);
        }
        assert_eq!(cache.fresh(UserId(39), 101), Ok(user(39)));
    }
}
