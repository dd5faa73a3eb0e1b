//! The rotation rules: what a presented refresh token may do, given what is stored about it.
//!
//! One pure decision, [`decide`], covers every use of a stored refresh token (a refresh with
//! rotation, the check when rotation is off, a logout), the token-hash match and the
//! user-is-active check included. A storage engine loads a [`Stored`], asks [`decide`], and
//! writes the [`Plan`] of the decision; it never re-derives a refusal.

mod client;
mod plan;

pub use client::{ClientMark, ClientMarkKey, GraceBinding};
pub use plan::{EventKind, Plan};

use crate::error::{Refusal, Revocation, TokenError};
use crate::settings::{TokenSettings, seconds};
use crate::types::{FamilyId, Jti, TokenHash, UserId};

/// What a request wants from the refresh token it presents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    /// `/token/refresh` with rotation on: issue a successor.
    Rotate,
    /// `/token/refresh` with rotation off, and `/logout/all`'s owner check: only check it.
    Check,
    /// `/logout`: end the session.
    Logout,
}

/// A refresh token presented by a client, after its signature and claims were verified.
#[derive(Clone, Copy, Debug)]
pub struct Presented<'a> {
    /// Its id.
    pub jti: &'a Jti,
    /// SHA-256 of the token as presented; compared in constant time with the stored one.
    pub hash: TokenHash,
    /// The user id claim.
    pub user: UserId,
    /// The family (`sid`) claim, which every token jwtd mints carries.
    pub family: Option<&'a FamilyId>,
    /// The client presenting it: recorded on the successor a rotation issues, and matched
    /// against that record by a grace-window replay.
    pub client: ClientMark,
}

/// The stored state of the token family a presented refresh token belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FamilyState {
    /// Whether the whole family has been revoked.
    pub revoked: bool,
    /// The family's absolute end, Unix seconds: no token of it outlives this.
    pub expires_at: i64,
}

/// A blacklist row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlacklistEntry {
    /// Why the token was blacklisted.
    pub reason: Revocation,
    /// When, Unix seconds.
    pub at: i64,
}

/// The stored successor of a rotated token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SuccessorState {
    /// Its id.
    pub jti: Jti,
    /// Its `iat`, Unix seconds.
    pub issued_at: i64,
    /// Its `exp`, Unix seconds.
    pub expires_at: i64,
    /// Whether it has itself been blacklisted (rotated onward, logged out, revoked).
    pub blacklisted: bool,
    /// Its stored digest, which a replay's re-minted token must equal; `None` if unreadable.
    pub hash: Option<TokenHash>,
    /// The client whose rotation issued it; `None` for a row written before rotations
    /// recorded it, or unreadable (then only `GraceBinding::None` lets a replay through).
    pub client: Option<ClientMark>,
}

/// The user a presented token names, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserState {
    /// No such user.
    Missing,
    /// An active user.
    Active,
    /// A deactivated user.
    Inactive,
}

impl UserState {
    /// From the stored `is_active` column of the user, `None` when there is no such user.
    pub fn from_active(active: Option<bool>) -> Self {
        match active {
            None => UserState::Missing,
            Some(true) => UserState::Active,
            Some(false) => UserState::Inactive,
        }
    }
}

/// Everything stored about a presented refresh token, as one engine read finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// The stored digest of the token; `None` if unreadable (then it matches nothing).
    pub hash: Option<TokenHash>,
    /// The family the token belongs to.
    pub family_id: FamilyId,
    /// That family's state.
    pub family: FamilyState,
    /// The token's blacklist row, if any.
    pub blacklisted: Option<BlacklistEntry>,
    /// The token it was rotated into: loaded when it is blacklisted as `rotated`.
    pub successor: Option<SuccessorState>,
    /// The user the presented token names.
    pub user: UserState,
}

