//! Users, password credentials, sessions, email tokens, the mail outbox and login history.
use crate::cols::*;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("users")
                .col(id("id"))
                .col(string_len_uniq("email", 254))
                .col(string_len("full_name", 100))
                .col(string_len_uniq("handle", 64))
                .col(boolean("is_verified"))
                .col(ts_null("verified_at"))
                .col(boolean("is_active"))
                .col(ts_null("last_login_at"))
                .col(string_len("role", 16))
                .col(boolean("two_factor_enabled"))
                .col(boolean("marketing_opt_out"))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("password_credentials")
                .col(fk("user_id").primary_key())
                .col(string_len("password_hash", 255))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .foreign_key(&mut references("password_credentials", "user_id", "users", false))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("sessions")
                .col(id("id"))
                .col(fk("user_id"))
                .col(string_len_uniq("token_hash", 64))
                .col(string_len_null("ip_address", 64))
                .col(string_len_null("user_agent", 512))
                .col(ts("created_at"))
                .col(ts("refreshed_at"))
                .col(ts("expires_at"))
                .col(ts("absolute_expires_at"))
                .col(boolean("remember"))
                .foreign_key(&mut references("sessions", "user_id", "users", false))
                .take(),
        )
        .await?;
        index(m, "sessions", &["user_id"]).await?;

        m.create_table(
            Table::create()
                .table("email_tokens")
                .col(id("id"))
                .col(fk("user_id"))
                .col(string_len("purpose", 32))
                .col(string_len_uniq("token_hash", 64))
                .col(ts("expires_at"))
                .col(ts_null("used_at"))
                .col(ts("created_at"))
                .foreign_key(&mut references("email_tokens", "user_id", "users", false))
                .take(),
        )
        .await?;
        index(m, "email_tokens", &["user_id", "purpose"]).await?;

        m.create_table(
            Table::create()
                .table("mail_outbox")
                .col(id("id"))
                .col(string_len("recipient", 254))
                .col(string_len("subject", 255))
                .col(text_null("body"))
                .col(integer("attempts"))
                .col(ts("next_attempt_at"))
                .col(ts_null("delivered_at"))
                .col(text_null("last_error"))
                .col(ts("created_at"))
                .take(),
        )
        .await?;
        index(m, "mail_outbox", &["delivered_at", "next_attempt_at"]).await?;

        m.create_table(
            Table::create()
                .table("login_history")
                .col(id("id"))
                .col(fk("user_id"))
                .col(boolean("success"))
                .col(string_len("method", 32))
                .col(string_len_null("ip_address", 64))
                .col(string_len_null("user_agent", 512))
                .col(ts("created_at"))
                .foreign_key(&mut references("login_history", "user_id", "users", false))
                .take(),
        )
        .await?;
        index(m, "login_history", &["user_id", "created_at"]).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in ["login_history", "mail_outbox", "email_tokens", "sessions", "password_credentials", "users"] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}

/// A plain (non-unique) index named after its table and columns.
pub(crate) async fn index(m: &SchemaManager<'_>, table: &'static str, cols: &[&'static str]) -> Result<(), DbErr> {
    let mut stmt = Index::create();
    stmt.name(format!("idx_{}_{}", table, cols.join("_"))).table(table);
    for c in cols {
        stmt.col(*c);
    }
    m.create_index(stmt.take()).await
}

/// A unique index over several columns.
pub(crate) async fn unique(m: &SchemaManager<'_>, table: &'static str, cols: &[&'static str]) -> Result<(), DbErr> {
    let mut stmt = Index::create();
    stmt.name(format!("uq_{}_{}", table, cols.join("_"))).table(table).unique();
    for c in cols {
        stmt.col(*c);
    }
    m.create_index(stmt.take()).await
}
