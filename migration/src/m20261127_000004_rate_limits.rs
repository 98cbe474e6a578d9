//! Rate-limit counters shared by every instance (`GATEHOUSE_RATE_LIMIT_STORE=database`).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("rate_limits")
                .col(string_len("key", 160).primary_key())
                .col(big_integer("count"))
                // Milliseconds since the Unix epoch: compared and reset atomically in one upsert.
                .col(big_integer("reset_at_ms"))
                .take(),
        )
        .await?;
        crate::m20261127_000001_accounts::index(m, "rate_limits", &["reset_at_ms"]).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("rate_limits").to_owned()).await
    }
}
