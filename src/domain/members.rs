//! Organization members (API.md 6).

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;

use super::access::{self, Permission, Principal, Role, Tenant};
use super::{ts, windowed, Page, PageParams, Timestamp};
use crate::entities::{membership, user};
use crate::error::AppResult;
use crate::state::AppState;

/// A member of an organization. GraphQL adds `user: User` through a loader.
#[derive(Clone, Debug, Serialize, async_graphql::SimpleObject)]
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
    let tenant = access::tenant(&state.db.conn, principal, org_id, Permission::OrganizationRead).await?;
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

/// Member pages of many checked tenants at once (GraphQL `organizations { members }`): three
/// statements whatever the number of organizations.
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
        let base = membership::Entity::find().filter(membership::Column::OrganizationId.is_in(org_ids));
        let totals = super::counts_by(conn, base.clone(), membership::Column::OrganizationId).await?;
        let rows = windowed(conn, base, membership::Column::OrganizationId, page).await?;
        let mut grouped: HashMap<String, Vec<MemberView>> = HashMap::new();
        for v in views(conn, rows).await? {
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
#[derive(Clone, Debug, Serialize)]
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
    let tenant = access::tenant(&state.db.conn, principal, org_id, Permission::OrganizationRead).await?;
    Ok(MyMembership::of(&tenant))
}
