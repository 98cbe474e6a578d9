//! Projects, owned by organizations (API.md 7).

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Deserializer, Serialize};
use validator::Validate;

use super::access::{self, Permission, Principal, Scope, Tenant};
use super::audit::{self, Target};
use super::{is_slug, now, random_suffix, slugify, trim, ts, ts_opt, validate, Page, PageParams, Timestamp};
use crate::auth::tokens::{is_ulid, new_id};
use crate::entities::{project, user};
use crate::error::{on_unique, AppError, AppResult, Code};
use crate::state::AppState;
use serde_json::json;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, async_graphql::Enum, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProjectStatus {
    #[graphql(name = "DRAFT")]
    Draft,
    #[graphql(name = "ACTIVE")]
    Active,
    #[graphql(name = "PAUSED")]
    Paused,
}

impl ProjectStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectStatus::Draft => "draft",
            ProjectStatus::Active => "active",
            ProjectStatus::Paused => "paused",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "draft" => Some(ProjectStatus::Draft),
            "active" => Some(ProjectStatus::Active),
            "paused" => Some(ProjectStatus::Paused),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    #[graphql(name = "WEEKLY")]
    Weekly,
}

impl Frequency {
    pub fn as_str(self) -> &'static str {
        "weekly"
    }
    pub fn period(self) -> TimeDelta {
        TimeDelta::days(7)
    }
}

#[derive(Clone, Debug, Serialize, async_graphql::SimpleObject, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "ProjectCreator")]
pub struct CreatorView {
    pub id: String,
    pub full_name: String,
}

