//! The user object (API.md 3) and the account routes on it (`/api/user/me`).

use std::collections::HashMap;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use validator::Validate;

use super::access::{Principal, Role, Scope};
use super::{now, random_suffix, slugify, ts, ts_opt, validate, Page, PageParams, Timestamp};
use crate::entities::{login_event, membership, organization, password_credential, user};
use crate::error::{on_unique, AppError, AppResult, FieldError};
use crate::state::AppState;

#[derive(Clone, Debug, Serialize, async_graphql::SimpleObject, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmailPreferences {
    pub marketing_opt_out: bool,
}

#[derive(Clone, Debug, Serialize, async_graphql::SimpleObject, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "User")]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub full_name: String,
    pub handle: String,
    pub is_verified: bool,
    pub verified_at: Option<Timestamp>,
    pub is_active: bool,
    pub last_login_at: Option<Timestamp>,
    /// The platform role: `user` or `admin`.
    pub role: String,
    pub organization_count: u64,
    pub two_factor_enabled: bool,
    pub email_preferences: EmailPreferences,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl UserView {
    pub fn new(u: user::Model, organization_count: u64) -> Self {
        UserView {
            id: u.id,
            email: u.email,
            full_name: u.full_name,
            handle: u.handle,
            is_verified: u.is_verified,
            verified_at: ts_opt(u.verified_at),
            is_active: u.is_active,
            last_login_at: ts_opt(u.last_login_at),
            role: u.role,
            organization_count,
            two_factor_enabled: u.two_factor_enabled,
            email_preferences: EmailPreferences { marketing_opt_out: u.marketing_opt_out },
            created_at: ts(u.created_at),
            updated_at: ts(u.updated_at),
        }
    }
}

/// Membership counts for many users in one statement.
pub async fn organization_counts(conn: &impl ConnectionTrait, user_ids: &[String]) -> AppResult<HashMap<String, u64>> {
    if user_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let base = membership::Entity::find().filter(membership::Column::UserId.is_in(user_ids.iter().cloned()));
    super::counts_by(conn, base, membership::Column::UserId).await
}

/// The views of many users: one statement for the counts, whatever their number.
pub async fn views(conn: &impl ConnectionTrait, users: Vec<user::Model>) -> AppResult<Vec<UserView>> {
    let ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
    let counts = organization_counts(conn, &ids).await?;
    Ok(users
        .into_iter()
        .map(|u| {
            let n = counts.get(&u.id).copied().unwrap_or(0);
            UserView::new(u, n)
        })
        .collect())
}

pub async fn view(conn: &impl ConnectionTrait, u: user::Model) -> AppResult<UserView> {
    Ok(views(conn, vec![u]).await?.pop().expect("one view per user"))
}

/// Another user as a co-member sees them (GraphQL `Membership.user`, `Project.createdBy`): who
/// they are, nothing about their account or their other organizations.
#[derive(Clone, Debug, Serialize, async_graphql::SimpleObject)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "UserSummary")]
pub struct UserSummary {
    pub id: String,
    pub email: String,
    pub full_name: String,
    pub handle: String,
}

/// Summaries of many users in one statement.
pub async fn summaries(conn: &impl ConnectionTrait, ids: &[String]) -> AppResult<HashMap<String, UserSummary>> {
    let rows = user::Entity::find().filter(user::Column::Id.is_in(ids.iter().cloned())).all(conn).await?;
    Ok(rows
        .into_iter()
        .map(|u| (u.id.clone(), UserSummary { id: u.id, email: u.email, full_name: u.full_name, handle: u.handle }))
        .collect())
}

/// A new user row: active, role `user`, no second factor, marketing mail allowed. Sign-up inserts
/// it unverified; the benchmark seeds verified ones.
pub fn new_user(
    email: &str,
    full_name: &str,
    handle: &str,
    verified: bool,
    t: chrono::DateTime<chrono::Utc>,
) -> user::ActiveModel {
    user::ActiveModel {
        id: Set(crate::auth::tokens::new_id()),
        email: Set(email.to_string()),
        full_name: Set(full_name.to_string()),
        handle: Set(handle.to_string()),
        is_verified: Set(verified),
        verified_at: Set(verified.then_some(t)),
        is_active: Set(true),
        last_login_at: Set(None),
        role: Set("user".into()),
        two_factor_enabled: Set(false),
        marketing_opt_out: Set(false),
        created_at: Set(t),
        updated_at: Set(t),
    }
}

