//! jwtd's schema as sea-orm migrations: the only place the schema is defined.
//!
//! Migrations are frozen history: each names its own tables and columns and never imports
//! the `entity` crate.

pub use sea_orm_migration::prelude::*;

mod m20261130_000001_initial;
mod m20261130_000002_revoked_at_index;
mod m20261130_000003_drop_outstanding_user_index;
mod m20261205_000001_rotation_client_mark;
mod m20261205_000002_login_attempts;

/// Applies jwtd's migrations in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261130_000001_initial::Migration),
            Box::new(m20261130_000002_revoked_at_index::Migration),
            Box::new(m20261130_000003_drop_outstanding_user_index::Migration),
            Box::new(m20261205_000001_rotation_client_mark::Migration),
            Box::new(m20261205_000002_login_attempts::Migration),
        ]
    }
}
