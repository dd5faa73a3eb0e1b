//! Security events: what they say, and how they are logged (`jwtd::security` target).
//! The store writes their rows, in the transaction of the change they describe;
//! `crate::security` logs them once that has committed.

use std::net::IpAddr;

use auth_core::{ClientMark, ClientMarkKey, FamilyId, UserId};

pub use auth_core::EventKind;

/// Who is asking: what a session and a security event record about the client.
#[derive(Clone, Debug, Default)]
pub struct Client {
    /// The peer address (or the first hop of a trusted proxy header). Kept as an address,
    /// written out only where it is recorded: most requests never record it.
    pub ip: Option<IpAddr>,
    /// The `User-Agent` header, truncated.
    pub user_agent: Option<String>,
}

impl Client {
    /// The keyed digest of this client that a rotation records and a grace replay must
    /// match.
    pub fn mark(&self, key: &ClientMarkKey) -> ClientMark {
        ClientMark::of(key, self.user_agent.as_deref(), self.ip_text().as_deref())
    }

    /// The address as sessions and events record it (`192.0.2.1`, `2001:db8::1`).
    pub fn ip_text(&self) -> Option<String> {
        self.ip.map(|ip| ip.to_string())
    }
}

/// One security event. Never carries a token or a password.
#[derive(Clone, Debug)]
pub struct Event<'a> {
    /// What happened.
    pub kind: EventKind,
    /// To whom, when known.
    pub user: Option<UserId>,
    /// The username given, for failed logins.
    pub username: Option<&'a str>,
    /// The session concerned.
    pub family: Option<&'a FamilyId>,
    /// The client.
    pub client: &'a Client,
    /// When, Unix seconds.
    pub at: i64,
}

impl<'a> Event<'a> {
    /// `kind` by `client` about `user` (and `family`) at `at`.
    pub fn about(
        (kind, client): (EventKind, &'a Client),
        user: UserId,
        family: Option<&'a FamilyId>,
        at: i64,
    ) -> Self {
        Self {
            kind,
            user: Some(user),
            username: None,
            family,
            client,
            at,
        }
    }
}

/// Writes the event to the log (target `jwtd::security`): warnings for reuse and failed
/// logins, information otherwise.
pub fn log(event: &Event<'_>) {
    let user_id = event.user.map(|user| user.0);
    let family_id = event.family.map(FamilyId::as_str);
    let ip = event.client.ip_text();
    if matches!(
        event.kind,
        EventKind::ReuseDetected | EventKind::LoginFailed | EventKind::RotationGraceReplay
    ) {
        tracing::warn!(
            target: "jwtd::security",
            event = event.kind.as_str(),
            user_id,
            family_id,
            ip = ip.as_deref(),
            user_agent = event.client.user_agent.as_deref(),
            "security event"
        );
    } else {
        tracing::info!(
            target: "jwtd::security",
            event = event.kind.as_str(),
            user_id,
            family_id,
            ip = ip.as_deref(),
            user_agent = event.client.user_agent.as_deref(),
            "security event"
        );
    }
}
