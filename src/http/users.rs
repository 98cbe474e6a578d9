//! `/api/user/...`: the caller's account and organizations (API.md 5), and one organization
//! (API.md 6).

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use super::extract::{Auth, JsonBody, QueryMap, ResponseCookies};
use super::respond::{created, deleted, ok, page};
use crate::auth::clear_session_cookie;
use crate::domain::organizations::{self, CreateOrganization, UpdateOrganization};
use crate::domain::users::{self, DeleteMe, UpdateMe};
use crate::error::AppResult;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/user/me", get(me).put(update_me).delete(delete_me))
        .route("/api/user/me/export", get(export))
        .route("/api/user/me/login-history", get(login_history))
        .route("/api/user/organizations", get(list_orgs).post(create_org))
        .route("/api/user/organizations/{org}", get(get_org).put(update_org).delete(delete_org))
}

async fn me(State(state): State<AppState>, Auth(p): Auth) -> AppResult<Response> {
    Ok(ok("User fetched successfully", users::me(&state, &p).await?))
}

async fn update_me(
    State(state): State<AppState>,
    Auth(p): Auth,
    JsonBody(input): JsonBody<UpdateMe>,
) -> AppResult<Response> {
    Ok(ok("User updated successfully", users::update_me(&state, &p, input).await?))
}

async fn list_orgs(State(state): State<AppState>, Auth(p): Auth, query: QueryMap) -> AppResult<Response> {
    let params = query.page()?;
    Ok(page("Organizations fetched successfully", organizations::list(&state, &p, params).await?))
}

async fn create_org(
    State(state): State<AppState>,
    Auth(p): Auth,
    JsonBody(input): JsonBody<CreateOrganization>,
) -> AppResult<Response> {
    Ok(created("Organization created successfully", organizations::create(&state, &p, input).await?))
}

async fn get_org(State(state): State<AppState>, Auth(p): Auth, Path(org): Path<String>) -> AppResult<Response> {
    Ok(ok("Organization fetched successfully", organizations::get(&state, &p, &org).await?))
}

async fn update_org(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(org): Path<String>,
    JsonBody(input): JsonBody<UpdateOrganization>,
) -> AppResult<Response> {
    Ok(ok("Organization updated successfully", organizations::update(&state, &p, &org, input).await?))
}

async fn delete_me(
    State(state): State<AppState>,
    Auth(p): Auth,
    cookies: ResponseCookies,
    JsonBody(input): JsonBody<DeleteMe>,
) -> AppResult<Response> {
    let id = users::delete_me(&state, &p, input).await?;
    cookies.push(clear_session_cookie(&state.config));
    Ok(deleted("Account deleted", id))
}

async fn export(State(state): State<AppState>, Auth(p): Auth) -> AppResult<Response> {
    Ok(ok("Account exported", users::export(&state, &p).await?))
}

async fn login_history(State(state): State<AppState>, Auth(p): Auth, query: QueryMap) -> AppResult<Response> {
    let params = query.page()?;
    Ok(page("Login history fetched successfully", users::login_history(&state, &p, params).await?))
}

async fn delete_org(State(state): State<AppState>, Auth(p): Auth, Path(org): Path<String>) -> AppResult<Response> {
    Ok(deleted("Organization deleted", organizations::delete(&state, &p, &org).await?))
}
