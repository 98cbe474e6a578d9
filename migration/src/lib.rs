//! Database schema of Gatehouse. Migrations use string identifiers only (never the app's
//! entities), so an old migration keeps compiling however the entities change.
pub use sea_orm_migration::prelude::*;

mod m20261127_000001_accounts;
mod m20261127_000002_tenancy;
mod m20261127_000003_collaboration;
mod m20261127_000004_rate_limits;
mod m20261128_000005_bigint_attempts;
mod m20261128_000006_page_indexes;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_accounts::Migration),
            Box::new(m20261127_000002_tenancy::Migration),
            Box::new(m20261127_000003_collaboration::Migration),
            Box::new(m20261127_000004_rate_limits::Migration),
            Box::new(m20261128_000005_bigint_attempts::Migration),
            Box::new(m20261128_000006_page_indexes::Migration),
        ]
    }
}

/// Shorthands shared by the migrations: every id is a 26-character ULID (API keys: `ak_` + ULID),
/// every timestamp is a UTC timestamp with time zone.
pub(crate) mod cols {
    use sea_orm_migration::prelude::*;
    use sea_orm_migration::schema;

    pub fn id(name: &'static str) -> ColumnDef {
        schema::string_len(name, 32).primary_key().take()
    }
    pub fn fk(name: &'static str) -> ColumnDef {
        schema::string_len(name, 32)
    }
    pub fn fk_null(name: &'static str) -> ColumnDef {
        schema::string_len_null(name, 32)
    }
    pub fn ts(name: &'static str) -> ColumnDef {
        schema::timestamp_with_time_zone(name)
    }
    pub fn ts_null(name: &'static str) -> ColumnDef {
        schema::timestamp_with_time_zone_null(name)
    }

    /// `from.col` references `to.id`, deleted with it (or set to null when `set_null`).
    pub fn references(
        from: &'static str,
        col: &'static str,
        to: &'static str,
        set_null: bool,
    ) -> ForeignKeyCreateStatement {
        let action = if set_null { ForeignKeyAction::SetNull } else { ForeignKeyAction::Cascade };
        ForeignKey::create().from(from, col).to(to, "id").on_delete(action).take()
    }
}
