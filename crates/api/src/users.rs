//! User accounts: plain queries over any connection or transaction, and the cache that
//! spares authentication a query per request.

mod cache;

pub use cache::{CachedUser, UserCache};

use auth_core::UserId;
use entity::users;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
};

/// Creates a user; the username must be new.
///
/// # Errors
/// The database error, including a unique violation for a taken username.
pub async fn create(
    db: &impl ConnectionTrait,
    username: &str,
    password_hash: &str,
    now: i64,
) -> Result<users::Model, DbErr> {
    users::ActiveModel {
        username: Set(username.to_owned()),
        password_hash: Set(password_hash.to_owned()),
        is_active: Set(true),
        last_login: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// Finds a user by username (exact match).
///
/// # Errors
/// The database error.
pub async fn find_by_username(
    db: &impl ConnectionTrait,
    username: &str,
) -> Result<Option<users::Model>, DbErr> {
    users::Entity::find()
        .filter(users::Column::Username.eq(username))
        .one(db)
        .await
}

/// Finds a user by id.
///
/// # Errors
/// The database error.
pub async fn find_by_id(
    db: &impl ConnectionTrait,
    id: UserId,
) -> Result<Option<users::Model>, DbErr> {
    users::Entity::find_by_id(id.0).one(db).await
}

/// Replaces a user's password hash and drops the user from `cache`; `false` when there is
/// no such user. Inside a transaction, call `cache.forget` again once it commits.
///
/// # Errors
/// The database error.
pub async fn set_password_hash(
    db: &impl ConnectionTrait,
    cache: &UserCache,
    id: UserId,
    password_hash: &str,
) -> Result<bool, DbErr> {
    let result = users::Entity::update_many()
        .col_expr(users::Column::PasswordHash, Expr::value(password_hash))
        .filter(users::Column::Id.eq(id.0))
        .exec(db)
        .await;
    cache.forget(id);
    Ok(result?.rows_affected == 1)
}

/// Activates or deactivates a user and drops the user from `cache` (other processes see the
/// change within [`UserCache::TTL_SECONDS`]); `false` when there is no such user. Inside a
/// transaction, call `cache.forget` again once it commits.
///
/// # Errors
/// The database error.
pub async fn set_active(
    db: &impl ConnectionTrait,
    cache: &UserCache,
    id: UserId,
    active: bool,
) -> Result<bool, DbErr> {
    let result = users::Entity::update_many()
        .col_expr(users::Column::IsActive, Expr::value(active))
        .filter(users::Column::Id.eq(id.0))
        .exec(db)
        .await;
    // Forgotten even when the update failed: it may have been applied all the same.
    cache.forget(id);
    Ok(result?.rows_affected == 1)
}

/// Records a successful login time.
///
/// # Errors
/// The database error.
pub async fn touch_last_login(
    db: &impl ConnectionTrait,
    id: UserId,
    now: i64,
) -> Result<(), DbErr> {
    users::Entity::update_many()
        .col_expr(users::Column::LastLogin, Expr::value(now))
        .filter(users::Column::Id.eq(id.0))
        .exec(db)
        .await?;
    Ok(())
}
