//! Organizations (API.md 5 and 6): the caller's list, creation, profile.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    Set,
};
use serde::{Deserialize, Serialize};
use validator::Validate;

use super::access::{self, Permission, Principal, Role, Scope, Tenant};
use super::audit::{self, Target};
use super::{is_slug, now, random_suffix, slugify, trim, ts, validate, Page, PageParams, Timestamp};
use crate::auth::tokens::new_id;
use crate::entities::{membership, organization};
use crate::error::{on_unique, AppError, AppResult};
use crate::state::AppState;
use serde_json::json;

#[derive(Clone, Debug, Serialize, async_graphql::SimpleObject, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "Organization", complex)]
pub struct OrganizationView {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub logo_url: Option<String>,
    pub member_count: u64,
    /// The caller's role in it.
    pub role: Role,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The caller's checked standing, for nested reads (GraphQL).
    #[serde(skip)]
    #[graphql(skip)]
    pub tenant: Tenant,
}

/// Member counts for many organizations in one statement.
pub async fn member_counts(conn: &impl ConnectionTrait, org_ids: &[String]) -> AppResult<HashMap<String, u64>> {
    if org_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let base = membership::Entity::find().filter(membership::Column::OrganizationId.is_in(org_ids.iter().cloned()));
    super::counts_by(conn, base, membership::Column::OrganizationId).await
}

async fn views(
    conn: &impl ConnectionTrait,
    rows: Vec<(organization::Model, Tenant)>,
) -> AppResult<Vec<OrganizationView>> {
    let ids: Vec<String> = rows.iter().map(|(o, _)| o.id.clone()).collect();
    let counts = member_counts(conn, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|(o, tenant)| {
            let members = counts.get(&o.id).copied().unwrap_or(0);
            view(o, tenant, members)
        })
        .collect())
}

fn view(o: organization::Model, tenant: Tenant, member_count: u64) -> OrganizationView {
    OrganizationView {
        member_count,
        role: tenant.role(),
        id: o.id,
        name: o.name,
        slug: o.slug,
        logo_url: o.logo_url,
        created_at: ts(o.created_at),
        updated_at: ts(o.updated_at),
        tenant,
    }
}

/// Errors of [`create_owned`]: a database error is kept as such so sign-up can tell a unique
/// violation (retry) from anything else.
pub enum CreateError {
    Db(DbErr),
    App(AppError),
}

impl From<DbErr> for CreateError {
    fn from(e: DbErr) -> Self {
        CreateError::Db(e)
    }
}

impl From<AppError> for CreateError {
    fn from(e: AppError) -> Self {
        CreateError::App(e)
    }
}

/// Creates an organization owned by `user_id` (the organization and the owner membership).
/// `slug_base` is used as is when free, else with a random suffix. Call inside a transaction.
pub async fn create_owned(
    conn: &impl ConnectionTrait,
    user_id: &str,
    name: &str,
    slug_base: &str,
    t: DateTime<Utc>,
) -> Result<organization::Model, CreateError> {
    let slug = free_slug(conn, slug_base).await?;
    insert_owned(conn, user_id, name, &slug, t).await
}

async fn insert_owned(
    conn: &impl ConnectionTrait,
    user_id: &str,
    name: &str,
    slug: &str,
    t: DateTime<Utc>,
) -> Result<organization::Model, CreateError> {
    let org = organization::ActiveModel {
        id: Set(new_id()),
        name: Set(name.to_string()),
        slug: Set(slug.to_string()),
        logo_url: Set(None),
        created_at: Set(t),
        updated_at: Set(t),
    }
    .insert(conn)
    .await?;
    membership::ActiveModel {
        id: Set(new_id()),
        organization_id: Set(org.id.clone()),
        user_id: Set(user_id.to_string()),
        role: Set(Role::Owner.as_str().to_string()),
        created_at: Set(t),
        updated_at: Set(t),
    }
    .insert(conn)
    .await?;
    Ok(org)
}

/// A free organization slug from `base`: `[a-z0-9-]`, 3..48 characters.
async fn free_slug(conn: &impl ConnectionTrait, base: &str) -> AppResult<String> {
    let mut base = slugify(base, 40);
    if base.len() < 3 {
        base = if base.is_empty() { "org".to_string() } else { format!("{base}-org") };
    }
    let mut candidate = base.clone();
    for _ in 0..5 {
        let taken =
            organization::Entity::find().filter(organization::Column::Slug.eq(candidate.clone())).count(conn).await?
                > 0;
        if !taken {
            return Ok(candidate);
        }
        candidate = format!("{base}-{}", random_suffix());
    }
    Ok(format!("{base}-{}", crate::auth::tokens::random_alphanumeric(6).to_lowercase()))
}

/// The view of an organization the given user just created (their role: owner).
pub async fn view_for_owner(conn: &impl ConnectionTrait, org: organization::Model) -> AppResult<OrganizationView> {
    let m = membership::Entity::find()
        .filter(membership::Column::OrganizationId.eq(org.id.clone()))
        .filter(membership::Column::Role.eq(Role::Owner.as_str()))
        .one(conn)
        .await?
        .ok_or_else(|| AppError::internal("organization without owner"))?;
    let tenant = Tenant::from_membership(&m)?;
    Ok(views(conn, vec![(org, tenant)]).await?.pop().expect("one view"))
}