#[derive(Clone, Debug, Serialize, async_graphql::SimpleObject, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "Project", complex)]
pub struct ProjectView {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
    pub business_context: Option<String>,
    pub monitoring_intent: Option<String>,
    pub website: Option<String>,
    pub status: ProjectStatus,
    pub frequency: Frequency,
    pub timezone: String,
    pub created_by_user_id: Option<String>,
    pub created_by_user: Option<CreatorView>,
    pub last_run_at: Option<Timestamp>,
    pub next_run_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl ProjectView {
    fn new(p: project::Model, creator: Option<&user::Model>) -> Self {
        let creator = creator.map(|u| CreatorView { id: u.id.clone(), full_name: u.full_name.clone() });
        Self::with_creator(p, creator)
    }

    fn with_creator(p: project::Model, created_by_user: Option<CreatorView>) -> Self {
        ProjectView {
            status: ProjectStatus::parse(&p.status).unwrap_or(ProjectStatus::Draft),
            frequency: Frequency::Weekly,
            created_by_user,
            id: p.id,
            organization_id: p.organization_id,
            name: p.name,
            slug: p.slug,
            description: p.description,
            business_context: p.business_context,
            monitoring_intent: p.monitoring_intent,
            website: p.website,
            timezone: p.timezone,
            created_by_user_id: p.created_by_user_id,
            last_run_at: ts_opt(p.last_run_at),
            next_run_at: ts_opt(p.next_run_at),
            created_at: ts(p.created_at),
            updated_at: ts(p.updated_at),
        }
    }
}

/// Views of many projects with their creators loaded in one statement.
async fn views(conn: &impl ConnectionTrait, rows: Vec<project::Model>) -> AppResult<Vec<ProjectView>> {
    let mut ids: Vec<String> = rows.iter().filter_map(|p| p.created_by_user_id.clone()).collect();
    ids.sort();
    ids.dedup();
    let creators: HashMap<String, user::Model> = if ids.is_empty() {
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
    Ok(rows
        .into_iter()
        .map(|p| {
            let creator = p.created_by_user_id.as_ref().and_then(|id| creators.get(id));
            ProjectView::new(p, creator)
        })
        .collect())
}

/// `base` with each project's creator joined for their name (`gh_creator_name`).
fn with_creator_name(base: sea_orm::Select<project::Entity>) -> sea_orm::Select<project::Entity> {
    use sea_orm::sea_query::{Alias, Expr};
    use sea_orm::JoinType;
    let creator = project::Entity::belongs_to(user::Entity).from(project::Column::CreatedByUserId).to(user::Column::Id);
    base.join_as(JoinType::LeftJoin, creator.into(), Alias::new("creator"))
        .expr_as(Expr::col((Alias::new("creator"), user::Column::FullName)), "gh_creator_name")
}

/// The view of a project read with [`with_creator_name`].
fn view_with_creator_name(p: project::Model, row: &sea_orm::QueryResult) -> AppResult<ProjectView> {
    let name: Option<String> = row.try_get("", "gh_creator_name")?;
    let creator = match (&p.created_by_user_id, name) {
        (Some(id), Some(full_name)) => Some(CreatorView { id: id.clone(), full_name }),
        _ => None,
    };
    Ok(ProjectView::with_creator(p, creator))
}

/// Filters of a project list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ProjectFilter {
    pub q: Option<String>,
    pub status: Option<ProjectStatus>,
}

fn filtered(org_id: &str, filter: &ProjectFilter) -> sea_orm::Select<project::Entity> {
    filter_in(project::Entity::find().filter(project::Column::OrganizationId.eq(org_id)), filter)
}

fn filter_in(mut q: sea_orm::Select<project::Entity>, filter: &ProjectFilter) -> sea_orm::Select<project::Entity> {
    if let Some(s) = filter.status {
        q = q.filter(project::Column::Status.eq(s.as_str()));
    }
    if let Some(pattern) = like_pattern(filter) {
        let pattern = LikeExpr::new(pattern).escape('\\');
        q = q.filter(Condition::all().add(Func::lower(Expr::col(project::Column::Name)).like(pattern)));
    }
    q
}

/// The `LIKE` pattern of a name search (`q`), escaped; `None` for no search.
fn like_pattern(filter: &ProjectFilter) -> Option<String> {
    let text = filter.q.as_deref().map(str::trim).filter(|t| !t.is_empty())?;
    let escaped = text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    Some(format!("%{escaped}%"))
}

/// The values [`filtered`] binds, in its order (`pattern`: [`like_pattern`]).
fn filter_values(org_id: &str, filter: &ProjectFilter, pattern: Option<&str>) -> Vec<sea_orm::Value> {
    [Some(org_id.into()), filter.status.map(|s| s.as_str().into()), pattern.map(Into::into)]
        .into_iter()
        .flatten()
        .collect()
}

/// The projects of one checked tenant: the page, its total and each creator's name (a left
/// join) in one statement; a second only for a page past the end. The total is an uncorrelated
/// scalar subquery, computed once from the index; `COUNT(*) OVER ()` cost twice as much on
/// SQLite, which materializes and sorts the window. The SQL text is rendered once per filter
/// shape ([`crate::db::SqlByShape`]).
pub async fn list_in(
    conn: &impl ConnectionTrait,
    tenant: &Tenant,
    filter: &ProjectFilter,
    page: PageParams,
) -> AppResult<Page<ProjectView>> {
    use sea_orm::sea_query::Expr;
    use sea_orm::{FromQueryResult, QueryTrait};
    static LIST: crate::db::SqlByShape = crate::db::SqlByShape::new();
    let backend = conn.get_database_backend();
    let org_id = tenant.org_id();
    let pattern = like_pattern(filter);
    let shape = u32::from(filter.status.is_some()) | u32::from(pattern.is_some()) << 1;
    // The count subquery's filter, the page's filter, then LIMIT and OFFSET.
    let filter_values = filter_values(org_id, filter, pattern.as_deref());
    let values = [filter_values.clone(), filter_values, vec![page.limit.into(), page.offset.into()]].concat();
    let stmt = LIST.statement(backend, shape, values, || {
        let total = filtered(org_id, filter).select_only().expr(Expr::cust("COUNT(*)")).into_query();
        let q = with_creator_name(filtered(org_id, filter))
            .expr_as(Expr::SubQuery(None, Box::new(total.into())), "gh_total")
            .order_by_desc(project::Column::CreatedAt)
            .order_by_desc(project::Column::Id)
            .offset(page.offset)
            .limit(page.limit);
        backend.build(&q.into_query())
    });
    let rows = conn.query_all_raw(stmt).await?;
    let mut total = None;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        total = Some(Ord::max(row.try_get::<i64>("", "gh_total")?, 0) as u64);
        items.push(view_with_creator_name(project::Model::from_query_result(&row, "")?, &row)?);
    }
    let total = match total {
        Some(t) => t,
        None => filtered(org_id, filter).count(conn).await?,
    };
    Ok(Page::new(items, total, page))
}

