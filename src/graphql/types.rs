//! GraphQL object types: the domain views (derived `SimpleObject`s) plus their nested fields,
//! which all load through the request's DataLoaders.

use async_graphql::{ComplexObject, Context, SimpleObject};

use super::{list_complexity, page_args, request_ctx, to_gql};
use crate::domain::api_keys::ApiKeyView;
use crate::domain::audit::{AuditEventView, AuditFilter};
use crate::domain::invitations::InviteView;
use crate::domain::members::MemberView;
use crate::domain::organizations::OrganizationView;
use crate::domain::projects::{ProjectFilter, ProjectStatus, ProjectView};
use crate::domain::users::UserView;
use crate::domain::users::{LoginEventView, UserSummary};
use crate::domain::{ts, Page, Timestamp};

/// A page of a list: `{ items, total, offset, limit, hasMore }`.
#[derive(SimpleObject)]
#[graphql(concrete(name = "OrganizationPage", params(OrganizationView)))]
#[graphql(concrete(name = "ProjectPage", params(ProjectView)))]
#[graphql(concrete(name = "MembershipPage", params(MemberView)))]
#[graphql(concrete(name = "ApiKeyPage", params(ApiKeyView)))]
#[graphql(concrete(name = "InvitePage", params(InviteView)))]
#[graphql(concrete(name = "AuditEventPage", params(AuditEventView)))]
#[graphql(concrete(name = "LoginEventPage", params(LoginEventView)))]
pub struct PageOf<T: async_graphql::OutputType> {
    pub items: Vec<T>,
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
    pub has_more: bool,
}

impl<T: async_graphql::OutputType> From<Page<T>> for PageOf<T> {
    fn from(p: Page<T>) -> Self {
        PageOf { has_more: p.has_more(), items: p.items, total: p.total, offset: p.offset, limit: p.limit }
    }
}

#[ComplexObject]
impl OrganizationView {
    /// Members, newest first. Needs `organization:read` (the caller is a member).
    #[graphql(complexity = "list_complexity(limit, child_complexity)")]
    async fn members(
        &self,
        ctx: &Context<'_>,
        offset: Option<i32>,
        limit: Option<i32>,
    ) -> async_graphql::Result<PageOf<MemberView>> {
        let page = page_args(offset, limit)?;
        let r = request_ctx(ctx);
        let loaded = r.loaders.members.load_one((self.tenant.clone(), page)).await.map_err(to_gql)?;
        let loaded = loaded.unwrap_or_else(|| Page::new(Vec::new(), 0, page));
        super::prime::members(ctx, ctx.field(), &loaded.items).await;
        Ok(loaded.into())
    }

    /// Projects, newest first, filtered by name (`q`) and status. Needs `projects:read`.
    #[graphql(complexity = "list_complexity(limit, child_complexity)")]
    async fn projects(
        &self,
        ctx: &Context<'_>,
        offset: Option<i32>,
        limit: Option<i32>,
        q: Option<String>,
        status: Option<ProjectStatus>,
    ) -> async_graphql::Result<PageOf<ProjectView>> {
        let page = page_args(offset, limit)?;
        let r = request_ctx(ctx);
        let key = (self.tenant.clone(), ProjectFilter { q, status }, page);
        let loaded = r.loaders.projects.load_one(key).await.map_err(to_gql)?;
        let loaded = loaded.unwrap_or_else(|| Page::new(Vec::new(), 0, page));
        super::prime::projects(ctx, ctx.field(), &loaded.items).await;
        Ok(loaded.into())
    }

    /// Invitations, newest first. Needs `organization:manage-members`.
    #[graphql(complexity = "list_complexity(limit, child_complexity)")]
    async fn invites(
        &self,
        ctx: &Context<'_>,
        offset: Option<i32>,
        limit: Option<i32>,
    ) -> async_graphql::Result<PageOf<InviteView>> {
        let page = page_args(offset, limit)?;
        let loaded = request_ctx(ctx).loaders.invites.load_one((self.tenant.clone(), page)).await.map_err(to_gql)?;
        Ok(loaded.unwrap_or_else(|| Ok(Page::new(Vec::new(), 0, page))).map_err(to_gql)?.into())
    }

    /// The audit log, newest first, filtered by `action` and a time range. Owners only
    /// (`organization:manage-security`).
    #[graphql(complexity = "list_complexity(limit, child_complexity)")]
    async fn audit_logs(
        &self,
        ctx: &Context<'_>,
        offset: Option<i32>,
        limit: Option<i32>,
        action: Option<String>,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> async_graphql::Result<PageOf<AuditEventView>> {
        let page = page_args(offset, limit)?;
        let filter = AuditFilter { action, since: since.map(|t| t.0), until: until.map(|t| t.0) };
        let loaded =
            request_ctx(ctx).loaders.audit.load_one((self.tenant.clone(), filter, page)).await.map_err(to_gql)?;
        Ok(loaded.unwrap_or_else(|| Ok(Page::new(Vec::new(), 0, page))).map_err(to_gql)?.into())
    }

    /// The caller's own membership.
    async fn my_membership(&self, ctx: &Context<'_>) -> async_graphql::Result<MemberView> {
        let p = request_ctx(ctx).principal()?;
        Ok(MemberView {
            id: self.tenant.membership_id().to_string(),
            user_id: p.user.id.clone(),
            email: p.user.email.clone(),
            full_name: p.user.full_name.clone(),
            role: self.tenant.role(),
            joined_at: ts(self.tenant.joined_at()),
            organization_id: self.id.clone(),
        })
    }
}

#[ComplexObject]
impl ProjectView {
    /// The user who created the project (null once that account is gone).
    async fn created_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserSummary>> {
        let Some(id) = &self.created_by_user_id else { return Ok(None) };
        request_ctx(ctx).loaders.creators.load_one(id.clone()).await.map_err(to_gql)
    }

    /// The organization that owns the project, as the caller sees it.
    async fn organization(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<OrganizationView>> {
        request_ctx(ctx).loaders.organizations.load_one(self.organization_id.clone()).await.map_err(to_gql)
    }
}

#[ComplexObject]
impl MemberView {
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserSummary>> {
        request_ctx(ctx).loaders.member_users.load_one(self.user_id.clone()).await.map_err(to_gql)
    }
}

/// The answer to `createApiKey`: the key's view and, this once, the full secret.
#[derive(SimpleObject)]
pub struct CreateApiKeyPayload {
    /// The full key. It is never shown again.
    pub key: String,
    pub api_key: ApiKeyView,
}

/// The answer to `signIn` (the session cookie is set on the HTTP response).
#[derive(SimpleObject)]
pub struct SignInPayload {
    pub user: UserView,
    pub session: crate::domain::accounts::SessionInfo,
}

/// The answer to `signUp`.
#[derive(SimpleObject)]
pub struct SignUpPayload {
    pub user: UserView,
    pub organization: OrganizationView,
}
