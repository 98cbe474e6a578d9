//! `GET /healthz` (the process is up) and `GET /readyz` (the database answers).

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::json;

use super::respond::ok;
use crate::error::{AppError, AppResult, Code};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz))
}

async fn healthz() -> Response {
    ok("OK", json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> AppResult<Response> {
    if state.db.ping().await {
        Ok(ok("Ready", json!({ "status": "ready", "database": "ok" })))
    } else {
        Err(AppError::new(Code::ServiceUnavailable, "The database is unreachable"))
    }
}