/// Project pages of many checked tenants at once (GraphQL `organizations { projects }`): one
/// statement per filter and page whatever the number of organizations. Needs `projects:read`.
pub async fn list_many(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    keys: &[(Tenant, ProjectFilter, PageParams)],
) -> AppResult<HashMap<(Tenant, ProjectFilter, PageParams), Page<ProjectView>>> {
    principal.require(&[Scope::ProjectsRead])?;
    let mut groups: HashMap<(ProjectFilter, PageParams), Vec<&Tenant>> = HashMap::new();
    for (t, f, p) in keys {
        groups.entry((f.clone(), *p)).or_default().push(t);
    }
    let mut out = HashMap::new();
    for ((filter, page), tenants) in groups {
        let org_ids: Vec<String> = tenants.iter().map(|t| t.org_id().to_string()).collect();
        let base =
            filter_in(project::Entity::find().filter(project::Column::OrganizationId.is_in(org_ids.clone())), &filter);
        let (rows, totals) =
            super::windowed(conn, with_creator_name(base), project::Column::OrganizationId, &org_ids, page).await?;
        let mut grouped: HashMap<String, Vec<ProjectView>> = HashMap::new();
        for (p, row) in rows {
            let v = view_with_creator_name(p, &row)?;
            grouped.entry(v.organization_id.clone()).or_default().push(v);
        }
        for t in tenants {
            let items = grouped.remove(t.org_id()).unwrap_or_default();
            let total = totals.get(t.org_id()).copied().unwrap_or(0);
            out.insert((t.clone(), filter.clone(), page), Page::new(items, total, page));
        }
    }
    Ok(out)
}

/// `GET {org}/projects`.
pub async fn list(
    state: &AppState,
    principal: &Principal,
    org_id: &str,
    filter: ProjectFilter,
    page: PageParams,
) -> AppResult<Page<ProjectView>> {
    principal.require(&[Scope::ProjectsRead])?;
    let tenant = access::tenant_for_read(&state.db.conn, principal, org_id, Permission::OrganizationRead).await?;
    list_in(&state.db.conn, &tenant, &filter, page).await
}

/// Deserializes a field that may be absent (`None`), `null` (`Some(None)`) or a value.
pub fn double_option<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

pub(super) fn check_url(u: &str) -> Result<(), validator::ValidationError> {
    match url::Url::parse(u) {
        Ok(parsed)
            if matches!(parsed.scheme(), "http" | "https")
                && parsed.host_str().is_some_and(|h| !h.is_empty())
                && u.len() <= 2048 =>
        {
            Ok(())
        }
        _ => Err(super::invalid("Invalid url")),
    }
}

fn check_timezone(tz: &str) -> Result<(), validator::ValidationError> {
    if tz.parse::<chrono_tz::Tz>().is_ok() {
        Ok(())
    } else {
        Err(super::invalid("Invalid timezone"))
    }
}

fn check_slug(s: &str) -> Result<(), validator::ValidationError> {
    if is_slug(s) {
        Ok(())
    } else {
        Err(super::invalid("Only lower-case letters, digits and single dashes"))
    }
}

const TEXT_MAX: u64 = 10_000;

#[derive(Clone, Debug, Default, Deserialize, Validate, async_graphql::InputObject, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "CreateProjectInput")]
pub struct CreateProject {
    #[serde(default)]
    #[validate(
        length(min = 1, max = 120, message = "Must be 1 to 120 characters"),
        custom(function = "super::single_line")
    )]
    pub name: String,
    #[validate(length(min = 1, max = 120, message = "Must be 1 to 120 characters"), custom(function = "check_slug"))]
    pub slug: Option<String>,
    #[validate(length(max = "TEXT_MAX", message = "Must be at most 10000 characters"))]
    pub description: Option<String>,
    #[validate(length(max = "TEXT_MAX", message = "Must be at most 10000 characters"))]
    pub business_context: Option<String>,
    #[validate(length(max = "TEXT_MAX", message = "Must be at most 10000 characters"))]
    pub monitoring_intent: Option<String>,
    #[validate(custom(function = "check_url"))]
    pub website: Option<String>,
    #[validate(custom(function = "check_timezone"))]
    pub timezone: Option<String>,
    pub status: Option<ProjectStatus>,
    pub frequency: Option<Frequency>,
}

fn next_run(status: ProjectStatus, frequency: Frequency, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    (status == ProjectStatus::Active).then(|| t + frequency.period())
}

