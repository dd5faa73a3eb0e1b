//! `flush_expired`: expired tokens, expired families and old events, deleted in batches;
//! login counts whose window has ended.

use entity::{auth_events, blacklisted_tokens, outstanding_tokens, token_families};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::SimpleExpr,
};

use super::SqlStore;
use crate::store::{Flushed, StoreError};

/// Deletes, `batch` rows at a time, the rows of `E` matching `expired` (by primary key `id`),
/// until none is left; returns how many. `delete` removes one batch of ids.
async fn in_batches<E, Id, Deleted>(
    store: &SqlStore,
    id: E::Column,
    expired: SimpleExpr,
    batch: u64,
    delete: impl Fn(Vec<Id>) -> Deleted,
) -> Result<u64, StoreError>
where
    E: EntityTrait,
    Id: sea_orm::TryGetableMany + Send + Sync,
    Deleted: Future<Output = Result<u64, StoreError>>,
{
    let mut deleted = 0;
    loop {
        let ids: Vec<Id> = E::find()
            .select_only()
            .column(id)
            .filter(expired.clone())
            .order_by_asc(id)
            .limit(batch)
            .into_tuple()
            .all(&store.db.write)
            .await?;
        if ids.is_empty() {
            return Ok(deleted);
        }
        deleted += delete(ids).await?;
    }
}

/// See `TokenStore::flush_expired`.
pub(super) async fn flush_expired(
    store: &SqlStore,
    now: i64,
    events_before: i64,
    batch: u64,
) -> Result<Flushed, StoreError> {
    let tokens = in_batches::<outstanding_tokens::Entity, i64, _>(
        store,
        outstanding_tokens::Column::Id,
        outstanding_tokens::Column::ExpiresAt.lte(now),
        batch,
        move |ids| async move {
            // A token and its blacklist row go together.
            let txn = store.begin().await?;
            blacklisted_tokens::Entity::delete_many()
                .filter(blacklisted_tokens::Column::TokenId.is_in(ids.clone()))
                .exec(&txn)
                .await?;
            let deleted = outstanding_tokens::Entity::delete_many()
                .filter(outstanding_tokens::Column::Id.is_in(ids))
                .exec(&txn)
                .await?;
            txn.commit().await?;
            Ok(deleted.rows_affected)
        },
    )
    .await?;
    let families = in_batches::<token_families::Entity, String, _>(
        store,
        token_families::Column::Id,
        token_families::Column::ExpiresAt.lte(now),
        batch,
        move |ids| async move {
            let deleted = token_families::Entity::delete_many()
                .filter(token_families::Column::Id.is_in(ids))
                .exec(&store.db.write)
                .await?;
            Ok(deleted.rows_affected)
        },
    )
    .await?;
    let events = in_batches::<auth_events::Entity, i64, _>(
        store,
        auth_events::Column::Id,
        auth_events::Column::At.lt(events_before),
        batch,
        move |ids| async move {
            let deleted = auth_events::Entity::delete_many()
                .filter(auth_events::Column::Id.is_in(ids))
                .exec(&store.db.write)
                .await?;
            Ok(deleted.rows_affected)
        },
    )
    .await?;
    // Login counts whose window has ended count nothing any more (the next attempt starts
    // a new window); few and small, so one statement.
    let backend = store.db.backend();
    let bind = if backend == sea_orm::DbBackend::Postgres {
        "$1"
    } else {
        "?"
    };
    store
        .db
        .write
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            backend,
            format!("DELETE FROM login_attempts WHERE expires_at <= {bind}"),
            [now.into()],
        ))
        .await?;
    Ok(Flushed {
        tokens,
        families,
        events,
    })
}
