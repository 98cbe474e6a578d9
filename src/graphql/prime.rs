//! List resolvers prime the loaders of what their items' selections ask for, in one batch per
//! edge, before the items resolve: `organizations { items { projects { items { createdBy } } } }`
//! loads every organization's projects in one batch, then every creator in one batch, then the
//! nested resolvers find their values in the loaders' caches. This makes the statement count of
//! a query a function of its shape alone, never of timing. Errors are ignored here: the nested
//! resolver, which loads the same key, reports them where they belong.

use async_graphql::{Context, InputType, Name, SelectionField, Value};

use super::request_ctx;
use crate::domain::audit::AuditFilter;
use crate::domain::members::MemberView;
use crate::domain::organizations::OrganizationView;
use crate::domain::projects::{ProjectFilter, ProjectStatus, ProjectView};
use crate::domain::PageParams;

/// The sub-selections named `name` (every alias) under each `items` of `field`.
fn item_fields<'a>(field: &SelectionField<'a>, name: &'a str) -> Vec<SelectionField<'a>> {
    field
        .selection_set()
        .filter(|f| f.name() == "items")
        .flat_map(|items| items.selection_set().filter(move |f| f.name() == name).collect::<Vec<_>>())
        .collect()
}

fn arg<T: InputType>(args: &[(Name, Value)], name: &str) -> Option<T> {
    let v = args.iter().find(|(n, _)| n.as_str() == name).map(|(_, v)| v.clone());
    T::parse(v).ok()
}

/// The page arguments of a list field, if they are valid (an invalid one fails in the resolver).
fn page_of(field: &SelectionField<'_>) -> Option<(Vec<(Name, Value)>, PageParams)> {
    let args = field.arguments().ok()?;
    let page = PageParams::new(
        arg::<Option<i32>>(&args, "offset")?.map(i64::from),
        arg::<Option<i32>>(&args, "limit")?.map(i64::from),
    )
    .ok()?;
    Some((args, page))
}

/// For a page of organizations (`field` is the page field).
pub async fn organizations(ctx: &Context<'_>, field: SelectionField<'_>, orgs: &[OrganizationView]) {
    let loaders = &request_ctx(ctx).loaders;
    for pf in item_fields(&field, "projects") {
        let Some((args, page)) = page_of(&pf) else { continue };
        let filter = ProjectFilter {
            q: arg::<Option<String>>(&args, "q").flatten(),
            status: arg::<Option<ProjectStatus>>(&args, "status").flatten(),
        };
        let keys = orgs.iter().map(|o| (o.tenant.clone(), filter.clone(), page));
        if let Ok(pages) = loaders.projects.load_many(keys).await {
            let items: Vec<ProjectView> = pages.into_values().flat_map(|p| p.items).collect();
            projects(ctx, pf, &items).await;
        }
    }
    for inf in item_fields(&field, "invites") {
        let Some((_, page)) = page_of(&inf) else { continue };
        let _ = loaders.invites.load_many(orgs.iter().map(|o| (o.tenant.clone(), page))).await;
    }
    for af in item_fields(&field, "auditLogs") {
        let Some((args, page)) = page_of(&af) else { continue };
        let when = |name: &str| arg::<Option<crate::domain::Timestamp>>(&args, name).flatten().map(|t| t.0);
        let filter = AuditFilter {
            action: arg::<Option<String>>(&args, "action").flatten(),
            since: when("since"),
            until: when("until"),
        };
        let _ = loaders.audit.load_many(orgs.iter().map(|o| (o.tenant.clone(), filter.clone(), page))).await;
    }
    for mf in item_fields(&field, "members") {
        let Some((_, page)) = page_of(&mf) else { continue };
        let keys = orgs.iter().map(|o| (o.tenant.clone(), page));
        if let Ok(pages) = loaders.members.load_many(keys).await {
            let items: Vec<MemberView> = pages.into_values().flat_map(|p| p.items).collect();
            members(ctx, mf, &items).await;
        }
    }
}

/// For a page of projects (`field` is the page field).
pub async fn projects(ctx: &Context<'_>, field: SelectionField<'_>, items: &[ProjectView]) {
    let loaders = &request_ctx(ctx).loaders;
    if !item_fields(&field, "createdBy").is_empty() {
        let ids: Vec<String> = items.iter().filter_map(|p| p.created_by_user_id.clone()).collect();
        let _ = loaders.creators.load_many(ids).await;
    }
    if !item_fields(&field, "organization").is_empty() {
        let ids: Vec<String> = items.iter().map(|p| p.organization_id.clone()).collect();
        let _ = loaders.organizations.load_many(ids).await;
    }
}

/// For a page of members (`field` is the page field).
pub async fn members(ctx: &Context<'_>, field: SelectionField<'_>, items: &[MemberView]) {
    if !item_fields(&field, "user").is_empty() {
        let ids: Vec<String> = items.iter().map(|m| m.user_id.clone()).collect();
        let _ = request_ctx(ctx).loaders.member_users.load_many(ids).await;
    }
}