/// `POST {org}/projects`.
pub async fn create(
    state: &AppState,
    principal: &Principal,
    org_id: &str,
    mut input: CreateProject,
) -> AppResult<ProjectView> {
    principal.require(&[Scope::ProjectsWrite])?;
    let tenant = access::tenant(&state.db.conn, principal, org_id, Permission::OrganizationRead).await?;
    trim(&mut input.name);
    for s in [&mut input.slug, &mut input.website, &mut input.timezone].into_iter().flatten() {
        trim(s);
    }
    validate(&input)?;
    let conn = &state.db.conn;
    let t = now();
    let status = input.status.unwrap_or(ProjectStatus::Draft);
    let frequency = input.frequency.unwrap_or(Frequency::Weekly);
    let (slug, explicit) = match input.slug.clone() {
        Some(s) => (s, true),
        None => (free_slug(conn, tenant.org_id(), &input.name).await?, false),
    };
    let mut am = project::ActiveModel {
        id: Set(new_id()),
        organization_id: Set(tenant.org_id().to_string()),
        name: Set(input.name.clone()),
        slug: Set(slug),
        description: Set(input.description),
        business_context: Set(input.business_context),
        monitoring_intent: Set(input.monitoring_intent),
        website: Set(input.website),
        status: Set(status.as_str().to_string()),
        frequency: Set(frequency.as_str().to_string()),
        timezone: Set(input.timezone.unwrap_or_else(|| "UTC".into())),
        created_by_user_id: Set(Some(principal.user_id().to_string())),
        last_run_at: Set(None),
        next_run_at: Set(next_run(status, frequency, t)),
        created_at: Set(t),
        updated_at: Set(t),
    };
    // A generated slug that lost a race is regenerated; an explicit one is a CONFLICT.
    for attempt in 0..3 {
        let txn = state.db.begin().await?;
        match am.clone().insert(&txn).await {
            Ok(p) => {
                let meta = json!({ "name": p.name, "slug": p.slug, "status": p.status });
                audit::record(&txn, &p.organization_id, principal, "project.created", Target("project", &p.id), meta)
                    .await?;
                let view = views(&txn, vec![p]).await?.pop().expect("one view");
                txn.commit().await?;
                return Ok(view);
            }
            Err(e) if explicit || attempt == 2 => {
                return Err(on_unique(e, || AppError::conflict("A project with this slug already exists")))
            }
            Err(e) if crate::error::is_unique_violation(&e) => {
                am.slug = Set(format!("{}-{}", slugify(&input.name, 100), random_suffix()));
            }
            Err(e) => return Err(e.into()),
        }
    }
    unreachable!("the loop returns on its last attempt")
}

async fn free_slug(conn: &impl ConnectionTrait, org_id: &str, name: &str) -> AppResult<String> {
    let mut base = slugify(name, 100);
    if base.is_empty() {
        base = "project".into();
    }
    let taken = project::Entity::find()
        .filter(project::Column::OrganizationId.eq(org_id))
        .filter(project::Column::Slug.eq(base.clone()))
        .count(conn)
        .await?
        > 0;
    Ok(if taken { format!("{base}-{}", random_suffix()) } else { base })
}

/// Finds a project of the tenant: `NOT_FOUND` when it exists nowhere, `TENANT_VIOLATION` when
/// it belongs to another organization.
async fn find_in(conn: &impl ConnectionTrait, tenant: &Tenant, id: &str) -> AppResult<project::Model> {
    if !is_ulid(id) {
        return Err(AppError::not_found("Project"));
    }
    let p =
        project::Entity::find_by_id(id.to_string()).one(conn).await?.ok_or_else(|| AppError::not_found("Project"))?;
    if p.organization_id != tenant.org_id() {
        return Err(AppError::new(Code::TenantViolation, "This project belongs to another organization"));
    }
    Ok(p)
}

/// `GET {org}/projects/{id}`.
pub async fn get(state: &AppState, principal: &Principal, org_id: &str, id: &str) -> AppResult<ProjectView> {
    principal.require(&[Scope::ProjectsRead])?;
    let tenant = access::tenant_for_read(&state.db.conn, principal, org_id, Permission::OrganizationRead).await?;
    let p = find_in(&state.db.conn, &tenant, id).await?;
    Ok(views(&state.db.conn, vec![p]).await?.pop().expect("one view"))
}