/// `GET /api/user/organizations`: the caller's organizations (only the pinned one for a pinned
/// PAT), newest membership first, with the caller's role. One statement: the page of memberships
/// joined to their organizations, each member count and the total as scalar subqueries; a second
/// only for a page past the end.
pub async fn list(state: &AppState, principal: &Principal, page: PageParams) -> AppResult<Page<OrganizationView>> {
    use sea_orm::FromQueryResult;
    principal.require(&[Scope::UserRead])?;
    let conn = &state.db.conn;
    let mut values: Vec<sea_orm::Value> = vec![principal.user_id().into()];
    let pinned = match &principal.pinned_org {
        Some(pin) => {
            values.push(pin.clone().into());
            " AND {m}.organization_id = $2"
        }
        None => "",
    };
    values.extend([(page.limit as i64).into(), (page.offset as i64).into()]);
    let n = values.len();
    let sql = format!(
        "SELECT {}, {}, \
           (SELECT COUNT(*) FROM memberships c WHERE c.organization_id = o.id) AS gh_member_count, \
           (SELECT COUNT(*) FROM memberships t WHERE t.user_id = $1{}) AS gh_total \
         FROM memberships m JOIN organizations o ON o.id = m.organization_id \
         WHERE m.user_id = $1{} ORDER BY m.created_at DESC, m.id DESC LIMIT ${} OFFSET ${n}",
        super::users::aliased_columns::<organization::Entity>("o"),
        super::users::aliased_columns::<membership::Entity>("m"),
        pinned.replace("{m}", "t"),
        pinned.replace("{m}", "m"),
        n - 1,
    );
    let rows = conn.query_all_raw(crate::db::statement(conn.get_database_backend(), &sql, values)).await?;
    let mut total = None;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        total = Some(Ord::max(row.try_get::<i64>("", "gh_total")?, 0) as u64);
        let members = Ord::max(row.try_get::<i64>("", "gh_member_count")?, 0) as u64;
        let org = organization::Model::from_query_result(&row, "o_")?;
        let tenant = Tenant::from_membership(&membership::Model::from_query_result(&row, "m_")?)?;
        items.push(view(org, tenant, members));
    }
    let total = match total {
        Some(t) => t,
        None => {
            let mut q = membership::Entity::find().filter(membership::Column::UserId.eq(principal.user_id()));
            if let Some(pin) = &principal.pinned_org {
                q = q.filter(membership::Column::OrganizationId.eq(pin.clone()));
            }
            q.count(conn).await?
        }
    };
    Ok(Page::new(items, total, page))
}

#[derive(Clone, Debug, Default, Deserialize, Validate, async_graphql::InputObject, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "CreateOrganizationInput")]
pub struct CreateOrganization {
    #[serde(default)]
    #[validate(
        length(min = 1, max = 100, message = "Must be 1 to 100 characters"),
        custom(function = "super::single_line")
    )]
    pub name: String,
    #[validate(length(min = 3, max = 48, message = "Must be 3 to 48 characters"), custom(function = "check_slug"))]
    pub slug: Option<String>,
}

fn check_slug(s: &str) -> Result<(), validator::ValidationError> {
    if is_slug(s) {
        Ok(())
    } else {
        Err(super::invalid("Only lower-case letters, digits and single dashes"))
    }
}

/// `POST /api/user/organizations`: the caller becomes owner. A pinned PAT may not.
pub async fn create(
    state: &AppState,
    principal: &Principal,
    mut input: CreateOrganization,
) -> AppResult<OrganizationView> {
    principal.require(&[Scope::UserWrite])?;
    if principal.pinned_org.is_some() {
        return Err(AppError::forbidden("An API key pinned to an organization cannot create organizations"));
    }
    trim(&mut input.name);
    if let Some(s) = input.slug.as_mut() {
        *s = s.trim().to_string();
    }
    validate(&input)?;
    let t = now();
    let txn = state.db.begin().await?;
    let created = match &input.slug {
        Some(slug) => insert_owned(&txn, principal.user_id(), &input.name, slug, t).await,
        None => create_owned(&txn, principal.user_id(), &input.name, &input.name, t).await,
    };
    let org = match created {
        Ok(org) => org,
        Err(CreateError::Db(e)) => return Err(on_unique(e, || AppError::conflict("That slug is taken"))),
        Err(CreateError::App(e)) => return Err(e),
    };
    audit::record(
        &txn,
        &org.id,
        principal,
        "organization.created",
        Target("organization", &org.id),
        json!({ "name": org.name, "slug": org.slug }),
    )
    .await?;
    let view = view_for_owner(&txn, org).await?;
    txn.commit().await?;
    Ok(view)
}

