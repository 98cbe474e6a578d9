//! The `gatehouse` binary: `serve` (default), `migrate`, `print-schema`.

use clap::{Parser, Subcommand};

/// mimalloc: cheaper than glibc malloc on this allocation-heavy request path (measured in
/// bench/), and it returns Argon2's 19 MiB working areas instead of parking one per thread.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use gatehouse::config::Config;
use gatehouse::db::Db;
use migration::{Migrator, MigratorTrait};

#[derive(Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "Accounts, sessions, scoped API keys, organizations and projects over REST and GraphQL"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate the database, then serve HTTP (the default).
    Serve,
    /// Print the GraphQL schema (SDL) on stdout: what `schema.graphql` holds.
    PrintSchema,
    /// Apply or inspect database migrations.
    Migrate {
        #[command(subcommand)]
        action: Option<MigrateAction>,
    },
}

#[derive(Subcommand, Clone, Copy)]
enum MigrateAction {
    /// Apply every pending migration (the default).
    Up,
    /// Roll back the last migration.
    Down,
    /// List migrations and whether each is applied.
    Status,
    /// Drop every table and migrate from scratch (destroys all data).
    Fresh,
}

fn fail(message: impl std::fmt::Display) -> ! {
    eprintln!("gatehouse: {message}");
    std::process::exit(2);
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Some(Command::PrintSchema) = cli.command {
        print!("{}", gatehouse::graphql::sdl());
        return;
    }
    let config = Config::load().unwrap_or_else(|e| fail(e));
    gatehouse::telemetry::init(config.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = gatehouse::app::App::build(config).await.unwrap_or_else(|e| fail(e));
            tracing::info!(addr = %app.local_addr(), "gatehouse listening");
            if let Err(e) = app.run().await {
                fail(format!("server error: {e}"));
            }
        }
        Command::PrintSchema => unreachable!("handled before configuration is read"),
        Command::Migrate { action } => {
            let action = action.unwrap_or(MigrateAction::Up);
            let result = Db::with_migration_lock(&config.database_url, |conn| async move {
                match action {
                    MigrateAction::Up => Migrator::up(&conn, None).await,
                    MigrateAction::Down => Migrator::down(&conn, Some(1)).await,
                    MigrateAction::Status => Migrator::status(&conn).await,
                    MigrateAction::Fresh => Migrator::fresh(&conn).await,
                }
            })
            .await;
            if let Err(e) = result {
                fail(format!("migration failed: {e}"));
            }
        }
    }
}
