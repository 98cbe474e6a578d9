//! Sign-up, sign-in and the email-token flows (API.md 3).

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use validator::Validate;

use super::access::Principal;
use super::audit::{self, Target};
use super::organizations::{self, OrganizationView};
use super::sessions::{self, NewSession};
use super::users::{self, UserView};
use super::{normalize_email, now, trim, validate, ClientInfo, Timestamp};
use crate::auth::tokens::{digest, new_id, new_opaque_token};
use crate::entities::{api_key, email_token, login_event, password_credential, session, user};
use crate::error::{is_unique_violation, AppError, AppResult, Code, FieldError};
use crate::mail::{self, templates};
use crate::state::AppState;

pub const VERIFY_TTL: TimeDelta = TimeDelta::hours(24);
pub const RESET_TTL: TimeDelta = TimeDelta::hours(1);

const PURPOSE_VERIFY: &str = "verify_email";
const PURPOSE_RESET: &str = "password_reset";

pub(crate) fn check_email(e: &str) -> Result<(), validator::ValidationError> {
    use validator::ValidateEmail;
    if e.is_empty() {
        Err(super::invalid("Required"))
    } else if e.chars().count() > 254 {
        Err(super::invalid("Must be at most 254 characters"))
    } else if !e.validate_email() {
        Err(super::invalid("Invalid email"))
    } else {
        Ok(())
    }
}

fn check_password(p: &str) -> Result<(), validator::ValidationError> {
    // Counted in characters, not bytes; nothing is truncated.
    let n = p.chars().count();
    if (8..=128).contains(&n) {
        Ok(())
    } else {
        Err(super::invalid("Must be 8 to 128 characters"))
    }
}

#[derive(Clone, Debug, Default, Deserialize, Validate, async_graphql::InputObject, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "SignUpInput")]
pub struct SignUp {
    #[serde(default)]
    #[validate(custom(function = "check_email"))]
    pub email: String,
    #[serde(default)]
    #[validate(custom(function = "check_password"))]
    pub password: String,
    #[serde(default)]
    #[validate(
        length(min = 1, max = 100, message = "Must be 1 to 100 characters"),
        custom(function = "super::single_line")
    )]
    pub name: String,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SignedUp {
    pub user: UserView,
    pub organization: OrganizationView,
}

/// Creates the user, the password credential, a default organization with an owner membership
/// and the verification email, in one transaction. Does not sign in.
pub async fn sign_up(state: &AppState, mut input: SignUp, client: &ClientInfo) -> AppResult<SignedUp> {
    normalize_email(&mut input.email);
    trim(&mut input.name);
    validate(&input)?;
    let hash = state.hasher.hash(&input.password).await?;
    // A race on a generated handle or slug (two sign-ups deriving the same one) is retried; a
    // race on the email is the answer 409.
    for _ in 0..3 {
        match try_sign_up(state, &input, &hash, client).await {
            Err(SignUpError::Unique) => {
                let exists = user::Entity::find()
                    .filter(user::Column::Email.eq(input.email.clone()))
                    .one(&state.db.conn)
                    .await?;
                if exists.is_some() {
                    return Err(already_exists());
                }
            }
            Err(SignUpError::App(e)) => return Err(e),
            Ok(done) => {
                state.mail.wake();
                return Ok(done);
            }
        }
    }
    Err(AppError::internal("sign-up kept colliding on generated handles"))
}

fn already_exists() -> AppError {
    AppError::new(Code::UserAlreadyExists, "An account with this email already exists")
}

enum SignUpError {
    Unique,
    App(AppError),
}

impl From<sea_orm::DbErr> for SignUpError {
    fn from(e: sea_orm::DbErr) -> Self {
        if is_unique_violation(&e) {
            SignUpError::Unique
        } else {
            SignUpError::App(e.into())
        }
    }
}

impl From<AppError> for SignUpError {
    fn from(e: AppError) -> Self {
        SignUpError::App(e)
    }
}

