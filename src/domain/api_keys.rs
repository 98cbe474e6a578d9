//! Personal Access Tokens (API.md 2.3 and 4): `ba_` + 48 random alphanumerics, stored as SHA-256,
//! shown once. A key never grants more than the credential that made it.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use validator::Validate;

use super::access::{self, CredentialKind, Permission, Principal, Scope};
use super::audit::{self, Target};
use super::{now, trim, ts, ts_opt, validate, Page, PageParams, Timestamp};
use crate::auth::tokens::{digest, is_ulid, random_alphanumeric};
use crate::entities::api_key;
use crate::error::{AppError, AppResult, Code, FieldError};
use crate::state::AppState;

pub const PREFIX: &str = "ba_";
const RANDOM_LEN: usize = 48;
const START_LEN: usize = 8;
/// `lastUsedAt` is written at most this often per key.
const LAST_USED_GRANULARITY: TimeDelta = TimeDelta::seconds(60);
const METADATA_MAX_BYTES: usize = 4096;

#[derive(Clone, Debug, Serialize, async_graphql::SimpleObject, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "ApiKey")]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    /// The first 8 characters of the key, `ba_` included, for recognising it.
    pub start: String,
    pub scopes: Vec<Scope>,
    pub organization_id: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: async_graphql::Json<Value>,
    pub enabled: bool,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl ApiKeyView {
    fn new(k: api_key::Model) -> Self {
        ApiKeyView {
            scopes: parse_scopes(&k.scopes),
            metadata: async_graphql::Json(
                serde_json::from_str(&k.metadata).unwrap_or_else(|_| Value::Object(Default::default())),
            ),
            id: k.id,
            name: k.name,
            start: k.start,
            organization_id: k.organization_id,
            enabled: k.enabled,
            expires_at: ts_opt(k.expires_at),
            last_used_at: ts_opt(k.last_used_at),
            created_at: ts(k.created_at),
            updated_at: ts(k.updated_at),
        }
    }
}

/// The creation answer: the key's view plus the full secret, shown this once.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedKey {
    pub key: String,
    #[serde(flatten)]
    pub view: ApiKeyView,
}

fn parse_scopes(stored: &str) -> Vec<Scope> {
    serde_json::from_str::<Vec<String>>(stored).unwrap_or_default().iter().filter_map(|s| s.parse().ok()).collect()
}

fn store_scopes(scopes: &[Scope]) -> String {
    serde_json::to_string(&scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>()).expect("strings serialize")
}

/// Scope names from input: every unknown one is reported; duplicates are dropped.
fn scopes_from(names: &[String], field: &str) -> Result<Vec<Scope>, FieldError> {
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for n in names {
        match n.parse::<Scope>() {
            Ok(s) if !out.contains(&s) => out.push(s),
            Ok(_) => {}
            Err(()) => bad.push(n.as_str()),
        }
    }
    if !bad.is_empty() {
        return Err(FieldError::body(field, format!("Unknown scope: {}", bad.join(", "))));
    }
    out.sort();
    Ok(out)
}

/// A PAT creating or changing a PAT may grant only scopes it holds itself.
fn check_grant(principal: &Principal, scopes: &[Scope]) -> AppResult<()> {
    if principal.kind == CredentialKind::Session {
        return Ok(());
    }
    principal.require(scopes)
}

#[derive(Clone, Debug, Default, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateKey {
    #[serde(default)]
    #[validate(length(min = 1, max = 64, message = "Must be 1 to 64 characters"))]
    pub name: String,
    #[validate(range(min = 60, max = 31_536_000, message = "Must be between 60 and 31536000 seconds"))]
    pub expires_in: Option<i64>,
    pub scopes: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Map<String, Value>>,
}

