//! Sessions (API.md 2.2): an opaque 256-bit token in a cookie, stored as its SHA-256; 7 days,
//! sliding once a day; never more than 30 days after sign-in.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::{Deserialize, Serialize};

use super::access::{Principal, Scope};
use super::{now, ts, ClientInfo, Timestamp};
use crate::auth::tokens::{digest, new_id, new_opaque_token};
use crate::entities::{session, user};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

pub const SESSION_TTL: TimeDelta = TimeDelta::days(7);
pub const REFRESH_AFTER: TimeDelta = TimeDelta::days(1);
pub const ABSOLUTE_TTL: TimeDelta = TimeDelta::days(30);

/// A new session and the raw token for the cookie (never stored).
pub struct NewSession {
    pub token: String,
    pub session: session::Model,
}

pub async fn create(
    conn: &impl ConnectionTrait,
    user_id: &str,
    client: &ClientInfo,
    remember: bool,
    t: DateTime<Utc>,
) -> AppResult<NewSession> {
    let token = new_opaque_token();
    let session = session::ActiveModel {
        id: Set(new_id()),
        user_id: Set(user_id.to_string()),
        token_hash: Set(digest(&token)),
        ip_address: Set(client.ip_string()),
        user_agent: Set(client.user_agent()),
        created_at: Set(t),
        refreshed_at: Set(t),
        expires_at: Set(t + SESSION_TTL),
        absolute_expires_at: Set(t + ABSOLUTE_TTL),
        remember: Set(remember),
    }
    .insert(conn)
    .await?;
    Ok(NewSession { token, session })
}

/// Looks a session up by its raw token. Returns it (extended when due) and whether it was
/// extended, so the cookie can be re-sent; `None` when unknown or expired.
/// Looks a session up by its raw token, with its user and the user's organization count (one
/// statement). Returns them, the session extended when due, and whether it was extended (so the
/// cookie can be re-sent); `None` when unknown or expired.
pub async fn find_live(
    conn: &impl ConnectionTrait,
    token: &str,
) -> AppResult<Option<(session::Model, user::Model, u64, bool)>> {
    let Some((mut s, owner, count)) =
        super::users::credential_with_owner::<session::Entity>(conn, session::Column::TokenHash, digest(token)).await?
    else {
        return Ok(None);
    };
    let t = now();
    if s.expires_at <= t || s.absolute_expires_at <= t {
        return Ok(None);
    }
    if t - s.refreshed_at < REFRESH_AFTER {
        return Ok(Some((s, owner, count, false)));
    }
    let expires = (t + SESSION_TTL).min(s.absolute_expires_at);
    session::Entity::update_many()
        .col_expr(session::Column::RefreshedAt, Expr::value(t))
        .col_expr(session::Column::ExpiresAt, Expr::value(expires))
        .filter(session::Column::Id.eq(s.id.clone()))
        .exec(conn)
        .await?;
    s.refreshed_at = t;
    s.expires_at = expires;
    Ok(Some((s, owner, count, true)))
}

#[derive(Clone, Debug, Serialize, async_graphql::SimpleObject, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "Session")]
pub struct SessionView {
    pub id: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    /// True for the session making this request.
    pub current: bool,
}

impl SessionView {
    pub fn new(s: session::Model, current_id: Option<&str>) -> Self {
        SessionView {
            current: current_id == Some(s.id.as_str()),
            id: s.id,
            created_at: ts(s.created_at),
            expires_at: ts(s.expires_at),
            ip_address: s.ip_address,
            user_agent: s.user_agent,
        }
    }
}

/// `GET /api/auth/list-sessions`: the caller's live sessions, newest first.
pub async fn list(state: &AppState, principal: &Principal) -> AppResult<Vec<SessionView>> {
    principal.require(&[Scope::UserRead])?;
    all_of(&state.db.conn, principal.user_id(), principal.session_id.as_deref()).await
}

/// A user's live sessions, newest first; `current` marks the one making the request.
pub async fn all_of(conn: &impl ConnectionTrait, user_id: &str, current: Option<&str>) -> AppResult<Vec<SessionView>> {
    let t = now();
    let rows = session::Entity::find()
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::ExpiresAt.gt(t))
        .filter(session::Column::AbsoluteExpiresAt.gt(t))
        .order_by_desc(session::Column::CreatedAt)
        .order_by_desc(session::Column::Id)
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(|s| SessionView::new(s, current)).collect())
}

#[derive(Clone, Debug, Default, Deserialize, validator::Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevokeSession {
    #[validate(length(min = 1, message = "Required"))]
    #[serde(default)]
    pub id: String,
}

/// `POST /api/auth/revoke-session`: one of the caller's own sessions (another's is `NOT_FOUND`).
/// Returns true when it was the current one.
pub async fn revoke(state: &AppState, principal: &Principal, input: RevokeSession) -> AppResult<bool> {
    principal.require(&[Scope::UserWrite])?;
    super::validate(&input)?;
    let res = session::Entity::delete_many()
        .filter(session::Column::Id.eq(input.id.clone()))
        .filter(session::Column::UserId.eq(principal.user_id()))
        .exec(&state.db.conn)
        .await?;
    // Waits even when nothing was deleted: a retried revocation may find the row gone while the
    // first attempt still waits, and must not answer before the first one could.
    state.credentials.revoked().await;
    if res.rows_affected == 0 {
        return Err(AppError::not_found("Session"));
    }
    Ok(principal.session_id.as_deref() == Some(input.id.as_str()))
}

/// `POST /api/auth/revoke-other-sessions` (keep the current one) and
/// `POST /api/auth/revoke-sessions` (all of them). Returns how many were revoked.
pub async fn revoke_all(state: &AppState, principal: &Principal, keep_current: bool) -> AppResult<u64> {
    principal.require(&[Scope::UserWrite])?;
    let mut q = session::Entity::delete_many().filter(session::Column::UserId.eq(principal.user_id()));
    if keep_current {
        if let Some(id) = &principal.session_id {
            q = q.filter(session::Column::Id.ne(id.clone()));
        }
    }
    let revoked = q.exec(&state.db.conn).await?.rows_affected;
    state.credentials.revoked().await;
    Ok(revoked)
}

/// Sign-out: deletes the caller's current session, if the request came with one. Always
/// succeeds (signing out twice is not an error); the door clears the cookie.
pub async fn sign_out(state: &AppState, principal: Option<&Principal>) -> AppResult<()> {
    if let Some(id) = principal.and_then(|p| p.session_id.clone()) {
        session::Entity::delete_by_id(id).exec(&state.db.conn).await?;
        state.credentials.revoked().await;
    }
    Ok(())
}
