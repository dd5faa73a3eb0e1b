//! The rows a decision writes: what every storage engine applies, the same way.

use super::{Decision, RotationRules, Stored};
use crate::error::{Refusal, Revocation, TokenError};

/// The kinds of security event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A login succeeded.
    LoginSucceeded,
    /// A login failed (unknown user, wrong password, inactive user).
    LoginFailed,
    /// An already-rotated refresh token was presented: its family was revoked.
    ReuseDetected,
    /// A just-rotated refresh token was presented again inside the grace window by the client
    /// that rotated it, and got the same successor back.
    RotationGraceReplay,
    /// `POST /logout`.
    Logout,
    /// `POST /logout/all`.
    LogoutAll,
    /// A session was ended by id.
    SessionRevoked,
    /// A password was changed.
    PasswordChanged,
    /// A user was deactivated.
    UserDeactivated,
}

impl EventKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::LoginSucceeded => "login_succeeded",
            EventKind::LoginFailed => "login_failed",
            EventKind::ReuseDetected => "reuse_detected",
            EventKind::RotationGraceReplay => "rotation_grace_replay",
            EventKind::Logout => "logout",
            EventKind::LogoutAll => "logout_all",
            EventKind::SessionRevoked => "session_revoked",
            EventKind::PasswordChanged => "password_changed",
            EventKind::UserDeactivated => "user_deactivated",
        }
    }
}

/// The writes of one decision, in the order an engine applies them: blacklist the presented
/// token, issue its successor (and touch the family's `last_used_at`), revoke the family,
/// record the event. Empty for decisions that write nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Blacklist the presented token with this reason (it is not blacklisted yet).
    pub blacklist: Option<Revocation>,
    /// Issue the successor, expiring at this time, and mark the family used now.
    pub issue: Option<i64>,
    /// Revoke the token's family (and blacklist all its tokens) with this reason.
    pub revoke_family: Option<Revocation>,
    /// Record this security event about the family.
    pub event: Option<EventKind>,
}

impl Plan {
    /// Whether the plan writes nothing.
    pub fn is_empty(&self) -> bool {
        *self == Plan::default()
    }
}

impl Decision {
    /// The writes that carry out this decision on `stored`.
    pub fn plan(&self, stored: &Stored, rules: &RotationRules) -> Plan {
        let not_yet = |reason| stored.blacklisted.is_none().then_some(reason);
        match self {
            Decision::Rotate { successor_exp } => Plan {
                blacklist: rules
                    .blacklist_after_rotation
                    .then_some(Revocation::Rotated)
                    .and_then(not_yet),
                issue: Some(*successor_exp),
                ..Plan::default()
            },
            Decision::EndSession => Plan {
                blacklist: not_yet(Revocation::Logout),
                revoke_family: Some(Revocation::Logout),
                event: Some(EventKind::Logout),
                ..Plan::default()
            },
            Decision::RevokeFamily => Plan {
                blacklist: not_yet(Revocation::ReuseDetected),
                revoke_family: Some(Revocation::ReuseDetected),
                event: Some(EventKind::ReuseDetected),
                ..Plan::default()
            },
            // A replay changes nothing but is recorded: every forgiven second use is visible.
            Decision::Replay(_) => Plan {
                event: Some(EventKind::RotationGraceReplay),
                ..Plan::default()
            },
            Decision::Allow | Decision::Refuse(_) => Plan::default(),
        }
    }

    /// The refusal that follows a committed decision, if it refuses: reuse refuses after
    /// its revocation is written.
    pub fn refusal(&self) -> Option<super::Denial> {
        match self {
            Decision::Refuse(denial) => Some(*denial),
            Decision::RevokeFamily => Some(super::Denial::Token(TokenError::Blacklisted(
                Refusal::ReuseDetected,
            ))),
            _ => None,
        }
    }
}
