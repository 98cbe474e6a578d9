//! Invitations and the audit log.
use crate::cols::*;
use crate::m20261127_000001_accounts::index;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("invitations")
                .col(id("id"))
                .col(fk("organization_id"))
                .col(string_len("email", 254))
                .col(string_len("role", 16))
                .col(string_len_uniq("token_hash", 64))
                .col(string_len("status", 16))
                .col(fk_null("invited_by_user_id"))
                .col(ts("expires_at"))
                .col(ts_null("accepted_at"))
                .col(ts_null("canceled_at"))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .foreign_key(&mut references("invitations", "organization_id", "organizations", false))
                .foreign_key(&mut references("invitations", "invited_by_user_id", "users", true))
                .take(),
        )
        .await?;
        index(m, "invitations", &["organization_id", "created_at"]).await?;
        index(m, "invitations", &["organization_id", "email"]).await?;

        m.create_table(
            Table::create()
                .table("audit_events")
                .col(id("id"))
                .col(fk("organization_id"))
                .col(string_len("action", 64))
                .col(fk_null("actor_user_id"))
                .col(string_len("credential", 16))
                .col(string_len("target_type", 32))
                .col(string_len_null("target_id", 32))
                .col(string_len_null("ip_address", 64))
                .col(string_len_null("user_agent", 512))
                .col(text("metadata"))
                .col(ts("created_at"))
                .foreign_key(&mut references("audit_events", "organization_id", "organizations", false))
                .take(),
        )
        .await?;
        index(m, "audit_events", &["organization_id", "created_at"]).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in ["audit_events", "invitations"] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
