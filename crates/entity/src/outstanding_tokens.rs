//! `outstanding_tokens`: one row per refresh token ever issued (until flushed).

use sea_orm::entity::prelude::*;

/// One issued refresh token. The token itself is never stored, only its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outstanding_tokens")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Owner; `NULL` once the user is deleted, so blacklisted tokens stay blocked.
    pub user_id: Option<i64>,
    /// The token's `jti`; unique.
    #[sea_orm(unique)]
    pub jti: String,
    /// The family (session) it belongs to.
    pub family_id: String,
    /// The `jti` of the token it was rotated from; `NULL` for a login's first token.
    pub parent_jti: Option<String>,
    /// Lowercase hex SHA-256 of the encoded token.
    pub token_hash: String,
    /// The token's `iat`, Unix seconds.
    pub created_at: i64,
    /// The token's `exp`, Unix seconds; indexed for the expired-token flush.
    pub expires_at: i64,
    /// The keyed digest (64 hex digits) of the client whose rotation issued it; `NULL` for a
    /// login's first token.
    pub client_mark: Option<String>,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
