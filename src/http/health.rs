//! `GET /healthz` (the process is up) and `GET /readyz` (the database answers).

use axum::extract::State;
use axum::response::Response;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::{Anything, Envelope};
use super::respond::ok;
use crate::error::{AppError, AppResult, Code};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(healthz)).routes(routes!(readyz))
}

#[utoipa::path(get, path = "/healthz", tag = "health", security(()),
    responses((status = 200, description = "The process is up", body = Envelope<Anything>)))]
async fn healthz() -> Response {
    ok("OK", json!({ "status": "ok" }))
}

#[utoipa::path(get, path = "/readyz", tag = "health", security(()),
    responses((status = 200, description = "The database answers", body = Envelope<Anything>)))]
async fn readyz(State(state): State<AppState>) -> AppResult<Response> {
    if state.db.ping().await {
        Ok(ok("Ready", json!({ "status": "ready", "database": "ok" })))
    } else {
        Err(AppError::new(Code::ServiceUnavailable, "The database is unreachable"))
    }
}
