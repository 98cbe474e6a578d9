//! `{org}/projects` (API.md 7).

use axum::extract::State;
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Auth, JsonBody, Path, QueryMap};
use super::openapi::{Deleted, Envelope, ListEnvelope, ProjectQuery};
use super::respond::{created, deleted, ok, page};
use crate::domain::projects::{self, CreateProject, ProjectFilter, ProjectStatus, ProjectView, UpdateProject};
use crate::error::AppResult;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(get_one, update, delete))
}

#[utoipa::path(get, path = "/api/user/organizations/{org}/projects", tag = "projects", params(("org" = String, Path, description = "Organization id (ULID)"), ProjectQuery),
    responses((status = 200, description = "Projects fetched successfully", body = ListEnvelope<ProjectView>)))]
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

#[utoipa::path(post, path = "/api/user/organizations/{org}/projects", tag = "projects", params(("org" = String, Path, description = "Organization id (ULID)")), request_body = CreateProject,
    responses((status = 201, description = "Project created successfully", body = Envelope<ProjectView>)))]
async fn create(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(org): Path<String>,
    JsonBody(input): JsonBody<CreateProject>,
) -> AppResult<Response> {
    Ok(created("Project created successfully", projects::create(&state, &p, &org, input).await?))
}

#[utoipa::path(get, path = "/api/user/organizations/{org}/projects/{id}", tag = "projects", params(("org" = String, Path, description = "Organization id (ULID)"), ("id" = String, Path, description = "Project id (ULID)")),
    responses((status = 200, description = "One project", body = Envelope<ProjectView>)))]
async fn get_one(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path((org, id)): Path<(String, String)>,
) -> AppResult<Response> {
    Ok(ok("Project fetched successfully", projects::get(&state, &p, &org, &id).await?))
}

#[utoipa::path(put, path = "/api/user/organizations/{org}/projects/{id}", tag = "projects", params(("org" = String, Path, description = "Organization id (ULID)"), ("id" = String, Path, description = "Project id (ULID)")), request_body = UpdateProject,
    responses((status = 200, description = "The updated project", body = Envelope<ProjectView>)))]
async fn update(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path((org, id)): Path<(String, String)>,
    JsonBody(input): JsonBody<UpdateProject>,
) -> AppResult<Response> {
    Ok(ok("Project updated successfully", projects::update(&state, &p, &org, &id, input).await?))
}

#[utoipa::path(delete, path = "/api/user/organizations/{org}/projects/{id}", tag = "projects", params(("org" = String, Path, description = "Organization id (ULID)"), ("id" = String, Path, description = "Project id (ULID)")),
    responses((status = 200, description = "Project deleted", body = Envelope<Deleted>)))]
async fn delete(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path((org, id)): Path<(String, String)>,
) -> AppResult<Response> {
    Ok(deleted("Project deleted successfully", projects::delete(&state, &p, &org, &id).await?))
}