/// `GET /api/user/me`. The organization count came with the credential's own lookup.
pub async fn me(_state: &AppState, principal: &Principal) -> AppResult<UserView> {
    principal.require(&[Scope::UserRead])?;
    Ok(UserView::new(principal.user.clone(), principal.organization_count))
}

/// `"k.id AS k_id, k.user_id AS k_user_id, ..."`: every column of `E` under a table alias, each
/// renamed with a prefix, so two entities can come back in one row.
pub(super) fn aliased_columns<E: EntityTrait>(alias: &str) -> String {
    use sea_orm::{IdenStatic, Iterable};
    E::Column::iter().map(|c| format!("{alias}.{0} AS {alias}_{0}", c.as_str())).collect::<Vec<_>>().join(", ")
}

/// A credential row (`api_keys` or `sessions`, whose `column` equals `value`) with its user and
/// the user's organization count, in one statement: the hot path of every authenticated request.
pub async fn credential_with_owner<E>(
    conn: &impl ConnectionTrait,
    column: E::Column,
    value: String,
) -> AppResult<Option<(E::Model, user::Model, u64)>>
where
    E: EntityTrait,
    E::Model: sea_orm::FromQueryResult,
{
    use sea_orm::{FromQueryResult, IdenStatic};
    // The statement text depends only on (backend, table, column): built once each, as this runs
    // on every authenticated request.
    type Key = (bool, &'static str, &'static str); // (PostgreSQL?, table, column)
    static SQL: std::sync::LazyLock<std::sync::RwLock<HashMap<Key, sea_orm::Statement>>> =
        std::sync::LazyLock::new(Default::default);
    let backend = conn.get_database_backend();
    let key: Key = (backend == sea_orm::DbBackend::Postgres, E::default().table_name(), column.as_str());
    let cached = SQL.read().ok().and_then(|m| m.get(&key).cloned());
    let mut stmt = cached.unwrap_or_else(|| {
        let sql = format!(
            "SELECT {}, {}, (SELECT COUNT(*) FROM memberships m WHERE m.user_id = u.id) AS u_organization_count \
             FROM {} c JOIN users u ON u.id = c.user_id WHERE c.{} = $1",
            aliased_columns::<E>("c"),
            aliased_columns::<user::Entity>("u"),
            key.1,
            key.2
        );
        let stmt = crate::db::statement(backend, &sql, vec![]);
        if let Ok(mut m) = SQL.write() {
            m.insert(key, stmt.clone());
        }
        stmt
    });
    stmt.values = Some(sea_orm::Values(vec![value.into()]));
    let Some(row) = conn.query_one_raw(stmt).await? else {
        return Ok(None);
    };
    let credential = E::Model::from_query_result(&row, "c_")?;
    let owner = user::Model::from_query_result(&row, "u_")?;
    let count: i64 = row.try_get("u_", "organization_count")?;
    Ok(Some((credential, owner, count.max(0) as u64)))
}

#[derive(Clone, Debug, Default, Deserialize, Validate, async_graphql::InputObject, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "EmailPreferencesInput")]
pub struct EmailPreferencesInput {
    pub marketing_opt_out: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize, Validate, async_graphql::InputObject, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "UpdateMeInput")]
pub struct UpdateMe {
    #[validate(
        length(min = 1, max = 100, message = "Must be 1 to 100 characters"),
        custom(function = "super::single_line")
    )]
    pub full_name: Option<String>,
    #[validate(length(min = 3, max = 32, message = "Must be 3 to 32 characters"), custom(function = "check_handle"))]
    pub handle: Option<String>,
    pub email_preferences: Option<EmailPreferencesInput>,
}

fn check_handle(h: &str) -> Result<(), validator::ValidationError> {
    if super::is_slug(h) {
        Ok(())
    } else {
        Err(super::invalid("Only lower-case letters, digits and single dashes"))
    }
}