/// `POST /api/auth/api-key/create`.
pub async fn create(state: &AppState, principal: &Principal, mut input: CreateKey) -> AppResult<CreatedKey> {
    principal.require(&[Scope::ApiKeysWrite])?;
    trim(&mut input.name);
    let mut errors = match input.validate() {
        Ok(()) => Vec::new(),
        Err(e) => super::field_errors(&e, crate::error::Location::Body),
    };
    let scopes = match scopes_from(input.scopes.as_deref().unwrap_or_default(), "scopes") {
        Ok(s) => s,
        Err(e) => {
            errors.push(e);
            Vec::new()
        }
    };
    let metadata = Value::Object(input.metadata.clone().unwrap_or_default());
    let metadata_text = metadata.to_string();
    if metadata_text.len() > METADATA_MAX_BYTES {
        errors.push(FieldError::body("metadata", "Must be at most 4 KiB of JSON"));
    }
    let pin = match metadata.get("organizationId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if is_ulid(s) => Some(s.clone()),
        Some(_) => {
            errors.push(FieldError::body("metadata.organizationId", "Must be an organization id"));
            None
        }
    };
    if !errors.is_empty() {
        errors.sort_by(|a, b| a.field.cmp(&b.field));
        return Err(AppError::validation(errors));
    }
    check_grant(principal, &scopes)?;
    // A pinned key makes only keys pinned to the same organization.
    let pin = match (&principal.pinned_org, pin) {
        (Some(own), None) => Some(own.clone()),
        (_, pin) => pin,
    };
    if let Some(org) = &pin {
        // The creator must be a member (and a pinned creator must stay inside its pin).
        access::tenant(&state.db.conn, principal, org, Permission::OrganizationRead).await.map_err(|e| {
            match e.code {
                Code::TenantContextMissing => AppError::validation(vec![FieldError::body(
                    "metadata.organizationId",
                    "Must be an organization id",
                )]),
                _ => e,
            }
        })?;
    }
    let t = now();
    let key = format!("{PREFIX}{}", random_alphanumeric(RANDOM_LEN));
    let txn = state.db.begin().await?;
    let row = api_key::ActiveModel {
        id: Set(format!("ak_{}", crate::auth::tokens::new_ulid())),
        user_id: Set(principal.user_id().to_string()),
        name: Set(input.name),
        key_hash: Set(digest(&key)),
        start: Set(key.chars().take(START_LEN).collect()),
        scopes: Set(store_scopes(&scopes)),
        organization_id: Set(pin),
        metadata: Set(metadata_text),
        enabled: Set(true),
        expires_at: Set(input.expires_in.map(|s| t + TimeDelta::seconds(s))),
        last_used_at: Set(None),
        created_at: Set(t),
        updated_at: Set(t),
    }
    .insert(&txn)
    .await?;
    audit_pinned(&txn, principal, &row, "api_key.created").await?;
    txn.commit().await?;
    Ok(CreatedKey { key, view: ApiKeyView::new(row) })
}

/// The caller's keys, seen through the caller's own pin (a pinned key sees only keys pinned to
/// the same organization).
fn owned(principal: &Principal) -> sea_orm::Select<api_key::Entity> {
    let mut q = api_key::Entity::find().filter(api_key::Column::UserId.eq(principal.user_id()));
    if let Some(pin) = &principal.pinned_org {
        q = q.filter(api_key::Column::OrganizationId.eq(pin.clone()));
    }
    q
}

/// Every key the caller may see (for the account export), newest first.
pub async fn all_of(conn: &impl ConnectionTrait, principal: &Principal) -> AppResult<Vec<ApiKeyView>> {
    let rows = owned(principal).order_by_desc(api_key::Column::CreatedAt).all(conn).await?;
    Ok(rows.into_iter().map(ApiKeyView::new).collect())
}

/// `GET /api/auth/api-key/list`.
pub async fn list(state: &AppState, principal: &Principal, page: PageParams) -> AppResult<Page<ApiKeyView>> {
    principal.require(&[Scope::ApiKeysRead])?;
    let conn = &state.db.conn;
    let total = owned(principal).count(conn).await?;
    let rows = owned(principal)
        .order_by_desc(api_key::Column::CreatedAt)
        .order_by_desc(api_key::Column::Id)
        .offset(page.offset)
        .limit(page.limit)
        .all(conn)
        .await?;
    Ok(Page::new(rows.into_iter().map(ApiKeyView::new).collect(), total, page))
}

async fn find_owned(conn: &impl ConnectionTrait, principal: &Principal, id: &str) -> AppResult<api_key::Model> {
    owned(principal).filter(api_key::Column::Id.eq(id)).one(conn).await?.ok_or_else(|| AppError::not_found("API key"))
}

/// `GET /api/auth/api-key/get?id=`: another user's key is `NOT_FOUND`.
pub async fn get(state: &AppState, principal: &Principal, id: &str) -> AppResult<ApiKeyView> {
    principal.require(&[Scope::ApiKeysRead])?;
    Ok(ApiKeyView::new(find_owned(&state.db.conn, principal, id).await?))
}

#[derive(Clone, Debug, Default, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateKey {
    #[serde(default)]
    #[validate(length(min = 1, message = "Required"))]
    pub key_id: String,
    #[validate(length(min = 1, max = 64, message = "Must be 1 to 64 characters"))]
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub scopes: Option<Vec<String>>,
}

