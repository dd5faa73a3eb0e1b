use std::time::Duration;

use super::*;

const NOW: i64 = 1_800_000_000;

fn rules(grace: u64) -> RotationRules {
    let settings = TokenSettings {
        rotation_grace: Duration::from_secs(grace),
        ..TokenSettings::default()
    };
    RotationRules::new(&settings, true)
}

/// The client that rotated: a phone app at one address.
fn owner() -> ClientMark {
    client(Some("app/1.0"), Some("192.0.2.7"))
}

fn client(user_agent: Option<&str>, address: Option<&str>) -> ClientMark {
    ClientMark::of(&ClientMarkKey::derive(b"test key"), user_agent, address)
}

fn token() -> String {
    "the.presented.token".to_owned()
}

fn family() -> FamilyId {
    FamilyId::new("family")
}

fn live() -> Stored {
    Stored {
        hash: Some(TokenHash::of(&token())),
        family_id: family(),
        family: FamilyState {
            revoked: false,
            expires_at: NOW + 30 * 86_400,
        },
        blacklisted: None,
        successor: None,
        user: UserState::Active,
    }
}

fn rotated_at(at: i64) -> Stored {
    Stored {
        blacklisted: Some(BlacklistEntry {
            reason: Revocation::Rotated,
            at,
        }),
        successor: Some(SuccessorState {
            jti: Jti::new("next"),
            issued_at: at,
            expires_at: at + 86_400,
            blacklisted: false,
            hash: Some(TokenHash::of("next")),
            client: Some(owner()),
        }),
        ..live()
    }
}

fn blacklisted(reason: Revocation) -> Stored {
    Stored {
        blacklisted: Some(BlacklistEntry { reason, at: NOW }),
        ..live()
    }
}

fn decide_at(use_: Use, stored: &Stored, now: i64, rules: &RotationRules) -> Decision {
    decide_by(owner(), use_, stored, now, rules)
}

fn decide_by(
    by: ClientMark,
    use_: Use,
    stored: &Stored,
    now: i64,
    rules: &RotationRules,
) -> Decision {
    let jti = Jti::new("presented");
    let family = family();
    let presented = Presented {
        jti: &jti,
        hash: TokenHash::of(&token()),
        user: UserId(1),
        family: Some(&family),
        client: by,
    };
    decide(use_, &presented, Some(stored), now, rules)
}

fn rotate(stored: &Stored, now: i64, grace: u64) -> Decision {
    decide_at(Use::Rotate, stored, now, &rules(grace))
}

fn refused(error: TokenError) -> Decision {
    Decision::Refuse(Denial::Token(error))
}

fn refused_blacklisted(refusal: Refusal) -> Decision {
    refused(TokenError::Blacklisted(refusal))
}

#[test]
fn a_live_token_rotates_for_the_refresh_lifetime() {
    assert_eq!(
        rotate(&live(), NOW, 10),
        Decision::Rotate {
            successor_exp: NOW + 86_400
        }
    );
}

#[test]
fn rotation_never_extends_past_the_session_lifetime() {
    let mut stored = live();
    stored.family.expires_at = NOW + 60;
    assert_eq!(
        rotate(&stored, NOW, 10),
        Decision::Rotate {
            successor_exp: NOW + 60
        }
    );
}

#[test]
fn a_session_past_its_absolute_lifetime_is_expired() {
    let mut stored = live();
    stored.family.expires_at = NOW;
    assert_eq!(rotate(&stored, NOW, 10), refused(TokenError::Expired));
}

#[test]
fn replay_inside_the_grace_window_gets_the_same_successor() {
    for (rotated, now) in [(NOW, NOW), (NOW - 9, NOW)] {
        let stored = rotated_at(rotated);
        let Some(successor) = stored.successor.clone() else {
            panic!("no successor");
        };
        assert_eq!(
            rotate(&stored, now, 10),
            Decision::Replay(successor),
            "rotated at {rotated}, replayed at {now}"
        );
    }
}

