//! Invitations (API.md 5 and 6): one email each through the outbox, a single-use 7-day token
//! stored as its digest, accepted by the signed-in user whose email was invited.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::access::{self, Permission, Principal, Role, Scope, Tenant};
use super::audit::{self, Target};
use super::members::MemberView;
use super::{normalize_email, now, ts, windowed, Page, PageParams, Timestamp};
use crate::auth::tokens::{digest, is_ulid, new_id, new_opaque_token};
use crate::entities::{invitation, membership, organization, user};
use crate::error::{AppError, AppResult, Code};
use crate::mail::{self, templates};
use crate::state::AppState;

pub const INVITE_TTL: TimeDelta = TimeDelta::days(7);
pub const MAX_EMAILS: usize = 50;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, async_graphql::Enum, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InviteStatus {
    #[graphql(name = "PENDING")]
    Pending,
    #[graphql(name = "ACCEPTED")]
    Accepted,
    #[graphql(name = "CANCELED")]
    Canceled,
    #[graphql(name = "EXPIRED")]
    Expired,
}

impl InviteStatus {
    fn of(i: &invitation::Model, t: DateTime<Utc>) -> Self {
        match i.status.as_str() {
            "accepted" => InviteStatus::Accepted,
            "canceled" => InviteStatus::Canceled,
            _ if i.expires_at <= t => InviteStatus::Expired,
            _ => InviteStatus::Pending,
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(InviteStatus::Pending),
            "accepted" => Some(InviteStatus::Accepted),
            "canceled" => Some(InviteStatus::Canceled),
            "expired" => Some(InviteStatus::Expired),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, Serialize, async_graphql::SimpleObject, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "Invite")]
pub struct InviteView {
    pub id: String,
    pub organization_id: String,
    pub email: String,
    pub role: Role,
    pub status: InviteStatus,
    pub invited_by_user_id: Option<String>,
    pub expires_at: Timestamp,
    pub accepted_at: Option<Timestamp>,
    pub canceled_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl InviteView {
    fn new(i: invitation::Model, t: DateTime<Utc>) -> Self {
        InviteView {
            status: InviteStatus::of(&i, t),
            role: Role::parse(&i.role).unwrap_or(Role::Member),
            id: i.id,
            organization_id: i.organization_id,
            email: i.email,
            invited_by_user_id: i.invited_by_user_id,
            expires_at: ts(i.expires_at),
            accepted_at: i.accepted_at.map(ts),
            canceled_at: i.canceled_at.map(ts),
            created_at: ts(i.created_at),
        }
    }
}

/// Narrows a query to invitations of one shown status.
fn with_status(
    q: sea_orm::Select<invitation::Entity>,
    status: Option<InviteStatus>,
    t: DateTime<Utc>,
) -> sea_orm::Select<invitation::Entity> {
    match status {
        None => q,
        Some(InviteStatus::Accepted) => q.filter(invitation::Column::Status.eq("accepted")),
        Some(InviteStatus::Canceled) => q.filter(invitation::Column::Status.eq("canceled")),
        Some(InviteStatus::Pending) => {
            q.filter(invitation::Column::Status.eq("pending")).filter(invitation::Column::ExpiresAt.gt(t))
        }
        Some(InviteStatus::Expired) => {
            q.filter(invitation::Column::Status.eq("pending")).filter(invitation::Column::ExpiresAt.lte(t))
        }
    }
}

fn of_org(org_id: &str) -> sea_orm::Select<invitation::Entity> {
    invitation::Entity::find().filter(invitation::Column::OrganizationId.eq(org_id))
}

/// `GET {org}/invites`: `organization:manage-members`; optional `status` filter.
pub async fn list(
    state: &AppState,
    principal: &Principal,
    org_id: &str,
    status: Option<InviteStatus>,
    page: PageParams,
) -> AppResult<Page<InviteView>> {
    let conn = &state.db.conn;
    let tenant = access::tenant_for_read(conn, principal, org_id, Permission::ManageMembers).await?;
    let t = now();
    let total = with_status(of_org(tenant.org_id()), status, t).count(conn).await?;
    let rows = with_status(of_org(tenant.org_id()), status, t)
        .order_by_desc(invitation::Column::CreatedAt)
        .order_by_desc(invitation::Column::Id)
        .offset(page.offset)
        .limit(page.limit)
        .all(conn)
        .await?;
    Ok(Page::new(rows.into_iter().map(|i| InviteView::new(i, t)).collect(), total, page))
}

pub type InviteKey = (Tenant, PageParams);

/// Invitation pages of many tenants at once (GraphQL `organizations { invites }`); a tenant
/// whose role lacks `organization:manage-members` gets that error instead of a page.
pub async fn list_many(
    conn: &impl ConnectionTrait,
    keys: &[InviteKey],
) -> AppResult<HashMap<InviteKey, AppResult<Page<InviteView>>>> {
    let mut out = HashMap::new();
    let mut by_page: HashMap<PageParams, Vec<&Tenant>> = HashMap::new();
    for (t, p) in keys {
        match t.require(Permission::ManageMembers) {
            Ok(()) => by_page.entry(*p).or_default().push(t),
            Err(e) => {
                out.insert((t.clone(), *p), Err(e));
            }
        }
    }
    let t = now();
    for (page, tenants) in by_page {
        let org_ids: Vec<String> = tenants.iter().map(|t| t.org_id().to_string()).collect();
        let base = invitation::Entity::find().filter(invitation::Column::OrganizationId.is_in(org_ids.clone()));
        let (rows, totals) = windowed(conn, base, invitation::Column::OrganizationId, &org_ids, page).await?;
        let mut grouped: HashMap<String, Vec<InviteView>> = HashMap::new();
        for (i, _) in rows {
            grouped.entry(i.organization_id.clone()).or_default().push(InviteView::new(i, t));
        }
        for tenant in tenants {
            let items = grouped.remove(tenant.org_id()).unwrap_or_default();
            let total = totals.get(tenant.org_id()).copied().unwrap_or(0);
            out.insert((tenant.clone(), page), Ok(Page::new(items, total, page)));
        }
    }
    Ok(out)
}

#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct CreateInvites {
    #[serde(default)]
    pub emails: Vec<String>,
    pub role: Option<Role>,
}

/// Rules with per-address field names (`emails[3]`), which the derive cannot name.
impl validator::Validate for CreateInvites {
    fn validate(&self) -> Result<(), validator::ValidationErrors> {
        let mut errors = validator::ValidationErrors::new();
        let mut add = |field: String, message: &'static str| {
            errors.0.insert(field.into(), validator::ValidationErrorsKind::Field(vec![super::invalid(message)]));
        };
        if self.emails.is_empty() || self.emails.len() > MAX_EMAILS {
            add("emails".into(), "Give 1 to 50 email addresses");
        }
        for (i, e) in self.emails.iter().enumerate() {
            if super::accounts::check_email(e).is_err() {
                add(format!("emails[{i}]"), "Invalid email");
            }
        }
        if self.role.is_none() {
            add("role".into(), "Required: admin or member");
        }
        if errors.0.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// `POST {org}/invites`: one pending invitation and one email per address, in one transaction.
/// An address that already belongs is `ALREADY_MEMBER` for the whole request; a pending
/// invitation for the same address is replaced (its link dies).
pub async fn create(
    state: &AppState,
    principal: &Principal,
    org_id: &str,
    mut input: CreateInvites,
) -> AppResult<Vec<InviteView>> {
    input.emails.iter_mut().for_each(normalize_email);
    super::validate(&input)?;
    let role = input.role.unwrap_or(Role::Member);
    let mut emails: Vec<String> = Vec::new();
    for e in input.emails {
        if !emails.contains(&e) {
            emails.push(e);
        }
    }
    let conn = &state.db.conn;
    let tenant = access::tenant(conn, principal, org_id, Permission::ManageMembers).await?;
    if role == Role::Owner && tenant.role() != Role::Owner {
        return Err(AppError::new(Code::InsufficientPermissions, "Only an owner can invite owners"));
    }
    let org = organization::Entity::find_by_id(tenant.org_id().to_string())
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("Organization"))?;
    let t = now();
    let txn = state.db.begin().await?;
    let invited_users: HashMap<String, String> = user::Entity::find()
        .filter(user::Column::Email.is_in(emails.clone()))
        .all(&txn)
        .await?
        .into_iter()
        .map(|u| (u.id, u.email))
        .collect();
    let mut members: Vec<String> = membership::Entity::find()
        .filter(membership::Column::OrganizationId.eq(tenant.org_id()))
        .filter(membership::Column::UserId.is_in(invited_users.keys().cloned()))
        .all(&txn)
        .await?
        .into_iter()
        .filter_map(|m| invited_users.get(&m.user_id).cloned())
        .collect();
    members.sort();
    if !members.is_empty() {
        return Err(AppError::new(Code::AlreadyMember, format!("Already a member: {}", members.join(", ")))
            .with_meta(json!({ "emails": members })));
    }
    invitation::Entity::update_many()
        .col_expr(invitation::Column::Status, Expr::value("canceled"))
        .col_expr(invitation::Column::CanceledAt, Expr::value(Some(t)))
        .col_expr(invitation::Column::UpdatedAt, Expr::value(t))
        .filter(invitation::Column::OrganizationId.eq(tenant.org_id()))
        .filter(invitation::Column::Email.is_in(emails.clone()))
        .filter(invitation::Column::Status.eq("pending"))
        .exec(&txn)
        .await?;
    let mut out = Vec::with_capacity(emails.len());
    for email in emails {
        let token = new_opaque_token();
        let row = invitation::ActiveModel {
            id: Set(new_id()),
            organization_id: Set(tenant.org_id().to_string()),
            email: Set(email.clone()),
            role: Set(role.as_str().to_string()),
            token_hash: Set(digest(&token)),
            status: Set("pending".into()),
            invited_by_user_id: Set(Some(principal.user_id().to_string())),
            expires_at: Set(t + INVITE_TTL),
            accepted_at: Set(None),
            canceled_at: Set(None),
            created_at: Set(t),
            updated_at: Set(t),
        }
        .insert(&txn)
        .await?;
        mail::enqueue(
            &txn,
            templates::invitation(
                state.config.base(),
                &email,
                &principal.user.full_name,
                &org.name,
                role.as_str(),
                &token,
            ),
            t,
        )
        .await?;
        audit::record(
            &txn,
            tenant.org_id(),
            principal,
            "member.invited",
            Target("invitation", &row.id),
            json!({ "email": email, "role": role.as_str() }),
        )
        .await?;
        out.push(InviteView::new(row, t));
    }
    txn.commit().await?;
    state.mail.wake();
    Ok(out)
}

async fn find_in(conn: &impl ConnectionTrait, tenant: &Tenant, id: &str) -> AppResult<invitation::Model> {
    if !is_ulid(id) {
        return Err(AppError::not_found("Invitation"));
    }
    let i = invitation::Entity::find_by_id(id.to_string())
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("Invitation"))?;
    if i.organization_id != tenant.org_id() {
        return Err(AppError::new(Code::TenantViolation, "This invitation belongs to another organization"));
    }
    Ok(i)
}

