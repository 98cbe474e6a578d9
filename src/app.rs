//! Building and running the service: state, migrations, listener, mail worker, shutdown.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::auth::password::Hasher;
use crate::config::Config;
use crate::db::Db;
use crate::mail::{self, MailSignal};
use crate::state::AppState;

pub struct App {
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
    worker: tokio::task::JoinHandle<()>,
}

/// How long in-flight requests get to finish after a shutdown signal.
const DRAIN: Duration = Duration::from_secs(30);

impl App {
    /// Connects, migrates, binds (`GATEHOUSE_ADDR`; port 0 picks a free port) and starts the
    /// mail worker. Errors are one line for the operator.
    pub async fn build(config: Config) -> Result<App, String> {
        let db_label = crate::config::redact_url(&config.database_url);
        Db::migrate(&config.database_url).await.map_err(|e| format!("cannot migrate {db_label}: {e}"))?;
        let db = Db::connect(&config.database_url, config.db_max_connections)
            .await
            .map_err(|e| format!("cannot connect to {db_label}: {e}"))?;
        let listener =
            TcpListener::bind(config.addr).await.map_err(|e| format!("cannot listen on {}: {e}", config.addr))?;
        let shutdown = CancellationToken::new();
        let signal = MailSignal::default();
        let worker = mail::worker::spawn(db.clone(), &config, signal.clone(), shutdown.clone())?;
        let hasher = Hasher::new(config.hash_concurrency);
        let schema = crate::graphql::build_schema(config.graphql_introspection);
        let limiter = crate::ratelimit::Limiter::from_config(&config, &db);
        limiter.spawn_cleanup(shutdown.clone());
        let credentials =
            crate::auth::cache::CredentialCache::new(config.credential_cache, db.write_generation().clone());
        let state = AppState { db, config: Arc::new(config), hasher, mail: signal, schema, limiter, credentials };
        Ok(App { listener, state, shutdown, worker })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// A token that stops the server when cancelled (tests use it; `run` also stops on signals).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until SIGTERM/SIGINT or the shutdown token: stops accepting, lets in-flight
    /// requests finish (up to 30 s), stops the mail worker, closes the pool.
    pub async fn run(self) -> std::io::Result<()> {
        let App { listener, state, shutdown, worker } = self;
        let router = crate::http::router(state.clone());
        let token = shutdown.clone();
        let signal = async move {
            tokio::select! {
                _ = shutdown_signal() => {}
                _ = token.cancelled() => {}
            }
            tracing::info!("shutting down: finishing in-flight requests");
        };
        let serve = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(signal);
        let served = serve.into_future();
        tokio::pin!(served);
        let result = tokio::select! {
            r = &mut served => r,
            _ = async { shutdown.cancelled().await; tokio::time::sleep(DRAIN).await } => {
                tracing::warn!("in-flight requests did not finish within 30 s");
                Ok(())
            }
        };
        shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), worker).await;
        state.db.close().await;
        result
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
