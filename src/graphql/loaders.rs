//! Per-request DataLoaders: every nested list and reference loads in batches, so a query costs a
//! bounded number of SQL statements per level whatever the number of parents. Loaders live for
//! one request only (no cross-request caching: revocations and edits show at once), and cache
//! within it, which is what lets list resolvers prime them (`prime.rs`): a batch made of
//! whatever keys happened to arrive within a time window would vary from run to run.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};

use crate::domain::access::{Principal, Tenant};
use crate::domain::audit::{self, AuditEventView, AuditKey};
use crate::domain::invitations::{self, InviteKey, InviteView};
use crate::domain::members::{self, MemberView};
use crate::domain::organizations::{self, OrganizationView};
use crate::domain::projects::{self, ProjectFilter, ProjectView};
use crate::domain::users::{self, UserSummary};
use crate::domain::{Page, PageParams};
use crate::error::{AppError, AppResult, Code};
use crate::state::AppState;

type Cached<L> = DataLoader<L, HashMapCache>;

/// One loader per kind of edge, so one level of the tree is one batch.
pub struct Loaders {
    /// `Project.createdBy`.
    pub creators: Cached<UserLoader>,
    /// `Membership.user`.
    pub member_users: Cached<UserLoader>,
    pub members: Cached<MemberPages>,
    pub projects: Cached<ProjectPages>,
    pub organizations: Cached<OrganizationLoader>,
    pub invites: Cached<InvitePages>,
    pub audit: Cached<AuditPages>,
}

fn cached<L>(loader: L) -> Cached<L>
where
    L: Send + Sync + 'static,
{
    // No batching window: list resolvers prime whole levels at once (`prime.rs`), and a single
    // reference has nothing to wait for.
    DataLoader::with_cache(loader, tokio::spawn, HashMapCache::default()).delay(std::time::Duration::ZERO)
}

impl Loaders {
    pub fn new(state: &AppState, principal: Option<Arc<Principal>>) -> Loaders {
        Loaders {
            creators: cached(UserLoader(state.clone())),
            member_users: cached(UserLoader(state.clone())),
            members: cached(MemberPages(state.clone())),
            projects: cached(ProjectPages { state: state.clone(), principal: principal.clone() }),
            organizations: cached(OrganizationLoader { state: state.clone(), principal }),
            invites: cached(InvitePages(state.clone())),
            audit: cached(AuditPages(state.clone())),
        }
    }
}

fn unauthenticated() -> AppError {
    AppError::new(Code::AuthenticationRequired, "Authentication required")
}

/// Co-members by id (for `createdBy` and `Membership.user`).
pub struct UserLoader(AppState);

impl Loader<String> for UserLoader {
    type Value = UserSummary;
    type Error = AppError;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, UserSummary>, AppError> {
        users::summaries(&self.0.db.conn, keys).await
    }
}

/// Member pages of checked tenants.
pub struct MemberPages(AppState);

impl Loader<(Tenant, PageParams)> for MemberPages {
    type Value = Page<MemberView>;
    type Error = AppError;

    async fn load(
        &self,
        keys: &[(Tenant, PageParams)],
    ) -> Result<HashMap<(Tenant, PageParams), Page<MemberView>>, AppError> {
        members::list_many(&self.0.db.conn, keys).await
    }
}

/// Project pages of checked tenants (the scope is checked on the request's principal).
pub struct ProjectPages {
    state: AppState,
    principal: Option<Arc<Principal>>,
}

type ProjectKey = (Tenant, ProjectFilter, PageParams);

impl Loader<ProjectKey> for ProjectPages {
    type Value = Page<ProjectView>;
    type Error = AppError;

    async fn load(&self, keys: &[ProjectKey]) -> Result<HashMap<ProjectKey, Page<ProjectView>>, AppError> {
        let principal = self.principal.as_ref().ok_or_else(unauthenticated)?;
        projects::list_many(&self.state.db.conn, principal, keys).await
    }
}

/// Organizations by id, as the request's principal sees them.
pub struct OrganizationLoader {
    state: AppState,
    principal: Option<Arc<Principal>>,
}

impl Loader<String> for OrganizationLoader {
    type Value = OrganizationView;
    type Error = AppError;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, OrganizationView>, AppError> {
        let principal = self.principal.as_ref().ok_or_else(unauthenticated)?;
        organizations::views_for(&self.state.db.conn, principal, keys).await
    }
}

/// Invitation pages of checked tenants (each page, or that tenant's permission error).
pub struct InvitePages(AppState);

impl Loader<InviteKey> for InvitePages {
    type Value = AppResult<Page<InviteView>>;
    type Error = AppError;

    async fn load(&self, keys: &[InviteKey]) -> Result<HashMap<InviteKey, Self::Value>, AppError> {
        invitations::list_many(&self.0.db.conn, keys).await
    }
}

/// Audit pages of checked tenants (each page, or that tenant's permission error).
pub struct AuditPages(AppState);

impl Loader<AuditKey> for AuditPages {
    type Value = AppResult<Page<AuditEventView>>;
    type Error = AppError;

    async fn load(&self, keys: &[AuditKey]) -> Result<HashMap<AuditKey, Self::Value>, AppError> {
        audit::list_many(&self.0.db.conn, keys).await
    }
}
