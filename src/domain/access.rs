//! Who may do what (API.md 2.3-2.5): the principal, scopes on the credential, tenant permissions
//! from the membership role. Both checks live here and nowhere else; REST and GraphQL call them
//! through the domain functions.

use std::fmt;
use std::str::FromStr;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::json;

use crate::auth::tokens::is_ulid;
use crate::entities::{membership, user};
use crate::error::{AppError, AppResult, Code};

/// User-facing scopes: what a PAT may carry (or an OAuth client request).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, async_graphql::Enum)]
pub enum Scope {
    #[graphql(name = "USER_READ")]
    UserRead,
    #[graphql(name = "USER_WRITE")]
    UserWrite,
    #[graphql(name = "PROJECTS_READ")]
    ProjectsRead,
    #[graphql(name = "PROJECTS_WRITE")]
    ProjectsWrite,
    #[graphql(name = "SUBSCRIPTION_READ")]
    SubscriptionRead,
    #[graphql(name = "SUBSCRIPTION_WRITE")]
    SubscriptionWrite,
    #[graphql(name = "API_KEYS_READ")]
    ApiKeysRead,
    #[graphql(name = "API_KEYS_WRITE")]
    ApiKeysWrite,
    #[graphql(name = "API_KEYS_DELETE")]
    ApiKeysDelete,
}

impl Scope {
    pub const ALL: [Scope; 9] = [
        Scope::UserRead,
        Scope::UserWrite,
        Scope::ProjectsRead,
        Scope::ProjectsWrite,
        Scope::SubscriptionRead,
        Scope::SubscriptionWrite,
        Scope::ApiKeysRead,
        Scope::ApiKeysWrite,
        Scope::ApiKeysDelete,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::UserRead => "user:read",
            Scope::UserWrite => "user:write",
            Scope::ProjectsRead => "projects:read",
            Scope::ProjectsWrite => "projects:write",
            Scope::SubscriptionRead => "subscription:read",
            Scope::SubscriptionWrite => "subscription:write",
            Scope::ApiKeysRead => "api-keys:read",
            Scope::ApiKeysWrite => "api-keys:write",
            Scope::ApiKeysDelete => "api-keys:delete",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Scope::ALL.into_iter().find(|sc| sc.as_str() == s).ok_or(())
    }
}

impl utoipa::PartialSchema for Scope {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        super::string_enum_schema(&Scope::ALL.map(Scope::as_str))
    }
}

impl utoipa::ToSchema for Scope {}

impl utoipa::PartialSchema for Role {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        super::string_enum_schema(&["owner", "admin", "member"])
    }
}

impl utoipa::ToSchema for Role {}

impl serde::Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A membership role in an organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, async_graphql::Enum)]
pub enum Role {
    #[graphql(name = "OWNER")]
    Owner,
    #[graphql(name = "ADMIN")]
    Admin,
    #[graphql(name = "MEMBER")]
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }

    /// The tenant permissions of the role (API.md 2.5).
    pub fn permissions(self) -> &'static [Permission] {
        use Permission::*;
        match self {
            Role::Owner => &[OrganizationRead, OrganizationUpdate, ManageMembers, ManageBilling, ManageSecurity],
            Role::Admin => &[OrganizationRead, OrganizationUpdate, ManageMembers],
            Role::Member => &[OrganizationRead],
        }
    }

    pub fn has(self, p: Permission) -> bool {
        self.permissions().contains(&p)
    }
}

impl<'de> serde::Deserialize<'de> for Role {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Role::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("unknown role `{s}`, expected one of `owner`, `admin`, `member`"))
        })
    }
}

impl serde::Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    OrganizationRead,
    OrganizationUpdate,
    ManageMembers,
    ManageBilling,
    ManageSecurity,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::OrganizationRead => "organization:read",
            Permission::OrganizationUpdate => "organization:update",
            Permission::ManageMembers => "organization:manage-members",
            Permission::ManageBilling => "organization:manage-billing",
            Permission::ManageSecurity => "organization:manage-security",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialKind {
    Session,
    ApiKey,
    /// OAuth access tokens (later phase): scopes come from the token.
    #[allow(dead_code)]
    OAuth,
}

impl CredentialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Session => "session",
            CredentialKind::ApiKey => "api_key",
            CredentialKind::OAuth => "oauth",
        }
    }
}

/// The authenticated caller of one request, whichever credential it came with.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user: user::Model,
    pub kind: CredentialKind,
    /// The scopes the credential carries: all user-facing scopes for a session.
    pub scopes: Vec<Scope>,
    /// The organization a PAT is pinned to.
    pub pinned_org: Option<String>,
    /// The session id, for a session credential.
    pub session_id: Option<String>,
    /// The key id, for a PAT.
    pub api_key_id: Option<String>,
    /// Where the request came from (for audit events).
    pub client: super::ClientInfo,
    /// The user's organization count, read with the credential (for `/api/user/me`).
    pub organization_count: u64,
    /// When the credential stops working (a key's expiry, a session's current expiry).
    pub credential_expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Tenant checks remembered with a cached credential ([`tenant_for_read`]).
    pub standing: crate::auth::cache::Standing,
}

impl Principal {
    pub fn user_id(&self) -> &str {
        &self.user.id
    }

    pub fn is_session(&self) -> bool {
        self.kind == CredentialKind::Session
    }

