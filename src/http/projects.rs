//! `{org}/projects` (API.md 7).

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use super::extract::{Auth, JsonBody, QueryMap};
use super::respond::{created, deleted, ok, page};
use crate::domain::projects::{self, CreateProject, ProjectFilter, ProjectStatus, UpdateProject};
use crate::error::AppResult;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/user/organizations/{org}/projects", get(list).post(create))
        .route("/api/user/organizations/{org}/projects/{id}", get(get_one).put(update).delete(delete))
}

async fn list(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(org): Path<String>,
    query: QueryMap,
) -> AppResult<Response> {
    let mut errors = Vec::new();
    let status = query.choice("status", ProjectStatus::parse, "Must be draft, active or paused", &mut errors);
    let params = query.page_with(errors)?;
    let filter = ProjectFilter { q: query.get("q").map(str::to_string), status };
    Ok(page("Projects fetched successfully", projects::list(&state, &p, &org, filter, params).await?))
}

async fn create(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(org): Path<String>,
    JsonBody(input): JsonBody<CreateProject>,
) -> AppResult<Response> {
    Ok(created("Project created successfully", projects::create(&state, &p, &org, input).await?))
}

async fn get_one(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path((org, id)): Path<(String, String)>,
) -> AppResult<Response> {
    Ok(ok("Project fetched successfully", projects::get(&state, &p, &org, &id).await?))
}

async fn update(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path((org, id)): Path<(String, String)>,
    JsonBody(input): JsonBody<UpdateProject>,
) -> AppResult<Response> {
    Ok(ok("Project updated successfully", projects::update(&state, &p, &org, &id, input).await?))
}

async fn delete(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path((org, id)): Path<(String, String)>,
) -> AppResult<Response> {
    Ok(deleted("Project deleted successfully", projects::delete(&state, &p, &org, &id).await?))
}