async fn try_sign_up(
    state: &AppState,
    input: &SignUp,
    hash: &str,
    client: &ClientInfo,
) -> Result<SignedUp, SignUpError> {
    let txn = state.db.begin().await?;
    if user::Entity::find().filter(user::Column::Email.eq(input.email.clone())).one(&txn).await?.is_some() {
        return Err(SignUpError::App(already_exists()));
    }
    let t = now();
    let handle = users::free_handle(&txn, &input.email).await?;
    let u = users::new_user(&input.email, &input.name, &handle, false, t).insert(&txn).await?;
    password_credential::ActiveModel {
        user_id: Set(u.id.clone()),
        password_hash: Set(hash.to_string()),
        created_at: Set(t),
        updated_at: Set(t),
    }
    .insert(&txn)
    .await?;
    let org_name = format!("{}'s organization", input.name).chars().take(100).collect::<String>();
    let org = organizations::create_owned(&txn, &u.id, &org_name, &handle, t).await.map_err(|e| match e {
        organizations::CreateError::Db(db) => SignUpError::from(db),
        organizations::CreateError::App(app) => SignUpError::App(app),
    })?;
    // The new user acts through the sign-up form, the web (session) flow.
    let meta = serde_json::json!({ "name": org.name, "slug": org.slug, "via": "sign-up" });
    audit::write(
        &txn,
        &org.id,
        Some(&u.id),
        "session",
        client,
        "organization.created",
        Target("organization", &org.id),
        meta,
        t,
    )
    .await?;
    let token = issue_token(&txn, &u.id, PURPOSE_VERIFY, VERIFY_TTL, t).await?;
    mail::enqueue(&txn, templates::verify_email(state.config.base(), &u.email, &u.full_name, &token), t).await?;
    let org_view = organizations::view_for_owner(&txn, org).await?;
    txn.commit().await?;
    let user_view = UserView::new(u, 1);
    Ok(SignedUp { user: user_view, organization: org_view })
}

#[derive(Clone, Debug, Default, Deserialize, Validate, async_graphql::InputObject, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "SignInInput")]
pub struct SignIn {
    #[serde(default)]
    #[validate(length(min = 1, message = "Required"))]
    pub email: String,
    #[serde(default)]
    #[validate(length(min = 1, message = "Required"))]
    pub password: String,
    pub remember_me: Option<bool>,
}

#[derive(Clone, Debug, Serialize, async_graphql::SimpleObject, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    pub id: String,
    pub expires_at: Timestamp,
}

/// A successful sign-in: the view for the body and the raw token for the cookie.
pub struct SignedIn {
    pub user: UserView,
    pub session: SessionInfo,
    pub token: String,
    pub remember_me: bool,
}

/// Verifies the password (against a dummy hash when the email is unknown, so timing reveals
/// nothing), records the attempt in the login history, and opens a fresh session.
pub async fn sign_in(state: &AppState, mut input: SignIn, client: &ClientInfo) -> AppResult<SignedIn> {
    normalize_email(&mut input.email);
    validate(&input)?;
    let found = user::Entity::find().filter(user::Column::Email.eq(input.email.clone())).one(&state.db.conn).await?;
    let credential = match &found {
        Some(u) => password_credential::Entity::find_by_id(u.id.clone()).one(&state.db.conn).await?,
        None => None,
    };
    let ok = state.hasher.verify(&input.password, credential.as_ref().map(|c| c.password_hash.as_str())).await?;
    let Some(u) = found else {
        return Err(invalid_credentials());
    };
    let t = now();
    let refusal = if !ok {
        Some(invalid_credentials())
    } else if !u.is_active {
        Some(AppError::new(Code::UserNotActive, "This account is deactivated"))
    } else if state.config.require_email_verification && !u.is_verified {
        Some(AppError::new(Code::EmailNotVerified, "Verify your email address before signing in"))
    } else {
        None
    };
    let txn = state.db.begin().await?;
    record_login(&txn, &u.id, refusal.is_none(), "email", client, t).await?;
    if let Some(e) = refusal {
        txn.commit().await?;
        return Err(e);
    }
    let remember_me = input.remember_me.unwrap_or(true);
    let NewSession { token, session } = sessions::create(&txn, &u.id, client, remember_me, t).await?;
    let mut am = u.into_active_model();
    am.last_login_at = Set(Some(t));
    let u = am.update(&txn).await?;
    let view = users::view(&txn, u).await?;
    txn.commit().await?;
    Ok(SignedIn {
        user: view,
        session: SessionInfo { id: session.id, expires_at: session.expires_at.into() },
        token,
        remember_me,
    })
}

