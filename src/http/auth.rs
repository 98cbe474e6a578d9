//! `/api/auth/...`: sign-up, sign-in, sessions, email verification, passwords (API.md 3).

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;

use super::extract::{Auth, Client, JsonBody, MaybeAuth, QueryMap, ResponseCookies};
use super::respond::{created, ok};
use crate::auth::{clear_session_cookie, session_cookie};
use crate::domain::accounts::{self, ChangePassword, EmailOnly, ResetPassword, SignIn, SignUp};
use crate::domain::sessions::{self, RevokeSession, SESSION_TTL};
use crate::error::AppResult;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/auth/sign-up/email", post(sign_up))
        .route("/api/auth/sign-in/email", post(sign_in))
        .route("/api/auth/sign-out", post(sign_out))
        .route("/api/auth/get-session", get(get_session))
        .route("/api/auth/list-sessions", get(list_sessions))
        .route("/api/auth/revoke-session", post(revoke_session))
        .route("/api/auth/revoke-other-sessions", post(revoke_other_sessions))
        .route("/api/auth/revoke-sessions", post(revoke_sessions))
        .route("/api/auth/verify-email", get(verify_email))
        .route("/api/auth/send-verification-email", post(send_verification_email))
        .route("/api/auth/request-password-reset", post(request_password_reset))
        .route("/api/auth/reset-password", post(reset_password))
        .route("/api/auth/change-password", post(change_password))
}

async fn sign_up(
    State(state): State<AppState>,
    Client(client): Client,
    JsonBody(input): JsonBody<SignUp>,
) -> AppResult<Response> {
    let done = accounts::sign_up(&state, input, &client).await?;
    Ok(created("Account created successfully", done))
}

async fn sign_in(
    State(state): State<AppState>,
    Client(client): Client,
    cookies: ResponseCookies,
    JsonBody(input): JsonBody<SignIn>,
) -> AppResult<Response> {
    let signed = accounts::sign_in(&state, input, &client).await?;
    cookies.push(session_cookie(&state.config, &signed.token, signed.remember_me.then_some(SESSION_TTL)));
    Ok(ok("Signed in successfully", json!({ "user": signed.user, "session": signed.session })))
}

async fn sign_out(
    State(state): State<AppState>,
    MaybeAuth(principal): MaybeAuth,
    cookies: ResponseCookies,
) -> AppResult<Response> {
    sessions::sign_out(&state, principal.as_deref()).await?;
    cookies.push(clear_session_cookie(&state.config));
    Ok(ok("Signed out successfully", json!({ "success": true })))
}

async fn get_session(State(state): State<AppState>, MaybeAuth(principal): MaybeAuth) -> AppResult<Response> {
    let current = match principal {
        Some(p) => accounts::current_session(&state, &p).await?,
        None => None,
    };
    Ok(match current {
        Some((session, user)) => ok("Session fetched successfully", json!({ "session": session, "user": user })),
        None => ok("No active session", serde_json::Value::Null),
    })
}

async fn list_sessions(State(state): State<AppState>, Auth(p): Auth) -> AppResult<Response> {
    Ok(ok("Sessions fetched successfully", sessions::list(&state, &p).await?))
}

async fn revoke_session(
    State(state): State<AppState>,
    Auth(p): Auth,
    cookies: ResponseCookies,
    JsonBody(input): JsonBody<RevokeSession>,
) -> AppResult<Response> {
    let id = input.id.clone();
    if sessions::revoke(&state, &p, input).await? {
        cookies.push(clear_session_cookie(&state.config));
    }
    Ok(ok("Session revoked", json!({ "id": id })))
}

async fn revoke_other_sessions(State(state): State<AppState>, Auth(p): Auth) -> AppResult<Response> {
    let n = sessions::revoke_all(&state, &p, true).await?;
    Ok(ok("Other sessions revoked", json!({ "revoked": n })))
}

async fn revoke_sessions(
    State(state): State<AppState>,
    Auth(p): Auth,
    cookies: ResponseCookies,
) -> AppResult<Response> {
    let n = sessions::revoke_all(&state, &p, false).await?;
    if p.is_session() {
        cookies.push(clear_session_cookie(&state.config));
    }
    Ok(ok("All sessions revoked", json!({ "revoked": n })))
}

async fn verify_email(State(state): State<AppState>, query: QueryMap) -> AppResult<Response> {
    let token = query.get("token").unwrap_or("");
    let user = accounts::verify_email(&state, token).await?;
    Ok(ok("Email verified", json!({ "user": user })))
}

async fn send_verification_email(
    State(state): State<AppState>,
    JsonBody(input): JsonBody<EmailOnly>,
) -> AppResult<Response> {
    accounts::send_verification_email(&state, input).await?;
    Ok(ok("If the account exists and is not verified, a verification email is on its way", json!({ "sent": true })))
}

async fn request_password_reset(
    State(state): State<AppState>,
    JsonBody(input): JsonBody<EmailOnly>,
) -> AppResult<Response> {
    accounts::request_password_reset(&state, input).await?;
    Ok(ok("If the account exists, a password reset email is on its way", json!({ "sent": true })))
}

async fn reset_password(
    State(state): State<AppState>,
    JsonBody(input): JsonBody<ResetPassword>,
) -> AppResult<Response> {
    accounts::reset_password(&state, input).await?;
    Ok(ok("Password has been reset", json!({ "success": true })))
}

async fn change_password(
    State(state): State<AppState>,
    Auth(p): Auth,
    JsonBody(input): JsonBody<ChangePassword>,
) -> AppResult<Response> {
    accounts::change_password(&state, &p, input).await?;
    Ok(ok("Password changed", json!({ "success": true })))
}
