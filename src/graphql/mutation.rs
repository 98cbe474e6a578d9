//! `Mutation`: writes, each through the domain function its REST twin calls, with the same side
//! effects (cookies, email, audit).

use async_graphql::{Context, Object};

use super::inputs::{CreateApiKeyInput, UpdateApiKeyInput, UpdateOrganizationInput, UpdateProjectInput};
use super::types::{CreateApiKeyPayload, SignInPayload, SignUpPayload};
use super::{request_ctx, GqlResult};
use crate::auth::{clear_session_cookie, session_cookie};
use crate::domain::access::Role;
use crate::domain::accounts::{self, SignIn, SignUp};
use crate::domain::api_keys::{self, ApiKeyView, DeleteKey};
use crate::domain::invitations::{self, CreateInvites, InviteView};
use crate::domain::members::{self, ChangeRole, MemberView};
use crate::domain::organizations::{self, CreateOrganization, OrganizationView};
use crate::domain::projects::{self, CreateProject, ProjectView};
use crate::domain::sessions::{self, SESSION_TTL};
use crate::domain::users::{self, DeleteMe, UpdateMe, UserView};
use crate::ratelimit::Bucket;

pub struct Mutation;

#[Object]
impl Mutation {
    /// Creates an account (`POST /api/auth/sign-up/email`). Does not sign in.
    async fn sign_up(&self, ctx: &Context<'_>, input: SignUp) -> async_graphql::Result<SignUpPayload> {
        let r = request_ctx(ctx);
        r.state.limiter.enforce(Bucket::SignUp, r.client.ip).await.gql()?;
        let done = accounts::sign_up(&r.state, input, &r.client).await.gql()?;
        Ok(SignUpPayload { user: done.user, organization: done.organization })
    }

    /// Signs in (`POST /api/auth/sign-in/email`); the session cookie is set on the HTTP response.
    async fn sign_in(&self, ctx: &Context<'_>, input: SignIn) -> async_graphql::Result<SignInPayload> {
        let r = request_ctx(ctx);
        r.state.limiter.enforce(Bucket::SignIn, r.client.ip).await.gql()?;
        let signed = accounts::sign_in(&r.state, input, &r.client).await.gql()?;
        r.cookies.push(session_cookie(&r.state.config, &signed.token, signed.remember_me.then_some(SESSION_TTL)));
        Ok(SignInPayload { user: signed.user, session: signed.session })
    }

    /// Ends the current session and clears the cookie (`POST /api/auth/sign-out`).
    async fn sign_out(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let r = request_ctx(ctx);
        let principal = r.auth.as_ref().ok().cloned().flatten();
        sessions::sign_out(&r.state, principal.as_deref()).await.gql()?;
        r.cookies.push(clear_session_cookie(&r.state.config));
        Ok(true)
    }

    /// `PUT /api/user/me`. Scope `user:write`.
    async fn update_me(&self, ctx: &Context<'_>, input: UpdateMe) -> async_graphql::Result<UserView> {
        let r = request_ctx(ctx);
        users::update_me(&r.state, r.principal()?, input).await.gql()
    }

    /// `POST /api/user/organizations`. Scope `user:write`.
    async fn create_organization(
        &self,
        ctx: &Context<'_>,
        input: CreateOrganization,
    ) -> async_graphql::Result<OrganizationView> {
        let r = request_ctx(ctx);
        organizations::create(&r.state, r.principal()?, input).await.gql()
    }

    /// `PUT /api/user/organizations/{id}`. Scope `user:write`, permission `organization:update`.
    async fn update_organization(
        &self,
        ctx: &Context<'_>,
        id: String,
        input: UpdateOrganizationInput,
    ) -> async_graphql::Result<OrganizationView> {
        let r = request_ctx(ctx);
        organizations::update(&r.state, r.principal()?, &id, input.into()).await.gql()
    }

    /// `POST {org}/projects`. Scope `projects:write`.
    async fn create_project(
        &self,
        ctx: &Context<'_>,
        organization_id: String,
        input: CreateProject,
    ) -> async_graphql::Result<ProjectView> {
        let r = request_ctx(ctx);
        projects::create(&r.state, r.principal()?, &organization_id, input).await.gql()
    }

    /// `PUT {org}/projects/{id}`. Scope `projects:write`.
    async fn update_project(
        &self,
        ctx: &Context<'_>,
        organization_id: String,
        id: String,
        input: UpdateProjectInput,
    ) -> async_graphql::Result<ProjectView> {
        let r = request_ctx(ctx);
        projects::update(&r.state, r.principal()?, &organization_id, &id, input.into()).await.gql()
    }