fn invalid_credentials() -> AppError {
    AppError::new(Code::InvalidCredentials, "Invalid email or password")
}

async fn record_login(
    conn: &impl ConnectionTrait,
    user_id: &str,
    success: bool,
    method: &str,
    client: &ClientInfo,
    t: DateTime<Utc>,
) -> AppResult<()> {
    login_event::ActiveModel {
        id: Set(new_id()),
        user_id: Set(user_id.to_string()),
        success: Set(success),
        method: Set(method.to_string()),
        ip_address: Set(client.ip_string()),
        user_agent: Set(client.user_agent()),
        created_at: Set(t),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// A new single-use email token; earlier unused ones of the same purpose stop working.
async fn issue_token(
    conn: &impl ConnectionTrait,
    user_id: &str,
    purpose: &str,
    ttl: TimeDelta,
    t: DateTime<Utc>,
) -> AppResult<String> {
    email_token::Entity::update_many()
        .col_expr(email_token::Column::UsedAt, Expr::value(Some(t)))
        .filter(email_token::Column::UserId.eq(user_id))
        .filter(email_token::Column::Purpose.eq(purpose))
        .filter(email_token::Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    let token = new_opaque_token();
    email_token::ActiveModel {
        id: Set(new_id()),
        user_id: Set(user_id.to_string()),
        purpose: Set(purpose.to_string()),
        token_hash: Set(digest(&token)),
        expires_at: Set(t + ttl),
        used_at: Set(None),
        created_at: Set(t),
    }
    .insert(conn)
    .await?;
    Ok(token)
}

/// Consumes a token atomically: of two concurrent uses exactly one gets the user id.
async fn consume_token(conn: &impl ConnectionTrait, raw: &str, purpose: &str, t: DateTime<Utc>) -> AppResult<String> {
    let invalid = invalid_token;
    if raw.is_empty() || raw.len() > 256 {
        return Err(invalid());
    }
    let hash = digest(raw);
    let res = email_token::Entity::update_many()
        .col_expr(email_token::Column::UsedAt, Expr::value(Some(t)))
        .filter(email_token::Column::TokenHash.eq(hash.clone()))
        .filter(email_token::Column::Purpose.eq(purpose))
        .filter(email_token::Column::UsedAt.is_null())
        .filter(email_token::Column::ExpiresAt.gt(t))
        .exec(conn)
        .await?;
    if res.rows_affected != 1 {
        return Err(invalid());
    }
    let row = email_token::Entity::find()
        .filter(email_token::Column::TokenHash.eq(hash))
        .one(conn)
        .await?
        .ok_or_else(invalid)?;
    Ok(row.user_id)
}

/// `GET /api/auth/verify-email?token=`.
pub async fn verify_email(state: &AppState, token: &str) -> AppResult<UserView> {
    let t = now();
    let txn = state.db.begin().await?;
    let user_id = consume_token(&txn, token, PURPOSE_VERIFY, t).await?;
    let u = user::Entity::find_by_id(user_id)
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::new(Code::InvalidToken, "This link is invalid, used or expired"))?;
    let u = if u.is_verified {
        u
    } else {
        let mut am = u.into_active_model();
        am.is_verified = Set(true);
        am.verified_at = Set(Some(t));
        am.updated_at = Set(t);
        am.update(&txn).await?
    };
    let view = users::view(&txn, u).await?;
    txn.commit().await?;
    Ok(view)
}

#[derive(Clone, Debug, Default, Deserialize, Validate, utoipa::ToSchema)]
pub struct EmailOnly {
    #[serde(default)]
    #[validate(custom(function = "check_email"))]
    pub email: String,
}

/// `POST /api/auth/send-verification-email`: the same answer whether or not the account exists.
pub async fn send_verification_email(state: &AppState, mut input: EmailOnly) -> AppResult<()> {
    normalize_email(&mut input.email);
    validate(&input)?;
    let Some(u) = user::Entity::find().filter(user::Column::Email.eq(input.email)).one(&state.db.conn).await? else {
        return Ok(());
    };
    if u.is_verified || !u.is_active {
        return Ok(());
    }
    let t = now();
    let txn = state.db.begin().await?;
    let token = issue_token(&txn, &u.id, PURPOSE_VERIFY, VERIFY_TTL, t).await?;
    mail::enqueue(&txn, templates::verify_email(state.config.base(), &u.email, &u.full_name, &token), t).await?;
    txn.commit().await?;
    state.mail.wake();
    Ok(())
}

/// `POST /api/auth/request-password-reset`: the same answer whether or not the account exists.
pub async fn request_password_reset(state: &AppState, mut input: EmailOnly) -> AppResult<()> {
    normalize_email(&mut input.email);
    validate(&input)?;
    let Some(u) = user::Entity::find().filter(user::Column::Email.eq(input.email)).one(&state.db.conn).await? else {
        return Ok(());
    };
    if !u.is_active {
        return Ok(());
    }
    let t = now();
    let txn = state.db.begin().await?;
    let token = issue_token(&txn, &u.id, PURPOSE_RESET, RESET_TTL, t).await?;
    mail::enqueue(&txn, templates::password_reset(state.config.base(), &u.email, &u.full_name, &token), t).await?;
    txn.commit().await?;
    state.mail.wake();
    Ok(())
}

#[derive(Clone, Debug, Default, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResetPassword {
    #[serde(default)]
    #[validate(length(min = 1, message = "Required"))]
    pub token: String,
    #[serde(default)]
    #[validate(custom(function = "check_password"))]
    pub new_password: String,
}

/// `POST /api/auth/reset-password`: sets the password and revokes every session of the user.
///
/// The reset link proves the address. On an account that never verified it, whoever signed up
/// may not have been the address's owner: the reset then also deletes every API key made before
/// that proof, and marks the address verified.
pub async fn reset_password(state: &AppState, input: ResetPassword) -> AppResult<()> {
    validate(&input)?;
    // A dead link costs no hash.
    let t = now();
    live_token(&state.db.conn, &input.token, PURPOSE_RESET, t).await?;
    let hash = state.hasher.hash(&input.new_password).await?;
    let txn = state.db.begin().await?;
    let user_id = consume_token(&txn, &input.token, PURPOSE_RESET, t).await?;
    set_password(&txn, &user_id, hash, t).await?;
    session::Entity::delete_many().filter(session::Column::UserId.eq(user_id.clone())).exec(&txn).await?;
    let u = user::Entity::find_by_id(user_id.clone()).one(&txn).await?.ok_or_else(invalid_token)?;
    if !u.is_verified {
        api_key::Entity::delete_many().filter(api_key::Column::UserId.eq(user_id)).exec(&txn).await?;
        let mut am = u.into_active_model();
        am.is_verified = Set(true);
        am.verified_at = Set(Some(t));
        am.updated_at = Set(t);
        am.update(&txn).await?;
    }
    txn.commit().await?;
    state.credentials.revoked().await; // every session (and an unverified account's keys)
    Ok(())
}

fn invalid_token() -> AppError {
    AppError::new(Code::InvalidToken, "This link is invalid, used or expired")
}

/// Fails unless `raw` is a live token of `purpose` (without using it up).
async fn live_token(conn: &impl ConnectionTrait, raw: &str, purpose: &str, t: DateTime<Utc>) -> AppResult<()> {
    if raw.is_empty() || raw.len() > 256 {
        return Err(invalid_token());
    }
    let live = email_token::Entity::find()
        .filter(email_token::Column::TokenHash.eq(digest(raw)))
        .filter(email_token::Column::Purpose.eq(purpose))
        .filter(email_token::Column::UsedAt.is_null())
        .filter(email_token::Column::ExpiresAt.gt(t))
        .one(conn)
        .await?;
    live.map(|_| ()).ok_or_else(invalid_token)
}

async fn set_password(conn: &impl ConnectionTrait, user_id: &str, hash: String, t: DateTime<Utc>) -> AppResult<()> {
    let res = password_credential::Entity::update_many()
        .col_expr(password_credential::Column::PasswordHash, Expr::value(hash.clone()))
        .col_expr(password_credential::Column::UpdatedAt, Expr::value(t))
        .filter(password_credential::Column::UserId.eq(user_id))
        .exec(conn)
        .await?;
    if res.rows_affected == 0 {
        password_credential::ActiveModel {
            user_id: Set(user_id.to_string()),
            password_hash: Set(hash),
            created_at: Set(t),
            updated_at: Set(t),
        }
        .insert(conn)
        .await?;
    }
    Ok(())
}

#[derive(Clone, Debug, Default, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangePassword {
    #[serde(default)]
    #[validate(length(min = 1, message = "Required"))]
    pub current_password: String,
    #[serde(default)]
    #[validate(custom(function = "check_password"))]
    pub new_password: String,
    pub revoke_other_sessions: Option<bool>,
}