/// The organization row behind a checked tenant.
async fn row(conn: &impl ConnectionTrait, tenant: &Tenant) -> AppResult<organization::Model> {
    organization::Entity::find_by_id(tenant.org_id().to_string())
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("Organization"))
}

/// `GET {org}`.
pub async fn get(state: &AppState, principal: &Principal, org_id: &str) -> AppResult<OrganizationView> {
    let tenant = access::tenant_for_read(&state.db.conn, principal, org_id, Permission::OrganizationRead).await?;
    let org = row(&state.db.conn, &tenant).await?;
    Ok(views(&state.db.conn, vec![(org, tenant)]).await?.pop().expect("one view"))
}

#[derive(Clone, Debug, Default, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateOrganization {
    #[validate(
        length(min = 1, max = 100, message = "Must be 1 to 100 characters"),
        custom(function = "super::single_line")
    )]
    pub name: Option<String>,
    #[validate(length(min = 3, max = 48, message = "Must be 3 to 48 characters"), custom(function = "check_slug"))]
    pub slug: Option<String>,
    /// `null` clears the logo.
    #[serde(default, deserialize_with = "super::projects::double_option")]
    #[validate(custom(function = "super::projects::check_url"))]
    #[schema(value_type = Option<String>)]
    pub logo_url: Option<Option<String>>,
}

/// `PUT {org}`: `user:write` on the credential, `organization:update` on the role.
pub async fn update(
    state: &AppState,
    principal: &Principal,
    org_id: &str,
    mut input: UpdateOrganization,
) -> AppResult<OrganizationView> {
    principal.require(&[Scope::UserWrite])?;
    let tenant = access::tenant(&state.db.conn, principal, org_id, Permission::OrganizationUpdate).await?;
    if let Some(n) = input.name.as_mut() {
        trim(n);
    }
    if let Some(s) = input.slug.as_mut() {
        *s = s.trim().to_string();
    }
    if let Some(Some(u)) = input.logo_url.as_mut() {
        trim(u);
    }
    validate(&input)?;
    let txn = state.db.begin().await?;
    let org = row(&txn, &tenant).await?;
    let mut changed = serde_json::Map::new();
    let mut am = org.into_active_model();
    if let Some(n) = input.name {
        changed.insert("name".into(), json!(n));
        am.name = Set(n);
    }
    if let Some(s) = input.slug {
        changed.insert("slug".into(), json!(s));
        am.slug = Set(s);
    }
    if let Some(l) = input.logo_url {
        changed.insert("logoUrl".into(), json!(l));
        am.logo_url = Set(l);
    }
    am.updated_at = Set(now());
    let org = am.update(&txn).await.map_err(|e| on_unique(e, || AppError::conflict("That slug is taken")))?;
    audit::record(
        &txn,
        &org.id,
        principal,
        "organization.updated",
        Target("organization", &org.id),
        json!({ "changed": changed }),
    )
    .await?;
    let view = views(&txn, vec![(org, tenant)]).await?.pop().expect("one view");
    txn.commit().await?;
    Ok(view)
}

/// The views of these organizations as the principal sees them (its role in each), for
/// references such as `Project.organization`. Organizations the principal does not belong to,
/// or outside its pin, are simply absent.
pub async fn views_for(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    org_ids: &[String],
) -> AppResult<HashMap<String, OrganizationView>> {
    let mut q = membership::Entity::find()
        .filter(membership::Column::UserId.eq(principal.user_id()))
        .filter(membership::Column::OrganizationId.is_in(org_ids.iter().cloned()));
    if let Some(pin) = &principal.pinned_org {
        q = q.filter(membership::Column::OrganizationId.eq(pin.clone()));
    }
    let memberships = q.all(conn).await?;
    let ids: Vec<String> = memberships.iter().map(|m| m.organization_id.clone()).collect();
    let mut orgs: HashMap<String, organization::Model> = organization::Entity::find()
        .filter(organization::Column::Id.is_in(ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|o| (o.id.clone(), o))
        .collect();
    let mut rows = Vec::with_capacity(memberships.len());
    for m in &memberships {
        if let Some(o) = orgs.remove(&m.organization_id) {
            rows.push((o, Tenant::from_membership(m)?));
        }
    }
    Ok(views(conn, rows).await?.into_iter().map(|v| (v.id.clone(), v)).collect())
}

/// `DELETE {org}`: a signed-in owner deletes the organization with its projects, memberships,
/// invitations, audit log and pinned keys. Returns its id.
pub async fn delete(state: &AppState, principal: &Principal, org_id: &str) -> AppResult<String> {
    principal.require_session()?;
    let txn = state.db.begin().await?;
    let tenant = access::tenant(&txn, principal, org_id, Permission::OrganizationRead).await?;
    if tenant.role() != Role::Owner {
        return Err(AppError::new(
            crate::error::Code::InsufficientPermissions,
            "Only an owner can delete the organization",
        ));
    }
    organization::Entity::delete_by_id(tenant.org_id().to_string()).exec(&txn).await?;
    txn.commit().await?;
    state.credentials.revoked().await; // keys pinned to it went with it
    Ok(tenant.org_id().to_string())
}
