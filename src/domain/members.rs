//! Organization members (API.md 6).

use std::collections::HashMap;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use validator::Validate;

use super::access::{self, Permission, Principal, Role, Tenant};
use super::audit::{self, Target};
use super::{now, ts, windowed, Page, PageParams, Timestamp};
use crate::entities::{membership, user};
use crate::error::{AppError, AppResult, Code, FieldError};
use crate::state::AppState;

/// A member of an organization. GraphQL adds `user: User` through a loader.
#[derive(Clone, Debug, Serialize, async_graphql::SimpleObject, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "Membership", complex)]
pub struct MemberView {
    pub id: String,
    pub user_id: String,
    pub email: String,
    pub full_name: String,
    pub role: Role,
    pub joined_at: Timestamp,
    #[serde(skip)]
    #[graphql(skip)]
    pub organization_id: String,
}

async fn views(conn: &impl ConnectionTrait, rows: Vec<membership::Model>) -> AppResult<Vec<MemberView>> {
    let ids: Vec<String> = rows.iter().map(|m| m.user_id.clone()).collect();
    let users: HashMap<String, user::Model> = if ids.is_empty() {
        HashMap::new()
    } else {
        user::Entity::find()
            .filter(user::Column::Id.is_in(ids))
            .all(conn)
            .await?
            .into_iter()
            .map(|u| (u.id.clone(), u))
            .collect()
    };
    let mut out = Vec::with_capacity(rows.len());
    for m in rows {
        let Some(u) = users.get(&m.user_id) else { continue };
        out.push(MemberView {
            role: Role::parse(&m.role).unwrap_or(Role::Member),
            id: m.id,
            user_id: m.user_id,
            email: u.email.clone(),
            full_name: u.full_name.clone(),
            joined_at: ts(m.created_at),
            organization_id: m.organization_id,
        });
    }
    Ok(out)
}

fn of_org(org_id: &str) -> sea_orm::Select<membership::Entity> {
    membership::Entity::find().filter(membership::Column::OrganizationId.eq(org_id))
}

/// `GET {org}/members`.
pub async fn list(
    state: &AppState,
    principal: &Principal,
    org_id: &str,
    page: PageParams,
) -> AppResult<Page<MemberView>> {
    let tenant = access::tenant_for_read(&state.db.conn, principal, org_id, Permission::OrganizationRead).await?;
    let conn = &state.db.conn;
    let total = of_org(tenant.org_id()).count(conn).await?;
    let rows = of_org(tenant.org_id())
        .order_by_desc(membership::Column::CreatedAt)
        .order_by_desc(membership::Column::Id)
        .offset(page.offset)
        .limit(page.limit)
        .all(conn)
        .await?;
    Ok(Page::new(views(conn, rows).await?, total, page))
}

/// Member pages of many checked tenants at once (GraphQL `organizations { members }`): two
/// statements (the pages, their users) whatever the number of organizations.
pub async fn list_many(
    conn: &impl ConnectionTrait,
    keys: &[(Tenant, PageParams)],
) -> AppResult<HashMap<(Tenant, PageParams), Page<MemberView>>> {
    let mut out = HashMap::new();
    let mut by_page: HashMap<PageParams, Vec<&Tenant>> = HashMap::new();
    for (t, p) in keys {
        by_page.entry(*p).or_default().push(t);
    }
    for (page, tenants) in by_page {
        let org_ids: Vec<String> = tenants.iter().map(|t| t.org_id().to_string()).collect();
        let base = membership::Entity::find().filter(membership::Column::OrganizationId.is_in(org_ids.clone()));
        let (rows, totals) = windowed(conn, base, membership::Column::OrganizationId, &org_ids, page).await?;
        let mut grouped: HashMap<String, Vec<MemberView>> = HashMap::new();
        for v in views(conn, rows.into_iter().map(|(m, _)| m).collect()).await? {
            grouped.entry(v.organization_id.clone()).or_default().push(v);
        }
        for t in tenants {
            let items = grouped.remove(t.org_id()).unwrap_or_default();
            let total = totals.get(t.org_id()).copied().unwrap_or(0);
            out.insert((t.clone(), page), Page::new(items, total, page));
        }
    }
    Ok(out)
}

/// The caller's own membership: `{ id, role, permissions, joinedAt }`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MyMembership {
    pub id: String,
    pub role: Role,
    pub permissions: Vec<&'static str>,
    pub joined_at: Timestamp,
}

impl MyMembership {
    pub fn of(tenant: &Tenant) -> Self {
        MyMembership {
            id: tenant.membership_id().to_string(),
            role: tenant.role(),
            permissions: tenant.role().permissions().iter().map(|p| p.as_str()).collect(),
            joined_at: ts(tenant.joined_at()),
        }
    }
}

/// `GET {org}/my-membership`.
pub async fn my_membership(state: &AppState, principal: &Principal, org_id: &str) -> AppResult<MyMembership> {
    let tenant = access::tenant_for_read(&state.db.conn, principal, org_id, Permission::OrganizationRead).await?;
    Ok(MyMembership::of(&tenant))
}

