//! `outstanding_tokens.client_mark`: the keyed digest of the client whose rotation issued
//! the token (its `User-Agent` and address, HMAC-SHA-256 under a server-side key, 64 hex
//! digits), so that a replay of the rotated token inside the grace window is forgiven only
//! for that client. `NULL` for a login's first token and for rows written before.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OutstandingTokens {
    Table,
    ClientMark,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(OutstandingTokens::Table)
                    .add_column(
                        ColumnDef::new(OutstandingTokens::ClientMark)
                            .char_len(64)
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(OutstandingTokens::Table)
                    .drop_column(OutstandingTokens::ClientMark)
                    .to_owned(),
            )
            .await
    }
}
