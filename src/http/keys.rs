//! `/api/auth/api-key/...` (API.md 4).

use axum::extract::State;
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Auth, JsonBody, QueryMap};
use super::openapi::{Deleted, Envelope, IdQuery, ListEnvelope, PageQuery};
use super::respond::{deleted, ok, page};
use crate::domain::api_keys::{self, ApiKeyView, CreateKey, CreatedKey, DeleteKey, UpdateKey};
use crate::error::AppResult;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(list))
        .routes(routes!(get_one))
        .routes(routes!(update))
        .routes(routes!(delete))
}

#[utoipa::path(post, path = "/api/auth/api-key/create", tag = "api-keys", request_body = CreateKey,
    responses((status = 200, description = "API key created; `key` is shown this once", body = Envelope<CreatedKey>)))]
async fn create(
    State(state): State<AppState>,
    Auth(p): Auth,
    JsonBody(input): JsonBody<CreateKey>,
) -> AppResult<Response> {
    Ok(ok("API key created", api_keys::create(&state, &p, input).await?))
}

#[utoipa::path(get, path = "/api/auth/api-key/list", tag = "api-keys", params(PageQuery),
    responses((status = 200, description = "The caller's keys", body = ListEnvelope<ApiKeyView>)))]
async fn list(State(state): State<AppState>, Auth(p): Auth, query: QueryMap) -> AppResult<Response> {
    let params = query.page()?;
    Ok(page("API keys fetched successfully", api_keys::list(&state, &p, params).await?))
}

#[utoipa::path(get, path = "/api/auth/api-key/get", tag = "api-keys", params(IdQuery),
    responses((status = 200, description = "One key", body = Envelope<ApiKeyView>)))]
async fn get_one(State(state): State<AppState>, Auth(p): Auth, query: QueryMap) -> AppResult<Response> {
    let id = query.get("id").unwrap_or("");
    Ok(ok("API key fetched successfully", api_keys::get(&state, &p, id).await?))
}

#[utoipa::path(post, path = "/api/auth/api-key/update", tag = "api-keys", request_body = UpdateKey,
    responses((status = 200, description = "The updated key", body = Envelope<ApiKeyView>)))]
async fn update(
    State(state): State<AppState>,
    Auth(p): Auth,
    JsonBody(input): JsonBody<UpdateKey>,
) -> AppResult<Response> {
    Ok(ok("API key updated", api_keys::update(&state, &p, input).await?))
}

#[utoipa::path(post, path = "/api/auth/api-key/delete", tag = "api-keys", request_body = DeleteKey,
    responses((status = 200, description = "Deleted; the key stops working at once", body = Envelope<Deleted>)))]
async fn delete(
    State(state): State<AppState>,
    Auth(p): Auth,
    JsonBody(input): JsonBody<DeleteKey>,
) -> AppResult<Response> {
    Ok(deleted("API key deleted", api_keys::delete(&state, &p, input).await?))
}