impl Stored {
    /// Whether [`decide`] needs the successor of this token to settle a rotation or logout:
    /// an engine that reads it lazily reads it only then.
    pub fn needs_successor(&self) -> bool {
        self.blacklisted
            .is_some_and(|entry| entry.reason == Revocation::Rotated)
    }
}

/// The settings the rules read, in whole seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RotationRules {
    /// How long after a rotation the rotated token may be replayed.
    pub rotation_grace: i64,
    /// A successor's lifetime (capped by the session's end).
    pub refresh_lifetime: i64,
    /// Whether a rotated token is blacklisted.
    pub blacklist_after_rotation: bool,
    /// simplejwt's `CHECK_USER_IS_ACTIVE`: refuse inactive users (a missing user is always
    /// refused).
    pub check_user_is_active: bool,
    /// How much of the rotating client a grace-window replay must match.
    pub grace_binding: GraceBinding,
}

impl RotationRules {
    /// The rules of `settings`, with simplejwt's `CHECK_USER_IS_ACTIVE`.
    pub fn new(settings: &TokenSettings, check_user_is_active: bool) -> Self {
        Self {
            rotation_grace: seconds(settings.rotation_grace),
            refresh_lifetime: seconds(settings.refresh_token_lifetime),
            blacklist_after_rotation: settings.blacklist_after_rotation,
            check_user_is_active,
            grace_binding: settings.rotation_grace_binding,
        }
    }

    fn user_may_refresh(&self, user: UserState) -> bool {
        match user {
            UserState::Active => true,
            UserState::Inactive => !self.check_user_is_active,
            UserState::Missing => false,
        }
    }
}

/// Why a presented refresh token is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    /// The token itself: 401 `token_not_valid` with simplejwt's message.
    Token(TokenError),
    /// Its user is missing or inactive: simplejwt's "No active account found for the given
    /// token."
    NoAccount,
}

/// What [`decide`] settles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Blacklist the token (if blacklisting after rotation) and issue its successor.
    Rotate {
        /// The successor's `exp`: the refresh lifetime from now, capped by the family's end.
        successor_exp: i64,
    },
    /// A retry within the grace window: nothing is written; the successor already issued is
    /// the answer (re-minted by the service, which checks it against the stored digest).
    Replay(SuccessorState),
    /// The check passed (rotation off, or `/logout/all`'s owner check): nothing is written.
    Allow,
    /// Logout: blacklist the token (if not yet), revoke its family, record the logout.
    EndSession,
    /// Reuse of a rotated token: revoke the family, record it, refuse `reuse_detected`.
    RevokeFamily,
    /// Refuse, writing nothing.
    Refuse(Denial),
}

/// Decides what `use_` of the token `presented` does at `now`, given what is `stored` about
/// it (`None`: no such token, or no such family).
///
/// An unknown token, a digest mismatch and a `sid` claim naming another family are
/// `Token is invalid`. A rotated token presented again is a replay: forgiven only while the
/// grace window is open (strictly less than `rotation_grace` seconds after the rotation) and
/// only for the immediate parent of the family's newest token; anything else is reuse, and
/// the family is revoked. Refresh and replay refuse a missing or inactive user; logout does
/// not look at the user.
pub fn decide(
    use_: Use,
    presented: &Presented<'_>,
    stored: Option<&Stored>,
    now: i64,
    rules: &RotationRules,
) -> Decision {
    let Some(stored) = stored else {
        return Decision::Refuse(Denial::Token(TokenError::Invalid));
    };
    let same_family = presented
        .family
        .is_none_or(|family| *family == stored.family_id);
    if stored.hash != Some(presented.hash) || !same_family {
        return Decision::Refuse(Denial::Token(TokenError::Invalid));
    }
    match use_ {
        Use::Check => check(stored, now, rules),
        Use::Rotate => match refresh(presented, stored, now, rules) {
            Decision::Rotate { .. } | Decision::Replay(_)
                if !rules.user_may_refresh(stored.user) =>
            {
                Decision::Refuse(Denial::NoAccount)
            }
            decision => decision,
        },
        Use::Logout => match refresh(presented, stored, now, rules) {
            // An old token still inside the grace window: its tab simply had not seen the
            // rotation yet. Logging out with it ends the session.
            Decision::Rotate { .. } | Decision::Replay(_) => Decision::EndSession,
            decision => decision,
        },
    }
}

