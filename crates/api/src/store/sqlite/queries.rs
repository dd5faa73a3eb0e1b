//! The writer's statements: one read of everything stored about a presented token, the lazy
//! read of its successor, and the writes of a plan. Every statement is prepared once and
//! cached by the connection.

use auth_core::{
    BlacklistEntry, ClientMark, FamilyId, FamilyState, Jti, Plan, Revocation, Stored,
    SuccessorState, UserId, UserState,
};
use rusqlite::{Connection, OptionalExtension, params};

use crate::store::ahead::Minted;
use crate::store::{StoreError, stored_hash};

/// The stored state of a presented token, with its row id; `None` for an unknown token.
pub(super) fn load(
    connection: &Connection,
    jti: &Jti,
    user: UserId,
) -> Result<Option<(i64, Stored)>, StoreError> {
    let mut statement = connection
        .prepare_cached(
            "SELECT o.id, o.token_hash, o.family_id, f.revoked_at, f.expires_at, \
                    b.reason, b.blacklisted_at, u.is_active \
             FROM outstanding_tokens o \
             JOIN token_families f ON f.id = o.family_id \
             LEFT JOIN blacklisted_tokens b ON b.token_id = o.id \
             LEFT JOIN users u ON u.id = ?2 \
             WHERE o.jti = ?1",
        )
        .map_err(sqlite_error)?;
    statement
        .query_row(params![jti.as_str(), user.0], |row| {
            let reason: Option<String> = row.get(5)?;
            let at: Option<i64> = row.get(6)?;
            let stored = Stored {
                hash: stored_hash(&row.get::<_, String>(1)?),
                family_id: FamilyId::new(row.get::<_, String>(2)?),
                family: FamilyState {
                    revoked: row.get::<_, Option<i64>>(3)?.is_some(),
                    expires_at: row.get(4)?,
                },
                blacklisted: reason.zip(at).map(|(reason, at)| BlacklistEntry {
                    reason: Revocation::parse(&reason),
                    at,
                }),
                successor: None,
                user: UserState::from_active(row.get(7)?),
            };
            Ok((row.get(0)?, stored))
        })
        .optional()
        .map_err(sqlite_error)
}

/// A token that was rotated (and so blacklisted) has exactly one child in its family.
pub(super) fn successor(
    connection: &Connection,
    family: &FamilyId,
    parent: &Jti,
) -> Result<Option<SuccessorState>, StoreError> {
    let mut statement = connection
        .prepare_cached(
            "SELECT s.jti, s.created_at, s.expires_at, s.token_hash, \
                    EXISTS (SELECT 1 FROM blacklisted_tokens b WHERE b.token_id = s.id), \
                    s.client_mark \
             FROM outstanding_tokens s WHERE s.family_id = ?1 AND s.parent_jti = ?2 \
             ORDER BY s.id LIMIT 1",
        )
        .map_err(sqlite_error)?;
    statement
        .query_row(params![family.as_str(), parent.as_str()], |row| {
            Ok(SuccessorState {
                jti: Jti::new(row.get::<_, String>(0)?),
                issued_at: row.get(1)?,
                expires_at: row.get(2)?,
                hash: stored_hash(&row.get::<_, String>(3)?),
                blacklisted: row.get(4)?,
                client: row
                    .get::<_, Option<String>>(5)?
                    .as_deref()
                    .and_then(ClientMark::from_hex),
            })
        })
        .optional()
        .map_err(sqlite_error)
}

/// What a plan is applied to: the presented token's row and the request.
pub(super) struct Target<'a> {
    pub token_id: i64,
    pub jti: &'a Jti,
    pub family: &'a FamilyId,
    pub user: UserId,
    pub now: i64,
    pub client: &'a crate::events::Client,
    /// The client's mark, recorded on the successor.
    pub mark: ClientMark,
}