    /// `DELETE {org}/projects/{id}`; answers the deleted id. Scope `projects:write`.
    async fn delete_project(
        &self,
        ctx: &Context<'_>,
        organization_id: String,
        id: String,
    ) -> async_graphql::Result<String> {
        let r = request_ctx(ctx);
        projects::delete(&r.state, r.principal()?, &organization_id, &id).await.gql()
    }

    /// `POST /api/auth/api-key/create`: the payload's `key` is the only time the secret is shown.
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        input: CreateApiKeyInput,
    ) -> async_graphql::Result<CreateApiKeyPayload> {
        let r = request_ctx(ctx);
        let created = api_keys::create(&r.state, r.principal()?, input.into()).await.gql()?;
        Ok(CreateApiKeyPayload { key: created.key, api_key: created.view })
    }

    /// `POST /api/auth/api-key/update`. Scope `api-keys:write`.
    async fn update_api_key(&self, ctx: &Context<'_>, input: UpdateApiKeyInput) -> async_graphql::Result<ApiKeyView> {
        let r = request_ctx(ctx);
        api_keys::update(&r.state, r.principal()?, input.into()).await.gql()
    }

    /// `POST /api/auth/api-key/delete`; answers the deleted id. Scope `api-keys:delete`.
    async fn delete_api_key(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<String> {
        let r = request_ctx(ctx);
        api_keys::delete(&r.state, r.principal()?, DeleteKey { key_id: id }).await.gql()
    }

    /// `POST {org}/invites`: one invitation and one email per address. Permission
    /// `organization:manage-members`.
    async fn invite_members(
        &self,
        ctx: &Context<'_>,
        organization_id: String,
        emails: Vec<String>,
        role: Role,
    ) -> async_graphql::Result<Vec<InviteView>> {
        let r = request_ctx(ctx);
        invitations::create(&r.state, r.principal()?, &organization_id, CreateInvites { emails, role: Some(role) })
            .await
            .gql()
    }

    /// `DELETE {org}/invites/{id}`.
    async fn cancel_invite(
        &self,
        ctx: &Context<'_>,
        organization_id: String,
        id: String,
    ) -> async_graphql::Result<InviteView> {
        let r = request_ctx(ctx);
        invitations::cancel(&r.state, r.principal()?, &organization_id, &id).await.gql()
    }

    /// `POST {org}/invites/{id}/resend`: a new link; the old one dies.
    async fn resend_invite(
        &self,
        ctx: &Context<'_>,
        organization_id: String,
        id: String,
    ) -> async_graphql::Result<InviteView> {
        let r = request_ctx(ctx);
        invitations::resend(&r.state, r.principal()?, &organization_id, &id).await.gql()
    }

    /// `POST /api/user/invites/{token}/accept`: the new membership.
    async fn accept_invite(&self, ctx: &Context<'_>, token: String) -> async_graphql::Result<MemberView> {
        let r = request_ctx(ctx);
        invitations::accept(&r.state, r.principal()?, &token).await.gql()
    }

    /// `PUT {org}/members/{id}/role`.
    async fn update_member_role(
        &self,
        ctx: &Context<'_>,
        organization_id: String,
        member_id: String,
        role: Role,
    ) -> async_graphql::Result<MemberView> {
        let r = request_ctx(ctx);
        members::change_role(&r.state, r.principal()?, &organization_id, &member_id, ChangeRole { role: Some(role) })
            .await
            .gql()
    }

    /// `DELETE {org}/members/{id}`: remove a member, or leave (your own membership id).
    async fn remove_member(
        &self,
        ctx: &Context<'_>,
        organization_id: String,
        member_id: String,
    ) -> async_graphql::Result<String> {
        let r = request_ctx(ctx);
        members::remove(&r.state, r.principal()?, &organization_id, &member_id).await.gql()
    }

    /// `DELETE {org}`: a signed-in owner deletes the organization and everything in it.
    async fn delete_organization(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<String> {
        let r = request_ctx(ctx);
        organizations::delete(&r.state, r.principal()?, &id).await.gql()
    }

    /// `DELETE /api/user/me`: session only, with the password; clears the session cookie.
    async fn delete_me(&self, ctx: &Context<'_>, password: String) -> async_graphql::Result<String> {
        let r = request_ctx(ctx);
        let id = users::delete_me(&r.state, r.principal()?, DeleteMe { password }).await.gql()?;
        r.cookies.push(clear_session_cookie(&r.state.config));
        Ok(id)
    }
}