    /// The route needs every scope in `required` on the credential.
    pub fn require(&self, required: &[Scope]) -> AppResult<()> {
        let missing: Vec<Scope> = required.iter().copied().filter(|s| !self.scopes.contains(s)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        match self.kind {
            CredentialKind::Session => Err(AppError::new(Code::InsufficientPermissions, "Insufficient permissions")),
            _ if self.scopes.is_empty() => {
                Err(AppError::new(Code::NoScopesAvailable, "This credential carries no scopes"))
            }
            CredentialKind::ApiKey => {
                let names = |v: &[Scope]| v.iter().map(|s| s.as_str()).collect::<Vec<_>>();
                Err(AppError::new(
                    Code::ApiKeyMissingScopes,
                    format!("API key is missing required scopes: {}", names(&missing).join(", ")),
                )
                .with_meta(json!({ "requiredScopes": names(required), "missingScopes": names(&missing) })))
            }
            CredentialKind::OAuth => Err(AppError::new(Code::InsufficientPermissions, "Insufficient scope")),
        }
    }

    /// Routes only a signed-in browser session may call.
    pub fn require_session(&self) -> AppResult<()> {
        if self.is_session() {
            Ok(())
        } else {
            Err(AppError::new(Code::SessionRequired, "This action requires a signed-in session"))
        }
    }
}

/// The caller's checked standing in one organization. It can only be made by [`tenant`], so a
/// domain function that takes one cannot be called without the tenant check.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tenant {
    org_id: String,
    role: Role,
    membership_id: String,
    joined_at: chrono::DateTime<chrono::Utc>,
}

impl Tenant {
    pub fn org_id(&self) -> &str {
        &self.org_id
    }
    pub fn role(&self) -> Role {
        self.role
    }
    pub fn membership_id(&self) -> &str {
        &self.membership_id
    }
    pub fn joined_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.joined_at
    }
    /// The standing a membership row gives. Only the domain builds tenants from memberships it
    /// looked up for the principal itself (its own lists), never from input.
    pub(super) fn from_membership(m: &membership::Model) -> AppResult<Tenant> {
        let role = Role::parse(&m.role)
            .ok_or_else(|| AppError::internal(format!("membership {} has role {}", m.id, m.role)))?;
        Ok(Tenant { org_id: m.organization_id.clone(), role, membership_id: m.id.clone(), joined_at: m.created_at })
    }

    pub fn require(&self, p: Permission) -> AppResult<()> {
        if self.role.has(p) {
            Ok(())
        } else {
            Err(AppError::new(
                Code::InsufficientPermissions,
                format!("Your role in this organization lacks the {} permission", p.as_str()),
            ))
        }
    }
}

/// Takes the organization's row lock for the rest of the transaction (PostgreSQL), so rules that
/// count its owners see every concurrent change in order. SQLite needs none: its write
/// transactions (`BEGIN IMMEDIATE`) already run one at a time.
pub async fn lock_organizations(conn: &impl ConnectionTrait, org_ids: &[String]) -> AppResult<()> {
    if conn.get_database_backend() != sea_orm::DbBackend::Postgres || org_ids.is_empty() {
        return Ok(());
    }
    let list = (1..=org_ids.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    let sql = format!("SELECT id FROM organizations WHERE id IN ({list}) ORDER BY id FOR UPDATE");
    let values = org_ids.iter().map(|id| id.clone().into()).collect();
    conn.query_all_raw(crate::db::statement(sea_orm::DbBackend::Postgres, &sql, values)).await?;
    Ok(())
}

/// Checks the path's organization: a ULID (else `TENANT_CONTEXT_MISSING`), within the PAT's pin
/// (else `FORBIDDEN`), the caller a member (else `FORBIDDEN`, also when it does not exist), and
/// the role holding `permission` (else `INSUFFICIENT_PERMISSIONS`). Reads the membership on
/// `conn` every time: the check for a change, inside its transaction.
pub async fn tenant(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    org_id: &str,
    permission: Permission,
) -> AppResult<Tenant> {
    let t = member_of(conn, principal, org_id).await?;
    t.require(permission)?;
    Ok(t)
}

/// [`tenant`] for reads outside a transaction: a membership checked for the same cached
/// credential shortly before may answer instead of the database (`Principal::standing`; the
/// rules that keep a removal or demotion effective on the next request, on every instance, are
/// in src/auth/cache.rs).
pub async fn tenant_for_read(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    org_id: &str,
    permission: Permission,
) -> AppResult<Tenant> {
    let t = match principal.standing.get(org_id) {
        // The pin was checked before the standing was kept; checked again as it costs nothing.
        Some(t) if principal.pinned_org.as_ref().is_none_or(|pin| pin == org_id) => t,
        _ => {
            let ticket = principal.standing.ticket();
            let t = member_of(conn, principal, org_id).await?;
            principal.standing.put(ticket, &t);
            t
        }
    };
    t.require(permission)?;
    Ok(t)
}

/// The caller's membership in the path's organization (the checks of [`tenant`] but the role).
async fn member_of(conn: &impl ConnectionTrait, principal: &Principal, org_id: &str) -> AppResult<Tenant> {
    if !is_ulid(org_id) {
        return Err(AppError::new(
            Code::TenantContextMissing,
            "The organization id in the path is missing or malformed",
        ));
    }
    if let Some(pin) = &principal.pinned_org {
        if pin != org_id {
            return Err(AppError::forbidden("This API key is pinned to another organization"));
        }
    }
    let m = membership::Entity::find()
        .filter(membership::Column::OrganizationId.eq(org_id))
        .filter(membership::Column::UserId.eq(principal.user_id()))
        .one(conn)
        .await?
        .ok_or_else(|| AppError::forbidden("You are not a member of this organization"))?;
    Tenant::from_membership(&m)
}
