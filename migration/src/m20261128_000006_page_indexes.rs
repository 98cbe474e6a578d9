//! Page indexes that match the lists' whole `ORDER BY created_at DESC, id DESC`: with `id` in the
//! index SQLite reads a page straight off it instead of sorting each run of equal timestamps in a
//! temporary B-tree (a 20-project page: about half the time, bench/README.md). Each replaces the
//! index it extends, which served the same lookups.
use sea_orm_migration::prelude::*;

use crate::m20261127_000001_accounts::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (table, parent column): the old index is (parent, created_at), the new one adds id.
const PAGES: [(&str, &str); 2] = [("projects", "organization_id"), ("memberships", "user_id")];

async fn drop(m: &SchemaManager<'_>, table: &'static str, name: String) -> Result<(), DbErr> {
    m.drop_index(Index::drop().name(name).table(table).to_owned()).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (table, parent) in PAGES {
            index(m, table, &[parent, "created_at", "id"]).await?;
        }
        drop(m, "projects", "idx_projects_organization_id_created_at".into()).await?;
        drop(m, "memberships", "idx_memberships_user_id".into()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        index(m, "projects", &["organization_id", "created_at"]).await?;
        index(m, "memberships", &["user_id"]).await?;
        for (table, parent) in PAGES {
            drop(m, table, format!("idx_{table}_{parent}_created_at_id")).await?;
        }
        Ok(())
    }
}
