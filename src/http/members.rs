//! `{org}/members`, `{org}/my-membership`, `{org}/invites`, `{org}/audit-logs` (API.md 6) and
//! accepting invitations (API.md 5).

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::Router;

use super::extract::{Auth, JsonBody, QueryMap};
use super::respond::{created, deleted, ok, page};
use crate::domain::audit::{self, AuditFilter};
use crate::domain::invitations::{self, CreateInvites, InviteStatus};
use crate::domain::members::{self, ChangeRole};
use crate::error::{AppError, AppResult, FieldError};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    let org = "/api/user/organizations/{org}";
    Router::new()
        .route(&format!("{org}/members"), get(list_members))
        .route(&format!("{org}/members/{{member}}/role"), put(change_role))
        .route(&format!("{org}/members/{{member}}"), delete(remove_member))
        .route(&format!("{org}/my-membership"), get(my_membership))
        .route(&format!("{org}/invites"), get(list_invites).post(create_invites))
        .route(&format!("{org}/invites/{{invite}}"), delete(cancel_invite))
        .route(&format!("{org}/invites/{{invite}}/resend"), post(resend_invite))
        .route(&format!("{org}/audit-logs"), get(audit_logs))
        .route(&format!("{org}/audit-logs/export"), get(audit_export))
        .route("/api/user/invites/{token}", get(invite_offer))
        .route("/api/user/invites/{token}/accept", post(accept_invite))
}

async fn list_members(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(org): Path<String>,
    query: QueryMap,
) -> AppResult<Response> {
    let params = query.page()?;
    Ok(page("Members fetched successfully", members::list(&state, &p, &org, params).await?))
}

async fn change_role(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path((org, member)): Path<(String, String)>,
    JsonBody(input): JsonBody<ChangeRole>,
) -> AppResult<Response> {
    Ok(ok("Member role updated", members::change_role(&state, &p, &org, &member, input).await?))
}

async fn remove_member(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path((org, member)): Path<(String, String)>,
) -> AppResult<Response> {
    Ok(deleted("Member removed", members::remove(&state, &p, &org, &member).await?))
}

async fn my_membership(State(state): State<AppState>, Auth(p): Auth, Path(org): Path<String>) -> AppResult<Response> {
    Ok(ok("Membership fetched successfully", members::my_membership(&state, &p, &org).await?))
}

async fn list_invites(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(org): Path<String>,
    query: QueryMap,
) -> AppResult<Response> {
    let mut errors = Vec::new();
    let status =
        query.choice("status", InviteStatus::parse, "Must be pending, accepted, canceled or expired", &mut errors);
    let params = query.page_with(errors)?;
    Ok(page("Invitations fetched successfully", invitations::list(&state, &p, &org, status, params).await?))
}

async fn create_invites(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(org): Path<String>,
    JsonBody(input): JsonBody<CreateInvites>,
) -> AppResult<Response> {
    Ok(created("Invitations sent", invitations::create(&state, &p, &org, input).await?))
}

async fn cancel_invite(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path((org, invite)): Path<(String, String)>,
) -> AppResult<Response> {
    Ok(ok("Invitation canceled", invitations::cancel(&state, &p, &org, &invite).await?))
}

async fn resend_invite(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path((org, invite)): Path<(String, String)>,
) -> AppResult<Response> {
    Ok(ok("Invitation sent again", invitations::resend(&state, &p, &org, &invite).await?))
}

fn audit_filter(query: &QueryMap) -> Result<AuditFilter, Vec<FieldError>> {
    AuditFilter::parse(query.get("action"), query.get("since"), query.get("until"))
}

async fn audit_logs(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(org): Path<String>,
    query: QueryMap,
) -> AppResult<Response> {
    let (filter, errors) = match audit_filter(&query) {
        Ok(f) => (f, Vec::new()),
        Err(e) => (AuditFilter::default(), e),
    };
    let params = query.page_with(errors)?;
    Ok(page("Audit events fetched successfully", audit::list(&state, &p, &org, filter, params).await?))
}

async fn audit_export(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(org): Path<String>,
    query: QueryMap,
) -> AppResult<Response> {
    let filter = audit_filter(&query).map_err(AppError::validation)?;
    let csv = match query.get("format").unwrap_or("json") {
        "json" => false,
        "csv" => true,
        _ => return Err(AppError::validation(vec![FieldError::query("format", "Must be json or csv")])),
    };
    let events = audit::export(&state, &p, &org, filter).await?;
    if !csv {
        return Ok(ok("Audit events exported", events));
    }
    let disposition = format!("attachment; filename=\"audit-{org}.csv\"");
    Ok((
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, disposition)],
        audit::to_csv(&events),
    )
        .into_response())
}

async fn invite_offer(State(state): State<AppState>, Auth(p): Auth, Path(token): Path<String>) -> AppResult<Response> {
    Ok(ok("Invitation fetched successfully", invitations::offer(&state, &p, &token).await?))
}

async fn accept_invite(State(state): State<AppState>, Auth(p): Auth, Path(token): Path<String>) -> AppResult<Response> {
    Ok(ok("Invitation accepted", invitations::accept(&state, &p, &token).await?))
}
