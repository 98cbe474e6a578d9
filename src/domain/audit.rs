//! The audit log (API.md 6): every change to an organization, its members, invitations,
//! projects and organization-pinned keys writes an event in the same transaction as the change.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};
use serde::Serialize;
use serde_json::Value;

use super::access::{self, Permission, Principal, Tenant};
use super::{now, ts, windowed, Page, PageParams, Timestamp};
use crate::auth::tokens::new_id;
use crate::entities::audit_event;
use crate::error::{AppResult, FieldError};
use crate::state::AppState;

/// What an event is about: `("project", id)`, `("member", id)`...
pub struct Target<'a>(pub &'a str, pub &'a str);

/// Writes one event for `org_id`, on `conn` (the change's own transaction).
pub async fn record(
    conn: &impl ConnectionTrait,
    org_id: &str,
    actor: &Principal,
    action: &str,
    target: Target<'_>,
    metadata: Value,
) -> AppResult<()> {
    write(conn, org_id, Some(actor.user_id()), actor.kind.as_str(), &actor.client, action, target, metadata, now())
        .await
}

/// The general form, for changes made before there is a principal (sign-up).
#[allow(clippy::too_many_arguments)]
pub async fn write(
    conn: &impl ConnectionTrait,
    org_id: &str,
    actor_user_id: Option<&str>,
    credential: &str,
    client: &super::ClientInfo,
    action: &str,
    target: Target<'_>,
    metadata: Value,
    t: DateTime<Utc>,
) -> AppResult<()> {
    audit_event::ActiveModel {
        id: Set(new_id()),
        organization_id: Set(org_id.to_string()),
        action: Set(action.to_string()),
        actor_user_id: Set(actor_user_id.map(str::to_string)),
        credential: Set(credential.to_string()),
        target_type: Set(target.0.to_string()),
        target_id: Set(Some(target.1.to_string())),
        ip_address: Set(client.ip_string()),
        user_agent: Set(client.user_agent()),
        metadata: Set(metadata.to_string()),
        created_at: Set(t),
    }
    .insert(conn)
    .await?;
    Ok(())
}

#[derive(Clone, Debug, Serialize, async_graphql::SimpleObject, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "AuditEvent")]
pub struct AuditEventView {
    pub id: String,
    pub action: String,
    pub actor_user_id: Option<String>,
    /// `session`, `api_key` or `oauth`.
    pub credential: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: async_graphql::Json<Value>,
    pub created_at: Timestamp,
    #[serde(skip)]
    #[graphql(skip)]
    pub organization_id: String,
}

impl AuditEventView {
    fn new(e: audit_event::Model) -> Self {
        AuditEventView {
            metadata: async_graphql::Json(serde_json::from_str(&e.metadata).unwrap_or(Value::Null)),
            id: e.id,
            action: e.action,
            actor_user_id: e.actor_user_id,
            credential: e.credential,
            target_type: e.target_type,
            target_id: e.target_id,
            ip_address: e.ip_address,
            user_agent: e.user_agent,
            created_at: ts(e.created_at),
            organization_id: e.organization_id,
        }
    }
}

/// Filters of the audit log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl AuditFilter {
    /// From raw text: `since`/`until` must be RFC 3339 timestamps.
    pub fn parse(
        action: Option<&str>,
        since: Option<&str>,
        until: Option<&str>,
    ) -> Result<AuditFilter, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut time = |name: &str, v: Option<&str>| match v.map(str::trim).filter(|v| !v.is_empty()) {
            None => None,
            Some(v) => match DateTime::parse_from_rfc3339(v) {
                Ok(t) => Some(t.with_timezone(&Utc)),
                Err(_) => {
                    errors.push(FieldError::query(name, "Must be an RFC 3339 timestamp"));
                    None
                }
            },
        };
        let since = time("since", since);
        let until = time("until", until);
        let action = action.map(str::trim).filter(|a| !a.is_empty()).map(str::to_string);
        if errors.is_empty() {
            Ok(AuditFilter { action, since, until })
        } else {
            Err(errors)
        }
    }

    fn apply(&self, mut q: sea_orm::Select<audit_event::Entity>) -> sea_orm::Select<audit_event::Entity> {
        if let Some(a) = &self.action {
            q = q.filter(audit_event::Column::Action.eq(a.clone()));
        }
        if let Some(s) = self.since {
            q = q.filter(audit_event::Column::CreatedAt.gte(s));
        }
        if let Some(u) = self.until {
            q = q.filter(audit_event::Column::CreatedAt.lte(u));
        }
        q
    }
}