/// `DELETE {org}/invites/{inviteId}`: cancels a pending invitation (its link dies).
pub async fn cancel(state: &AppState, principal: &Principal, org_id: &str, invite_id: &str) -> AppResult<InviteView> {
    let txn = state.db.begin().await?;
    let tenant = access::tenant(&txn, principal, org_id, Permission::ManageMembers).await?;
    let i = find_in(&txn, &tenant, invite_id).await?;
    if i.status != "pending" {
        return Err(AppError::conflict(format!("This invitation is {} already", i.status)));
    }
    let t = now();
    let mut am = i.into_active_model();
    am.status = Set("canceled".into());
    am.canceled_at = Set(Some(t));
    am.updated_at = Set(t);
    let i = am.update(&txn).await?;
    audit::record(
        &txn,
        tenant.org_id(),
        principal,
        "invitation.canceled",
        Target("invitation", &i.id),
        json!({ "email": i.email }),
    )
    .await?;
    txn.commit().await?;
    Ok(InviteView::new(i, t))
}

/// `POST {org}/invites/{inviteId}/resend`: a new token and email for a pending (or expired)
/// invitation; the old link dies; the seven days start again.
pub async fn resend(state: &AppState, principal: &Principal, org_id: &str, invite_id: &str) -> AppResult<InviteView> {
    let txn = state.db.begin().await?;
    let tenant = access::tenant(&txn, principal, org_id, Permission::ManageMembers).await?;
    let i = find_in(&txn, &tenant, invite_id).await?;
    if i.status != "pending" {
        return Err(AppError::conflict(format!("This invitation is {} already", i.status)));
    }
    let org = organization::Entity::find_by_id(tenant.org_id().to_string())
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::not_found("Organization"))?;
    let t = now();
    let token = new_opaque_token();
    let mut am = i.into_active_model();
    am.token_hash = Set(digest(&token));
    am.expires_at = Set(t + INVITE_TTL);
    am.updated_at = Set(t);
    let i = am.update(&txn).await?;
    mail::enqueue(
        &txn,
        templates::invitation(state.config.base(), &i.email, &principal.user.full_name, &org.name, &i.role, &token),
        t,
    )
    .await?;
    audit::record(
        &txn,
        tenant.org_id(),
        principal,
        "invitation.resent",
        Target("invitation", &i.id),
        json!({ "email": i.email }),
    )
    .await?;
    txn.commit().await?;
    state.mail.wake();
    Ok(InviteView::new(i, t))
}

