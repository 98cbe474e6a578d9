//! `mail_outbox.attempts` becomes a 64-bit integer, like every other integer column: the SQLite
//! read path decodes integers as i64 (src/db/sqlite_reader.rs), so entity fields are i64 only.
//! SQLite's `integer` already is 64-bit; PostgreSQL changes the column type.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != sea_orm_migration::sea_orm::DbBackend::Postgres {
            return Ok(());
        }
        m.alter_table(
            Table::alter()
                .table("mail_outbox")
                .modify_column(ColumnDef::new("attempts").big_integer().not_null())
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != sea_orm_migration::sea_orm::DbBackend::Postgres {
            return Ok(());
        }
        m.alter_table(
            Table::alter().table("mail_outbox").modify_column(ColumnDef::new("attempts").integer().not_null()).take(),
        )
        .await
    }
}
