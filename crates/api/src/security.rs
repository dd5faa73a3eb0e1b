//! The one place that acts on what the store reports: after a store operation has committed,
//! its security events are logged (target `jwtd::security`, never a token) and the families
//! it revoked join the revoked-session set (which shares them through Redis when on).
//!
//! Handlers and commands call store operations through here, never record or revoke
//! themselves.

use auth_core::{FamilyId, UserId};

use crate::Shared;
use crate::events::{self, Client, Event};
use crate::store::{Report, revocation_deadline};

/// Who caused the reported change, for the event log.
#[derive(Clone, Copy, Debug)]
pub struct Actor<'a> {
    /// The user concerned, when known.
    pub user: Option<UserId>,
    /// The username given (failed logins).
    pub username: Option<&'a str>,
    /// The client.
    pub client: &'a Client,
    /// When, Unix seconds.
    pub now: i64,
}

impl<'a> Actor<'a> {
    /// `user`, through `client`, at `now`.
    pub fn user(user: UserId, client: &'a Client, now: i64) -> Self {
        Self {
            user: Some(user),
            username: None,
            client,
            now,
        }
    }
}

/// Logs and counts the report's events and adds its revoked families to the revoked-session set, for
/// as long as access tokens minted before the revocation can live.
pub fn act(state: &Shared, report: Report, actor: Actor<'_>) {
    for recorded in &report.events {
        state.metrics.add_event(recorded.kind);
        events::log(&Event {
            kind: recorded.kind,
            user: actor.user,
            username: actor.username,
            family: recorded.family.as_ref(),
            client: actor.client,
            at: actor.now,
        });
    }
    revoke(state, report.revoked, actor.now);
}

fn revoke(state: &Shared, families: Vec<FamilyId>, now: i64) {
    if families.is_empty() {
        return;
    }
    let until = revocation_deadline(state.codec.settings(), now);
    for family in families {
        state.revoked.revoke(family, until);
    }
}