/// `POST /api/auth/api-key/update`.
pub async fn update(state: &AppState, principal: &Principal, mut input: UpdateKey) -> AppResult<ApiKeyView> {
    principal.require(&[Scope::ApiKeysWrite])?;
    if let Some(n) = input.name.as_mut() {
        trim(n);
    }
    validate(&input)?;
    let scopes = match &input.scopes {
        Some(names) => Some(scopes_from(names, "scopes").map_err(|e| AppError::validation(vec![e]))?),
        None => None,
    };
    let conn = &state.db.conn;
    let k = find_owned(conn, principal, &input.key_id).await?;
    if let Some(s) = &scopes {
        check_grant(principal, s)?;
    }
    // Turning a key back on hands out what it holds: a PAT may do that only within its own scopes.
    if input.enabled == Some(true) && !k.enabled {
        check_grant(principal, &parse_scopes(&k.scopes))?;
    }
    let mut am = k.into_active_model();
    if let Some(n) = input.name {
        am.name = Set(n);
    }
    if let Some(e) = input.enabled {
        am.enabled = Set(e);
    }
    if let Some(s) = scopes {
        am.scopes = Set(store_scopes(&s));
    }
    am.updated_at = Set(now());
    let txn = state.db.begin().await?;
    let k = am.update(&txn).await?;
    audit_pinned(&txn, principal, &k, "api_key.updated").await?;
    txn.commit().await?;
    state.credentials.revoked().await; // the key may now do less, or nothing
    Ok(ApiKeyView::new(k))
}

#[derive(Clone, Debug, Default, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteKey {
    #[serde(default)]
    #[validate(length(min = 1, message = "Required"))]
    pub key_id: String,
}

/// `POST /api/auth/api-key/delete`: the key stops working at once. Returns its id.
pub async fn delete(state: &AppState, principal: &Principal, input: DeleteKey) -> AppResult<String> {
    principal.require(&[Scope::ApiKeysDelete])?;
    validate(&input)?;
    let conn = &state.db.conn;
    let k = match find_owned(conn, principal, &input.key_id).await {
        Ok(k) => k,
        Err(e) => {
            // A retried delete may find the key gone while the first attempt still waits out the
            // credential cache; it must not answer before the first one could.
            state.credentials.revoked().await;
            return Err(e);
        }
    };
    let txn = state.db.begin().await?;
    api_key::Entity::delete_by_id(k.id.clone()).exec(&txn).await?;
    audit_pinned(&txn, principal, &k, "api_key.deleted").await?;
    txn.commit().await?;
    state.credentials.revoked().await;
    Ok(k.id)
}

/// A key pinned to an organization is part of that organization: its changes go in its log.
async fn audit_pinned(
    conn: &impl ConnectionTrait,
    principal: &Principal,
    k: &api_key::Model,
    action: &str,
) -> AppResult<()> {
    if let Some(org) = &k.organization_id {
        let meta = serde_json::json!({ "name": k.name, "scopes": parse_scopes(&k.scopes), "enabled": k.enabled });
        audit::record(conn, org, principal, action, Target("api_key", &k.id), meta).await?;
    }
    Ok(())
}

/// Resolves a raw `ba_` key to its principal: `INVALID_API_KEY` when malformed, unknown,
/// disabled or expired; `USER_NOT_ACTIVE` when its user is deactivated.
pub async fn authenticate(conn: &impl ConnectionTrait, raw: &str) -> AppResult<Principal> {
    let invalid = || AppError::new(Code::InvalidApiKey, "Invalid API key");
    let well_formed = raw
        .strip_prefix(PREFIX)
        .is_some_and(|r| r.len() >= 40 && r.len() <= 128 && r.bytes().all(|b| b.is_ascii_alphanumeric()));
    if !well_formed {
        return Err(invalid());
    }
    let (k, u, organization_count) =
        super::users::credential_with_owner::<api_key::Entity>(conn, api_key::Column::KeyHash, digest(raw))
            .await?
            .ok_or_else(invalid)?;
    let t = now();
    if !k.enabled || k.expires_at.is_some_and(|e| e <= t) {
        return Err(invalid());
    }
    if !u.is_active {
        return Err(AppError::new(Code::UserNotActive, "This account is deactivated"));
    }
    touch(conn, &k, t).await?;
    Ok(Principal {
        user: u,
        kind: CredentialKind::ApiKey,
        scopes: parse_scopes(&k.scopes),
        pinned_org: k.organization_id,
        session_id: None,
        api_key_id: Some(k.id),
        client: Default::default(),
        organization_count,
        credential_expires_at: k.expires_at,
        standing: Default::default(),
    })
}

/// Records use at most once a minute per key: a conditional update, so concurrent requests of a
/// hot key do not all write.
async fn touch(conn: &impl ConnectionTrait, k: &api_key::Model, t: DateTime<Utc>) -> AppResult<()> {
    if k.last_used_at.is_some_and(|l| t - l < LAST_USED_GRANULARITY) {
        return Ok(());
    }
    api_key::Entity::update_many()
        .col_expr(api_key::Column::LastUsedAt, Expr::value(Some(t)))
        .filter(api_key::Column::Id.eq(k.id.clone()))
        .filter(
            Condition::any()
                .add(api_key::Column::LastUsedAt.is_null())
                .add(api_key::Column::LastUsedAt.lt(t - LAST_USED_GRANULARITY)),
        )
        .exec(conn)
        .await?;
    Ok(())
}
