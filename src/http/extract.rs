//! Extractors shared by every REST handler: the JSON body with field-level errors, the query
//! string, the client, and the one credential extractor.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::auth::{self, Resolved};
use crate::domain::access::Principal;
use crate::domain::{field_errors, ClientInfo, PageParams};
use crate::error::{AppError, AppResult, Code, FieldError, Location};
use crate::state::AppState;

/// Request bodies are capped at 10 MiB (API.md 1.1), enforced while reading.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

pub fn payload_too_large() -> AppError {
    AppError::new(Code::PayloadTooLarge, "Request body is larger than 10 MiB")
}

/// Reads the whole body, refusing (without buffering it) one that passes the cap.
pub async fn read_body(body: axum::body::Body) -> AppResult<Bytes> {
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(payload_too_large()),
        Err(e) => Err(AppError::invalid("body", format!("Could not read the body: {e}"), Location::Body)),
    }
}

/// A JSON body deserialized into `T`, with every bad field reported (API.md 1.3): wrong types and
/// unknown enum values from deserialization, rule failures from `T`'s validation. `T`'s fields
/// are optional or defaulted, so a missing field is a rule failure, not a parse failure.
pub struct JsonBody<T>(pub T);

impl<T> FromRequest<AppState> for JsonBody<T>
where
    T: DeserializeOwned + validator::Validate + Send,
{
    type Rejection = AppError;

    async fn from_request(req: Request, _state: &AppState) -> Result<Self, AppError> {
        // The write guard refuses non-JSON bodies it can see coming; a body that announced no
        // length (HTTP/2) is checked here, once it is known not to be empty.
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
        let bytes = read_body(req.into_body()).await?;
        if !json && !bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(AppError::new(Code::UnsupportedMediaType, "Content-Type must be application/json"));
        }
        parse_json(&bytes).map(JsonBody)
    }
}

pub fn parse_json<T: DeserializeOwned + validator::Validate>(bytes: &[u8]) -> AppResult<T> {
    let value: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(bytes)
            .map_err(|e| AppError::invalid("body", format!("Malformed JSON: {e}"), Location::Body))?
    };
    let Value::Object(mut object) = value else {
        return Err(AppError::invalid("body", "Expected a JSON object", Location::Body));
    };
    let nul: Vec<FieldError> = object
        .iter()
        .filter(|(_, v)| has_nul(v))
        .map(|(k, _)| FieldError::body(k.clone(), "Must not contain NUL characters"))
        .collect();
    if !nul.is_empty() {
        return Err(AppError::validation(nul));
    }
    let mut errors: Vec<FieldError> = Vec::new();
    // Each pass finds the next field of the wrong type; dropping it lets the next pass go on.
    for _ in 0..=object.len() {
        match serde_path_to_error::deserialize::<_, T>(Value::Object(object.clone())) {
            Ok(parsed) if errors.is_empty() => return Ok(parsed),
            Ok(parsed) => {
                if let Err(rule_errors) = parsed.validate() {
                    for e in field_errors(&rule_errors, Location::Body) {
                        if !errors.iter().any(|x| x.field == e.field) {
                            errors.push(e);
                        }
                    }
                }
                break;
            }
            Err(e) => {
                let path = e.path().to_string();
                let top = path.split(['.', '[']).next().unwrap_or("").to_string();
                let message = clean_serde_message(&e.into_inner().to_string());
                if top.is_empty() || top == "?" || object.remove(&top).is_none() {
                    errors.push(FieldError::body("body", message));
                    break;
                }
                errors.push(FieldError::body(path, message));
            }
        }
    }
    Err(AppError::validation(errors))
}

/// True when a string anywhere in the value holds a NUL character (PostgreSQL cannot store it).
fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// serde's messages, minus the line/column suffix that means nothing for a JSON value.
fn clean_serde_message(m: &str) -> String {
    let m = m.split(" at line ").next().unwrap_or(m);
    let mut out = m.to_string();
    if let Some(first) = out.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    out
}

/// Path parameters, like axum's `Path`, with a bad segment (undecodable percent-encoding, a
/// wrong shape) answered as a `VALIDATION_ERROR` in the envelope instead of plain text.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(e) => Err(AppError::invalid("path", e.body_text(), Location::Params)),
        }
    }
}

/// The query string as name/value pairs.
pub struct QueryMap(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let q = parts.uri.query().unwrap_or("");
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes()).into_owned().collect();
        if let Some((name, _)) = pairs.iter().find(|(k, v)| k.contains('\0') || v.contains('\0')) {
            return Err(AppError::invalid(name.replace('\0', ""), "Must not contain NUL characters", Location::Query));
        }
        Ok(QueryMap(pairs))
    }
}

