//! `blacklisted_tokens`: refresh tokens that may no longer be used.

use sea_orm::entity::prelude::*;

/// One blacklisted refresh token. The unique `token_id` is what makes rotation atomic: of
/// several concurrent rotations of one token, exactly one inserts this row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "blacklisted_tokens")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The outstanding token; unique.
    #[sea_orm(unique)]
    pub token_id: i64,
    /// Unix seconds.
    pub blacklisted_at: i64,
    /// A `Revocation` name: `rotated`, `logout`, `reuse_detected`, ...
    pub reason: String,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
