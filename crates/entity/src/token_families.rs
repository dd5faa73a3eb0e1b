//! `token_families`: one row per login (session); every refresh token rotated from that
//! login belongs to it.

use sea_orm::entity::prelude::*;

/// One session.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "token_families")]
pub struct Model {
    /// 32 hex characters; the `sid` claim.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Owner.
    pub user_id: i64,
    /// Login time, Unix seconds.
    pub created_at: i64,
    /// Last rotation, Unix seconds.
    pub last_used_at: i64,
    /// Absolute end of the session, Unix seconds.
    pub expires_at: i64,
    /// When the family was revoked, if it was.
    pub revoked_at: Option<i64>,
    /// Why it was revoked (a `Revocation` name).
    pub revoke_reason: Option<String>,
    /// `User-Agent` of the login request.
    pub user_agent: Option<String>,
    /// Client address of the login request.
    pub ip: Option<String>,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