#[test]
fn replay_at_or_after_the_grace_window_edge_revokes_the_family() {
    for now in [NOW + 10, NOW + 11, NOW + 3600] {
        assert_eq!(
            rotate(&rotated_at(NOW), now, 10),
            Decision::RevokeFamily,
            "replayed at +{}",
            now - NOW
        );
    }
}

#[test]
fn zero_grace_makes_every_replay_reuse() {
    assert_eq!(rotate(&rotated_at(NOW), NOW, 0), Decision::RevokeFamily);
}

#[test]
fn replay_of_an_older_ancestor_revokes_the_family_even_inside_grace() {
    let mut stored = rotated_at(NOW);
    if let Some(next) = stored.successor.as_mut() {
        next.blacklisted = true;
    }
    assert_eq!(rotate(&stored, NOW + 1, 10), Decision::RevokeFamily);
}

#[test]
fn a_rotated_token_without_a_stored_successor_is_reuse() {
    let mut stored = rotated_at(NOW);
    stored.successor = None;
    assert_eq!(rotate(&stored, NOW + 1, 10), Decision::RevokeFamily);
}

#[test]
fn a_token_of_a_revoked_family_is_refused_without_further_revocation() {
    let mut stored = rotated_at(NOW);
    stored.family.revoked = true;
    assert_eq!(
        rotate(&stored, NOW + 1, 10),
        refused_blacklisted(Refusal::FamilyRevoked)
    );
}

#[test]
fn the_newest_token_of_a_family_revoked_for_reuse_says_family_revoked() {
    let mut stored = blacklisted(Revocation::ReuseDetected);
    stored.family.revoked = true;
    assert_eq!(
        rotate(&stored, NOW + 1, 10),
        refused_blacklisted(Refusal::FamilyRevoked)
    );
}

#[test]
fn a_logged_out_token_is_refused_with_its_own_reason() {
    assert_eq!(
        rotate(&blacklisted(Revocation::Logout), NOW + 1, 10),
        refused_blacklisted(Refusal::Revoked(Revocation::Logout))
    );
}

#[test]
fn an_unknown_token_a_digest_mismatch_or_another_family_is_invalid() {
    let jti = Jti::new("presented");
    let other = FamilyId::new("other");
    let stored = live();
    let mut unreadable = live();
    unreadable.hash = None;
    for use_ in [Use::Rotate, Use::Check, Use::Logout] {
        let presented = Presented {
            jti: &jti,
            hash: TokenHash::of(&token()),
            user: UserId(1),
            family: None,
            client: owner(),
        };
        let decide =
            |presented: &Presented<'_>, stored| decide(use_, presented, stored, NOW, &rules(10));
        assert_eq!(decide(&presented, None), refused(TokenError::Invalid));
        assert_eq!(
            decide(&presented, Some(&unreadable)),
            refused(TokenError::Invalid)
        );
        let forged = Presented {
            hash: TokenHash::of("another.token"),
            ..presented
        };
        assert_eq!(decide(&forged, Some(&stored)), refused(TokenError::Invalid));
        let elsewhere = Presented {
            family: Some(&other),
            ..presented
        };
        assert_eq!(
            decide(&elsewhere, Some(&stored)),
            refused(TokenError::Invalid)
        );
        assert_ne!(
            decide(&presented, Some(&stored)),
            refused(TokenError::Invalid),
            "{use_:?}"
        );
    }
}

