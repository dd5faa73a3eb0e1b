//! users, token_families, outstanding_tokens, blacklisted_tokens, auth_events.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    PasswordHash,
    IsActive,
    LastLogin,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TokenFamilies {
    Table,
    Id,
    UserId,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
    RevokedAt,
    RevokeReason,
    UserAgent,
    Ip,
}

#[derive(DeriveIden)]
enum OutstandingTokens {
    Table,
    Id,
    UserId,
    Jti,
    FamilyId,
    ParentJti,
    TokenHash,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum BlacklistedTokens {
    Table,
    Id,
    TokenId,
    BlacklistedAt,
    Reason,
}

#[derive(DeriveIden)]
enum AuthEvents {
    Table,
    Id,
    At,
    Kind,
    UserId,
    Username,
    FamilyId,
    Ip,
    UserAgent,
}

fn id(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .if_not_exists()
                    .col(id(Users::Id))
                    .col(
                        ColumnDef::new(Users::Username)
                            .string_len(150)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(Users::PasswordHash)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Users::IsActive)
                            .boolean()
                            .not_null()
                            .default(true),
                    )
                    .col(ColumnDef::new(Users::LastLogin).big_integer().null())
                    .col(ColumnDef::new(Users::CreatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TokenFamilies::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(TokenFamilies::Id)
                            .string_len(32)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(TokenFamilies::UserId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(TokenFamilies::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(TokenFamilies::LastUsedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(TokenFamilies::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(TokenFamilies::RevokedAt)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(TokenFamilies::RevokeReason)
                            .string_len(32)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(TokenFamilies::UserAgent)
                            .string_len(512)
                            .null(),
                    )
                    .col(ColumnDef::new(TokenFamilies::Ip).string_len(64).null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_token_families_user_id")
                    .table(TokenFamilies::Table)
                    .col(TokenFamilies::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_token_families_expires_at")
                    .table(TokenFamilies::Table)
                    .col(TokenFamilies::ExpiresAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OutstandingTokens::Table)
                    .if_not_exists()
                    .col(id(OutstandingTokens::Id))
                    .col(
                        ColumnDef::new(OutstandingTokens::UserId)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(OutstandingTokens::Jti)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(OutstandingTokens::FamilyId)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OutstandingTokens::ParentJti)
                            .string_len(64)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(OutstandingTokens::TokenHash)
                            .char_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OutstandingTokens::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OutstandingTokens::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_outstanding_tokens_user_id")
                            .from(OutstandingTokens::Table, OutstandingTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            (
                "idx_outstanding_tokens_expires_at",
                OutstandingTokens::ExpiresAt,
            ),
            (
                "idx_outstanding_tokens_family_id",
                OutstandingTokens::FamilyId,
            ),
            ("idx_outstanding_tokens_user_id", OutstandingTokens::UserId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(OutstandingTokens::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(BlacklistedTokens::Table)
                    .if_not_exists()
                    .col(id(BlacklistedTokens::Id))
                    .col(
                        ColumnDef::new(BlacklistedTokens::TokenId)
                            .big_integer()
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(BlacklistedTokens::BlacklistedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(BlacklistedTokens::Reason)
                            .string_len(32)
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_blacklisted_tokens_token_id")
                            .from(BlacklistedTokens::Table, BlacklistedTokens::TokenId)
                            .to(OutstandingTokens::Table, OutstandingTokens::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuthEvents::Table)
                    .if_not_exists()
                    .col(id(AuthEvents::Id))
                    .col(ColumnDef::new(AuthEvents::At).big_integer().not_null())
                    .col(ColumnDef::new(AuthEvents::Kind).string_len(32).not_null())
                    .col(ColumnDef::new(AuthEvents::UserId).big_integer().null())
                    .col(ColumnDef::new(AuthEvents::Username).string_len(150).null())
                    .col(ColumnDef::new(AuthEvents::FamilyId).string_len(32).null())
                    .col(ColumnDef::new(AuthEvents::Ip).string_len(64).null())
                    .col(ColumnDef::new(AuthEvents::UserAgent).string_len(512).null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_auth_events_at")
                    .table(AuthEvents::Table)
                    .col(AuthEvents::At)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "auth_events",
            "blacklisted_tokens",
            "outstanding_tokens",
            "token_families",
            "users",
        ] {
            manager
                .drop_table(
                    Table::drop()
                        .table(Alias::new(table))
                        .if_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
