//! Drops the index on `outstanding_tokens.user_id` where nothing needs it.
//!
//! No query reads outstanding tokens by user (sessions are found through `token_families`,
//! whose `user_id` is indexed), yet every rotation inserted into this index at the user's
//! place in it: a random page written per rotation. Its one use was the foreign key's
//! `ON DELETE SET NULL` when a user row is deleted, which jwtd never does (users are
//! deactivated); a `DELETE FROM users` run by hand now scans `outstanding_tokens`.
//! MySQL keeps it: InnoDB requires an index on a foreign key's columns.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OutstandingTokens {
    Table,
    UserId,
}

const INDEX: &str = "idx_outstanding_tokens_user_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::MySql {
            return Ok(());
        }
        manager
            .drop_index(
                Index::drop()
                    .name(INDEX)
                    .table(OutstandingTokens::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::MySql {
            return Ok(());
        }
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(OutstandingTokens::Table)
                    .col(OutstandingTokens::UserId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }
}
