//! `Query`: reads, each through the domain function its REST twin calls.

use async_graphql::{Context, Object};

use super::types::PageOf;
use super::{list_complexity, page_args, request_ctx, GqlResult};
use crate::domain::accounts;
use crate::domain::api_keys::{self, ApiKeyView};
use crate::domain::invitations::{self, InviteOffer};
use crate::domain::organizations::{self, OrganizationView};
use crate::domain::projects::{self, ProjectView};
use crate::domain::sessions::SessionView;
use crate::domain::users::{self, LoginEventView, UserView};

pub struct Query;

#[Object]
impl Query {
    /// The caller (`GET /api/user/me`). Scope `user:read`.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<UserView> {
        let r = request_ctx(ctx);
        users::me(&r.state, r.principal()?).await.gql()
    }

    /// The caller's current session; null unless the request came with a session cookie.
    async fn session(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<SessionView>> {
        let r = request_ctx(ctx);
        let Ok(Some(p)) = &r.auth else { return Ok(None) };
        Ok(accounts::current_session(&r.state, p).await.gql()?.map(|(s, _)| s))
    }

    /// The caller's organizations (`GET /api/user/organizations`). Scope `user:read`.
    #[graphql(complexity = "list_complexity(limit, child_complexity)")]
    async fn organizations(
        &self,
        ctx: &Context<'_>,
        offset: Option<i32>,
        limit: Option<i32>,
    ) -> async_graphql::Result<PageOf<OrganizationView>> {
        let page = page_args(offset, limit)?;
        let r = request_ctx(ctx);
        let page = organizations::list(&r.state, r.principal()?, page).await.gql()?;
        super::prime::organizations(ctx, ctx.field(), &page.items).await;
        Ok(page.into())
    }

    /// One organization (`GET /api/user/organizations/{id}`).
    async fn organization(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<OrganizationView> {
        let r = request_ctx(ctx);
        organizations::get(&r.state, r.principal()?, &id).await.gql()
    }

    /// One project (`GET {org}/projects/{id}`). Scope `projects:read`.
    async fn project(
        &self,
        ctx: &Context<'_>,
        organization_id: String,
        id: String,
    ) -> async_graphql::Result<ProjectView> {
        let r = request_ctx(ctx);
        projects::get(&r.state, r.principal()?, &organization_id, &id).await.gql()
    }

    /// The caller's API keys (`GET /api/auth/api-key/list`). Scope `api-keys:read`.
    #[graphql(complexity = "list_complexity(limit, child_complexity)")]
    async fn api_keys(
        &self,
        ctx: &Context<'_>,
        offset: Option<i32>,
        limit: Option<i32>,
    ) -> async_graphql::Result<PageOf<ApiKeyView>> {
        let page = page_args(offset, limit)?;
        let r = request_ctx(ctx);
        Ok(api_keys::list(&r.state, r.principal()?, page).await.gql()?.into())
    }

    /// One of the caller's API keys (`GET /api/auth/api-key/get`). Scope `api-keys:read`.
    async fn api_key(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<ApiKeyView> {
        let r = request_ctx(ctx);
        api_keys::get(&r.state, r.principal()?, &id).await.gql()
    }

    /// The caller's sign-in attempts, newest first (`GET /api/user/me/login-history`).
    #[graphql(complexity = "list_complexity(limit, child_complexity)")]
    async fn login_history(
        &self,
        ctx: &Context<'_>,
        offset: Option<i32>,
        limit: Option<i32>,
    ) -> async_graphql::Result<PageOf<LoginEventView>> {
        let page = page_args(offset, limit)?;
        let r = request_ctx(ctx);
        Ok(users::login_history(&r.state, r.principal()?, page).await.gql()?.into())
    }

    /// What an invitation offers, for its addressee (`GET /api/user/invites/{token}`).
    async fn invitation(&self, ctx: &Context<'_>, token: String) -> async_graphql::Result<InviteOffer> {
        let r = request_ctx(ctx);
        invitations::offer(&r.state, r.principal()?, &token).await.gql()
    }
}
