//! `/api/user/...`: the caller's account and organizations (API.md 5), and one organization
//! (API.md 6).

use axum::extract::State;
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Auth, JsonBody, Path, QueryMap, ResponseCookies};
use super::openapi::{Deleted, Envelope, ListEnvelope, PageQuery};
use super::respond::{created, deleted, ok, page};
use crate::auth::clear_session_cookie;
use crate::domain::organizations::{self, CreateOrganization, OrganizationView, UpdateOrganization};
use crate::domain::users::{self, AccountExport, DeleteMe, LoginEventView, UpdateMe, UserView};
use crate::error::AppResult;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me, update_me, delete_me))
        .routes(routes!(export))
        .routes(routes!(login_history))
        .routes(routes!(list_orgs, create_org))
        .routes(routes!(get_org, update_org, delete_org))
}

#[utoipa::path(get, path = "/api/user/me", tag = "account",
    responses((status = 200, description = "User fetched successfully", body = Envelope<UserView>)))]
async fn me(State(state): State<AppState>, Auth(p): Auth) -> AppResult<Response> {
    Ok(ok("User fetched successfully", users::me(&state, &p).await?))
}

#[utoipa::path(put, path = "/api/user/me", tag = "account", request_body = UpdateMe,
    responses((status = 200, description = "The updated user", body = Envelope<UserView>)))]
async fn update_me(
    State(state): State<AppState>,
    Auth(p): Auth,
    JsonBody(input): JsonBody<UpdateMe>,
) -> AppResult<Response> {
    Ok(ok("User updated successfully", users::update_me(&state, &p, input).await?))
}

#[utoipa::path(get, path = "/api/user/organizations", tag = "organizations", params(PageQuery),
    responses((status = 200, description = "The caller's organizations with their role", body = ListEnvelope<OrganizationView>)))]
async fn list_orgs(State(state): State<AppState>, Auth(p): Auth, query: QueryMap) -> AppResult<Response> {
    let params = query.page()?;
    Ok(page("Organizations fetched successfully", organizations::list(&state, &p, params).await?))
}

#[utoipa::path(post, path = "/api/user/organizations", tag = "organizations", request_body = CreateOrganization,
    responses((status = 201, description = "Organization created; the caller is owner", body = Envelope<OrganizationView>)))]
async fn create_org(
    State(state): State<AppState>,
    Auth(p): Auth,
    JsonBody(input): JsonBody<CreateOrganization>,
) -> AppResult<Response> {
    Ok(created("Organization created successfully", organizations::create(&state, &p, input).await?))
}

#[utoipa::path(get, path = "/api/user/organizations/{org}", tag = "organizations", params(("org" = String, Path, description = "Organization id (ULID)")),
    responses((status = 200, description = "One organization", body = Envelope<OrganizationView>)))]
async fn get_org(State(state): State<AppState>, Auth(p): Auth, Path(org): Path<String>) -> AppResult<Response> {
    Ok(ok("Organization fetched successfully", organizations::get(&state, &p, &org).await?))
}

#[utoipa::path(put, path = "/api/user/organizations/{org}", tag = "organizations", params(("org" = String, Path, description = "Organization id (ULID)")), request_body = UpdateOrganization,
    responses((status = 200, description = "The updated organization", body = Envelope<OrganizationView>)))]
async fn update_org(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(org): Path<String>,
    JsonBody(input): JsonBody<UpdateOrganization>,
) -> AppResult<Response> {
    Ok(ok("Organization updated successfully", organizations::update(&state, &p, &org, input).await?))
}

#[utoipa::path(delete, path = "/api/user/me", tag = "account", security(("session" = [])), request_body = DeleteMe,
    responses((status = 200, description = "Account deleted", body = Envelope<Deleted>)))]
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

#[utoipa::path(get, path = "/api/user/me/export", tag = "account",
    responses((status = 200, description = "Everything held about the caller, without secrets", body = Envelope<AccountExport>)))]
async fn export(State(state): State<AppState>, Auth(p): Auth) -> AppResult<Response> {
    Ok(ok("Account exported", users::export(&state, &p).await?))
}

#[utoipa::path(get, path = "/api/user/me/login-history", tag = "account", params(PageQuery),
    responses((status = 200, description = "Sign-in attempts, newest first", body = ListEnvelope<LoginEventView>)))]
async fn login_history(State(state): State<AppState>, Auth(p): Auth, query: QueryMap) -> AppResult<Response> {
    let params = query.page()?;
    Ok(page("Login history fetched successfully", users::login_history(&state, &p, params).await?))
}

#[utoipa::path(delete, path = "/api/user/organizations/{org}", tag = "organizations", params(("org" = String, Path, description = "Organization id (ULID)")), security(("session" = [])),
    responses((status = 200, description = "Organization deleted", body = Envelope<Deleted>)))]
async fn delete_org(State(state): State<AppState>, Auth(p): Auth, Path(org): Path<String>) -> AppResult<Response> {
    Ok(deleted("Organization deleted", organizations::delete(&state, &p, &org).await?))
}