/// `POST /api/auth/change-password` (session only). A wrong current password is a
/// `VALIDATION_ERROR` on `currentPassword` (decided: the caller is signed in, so 401 would
/// wrongly suggest the session is bad).
pub async fn change_password(state: &AppState, principal: &Principal, input: ChangePassword) -> AppResult<()> {
    principal.require_session()?;
    validate(&input)?;
    let cred = password_credential::Entity::find_by_id(principal.user_id().to_string()).one(&state.db.conn).await?;
    let ok = state.hasher.verify(&input.current_password, cred.as_ref().map(|c| c.password_hash.as_str())).await?;
    if !ok {
        return Err(AppError::validation(vec![FieldError::body("currentPassword", "Incorrect password")]));
    }
    let hash = state.hasher.hash(&input.new_password).await?;
    let t = now();
    let txn = state.db.begin().await?;
    set_password(&txn, principal.user_id(), hash, t).await?;
    if input.revoke_other_sessions.unwrap_or(false) {
        let mut q = session::Entity::delete_many().filter(session::Column::UserId.eq(principal.user_id()));
        if let Some(id) = &principal.session_id {
            q = q.filter(session::Column::Id.ne(id.clone()));
        }
        q.exec(&txn).await?;
    }
    txn.commit().await?;
    if input.revoke_other_sessions.unwrap_or(false) {
        state.credentials.revoked().await;
    }
    Ok(())
}

/// `GET /api/auth/get-session`: the caller's session and user, if signed in with a session.
pub async fn current_session(
    state: &AppState,
    principal: &Principal,
) -> AppResult<Option<(sessions::SessionView, UserView)>> {
    let Some(id) = &principal.session_id else {
        return Ok(None);
    };
    let Some(s) = session::Entity::find_by_id(id.clone()).one(&state.db.conn).await? else {
        return Ok(None);
    };
    let user = users::view(&state.db.conn, principal.user.clone()).await?;
    Ok(Some((sessions::SessionView::new(s, Some(id)), user)))
}