/// Rotation off: the token must be unused, of a live family, and its user may refresh.
fn check(stored: &Stored, now: i64, rules: &RotationRules) -> Decision {
    let refused = |error| Decision::Refuse(Denial::Token(error));
    if let Some(entry) = stored.blacklisted {
        return refused(TokenError::Blacklisted(blacklisted_refusal(
            entry,
            stored.family.revoked,
        )));
    }
    if stored.family.revoked {
        return refused(TokenError::Blacklisted(Refusal::FamilyRevoked));
    }
    if now >= stored.family.expires_at {
        return refused(TokenError::Expired);
    }
    if !rules.user_may_refresh(stored.user) {
        return Decision::Refuse(Denial::NoAccount);
    }
    Decision::Allow
}

/// The token rules of a refresh, before the user is looked at.
fn refresh(
    presented: &Presented<'_>,
    stored: &Stored,
    now: i64,
    rules: &RotationRules,
) -> Decision {
    let refused = |error| Decision::Refuse(Denial::Token(error));
    if let Some(entry) = stored.blacklisted {
        if stored.family.revoked || entry.reason != Revocation::Rotated {
            return refused(TokenError::Blacklisted(blacklisted_refusal(
                entry,
                stored.family.revoked,
            )));
        }
        return match replayable(presented, entry, stored.successor.as_ref(), now, rules) {
            Some(successor) => Decision::Replay(successor.clone()),
            None => Decision::RevokeFamily,
        };
    }
    if stored.family.revoked {
        return refused(TokenError::Blacklisted(Refusal::FamilyRevoked));
    }
    if now >= stored.family.expires_at {
        return refused(TokenError::Expired);
    }
    let successor_exp = now
        .saturating_add(rules.refresh_lifetime)
        .min(stored.family.expires_at);
    Decision::Rotate { successor_exp }
}

/// The successor a replay of a token rotated as `entry` gets back, if it may: inside the
/// grace window, only while that successor is the family's live newest token, and only for
/// the client whose rotation issued it, as far as `rules.grace_binding` asks. From any other
/// client the replay is reuse: a thief who watched `/token/verify` for the owner's rotation
/// and then presents the stolen token does not get the owner's successor.
fn replayable<'a>(
    presented: &Presented<'_>,
    entry: BlacklistEntry,
    successor: Option<&'a SuccessorState>,
    now: i64,
    rules: &RotationRules,
) -> Option<&'a SuccessorState> {
    let in_grace = now < entry.at.saturating_add(rules.rotation_grace);
    let same_client = |next: &SuccessorState| match (rules.grace_binding, next.client) {
        (GraceBinding::None, _) => true,
        (binding, Some(rotated)) => presented.client.matches(&rotated, binding),
        (_, None) => false,
    };
    successor
        .filter(|next| in_grace && !next.blacklisted && next.expires_at > now && same_client(next))
}

/// Why a blacklisted token is refused, for machines.
///
/// `ReuseDetected` names only the request that detected a reuse. Every other token of the
/// family it revoked (the legitimate holder's newest one among them) and any rotated token
/// of a revoked family read `FamilyRevoked`; any other token reads its own reason.
pub fn blacklisted_refusal(entry: BlacklistEntry, family_revoked: bool) -> Refusal {
    match entry.reason {
        Revocation::ReuseDetected => Refusal::FamilyRevoked,
        Revocation::Rotated if family_revoked => Refusal::FamilyRevoked,
        other => Refusal::Revoked(other),
    }
}

#[cfg(test)]
mod tests;