/// Finds a membership of the tenant's organization: `NOT_FOUND` when it exists nowhere,
/// `TENANT_VIOLATION` when it belongs to another organization.
async fn find_in(conn: &impl ConnectionTrait, tenant: &Tenant, id: &str) -> AppResult<membership::Model> {
    if !crate::auth::tokens::is_ulid(id) {
        return Err(AppError::not_found("Member"));
    }
    let m =
        membership::Entity::find_by_id(id.to_string()).one(conn).await?.ok_or_else(|| AppError::not_found("Member"))?;
    if m.organization_id != tenant.org_id() {
        return Err(AppError::new(Code::TenantViolation, "This member belongs to another organization"));
    }
    Ok(m)
}

async fn owner_count(conn: &impl ConnectionTrait, org_id: &str) -> AppResult<u64> {
    Ok(of_org(org_id).filter(membership::Column::Role.eq(Role::Owner.as_str())).count(conn).await?)
}

#[derive(Clone, Debug, Default, Deserialize, Validate, utoipa::ToSchema)]
pub struct ChangeRole {
    pub role: Option<Role>,
}

/// `PUT {org}/members/{memberId}/role`: `organization:manage-members`; only an owner grants or
/// takes away `owner`; the last owner cannot be demoted.
pub async fn change_role(
    state: &AppState,
    principal: &Principal,
    org_id: &str,
    member_id: &str,
    input: ChangeRole,
) -> AppResult<MemberView> {
    let Some(role) = input.role else {
        return Err(AppError::validation(vec![FieldError::body("role", "Required: owner, admin or member")]));
    };
    let txn = state.db.begin().await?;
    let tenant = access::tenant(&txn, principal, org_id, Permission::ManageMembers).await?;
    access::lock_organizations(&txn, &[tenant.org_id().to_string()]).await?;
    let m = find_in(&txn, &tenant, member_id).await?;
    let current = Role::parse(&m.role).unwrap_or(Role::Member);
    if (current == Role::Owner || role == Role::Owner) && tenant.role() != Role::Owner {
        return Err(AppError::new(Code::InsufficientPermissions, "Only an owner can grant or remove the owner role"));
    }
    if current == Role::Owner && role != Role::Owner && owner_count(&txn, tenant.org_id()).await? <= 1 {
        return Err(AppError::conflict("The last owner cannot be demoted; make someone else owner first"));
    }
    let mut am = m.into_active_model();
    am.role = Set(role.as_str().to_string());
    am.updated_at = Set(now());
    let m = am.update(&txn).await?;
    let meta = json!({ "userId": m.user_id, "from": current.as_str(), "to": role.as_str() });
    audit::record(&txn, tenant.org_id(), principal, "member.role_changed", Target("member", &m.id), meta).await?;
    let view = views(&txn, vec![m]).await?.pop().ok_or_else(|| AppError::not_found("Member"))?;
    txn.commit().await?;
    if role != current {
        // Other instances may hold the member's old standing with a cached credential.
        state.credentials.revoked().await;
    }
    Ok(view)
}

/// `DELETE {org}/members/{memberId}`: by `organization:manage-members` (an admin cannot remove
/// an owner), or by the member themselves (leaving). The last owner can neither leave nor be
/// removed. Returns the membership id.
pub async fn remove(state: &AppState, principal: &Principal, org_id: &str, member_id: &str) -> AppResult<String> {
    let txn = state.db.begin().await?;
    let tenant = access::tenant(&txn, principal, org_id, Permission::OrganizationRead).await?;
    access::lock_organizations(&txn, &[tenant.org_id().to_string()]).await?;
    let m = match find_in(&txn, &tenant, member_id).await {
        Err(e) if e.code == Code::NotFound => {
            // A retried removal may find the row gone while the first attempt still waits (below),
            // and must not answer before the first one could.
            drop(txn);
            state.credentials.revoked().await;
            return Err(e);
        }
        found => found?,
    };
    let leaving = m.user_id == principal.user_id();
    if !leaving {
        tenant.require(Permission::ManageMembers)?;
        if m.role == Role::Owner.as_str() && tenant.role() != Role::Owner {
            return Err(AppError::new(Code::InsufficientPermissions, "Only an owner can remove an owner"));
        }
    }
    if m.role == Role::Owner.as_str() && owner_count(&txn, tenant.org_id()).await? <= 1 {
        return Err(AppError::conflict("The last owner cannot leave or be removed; make someone else owner first"));
    }
    membership::Entity::delete_by_id(m.id.clone()).exec(&txn).await?;
    let action = if leaving { "member.left" } else { "member.removed" };
    audit::record(
        &txn,
        tenant.org_id(),
        principal,
        action,
        Target("member", &m.id),
        json!({ "userId": m.user_id, "role": m.role }),
    )
    .await?;
    txn.commit().await?;
    state.credentials.revoked().await; // the member's standing, cached with a credential elsewhere
    Ok(m.id)
}
