//! `/api/auth/api-key/...` (API.md 4).

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use super::extract::{Auth, JsonBody, QueryMap};
use super::respond::{deleted, ok, page};
use crate::domain::api_keys::{self, CreateKey, DeleteKey, UpdateKey};
use crate::error::AppResult;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/auth/api-key/create", post(create))
        .route("/api/auth/api-key/list", get(list))
        .route("/api/auth/api-key/get", get(get_one))
        .route("/api/auth/api-key/update", post(update))
        .route("/api/auth/api-key/delete", post(delete))
}

async fn create(
    State(state): State<AppState>,
    Auth(p): Auth,
    JsonBody(input): JsonBody<CreateKey>,
) -> AppResult<Response> {
    Ok(ok("API key created", api_keys::create(&state, &p, input).await?))
}

async fn list(State(state): State<AppState>, Auth(p): Auth, query: QueryMap) -> AppResult<Response> {
    let params = query.page()?;
    Ok(page("API keys fetched successfully", api_keys::list(&state, &p, params).await?))
}

async fn get_one(State(state): State<AppState>, Auth(p): Auth, query: QueryMap) -> AppResult<Response> {
    let id = query.get("id").unwrap_or("");
    Ok(ok("API key fetched successfully", api_keys::get(&state, &p, id).await?))
}

async fn update(
    State(state): State<AppState>,
    Auth(p): Auth,
    JsonBody(input): JsonBody<UpdateKey>,
) -> AppResult<Response> {
    Ok(ok("API key updated", api_keys::update(&state, &p, input).await?))
}

async fn delete(
    State(state): State<AppState>,
    Auth(p): Auth,
    JsonBody(input): JsonBody<DeleteKey>,
) -> AppResult<Response> {
    Ok(deleted("API key deleted", api_keys::delete(&state, &p, input).await?))
}