#[derive(Clone, Debug, Default, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateProject {
    #[validate(
        length(min = 1, max = 120, message = "Must be 1 to 120 characters"),
        custom(function = "super::single_line")
    )]
    pub name: Option<String>,
    #[validate(length(min = 1, max = 120, message = "Must be 1 to 120 characters"), custom(function = "check_slug"))]
    pub slug: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(length(max = "TEXT_MAX", message = "Must be at most 10000 characters"))]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(length(max = "TEXT_MAX", message = "Must be at most 10000 characters"))]
    #[schema(value_type = Option<String>)]
    pub business_context: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(length(max = "TEXT_MAX", message = "Must be at most 10000 characters"))]
    #[schema(value_type = Option<String>)]
    pub monitoring_intent: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(custom(function = "check_url"))]
    #[schema(value_type = Option<String>)]
    pub website: Option<Option<String>>,
    #[validate(custom(function = "check_timezone"))]
    pub timezone: Option<String>,
    pub status: Option<ProjectStatus>,
    pub frequency: Option<Frequency>,
}

impl UpdateProject {
    /// The names of the fields this update sets, for the audit event.
    fn changed_fields(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut note = |set: bool, name: &'static str| {
            if set {
                out.push(name)
            }
        };
        note(self.name.is_some(), "name");
        note(self.slug.is_some(), "slug");
        note(self.description.is_some(), "description");
        note(self.business_context.is_some(), "businessContext");
        note(self.monitoring_intent.is_some(), "monitoringIntent");
        note(self.website.is_some(), "website");
        note(self.timezone.is_some(), "timezone");
        note(self.status.is_some(), "status");
        note(self.frequency.is_some(), "frequency");
        out
    }
}

/// `PUT {org}/projects/{id}`: a partial update; `null` clears an optional text.
pub async fn update(
    state: &AppState,
    principal: &Principal,
    org_id: &str,
    id: &str,
    mut input: UpdateProject,
) -> AppResult<ProjectView> {
    principal.require(&[Scope::ProjectsWrite])?;
    let conn = &state.db.conn;
    let tenant = access::tenant(conn, principal, org_id, Permission::OrganizationRead).await?;
    for s in [&mut input.name, &mut input.slug, &mut input.timezone].into_iter().flatten() {
        trim(s);
    }
    if let Some(Some(w)) = input.website.as_mut() {
        trim(w);
    }
    validate(&input)?;
    let changed = input.changed_fields();
    let txn = state.db.begin().await?;
    let p = find_in(&txn, &tenant, id).await?;
    let t = now();
    let old_status = ProjectStatus::parse(&p.status).unwrap_or(ProjectStatus::Draft);
    let mut am = p.into_active_model();
    if let Some(v) = input.name {
        am.name = Set(v);
    }
    if let Some(v) = input.slug {
        am.slug = Set(v);
    }
    if let Some(v) = input.description {
        am.description = Set(v);
    }
    if let Some(v) = input.business_context {
        am.business_context = Set(v);
    }
    if let Some(v) = input.monitoring_intent {
        am.monitoring_intent = Set(v);
    }
    if let Some(v) = input.website {
        am.website = Set(v);
    }
    if let Some(v) = input.timezone {
        am.timezone = Set(v);
    }
    if let Some(f) = input.frequency {
        am.frequency = Set(f.as_str().to_string());
    }
    if let Some(s) = input.status {
        am.status = Set(s.as_str().to_string());
        if s != old_status {
            am.next_run_at = Set(next_run(s, input.frequency.unwrap_or(Frequency::Weekly), t));
        }
    }
    am.updated_at = Set(t);
    let p = am
        .update(&txn)
        .await
        .map_err(|e| on_unique(e, || AppError::conflict("A project with this slug already exists")))?;
    audit::record(
        &txn,
        &p.organization_id,
        principal,
        "project.updated",
        Target("project", &p.id),
        json!({ "changed": changed }),
    )
    .await?;
    let view = views(&txn, vec![p]).await?.pop().expect("one view");
    txn.commit().await?;
    Ok(view)
}

/// `DELETE {org}/projects/{id}`; returns the id.
pub async fn delete(state: &AppState, principal: &Principal, org_id: &str, id: &str) -> AppResult<String> {
    principal.require(&[Scope::ProjectsWrite])?;
    let conn = &state.db.conn;
    let tenant = access::tenant(conn, principal, org_id, Permission::OrganizationRead).await?;
    let txn = state.db.begin().await?;
    let p = find_in(&txn, &tenant, id).await?;
    project::Entity::delete_by_id(p.id.clone()).exec(&txn).await?;
    audit::record(
        &txn,
        &p.organization_id,
        principal,
        "project.deleted",
        Target("project", &p.id),
        json!({ "name": p.name, "slug": p.slug }),
    )
    .await?;
    txn.commit().await?;
    Ok(p.id)
}