#[test]
fn refresh_and_replay_refuse_a_missing_or_inactive_user_but_reuse_still_revokes() {
    let replay = rotated_at(NOW);
    let reuse = rotated_at(NOW - 60);
    for user in [UserState::Missing, UserState::Inactive] {
        for stored in [live(), replay.clone()] {
            let stored = Stored { user, ..stored };
            assert_eq!(
                rotate(&stored, NOW, 10),
                Decision::Refuse(Denial::NoAccount)
            );
            assert_eq!(
                decide_at(
                    Use::Check,
                    &Stored {
                        blacklisted: None,
                        ..stored
                    },
                    NOW,
                    &rules(10)
                ),
                Decision::Refuse(Denial::NoAccount)
            );
        }
        let stored = Stored {
            user,
            ..reuse.clone()
        };
        assert_eq!(rotate(&stored, NOW, 10), Decision::RevokeFamily);
        assert_eq!(
            decide_at(Use::Logout, &stored, NOW, &rules(10)),
            Decision::RevokeFamily
        );
        let stored = Stored { user, ..live() };
        assert_eq!(
            decide_at(Use::Logout, &stored, NOW, &rules(10)),
            Decision::EndSession
        );
    }
}

#[test]
fn an_inactive_user_may_refresh_when_the_active_check_is_off() {
    let mut rules = rules(10);
    rules.check_user_is_active = false;
    let stored = Stored {
        user: UserState::Inactive,
        ..live()
    };
    assert!(matches!(
        decide_at(Use::Rotate, &stored, NOW, &rules),
        Decision::Rotate { .. }
    ));
    assert_eq!(decide_at(Use::Check, &stored, NOW, &rules), Decision::Allow);
    let missing = Stored {
        user: UserState::Missing,
        ..live()
    };
    assert_eq!(
        decide_at(Use::Check, &missing, NOW, &rules),
        Decision::Refuse(Denial::NoAccount)
    );
}

/// The check when rotation is off: each stored state and what it reads.
#[test]
fn the_check_refuses_every_used_token_and_allows_only_a_live_one() {
    let mut expired = live();
    expired.family.expires_at = NOW;
    let mut revoked = live();
    revoked.family.revoked = true;
    let mut rotated_in_revoked = rotated_at(NOW);
    rotated_in_revoked.family.revoked = true;
    let cases = [
        (live(), Decision::Allow),
        (expired, refused(TokenError::Expired)),
        (revoked, refused_blacklisted(Refusal::FamilyRevoked)),
        // A replay inside the grace window is no exception without rotation.
        (
            rotated_at(NOW),
            refused_blacklisted(Refusal::Revoked(Revocation::Rotated)),
        ),
        (
            rotated_in_revoked,
            refused_blacklisted(Refusal::FamilyRevoked),
        ),
        (
            blacklisted(Revocation::Logout),
            refused_blacklisted(Refusal::Revoked(Revocation::Logout)),
        ),
        (
            blacklisted(Revocation::ReuseDetected),
            refused_blacklisted(Refusal::FamilyRevoked),
        ),
    ];
    for (stored, expected) in cases {
        assert_eq!(
            decide_at(Use::Check, &stored, NOW, &rules(10)),
            expected,
            "{stored:?}"
        );
    }
}

/// Logout: each stored state, what it decides and what it writes.
#[test]
fn logout_ends_a_live_or_graced_session_and_revokes_on_reuse() {
    let end = Plan {
        blacklist: Some(Revocation::Logout),
        revoke_family: Some(Revocation::Logout),
        event: Some(EventKind::Logout),
        issue: None,
    };
    let end_graced = Plan {
        blacklist: None,
        ..end
    };
    let reuse = Plan {
        blacklist: None,
        revoke_family: Some(Revocation::ReuseDetected),
        event: Some(EventKind::ReuseDetected),
        issue: None,
    };
    let mut expired = live();
    expired.family.expires_at = NOW;
    let cases = [
        (live(), Decision::EndSession, end),
        (rotated_at(NOW), Decision::EndSession, end_graced),
        (rotated_at(NOW - 60), Decision::RevokeFamily, reuse),
        (expired, refused(TokenError::Expired), Plan::default()),
        (
            blacklisted(Revocation::Logout),
            refused_blacklisted(Refusal::Revoked(Revocation::Logout)),
            Plan::default(),
        ),
    ];
    for (stored, expected, plan) in cases {
        let decision = decide_at(Use::Logout, &stored, NOW, &rules(10));
        assert_eq!(decision, expected, "{stored:?}");
        assert_eq!(decision.plan(&stored, &rules(10)), plan, "{stored:?}");
    }
}

