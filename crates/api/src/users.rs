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

use crate::AppState;
use crate::error::ApiError;

/// The longest username, in characters (Django's `auth_user.username`).
pub const MAX_USERNAME_CHARS: usize = 150;

/// A username as jwtd stores it: without surrounding whitespace, 1 to
/// [`MAX_USERNAME_CHARS`] characters; `None` when it does not fit.
pub fn normalized_username(name: &str) -> Option<&str> {
    let name = name.trim();
    let length = name.chars().count();
    (1..=MAX_USERNAME_CHARS).contains(&length).then_some(name)
}

/// Checks a login's password on the argon2 threads: against `user`'s stored hash, or, with
/// no such user, against a dummy hash at the same cost. When it matches an active user's
/// hash that is not jwtd's current argon2id (a hash brought from Django, or one of an
/// earlier argon2 cost), the hash is replaced by a fresh argon2id one; failing to store it
/// is logged and leaves the login alone (the next login tries again).
///
/// # Errors
/// `ApiError::Internal` if the argon2 threads are gone.
pub async fn check_login_password(
    state: &AppState,
    user: Option<&users::Model>,
    password: String,
) -> Result<bool, ApiError> {
    let stored = user.map(|user| user.password_hash.clone());
    let rehash = user.is_some_and(|user| user.is_active);
    let checked = state.passwords.check(password, stored, rehash).await?;
    if let (Some(user), Some(rehashed)) = (user, checked.rehashed) {
        let id = UserId(user.id);
        match replace_password_hash(&state.db.write, id, &user.password_hash, &rehashed).await {
            Ok(true) => tracing::info!(user = user.id, "password hash upgraded to argon2id"),
            // Changed meanwhile (a new password): that one stays.
            Ok(false) => {}
            Err(error) => tracing::warn!(
                user = user.id,
                error = %error,
                "could not store the upgraded password hash; the next login tries again"
            ),
        }
    }
    Ok(checked.matches)
}

/// Creates an active user; the username must be new.
///
/// # Errors
/// The database error, including a unique violation for a taken username.
pub async fn create(
    db: &impl ConnectionTrait,
    username: &str,
    password_hash: &str,
    now: i64,
) -> Result<users::Model, DbErr> {
    create_with(db, None, username, password_hash, true, now).await
}

/// Creates a user, active or not (as imported); the username must be new.
///
/// # Errors
/// The database error, including a unique violation for a taken username.
pub async fn create_with(
    db: &impl ConnectionTrait,
    id: Option<i64>,
    username: &str,
    password_hash: &str,
    is_active: bool,
    now: i64,
) -> Result<users::Model, DbErr> {
    let mut user = users::ActiveModel {
        username: Set(username.to_owned()),
        password_hash: Set(password_hash.to_owned()),
        is_active: Set(is_active),
        last_login: Set(None),
        created_at: Set(now),
        ..Default::default()
    };
    if let Some(id) = id {
        user.id = Set(id);
    }
    user.insert(db).await
}

/// After users were inserted with explicit ids: moves PostgreSQL's id sequence past the
/// largest id, so that the next `jwtd user create` does not collide with an imported id.
/// SQLite and MySQL follow explicit ids by themselves.
///
/// # Errors
/// The database error.
pub async fn follow_explicit_ids(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        db.execute_unprepared(
            "SELECT setval(pg_get_serial_sequence('users', 'id'), \
             GREATEST((SELECT MAX(id) FROM users), 1))",
        )
        .await?;
    }
    Ok(())
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

/// Replaces a user's password hash only while it is still `old`, so that a password changed
/// in the meantime is never overwritten; `false` when nothing was replaced. The user cache
/// holds no hashes, so it needs no update.
///
/// # Errors
/// The database error.
pub async fn replace_password_hash(
    db: &impl ConnectionTrait,
    id: UserId,
    old: &str,
    new: &str,
) -> Result<bool, DbErr> {
    let result = users::Entity::update_many()
        .col_expr(users::Column::PasswordHash, Expr::value(new))
        .filter(users::Column::Id.eq(id.0))
        .filter(users::Column::PasswordHash.eq(old))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
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
