//! The user object (API.md 3) and the account routes on it (`/api/user/me`).

use std::collections::HashMap;

use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use validator::Validate;

use super::access::{Principal, Scope};
use super::{now, random_suffix, slugify, ts, ts_opt, validate, Timestamp};
use crate::entities::{membership, user};
use crate::error::{on_unique, AppError, AppResult};
use crate::state::AppState;

#[derive(Clone, Debug, Serialize, async_graphql::SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct EmailPreferences {
    pub marketing_opt_out: bool,
}

#[derive(Clone, Debug, Serialize, async_graphql::SimpleObject)]
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

/// `GET /api/user/me`.
pub async fn me(state: &AppState, principal: &Principal) -> AppResult<UserView> {
    principal.require(&[Scope::UserRead])?;
    view(&state.db.conn, principal.user.clone()).await
}

#[derive(Clone, Debug, Default, Deserialize, Validate, async_graphql::InputObject)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "EmailPreferencesInput")]
pub struct EmailPreferencesInput {
    pub marketing_opt_out: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize, Validate, async_graphql::InputObject)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "UpdateMeInput")]
pub struct UpdateMe {
    #[validate(length(min = 1, max = 100, message = "Must be 1 to 100 characters"))]
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