/// `PUT /api/user/me`.
pub async fn update_me(state: &AppState, principal: &Principal, mut input: UpdateMe) -> AppResult<UserView> {
    principal.require(&[Scope::UserWrite])?;
    if let Some(n) = input.full_name.as_mut() {
        super::trim(n);
    }
    if let Some(h) = input.handle.as_mut() {
        *h = h.trim().to_lowercase();
    }
    validate(&input)?;
    // Re-read: the principal's copy may be a little stale.
    let current = user::Entity::find_by_id(principal.user_id().to_string())
        .one(&state.db.conn)
        .await?
        .ok_or_else(|| AppError::not_found("User"))?;
    let mut am = current.into_active_model();
    if let Some(n) = input.full_name {
        am.full_name = Set(n);
    }
    if let Some(h) = input.handle {
        am.handle = Set(h);
    }
    if let Some(p) = input.email_preferences.and_then(|p| p.marketing_opt_out) {
        am.marketing_opt_out = Set(p);
    }
    am.updated_at = Set(now());
    let updated =
        am.update(&state.db.conn).await.map_err(|e| on_unique(e, || AppError::conflict("That handle is taken")))?;
    view(&state.db.conn, updated).await
}

/// A free handle derived from an email's local part: `[a-z0-9-]`, made unique with a suffix.
pub async fn free_handle(conn: &impl ConnectionTrait, email: &str) -> AppResult<String> {
    let local = email.split('@').next().unwrap_or("");
    let mut base = slugify(local, 24);
    if base.len() < 3 {
        base =
            format!("{}{}", if base.is_empty() { "user" } else { &base }, "-user").trim_start_matches('-').to_string();
    }
    let mut candidate = base.clone();
    for _ in 0..5 {
        let taken = user::Entity::find().filter(user::Column::Handle.eq(candidate.clone())).one(conn).await?.is_some();
        if !taken {
            return Ok(candidate);
        }
        candidate = format!("{base}-{}", random_suffix());
    }
    Ok(format!("{base}-{}", crate::auth::tokens::random_alphanumeric(10).to_lowercase()))
}

#[derive(Clone, Debug, Serialize, async_graphql::SimpleObject, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "LoginEvent")]
pub struct LoginEventView {
    pub id: String,
    pub success: bool,
    pub method: String,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: Timestamp,
}

impl LoginEventView {
    fn new(e: login_event::Model) -> Self {
        LoginEventView {
            id: e.id,
            success: e.success,
            method: e.method,
            ip_address: e.ip_address,
            user_agent: e.user_agent,
            created_at: ts(e.created_at),
        }
    }
}

fn history_of(user_id: &str) -> sea_orm::Select<login_event::Entity> {
    login_event::Entity::find()
        .filter(login_event::Column::UserId.eq(user_id))
        .order_by_desc(login_event::Column::CreatedAt)
        .order_by_desc(login_event::Column::Id)
}

/// `GET /api/user/me/login-history`: sign-in attempts, newest first.
pub async fn login_history(
    state: &AppState,
    principal: &Principal,
    page: PageParams,
) -> AppResult<Page<LoginEventView>> {
    principal.require(&[Scope::UserRead])?;
    let conn = &state.db.conn;
    let total =
        login_event::Entity::find().filter(login_event::Column::UserId.eq(principal.user_id())).count(conn).await?;
    let rows = history_of(principal.user_id()).offset(page.offset).limit(page.limit).all(conn).await?;
    Ok(Page::new(rows.into_iter().map(LoginEventView::new).collect(), total, page))
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportedMembership {
    pub id: String,
    pub organization_id: String,
    pub organization_name: String,
    pub role: String,
    pub joined_at: Timestamp,
}

/// Everything held about a user, without secrets (no password hash, no token or key digests).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountExport {
    pub exported_at: Timestamp,
    pub profile: UserView,
    pub memberships: Vec<ExportedMembership>,
    pub api_keys: Vec<super::api_keys::ApiKeyView>,
    pub sessions: Vec<super::sessions::SessionView>,
    pub login_history: Vec<LoginEventView>,
}

