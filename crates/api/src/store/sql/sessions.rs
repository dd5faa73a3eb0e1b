//! The sea-orm queries every backend shares: logins, events, revocations, session lists.

use auth_core::{FamilyId, Jti, Revocation, UserId};
use entity::{auth_events, blacklisted_tokens, outstanding_tokens, token_families};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use super::rotation::blacklist_entry;
use crate::events::Event;
use crate::store::{NewSession, Session, StoreError};

/// Longest username kept in an event row (the `users.username` limit).
const MAX_USERNAME: usize = 150;

/// Writes a login's family, first refresh token and event.
pub(super) async fn start(
    db: &impl ConnectionTrait,
    session: &NewSession<'_>,
) -> Result<(), StoreError> {
    token_families::ActiveModel {
        id: Set(session.family.as_str().to_owned()),
        user_id: Set(session.user.0),
        created_at: Set(session.issued_at),
        last_used_at: Set(session.issued_at),
        expires_at: Set(session.session_expires_at),
        revoked_at: Set(None),
        revoke_reason: Set(None),
        user_agent: Set(session.client.user_agent.clone()),
        ip: Set(session.client.ip_text()),
    }
    .insert(db)
    .await?;
    outstanding_tokens::ActiveModel {
        user_id: Set(Some(session.user.0)),
        jti: Set(session.first.as_str().to_owned()),
        family_id: Set(session.family.as_str().to_owned()),
        parent_jti: Set(None),
        token_hash: Set(session.token_hash.to_hex()),
        created_at: Set(session.issued_at),
        expires_at: Set(session.expires_at),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let event = Event {
        kind: auth_core::EventKind::LoginSucceeded,
        user: Some(session.user),
        username: None,
        family: Some(session.family),
        client: session.client,
        at: session.issued_at,
    };
    record(db, &event).await
}

/// Stores a security event.
pub(super) async fn record(db: &impl ConnectionTrait, event: &Event<'_>) -> Result<(), StoreError> {
    auth_events::ActiveModel {
        at: Set(event.at),
        kind: Set(event.kind.as_str().to_owned()),
        user_id: Set(event.user.map(|user| user.0)),
        username: Set(event
            .username
            .map(|name| name.chars().take(MAX_USERNAME).collect())),
        family_id: Set(event.family.map(|family| family.as_str().to_owned())),
        ip: Set(event.client.ip_text()),
        user_agent: Set(event.client.user_agent.clone()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Whether a token id is blacklisted or belongs to a revoked family.
pub(super) async fn is_revoked(db: &impl ConnectionTrait, jti: &Jti) -> Result<bool, StoreError> {
    let Some(token) = outstanding_tokens::Entity::find()
        .filter(outstanding_tokens::Column::Jti.eq(jti.as_str()))
        .one(db)
        .await?
    else {
        return Ok(false);
    };
    if blacklist_entry(db, token.id).await?.is_some() {
        return Ok(true);
    }
    let family = token_families::Entity::find_by_id(token.family_id)
        .one(db)
        .await?;
    Ok(family.is_some_and(|family| family.revoked_at.is_some()))
}

/// Revokes every live family of a user (locking them); returns them.
pub(super) async fn revoke_user_families(
    db: &impl ConnectionTrait,
    user: UserId,
    reason: Revocation,
    now: i64,
) -> Result<Vec<FamilyId>, StoreError> {
    let families: Vec<String> = token_families::Entity::find()
        .select_only()
        .column(token_families::Column::Id)
        .filter(token_families::Column::UserId.eq(user.0))
        .filter(token_families::Column::RevokedAt.is_null())
        .lock_exclusive()
        .into_tuple()
        .all(db)
        .await?;
    let families: Vec<FamilyId> = families.into_iter().map(FamilyId::new).collect();
    for family in &families {
        revoke_family(db, family, reason, now).await?;
    }
    Ok(families)
}

/// Revokes one live family of a user (locking it); `false` if there is none such.
pub(super) async fn revoke_session(
    db: &impl ConnectionTrait,
    user: UserId,
    family: &FamilyId,
    reason: Revocation,
    now: i64,
) -> Result<bool, StoreError> {
    let found = token_families::Entity::find_by_id(family.as_str().to_owned())
        .filter(token_families::Column::UserId.eq(user.0))
        .filter(token_families::Column::RevokedAt.is_null())
        .filter(token_families::Column::ExpiresAt.gt(now))
        .lock_exclusive()
        .one(db)
        .await?;
    if found.is_none() {
        return Ok(false);
    }
    revoke_family(db, family, reason, now).await?;
    Ok(true)
}

/// Marks a family revoked and blacklists every one of its tokens not yet blacklisted.
pub(super) async fn revoke_family(
    db: &impl ConnectionTrait,
    family: &FamilyId,
    reason: Revocation,
    now: i64,
) -> Result<(), StoreError> {
    token_families::Entity::update_many()
        .col_expr(token_families::Column::RevokedAt, Expr::value(now))
        .col_expr(
            token_families::Column::RevokeReason,
            Expr::value(reason.as_str()),
        )
        .filter(token_families::Column::Id.eq(family.as_str()))
        .filter(token_families::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    let already = Query::select()
        .expr(Expr::val(1))
        .from(blacklisted_tokens::Entity)
        .and_where(
            Expr::col((
                blacklisted_tokens::Entity,
                blacklisted_tokens::Column::TokenId,
            ))
            .equals((outstanding_tokens::Entity, outstanding_tokens::Column::Id)),
        )
        .to_owned();
    let unrevoked = Query::select()
        .column((outstanding_tokens::Entity, outstanding_tokens::Column::Id))
        .expr(Expr::val(now))
        .expr(Expr::val(reason.as_str()))
        .from(outstanding_tokens::Entity)
        .and_where(
            Expr::col((
                outstanding_tokens::Entity,
                outstanding_tokens::Column::FamilyId,
            ))
            .eq(family.as_str()),
        )
        .and_where(Expr::exists(already).not())
        .to_owned();
    let insert = Query::insert()
        .into_table(blacklisted_tokens::Entity)
        .columns([
            blacklisted_tokens::Column::TokenId,
            blacklisted_tokens::Column::BlacklistedAt,
            blacklisted_tokens::Column::Reason,
        ])
        .select_from(unrevoked)
        .map_err(|error| StoreError::Internal(error.to_string()))?
        .to_owned();
    db.execute(&insert).await?;
    Ok(())
}

/// The user's live sessions, newest first; `lifetime` is the refresh lifetime in seconds.
pub(super) async fn list(
    db: &impl ConnectionTrait,
    user: UserId,
    now: i64,
    lifetime: i64,
) -> Result<Vec<Session>, StoreError> {
    let families = token_families::Entity::find()
        .filter(token_families::Column::UserId.eq(user.0))
        .filter(token_families::Column::RevokedAt.is_null())
        .filter(token_families::Column::ExpiresAt.gt(now))
        .filter(token_families::Column::LastUsedAt.gt(now.saturating_sub(lifetime)))
        .order_by_desc(token_families::Column::CreatedAt)
        .order_by_desc(token_families::Column::Id)
        .all(db)
        .await?;
    Ok(families
        .into_iter()
        .map(|family| Session {
            id: FamilyId::new(family.id),
            created_at: family.created_at,
            last_used_at: family.last_used_at,
            expires_at: Ord::min(
                family.expires_at,
                family.last_used_at.saturating_add(lifetime),
            ),
            user_agent: family.user_agent,
            ip: family.ip,
        })
        .collect())
}

/// Families revoked at or after `since`, with the revocation time.
pub(super) async fn revoked_since(
    db: &impl ConnectionTrait,
    since: i64,
) -> Result<Vec<(FamilyId, i64)>, StoreError> {
    let rows: Vec<(String, Option<i64>)> = token_families::Entity::find()
        .select_only()
        .column(token_families::Column::Id)
        .column(token_families::Column::RevokedAt)
        .filter(token_families::Column::RevokedAt.gte(since))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, at)| at.map(|at| (FamilyId::new(id), at)))
        .collect())
}