/// A live invitation by its raw token (`INVALID_TOKEN` when unknown, used, canceled or expired).
async fn by_token(conn: &impl ConnectionTrait, token: &str, t: DateTime<Utc>) -> AppResult<invitation::Model> {
    let invalid = || AppError::new(Code::InvalidToken, "This invitation is invalid, used or expired");
    if token.is_empty() || token.len() > 256 {
        return Err(invalid());
    }
    let i = invitation::Entity::find()
        .filter(invitation::Column::TokenHash.eq(digest(token)))
        .one(conn)
        .await?
        .ok_or_else(invalid)?;
    if i.status != "pending" || i.expires_at <= t {
        return Err(invalid());
    }
    Ok(i)
}

/// The invited address must be the caller's (`FORBIDDEN` otherwise).
fn check_addressee(principal: &Principal, i: &invitation::Model) -> AppResult<()> {
    if principal.user.email != i.email {
        return Err(AppError::forbidden("This invitation was sent to another email address"));
    }
    Ok(())
}

#[derive(Clone, Debug, Serialize, async_graphql::SimpleObject, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "InvitedOrganization")]
pub struct InvitedOrganization {
    pub id: String,
    pub name: String,
}

/// What an invitation offers, for the invitation page.
#[derive(Clone, Debug, Serialize, async_graphql::SimpleObject, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "InvitationOffer")]
pub struct InviteOffer {
    pub organization: InvitedOrganization,
    pub role: Role,
    pub email: String,
    pub status: InviteStatus,
    pub expires_at: Timestamp,
}