/// `GET /api/user/me/export`.
pub async fn export(state: &AppState, principal: &Principal) -> AppResult<AccountExport> {
    principal.require(&[Scope::UserRead])?;
    let conn = &state.db.conn;
    let uid = principal.user_id();
    let user = user::Entity::find_by_id(uid.to_string()).one(conn).await?.ok_or_else(|| AppError::not_found("User"))?;
    let mut memberships = membership::Entity::find().filter(membership::Column::UserId.eq(uid));
    if let Some(pin) = &principal.pinned_org {
        // A pinned key sees the account through its organization only.
        memberships = memberships.filter(membership::Column::OrganizationId.eq(pin.clone()));
    }
    let memberships = memberships.order_by_asc(membership::Column::CreatedAt).all(conn).await?;
    let org_ids: Vec<String> = memberships.iter().map(|m| m.organization_id.clone()).collect();
    let names: HashMap<String, String> = organization::Entity::find()
        .filter(organization::Column::Id.is_in(org_ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();
    let memberships = memberships
        .into_iter()
        .map(|m| ExportedMembership {
            organization_name: names.get(&m.organization_id).cloned().unwrap_or_default(),
            id: m.id,
            organization_id: m.organization_id,
            role: m.role,
            joined_at: ts(m.created_at),
        })
        .collect();
    Ok(AccountExport {
        exported_at: ts(now()),
        profile: view(conn, user).await?,
        memberships,
        api_keys: super::api_keys::all_of(conn, principal).await?,
        sessions: super::sessions::all_of(conn, uid, principal.session_id.as_deref()).await?,
        login_history: history_of(uid).all(conn).await?.into_iter().map(LoginEventView::new).collect(),
    })
}

#[derive(Clone, Debug, Default, Deserialize, Validate, utoipa::ToSchema)]
pub struct DeleteMe {
    #[serde(default)]
    #[validate(length(min = 1, message = "Required"))]
    pub password: String,
}

/// `DELETE /api/user/me` (session only, password required), in one transaction: organizations
/// where the user is the only member are deleted with everything in them; elsewhere the user
/// leaves (an audit event says so); sessions, keys, history and the user go. Being the last
/// owner of an organization that has other members is `CONFLICT` (nothing changes).
pub async fn delete_me(state: &AppState, principal: &Principal, input: DeleteMe) -> AppResult<String> {
    principal.require_session()?;
    validate(&input)?;
    let uid = principal.user_id().to_string();
    let cred = password_credential::Entity::find_by_id(uid.clone()).one(&state.db.conn).await?;
    if !state.hasher.verify(&input.password, cred.as_ref().map(|c| c.password_hash.as_str())).await? {
        return Err(AppError::validation(vec![FieldError::body("password", "Incorrect password")]));
    }
    let txn = state.db.begin().await?;
    let mine = membership::Entity::find().filter(membership::Column::UserId.eq(uid.clone())).all(&txn).await?;
    let org_ids: Vec<String> = mine.iter().map(|m| m.organization_id.clone()).collect();
    super::access::lock_organizations(&txn, &org_ids).await?;
    let all = membership::Entity::find().filter(membership::Column::OrganizationId.is_in(org_ids)).all(&txn).await?;
    let mut blocking = Vec::new();
    let mut sole = Vec::new();
    for m in &mine {
        let others: Vec<&membership::Model> =
            all.iter().filter(|o| o.organization_id == m.organization_id && o.user_id != uid).collect();
        if others.is_empty() {
            sole.push(m.organization_id.clone());
        } else if m.role == Role::Owner.as_str() && !others.iter().any(|o| o.role == Role::Owner.as_str()) {
            blocking.push(m.organization_id.clone());
        }
    }
    if !blocking.is_empty() {
        return Err(AppError::conflict(
            "You are the last owner of organizations that have other members; transfer ownership or remove them first",
        )
        .with_meta(serde_json::json!({ "organizationIds": blocking })));
    }
    if !sole.is_empty() {
        organization::Entity::delete_many().filter(organization::Column::Id.is_in(sole.clone())).exec(&txn).await?;
    }
    for m in mine.iter().filter(|m| !sole.contains(&m.organization_id)) {
        let meta = serde_json::json!({ "userId": uid, "role": m.role, "reason": "account_deleted" });
        super::audit::record(
            &txn,
            &m.organization_id,
            principal,
            "member.left",
            super::audit::Target("member", &m.id),
            meta,
        )
        .await?;
    }
    // Memberships, sessions, keys, credentials, tokens and history go with the user (cascade).
    user::Entity::delete_by_id(uid.clone()).exec(&txn).await?;
    txn.commit().await?;
    state.credentials.revoked().await;
    Ok(uid)
}