#[test]
fn a_rotation_plans_its_blacklist_row_only_when_blacklisting_after_rotation() {
    let decision = rotate(&live(), NOW, 10);
    let mut rules = rules(10);
    assert_eq!(
        decision.plan(&live(), &rules),
        Plan {
            blacklist: Some(Revocation::Rotated),
            issue: Some(NOW + 86_400),
            ..Plan::default()
        }
    );
    rules.blacklist_after_rotation = false;
    assert_eq!(
        decision.plan(&live(), &rules),
        Plan {
            issue: Some(NOW + 86_400),
            ..Plan::default()
        }
    );
}

#[test]
fn reuse_refuses_after_its_revocation_and_nothing_else_refuses_after_writing() {
    assert_eq!(
        Decision::RevokeFamily.refusal(),
        Some(Denial::Token(TokenError::Blacklisted(
            Refusal::ReuseDetected
        )))
    );
    assert_eq!(Decision::EndSession.refusal(), None);
    assert!(Decision::Allow.plan(&live(), &rules(10)).is_empty());
    let stored = rotated_at(NOW);
    assert_eq!(
        rotate(&stored, NOW, 10).plan(&stored, &rules(10)),
        Plan {
            event: Some(EventKind::RotationGraceReplay),
            ..Plan::default()
        },
        "a replay writes nothing but its event"
    );
    assert!(
        refused(TokenError::Invalid)
            .plan(&live(), &rules(10))
            .is_empty()
    );
}

fn rules_binding(binding: GraceBinding) -> RotationRules {
    RotationRules {
        grace_binding: binding,
        ..rules(10)
    }
}

/// Issue 15: a grace replay is forgiven only for the client whose rotation it repeats.
#[test]
fn a_grace_replay_from_another_client_is_reuse_as_far_as_the_binding_asks() {
    let stored = rotated_at(NOW);
    let next = Decision::Replay(stored.successor.clone().unwrap());
    let moved = client(Some("app/1.0"), Some("198.51.100.9"));
    let thief = client(Some("curl/8.5"), Some("192.0.2.7"));
    let cases = [
        (GraceBinding::Client, owner(), next.clone()),
        (GraceBinding::Client, moved, Decision::RevokeFamily),
        (GraceBinding::Client, thief, Decision::RevokeFamily),
        (GraceBinding::UserAgent, moved, next.clone()),
        (GraceBinding::UserAgent, thief, Decision::RevokeFamily),
        (GraceBinding::None, thief, next.clone()),
    ];
    for (binding, by, expected) in cases {
        let decision = decide_by(by, Use::Rotate, &stored, NOW, &rules_binding(binding));
        assert_eq!(decision, expected, "{binding:?} by {by:?}");
    }
}

#[test]
fn a_successor_without_a_recorded_client_is_replayable_only_without_binding() {
    let mut stored = rotated_at(NOW);
    if let Some(next) = stored.successor.as_mut() {
        next.client = None;
    }
    let decide = |binding| decide_by(owner(), Use::Rotate, &stored, NOW, &rules_binding(binding));
    assert_eq!(decide(GraceBinding::Client), Decision::RevokeFamily);
    assert_eq!(decide(GraceBinding::UserAgent), Decision::RevokeFamily);
    assert!(matches!(decide(GraceBinding::None), Decision::Replay(_)));
}

#[test]
fn a_logout_with_a_graced_token_from_another_client_is_reuse() {
    let stored = rotated_at(NOW);
    let thief = client(Some("curl/8.5"), Some("203.0.113.5"));
    assert_eq!(
        decide_by(thief, Use::Logout, &stored, NOW, &rules(10)),
        Decision::RevokeFamily
    );
    assert_eq!(
        decide_by(owner(), Use::Logout, &stored, NOW, &rules(10)),
        Decision::EndSession
    );
}
