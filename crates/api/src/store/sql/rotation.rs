//! The one-transaction path's queries: load what is stored about a presented token (its
//! family locked), its successor, and apply a decision's plan.

use auth_core::{
    BlacklistEntry, ClientMark, FamilyId, FamilyState, Jti, Plan, Presented, Revocation, Stored,
    SuccessorState, UserState,
};
use entity::{blacklisted_tokens, outstanding_tokens, token_families};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use super::sessions;
use crate::events::{Client, Event};
use crate::store::ahead::Minted;
use crate::store::{StoreError, stored_hash};

/// The token's row id and everything stored about it; `None` for an unknown token (or a
/// token without a family). With `lock`, the family row is locked for the rest of the
/// transaction on databases with row locks, so that everything done to one family is
/// serialized.
pub(super) async fn load(
    db: &impl ConnectionTrait,
    presented: &Presented<'_>,
    lock: bool,
) -> Result<Option<(i64, Stored)>, StoreError> {
    let Some(token) = outstanding_tokens::Entity::find()
        .filter(outstanding_tokens::Column::Jti.eq(presented.jti.as_str()))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let mut family = token_families::Entity::find_by_id(token.family_id.clone());
    if lock {
        family = family.lock_exclusive();
    }
    let Some(family) = family.one(db).await? else {
        return Ok(None);
    };
    let blacklisted = blacklist_entry(db, token.id).await?;
    let user = crate::users::find_by_id(db, presented.user).await?;
    let stored = Stored {
        hash: stored_hash(&token.token_hash),
        family_id: FamilyId::new(family.id),
        family: FamilyState {
            revoked: family.revoked_at.is_some(),
            expires_at: family.expires_at,
        },
        blacklisted,
        successor: None,
        user: UserState::from_active(user.map(|user| user.is_active)),
    };
    Ok(Some((token.id, stored)))
}

/// The successor a rotation of `parent` produced, if there is one: its child in its family
/// (a rotated token has exactly one).
pub(super) async fn successor(
    db: &impl ConnectionTrait,
    family: &FamilyId,
    parent: &Jti,
) -> Result<Option<SuccessorState>, StoreError> {
    let Some(successor) = outstanding_tokens::Entity::find()
        .filter(outstanding_tokens::Column::FamilyId.eq(family.as_str()))
        .filter(outstanding_tokens::Column::ParentJti.eq(parent.as_str()))
        .order_by_asc(outstanding_tokens::Column::Id)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let blacklisted = blacklist_entry(db, successor.id).await?.is_some();
    Ok(Some(SuccessorState {
        hash: stored_hash(&successor.token_hash),
        jti: Jti::new(successor.jti),
        issued_at: successor.created_at,
        expires_at: successor.expires_at,
        blacklisted,
        client: successor
            .client_mark
            .as_deref()
            .and_then(ClientMark::from_hex),
    }))
}

/// The blacklist row of a token, if any.
pub(super) async fn blacklist_entry(
    db: &impl ConnectionTrait,
    token_id: i64,
) -> Result<Option<BlacklistEntry>, StoreError> {
    Ok(blacklisted_tokens::Entity::find()
        .filter(blacklisted_tokens::Column::TokenId.eq(token_id))
        .one(db)
        .await?
        .map(|row| BlacklistEntry {
            reason: Revocation::parse(&row.reason),
            at: row.blacklisted_at,
        }))
}

/// What a plan is applied to: the presented token's row and the request.
pub(super) struct Target<'a> {
    pub token_id: i64,
    pub presented: &'a Presented<'a>,
    pub family: &'a FamilyId,
    pub now: i64,
    pub client: &'a Client,
}

/// Writes `plan`: the blacklist row, the successor (`issued`, minted for `plan.issue`) and the
/// family's `last_used_at`, the family's revocation and the event.
pub(super) async fn apply(
    db: &impl ConnectionTrait,
    plan: &Plan,
    target: &Target<'_>,
    issued: Option<&Minted>,
) -> Result<(), StoreError> {
    let (now, family) = (target.now, target.family);
    if let Some(reason) = plan.blacklist {
        let inserted = blacklisted_tokens::Entity::insert(blacklisted_tokens::ActiveModel {
            token_id: Set(target.token_id),
            blacklisted_at: Set(now),
            reason: Set(reason.as_str().to_owned()),
            ..Default::default()
        })
        .on_conflict_do_nothing_on([blacklisted_tokens::Column::TokenId])
        .exec_without_returning(db)
        .await?;
        if !matches!(inserted, sea_orm::TryInsertResult::Inserted(1)) {
            // Another rotation of this token committed first. The family lock makes this
            // unreachable on PostgreSQL and the single writer on SQLite; the unique
            // constraint is the last line of defence.
            return Err(StoreError::Unavailable(sea_orm::DbErr::Custom(
                "concurrent rotation".into(),
            )));
        }
    }
    if let Some(issued) = issued {
        outstanding_tokens::ActiveModel {
            user_id: Set(Some(target.presented.user.0)),
            jti: Set(issued.jti.as_str().to_owned()),
            family_id: Set(family.as_str().to_owned()),
            parent_jti: Set(Some(target.presented.jti.as_str().to_owned())),
            token_hash: Set(issued.hash.to_hex()),
            created_at: Set(now),
            expires_at: Set(issued.exp),
            client_mark: Set(Some(target.presented.client.to_hex())),
            ..Default::default()
        }
        .insert(db)
        .await?;
        token_families::Entity::update_many()
            .col_expr(token_families::Column::LastUsedAt, Expr::value(now))
            .filter(token_families::Column::Id.eq(family.as_str()))
            .exec(db)
            .await?;
    }
    if let Some(reason) = plan.revoke_family {
        sessions::revoke_family(db, family, reason, now).await?;
    }
    if let Some(kind) = plan.event {
        let event = Event {
            kind,
            user: Some(target.presented.user),
            username: None,
            family: Some(family),
            client: target.client,
            at: now,
        };
        sessions::record(db, &event).await?;
    }
    Ok(())
}
