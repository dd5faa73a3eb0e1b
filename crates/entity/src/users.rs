//! `users`: accounts that can log in.

use sea_orm::entity::prelude::*;

/// One account.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// Primary key; tokens carry it as the user-id claim.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Unique login name.
    #[sea_orm(unique)]
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Inactive users cannot log in, refresh or authenticate.
    pub is_active: bool,
    /// Last successful login (when `UPDATE_LAST_LOGIN` is on), Unix seconds.
    pub last_login: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
