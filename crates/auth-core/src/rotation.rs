//! What to do with a refresh token presented for rotation, given what is stored about it.

use crate::error::{Refusal, Revocation, TokenError};
use crate::settings::{TokenSettings, seconds};
use crate::types::Jti;

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
}

/// Everything stored about a presented refresh token that the rotation rules look at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRefresh {
    /// Its family.
    pub family: FamilyState,
    /// Its blacklist row, if any.
    pub blacklisted: Option<BlacklistEntry>,
    /// The token it was rotated into, if any.
    pub successor: Option<SuccessorState>,
}

/// The outcome of `decide_refresh`, carried out by the store in one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefreshDecision {
    /// Blacklist the token (reason `rotated`) and issue its successor, expiring at
    /// `successor_exp`.
    Rotate {
        /// The successor's `exp`: the refresh lifetime from now, capped by the family's end.
        successor_exp: i64,
    },
    /// A retry within the grace window: answer with the successor already issued.
    ReplaySuccessor,
    /// Reuse of a rotated token: revoke the whole family and refuse.
    RevokeFamily,
    /// Refuse without changing anything.
    Reject(TokenError),
}

/// Decides what a refresh of a token in state `stored` at time `now` does.
///
/// A rotated token presented again is a replay. It is forgiven only while the grace window
/// is open (strictly less than `rotation_grace` seconds after the rotation) and only for the
/// immediate parent of the family's newest token; anything else is reuse, and the family is
/// revoked.
pub fn decide_refresh(
    stored: &StoredRefresh,
    now: i64,
    settings: &TokenSettings,
) -> RefreshDecision {
    if let Some(entry) = stored.blacklisted {
        if stored.family.revoked || entry.reason != Revocation::Rotated {
            return RefreshDecision::Reject(TokenError::Blacklisted(blacklisted_refusal(
                entry,
                stored.family.revoked,
            )));
        }
        let in_grace = now < entry.at.saturating_add(seconds(settings.rotation_grace));
        let successor_live = stored
            .successor
            .as_ref()
            .is_some_and(|next| !next.blacklisted && next.expires_at > now);
        return if in_grace && successor_live {
            RefreshDecision::ReplaySuccessor
        } else {
            RefreshDecision::RevokeFamily
        };
    }
    if stored.family.revoked {
        return RefreshDecision::Reject(TokenError::Blacklisted(Refusal::FamilyRevoked));
    }
    if now >= stored.family.expires_at {
        return RefreshDecision::Reject(TokenError::Expired);
    }
    let successor_exp = now
        .saturating_add(seconds(settings.refresh_token_lifetime))
        .min(stored.family.expires_at);
    RefreshDecision::Rotate { successor_exp }
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
mod tests {
    use std::time::Duration;

    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn settings(grace: u64) -> TokenSettings {
        TokenSettings {
            rotation_grace: Duration::from_secs(grace),
            ..TokenSettings::default()
        }
    }

    fn live() -> StoredRefresh {
        StoredRefresh {
            family: FamilyState {
                revoked: false,
                expires_at: NOW + 30 * 86_400,
            },
            blacklisted: None,
            successor: None,
        }
    }

    fn rotated_at(at: i64) -> StoredRefresh {
        StoredRefresh {
            blacklisted: Some(BlacklistEntry {
                reason: Revocation::Rotated,
                at,
            }),
            successor: Some(SuccessorState {
                jti: Jti::new("next"),
                issued_at: at,
                expires_at: at + 86_400,
                blacklisted: false,
            }),
            ..live()
        }
    }

    #[test]
    fn a_live_token_rotates_for_the_refresh_lifetime() {
        assert_eq!(
            decide_refresh(&live(), NOW, &settings(10)),
            RefreshDecision::Rotate {
                successor_exp: NOW + 86_400
            }
        );
    }

    #[test]
    fn rotation_never_extends_past_the_session_lifetime() {
        let mut stored = live();
        stored.family.expires_at = NOW + 60;
        assert_eq!(
            decide_refresh(&stored, NOW, &settings(10)),
            RefreshDecision::Rotate {
                successor_exp: NOW + 60
            }
        );
    }

    #[test]
    fn a_session_past_its_absolute_lifetime_is_expired() {
        let mut stored = live();
        stored.family.expires_at = NOW;
        assert_eq!(
            decide_refresh(&stored, NOW, &settings(10)),
            RefreshDecision::Reject(TokenError::Expired)
        );
    }

    #[test]
    fn replay_inside_the_grace_window_gets_the_same_successor() {
        let cases = [(NOW, NOW), (NOW - 9, NOW)];
        for (rotated, now) in cases {
            assert_eq!(
                decide_refresh(&rotated_at(rotated), now, &settings(10)),
                RefreshDecision::ReplaySuccessor,
                "rotated at {rotated}, replayed at {now}"
            );
        }
    }

    #[test]
    fn replay_at_or_after_the_grace_window_edge_revokes_the_family() {
        for now in [NOW + 10, NOW + 11, NOW + 3600] {
            assert_eq!(
                decide_refresh(&rotated_at(NOW), now, &settings(10)),
                RefreshDecision::RevokeFamily,
                "replayed at +{}",
                now - NOW
            );
        }
    }

    #[test]
    fn zero_grace_makes_every_replay_reuse() {
        assert_eq!(
            decide_refresh(&rotated_at(NOW), NOW, &settings(0)),
            RefreshDecision::RevokeFamily
        );
    }

    #[test]
    fn replay_of_an_older_ancestor_revokes_the_family_even_inside_grace() {
        let mut stored = rotated_at(NOW);
        if let Some(next) = stored.successor.as_mut() {
            next.blacklisted = true;
        }
        assert_eq!(
            decide_refresh(&stored, NOW + 1, &settings(10)),
            RefreshDecision::RevokeFamily
        );
    }

    #[test]
    fn a_token_of_a_revoked_family_is_refused_without_further_revocation() {
        let mut stored = rotated_at(NOW);
        stored.family.revoked = true;
        assert_eq!(
            decide_refresh(&stored, NOW + 1, &settings(10)),
            RefreshDecision::Reject(TokenError::Blacklisted(Refusal::FamilyRevoked))
        );
    }

    #[test]
    fn the_newest_token_of_a_family_revoked_for_reuse_says_family_revoked() {
        let mut stored = live();
        stored.family.revoked = true;
        stored.blacklisted = Some(BlacklistEntry {
            reason: Revocation::ReuseDetected,
            at: NOW,
        });
        assert_eq!(
            decide_refresh(&stored, NOW + 1, &settings(10)),
            RefreshDecision::Reject(TokenError::Blacklisted(Refusal::FamilyRevoked))
        );
    }

    #[test]
    fn a_logged_out_token_is_refused_with_its_own_reason() {
        let mut stored = live();
        stored.blacklisted = Some(BlacklistEntry {
            reason: Revocation::Logout,
            at: NOW,
        });
        assert_eq!(
            decide_refresh(&stored, NOW + 1, &settings(10)),
            RefreshDecision::Reject(TokenError::Blacklisted(Refusal::Revoked(
                Revocation::Logout
            )))
        );
    }
}