/// `GET /api/user/invites/{token}`: what the invitation offers, only to the invited address.
pub async fn offer(state: &AppState, principal: &Principal, token: &str) -> AppResult<InviteOffer> {
    principal.require(&[Scope::UserRead])?;
    let conn = &state.db.conn;
    let i = by_token(conn, token, now()).await?;
    check_addressee(principal, &i)?;
    let org = organization::Entity::find_by_id(i.organization_id.clone())
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("Organization"))?;
    Ok(InviteOffer {
        organization: InvitedOrganization { id: org.id, name: org.name },
        role: Role::parse(&i.role).unwrap_or(Role::Member),
        status: InviteStatus::Pending,
        email: i.email,
        expires_at: ts(i.expires_at),
    })
}

/// `POST /api/user/invites/{token}/accept`: the membership, in one transaction with the
/// invitation's use (of two concurrent accepts exactly one succeeds).
pub async fn accept(state: &AppState, principal: &Principal, token: &str) -> AppResult<MemberView> {
    principal.require(&[Scope::UserWrite])?;
    let t = now();
    let txn = state.db.begin().await?;
    let i = by_token(&txn, token, t).await?;
    check_addressee(principal, &i)?;
    if let Some(pin) = &principal.pinned_org {
        if *pin != i.organization_id {
            return Err(AppError::forbidden("This API key is pinned to another organization"));
        }
    }
    let already = membership::Entity::find()
        .filter(membership::Column::OrganizationId.eq(i.organization_id.clone()))
        .filter(membership::Column::UserId.eq(principal.user_id()))
        .one(&txn)
        .await?;
    if already.is_some() {
        return Err(AppError::new(Code::AlreadyMember, "You are already a member of this organization"));
    }
    let used = invitation::Entity::update_many()
        .col_expr(invitation::Column::Status, Expr::value("accepted"))
        .col_expr(invitation::Column::AcceptedAt, Expr::value(Some(t)))
        .col_expr(invitation::Column::UpdatedAt, Expr::value(t))
        .filter(invitation::Column::Id.eq(i.id.clone()))
        .filter(invitation::Column::Status.eq("pending"))
        .exec(&txn)
        .await?;
    if used.rows_affected != 1 {
        return Err(AppError::new(Code::InvalidToken, "This invitation is invalid, used or expired"));
    }
    let m = membership::ActiveModel {
        id: Set(new_id()),
        organization_id: Set(i.organization_id.clone()),
        user_id: Set(principal.user_id().to_string()),
        role: Set(i.role.clone()),
        created_at: Set(t),
        updated_at: Set(t),
    }
    .insert(&txn)
    .await
    .map_err(|e| {
        crate::error::on_unique(e, || {
            AppError::new(Code::AlreadyMember, "You are already a member of this organization")
        })
    })?;
    audit::record(
        &txn,
        &i.organization_id,
        principal,
        "invitation.accepted",
        Target("invitation", &i.id),
        json!({ "email": i.email }),
    )
    .await?;
    audit::record(
        &txn,
        &i.organization_id,
        principal,
        "member.joined",
        Target("member", &m.id),
        json!({ "userId": m.user_id, "role": m.role }),
    )
    .await?;
    let view = MemberView {
        id: m.id.clone(),
        user_id: m.user_id.clone(),
        email: principal.user.email.clone(),
        full_name: principal.user.full_name.clone(),
        role: Role::parse(&m.role).unwrap_or(Role::Member),
        joined_at: ts(m.created_at),
        organization_id: m.organization_id,
    };
    txn.commit().await?;
    Ok(view)
}