impl QueryMap {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// An optional parameter from a closed set: `parse` recognises it; anything else is a field
    /// error with `message`.
    pub fn choice<T>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Option<T>,
        message: &str,
        errors: &mut Vec<FieldError>,
    ) -> Option<T> {
        let raw = self.get(name).map(str::trim).filter(|s| !s.is_empty())?;
        let parsed = parse(raw);
        if parsed.is_none() {
            errors.push(FieldError::query(name, message));
        }
        parsed
    }

    /// An integer parameter; a non-integer is a field error.
    fn int(&self, name: &str, errors: &mut Vec<FieldError>) -> Option<i64> {
        let raw = self.get(name)?;
        match raw.trim().parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.push(FieldError::query(name, "Must be an integer"));
                None
            }
        }
    }

    /// `offset` and `limit` (API.md 1.4), plus any extra errors the caller found in the query.
    pub fn page_with(&self, mut errors: Vec<FieldError>) -> AppResult<PageParams> {
        let offset = self.int("offset", &mut errors);
        let limit = self.int("limit", &mut errors);
        let page = PageParams::new(offset, limit);
        if let Err(e) = &page {
            errors.extend(e.iter().cloned());
        }
        if !errors.is_empty() {
            errors.dedup_by(|a, b| a.field == b.field);
            return Err(AppError::validation(errors));
        }
        Ok(page.expect("checked above"))
    }

    pub fn page(&self) -> AppResult<PageParams> {
        self.page_with(Vec::new())
    }
}

/// The client address as decided by the request-context middleware (socket peer, or the
/// forwarded address when the peer is a trusted proxy).
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub IpAddr);

/// The caller's address and user agent, for sessions, history and audit.
pub struct Client(pub ClientInfo);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        Ok(Client(client_info(parts)))
    }
}

pub fn client_info(parts: &Parts) -> ClientInfo {
    ClientInfo {
        ip: parts.extensions.get::<ClientIp>().map(|c| c.0),
        user_agent: parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string),
    }
}

/// `Set-Cookie` values a handler or the credential resolver wants on the response; the
/// request-context middleware appends them.
#[derive(Clone, Default)]
pub struct ResponseCookies(Arc<Mutex<Vec<String>>>);

impl ResponseCookies {
    pub fn push(&self, cookie: String) {
        if let Ok(mut v) = self.0.lock() {
            v.push(cookie);
        }
    }
    pub fn take(&self) -> Vec<String> {
        self.0.lock().map(|mut v| std::mem::take(&mut *v)).unwrap_or_default()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ResponseCookies {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        Ok(parts.extensions.get::<ResponseCookies>().cloned().unwrap_or_default())
    }
}

/// The request's credential, resolved once per request and cached in its extensions.
#[derive(Clone)]
struct Resolution(Result<Option<Arc<Principal>>, AppError>);

/// Resolves (or reuses) the request's credential: `Ok(None)` when none was sent.
pub async fn resolve_principal(parts: &mut Parts, state: &AppState) -> Result<Option<Arc<Principal>>, AppError> {
    if let Some(r) = parts.extensions.get::<Resolution>() {
        return r.0.clone();
    }
    let result = match auth::resolve(state, &parts.headers).await {
        Ok(Some(Resolved { mut principal, refreshed_cookie })) => {
            if let (Some(c), Some(cookies)) = (refreshed_cookie, parts.extensions.get::<ResponseCookies>()) {
                cookies.push(c);
            }
            principal.client = client_info(parts);
            match untrusted_origin(parts, state, &principal) {
                Some(e) => Err(e),
                None => Ok(Some(Arc::new(principal))),
            }
        }
        Ok(None) => Ok(None),
        Err(e) => Err(e),
    };
    parts.extensions.insert(Resolution(result.clone()));
    result
}

/// The CSRF guard (API.md 2.2): a cookie-authenticated write whose `Origin` is present and not
/// trusted is `FORBIDDEN`. PATs and bearer tokens are not sent by browsers on their own, so they
/// need no such guard.
fn untrusted_origin(parts: &Parts, state: &AppState, principal: &Principal) -> Option<AppError> {
    use axum::http::Method;
    let write = matches!(parts.method, Method::POST | Method::PUT | Method::PATCH | Method::DELETE);
    if !write || !principal.is_session() {
        return None;
    }
    let origin = parts.headers.get(header::ORIGIN)?.to_str().unwrap_or("");
    if state.config.trusted_origins.iter().any(|o| o == origin) {
        return None;
    }
    Some(AppError::forbidden("This origin may not make changes with a session cookie"))
}

/// The authenticated caller; a protected route without a credential is `AUTHENTICATION_REQUIRED`.
pub struct Auth(pub Arc<Principal>);

impl FromRequestParts<AppState> for Auth {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        match resolve_principal(parts, state).await? {
            Some(p) => Ok(Auth(p)),
            None => Err(AppError::new(Code::AuthenticationRequired, "Authentication required")),
        }
    }
}

/// The caller if any credential is valid; `None` when there is none or it is bad.
pub struct MaybeAuth(pub Option<Arc<Principal>>);

impl FromRequestParts<AppState> for MaybeAuth {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        match resolve_principal(parts, state).await {
            Ok(p) => Ok(MaybeAuth(p)),
            Err(e) if e.code == Code::ServiceUnavailable || e.code == Code::InternalError => Err(e),
            Err(_) => Ok(MaybeAuth(None)),
        }
    }
}