fn of_org(org_id: &str, filter: &AuditFilter) -> sea_orm::Select<audit_event::Entity> {
    filter.apply(audit_event::Entity::find().filter(audit_event::Column::OrganizationId.eq(org_id)))
}

/// `GET {org}/audit-logs`: owners only (`organization:manage-security`).
pub async fn list(
    state: &AppState,
    principal: &Principal,
    org_id: &str,
    filter: AuditFilter,
    page: PageParams,
) -> AppResult<Page<AuditEventView>> {
    let tenant = access::tenant_for_read(&state.db.conn, principal, org_id, Permission::ManageSecurity).await?;
    let conn = &state.db.conn;
    let total = of_org(tenant.org_id(), &filter).count(conn).await?;
    let rows = of_org(tenant.org_id(), &filter)
        .order_by_desc(audit_event::Column::CreatedAt)
        .order_by_desc(audit_event::Column::Id)
        .offset(page.offset)
        .limit(page.limit)
        .all(conn)
        .await?;
    Ok(Page::new(rows.into_iter().map(AuditEventView::new).collect(), total, page))
}

/// The most events one export holds.
pub const EXPORT_MAX: u64 = 10_000;

/// `GET {org}/audit-logs/export`: every matching event (newest first, at most 10,000).
pub async fn export(
    state: &AppState,
    principal: &Principal,
    org_id: &str,
    filter: AuditFilter,
) -> AppResult<Vec<AuditEventView>> {
    let tenant = access::tenant_for_read(&state.db.conn, principal, org_id, Permission::ManageSecurity).await?;
    let rows = of_org(tenant.org_id(), &filter)
        .order_by_desc(audit_event::Column::CreatedAt)
        .order_by_desc(audit_event::Column::Id)
        .limit(EXPORT_MAX)
        .all(&state.db.conn)
        .await?;
    Ok(rows.into_iter().map(AuditEventView::new).collect())
}

/// The events as CSV, one row each, with a header row.
pub fn to_csv(events: &[AuditEventView]) -> String {
    fn field(s: &str) -> String {
        // Quote every field; double inner quotes. A leading =, +, - or @ is prefixed with ' so a
        // spreadsheet does not run it as a formula.
        let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_string() };
        format!("\"{}\"", s.replace('"', "\"\""))
    }
    let mut out =
        String::from("id,createdAt,action,actorUserId,credential,targetType,targetId,ipAddress,userAgent,metadata\r\n");
    for e in events {
        let row = [
            e.id.clone(),
            e.created_at.to_rfc3339(),
            e.action.clone(),
            e.actor_user_id.clone().unwrap_or_default(),
            e.credential.clone(),
            e.target_type.clone(),
            e.target_id.clone().unwrap_or_default(),
            e.ip_address.clone().unwrap_or_default(),
            e.user_agent.clone().unwrap_or_default(),
            e.metadata.0.to_string(),
        ];
        out.push_str(&row.iter().map(|v| field(v)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

pub type AuditKey = (Tenant, AuditFilter, PageParams);

/// Audit pages of many tenants at once (GraphQL `organizations { auditLogs }`); a tenant whose
/// role lacks `organization:manage-security` gets that error instead of a page.
pub async fn list_many(
    conn: &impl ConnectionTrait,
    keys: &[AuditKey],
) -> AppResult<HashMap<AuditKey, AppResult<Page<AuditEventView>>>> {
    let mut groups: HashMap<(AuditFilter, PageParams), Vec<&Tenant>> = HashMap::new();
    let mut out = HashMap::new();
    for (t, f, p) in keys {
        match t.require(Permission::ManageSecurity) {
            Ok(()) => groups.entry((f.clone(), *p)).or_default().push(t),
            Err(e) => {
                out.insert((t.clone(), f.clone(), *p), Err(e));
            }
        }
    }
    for ((filter, page), tenants) in groups {
        let org_ids: Vec<String> = tenants.iter().map(|t| t.org_id().to_string()).collect();
        let base = filter
            .apply(audit_event::Entity::find().filter(audit_event::Column::OrganizationId.is_in(org_ids.clone())));
        let (rows, totals) = windowed(conn, base, audit_event::Column::OrganizationId, &org_ids, page).await?;
        let mut grouped: HashMap<String, Vec<AuditEventView>> = HashMap::new();
        for (e, _) in rows {
            let v = AuditEventView::new(e);
            grouped.entry(v.organization_id.clone()).or_default().push(v);
        }
        for t in tenants {
            let items = grouped.remove(t.org_id()).unwrap_or_default();
            out.insert(
                (t.clone(), filter.clone(), page),
                Ok(Page::new(items, totals.get(t.org_id()).copied().unwrap_or(0), page)),
            );
        }
    }
    Ok(out)
}
