//! Credential resolution (API.md 2.1): one function turns a request's headers into the
//! principal, for REST and GraphQL alike. Precedence: session cookie, then PAT (`X-Api-Key`, or
//! `Authorization: Bearer ba_...`), then bearer token. The winning credential decides: when it is
//! bad the request fails with its 401, with no fallback to the next one.

pub mod cache;
pub mod password;
pub mod tokens;

use axum::http::{header, HeaderMap};

use crate::config::Config;
use crate::domain::access::{CredentialKind, Principal, Scope};
use crate::domain::{api_keys, sessions};
use crate::error::{AppError, AppResult, Code};
use crate::state::AppState;
use cache::{CredentialCache, Kind};

pub const COOKIE_NAME: &str = "gatehouse_session";
/// The name of a `Secure` session cookie: the `__Host-` prefix pins it to this host and path.
pub const SECURE_COOKIE_NAME: &str = "__Host-gatehouse_session";

pub fn cookie_name(config: &Config) -> &'static str {
    if config.cookie_secure {
        SECURE_COOKIE_NAME
    } else {
        COOKIE_NAME
    }
}

/// The `Set-Cookie` value for a session token. `max_age` is `None` for a cookie that ends with
/// the browser session (sign-in with `rememberMe: false`).
pub fn session_cookie(config: &Config, token: &str, max_age: Option<chrono::TimeDelta>) -> String {
    let mut c = format!("{}={token}; HttpOnly; SameSite=Lax; Path=/", cookie_name(config));
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={}", age.num_seconds().max(0)));
    }
    if config.cookie_secure {
        c.push_str("; Secure");
    }
    c
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_session_cookie(config: &Config) -> String {
    let mut c = format!("{}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0", cookie_name(config));
    if config.cookie_secure {
        c.push_str("; Secure");
    }
    c
}

/// The session token from the `Cookie` headers, if the session cookie is there at all.
fn session_token(config: &Config, headers: &HeaderMap) -> Option<String> {
    let name = cookie_name(config);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| cookie::Cookie::split_parse(v.to_string()))
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

/// What credential resolution found.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub principal: Principal,
    /// A `Set-Cookie` to send back because the session slid forward.
    pub refreshed_cookie: Option<String>,
}

/// Resolves the request's credential. `Ok(None)`: no credential at all.
pub async fn resolve(state: &AppState, headers: &HeaderMap) -> AppResult<Option<Resolved>> {
    if let Some(token) = session_token(&state.config, headers) {
        return resolve_session(state, &token).await.map(Some);
    }
    if let Some(v) = headers.get("x-api-key") {
        let raw = v.to_str().unwrap_or("").trim();
        return resolve_key(state, raw).await.map(Some);
    }
    if let Some(v) = headers.get(header::AUTHORIZATION) {
        let value = v.to_str().unwrap_or("").trim();
        let no_token = || AppError::new(Code::NoTokenProvided, "No token provided");
        if value.is_empty() {
            return Err(no_token());
        }
        let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
        let token = token.trim();
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AppError::new(Code::InvalidOrExpiredToken, "Unsupported authorization scheme"));
        }
        if token.is_empty() {
            return Err(no_token());
        }
        if token.starts_with(api_keys::PREFIX) {
            return resolve_key(state, token).await.map(Some);
        }
        // OAuth access tokens arrive in a later phase; until then no bearer token is valid.
        return Err(AppError::new(Code::InvalidOrExpiredToken, "Invalid or expired token"));
    }
    Ok(None)
}

/// The credential cache's protocol, in one place: a fresh entry answers; otherwise `lookup`
/// reads the database under a ticket taken before it starts, and a success is kept.
async fn cached<F, Fut>(state: &AppState, kind: Kind, raw: &str, lookup: F) -> AppResult<Resolved>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = AppResult<Resolved>>,
{
    let key = CredentialCache::key(kind, raw);
    if let Some(principal) = state.credentials.get(&key) {
        return Ok(Resolved { principal, refreshed_cookie: None });
    }
    let ticket = state.credentials.ticket();
    let mut resolved = lookup().await?;
    state.credentials.put(ticket, key, &mut resolved.principal);
    Ok(resolved)
}

async fn resolve_key(state: &AppState, raw: &str) -> AppResult<Resolved> {
    cached(state, Kind::ApiKey, raw, || async {
        let principal = api_keys::authenticate(&state.db.conn, raw).await?;
        Ok(Resolved { principal, refreshed_cookie: None })
    })
    .await
}

fn invalid_session() -> AppError {
    AppError::new(Code::InvalidOrExpiredToken, "Invalid or expired session")
}

async fn resolve_session(state: &AppState, token: &str) -> AppResult<Resolved> {
    if token.is_empty() || token.len() > 256 {
        return Err(invalid_session());
    }
    cached(state, Kind::Session, token, || read_session(state, token)).await
}

async fn read_session(state: &AppState, token: &str) -> AppResult<Resolved> {
    let (session, u, organization_count, refreshed) =
        sessions::find_live(&state.db.conn, token).await?.ok_or_else(invalid_session)?;
    if !u.is_active {
        return Err(AppError::new(Code::UserNotActive, "This account is deactivated"));
    }
    let refreshed_cookie = refreshed.then(|| {
        let age = session.remember.then(|| session.expires_at - crate::domain::now());
        session_cookie(&state.config, token, age)
    });
    let principal = Principal {
        user: u,
        kind: CredentialKind::Session,
        scopes: Scope::ALL.to_vec(),
        pinned_org: None,
        session_id: Some(session.id),
        api_key_id: None,
        client: Default::default(),
        organization_count,
        credential_expires_at: Some(session.expires_at.min(session.absolute_expires_at)),
        standing: Default::default(),
    };
    Ok(Resolved { principal, refreshed_cookie })
}
