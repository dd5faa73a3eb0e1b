//! Sharing revocations between instances through Redis: a key per revoked family that
//! expires with the family's last access token, and a pub/sub channel that tells every
//! subscribed instance about a revocation as it happens.
//!
//! Redis is a fast path, never the source of truth: every revocation is committed to the
//! database first, and `sync_from_store` keeps polling it. When Redis is down, publishing
//! and subscribing fail (logged, retried every second) and revocations still reach every
//! instance within the poll interval.

use std::sync::Arc;
use std::time::Duration;

use auth_core::FamilyId;
use futures_util::StreamExt;
use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use tokio::sync::mpsc;

use super::RevokedSessions;
use crate::clock::Clock;

/// Key prefix of the per-family entries; the value is the `until` time, Unix seconds.
const KEY_PREFIX: &str = "jwtd:revoked:";

/// The channel on which revocations are announced, as `"<family> <until>"`.
const CHANNEL: &str = "jwtd:revocations";

/// How long one Redis operation or connection attempt may take before it counts as down.
const REDIS_TIMEOUT: Duration = Duration::from_secs(1);

/// How long to wait before reconnecting to Redis after a failure.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// How many revocations may wait to be published; beyond that they are dropped (they are
/// in the database, and polling delivers them).
pub const OUTBOX_CAPACITY: usize = 10_000;

/// A revocation to publish: the family and when its last access token expires.
pub type Outgoing = (FamilyId, i64);

/// A Redis client for `url` (no connection is made yet).
///
/// # Errors
/// When `url` is not a Redis URL this build can use (`redis://`, `redis+unix://`).
pub fn client(url: &str) -> redis::RedisResult<redis::Client> {
    redis::Client::open(url)
}

async fn connect(client: &redis::Client) -> redis::RedisResult<MultiplexedConnection> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(REDIS_TIMEOUT))
        .set_response_timeout(Some(REDIS_TIMEOUT));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

/// Publishes each revocation from `outbox`: `SET jwtd:revoked:<family> <until> EX <ttl>`
/// and `PUBLISH`. Runs until every sender is dropped.
pub async fn publish_to_redis(
    client: redis::Client,
    mut outbox: mpsc::Receiver<Outgoing>,
    clock: Arc<dyn Clock>,
) {
    let mut connection: Option<MultiplexedConnection> = None;
    while let Some((family, until)) = outbox.recv().await {
        let ttl = until.saturating_sub(clock.now());
        let Ok(ttl) = u64::try_from(ttl) else {
            continue;
        };
        if ttl == 0 {
            continue;
        }
        if connection.is_none() {
            match connect(&client).await {
                Ok(connected) => connection = Some(connected),
                Err(error) => {
                    tracing::warn!(%error, "cannot reach Redis to share a revocation; other instances will see it by polling the database");
                    continue;
                }
            }
        }
        let Some(conn) = connection.as_mut() else {
            continue;
        };
        let sent: redis::RedisResult<()> = redis::pipe()
            .atomic()
            .set_ex(format!("{KEY_PREFIX}{}", family.as_str()), until, ttl)
            .ignore()
            .publish(CHANNEL, format!("{} {until}", family.as_str()))
            .ignore()
            .query_async(conn)
            .await;
        if let Err(error) = sent {
            tracing::warn!(%error, "cannot share a revocation through Redis; other instances will see it by polling the database");
            connection = None;
        }
    }
}

/// What an announcement from Redis may say, and the clock to judge it by: Redis is trusted
/// no further than the database it mirrors.
#[derive(Clone)]
pub struct Acceptance {
    /// The current time.
    pub clock: Arc<dyn Clock>,
    /// The longest an access token can outlive its session's revocation, in seconds: the
    /// access-token lifetime plus the leeway. A later `until` is clamped to it.
    pub window: i64,
}

