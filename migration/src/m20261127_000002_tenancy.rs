//! Organizations, memberships, projects and API keys.
use crate::cols::*;
use crate::m20261127_000001_accounts::{index, unique};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("organizations")
                .col(id("id"))
                .col(string_len("name", 100))
                .col(string_len_uniq("slug", 48))
                .col(string_len_null("logo_url", 2048))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("memberships")
                .col(id("id"))
                .col(fk("organization_id"))
                .col(fk("user_id"))
                .col(string_len("role", 16))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .foreign_key(&mut references("memberships", "organization_id", "organizations", false))
                .foreign_key(&mut references("memberships", "user_id", "users", false))
                .take(),
        )
        .await?;
        unique(m, "memberships", &["organization_id", "user_id"]).await?;
        index(m, "memberships", &["user_id"]).await?;

        m.create_table(
            Table::create()
                .table("projects")
                .col(id("id"))
                .col(fk("organization_id"))
                .col(string_len("name", 120))
                .col(string_len("slug", 140))
                .col(text_null("description"))
                .col(text_null("business_context"))
                .col(text_null("monitoring_intent"))
                .col(string_len_null("website", 2048))
                .col(string_len("status", 16))
                .col(string_len("frequency", 16))
                .col(string_len("timezone", 64))
                .col(fk_null("created_by_user_id"))
                .col(ts_null("last_run_at"))
                .col(ts_null("next_run_at"))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .foreign_key(&mut references("projects", "organization_id", "organizations", false))
                .foreign_key(&mut references("projects", "created_by_user_id", "users", true))
                .take(),
        )
        .await?;
        unique(m, "projects", &["organization_id", "slug"]).await?;
        index(m, "projects", &["organization_id", "created_at"]).await?;

        m.create_table(
            Table::create()
                .table("api_keys")
                .col(id("id"))
                .col(fk("user_id"))
                .col(string_len("name", 64))
                .col(string_len_uniq("key_hash", 64))
                .col(string_len("start", 16))
                .col(text("scopes"))
                .col(fk_null("organization_id"))
                .col(text("metadata"))
                .col(boolean("enabled"))
                .col(ts_null("expires_at"))
                .col(ts_null("last_used_at"))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .foreign_key(&mut references("api_keys", "user_id", "users", false))
                .foreign_key(&mut references("api_keys", "organization_id", "organizations", false))
                .take(),
        )
        .await?;
        index(m, "api_keys", &["user_id", "created_at"]).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in ["api_keys", "projects", "memberships", "organizations"] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
