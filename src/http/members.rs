//! `{org}/members`, `{org}/my-membership`, `{org}/invites`, `{org}/audit-logs` (API.md 6) and
//! accepting invitations (API.md 5).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Auth, JsonBody, Path, QueryMap};
use super::openapi::{AuditQuery, Deleted, Envelope, ExportQuery, InviteQuery, ListEnvelope, PageQuery};
use super::respond::{created, deleted, ok, page};
use crate::domain::audit::{self, AuditEventView, AuditFilter};
use crate::domain::invitations::{self, CreateInvites, InviteOffer, InviteStatus, InviteView};
use crate::domain::members::{self, ChangeRole, MemberView, MyMembership};
use crate::error::{AppError, AppResult, FieldError};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_members))
        .routes(routes!(change_role))
        .routes(routes!(remove_member))
        .routes(routes!(my_membership))
        .routes(routes!(list_invites, create_invites))
        .routes(routes!(cancel_invite))
        .routes(routes!(resend_invite))
        .routes(routes!(audit_logs))
        .routes(routes!(audit_export))
        .routes(routes!(invite_offer))
        .routes(routes!(accept_invite))
}

#[utoipa::path(get, path = "/api/user/organizations/{org}/members", tag = "members", params(("org" = String, Path, description = "Organization id (ULID)"), PageQuery),
    responses((status = 200, description = "Members, newest first", body = ListEnvelope<MemberView>)))]
async fn list_members(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(org): Path<String>,
    query: QueryMap,
) -> AppResult<Response> {
    let params = query.page()?;
    Ok(page("Members fetched successfully", members::list(&state, &p, &org, params).await?))
}

#[utoipa::path(put, path = "/api/user/organizations/{org}/members/{member}/role", tag = "members", params(("org" = String, Path, description = "Organization id (ULID)"), ("member" = String, Path, description = "Membership id (ULID)")), request_body = ChangeRole,
    responses((status = 200, description = "Member role updated", body = Envelope<MemberView>)))]
async fn change_role(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path((org, member)): Path<(String, String)>,
    JsonBody(input): JsonBody<ChangeRole>,
) -> AppResult<Response> {
    Ok(ok("Member role updated", members::change_role(&state, &p, &org, &member, input).await?))
}

#[utoipa::path(delete, path = "/api/user/organizations/{org}/members/{member}", tag = "members", params(("org" = String, Path, description = "Organization id (ULID)"), ("member" = String, Path, description = "Membership id (ULID)")),
    responses((status = 200, description = "Member removed (or left)", body = Envelope<Deleted>)))]
async fn remove_member(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path((org, member)): Path<(String, String)>,
) -> AppResult<Response> {
    Ok(deleted("Member removed", members::remove(&state, &p, &org, &member).await?))
}

#[utoipa::path(get, path = "/api/user/organizations/{org}/my-membership", tag = "members", params(("org" = String, Path, description = "Organization id (ULID)")),
    responses((status = 200, description = "The caller's membership", body = Envelope<MyMembership>)))]
async fn my_membership(State(state): State<AppState>, Auth(p): Auth, Path(org): Path<String>) -> AppResult<Response> {
    Ok(ok("Membership fetched successfully", members::my_membership(&state, &p, &org).await?))
}

#[utoipa::path(get, path = "/api/user/organizations/{org}/invites", tag = "invitations", params(("org" = String, Path, description = "Organization id (ULID)"), InviteQuery),
    responses((status = 200, description = "Invitations, newest first", body = ListEnvelope<InviteView>)))]
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

#[utoipa::path(post, path = "/api/user/organizations/{org}/invites", tag = "invitations", params(("org" = String, Path, description = "Organization id (ULID)")), request_body = CreateInvites,
    responses((status = 201, description = "Invitations sent, one email each", body = Envelope<Vec<InviteView>>)))]
async fn create_invites(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(org): Path<String>,
    JsonBody(input): JsonBody<CreateInvites>,
) -> AppResult<Response> {
    Ok(created("Invitations sent", invitations::create(&state, &p, &org, input).await?))
}

#[utoipa::path(delete, path = "/api/user/organizations/{org}/invites/{invite}", tag = "invitations", params(("org" = String, Path, description = "Organization id (ULID)"), ("invite" = String, Path, description = "Invitation id (ULID)")),
    responses((status = 200, description = "Invitation canceled", body = Envelope<InviteView>)))]
async fn cancel_invite(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path((org, invite)): Path<(String, String)>,
) -> AppResult<Response> {
    Ok(ok("Invitation canceled", invitations::cancel(&state, &p, &org, &invite).await?))
}

#[utoipa::path(post, path = "/api/user/organizations/{org}/invites/{invite}/resend", tag = "invitations", params(("org" = String, Path, description = "Organization id (ULID)"), ("invite" = String, Path, description = "Invitation id (ULID)")),
    responses((status = 200, description = "Invitation sent again with a new link", body = Envelope<InviteView>)))]
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

#[utoipa::path(get, path = "/api/user/organizations/{org}/audit-logs", tag = "audit", params(("org" = String, Path, description = "Organization id (ULID)"), AuditQuery),
    responses((status = 200, description = "Audit events, newest first", body = ListEnvelope<AuditEventView>)))]
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

#[utoipa::path(get, path = "/api/user/organizations/{org}/audit-logs/export", tag = "audit", params(("org" = String, Path, description = "Organization id (ULID)"), ExportQuery),
    responses((status = 200, description = "Every matching event: the JSON envelope, or a CSV download with `format=csv`",
        content((Envelope<Vec<AuditEventView>> = "application/json"), (String = "text/csv")))))]
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

#[utoipa::path(get, path = "/api/user/invites/{token}", tag = "invitations", params(("token" = String, Path, description = "The token from the invitation link")),
    responses((status = 200, description = "What the invitation offers (only to the invited address)", body = Envelope<InviteOffer>)))]
async fn invite_offer(State(state): State<AppState>, Auth(p): Auth, Path(token): Path<String>) -> AppResult<Response> {
    Ok(ok("Invitation fetched successfully", invitations::offer(&state, &p, &token).await?))
}

#[utoipa::path(post, path = "/api/user/invites/{token}/accept", tag = "invitations", params(("token" = String, Path, description = "The token from the invitation link")),
    responses((status = 200, description = "Invitation accepted: the new membership", body = Envelope<MemberView>)))]
async fn accept_invite(State(state): State<AppState>, Auth(p): Auth, Path(token): Path<String>) -> AppResult<Response> {
    Ok(ok("Invitation accepted", invitations::accept(&state, &p, &token).await?))
}