impl Acceptance {
    /// A revocation read from Redis (`family` and `until`, as text), validated: a family id
    /// of 1 to 64 ASCII letters, digits, `-` or `_`, and a time that is a whole number not
    /// already past, clamped to `now + window`. `None` for anything else.
    pub fn read(&self, family: &str, until: &str) -> Option<(FamilyId, i64)> {
        let valid_family = (1..=64).contains(&family.len())
            && family
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
        let until = until.parse::<i64>().ok()?;
        let now = self.clock.now();
        (valid_family && until > now).then(|| {
            (
                FamilyId::new(family),
                until.min(now.saturating_add(self.window)),
            )
        })
    }
}

/// Counts what Redis sent that was ignored, and says so at most once a minute.
#[derive(Default)]
struct Ignored {
    count: u64,
    last_warning: Option<std::time::Instant>,
}

impl Ignored {
    fn note(&mut self, what: &'static str) {
        self.count += 1;
        if self
            .last_warning
            .is_none_or(|at| at.elapsed() >= Duration::from_secs(60))
        {
            tracing::warn!(
                ignored = self.count,
                "ignored {what} from Redis: malformed, expired, or past the revoked-session bound"
            );
            self.last_warning = Some(std::time::Instant::now());
            self.count = 0;
        }
    }
}

/// Keeps `set` current from Redis: subscribes to the revocation channel, then loads every
/// live per-family key (so nothing published while this instance was away is missed), then
/// adds each announced revocation as it arrives, once `acceptance` has validated it (a
/// malformed one is ignored with a warning). Reconnects every second while Redis is down.
/// Runs until the task is dropped.
pub async fn subscribe_to_redis(
    client: redis::Client,
    set: Arc<RevokedSessions>,
    acceptance: Acceptance,
) {
    let mut ignored = Ignored::default();
    loop {
        match follow(&client, &set, &acceptance, &mut ignored).await {
            Ok(()) => tracing::warn!("the Redis revocation subscription ended; reconnecting"),
            Err(error) => {
                tracing::warn!(%error, "cannot follow revocations in Redis; relying on database polling until it is back");
            }
        }
        tokio::time::sleep(RECONNECT_DELAY).await;
    }
}

async fn follow(
    client: &redis::Client,
    set: &RevokedSessions,
    acceptance: &Acceptance,
    ignored: &mut Ignored,
) -> redis::RedisResult<()> {
    let mut pubsub = tokio::time::timeout(REDIS_TIMEOUT, client.get_async_pubsub())
        .await
        .map_err(|_| timed_out())??;
    tokio::time::timeout(REDIS_TIMEOUT, pubsub.subscribe(CHANNEL))
        .await
        .map_err(|_| timed_out())??;
    // Subscribed first, loaded second: a revocation lands in one or the other, or both.
    let mut conn = connect(client).await?;
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{KEY_PREFIX}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await?;
        if !keys.is_empty() {
            // Read as bytes, each checked on its own: one bad value must not hide the rest.
            let values: Vec<Option<Vec<u8>>> =
                redis::cmd("MGET").arg(&keys).query_async(&mut conn).await?;
            for (key, until) in keys.iter().zip(values) {
                let Some(until) = until else {
                    continue; // expired between SCAN and MGET
                };
                let read = key
                    .strip_prefix(KEY_PREFIX)
                    .zip(std::str::from_utf8(&until).ok());
                let kept = read
                    .and_then(|(family, until)| acceptance.read(family, until))
                    .is_some_and(|(family, until)| {
                        set.insert_shared(family, until, acceptance.clock.now())
                    });
                if !kept {
                    ignored.note("a revocation key");
                }
            }
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
    drop(conn);
    tracing::info!("following revocations in Redis");
    let mut messages = pubsub.on_message();
    while let Some(message) = messages.next().await {
        let payload = message.get_payload_bytes();
        let read = std::str::from_utf8(payload)
            .ok()
            .and_then(|payload| payload.split_once(' '))
            .and_then(|(family, until)| acceptance.read(family, until));
        let kept = read.is_some_and(|(family, until)| {
            set.insert_shared(family, until, acceptance.clock.now())
        });
        if !kept {
            ignored.note("a revocation message");
        }
    }
    Ok(())
}

fn timed_out() -> redis::RedisError {
    redis::RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "Redis did not answer in time",
    ))
}