/// Writes `plan`: the blacklist row, the successor (`successor`, minted for `plan.issue`),
/// the family's revocation and the event. `Ok(false)` when the blacklist row was already
/// there (another rotation won; unreachable with one writer, the unique constraint is the
/// last guard), with nothing else written.
pub(super) fn apply(
    connection: &Connection,
    plan: &Plan,
    target: &Target<'_>,
    successor: Option<&Minted>,
) -> Result<bool, StoreError> {
    if let Some(reason) = plan.blacklist {
        let inserted = connection
            .prepare_cached(
                "INSERT INTO blacklisted_tokens (token_id, blacklisted_at, reason) \
                 VALUES (?1, ?2, ?3) ON CONFLICT (token_id) DO NOTHING",
            )
            .and_then(|mut statement| {
                statement.execute(params![target.token_id, target.now, reason.as_str()])
            })
            .map_err(sqlite_error)?;
        if inserted != 1 {
            return Ok(false);
        }
    }
    if let Some(successor) = successor {
        connection
            .prepare_cached(
                "INSERT INTO outstanding_tokens \
                 (user_id, jti, family_id, parent_jti, token_hash, created_at, expires_at, \
                  client_mark) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .and_then(|mut statement| {
                statement.execute(params![
                    target.user.0,
                    successor.jti.as_str(),
                    target.family.as_str(),
                    target.jti.as_str(),
                    successor.hash.to_hex(),
                    target.now,
                    successor.exp,
                    target.mark.to_hex(),
                ])
            })
            .map_err(sqlite_error)?;
        connection
            .prepare_cached("UPDATE token_families SET last_used_at = ?1 WHERE id = ?2")
            .and_then(|mut statement| {
                statement.execute(params![target.now, target.family.as_str()])
            })
            .map_err(sqlite_error)?;
    }
    if let Some(reason) = plan.revoke_family {
        revoke_family(connection, target.family, reason, target.now)?;
    }
    if let Some(kind) = plan.event {
        connection
            .prepare_cached(
                "INSERT INTO auth_events (at, kind, user_id, username, family_id, ip, user_agent) \
                 VALUES (?1, ?2, ?3, NULL, ?4, ?5, ?6)",
            )
            .and_then(|mut statement| {
                statement.execute(params![
                    target.now,
                    kind.as_str(),
                    target.user.0,
                    target.family.as_str(),
                    target.client.ip_text(),
                    target.client.user_agent.as_deref(),
                ])
            })
            .map_err(sqlite_error)?;
    }
    Ok(true)
}

/// Marks a family revoked and blacklists every one of its tokens not yet blacklisted.
fn revoke_family(
    connection: &Connection,
    family: &FamilyId,
    reason: Revocation,
    now: i64,
) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "UPDATE token_families SET revoked_at = ?1, revoke_reason = ?2 \
             WHERE id = ?3 AND revoked_at IS NULL",
        )
        .and_then(|mut statement| statement.execute(params![now, reason.as_str(), family.as_str()]))
        .map_err(sqlite_error)?;
    connection
        .prepare_cached(
            "INSERT INTO blacklisted_tokens (token_id, blacklisted_at, reason) \
             SELECT o.id, ?1, ?2 FROM outstanding_tokens o \
             WHERE o.family_id = ?3 \
               AND NOT EXISTS (SELECT 1 FROM blacklisted_tokens b WHERE b.token_id = o.id)",
        )
        .and_then(|mut statement| statement.execute(params![now, reason.as_str(), family.as_str()]))
        .map_err(sqlite_error)?;
    Ok(())
}

/// A busy or locked database, and a full, read-only or failing disk, are transient (503,
/// safe to retry); anything else is a 500.
pub(super) fn sqlite_error(error: rusqlite::Error) -> StoreError {
    let transient = error.sqlite_error().is_some_and(|error| {
        crate::store::transient::is_transient_sqlite_code(error.extended_code)
    });
    let error = sea_orm::DbErr::Custom(format!("sqlite: {error}"));
    if transient {
        StoreError::Unavailable(error)
    } else {
        StoreError::Database(error)
    }
}
