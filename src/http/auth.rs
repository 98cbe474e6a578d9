//! `/api/auth/...`: sign-up, sign-in, sessions, email verification, passwords (API.md 3).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Auth, Client, JsonBody, MaybeAuth, QueryMap, ResponseCookies};
use super::openapi::{Anything, Deleted, Envelope, SessionDoc, SignInDoc, TokenQuery, UserDoc};
use super::respond::{created, ok};
use crate::auth::{clear_session_cookie, session_cookie};
use crate::domain::accounts::{self, ChangePassword, EmailOnly, ResetPassword, SignIn, SignUp, SignedUp};
use crate::domain::sessions::{self, RevokeSession, SessionView, SESSION_TTL};
use crate::error::AppResult;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_up))
        .routes(routes!(sign_in))
        .routes(routes!(sign_out))
        .routes(routes!(get_session))
        .routes(routes!(list_sessions))
        .routes(routes!(revoke_session))
        .routes(routes!(revoke_other_sessions))
        .routes(routes!(revoke_sessions))
        .routes(routes!(verify_email))
        .routes(routes!(send_verification_email))
        .routes(routes!(request_password_reset))
        .routes(routes!(reset_password))
        .routes(routes!(change_password))
}

#[utoipa::path(post, path = "/api/auth/sign-up/email", tag = "auth", security(()), request_body = SignUp,
    responses((status = 201, description = "Account created successfully", body = Envelope<SignedUp>)))]
async fn sign_up(
    State(state): State<AppState>,
    Client(client): Client,
    JsonBody(input): JsonBody<SignUp>,
) -> AppResult<Response> {
    let done = accounts::sign_up(&state, input, &client).await?;
    Ok(created("Account created successfully", done))
}

#[utoipa::path(post, path = "/api/auth/sign-in/email", tag = "auth", security(()), request_body = SignIn,
    responses((status = 200, description = "Signed in successfully; the session cookie is set", body = Envelope<SignInDoc>)))]
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

#[utoipa::path(post, path = "/api/auth/sign-out", tag = "auth", security(()),
    responses((status = 200, description = "Signed out; the cookie is cleared", body = Envelope<Anything>)))]
async fn sign_out(
    State(state): State<AppState>,
    MaybeAuth(principal): MaybeAuth,
    cookies: ResponseCookies,
) -> AppResult<Response> {
    sessions::sign_out(&state, principal.as_deref()).await?;
    cookies.push(clear_session_cookie(&state.config));
    Ok(ok("Signed out successfully", json!({ "success": true })))
}

#[utoipa::path(get, path = "/api/auth/get-session", tag = "auth", security(()),
    responses((status = 200, description = "The session and user, or null", body = Envelope<Option<SessionDoc>>)))]
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

#[utoipa::path(get, path = "/api/auth/list-sessions", tag = "sessions",
    responses((status = 200, description = "The caller's sessions", body = Envelope<Vec<SessionView>>)))]
async fn list_sessions(State(state): State<AppState>, Auth(p): Auth) -> AppResult<Response> {
    Ok(ok("Sessions fetched successfully", sessions::list(&state, &p).await?))
}

#[utoipa::path(post, path = "/api/auth/revoke-session", tag = "sessions", request_body = RevokeSession,
    responses((status = 200, description = "Session revoked", body = Envelope<Deleted>)))]
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

#[utoipa::path(post, path = "/api/auth/revoke-other-sessions", tag = "sessions",
    responses((status = 200, description = "Other sessions revoked", body = Envelope<Anything>)))]
async fn revoke_other_sessions(State(state): State<AppState>, Auth(p): Auth) -> AppResult<Response> {
    let n = sessions::revoke_all(&state, &p, true).await?;
    Ok(ok("Other sessions revoked", json!({ "revoked": n })))
}

#[utoipa::path(post, path = "/api/auth/revoke-sessions", tag = "sessions",
    responses((status = 200, description = "All sessions revoked", body = Envelope<Anything>)))]
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

#[utoipa::path(get, path = "/api/auth/verify-email", tag = "auth", security(()), params(TokenQuery),
    responses(
        (status = 200, description = "Email verified", body = Envelope<UserDoc>),
        (status = 303, description = "A browser (Accept: text/html) is sent to /verify-email with the outcome")
    ))]
async fn verify_email(
    State(state): State<AppState>,
    query: QueryMap,
    headers: axum::http::HeaderMap,
) -> AppResult<Response> {
    let token = query.get("token").unwrap_or("");
    let result = accounts::verify_email(&state, token).await;
    // The emailed link opened in a browser: to the page, with the outcome (PAGES.md). API
    // clients keep their JSON.
    let browser =
        headers.get(axum::http::header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    if browser {
        let status = if result.is_ok() { "verified" } else { "invalid" };
        return Ok(axum::response::Redirect::to(&format!("/verify-email?status={status}")).into_response());
    }
    Ok(ok("Email verified", json!({ "user": result? })))
}

#[utoipa::path(post, path = "/api/auth/send-verification-email", tag = "auth", security(()), request_body = EmailOnly,
    responses((status = 200, description = "The same answer whether or not the account exists", body = Envelope<Anything>)))]
async fn send_verification_email(
    State(state): State<AppState>,
    JsonBody(input): JsonBody<EmailOnly>,
) -> AppResult<Response> {
    accounts::send_verification_email(&state, input).await?;
    Ok(ok("If the account exists and is not verified, a verification email is on its way", json!({ "sent": true })))
}

#[utoipa::path(post, path = "/api/auth/request-password-reset", tag = "auth", security(()), request_body = EmailOnly,
    responses((status = 200, description = "The same answer whether or not the account exists", body = Envelope<Anything>)))]
async fn request_password_reset(
    State(state): State<AppState>,
    JsonBody(input): JsonBody<EmailOnly>,
) -> AppResult<Response> {
    accounts::request_password_reset(&state, input).await?;
    Ok(ok("If the account exists, a password reset email is on its way", json!({ "sent": true })))
}

#[utoipa::path(post, path = "/api/auth/reset-password", tag = "auth", security(()), request_body = ResetPassword,
    responses((status = 200, description = "Password reset; every session revoked", body = Envelope<Anything>)))]
async fn reset_password(
    State(state): State<AppState>,
    JsonBody(input): JsonBody<ResetPassword>,
) -> AppResult<Response> {
    accounts::reset_password(&state, input).await?;
    Ok(ok("Password has been reset", json!({ "success": true })))
}

#[utoipa::path(post, path = "/api/auth/change-password", tag = "auth", security(("session" = [])), request_body = ChangePassword,
    responses((status = 200, description = "Password changed", body = Envelope<Anything>)))]
async fn change_password(
    State(state): State<AppState>,
    Auth(p): Auth,
    JsonBody(input): JsonBody<ChangePassword>,
) -> AppResult<Response> {
    accounts::change_password(&state, &p, input).await?;
    Ok(ok("Password changed", json!({ "success": true })))
}
