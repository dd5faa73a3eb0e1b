//! `auth_events`: the security event log (bounded retention).

use sea_orm::entity::prelude::*;

/// One security event. Never holds a token or a password.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "auth_events")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    /// `login_succeeded`, `login_failed`, `reuse_detected`, `logout`, ...
    pub kind: String,
    /// The user concerned, when known.
    pub user_id: Option<i64>,
    /// The username given, for failed logins of unknown users.
    pub username: Option<String>,
    /// The family concerned, when there is one.
    pub family_id: Option<String>,
    /// Client address.
    pub ip: Option<String>,
    /// Client `User-Agent`.
    pub user_agent: Option<String>,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
